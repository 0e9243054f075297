//! `dynashift_runs`: one row per committed load, written by the load's own transaction so the
//! data and its watermark commit (or roll back) together. `run_id` is the primary key, so a run
//! can never commit twice: a resumed run whose first attempt did commit fails its INSERT and
//! rolls back instead of applying its changes again.
//!
//! Commits are ordered by `seq` (1, 2, … per table), assigned by the INSERT itself inside the
//! load's `BEGIN IMMEDIATE` transaction, which holds SQLite's one write lock: no two loads can
//! compute the same number, and no clock decides which commit is the newest. Tables written
//! before `seq` existed are upgraded in place by the first load ([`upgrade_runs_table`]); until
//! then they are read the old way (newest `committed_at`, then insertion order).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::config::{Mode, quote_identifier};
use crate::warehouse::watermark::{self, RunLiterals, parse_accepted_gaps};
use crate::warehouse::{CommitRecord, LoadRequest, RUNS_TABLE, WarehouseError};

use super::sql::quote_literal;

/// `committed_at` as SQLite writes it: RFC 3339 UTC with milliseconds, evaluated when the
/// statement runs (inside the load's transaction).
const NOW_RFC3339: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

const COLUMNS: &str = "\"table_name\", \"run_id\", \"mode\", \"watermark\", \"committed_at\", \"upserts\", \"deletes\", \"target_rows\"";

/// The columns added by the upgrade, read after [`COLUMNS`].
const ORDER_COLUMNS: &str = "\"seq\", \"from_watermark\", \"accepted_gaps\"";

/// Newest first: the highest sequence number.
const NEWEST_FIRST: &str = "ORDER BY \"seq\" DESC";

/// How a table not upgraded yet was read: by commit time, then insertion order.
const LEGACY_NEWEST_FIRST: &str = "ORDER BY \"committed_at\" DESC, rowid DESC";

/// The unique index that makes a repeated sequence number impossible.
const SEQ_INDEX: &str = "dynashift_runs_table_seq";

pub(super) fn create_runs_table() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  \
           \"table_name\" TEXT NOT NULL,\n  \
           \"run_id\" TEXT NOT NULL PRIMARY KEY,\n  \
           \"mode\" TEXT NOT NULL CHECK (\"mode\" IN ('full', 'incremental')),\n  \
           \"watermark\" TEXT NOT NULL,\n  \
           \"committed_at\" TEXT NOT NULL,\n  \
           \"upserts\" INTEGER NOT NULL,\n  \
           \"deletes\" INTEGER NOT NULL,\n  \
           \"target_rows\" INTEGER NOT NULL,\n  \
           \"seq\" INTEGER,\n  \
           \"from_watermark\" TEXT,\n  \
           \"accepted_gaps\" TEXT\n\
         )",
        quote_identifier(RUNS_TABLE)
    )
}

/// One boolean: whether the runs table still lacks `seq` (written by a dynashift before it).
pub(super) fn needs_upgrade() -> String {
    format!("SELECT count(*) = 0 FROM pragma_table_info({}) WHERE name = 'seq'", quote_literal(RUNS_TABLE))
}

/// Adds `seq`, `from_watermark` and `accepted_gaps` to a table written before them, numbering the
/// existing commits in the order they were read as newest until now (commit time, then
/// insertion order), so the committed watermark stays the one it was; `from_watermark` of each
/// is the watermark of the commit before it. Runs inside the load's transaction: a failure
/// leaves the table as it was, and a second process waits for the write lock, then finds the
/// table upgraded.
pub(super) fn upgrade_runs_table() -> String {
    let runs = quote_identifier(RUNS_TABLE);
    format!(
        "ALTER TABLE {runs} ADD COLUMN \"seq\" INTEGER;\n\
         ALTER TABLE {runs} ADD COLUMN \"from_watermark\" TEXT;\n\
         ALTER TABLE {runs} ADD COLUMN \"accepted_gaps\" TEXT;\n\
         UPDATE {runs} SET \"seq\" = (SELECT count(*) FROM {runs} AS p \
           WHERE p.\"table_name\" = {runs}.\"table_name\" AND (p.\"committed_at\" < {runs}.\"committed_at\" \
           OR (p.\"committed_at\" = {runs}.\"committed_at\" AND p.rowid <= {runs}.rowid)));\n\
         UPDATE {runs} SET \"from_watermark\" = (SELECT p.\"watermark\" FROM {runs} AS p \
           WHERE p.\"table_name\" = {runs}.\"table_name\" AND p.\"seq\" = {runs}.\"seq\" - 1)"
    )
}

