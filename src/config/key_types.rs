//! The DynamoDB type each key attribute must have, as far as the configuration knows it:
//! DescribeTable's AttributeDefinitions when the table was described, else the type tables.toml
//! writes for the key column. The stage step refuses a line whose key has another type.

use crate::contract::ExpectedKeyType;

use super::drafts::{Draft, KeyDraft, KeyScalar};
use super::path::AttrPath;
use super::types::ColumnType;

/// Where a declared key type comes from, for messages.
const DESCRIBE_TABLE: &str = "DynamoDB's key schema (DescribeTable)";

impl KeyScalar {
    /// The one type DynamoDB declares.
    pub(super) fn expected(self) -> ExpectedKeyType {
        let tags: &'static [&'static str] = match self {
            KeyScalar::String => &["S"],
            KeyScalar::Number => &["N"],
            KeyScalar::Binary => &["B"],
        };
        ExpectedKeyType { tags, source: DESCRIBE_TABLE.to_owned() }
    }
}

/// The types a key column written as `ty` holds: varchar holds strings and binaries (as base64
/// text), the integer and decimal types hold numbers; other types tell nothing.
pub(super) fn from_column(column: &str, ty: ColumnType) -> Option<ExpectedKeyType> {
    let tags: &'static [&'static str] = match ty {
        ColumnType::Varchar(_) => &["S", "B"],
        ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt | ColumnType::Decimal { .. } => {
            &["N"]
        }
        _ => return None,
    };
    Some(ExpectedKeyType { tags, source: format!("tables.toml, which types key column `{column}` as {ty}") })
}

/// Each key attribute's expected type, in key order: declared by DynamoDB, else from its key
/// column's written type (an omitted type defaults to a varchar that holds any key: nothing known).
pub(super) fn derive(key: &KeyDraft, drafts: &[Draft]) -> Vec<Option<ExpectedKeyType>> {
    key.attributes
        .iter()
        .map(|attribute| {
            if let Some(scalar) = attribute.scalar {
                return Some(scalar.expected());
            }
            let name = attribute.name.value.as_str();
            let column = drafts
                .iter()
                .find(|d| d.is_key && d.path.as_ref().and_then(AttrPath::as_single) == Some(name))?;
            from_column(&column.name.value, column.ty.as_ref()?.value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{KeyAttribute, TableConfig, load_str};

    const EXPORTS: &str = "[[table]]\nname = \"events\"\nsource = \"exports\"\nprefix = \"in\"\n";
    const AWS: &str = "[[table]]\nname = \"orders\"\nsource = \"aws\"\nbucket = \"s3://acme/dyn/\"\n";

    fn table(head: &str, entry: &str) -> TableConfig {
        let config = load_str(&format!("{head}{entry}"), Path::new("/c/tables.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        config.tables.into_iter().next().expect("one table")
    }

    /// Each key attribute's accepted tags and source, `None` where nothing is known.
    fn tags(table: &TableConfig) -> Vec<Option<(&'static [&'static str], String)>> {
        table.key_types.iter().map(|t| t.as_ref().map(|t| (t.tags, t.source.clone()))).collect()
    }

    #[test]
    fn a_written_key_column_type_gives_the_key_type() {
        let entry = "key = [\"pk\", \"sk\"]\ncolumns = [{ name = \"pk\", type = \"varchar(64)\" }, \
                     { name = \"sk\", type = \"decimal(38,0)\" }]\n";
        assert_eq!(
            tags(&table(EXPORTS, entry)),
            [
                Some((&["S", "B"][..], "tables.toml, which types key column `pk` as varchar(64)".into())),
                Some((&["N"][..], "tables.toml, which types key column `sk` as decimal(38,0)".into())),
            ]
        );
        // A date holds an ISO date string, but tells nothing DynamoDB would declare.
        let dated = "key = [\"at\"]\ncolumns = [{ name = \"at\", type = \"date\" }]\n";
        assert_eq!(tags(&table(EXPORTS, dated)), [None]);
        for number in ["smallint", "integer", "bigint"] {
            let entry = format!("key = [\"id\"]\ncolumns = [{{ name = \"id\", type = \"{number}\" }}]\n");
            assert_eq!(tags(&table(EXPORTS, &entry))[0].as_ref().unwrap().0, &["N"][..], "{number}");
        }
    }

    #[test]
    fn an_omitted_key_column_type_tells_nothing() {
        assert_eq!(tags(&table(EXPORTS, "key = [\"id\"]\n")), [None]);
        assert_eq!(tags(&table(EXPORTS, "key = [\"id\"]\ncolumns = [{ name = \"id\" }]\n")), [None]);
        // A column mapping the key attribute under another name still types it.
        let renamed =
            "key = [\"id\"]\ncolumns = [{ name = \"order_id\", path = \"id\", type = \"bigint\" }]\n";
        assert_eq!(tags(&table(EXPORTS, renamed))[0].as_ref().unwrap().0, &["N"][..]);
    }

    #[test]
    fn dynamodbs_declared_type_wins_and_an_undeclared_one_keeps_the_column_type() {
        let written = table(
            AWS,
            "key = [\"pk\", \"sk\"]\ncolumns = [{ name = \"pk\", type = \"varchar(64)\" }, \
                                  { name = \"sk\", type = \"bigint\" }]\n",
        );
        let described = [
            KeyAttribute { name: "pk".into(), scalar: Some(KeyScalar::String) },
            KeyAttribute { name: "sk".into(), scalar: None },
        ];
        let completed = written.with_described_key(&described).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            tags(&completed),
            [
                Some((&["S"][..], "DynamoDB's key schema (DescribeTable)".into())),
                Some((&["N"][..], "tables.toml, which types key column `sk` as bigint".into())),
            ]
        );
        // A keyless table's defaulted key column tells nothing; DynamoDB's declaration does.
        let keyless = table(AWS, "");
        let undeclared = [KeyAttribute { name: "pk".into(), scalar: None }];
        assert_eq!(tags(&keyless.with_described_key(&undeclared).unwrap()), [None]);
        let declared = [KeyAttribute { name: "pk".into(), scalar: Some(KeyScalar::Binary) }];
        assert_eq!(tags(&keyless.with_described_key(&declared).unwrap())[0].as_ref().unwrap().0, &["B"][..]);
    }
}
