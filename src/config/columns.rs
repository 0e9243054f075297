//! A table's key and target columns, validated together: every key attribute must land in a
//! column (the warehouse matches rows by it), column names must be unique as the warehouse sees
//! them (case-folded), and the whole-item column must not collide with a mapped one.
//!
//! The rules that need the key live in [`apply_key`] and serve two callers: loading, with the
//! key tables.toml writes (problems point at their line), and connecting, with the key
//! DescribeTable gives a `source = "aws"` table that leaves `key` out (see `described_key`;
//! there is no line to point at then). Everything else is checked while loading either way.

use std::collections::HashMap;
use std::ops::Range;

use super::defaults::{COLUMN_TYPE, KEY_COLUMN_TYPE};
use super::drafts::{ColumnLayout, Draft, KeyAttributeDraft, KeyDraft, KeylessLayout, Placed};
use super::ident::is_valid_identifier;
use super::inherit::Inherited;
use super::issues::Issues;
use super::key_types;
use super::model::{ColumnSpec, KeyFromTable, UnmappedPolicy};
use super::names::{check_warehouse_name, warehouse_name_problem};
use super::path::AttrPath;
use super::raw::{RawColumn, RawTable, Unmapped};
use super::types::ColumnType;

/// Whether and how a table writes its `key`.
enum WrittenKey {
    Written(KeyDraft),
    /// Left out by a table whose source can name it (DescribeTable).
    FromTable,
    /// Left out where it is required (reported).
    Missing,
}

/// Validates `key`, `columns`, `unmapped` and `item_column` of one table. `key_from_table`:
/// whether the table's source can name the key itself, so that `key` may be left out.
pub(super) fn validate_layout(
    table: &RawTable,
    inherited: &Inherited,
    key_from_table: bool,
    issues: &Issues,
) -> Option<ColumnLayout> {
    let key = written_key(table, key_from_table, issues);
    let layout = KeylessLayout {
        label: table.label.clone(),
        columns: table.columns.as_ref().map(|columns| explicit_columns(table, columns.get_ref(), issues)),
        all_readable: table.columns.as_ref().is_none_or(|c| c.get_ref().iter().all(|c| c.readable)),
        unmapped: unmapped_choice(table, inherited, issues),
    };
    match key {
        WrittenKey::Written(key) => apply_key(layout, &key, issues),
        WrittenKey::FromTable => awaiting_key(layout, issues),
        WrittenKey::Missing => {
            if let (Some(unmapped), Some(columns)) = (&layout.unmapped, &layout.columns) {
                item_column_is_free(unmapped, columns, &layout.label, issues);
            }
            None
        }
    }
}

/// Applies `key` to `layout`: the key's shape, the key columns (made from the key without
/// `columns`, found by path with them) and their types, and the item column against the final
/// columns. `None` when something was reported.
pub(super) fn apply_key(layout: KeylessLayout, key: &KeyDraft, issues: &Issues) -> Option<ColumnLayout> {
    let key_ok = check_key_shape(key, &layout.label, issues);
    let mut drafts = match layout.columns {
        Some(columns) => Some(columns),
        None if key_ok => key_columns_only(&key.attributes, issues),
        None => None,
    };
    if let (true, Some(drafts)) = (key_ok, &mut drafts) {
        mark_key_columns(key, drafts, layout.all_readable, &layout.label, issues);
    }
    let drafts = drafts?;
    let unmapped =
        layout.unmapped.filter(|unmapped| item_column_is_free(unmapped, &drafts, &layout.label, issues))?;
    let key_types = key_types::derive(key, &drafts);
    let key = key.attributes.iter().map(|attribute| attribute.name.value.clone()).collect();
    key_ok.then(|| ColumnLayout { key, columns: finish(drafts), unmapped, key_from_table: None, key_types })
}

