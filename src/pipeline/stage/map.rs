//! One change → one staged line: the op and timestamp columns, each configured column read from
//! its attribute path and converted to its type, and the whole-item column when unmapped
//! attributes are kept (see `notes/staged-format.md`).
//!
//! Lines are written by hand into a caller's reused buffer: this runs once per exported item, and
//! building a `serde_json::Value` per row would cost more than reading the export.

use serde_json::value::RawValue;

use crate::config::{ColumnSpec, ColumnType, TableConfig, TypeErrorPolicy, UnmappedPolicy};
use crate::contract::StageRules;
use crate::contract::staged::{OP_COLUMN, TS_COLUMN};
use crate::ddb::{Item, json};

use super::coerce::{write_coerced, write_i64};
use super::error::capped;
use super::image::{Map, Value};
use super::lines::item_key;
use super::lookup::lookup;
pub use super::type_error::TypeError;

/// Longest value text quoted in a type error.
const MAX_QUOTED_VALUE: usize = 120;

/// Writes staged lines for one table. Built once per stage step; shared by all workers.
#[derive(Debug)]
pub struct RowMapper {
    table: String,
    key_attributes: Vec<String>,
    policy: TypeErrorPolicy,
    columns: Vec<MappedColumn>,
    /// `,"<name>":` of the whole-item column, when there is one.
    item_column: Option<(String, Vec<u8>)>,
    upsert_head: Vec<u8>,
    delete_head: Vec<u8>,
    /// Longest string a `super` value may hold in the warehouse, if it is limited.
    super_string_limit: Option<usize>,
}

#[derive(Debug)]
struct MappedColumn {
    /// `,"<name>":`, written before the value.
    prefix: Vec<u8>,
    spec: ColumnSpec,
}

impl RowMapper {
    /// A mapper for a warehouse without limits beyond column types (see [`RowMapper::with_rules`]).
    pub fn new(table: &TableConfig) -> RowMapper {
        RowMapper::with_rules(table, StageRules::EXACT)
    }

    /// A mapper that also applies the warehouse's `rules` (the SUPER string limit) under the
    /// table's `on_type_error`.
    pub fn with_rules(table: &TableConfig, rules: StageRules) -> RowMapper {
        let head = |op: &str| {
            let mut head = Vec::new();
            head.push(b'{');
            json::write_string(&mut head, OP_COLUMN);
            head.push(b':');
            json::write_string(&mut head, op);
            head.push(b',');
            json::write_string(&mut head, TS_COLUMN);
            head.push(b':');
            head
        };
        let columns = table
            .columns
            .iter()
            .map(|spec| MappedColumn { prefix: column_prefix(&spec.name), spec: spec.clone() })
            .collect();
        let item_column = match &table.unmapped {
            UnmappedPolicy::KeepItem { column } => Some((column.clone(), column_prefix(column))),
            UnmappedPolicy::Drop => None,
        };
        RowMapper {
            table: table.name.clone(),
            key_attributes: table.key.clone(),
            policy: table.on_type_error,
            columns,
            item_column,
            upsert_head: head("U"),
            delete_head: head("D"),
            super_string_limit: rules.super_string_limit,
        }
    }

    /// Appends the line (with its newline) of an item's latest state. Returns how many values
    /// were loaded as NULL under `on_type_error = "null"`.
    pub fn write_upsert(
        &self,
        out: &mut Vec<u8>,
        image: &Map<'_>,
        write_micros: Option<i64>,
    ) -> Result<u64, Box<TypeError>> {
        let start = out.len();
        out.extend_from_slice(&self.upsert_head);
        write_optional_i64(out, write_micros);
        let result = self.write_columns(out, image);
        finish_line(out, start, result)
    }

