//! `dynashift_runs` in Redshift: one row per committed load, inserted by the load's own batch
//! (one transaction), so the data and its watermark commit or roll back together.
//!
//! Redshift does not enforce primary keys, so the batch guards itself: a statement fails the
//! transaction when the run already committed, and (incremental) when the table's committed
//! watermark is not the one the load continues from. The watermark is stored as fixed-width
//! RFC 3339 text ([`watermark_text`]), so text order is time order and equality is exact.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::config::{Mode, quote_identifier};
use crate::warehouse::watermark::watermark_text;
use crate::warehouse::{CommitRecord, LoadRequest, RUNS_TABLE, WarehouseError};

use super::sql::{guard, literal};

/// The columns read back, in [`record_of`]'s order.
const COLUMNS: &str = "\"table_name\", \"run_id\", \"mode\", \"watermark\", \"committed_at\", \"upserts\", \"deletes\", \"target_rows\"";

/// Newest first: watermarks only grow per table; `committed_at` breaks a tie.
const NEWEST_FIRST: &str = "ORDER BY \"watermark\" DESC, \"committed_at\" DESC";

fn runs() -> String {
    quote_identifier(RUNS_TABLE)
}

pub fn create_runs_table() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  \
           \"table_name\" varchar(255) NOT NULL,\n  \
           \"run_id\" varchar(128) NOT NULL,\n  \
           \"mode\" varchar(16) NOT NULL,\n  \
           \"watermark\" varchar(32) NOT NULL,\n  \
           \"committed_at\" timestamp NOT NULL,\n  \
           \"upserts\" bigint NOT NULL,\n  \
           \"deletes\" bigint NOT NULL,\n  \
           \"target_rows\" bigint NOT NULL,\n  \
           PRIMARY KEY (\"run_id\")\n\
         )",
        runs()
    )
}

/// Holds every other load until this one commits: Redshift's serializable isolation would
/// otherwise abort one of two loads that both read and write the runs table.
pub fn lock_runs_table() -> String {
    format!("LOCK {}", runs())
}

/// Fails unless `run_id` has no commit yet (a resumed run whose first attempt committed).
pub fn guard_run_not_committed(run_id: &str) -> String {
    guard(&format!("NOT EXISTS (SELECT 1 FROM {} WHERE \"run_id\" = {})", runs(), literal(run_id)))
}

/// Fails unless the table's committed watermark is `expected` (none: never committed).
pub fn guard_watermark(table_name: &str, expected: Option<DateTime<Utc>>) -> String {
    let of_table = format!("FROM {} WHERE \"table_name\" = {}", runs(), literal(table_name));
    match expected {
        None => guard(&format!("NOT EXISTS (SELECT 1 {of_table})")),
        Some(watermark) => guard(&format!(
            "(SELECT max(\"watermark\") {of_table}) = {}",
            literal(&watermark_text(watermark))
        )),
    }
}

/// Records the load; `target_rows` counted after the changes, in the same transaction.
pub fn record_run(request: &LoadRequest, target: &str) -> String {
    format!(
        "INSERT INTO {} ({COLUMNS})\nSELECT {}, {}, {}, {}, GETDATE(), {}, {}, count(*) FROM {target}",
        runs(),
        literal(&request.table.name),
        literal(&request.run_id),
        literal(request.mode.as_str()),
        literal(&watermark_text(request.watermark)),
        request.staged.upserts,
        request.staged.deletes,
    )
}

pub fn select_last_commit(table_name: &str) -> String {
    format!(
        "SELECT {COLUMNS} FROM {} WHERE \"table_name\" = {} {NEWEST_FIRST} LIMIT 1",
        runs(),
        literal(table_name)
    )
}

pub fn select_run(run_id: &str) -> String {
    format!("SELECT {COLUMNS} FROM {} WHERE \"run_id\" = {}", runs(), literal(run_id))
}

/// Whether a failed read means the runs table does not exist yet (no load ever committed).
pub fn is_missing_runs_table(message: &str) -> bool {
    message.contains(RUNS_TABLE) && message.contains("does not exist")
}