/// The layout of a table whose key DescribeTable will name: everything but the key rules is
/// checked now, and what they will need is kept.
fn awaiting_key(layout: KeylessLayout, issues: &Issues) -> Option<ColumnLayout> {
    let columns_written = layout.columns.is_some();
    let drafts = layout.columns.unwrap_or_default();
    let unmapped =
        layout.unmapped.filter(|unmapped| item_column_is_free(unmapped, &drafts, &layout.label, issues))?;
    let untyped_columns =
        drafts.iter().filter(|draft| draft.ty.is_none()).map(|draft| draft.name.value.clone()).collect();
    Some(ColumnLayout {
        key: Vec::new(),
        columns: finish(drafts),
        unmapped,
        key_from_table: Some(KeyFromTable { columns_written, untyped_columns }),
        key_types: Vec::new(),
    })
}

/// Records a problem at `span`, or with no place when there is none.
fn report(issues: &Issues, span: &Option<Range<usize>>, message: String, hint: impl Into<String>) {
    match span {
        Some(span) => issues.report(span.clone(), message, hint),
        None => issues.report_unplaced(message, hint),
    }
}

/// `key` as written; its absence is a problem unless the source names the key.
fn written_key(table: &RawTable, key_from_table: bool, issues: &Issues) -> WrittenKey {
    match &table.key {
        Some(key) => WrittenKey::Written(KeyDraft {
            attributes: key
                .get_ref()
                .iter()
                .map(|name| KeyAttributeDraft { name: Placed::written(name), scalar: None })
                .collect(),
            span: Some(key.span()),
        }),
        None if key_from_table => WrittenKey::FromTable,
        None => {
            let message = format!("{} has no `key`", table.label);
            let hint =
                "add key = [\"pk\"] (partition key) or key = [\"pk\", \"sk\"] (partition and sort key)";
            issues.report(table.span.clone(), message, hint);
            WrittenKey::Missing
        }
    }
}

/// One (partition) or two (partition, sort) distinct, non-empty attribute names.
fn check_key_shape(key: &KeyDraft, table_label: &str, issues: &Issues) -> bool {
    let names = &key.attributes;
    let problems_before = issues.count();
    if names.is_empty() || names.len() > 2 {
        let message = format!("`key` of {table_label} lists {} attributes", names.len());
        let hint = "a DynamoDB key has 1 attribute (partition key) or 2 (partition key, then sort key)";
        report(issues, &key.span, message, hint);
    }
    for (i, attribute) in names.iter().enumerate() {
        let name = &attribute.name;
        if name.value.is_empty() {
            report(issues, &name.span, "a key attribute name is empty".into(), "write the attribute's name");
        } else if let Some(first) = names[..i].iter().find(|n| n.name.value == name.value) {
            let message = format!("`key` of {table_label} lists \"{}\" twice", name.value);
            let hint = "list the partition key, then the sort key";
            match (&name.span, &first.name.span) {
                (Some(span), Some(first)) => {
                    issues.report_duplicate(span.clone(), first.clone(), message, hint)
                }
                (span, _) => report(issues, span, message, hint),
            }
        }
    }
    issues.count() == problems_before
}

/// The columns as written, with names checked and duplicates (case-insensitive) reported.
fn explicit_columns(table: &RawTable, columns: &[RawColumn], issues: &Issues) -> Vec<Draft> {
    let mut seen: HashMap<String, Range<usize>> = HashMap::new();
    let mut drafts = Vec::with_capacity(columns.len());
    for (index, column) in columns.iter().enumerate() {
        let Some(name) = &column.name else {
            if column.readable {
                let message = format!("column #{} of {} has no `name`", index + 1, table.label);
                let hint = "add name = \"…\", like { name = \"total\", path = \"amount.total\", type = \"decimal(12,2)\" }";
                issues.report(column.span.clone(), message, hint);
            }
            continue;
        };
        check_warehouse_name(name, "column name", issues);
        let folded = name.get_ref().to_lowercase();
        if let Some(first) = seen.get(&folded) {
            let message = format!(
                "{} has two columns named \"{}\" (names are compared ignoring case)",
                table.label,
                name.get_ref()
            );
            let hint = "rename one of them: warehouses fold names to lowercase, so they would collide";
            issues.report_duplicate(name.span(), first.clone(), message, hint);
        } else {
            seen.insert(folded, name.span());
        }
        let path = match &column.path {
            Some(path) => Some(path.get_ref().clone()),
            None if column.readable => AttrPath::from_names([name.get_ref().clone()]).ok(),
            None => None,
        };
        let ty = column.ty.as_ref().map(Placed::written);
        drafts.push(Draft { name: Placed::written(name), path, ty, is_key: false });
    }
    drafts
}

