//! A table's key and target columns, validated together: every key attribute must land in a
//! column (the warehouse matches rows by it), column names must be unique as the warehouse sees
//! them (case-folded), and the whole-item column must not collide with a mapped one.

use std::collections::HashMap;
use std::ops::Range;

use toml::Spanned;

use super::defaults::{COLUMN_TYPE, KEY_COLUMN_TYPE};
use super::ident::is_valid_identifier;
use super::inherit::Inherited;
use super::issues::Issues;
use super::model::{ColumnSpec, UnmappedPolicy};
use super::names::{check_warehouse_name, warehouse_name_problem};
use super::path::AttrPath;
use super::raw::{RawTable, Unmapped};
use super::types::ColumnType;

/// What a table's rows look like in the warehouse.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ColumnLayout {
    pub key: Vec<String>,
    pub columns: Vec<ColumnSpec>,
    pub unmapped: UnmappedPolicy,
}

/// A column on its way to a [`ColumnSpec`], with the places to point at.
struct Draft {
    name: Spanned<String>,
    path: Option<AttrPath>,
    ty: Option<Spanned<ColumnType>>,
    is_key: bool,
}

/// Validates `key`, `columns`, `unmapped` and `item_column` of one table.
pub(super) fn validate_layout(
    table: &RawTable,
    inherited: &Inherited,
    issues: &Issues,
) -> Option<ColumnLayout> {
    let key = validate_key(table, issues);
    let mut drafts = match (&table.columns, &key) {
        (Some(columns), _) => Some(explicit_columns(table, columns.get_ref(), issues)),
        (None, Some(key)) => key_columns_only(key.get_ref(), issues),
        (None, None) => None,
    };
    let all_readable = table.columns.as_ref().is_none_or(|c| c.get_ref().iter().all(|c| c.readable));
    if let (Some(key), Some(drafts)) = (&key, &mut drafts) {
        mark_key_columns(key, drafts, all_readable, &table.label, issues);
    }
    let drafts = drafts?;
    let unmapped = unmapped_policy(table, inherited, &drafts, issues)?;
    let key = key?.into_inner().into_iter().map(Spanned::into_inner).collect();
    Some(ColumnLayout { key, columns: finish(drafts), unmapped })
}

/// `key`: one (partition) or two (partition, sort) distinct attribute names.
fn validate_key(table: &RawTable, issues: &Issues) -> Option<Spanned<Vec<Spanned<String>>>> {
    let Some(key) = &table.key else {
        let message = format!("{} has no `key`", table.label);
        let hint = "add key = [\"pk\"] (partition key) or key = [\"pk\", \"sk\"] (partition and sort key)";
        issues.report(table.span.clone(), message, hint);
        return None;
    };
    let names = key.get_ref();
    let problems_before = issues.count();
    if names.is_empty() || names.len() > 2 {
        let message = format!("`key` of {} lists {} attributes", table.label, names.len());
        let hint = "a DynamoDB key has 1 attribute (partition key) or 2 (partition key, then sort key)";
        issues.report(key.span(), message, hint);
    }
    for (i, name) in names.iter().enumerate() {
        if name.get_ref().is_empty() {
            issues.report(name.span(), "a key attribute name is empty", "write the attribute's name");
        } else if let Some(first) = names[..i].iter().find(|n| n.get_ref() == name.get_ref()) {
            let message = format!("`key` of {} lists \"{}\" twice", table.label, name.get_ref());
            issues.report_duplicate(
                name.span(),
                first.span(),
                message,
                "list the partition key, then the sort key",
            );
        }
    }
    (issues.count() == problems_before).then(|| key.clone())
}

/// The columns as written, with names checked and duplicates (case-insensitive) reported.
fn explicit_columns(table: &RawTable, columns: &[super::raw::RawColumn], issues: &Issues) -> Vec<Draft> {
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
        drafts.push(Draft { name: name.clone(), path, ty: column.ty.clone(), is_key: false });
    }
    drafts
}