    /// Appends the line (with its newline) of a delete: key columns from `keys`, the rest null.
    pub fn write_delete(
        &self,
        out: &mut Vec<u8>,
        keys: &Map<'_>,
        write_micros: i64,
    ) -> Result<u64, Box<TypeError>> {
        let start = out.len();
        out.extend_from_slice(&self.delete_head);
        write_optional_i64(out, Some(write_micros));
        let mut result = Ok(0);
        for column in &self.columns {
            out.extend_from_slice(&column.prefix);
            if column.spec.is_key {
                if let Err(error) = self.write_column(out, column, keys) {
                    result = Err(error);
                    break;
                }
            } else {
                out.extend_from_slice(b"null");
            }
        }
        if let Some((_, prefix)) = &self.item_column {
            out.extend_from_slice(prefix);
            out.extend_from_slice(b"null");
        }
        finish_line(out, start, result)
    }

    fn write_columns(&self, out: &mut Vec<u8>, image: &Map<'_>) -> Result<u64, Box<TypeError>> {
        let mut nulled = 0;
        for column in &self.columns {
            out.extend_from_slice(&column.prefix);
            nulled += self.write_column(out, column, image)?;
        }
        if let Some((name, prefix)) = &self.item_column {
            out.extend_from_slice(prefix);
            nulled += self.write_whole_item(out, name, image)?;
        }
        Ok(nulled)
    }

    /// Appends one column's value; 1 when it was nulled by the policy.
    fn write_column(
        &self,
        out: &mut Vec<u8>,
        column: &MappedColumn,
        image: &Map<'_>,
    ) -> Result<u64, Box<TypeError>> {
        let Some(value) = lookup(image, &column.spec.path) else {
            out.extend_from_slice(b"null");
            return Ok(0);
        };
        let start = out.len();
        match self.super_limit(value, column.spec.ty).and_then(|()| write_coerced(out, value, column.spec.ty))
        {
            Ok(()) => Ok(0),
            Err(reason) => {
                let error = || TypeError {
                    table: self.table.clone(),
                    item_key: self.item_key(image),
                    path: column.spec.path.to_string(),
                    column: column.spec.name.clone(),
                    column_type: column.spec.ty.to_string(),
                    value: quoted_json(value),
                    reason,
                    is_key: column.spec.is_key,
                };
                self.apply_policy(out, start, column.spec.is_key, error)
            }
        }
    }

    fn write_whole_item(
        &self,
        out: &mut Vec<u8>,
        column: &str,
        image: &Map<'_>,
    ) -> Result<u64, Box<TypeError>> {
        let start = out.len();
        let limit = self.super_limit_of_map(image);
        match limit.and_then(|()| image.write_plain_json(out).map_err(|e| e.to_string())) {
            Ok(()) => Ok(0),
            Err(reason) => {
                let error = || TypeError {
                    table: self.table.clone(),
                    item_key: self.item_key(image),
                    path: "(whole item)".into(),
                    column: column.to_owned(),
                    column_type: "super".into(),
                    value: quoted_json(image),
                    reason,
                    is_key: false,
                };
                self.apply_policy(out, start, false, error)
            }
        }
    }

    /// A `super` value holding a longer string than the warehouse takes (Redshift's COPY fails
    /// the whole load on one) does not fit.
    fn super_limit(&self, value: &Value<'_>, ty: ColumnType) -> Result<(), String> {
        match (ty, self.super_string_limit) {
            (ColumnType::Super, Some(limit)) => check_longest(value.longest_string(), limit),
            _ => Ok(()),
        }
    }

    fn super_limit_of_map(&self, image: &Map<'_>) -> Result<(), String> {
        self.super_string_limit.map_or(Ok(()), |limit| check_longest(image.longest_string(), limit))
    }

    /// Under "null" (and not for key columns): drop what was written of the value, write null and
    /// count it. Otherwise the error.
    fn apply_policy(
        &self,
        out: &mut Vec<u8>,
        value_start: usize,
        is_key: bool,
        error: impl FnOnce() -> TypeError,
    ) -> Result<u64, Box<TypeError>> {
        if self.policy == TypeErrorPolicy::Null && !is_key {
            out.truncate(value_start);
            out.extend_from_slice(b"null");
            return Ok(1);
        }
        Err(Box::new(error()))
    }