/// Without `columns`: one column per key attribute, named like the attribute.
fn key_columns_only(key: &[KeyAttributeDraft], issues: &Issues) -> Option<Vec<Draft>> {
    let problems_before = issues.count();
    let mut drafts = Vec::with_capacity(key.len());
    for KeyAttributeDraft { name: attribute, .. } in key {
        if let Some((reason, _)) = warehouse_name_problem(&attribute.value) {
            let message = format!(
                "without `columns`, key attribute \"{}\" becomes a column name, but it {reason}",
                attribute.value.escape_debug()
            );
            let hint = format!(
                "list the columns explicitly, e.g. columns = [{{ name = \"{}\", path = \"{}\" }}]",
                column_name_for(&attribute.value),
                attribute.value.escape_debug()
            );
            report(issues, &attribute.span, message, hint);
            continue;
        }
        let path = AttrPath::from_names([attribute.value.clone()]).ok();
        drafts.push(Draft { name: attribute.clone(), path, ty: None, is_key: false });
    }
    (issues.count() == problems_before).then_some(drafts)
}

/// A valid column name to suggest for an attribute.
fn column_name_for(attribute: &str) -> String {
    let candidate: String = attribute
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if is_valid_identifier(&candidate) && !candidate.starts_with("dynashift_") {
        candidate
    } else {
        "key_value".into()
    }
}

/// Marks the first column whose path is exactly each key attribute as a key column and checks its
/// type. (A second column with the same path is an ordinary copy.)
fn mark_key_columns(
    key: &KeyDraft,
    drafts: &mut [Draft],
    all_readable: bool,
    table_label: &str,
    issues: &Issues,
) {
    for attribute in &key.attributes {
        let attribute_name = attribute.name.value.as_str();
        let found =
            drafts.iter_mut().find(|d| d.path.as_ref().and_then(AttrPath::as_single) == Some(attribute_name));
        match found {
            Some(draft) => {
                draft.is_key = true;
                check_key_type(draft, attribute, issues);
            }
            None if all_readable => {
                let message = format!(
                    "key attribute \"{attribute_name}\" of {table_label} is not mapped to any column"
                );
                let hint = format!(
                    "add a column whose path is exactly the attribute, e.g. {{ name = \"{}\", path = \"{}\", type = \"varchar(64)\" }}",
                    column_name_for(attribute_name),
                    attribute_name.escape_debug()
                );
                report(issues, &attribute.name.span, message, hint);
            }
            None => {}
        }
    }
}

/// Key columns are compared row by row when merging; SUPER cannot be compared and a double may
/// round two different numbers to one key. When DynamoDB declares the attribute's type, the
/// column must also be able to hold at least some of its values (see [`KeyScalar::fits`]).
fn check_key_type(draft: &Draft, attribute: &KeyAttributeDraft, issues: &Issues) {
    let Some(ty) = &draft.ty else { return };
    if matches!(ty.value, ColumnType::Super | ColumnType::Double) {
        let message =
            format!("key column \"{}\" is typed {}, which cannot hold a key", draft.name.value, ty.value);
        let hint = "use varchar(n) for string or binary keys, bigint or decimal(38,0) for number keys";
        report(issues, &ty.span, message, hint);
    } else if let Some(scalar) = attribute.scalar.filter(|scalar| !scalar.fits(ty.value)) {
        let message = format!(
            "key column \"{}\" is typed {}, but DynamoDB declares key attribute \"{}\" {}, which no {} column holds",
            draft.name.value,
            ty.value,
            attribute.name.value,
            scalar.describe(),
            ty.value
        );
        report(issues, &ty.span, message, scalar.column_hint());
    }
}