/// No two commits of a table share a sequence number.
pub(super) fn create_seq_index() -> String {
    format!(
        "CREATE UNIQUE INDEX IF NOT EXISTS {} ON {} (\"table_name\", \"seq\")",
        quote_identifier(SEQ_INDEX),
        quote_identifier(RUNS_TABLE)
    )
}

/// Records the load; `target_rows` is counted in the same statement, after the changes, and
/// `seq` is one more than the table's newest.
pub(super) fn record_run(request: &LoadRequest, quoted_target: &str) -> String {
    let runs = quote_identifier(RUNS_TABLE);
    let table = quote_literal(&request.table.name);
    let RunLiterals { run_id, mode, watermark, upserts, deletes, from_watermark, accepted_gaps } =
        RunLiterals::of(request, quote_literal);
    format!(
        "INSERT INTO {runs} ({COLUMNS}, {ORDER_COLUMNS})\n\
         SELECT {table}, {run_id}, {mode}, {watermark}, {NOW_RFC3339}, {upserts}, {deletes}, count(*),\n  \
           (SELECT coalesce(max(\"seq\"), 0) + 1 FROM {runs} WHERE \"table_name\" = {table}), {from_watermark}, {accepted_gaps}\n\
         FROM {quoted_target}",
    )
}

/// The committed watermark of a table (no row when it never committed). Runs after the upgrade.
pub(super) fn latest_watermark(table_name: &str) -> String {
    watermark::latest_watermark(table_name, NEWEST_FIRST, quote_literal)
}