    fn item_key(&self, image: &Map<'_>) -> String {
        item_key(image, &self.key_attributes)
            .map_or_else(|| "(without its key)".into(), |key| capped(&key.to_string()).into_owned())
    }
}

/// The staged values of `item`'s columns as an upsert, in `staged_columns(table)` order without
/// the op and timestamp columns: each configured column, then the whole-item column when kept.
/// Each value is the exact JSON text written to the staged file (so numbers inside `super` values
/// keep every digit). `on_type_error = "null"` is applied as in staging.
pub fn map_item(table: &TableConfig, item: &Item) -> Result<Vec<Box<RawValue>>, Box<TypeError>> {
    let mapper = RowMapper::new(table);
    let item = &Map::of(item);
    let mut values = Vec::with_capacity(mapper.columns.len() + 1);
    for column in &mapper.columns {
        let mut out = Vec::new();
        mapper.write_column(&mut out, column, item)?;
        values.push(raw_value(out));
    }
    if let Some((name, _)) = &mapper.item_column {
        let mut out = Vec::new();
        mapper.write_whole_item(&mut out, name, item)?;
        values.push(raw_value(out));
    }
    Ok(values)
}

fn check_longest(longest: usize, limit: usize) -> Result<(), String> {
    if longest <= limit {
        return Ok(());
    }
    Err(format!(
        "it holds a string of {longest} bytes, and a string inside a Redshift SUPER value holds at most \
         {limit} bytes (COPY would fail the load)"
    ))
}

fn raw_value(bytes: Vec<u8>) -> Box<RawValue> {
    let text = String::from_utf8(bytes).expect("staged values are written from UTF-8 text and ASCII");
    RawValue::from_string(text).expect("staged values are valid JSON")
}

fn column_prefix(name: &str) -> Vec<u8> {
    let mut prefix = vec![b','];
    json::write_string(&mut prefix, name);
    prefix.push(b':');
    prefix
}

