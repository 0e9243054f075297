//! The jsonpaths of a pushdown full load: Redshift's COPY reads the export's own data files, one
//! `{"Item": {…}}` line per item in DynamoDB JSON, so each column's path walks that typed JSON
//! instead of the plain JSON the stage step writes.
//!
//! The one place these paths are built (a format concern, so it sits with the DynamoDB formats):
//! the pipeline writes them as `jsonpaths.json`, config
//! validation and the Redshift plan ask [`path_problem`] (in config, which validates paths) which
//! paths cannot be expressed.
//!
//! A column reads the value under the DynamoDB type its column type implies:
//!
//! | column type                                       | path ends in                   |
//! |---------------------------------------------------|--------------------------------|
//! | varchar                                           | `['S']`                        |
//! | smallint, integer, bigint, decimal, double        | `['N']` (a string: exact)      |
//! | boolean                                           | `['BOOL']`                     |
//! | timestamp, timestamptz, date                      | `['S']` (ISO text)             |
//! | super                                             | the attribute itself: typed DynamoDB JSON like `{"M": {…}}` |
//! | the whole-item column (`unmapped = "keep"`)       | `$['Item']`, typed too         |
//!
//! Nested names go through maps (`amount.total` → `$['Item']['amount']['M']['total']['N']`). A
//! value of another DynamoDB type than the one implied (an `N` in a varchar column, a binary)
//! resolves to nothing and loads NULL — the staged strategy would convert it instead.
//!
//! Bracket notation always: attribute names may hold dots, dashes and spaces. It has no escape
//! for `'` (aws-facts §4.2), and backslashes are read differently by JSONPath parsers, so names
//! holding either are refused; so are list indexes, because COPY fails the whole load on an item
//! whose list is shorter than the index ("index out of range") where the staged strategy loads
//! NULL.

use serde_json::json;

use crate::config::{AttrPath, ColumnType, PathSegment, TableConfig, UnmappedPolicy, path_problem};

/// Why a column's attribute path cannot be read by a pushdown COPY.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column `{column}` reads `{path}`, which a pushdown COPY cannot read: {reason}")]
pub struct ItemPathError {
    pub column: String,
    pub path: String,
    pub reason: String,
}

/// The `jsonpaths.json` of a pushdown load of `table`: one path per target column, in
/// [`crate::config::target_columns`] order.
pub fn item_jsonpaths(table: &TableConfig) -> Result<Vec<u8>, ItemPathError> {
    let mut paths = Vec::with_capacity(table.columns.len() + 1);
    for column in &table.columns {
        let path = column_path(&column.path, column.ty).map_err(|reason| ItemPathError {
            column: column.name.clone(),
            path: column.path.to_string(),
            reason,
        })?;
        paths.push(path);
    }
    if let UnmappedPolicy::KeepItem { .. } = &table.unmapped {
        paths.push(ITEM_ROOT.to_owned());
    }
    Ok(json!({ "jsonpaths": paths }).to_string().into_bytes())
}

/// The `jsonpaths.json` of an incremental pushdown load of `table`, over the change lines of
/// incremental exports (`{"Metadata": {"WriteTimestampMicros": {"N": …}}, "Keys": {…},
/// "NewImage": {…}}`, aws-facts §2.6): one path per column of
/// [`crate::config::change_columns`] — the write time, the first key attribute again but read
/// from the new image (NULL exactly when the line has no new image, i.e. the item was deleted:
/// an image always holds the key attributes), then the target's columns, key columns from
/// `Keys` (present on every line, deletes too) and the others from `NewImage`.
pub fn change_jsonpaths(table: &TableConfig) -> Result<Vec<u8>, ItemPathError> {
    let first_key = table.key_columns().first().map(|c| (*c).clone()).ok_or_else(|| ItemPathError {
        column: table.key.first().cloned().unwrap_or_default(),
        path: table.key.join(", "),
        reason: "no column maps the table's partition key".into(),
    })?;
    let mut paths = vec![
        WRITE_TIME.to_owned(),
        path_for(NEW_IMAGE_ROOT, &first_key.path, first_key.ty, &first_key.name)?,
    ];
    for column in &table.columns {
        let root = if column.is_key { KEYS_ROOT } else { NEW_IMAGE_ROOT };
        paths.push(path_for(root, &column.path, column.ty, &column.name)?);
    }
    if let UnmappedPolicy::KeepItem { .. } = &table.unmapped {
        paths.push(NEW_IMAGE_ROOT.to_owned());
    }
    Ok(json!({ "jsonpaths": paths }).to_string().into_bytes())
}

fn path_for(root: &str, path: &AttrPath, ty: ColumnType, column: &str) -> Result<String, ItemPathError> {
    column_path_under(root, path, ty).map_err(|reason| ItemPathError {
        column: column.to_owned(),
        path: path.to_string(),
        reason,
    })
}

/// The first column of `table` whose path a pushdown COPY cannot read, if any.
pub fn first_unreadable(table: &TableConfig) -> Option<ItemPathError> {
    item_jsonpaths(table).err()
}

/// Every item of a full export sits under this key.
const ITEM_ROOT: &str = "$['Item']";
/// A change line's key attributes (every line, deletes too).
const KEYS_ROOT: &str = "$['Keys']";
/// A change line's item after the change; absent when the item was deleted.
const NEW_IMAGE_ROOT: &str = "$['NewImage']";
/// A change line's last write time in its window, in microseconds (a DynamoDB `N`, so a string).
const WRITE_TIME: &str = "$['Metadata']['WriteTimestampMicros']['N']";

