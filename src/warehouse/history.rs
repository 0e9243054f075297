//! `history_target`: an incremental load appends every change it applies to a history table, in
//! its own transaction, right before it changes the target (so what counts as applied is judged
//! against the target as it was). The statements are the same standard SQL on every warehouse
//! (`INSERT … SELECT` over the stage `LEFT JOIN` the target); what differs — column types, the
//! write time from the staged `dynashift_ts` microseconds, the JSON image's constructor — each
//! dialect says through [`HistorySql`].
//!
//! - A staged upsert is `insert` when its key is not (live) in the target, `modify` when it is.
//! - A staged delete is `remove` only when its key is (live) in the target: deleting an absent
//!   key changed nothing. "Live" is [`Load::live`] (soft deletes: not marked deleted).
//! - The stage holds one row per key (the load folds each key's changes in a run), so history
//!   holds one row per key per applied run. Its primary key (key columns, `run_id`) says so.
//! - A full load appends nothing: it replaces (or, soft, reconciles) the target's rows rather
//!   than applying changes, and the plan says so in a note.
//!
//! The history table is created if missing (and its schema), never dropped; an existing one
//! whose columns are not the ones a load writes fails the load, naming both lists.

use std::collections::BTreeSet;

use crate::config::{ColumnType, TableConfig, quote_identifier, quote_identifier_list};
use crate::contract::history::{self, IMAGE, OP, OP_INSERT, OP_MODIFY, OP_REMOVE, RUN_ID, WRITTEN_AT};
use crate::contract::staged::{OP_COLUMN, TS_COLUMN};
use crate::warehouse::plan_frame::Load;
use crate::warehouse::shape::{TableShape, TargetColumn};
use crate::warehouse::soft_deletes::TimeSql;
use crate::warehouse::staged_lines::OP_DELETE;

/// How a dialect writes a history table and its rows.
pub trait HistorySql: TimeSql {
    /// The warehouse type of a key column (as the target declares it).
    fn key_type(&self, ty: ColumnType) -> String;
    /// The type of `op` and `run_id`.
    fn text_type(&self) -> &'static str;
    /// The type of `image`: SUPER, jsonb, JSON text.
    fn image_type(&self) -> &'static str;
    /// A string literal.
    fn text_literal(&self, text: &str) -> String;
    /// The image: a JSON object of every column's name and staged value ([`staged`]), built
    /// in SQL.
    fn image(&self, columns: &[TargetColumn]) -> String;
}

/// The staged value of `column` in a history statement: `s."<column>"`.
pub fn staged(column: &TargetColumn) -> String {
    format!("s.{}", quote_identifier(&column.name))
}

/// The label of the statement that appends the applied changes.
pub fn append_label(history: &str) -> String {
    format!("append the applied changes to {history}")
}

/// `CREATE TABLE IF NOT EXISTS <history>`: the key columns, `op`, `written_at`, `run_id`,
/// `image`; primary key (key columns, `run_id`). `suffix`: what the dialect adds after the
/// column list (Redshift's distribution), empty elsewhere.
pub fn create_table(history: &str, shape: &TableShape, sql: &dyn HistorySql, suffix: &str) -> String {
    let mut lines: Vec<String> = key_columns(shape)
        .map(|c| format!("{} {} NOT NULL", quote_identifier(&c.name), sql.key_type(c.ty)))
        .collect();
    lines.push(format!("{} {} NOT NULL", quote_identifier(OP), sql.text_type()));
    lines.push(format!("{} {} NOT NULL", quote_identifier(WRITTEN_AT), sql.column_type()));
    lines.push(format!("{} {} NOT NULL", quote_identifier(RUN_ID), sql.text_type()));
    lines.push(format!("{} {}", quote_identifier(IMAGE), sql.image_type()));
    let key = shape.key.iter().map(String::as_str).chain([RUN_ID]);
    lines.push(format!("PRIMARY KEY ({})", quote_identifier_list(key)));
    format!("CREATE TABLE IF NOT EXISTS {history} (\n  {}\n){suffix}", lines.join(",\n  "))
}

/// The key columns in key order.
fn key_columns(shape: &TableShape) -> impl Iterator<Item = &TargetColumn> {
    shape.key.iter().filter_map(|k| shape.columns.iter().find(|c| &c.name == k))
}

/// The columns a history table of `table` has, in table order.
pub fn expected_columns(table: &TableConfig) -> Vec<String> {
    let shape = TableShape::of(table);
    let mut columns = shape.key.clone();
    columns.extend(history::COLUMNS.iter().map(|c| (*c).to_owned()));
    columns
}

/// Appends the changes the load is about to apply: every staged upsert (`insert` or `modify`)
/// and every staged delete of a key the target holds (`remove`), with the write time (or, for a
/// change staged without one, `fallback`: the load's watermark), the run and the new image.
pub fn append(load: &Load, history: &str, stage: &str, sql: &dyn HistorySql) -> String {
    let (target, shape) = (load.target.as_str(), &load.shape);
    let op = format!("s.{}", quote_identifier(OP_COLUMN));
    let first_key = quote_identifier(shape.key.first().map_or("", String::as_str));
    let on: Vec<String> = shape
        .key
        .iter()
        .map(|k| format!("t.{0} = s.{0}", quote_identifier(k)))
        .chain(load.live().map(str::to_owned))
        .collect();
    let columns =
        quote_identifier_list(shape.key.iter().map(String::as_str).chain(history::COLUMNS.iter().copied()));
    let keys = shape.key.iter().map(|k| format!("s.{}", quote_identifier(k))).collect::<Vec<_>>();
    format!(
        "INSERT INTO {history} ({columns})\nSELECT {keys},\n  \
         CASE WHEN {op} = '{OP_DELETE}' THEN '{OP_REMOVE}' WHEN t.{first_key} IS NULL THEN '{OP_INSERT}' ELSE '{OP_MODIFY}' END,\n  \
         coalesce({}, {}),\n  {},\n  CASE WHEN {op} = '{OP_DELETE}' THEN NULL ELSE {} END\n\
         FROM {stage} AS s\nLEFT JOIN {target} AS t ON {}\nWHERE {op} <> '{OP_DELETE}' OR t.{first_key} IS NOT NULL",
        sql.instant_of_micros(&format!("s.{}", quote_identifier(TS_COLUMN))),
        sql.literal(load.request.watermark),
        sql.text_literal(&load.request.run_id),
        sql.image(&shape.columns),
        on.join(" AND "),
        keys = keys.join(", "),
    )
}

/// Fails the load when the existing history table's columns (`found`, as the warehouse lists
/// them) are not the ones a load writes (`expected`); `found` empty means the table is missing,
/// which the statement before it rules out.
pub fn check_columns(history: &str, found: &[String], expected: &[String]) -> Result<(), String> {
    let found_set: BTreeSet<&str> = found.iter().map(String::as_str).collect();
    let expected_set: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    if found_set == expected_set {
        return Ok(());
    }
    let missing: Vec<&str> = expected_set.difference(&found_set).copied().collect();
    let extra: Vec<&str> = found_set.difference(&expected_set).copied().collect();
    Err(format!(
        "the history table {history} exists with other columns than a history table of this table has \
         (missing: {}; not expected: {}; expected exactly: {}); nothing was committed. Rename or drop that \
         table, or set history_target to another table (dynashift creates it)",
        list_or_none(&missing),
        list_or_none(&extra),
        expected.join(", "),
    ))
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

/// The column names a warehouse's column query returned as one comma-separated text.
pub fn split_columns(listed: Option<&str>) -> Vec<String> {
    let listed = listed.unwrap_or_default();
    listed.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect()
}