pub(super) fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{text}` is not an RFC 3339 timestamp ({e})"))
}

/// The newest commit of a table; `None` when it never committed or the runs table is missing.
pub(super) fn last_commit(
    conn: &Connection,
    table_name: &str,
) -> Result<Option<CommitRecord>, WarehouseError> {
    select_one(conn, "WHERE \"table_name\" = ?1 {order} LIMIT 1", table_name)
}

/// The commit of one run; `None` when it never committed or the runs table is missing.
pub(super) fn find_run(conn: &Connection, run_id: &str) -> Result<Option<CommitRecord>, WarehouseError> {
    select_one(conn, "WHERE \"run_id\" = ?1", run_id)
}

/// Reads one record; `filter` may say `{order}` where the newest-first order goes. A table not
/// upgraded yet is read the old way, its new columns as NULL.
fn select_one(conn: &Connection, filter: &str, param: &str) -> Result<Option<CommitRecord>, WarehouseError> {
    let (extra, order) = match table_state(conn)? {
        TableState::Missing => return Ok(None),
        TableState::Legacy => ("NULL, NULL, NULL", LEGACY_NEWEST_FIRST),
        TableState::Current => (ORDER_COLUMNS, NEWEST_FIRST),
    };
    let sql = format!(
        "SELECT {COLUMNS}, {extra} FROM {} {}",
        quote_identifier(RUNS_TABLE),
        filter.replace("{order}", order)
    );
    let row = conn
        .query_row(&sql, params![param], RawRecord::from_row)
        .optional()
        .map_err(|e| read_error(&e.to_string()))?;
    row.map(RawRecord::into_record).transpose()
}

enum TableState {
    Missing,
    /// Written before `seq` existed; the next load upgrades it.
    Legacy,
    Current,
}

fn table_state(conn: &Connection) -> Result<TableState, WarehouseError> {
    let count = |sql: &str| {
        conn.query_row(sql, params![RUNS_TABLE], |row| row.get::<_, i64>(0))
            .map_err(|e| read_error(&e.to_string()))
    };
    if count("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1")? == 0 {
        return Ok(TableState::Missing);
    }
    match count("SELECT count(*) FROM pragma_table_info(?1) WHERE name = 'seq'")? {
        0 => Ok(TableState::Legacy),
        _ => Ok(TableState::Current),
    }
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
    seq: Option<i64>,
    from_watermark: Option<String>,
    accepted_gaps: Option<String>,
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
            seq: row.get(8)?,
            from_watermark: row.get(9)?,
            accepted_gaps: row.get(10)?,
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
        let from_watermark = self
            .from_watermark
            .as_deref()
            .map(parse_timestamp)
            .transpose()
            .map_err(|e| bad(format!("from_watermark {e}")))?;
        let accepted_gaps = parse_accepted_gaps(self.accepted_gaps.as_deref()).map_err(bad)?;
        let seq = u64::try_from(self.seq.unwrap_or(0)).map_err(|_| bad("negative seq".into()))?;
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
            seq,
            from_watermark,
            accepted_gaps,
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

    /// The runs table and rows exactly as the version before `seq` wrote them.
    const LEGACY_TABLE: &str = "CREATE TABLE \"dynashift_runs\" (\"table_name\" TEXT NOT NULL, \
        \"run_id\" TEXT NOT NULL PRIMARY KEY, \"mode\" TEXT NOT NULL CHECK (\"mode\" IN ('full', 'incremental')), \
        \"watermark\" TEXT NOT NULL, \"committed_at\" TEXT NOT NULL, \"upserts\" INTEGER NOT NULL, \
        \"deletes\" INTEGER NOT NULL, \"target_rows\" INTEGER NOT NULL);
        INSERT INTO \"dynashift_runs\" VALUES
          ('orders', 'old-1', 'full', '2024-03-01T10:00:00.000000Z', '2024-03-01T10:05:00.000Z', 5, 0, 5),
          ('orders', 'old-2', 'incremental', '2024-03-01T11:00:00.000000Z', '2024-03-01T11:05:00.000Z', 1, 0, 6),
          ('orders', 'old-3', 'incremental', '2024-03-01T12:00:00.000000Z', '2024-03-01T12:05:00.000Z', 1, 1, 6),
          ('customers', 'old-c', 'full', '2024-03-01T09:00:00.000000Z', '2024-03-01T09:01:00.000Z', 2, 0, 2);";

    /// The plan's upgrade step, as the executor runs it.
    fn upgrade(conn: &Connection) {
        if conn.query_row(&needs_upgrade(), [], |r| r.get::<_, bool>(0)).unwrap() {
            conn.execute_batch(&upgrade_runs_table()).unwrap();
        }
        conn.execute_batch(&create_seq_index()).unwrap();
    }

    /// The invariant of a table's commits, in SQL: numbered 1, 2, … without holes, and every
    /// incremental commit continues from the watermark of the commit just before it — so no
    /// window is ever applied twice. Returns the offending run ids.
    fn broken_chain(conn: &Connection) -> Vec<String> {
        let sql = "SELECT r.run_id FROM dynashift_runs AS r \
            LEFT JOIN dynashift_runs AS p ON p.table_name = r.table_name AND p.seq = r.seq - 1 \
            WHERE (r.seq > 1 AND p.run_id IS NULL) \
               OR (r.mode = 'incremental' AND r.from_watermark IS NOT p.watermark) \
            ORDER BY r.run_id";
        let mut statement = conn.prepare(sql).unwrap();
        statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn the_newest_commit_is_the_last_in_sequence_whatever_the_clock_said() {
        let conn = memory_with_runs();
        record(&conn, "r1", "2024-03-01T10:00:00Z");
        record(&conn, "r2", "2024-03-01T11:00:00Z");
        // r2 committed on a machine whose clock was an hour behind r1's.
        conn.execute(
            "UPDATE dynashift_runs SET committed_at = '2000-01-01T00:00:00.000Z' WHERE run_id = 'r2'",
            [],
        )
        .unwrap();
        let newest = last_commit(&conn, "orders").unwrap().unwrap();
        assert_eq!((newest.run_id.as_str(), newest.seq), ("r2", 2));
        let latest: String = conn.query_row(&latest_watermark("orders"), [], |r| r.get(0)).unwrap();
        assert_eq!(latest, "2024-03-01T11:00:00.000000Z");
    }

    #[test]
    fn a_commit_records_where_it_started_and_the_gaps_it_accepted() {
        let conn = memory_with_runs();
        let mut request = testkit::request_for(testkit::orders_table(), Mode::Incremental, "r1");
        request.previous_watermark = Some(testkit::at("2024-03-01T09:00:00Z"));
        let gap = crate::contract::AcceptedGap {
            from: testkit::at("2024-03-01T09:30:00Z"),
            to: testkit::at("2024-03-01T09:31:00Z"),
        };
        request.accepted_gaps = vec![gap];
        conn.execute(&record_run(&request, "\"orders\""), []).unwrap();
        let found = find_run(&conn, "r1").unwrap().unwrap();
        assert_eq!(found.from_watermark, request.previous_watermark);
        assert_eq!(found.accepted_gaps, vec![gap]);
        record(&conn, "r2", "2024-03-01T13:00:00Z");
        assert_eq!(find_run(&conn, "r2").unwrap().unwrap().accepted_gaps, Vec::new());
    }

    #[test]
    fn a_table_from_before_seq_is_read_the_old_way_then_upgraded_in_order() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(LEGACY_TABLE).unwrap();
        conn.execute_batch("CREATE TABLE \"orders\" (x INTEGER)").unwrap();
        let before = last_commit(&conn, "orders").unwrap().unwrap();
        assert_eq!((before.run_id.as_str(), before.seq), ("old-3", 0));

        upgrade(&conn);
        upgrade(&conn); // a second process, or the next load: nothing left to do
        let after = last_commit(&conn, "orders").unwrap().unwrap();
        assert_eq!((after.run_id.as_str(), after.seq), ("old-3", 3));
        assert_eq!(after.watermark, before.watermark, "the committed watermark stays");
        assert_eq!(after.from_watermark, Some(testkit::at("2024-03-01T11:00:00Z")));
        assert_eq!(find_run(&conn, "old-1").unwrap().unwrap().from_watermark, None);
        assert_eq!(last_commit(&conn, "customers").unwrap().unwrap().seq, 1);
        assert_eq!(broken_chain(&conn), Vec::<String>::new());

        let mut request = testkit::request_for(testkit::orders_table(), Mode::Incremental, "new-4");
        request.previous_watermark = Some(after.watermark);
        request.watermark = testkit::at("2024-03-01T13:00:00Z");
        conn.execute(&record_run(&request, "\"orders\""), []).unwrap();
        assert_eq!(last_commit(&conn, "orders").unwrap().unwrap().seq, 4);
        assert_eq!(broken_chain(&conn), Vec::<String>::new());
    }

    #[test]
    fn the_chain_check_finds_a_window_applied_twice() {
        let conn = memory_with_runs();
        let mut request = testkit::request_for(testkit::orders_table(), Mode::Incremental, "r1");
        request.previous_watermark = Some(testkit::at("2024-03-01T09:00:00Z"));
        request.watermark = testkit::at("2024-03-01T10:00:00Z");
        conn.execute(&record_run(&request, "\"orders\""), []).unwrap();
        assert_eq!(broken_chain(&conn), vec!["r1".to_owned()], "r1 continues from nothing committed");
        request.run_id = "r2".into();
        conn.execute(&record_run(&request, "\"orders\""), []).unwrap();
        assert_eq!(broken_chain(&conn), vec!["r1".to_owned(), "r2".to_owned()]);
    }

    #[tokio::test]
    async fn the_first_load_after_an_upgrade_migrates_the_runs_table_and_continues_its_watermark() {
        let fixture = testkit::Fixture::prepared(|conn| conn.execute_batch(LEGACY_TABLE).unwrap());
        let table = testkit::orders_table();
        let committed = crate::warehouse::Warehouse::last_commit(&fixture.warehouse, "orders").await.unwrap();
        assert_eq!(committed.as_ref().map(|c| c.run_id.as_str()), Some("old-3"));
        let outcome = fixture.sync(&table, Mode::Incremental, "new-4", &[]).await;
        outcome.result.unwrap();
        let newest =
            crate::warehouse::Warehouse::last_commit(&fixture.warehouse, "orders").await.unwrap().unwrap();
        assert_eq!((newest.run_id.as_str(), newest.seq), ("new-4", 4));
        assert_eq!(newest.from_watermark, Some(testkit::at("2024-03-01T12:00:00Z")));
        assert_eq!(newest.watermark, testkit::at("2024-03-01T13:00:00Z"));
    }

    #[test]
    fn the_latest_watermark_query_quotes_the_table_name() {
        let sql = latest_watermark("o'brien");
        assert!(sql.contains("= 'o''brien'"), "{sql}");
    }
}