/// `$['Item']['a']['M']['b']['N']` for path `a.b` into a numeric column.
fn column_path(path: &AttrPath, ty: ColumnType) -> Result<String, String> {
    column_path_under(ITEM_ROOT, path, ty)
}

/// `<root>['a']['M']['b']['N']` for path `a.b` into a numeric column.
fn column_path_under(root: &str, path: &AttrPath, ty: ColumnType) -> Result<String, String> {
    if let Some(problem) = path_problem(path) {
        return Err(problem);
    }
    let names: Vec<&str> = path
        .segments()
        .iter()
        .filter_map(|segment| match segment {
            PathSegment::Name(name) => Some(name.as_str()),
            PathSegment::Index(_) => None,
        })
        .collect();
    let mut text = root.to_owned();
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            text.push_str("['M']");
        }
        text.push_str(&format!("['{name}']"));
    }
    if let Some(letter) = type_letter(ty) {
        text.push_str(&format!("['{letter}']"));
    }
    Ok(text)
}

/// The DynamoDB type a column of `ty` reads; `None` for super, which takes the typed value whole.
fn type_letter(ty: ColumnType) -> Option<&'static str> {
    match ty {
        ColumnType::Varchar(_) | ColumnType::Timestamp | ColumnType::TimestampTz | ColumnType::Date => {
            Some("S")
        }
        ColumnType::SmallInt
        | ColumnType::Integer
        | ColumnType::BigInt
        | ColumnType::Decimal { .. }
        | ColumnType::Double => Some("N"),
        ColumnType::Boolean => Some("BOOL"),
        ColumnType::Super => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{names, orders_table, path, table_with};

    #[test]
    fn each_column_type_reads_its_dynamodb_type() {
        let cases = [
            ("varchar(10)", "$['Item']['a']['S']"),
            ("smallint", "$['Item']['a']['N']"),
            ("integer", "$['Item']['a']['N']"),
            ("bigint", "$['Item']['a']['N']"),
            ("decimal(12,2)", "$['Item']['a']['N']"),
            ("double precision", "$['Item']['a']['N']"),
            ("boolean", "$['Item']['a']['BOOL']"),
            ("timestamp", "$['Item']['a']['S']"),
            ("timestamptz", "$['Item']['a']['S']"),
            ("date", "$['Item']['a']['S']"),
            ("super", "$['Item']['a']"),
        ];
        for (ty, expected) in cases {
            assert_eq!(column_path(&path("a"), ty.parse().unwrap()).unwrap(), expected, "{ty}");
        }
    }

    #[test]
    fn nested_names_go_through_maps() {
        let ty = "decimal(12,2)".parse().unwrap();
        assert_eq!(column_path(&path("amount.total"), ty).unwrap(), "$['Item']['amount']['M']['total']['N']");
        let deep = column_path(&path("a.b.c"), ColumnType::Super).unwrap();
        assert_eq!(deep, "$['Item']['a']['M']['b']['M']['c']");
    }

    #[test]
    fn dotted_spaced_and_odd_names_stay_one_bracketed_name() {
        let ty = ColumnType::Varchar(64);
        let dotted = column_path(&names(&["shipping.address", "city"]), ty).unwrap();
        assert_eq!(dotted, "$['Item']['shipping.address']['M']['city']['S']");
        assert_eq!(column_path(&path("gift-note"), ty).unwrap(), "$['Item']['gift-note']['S']");
        assert_eq!(column_path(&path("customer notes"), ty).unwrap(), "$['Item']['customer notes']['S']");
        let odd = column_path(&names(&["a]b[c", "$x\"y"]), ty).unwrap();
        assert_eq!(odd, "$['Item']['a]b[c']['M']['$x\"y']['S']");
    }

    #[test]
    fn the_file_lists_every_column_then_the_whole_item() {
        let table = table_with(|t| t.columns.retain(|c| !c.path.to_string().contains('[')));
        let file: serde_json::Value = serde_json::from_slice(&item_jsonpaths(&table).unwrap()).unwrap();
        let expected = json!({"jsonpaths": [
            "$['Item']['pk']['S']",
            "$['Item']['sk']['N']",
            "$['Item']['detail']['M']['total']['N']",
            "$['Item']['created']['S']",
            "$['Item']['gift note']['S']",
            "$['Item']['nope']['S']",
            "$['Item']",
        ]});
        assert_eq!(file, expected);
        assert_eq!(crate::config::target_columns(&table).len(), 7);
    }

    #[test]
    fn change_lines_read_the_write_time_the_keys_and_the_new_image() {
        let table = table_with(|t| t.columns.retain(|c| !c.path.to_string().contains('[')));
        let file: serde_json::Value = serde_json::from_slice(&change_jsonpaths(&table).unwrap()).unwrap();
        let expected = json!({"jsonpaths": [
            "$['Metadata']['WriteTimestampMicros']['N']",
            "$['NewImage']['pk']['S']",
            "$['Keys']['pk']['S']",
            "$['Keys']['sk']['N']",
            "$['NewImage']['detail']['M']['total']['N']",
            "$['NewImage']['created']['S']",
            "$['NewImage']['gift note']['S']",
            "$['NewImage']['nope']['S']",
            "$['NewImage']",
        ]});
        assert_eq!(file, expected);
        assert_eq!(crate::config::change_columns(&table).len(), 9);
        let error = change_jsonpaths(&orders_table()).unwrap_err();
        assert_eq!(error.column, "first_sku");
    }

    #[test]
    fn the_first_unreadable_column_is_named() {
        let error = first_unreadable(&orders_table()).expect("orders reads detail.items[0].sku");
        assert_eq!(error.column, "first_sku");
        assert!(error.to_string().starts_with("column `first_sku` reads `detail.items[0].sku`"), "{error}");
    }
}
