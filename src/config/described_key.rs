//! A table's key as DynamoDB describes it (DescribeTable's KeySchema and AttributeDefinitions),
//! applied to the table when dynashift connects. A `source = "aws"` table may leave `key` out of
//! tables.toml; DynamoDB's key then completes it, through the same key rules loading runs on a
//! written key (`columns::apply_key`), only without line numbers: the file is behind us by then.
//! A written key must be DynamoDB's, and its columns must hold the attribute types DynamoDB
//! declares, which loading cannot know.

use crate::contract::ExpectedKeyType;

use super::columns::apply_key;
use super::drafts::{ColumnLayout, Draft, KeyAttributeDraft, KeyDraft, KeyScalar, KeylessLayout, Placed};
use super::error::Problem;
use super::issues::{Issue, Issues};
use super::model::{FullLoad, IncrementalLoad, KeyFromTable, SourceConfig, TableConfig};

/// One key attribute as DescribeTable names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: String,
    /// `None` when AttributeDefinitions leaves the attribute out (DynamoDB does not; stand-ins
    /// might).
    pub scalar: Option<KeyScalar>,
}

/// DynamoDB's key and a table's entry in tables.toml do not fit together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// tables.toml writes another key than DynamoDB's.
    #[error(
        "`key` of table `{table}` is {}, but DynamoDB's key schema (DescribeTable) is {}; write key = {}",
        quoted(.written),
        quoted(.described),
        quoted(.described)
    )]
    Mismatch { table: String, written: Vec<String>, described: Vec<String> },
    /// DynamoDB's key does not fit the table's columns.
    #[error("{}", does_not_fit(.table, .described, *.key_written, .problems))]
    DoesNotFit {
        table: String,
        /// The key as DescribeTable gives it.
        described: Vec<String>,
        /// Whether tables.toml writes the key (else it was left out and read from DynamoDB).
        key_written: bool,
        /// The key rules that failed, without positions.
        problems: Vec<Problem>,
    },
}

/// The message of [`KeyError::DoesNotFit`]: the key, each failed rule, and what to change.
fn does_not_fit(table: &str, described: &[String], key_written: bool, problems: &[Problem]) -> String {
    let key = quoted(described);
    let mut out = if key_written {
        format!(
            "the key {key} of table `{table}` does not fit its columns, given the attribute types \
             DynamoDB declares (DescribeTable):"
        )
    } else {
        format!(
            "table `{table}` leaves `key` out, so it was read from DynamoDB (DescribeTable): {key}; \
             it does not fit the table's columns:"
        )
    };
    for problem in problems {
        out.push_str(&format!("\n  - {problem}"));
    }
    if key_written {
        out.push_str("\nchange those columns in the table's entry");
    } else {
        out.push_str(&format!(
            "\nwrite key = {key} in the table's entry, so `dynashift --check` points at the lines to \
             change, and fix the columns there"
        ));
    }
    out
}

fn quoted(names: &[String]) -> String {
    let names: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
    format!("[{}]", names.join(", "))
}

impl TableConfig {
    /// `Some` while the table's key is still to come from DescribeTable.
    pub fn key_from_table(&self) -> Option<&KeyFromTable> {
        match &self.source {
            SourceConfig::Aws(settings) => settings.key_from_table.as_ref(),
            _ => None,
        }
    }

    /// This table with DynamoDB's key applied: a table that leaves `key` out gets it, with its key
    /// columns (added, when it lists no `columns`); a table that writes it must write this one.
    /// Either way the key rules run again with the attribute types DynamoDB declares.
    pub fn with_described_key(&self, described: &[KeyAttribute]) -> Result<TableConfig, KeyError> {
        let names: Vec<String> = described.iter().map(|attribute| attribute.name.clone()).collect();
        let pending = self.key_from_table();
        if pending.is_none() && self.key != names {
            return Err(KeyError::Mismatch {
                table: self.name.clone(),
                written: self.key.clone(),
                described: names,
            });
        }
        let issues = Issues::default();
        match apply_key(self.keyless_layout(pending), &key_draft(described), &issues) {
            Some(layout) if issues.is_empty() => {
                let completed = self.completed(layout, described);
                let problems = pushdown_key_problems(&completed, described);
                if problems.is_empty() {
                    return Ok(completed);
                }
                Err(KeyError::DoesNotFit {
                    table: self.name.clone(),
                    described: names,
                    key_written: pending.is_none(),
                    problems,
                })
            }
            _ => Err(KeyError::DoesNotFit {
                table: self.name.clone(),
                described: names,
                key_written: pending.is_none(),
                problems: issues.into_sorted().into_iter().map(unplaced_problem).collect(),
            }),
        }
    }