/// `unmapped` (table, then `[defaults]`, then "keep" without columns / "drop" with) and the item
/// column that holds the whole item when it is "keep". That column must not also be a mapped
/// one: see [`item_column_is_free`].
fn unmapped_choice(table: &RawTable, inherited: &Inherited, issues: &Issues) -> Option<UnmappedPolicy> {
    let fallback = if table.columns.is_some() { Unmapped::Drop } else { Unmapped::Keep };
    let unmapped =
        table.overrides.unmapped.as_ref().map(|u| *u.get_ref()).or(inherited.unmapped).unwrap_or(fallback);
    let item_column = table.overrides.item_column.as_ref();
    if unmapped == Unmapped::Drop {
        if let Some(item_column) = item_column {
            let message = format!("{} sets `item_column`, but unmapped attributes are dropped", table.label);
            let hint = "remove item_column, or set unmapped = \"keep\" to keep the whole item in that column";
            issues.report(item_column.span(), message, hint);
            return None;
        }
        return Some(UnmappedPolicy::Drop);
    }
    if item_column.is_some_and(|name| !check_warehouse_name(name, "item_column", issues)) {
        return None;
    }
    let column = item_column.map_or_else(|| inherited.item_column.clone(), |name| name.get_ref().clone());
    Some(UnmappedPolicy::KeepItem { column })
}

/// The item column, which keeps the whole item, must not share its name with another column.
fn item_column_is_free(
    unmapped: &UnmappedPolicy,
    drafts: &[Draft],
    table_label: &str,
    issues: &Issues,
) -> bool {
    let UnmappedPolicy::KeepItem { column } = unmapped else { return true };
    let Some(clash) = drafts.iter().find(|d| d.name.value.eq_ignore_ascii_case(column)) else { return true };
    let message = format!(
        "column \"{}\" of {table_label} has the name of the item column, which keeps the whole item (unmapped = \"keep\")",
        clash.name.value
    );
    let hint = "rename the column, or pick another item column with item_column = \"raw_item\"";
    report(issues, &clash.name.span, message, hint);
    false
}