/// A commit record from one result row (text values, as the Data API returns them).
pub fn record_of(row: &[Option<String>]) -> Result<CommitRecord, WarehouseError> {
    let bad = |what: String| {
        WarehouseError::Other(format!("reading {RUNS_TABLE}: {what}; was the table edited by hand?"))
    };
    let text = |index: usize| -> Result<&str, WarehouseError> {
        row.get(index).and_then(|v| v.as_deref()).ok_or_else(|| bad(format!("column {} is empty", index + 1)))
    };
    let count = |index: usize| -> Result<u64, WarehouseError> {
        let value = text(index)?;
        value.parse().map_err(|_| bad(format!("`{value}` is not a count")))
    };
    let mode = match text(2)? {
        "full" => Mode::Full,
        "incremental" => Mode::Incremental,
        other => return Err(bad(format!("unknown mode `{other}`"))),
    };
    let watermark = DateTime::parse_from_rfc3339(text(3)?)
        .map_err(|e| bad(format!("watermark `{}`: {e}", text(3).unwrap_or_default())))?
        .with_timezone(&Utc);
    Ok(CommitRecord {
        table_name: text(0)?.to_owned(),
        run_id: text(1)?.to_owned(),
        mode,
        watermark,
        committed_at: parse_timestamp(text(4)?)
            .ok_or_else(|| bad(format!("committed_at `{}`", text(4).unwrap_or_default())))?,
        upserts: count(5)?,
        deletes: count(6)?,
        target_rows: count(7)?,
        seq: 0,
        from_watermark: None,
        accepted_gaps: Vec::new(),
    })
}

/// `YYYY-MM-DD HH:MM:SS[.f…]` (a Redshift `timestamp`, UTC), or RFC 3339.
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| t.and_utc())
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::testkit;

    fn row(values: &[&str]) -> Vec<Option<String>> {
        values.iter().map(|v| Some((*v).to_owned())).collect()
    }

    #[test]
    fn a_row_reads_back_as_a_commit_record() {
        let record = record_of(&row(&[
            "orders",
            "run-1",
            "incremental",
            "2024-03-01T10:15:00.123456Z",
            "2024-03-01 10:20:01.5",
            "3",
            "1",
            "99",
        ]))
        .unwrap();
        assert_eq!(record.watermark, testkit::at("2024-03-01T10:15:00.123456Z"));
        assert_eq!(record.committed_at, testkit::at("2024-03-01T10:20:01.500Z"));
        assert_eq!(
            (record.mode, record.upserts, record.deletes, record.target_rows),
            (Mode::Incremental, 3, 1, 99)
        );
    }

    #[test]
    fn a_hand_edited_row_is_named() {
        let error = record_of(&row(&["orders", "run-1", "sometimes", "x", "y", "1", "1", "1"])).unwrap_err();
        assert!(error.to_string().contains("unknown mode `sometimes`"), "{error}");
        let error = record_of(&row(&[
            "orders",
            "run-1",
            "full",
            "2024-03-01T10:15:00Z",
            "2024-03-01 10:20:01",
            "-1",
            "0",
            "0",
        ]))
        .unwrap_err();
        assert!(error.to_string().contains("`-1` is not a count"), "{error}");
    }

    #[test]
    fn the_guards_compare_exact_watermark_text() {
        let sql = guard_watermark("o'brien", Some(testkit::at("2024-03-01T10:15:00Z")));
        assert!(sql.contains("WHERE \"table_name\" = 'o''brien') = '2024-03-01T10:15:00.000000Z'"), "{sql}");
        assert!(guard_watermark("orders", None).contains("NOT EXISTS (SELECT 1 FROM \"dynashift_runs\""));
    }

    #[test]
    fn a_missing_runs_table_is_recognised() {
        assert!(is_missing_runs_table("ERROR: relation \"dynashift_runs\" does not exist"));
        assert!(!is_missing_runs_table("ERROR: permission denied for relation dynashift_runs"));
    }
}