    /// This table with `layout`'s key and columns, no longer awaiting its key.
    fn completed(&self, layout: ColumnLayout, described: &[KeyAttribute]) -> TableConfig {
        let mut table = self.clone();
        // A written key's column types were known when loading; the layout rebuilt here types
        // every column, defaulted ones too, so an attribute DynamoDB leaves undeclared keeps those.
        let key_types = match self.key_from_table() {
            Some(_) => layout.key_types,
            None => declared_or(described, &self.key_types),
        };
        (table.key, table.columns, table.unmapped) = (layout.key, layout.columns, layout.unmapped);
        table.key_types = key_types;
        if let SourceConfig::Aws(settings) = &mut table.source {
            settings.key_from_table = None;
        }
        table
    }

    /// The columns as the key rules take them. A loaded table's columns carry their final types;
    /// only those tables.toml leaves untyped in a table awaiting its key are left to default.
    fn keyless_layout(&self, pending: Option<&KeyFromTable>) -> KeylessLayout {
        let untyped = |name: &str| pending.is_some_and(|p| p.untyped_columns.iter().any(|c| c == name));
        let columns = self
            .columns
            .iter()
            .map(|column| Draft {
                name: Placed::unplaced(column.name.clone()),
                path: Some(column.path.clone()),
                ty: (!untyped(&column.name)).then(|| Placed::unplaced(column.ty)),
                is_key: false,
            })
            .collect();
        KeylessLayout {
            label: format!("table \"{}\"", self.name),
            columns: pending.is_none_or(|p| p.columns_written).then_some(columns),
            all_readable: true,
            unmapped: Some(self.unmapped.clone()),
        }
    }
}

/// DynamoDB's declared types, else the types loading found.
fn declared_or(
    described: &[KeyAttribute],
    loaded: &[Option<ExpectedKeyType>],
) -> Vec<Option<ExpectedKeyType>> {
    let loaded = |i: usize| loaded.get(i).cloned().flatten();
    described
        .iter()
        .enumerate()
        .map(|(i, a)| a.scalar.map(KeyScalar::expected).or_else(|| loaded(i)))
        .collect()
}

/// DescribeTable's key as the key rules take it: no place in tables.toml, types declared.
fn key_draft(described: &[KeyAttribute]) -> KeyDraft {
    let attributes = described
        .iter()
        .map(|attribute| KeyAttributeDraft {
            name: Placed::unplaced(attribute.name.clone()),
            scalar: attribute.scalar,
        })
        .collect();
    KeyDraft { attributes, span: None }
}

/// The key columns a pushdown load (`full_load` or `incremental_load` = "pushdown") could not
/// read, given the types DynamoDB declares: known only once the table is described, so checked
/// here (at `--check` and when a run connects) rather than when tables.toml is loaded.
fn pushdown_key_problems(table: &TableConfig, described: &[KeyAttribute]) -> Vec<Problem> {
    let key = if table.full_load == FullLoad::Pushdown {
        "full_load"
    } else if table.incremental_load == IncrementalLoad::Pushdown {
        "incremental_load"
    } else {
        return Vec::new();
    };
    let columns = table.key_columns();
    described
        .iter()
        .zip(columns)
        .filter_map(|(attribute, column)| {
            let reason = super::pushdown_path::pushdown_key_problem(attribute.scalar?, column.ty)?;
            Some(Problem {
                line: None,
                column: None,
                message: format!(
                    "key column \"{}\" of a {key} = \"pushdown\" table reads key attribute \"{}\": {reason}",
                    column.name, attribute.name
                ),
                hint: format!(
                    "set {key} = \"staged\" for this table, or type the column for the declared key"
                ),
                excerpt: None,
            })
        })
        .collect()
}