fn write_optional_i64(out: &mut Vec<u8>, value: Option<i64>) {
    match value {
        Some(value) => write_i64(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

/// Closes the line, or removes the partial line on error so the buffer stays valid JSON Lines.
fn finish_line(
    out: &mut Vec<u8>,
    start: usize,
    result: Result<u64, Box<TypeError>>,
) -> Result<u64, Box<TypeError>> {
    match result {
        Ok(nulled) => {
            out.extend_from_slice(b"}\n");
            Ok(nulled)
        }
        Err(error) => {
            out.truncate(start);
            Err(error)
        }
    }
}

/// A value (or item) as DynamoDB JSON, shortened for a message.
fn quoted_json(value: &impl serde::Serialize) -> String {
    let text = serde_json::to_string(value).unwrap_or_else(|e| format!("(unprintable: {e})"));
    if text.chars().count() <= MAX_QUOTED_VALUE {
        return text;
    }
    let head: String = text.chars().take(MAX_QUOTED_VALUE).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stage::testing::{orders_table, table_with};
    use crate::pipeline::staged::staged_columns;
    use pretty_assertions::assert_eq;

    fn item(json: &str) -> Map<'_> {
        serde_json::from_str(json).unwrap()
    }

    fn order() -> Map<'static> {
        item(
            r#"{"pk":{"S":"o#1"},"sk":{"N":"2"},"status":{"S":"paid"},
                "detail":{"M":{"total":{"N":"12.50"},"items":{"L":[{"M":{"sku":{"S":"a"}}}]}}},
                "created":{"S":"2024-05-01T12:00:00Z"},"gift note":{"S":"hi"}}"#,
        )
    }

    fn line(bytes: &[u8]) -> serde_json::Value {
        assert_eq!(bytes.last(), Some(&b'\n'));
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn upsert_lines_hold_every_staged_column() {
        let table = orders_table();
        let mut out = Vec::new();
        RowMapper::new(&table).write_upsert(&mut out, &order(), Some(1_700_000_000_000_001)).unwrap();
        let row = line(&out);
        let keys: Vec<String> = row.as_object().unwrap().keys().cloned().collect();
        let mut expected = staged_columns(&table);
        expected.sort();
        let mut actual = keys;
        actual.sort();
        assert_eq!(actual, expected);
        assert_eq!(row["dynashift_op"], "U");
        assert_eq!(row["dynashift_ts"], 1_700_000_000_000_001i64);
        assert_eq!(row["order_id"], "o#1");
        assert_eq!(row["line"], 2);
        assert_eq!(row["total"], "12.5");
        assert_eq!(row["first_sku"], "a");
        assert_eq!(row["created"], "2024-05-01 12:00:00.000000");
        assert_eq!(row["note"], "hi");
        assert_eq!(row["missing"], serde_json::Value::Null);
        assert_eq!(row["item"]["detail"]["total"], 12.5);
    }

    #[test]
    fn full_export_rows_have_a_null_timestamp() {
        let mut out = Vec::new();
        RowMapper::new(&orders_table()).write_upsert(&mut out, &order(), None).unwrap();
        assert_eq!(line(&out)["dynashift_ts"], serde_json::Value::Null);
    }

    /// A load reads the lines the stage writes through its one-pass scanner, and falls back to
    /// serde_json without a word when the scanner gives up: only this test notices the stage
    /// writing a form the scanner no longer reads.
    #[test]
    fn the_loads_scanner_reads_every_line_the_stage_writes() {
        use crate::warehouse::shape::TableShape;
        use crate::warehouse::staged_lines::LineDecoder;
        let table = orders_table();
        let (mapper, decoder) = (RowMapper::new(&table), LineDecoder::new(&TableShape::of(&table)));
        let escaped = item(r#"{"pk":{"S":"o\"1\u00e9"},"sk":{"N":"-2"},"created":{"N":"1714564800.5"}}"#);
        let keys = item(r#"{"pk":{"S":"o#1"},"sk":{"N":"2"}}"#);
        let mut written = [Vec::new(), Vec::new(), Vec::new(), Vec::new()];
        mapper.write_upsert(&mut written[0], &order(), Some(1_700_000_000_000_001)).unwrap();
        mapper.write_upsert(&mut written[1], &order(), None).unwrap();
        mapper.write_upsert(&mut written[2], &escaped, Some(7)).unwrap();
        mapper.write_delete(&mut written[3], &keys, 5).unwrap();
        for bytes in &written {
            let line = std::str::from_utf8(bytes).unwrap();
            let any = decoder.decode_any(line).unwrap();
            assert_eq!(decoder.decode_as_staged(line), Some(any), "{line}");
        }
    }

    #[test]
    fn delete_lines_keep_only_key_columns() {
        let table = orders_table();
        let keys = item(r#"{"pk":{"S":"o#1"},"sk":{"N":"2"}}"#);
        let mut out = Vec::new();
        RowMapper::new(&table).write_delete(&mut out, &keys, 5).unwrap();
        let row = line(&out);
        assert_eq!(row["dynashift_op"], "D");
        assert_eq!(row["dynashift_ts"], 5);
        assert_eq!(row["order_id"], "o#1");
        assert_eq!(row["line"], 2);
        for column in ["total", "first_sku", "created", "note", "missing", "item"] {
            assert_eq!(row[column], serde_json::Value::Null, "{column}");
        }
    }

    #[test]
    fn type_errors_name_table_key_path_value_and_type() {
        let table = orders_table();
        let bad = item(r#"{"pk":{"S":"o#1"},"sk":{"N":"2"},"detail":{"M":{"total":{"N":"1.234"}}}}"#);
        let mut out = b"previous line\n".to_vec();
        let error = RowMapper::new(&table).write_upsert(&mut out, &bad, None).unwrap_err();
        assert_eq!(out, b"previous line\n", "a failed line leaves nothing behind");
        assert_eq!(
            error.to_string(),
            r#"table `orders`, item {"S":"o#1"}, {"N":"2"}: attribute `detail.total` = {"N":"1.234"} does not fit column `total` (decimal(12,2)): it has 3 fractional digits and the column keeps 2; rounding would change it"#
        );
        assert!(error.hint().contains("on_type_error"));
    }

    #[test]
    fn null_policy_nulls_and_counts_non_key_values() {
        let table = table_with(|t| t.on_type_error = TypeErrorPolicy::Null);
        let bad = item(
            r#"{"pk":{"S":"o#1"},"sk":{"N":"2"},"detail":{"M":{"total":{"N":"1.234"}}},"created":{"BOOL":true}}"#,
        );
        let mut out = Vec::new();
        let nulled = RowMapper::new(&table).write_upsert(&mut out, &bad, None).unwrap();
        assert_eq!(nulled, 2);
        let row = line(&out);
        assert_eq!(row["total"], serde_json::Value::Null);
        assert_eq!(row["created"], serde_json::Value::Null);
    }

    #[test]
    fn key_columns_fail_even_under_the_null_policy() {
        let table = table_with(|t| t.on_type_error = TypeErrorPolicy::Null);
        let bad = item(r#"{"pk":{"S":"o#1"},"sk":{"N":"2.5"}}"#);
        let error = RowMapper::new(&table).write_upsert(&mut Vec::new(), &bad, None).unwrap_err();
        assert!(error.is_key);
        assert!(error.hint().contains("key columns must always convert"));
        let delete = RowMapper::new(&table).write_delete(&mut Vec::new(), &bad, 1).unwrap_err();
        assert_eq!(delete.column, "line");
    }

    #[test]
    fn map_item_returns_the_staged_values_in_column_order() {
        let table = orders_table();
        let values = map_item(&table, &order().to_item()).unwrap();
        let texts: Vec<&str> = values.iter().map(|v| v.get()).collect();
        assert_eq!(texts.len(), staged_columns(&table).len() - 2);
        assert_eq!(&texts[..4], [r#""o#1""#, "2", r#""12.5""#, r#""a""#]);
        assert!(texts.last().unwrap().starts_with(r#"{"created":"2024-05-01T12:00:00Z","detail":{"#));
    }

    #[test]
    fn redshift_super_strings_over_65535_bytes_follow_the_type_error_policy() {
        let long = "x".repeat(65_536);
        let text = format!(r#"{{"pk":{{"S":"o#1"}},"sk":{{"N":"2"}},"note":{{"L":[{{"S":"{long}"}}]}}}}"#);
        let bad = item(&text);
        let table = orders_table();
        let exact = RowMapper::new(&table).write_upsert(&mut Vec::new(), &bad, None);
        assert_eq!(exact, Ok(0), "SQLite and PostgreSQL take long strings");
        let redshift = RowMapper::with_rules(&table, StageRules::REDSHIFT);
        let error = redshift.write_upsert(&mut Vec::new(), &bad, None).unwrap_err();
        assert_eq!(error.path, "(whole item)");
        assert!(error.reason.contains("a string of 65536 bytes"), "{error}");
        assert!(error.reason.contains("at most 65535 bytes"), "{error}");
        let shorter = text.replace(&long, &long[1..]);
        let fits = item(&shorter);
        assert_eq!(redshift.write_upsert(&mut Vec::new(), &fits, None), Ok(0));
        let lenient = table_with(|t| t.on_type_error = TypeErrorPolicy::Null);
        let mut out = Vec::new();
        assert_eq!(
            RowMapper::with_rules(&lenient, StageRules::REDSHIFT).write_upsert(&mut out, &bad, None),
            Ok(1)
        );
        assert_eq!(line(&out)["item"], serde_json::Value::Null);
    }

    #[test]
    fn whole_item_numbers_that_are_invalid_are_type_errors() {
        let bad = item(r#"{"pk":{"S":"o#1"},"sk":{"N":"2"},"x":{"N":"1E+999"}}"#);
        let error = map_item(&orders_table(), &bad.to_item()).unwrap_err();
        assert_eq!(error.path, "(whole item)");
        let lenient = table_with(|t| t.on_type_error = TypeErrorPolicy::Null);
        assert_eq!(map_item(&lenient, &bad.to_item()).unwrap().last().unwrap().get(), "null");
    }
}