/// Without `columns`: one column per key attribute, named like the attribute.
fn key_columns_only(key: &[Spanned<String>], issues: &Issues) -> Option<Vec<Draft>> {
    let problems_before = issues.count();
    let mut drafts = Vec::with_capacity(key.len());
    for attribute in key {
        if let Some((reason, _)) = warehouse_name_problem(attribute.get_ref()) {
            let message = format!(
                "without `columns`, key attribute \"{}\" becomes a column name, but it {reason}",
                attribute.get_ref().escape_debug()
            );
            let hint = format!(
                "list the columns explicitly, e.g. columns = [{{ name = \"{}\", path = \"{}\" }}]",
                column_name_for(attribute.get_ref()),
                attribute.get_ref().escape_debug()
            );
            issues.report(attribute.span(), message, hint);
            continue;
        }
        let path = AttrPath::from_names([attribute.get_ref().clone()]).ok();
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
    key: &Spanned<Vec<Spanned<String>>>,
    drafts: &mut [Draft],
    all_readable: bool,
    table_label: &str,
    issues: &Issues,
) {
    for attribute in key.get_ref() {
        let attribute_name = attribute.get_ref().as_str();
        let found =
            drafts.iter_mut().find(|d| d.path.as_ref().and_then(AttrPath::as_single) == Some(attribute_name));
        match found {
            Some(draft) => {
                draft.is_key = true;
                check_key_type(draft, issues);
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
                issues.report(attribute.span(), message, hint);
            }
            None => {}
        }
    }
}

/// Key columns are compared row by row when merging; SUPER cannot be compared and a double may
/// round two different numbers to one key.
fn check_key_type(draft: &Draft, issues: &Issues) {
    let Some(ty) = &draft.ty else { return };
    if matches!(ty.get_ref(), ColumnType::Super | ColumnType::Double) {
        let message = format!(
            "key column \"{}\" is typed {}, which cannot hold a key",
            draft.name.get_ref(),
            ty.get_ref()
        );
        let hint = "use varchar(n) for string or binary keys, bigint or decimal(38,0) for number keys";
        issues.report(ty.span(), message, hint);
    }
}

/// `unmapped` (table, then `[defaults]`, then "keep" without columns / "drop" with) and the item
/// column that holds the whole item when it is "keep".
fn unmapped_policy(
    table: &RawTable,
    inherited: &Inherited,
    drafts: &[Draft],
    issues: &Issues,
) -> Option<UnmappedPolicy> {
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
    if let Some(clash) = drafts.iter().find(|d| d.name.get_ref().eq_ignore_ascii_case(&column)) {
        let message = format!(
            "column \"{}\" of {} has the name of the item column, which keeps the whole item (unmapped = \"keep\")",
            clash.name.get_ref(),
            table.label
        );
        let hint = "rename the column, or pick another item column with item_column = \"raw_item\"";
        issues.report(clash.name.span(), message, hint);
        return None;
    }
    Some(UnmappedPolicy::KeepItem { column })
}

/// The finished columns; omitted types default by key-ness.
fn finish(drafts: Vec<Draft>) -> Vec<ColumnSpec> {
    drafts
        .into_iter()
        .filter_map(|draft| {
            let default_type = if draft.is_key { KEY_COLUMN_TYPE } else { COLUMN_TYPE };
            Some(ColumnSpec {
                ty: draft.ty.map_or(default_type, Spanned::into_inner),
                path: draft.path?,
                name: draft.name.into_inner(),
                is_key: draft.is_key,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::{ColumnType, TableConfig, UnmappedPolicy, load_str};

    fn table(text: &str) -> TableConfig {
        let config = load_str(text, Path::new("/c/tables.toml")).unwrap_or_else(|e| panic!("{e}"));
        config.tables.into_iter().next().expect("one table")
    }

    fn messages(text: &str) -> Vec<String> {
        let error = load_str(text, Path::new("/c/tables.toml")).expect_err("refused");
        error.problems.into_iter().map(|p| p.message).collect()
    }

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
}