fn unplaced_problem(issue: Issue) -> Problem {
    Problem { line: None, column: None, message: issue.message, hint: issue.hint, excerpt: None }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{ColumnType, UnmappedPolicy, load_str};

    const AWS: &str = "[[table]]\nname = \"orders\"\nsource = \"aws\"\nbucket = \"s3://acme/dyn/\"\n";

    fn table(entry: &str) -> TableConfig {
        let config =
            load_str(&format!("{AWS}{entry}"), Path::new("/c/tables.toml")).unwrap_or_else(|e| panic!("{e}"));
        config.tables.into_iter().next().expect("one table")
    }

    fn key(attributes: &[(&str, KeyScalar)]) -> Vec<KeyAttribute> {
        attributes
            .iter()
            .map(|(name, scalar)| KeyAttribute { name: (*name).into(), scalar: Some(*scalar) })
            .collect()
    }

    fn pk_sk() -> Vec<KeyAttribute> {
        key(&[("pk", KeyScalar::String), ("sk", KeyScalar::Number)])
    }

    /// `table` with no key types, to compare what else completing a key changes.
    fn without_key_types(table: TableConfig) -> TableConfig {
        TableConfig { key_types: Vec::new(), ..table }
    }

    /// The messages of a key that does not fit.
    fn problems(table: &TableConfig, described: &[KeyAttribute]) -> Vec<String> {
        match table.with_described_key(described) {
            Err(KeyError::DoesNotFit { problems, .. }) => problems.into_iter().map(|p| p.message).collect(),
            other => panic!("expected a key that does not fit, got {other:?}"),
        }
    }

    #[test]
    fn completing_a_keyless_table_gives_what_writing_its_key_gives() {
        let entries = [
            "",
            "unmapped = \"drop\"\n",
            "columns = [{ name = \"pk\" }, { name = \"sk\" }, { name = \"total\" }]\n",
            "columns = [{ name = \"customer\", path = \"pk\" }, { name = \"sk\", type = \"bigint\" }]\n",
            "columns = [{ name = \"pk\", type = \"varchar(64)\" }, { name = \"pk_copy\", path = \"pk\" }, \
             { name = \"sk\" }]\nunmapped = \"keep\"\n",
        ];
        for entry in entries {
            let completed =
                table(entry).with_described_key(&pk_sk()).unwrap_or_else(|e| panic!("{entry}: {e}"));
            let written = table(&format!("key = [\"pk\", \"sk\"]\n{entry}"));
            let declared: Vec<_> = pk_sk().iter().map(|a| a.scalar.map(KeyScalar::expected)).collect();
            assert_eq!(completed.key_types, declared, "{entry}");
            assert_eq!(without_key_types(completed), without_key_types(written), "{entry}");
        }
    }

    #[test]
    fn a_keyless_table_is_marked_until_completed() {
        let keyless = table("columns = [{ name = \"pk\" }, { name = \"note\", type = \"varchar(10)\" }]\n");
        assert!(keyless.key.is_empty() && keyless.columns.iter().all(|c| !c.is_key));
        let pending = keyless.key_from_table().expect("awaits its key");
        assert_eq!(pending, &KeyFromTable { columns_written: true, untyped_columns: vec!["pk".into()] });
        let completed = keyless.with_described_key(&key(&[("pk", KeyScalar::String)])).unwrap();
        assert_eq!(completed.key_from_table(), None);
        assert_eq!(completed.columns[0].ty, ColumnType::Varchar(4096));
        assert_eq!(completed.columns[1].ty, ColumnType::Varchar(10));
    }

    #[test]
    fn key_columns_typed_super_or_double_are_refused_when_the_key_arrives() {
        let keyless =
            table("columns = [{ name = \"pk\", type = \"super\" }, { name = \"sk\", type = \"double\" }]\n");
        assert_eq!(
            problems(&keyless, &pk_sk()),
            [
                "key column \"pk\" is typed super, which cannot hold a key",
                "key column \"sk\" is typed double precision, which cannot hold a key",
            ]
        );
    }

    #[test]
    fn key_attributes_that_cannot_name_a_column_or_take_the_item_columns_name_are_refused() {
        let described = key(&[("Order-ID", KeyScalar::String), ("item", KeyScalar::String)]);
        let messages = problems(&table(""), &described);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(
            messages[0].starts_with("without `columns`, key attribute \"Order-ID\" becomes a column name"),
            "{messages:?}"
        );
        let messages = problems(&table(""), &key(&[("item", KeyScalar::String)]));
        assert_eq!(
            messages,
            [
                "column \"item\" of table \"orders\" has the name of the item column, which keeps the whole item \
              (unmapped = \"keep\")"
            ]
        );
        let renamed =
            table("item_column = \"doc\"\n").with_described_key(&key(&[("item", KeyScalar::String)]));
        assert_eq!(renamed.unwrap().unmapped, UnmappedPolicy::KeepItem { column: "doc".into() });
    }

    #[test]
    fn an_empty_key_schema_is_refused() {
        assert_eq!(problems(&table(""), &[]), ["`key` of table \"orders\" lists 0 attributes"]);
    }

    #[test]
    fn a_written_key_must_be_dynamodbs_in_order() {
        let written = table("key = [\"sk\", \"pk\"]\n");
        let error = written.with_described_key(&pk_sk()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`key` of table `orders` is [\"sk\", \"pk\"], but DynamoDB's key schema (DescribeTable) is \
             [\"pk\", \"sk\"]; write key = [\"pk\", \"sk\"]"
        );
        let described =
            written.with_described_key(&key(&[("sk", KeyScalar::String), ("pk", KeyScalar::String)]));
        assert_eq!(described.map(without_key_types), Ok(without_key_types(written)));
    }

    #[test]
    fn a_written_key_column_must_hold_the_declared_type() {
        let written = table("key = [\"id\"]\ncolumns = [{ name = \"id\", type = \"bigint\" }]\n");
        assert!(written.with_described_key(&key(&[("id", KeyScalar::Number)])).is_ok());
        let error = written.with_described_key(&key(&[("id", KeyScalar::Binary)])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the key [\"id\"] of table `orders` does not fit its columns, given the attribute types DynamoDB \
             declares (DescribeTable):\n  - key column \"id\" is typed bigint, but DynamoDB declares key attribute \
             \"id\" a binary (B), which no bigint column holds (hint: use varchar(n): a binary key loads as its \
             base64 text)\nchange those columns in the table's entry"
        );
    }

    #[test]
    fn a_pushdown_table_refuses_keys_its_copy_cannot_read() {
        let entry = "key = [\"id\"]\ncolumns = [{ name = \"id\", type = \"varchar(64)\" }]\n";
        let staged = table(entry);
        assert!(staged.with_described_key(&key(&[("id", KeyScalar::Binary)])).is_ok(), "staged: base64 text");
        for (setting, key_name) in
            [("full_load", FullLoad::Pushdown.as_str()), ("incremental_load", "pushdown")]
        {
            let mut pushdown = staged.clone();
            match setting {
                "full_load" => pushdown.full_load = FullLoad::Pushdown,
                _ => pushdown.incremental_load = IncrementalLoad::Pushdown,
            }
            assert!(pushdown.with_described_key(&key(&[("id", KeyScalar::String)])).is_ok());
            for scalar in [KeyScalar::Binary, KeyScalar::Number] {
                let error = pushdown.with_described_key(&key(&[("id", scalar)])).unwrap_err().to_string();
                let expected = format!(
                    "key column \"id\" of a {setting} = \"{key_name}\" table reads key attribute \"id\""
                );
                assert!(error.contains(&expected), "{error}");
                assert!(error.contains(&format!("set {setting} = \"staged\"")), "{error}");
            }
        }
    }

    #[test]
    fn a_key_read_from_dynamodb_that_does_not_fit_says_what_to_write() {
        let keyless = table("columns = [{ name = \"pk\" }]\n");
        let error = keyless.with_described_key(&pk_sk()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "table `orders` leaves `key` out, so it was read from DynamoDB (DescribeTable): [\"pk\", \"sk\"]; it \
             does not fit the table's columns:\n  - key attribute \"sk\" of table \"orders\" is not mapped to any \
             column (hint: add a column whose path is exactly the attribute, e.g. { name = \"sk\", path = \"sk\", \
             type = \"varchar(64)\" })\nwrite key = [\"pk\", \"sk\"] in the table's entry, so `dynashift --check` \
             points at the lines to change, and fix the columns there"
        );
    }

    #[test]
    fn undeclared_attribute_types_skip_only_the_type_rule() {
        let keyless = table("columns = [{ name = \"pk\", type = \"date\" }]\n");
        let undeclared = [KeyAttribute { name: "pk".into(), scalar: None }];
        assert!(keyless.with_described_key(&undeclared).is_ok());
        assert_eq!(problems(&keyless, &key(&[("pk", KeyScalar::Number)])).len(), 1);
    }

    #[test]
    fn the_shipped_aws_example_leaves_one_key_to_dynamodb() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/tables.aws.example.toml");
        let config = crate::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(config.table("customers").and_then(TableConfig::key_from_table).is_some());
        assert_eq!(
            config.table("orders").map(|t| t.key.as_slice()),
            Some(&["pk".to_owned(), "sk".to_owned()][..])
        );
    }

    #[test]
    fn binary_keys_need_text_and_numbers_are_no_dates() {
        let varchar = ColumnType::Varchar(64);
        assert!(KeyScalar::Binary.fits(varchar) && !KeyScalar::Binary.fits(ColumnType::BigInt));
        assert!(KeyScalar::Number.fits(ColumnType::BigInt) && KeyScalar::Number.fits(varchar));
        assert!(!KeyScalar::Number.fits(ColumnType::Date) && KeyScalar::Number.fits(ColumnType::Timestamp));
        assert!(
            KeyScalar::String.fits(ColumnType::Date)
                && KeyScalar::String.fits(ColumnType::Decimal { precision: 38, scale: 0 })
        );
    }
}