/// The finished columns; omitted types default by key-ness.
fn finish(drafts: Vec<Draft>) -> Vec<ColumnSpec> {
    drafts
        .into_iter()
        .filter_map(|draft| {
            let default_type = if draft.is_key { KEY_COLUMN_TYPE } else { COLUMN_TYPE };
            Some(ColumnSpec {
                ty: draft.ty.map_or(default_type, |ty| ty.value),
                path: draft.path?,
                name: draft.name.value,
                is_key: draft.is_key,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{refusals as messages, table_from as table};
    use std::path::Path;

    use crate::config::{ColumnType, UnmappedPolicy, load_str};

    const EXPORTS: &str = "[defaults]\nsource = \"exports\"\n[[table]]\nname = \"events\"\nprefix = \"in\"\n";

    #[test]
    fn omitted_types_and_paths_have_defaults() {
        let table = table(&format!(
            "{EXPORTS}key = [\"id\"]\ncolumns = [{{ name = \"id\" }}, {{ name = \"note\" }}]\n"
        ));
        assert_eq!(table.columns[0].ty, ColumnType::Varchar(4096));
        assert!(table.columns[0].is_key);
        assert_eq!(table.columns[1].ty, ColumnType::Super);
        assert_eq!(table.columns[1].path.as_single(), Some("note"));
        assert_eq!(table.unmapped, UnmappedPolicy::Drop);
    }

    #[test]
    fn only_the_first_column_reading_a_key_attribute_is_the_key_column() {
        let table = table(&format!(
            "{EXPORTS}key = [\"id\"]\ncolumns = [{{ name = \"id\" }}, {{ name = \"id_copy\", path = \"id\", type = \"super\" }}]\n"
        ));
        assert_eq!(table.columns.iter().map(|c| c.is_key).collect::<Vec<_>>(), [true, false]);
    }

    #[test]
    fn a_repeated_key_attribute_is_reported() {
        let messages = messages(&format!("{EXPORTS}key = [\"id\", \"id\"]\n"));
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].starts_with("`key` of table \"events\" lists \"id\" twice"), "{messages:?}");
    }

    #[test]
    fn a_broken_column_does_not_also_claim_the_key_is_unmapped() {
        let messages = messages(&format!(
            "{EXPORTS}key = [\"id\"]\ncolumns = [{{ name = \"id\", path = \"id..x\" }}]\n"
        ));
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].starts_with("invalid attribute path"), "{messages:?}");
    }

    #[test]
    fn unmapped_comes_from_the_table_then_defaults_then_the_columns() {
        let keep = table(&format!("{EXPORTS}key = [\"id\"]\n"));
        assert_eq!(keep.unmapped, UnmappedPolicy::KeepItem { column: "item".into() });
        let text =
            format!("{EXPORTS}key = [\"id\"]\n").replace("[[table]]", "unmapped = \"drop\"\n[[table]]");
        assert_eq!(table(&text).unmapped, UnmappedPolicy::Drop);
        let renamed = table(&format!("{EXPORTS}key = [\"id\"]\nitem_column = \"doc\"\n"));
        assert_eq!(renamed.unmapped, UnmappedPolicy::KeepItem { column: "doc".into() });
    }

    #[test]
    fn a_missing_key_is_reported_at_the_table() {
        let messages = messages(&format!("{EXPORTS}columns = [{{ name = \"id\" }}]\n"));
        assert_eq!(messages, ["table \"events\" has no `key`"]);
    }

    const AWS: &str = "[[table]]\nname = \"orders\"\nsource = \"aws\"\nbucket = \"s3://acme/dyn/\"\n";

    #[test]
    fn demo_tables_still_need_a_key_as_only_dynamodb_can_name_one() {
        let demo = "[[table]]\nname = \"orders\"\nsource = \"demo\"\n";
        assert_eq!(messages(demo), ["table \"orders\" has no `key`"]);
        let error = load_str(demo, Path::new("/c/tables.toml")).unwrap_err();
        assert_eq!((error.problems[0].line, error.problems[0].column), (Some(1), Some(1)));
    }

    #[test]
    fn an_aws_table_may_leave_its_key_to_dynamodb() {
        let keyless = table(AWS);
        assert!(keyless.key.is_empty() && keyless.columns.is_empty());
        assert_eq!(keyless.unmapped, UnmappedPolicy::KeepItem { column: "item".into() });
        let pending = keyless.key_from_table().expect("the key comes from DescribeTable");
        assert!(!pending.columns_written && pending.untyped_columns.is_empty());

        let listed =
            table(&format!("{AWS}columns = [{{ name = \"id\" }}, {{ name = \"n\", type = \"bigint\" }}]\n"));
        assert!(listed.columns.iter().all(|column| !column.is_key));
        assert_eq!(listed.columns[0].ty, ColumnType::Super, "until the key shows whether it is a key column");
        let pending = listed.key_from_table().expect("the key comes from DescribeTable");
        assert!(pending.columns_written);
        assert_eq!(pending.untyped_columns, ["id"]);
    }

    #[test]
    fn a_table_that_leaves_its_key_out_still_has_everything_else_checked_at_its_line() {
        let text = format!(
            "{AWS}unmapped = \"keep\"\ncolumns = [{{ name = \"item\" }}, {{ name = \"Bad Name\" }}, {{ name = \"n\", type = \"nope\" }}]\n"
        );
        let error = load_str(&text, Path::new("/c/tables.toml")).expect_err("refused");
        assert_eq!(error.problems.len(), 3, "{error}");
        assert!(error.problems.iter().all(|problem| problem.line == Some(6)), "{error}");
        assert!(error.problems[0].message.contains("has the name of the item column"), "{error}");
    }

    #[test]
    fn a_written_key_is_checked_while_loading_even_for_aws_tables() {
        let messages = messages(&format!("{AWS}key = [\"id\"]\ncolumns = [{{ name = \"other\" }}]\n"));
        assert_eq!(messages, ["key attribute \"id\" of table \"orders\" is not mapped to any column"]);
    }
}
