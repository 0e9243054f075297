//! `deletes = "soft"`: a deleted item's row stays in the target with `dynashift_deleted_at` set,
//! and a later upsert of its key clears it. The statements are the same standard SQL on every
//! warehouse (`UPDATE … FROM`, correlated `[NOT] EXISTS` in a WHERE); what differs — the
//! column's type, a write time from the staged `dynashift_ts` microseconds, a timestamp
//! literal — each dialect says through [`TimeSql`].
//!
//! - Incremental: the staged deletes set `dynashift_deleted_at` to their write time on live
//!   rows (a row deleted before keeps its first deletion time), then the upserts are applied as
//!   for hard deletes, then every upserted key's `dynashift_deleted_at` is cleared.
//! - Full: the target is kept (not replaced): rows missing from the export are marked with the
//!   export time, the export's rows are upserted and cleared the same way.
//!
//! Reconciliation counts live rows ([`LIVE`]).

use chrono::{DateTime, Utc};

use crate::config::quote_identifier;
use crate::contract::staged::{OP_COLUMN, TS_COLUMN};
use crate::warehouse::shape::TableShape;
use crate::warehouse::staged_lines::{OP_DELETE, OP_UPSERT};

/// The column a soft-deleting target carries: when its item was deleted, NULL while it lives.
pub const DELETED_AT_COLUMN: &str = "dynashift_deleted_at";

/// The condition on a target row aliased `t` that it lives (soft deletes).
pub const LIVE: &str = "t.\"dynashift_deleted_at\" IS NULL";

/// How a dialect writes the times soft deletes need.
pub trait TimeSql {
    /// The column's type (`timestamptz`; SQLite: `TEXT`, ISO-8601).
    fn column_type(&self) -> &'static str;
    /// The instant `micros` (an expression of microseconds since the epoch) as a column value.
    fn instant_of_micros(&self, micros: &str) -> String;
    /// `at` as a column value.
    fn literal(&self, at: DateTime<Utc>) -> String;
}

/// `"dynashift_deleted_at" <type>`, the column line of a CREATE TABLE.
pub fn column_definition(time: &dyn TimeSql) -> String {
    format!("{} {}", quote_identifier(DELETED_AT_COLUMN), time.column_type())
}

/// `ALTER TABLE <target> ADD COLUMN "dynashift_deleted_at" <type>`: the migration of a target
/// created before it deleted softly (the dialect runs it only when the column is missing).
pub fn add_column(target: &str, time: &dyn TimeSql) -> String {
    format!("ALTER TABLE {target} ADD COLUMN {}", column_definition(time))
}

/// `<target>."k1" = s."k1" AND …`.
fn key_match(target: &str, shape: &TableShape) -> String {
    let pairs = shape.key.iter().map(|k| {
        let k = quote_identifier(k);
        format!("{target}.{k} = s.{k}")
    });
    pairs.collect::<Vec<_>>().join(" AND ")
}

fn deleted_at() -> String {
    quote_identifier(DELETED_AT_COLUMN)
}

/// Marks the live rows whose key is staged as a delete, with the delete's write time (or, for a
/// delete staged without one, `fallback`: the load's watermark).
pub fn mark_staged_deletes(
    target: &str,
    stage: &str,
    shape: &TableShape,
    fallback: DateTime<Utc>,
    time: &dyn TimeSql,
) -> String {
    let column = deleted_at();
    format!(
        "UPDATE {target} SET {column} = coalesce({}, {})\nFROM {stage} AS s\nWHERE s.{} = '{OP_DELETE}' AND {} AND {target}.{column} IS NULL",
        time.instant_of_micros(&format!("s.{}", quote_identifier(TS_COLUMN))),
        time.literal(fallback),
        quote_identifier(OP_COLUMN),
        key_match(target, shape),
    )
}

/// Marks the live rows the export does not hold (a full load), with the export time.
pub fn mark_missing_rows(
    target: &str,
    stage: &str,
    shape: &TableShape,
    exported_at: DateTime<Utc>,
    time: &dyn TimeSql,
) -> String {
    let column = deleted_at();
    format!(
        "UPDATE {target} SET {column} = {}\nWHERE {target}.{column} IS NULL AND NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE {})",
        time.literal(exported_at),
        key_match(target, shape),
    )
}

/// Clears the mark of every row whose key was upserted (a re-inserted item lives again).
/// `with_op`: whether the stage has an op column (an export-items stage holds upserts only).
pub fn clear_upserted(target: &str, stage: &str, shape: &TableShape, with_op: bool) -> String {
    let column = deleted_at();
    let op = if with_op {
        format!("s.{} = '{OP_UPSERT}' AND ", quote_identifier(OP_COLUMN))
    } else {
        String::new()
    };
    format!(
        "UPDATE {target} SET {column} = NULL\nWHERE {target}.{column} IS NOT NULL AND EXISTS (SELECT 1 FROM {stage} AS s WHERE {op}{})",
        key_match(target, shape),
    )
}
