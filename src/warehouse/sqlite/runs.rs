//! `dynashift_runs`: one row per committed load, written by the load's own transaction so the
//! data and its watermark commit (or roll back) together. `run_id` is the primary key, so a run
//! can never commit twice: a resumed run whose first attempt did commit fails its INSERT and
//! rolls back instead of applying its changes again.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::config::{Mode, quote_identifier};
pub use crate::warehouse::watermark::watermark_text;
use crate::warehouse::{CommitRecord, LoadRequest, RUNS_TABLE, WarehouseError};

use super::sql::quote_literal;

/// `committed_at` as SQLite writes it: RFC 3339 UTC with milliseconds, evaluated when the
/// statement runs (inside the load's transaction).
const NOW_RFC3339: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

const COLUMNS: &str = "\"table_name\", \"run_id\", \"mode\", \"watermark\", \"committed_at\", \"upserts\", \"deletes\", \"target_rows\"";

/// Newest first: by commit time, then by insertion order for commits in the same millisecond.
const NEWEST_FIRST: &str = "ORDER BY \"committed_at\" DESC, rowid DESC";

pub fn create_runs_table() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  \
           \"table_name\" TEXT NOT NULL,\n  \
           \"run_id\" TEXT NOT NULL PRIMARY KEY,\n  \
           \"mode\" TEXT NOT NULL CHECK (\"mode\" IN ('full', 'incremental')),\n  \
           \"watermark\" TEXT NOT NULL,\n  \
           \"committed_at\" TEXT NOT NULL,\n  \
           \"upserts\" INTEGER NOT NULL,\n  \
           \"deletes\" INTEGER NOT NULL,\n  \
           \"target_rows\" INTEGER NOT NULL\n\
         )",
        quote_identifier(RUNS_TABLE)
    )
}

/// Records the load; `target_rows` is counted in the same statement, after the changes.
pub fn record_run(request: &LoadRequest, quoted_target: &str) -> String {
    format!(
        "INSERT INTO {} ({COLUMNS})\nSELECT {}, {}, {}, {}, {NOW_RFC3339}, {}, {}, count(*) FROM {quoted_target}",
        quote_identifier(RUNS_TABLE),
        quote_literal(&request.table.name),
        quote_literal(&request.run_id),
        quote_literal(request.mode.as_str()),
        quote_literal(&watermark_text(request.watermark)),
        request.staged.upserts,
        request.staged.deletes,
    )
}

/// The committed watermark of a table (no row when it never committed).
pub fn latest_watermark(table_name: &str) -> String {
    format!(
        "SELECT \"watermark\" FROM {} WHERE \"table_name\" = {} {NEWEST_FIRST} LIMIT 1",
        quote_identifier(RUNS_TABLE),
        quote_literal(table_name)
    )
}

pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{text}` is not an RFC 3339 timestamp ({e})"))
}

/// The newest commit of a table; `None` when it never committed or the runs table is missing.
pub fn last_commit(conn: &Connection, table_name: &str) -> Result<Option<CommitRecord>, WarehouseError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM {} WHERE \"table_name\" = ?1 {NEWEST_FIRST} LIMIT 1",
        quote_identifier(RUNS_TABLE)
    );
    select_one(conn, &sql, table_name)
}

/// The commit of one run; `None` when it never committed or the runs table is missing.
pub fn find_run(conn: &Connection, run_id: &str) -> Result<Option<CommitRecord>, WarehouseError> {
    let sql = format!("SELECT {COLUMNS} FROM {} WHERE \"run_id\" = ?1", quote_identifier(RUNS_TABLE));
    select_one(conn, &sql, run_id)
}

fn select_one(conn: &Connection, sql: &str, param: &str) -> Result<Option<CommitRecord>, WarehouseError> {
    if !runs_table_exists(conn)? {
        return Ok(None);
    }
    let row = conn
        .query_row(sql, params![param], RawRecord::from_row)
        .optional()
        .map_err(|e| read_error(&e.to_string()))?;
    row.map(RawRecord::into_record).transpose()
}

fn runs_table_exists(conn: &Connection) -> Result<bool, WarehouseError> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
        params![RUNS_TABLE],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| read_error(&e.to_string()))
}

fn read_error(message: &str) -> WarehouseError {
    WarehouseError::Other(format!("reading {RUNS_TABLE}: {message}"))
}

/// A runs row as stored, before its text columns are parsed.
struct RawRecord {
    table_name: String,
    run_id: String,
    mode: String,
    watermark: String,
    committed_at: String,
    counts: [i64; 3],
}

impl RawRecord {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawRecord> {
        Ok(RawRecord {
            table_name: row.get(0)?,
            run_id: row.get(1)?,
            mode: row.get(2)?,
            watermark: row.get(3)?,
            committed_at: row.get(4)?,
            counts: [row.get(5)?, row.get(6)?, row.get(7)?],
        })
    }

    fn into_record(self) -> Result<CommitRecord, WarehouseError> {
        let bad =
            |what: String| read_error(&format!("run {}: {what}; was the table edited by hand?", self.run_id));
        let mode = match self.mode.as_str() {
            "full" => Mode::Full,
            "incremental" => Mode::Incremental,
            other => return Err(bad(format!("unknown mode `{other}`"))),
        };
        let watermark = parse_timestamp(&self.watermark).map_err(|e| bad(format!("watermark {e}")))?;
        let committed_at =
            parse_timestamp(&self.committed_at).map_err(|e| bad(format!("committed_at {e}")))?;
        let [upserts, deletes, target_rows] =
            self.counts.map(|n| u64::try_from(n).map_err(|_| bad(format!("negative count {n}"))));
        Ok(CommitRecord {
            table_name: self.table_name,
            run_id: self.run_id,
            mode,
            watermark,
            committed_at,
            upserts: upserts?,
            deletes: deletes?,
            target_rows: target_rows?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::sqlite::testkit;

    fn memory_with_runs() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&create_runs_table()).unwrap();
        conn.execute_batch("CREATE TABLE \"orders\" (x INTEGER); INSERT INTO \"orders\" VALUES (1), (2);")
            .unwrap();
        conn
    }

    fn record(conn: &Connection, run_id: &str, watermark: &str) {
        let mut request = testkit::request_for(testkit::orders_table(), Mode::Incremental, run_id);
        request.watermark = parse_timestamp(watermark).unwrap();
        conn.execute(&record_run(&request, "\"orders\""), []).unwrap();
    }

    #[test]
    fn a_missing_runs_table_means_no_commit() {
        let conn = Connection::open_in_memory().unwrap();
        assert_eq!(last_commit(&conn, "orders").unwrap(), None);
        assert_eq!(find_run(&conn, "r1").unwrap(), None);
    }

    #[test]
    fn records_round_trip_with_counts_and_exact_watermark() {
        let conn = memory_with_runs();
        record(&conn, "r1", "2024-03-01T10:15:00.123456Z");
        let found = find_run(&conn, "r1").unwrap().expect("committed");
        assert_eq!(found.watermark, parse_timestamp("2024-03-01T10:15:00.123456Z").unwrap());
        assert_eq!(
            (found.mode, found.target_rows, found.table_name.as_str()),
            (Mode::Incremental, 2, "orders")
        );
        assert!((Utc::now() - found.committed_at).num_seconds() < 60);
        assert_eq!(find_run(&conn, "r2").unwrap(), None);
    }

    #[test]
    fn last_commit_is_the_newest_even_within_one_millisecond() {
        let conn = memory_with_runs();
        record(&conn, "r1", "2024-03-01T10:00:00Z");
        record(&conn, "r2", "2024-03-01T11:00:00Z");
        record(&conn, "r3", "2024-03-01T12:00:00Z");
        assert_eq!(last_commit(&conn, "orders").unwrap().unwrap().run_id, "r3");
        assert_eq!(last_commit(&conn, "customers").unwrap(), None);
    }

    #[test]
    fn a_run_commits_only_once() {
        let conn = memory_with_runs();
        record(&conn, "r1", "2024-03-01T10:00:00Z");
        let request = testkit::request_for(testkit::orders_table(), Mode::Incremental, "r1");
        let err = conn.execute(&record_run(&request, "\"orders\""), []).unwrap_err();
        assert!(err.to_string().contains("UNIQUE constraint failed: dynashift_runs.run_id"), "{err}");
    }

    #[test]
    fn a_hand_edited_row_is_reported_not_guessed() {
        let conn = memory_with_runs();
        record(&conn, "r1", "2024-03-01T10:00:00Z");
        conn.execute("UPDATE dynashift_runs SET watermark = 'yesterday'", []).unwrap();
        let err = find_run(&conn, "r1").unwrap_err().to_string();
        assert!(err.contains("run r1: watermark `yesterday` is not an RFC 3339 timestamp"), "{err}");
    }

    #[test]
    fn the_latest_watermark_query_quotes_the_table_name() {
        let sql = latest_watermark("o'brien");
        assert!(sql.contains("= 'o''brien'"), "{sql}");
    }
}
