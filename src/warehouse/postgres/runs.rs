//! `dynashift_runs`: one row per committed load, written by the load's own transaction so the
//! data and its watermark commit (or roll back) together. `run_id` is the primary key, so a run
//! can never commit twice: a resumed run whose first attempt did commit fails its INSERT and
//! rolls back instead of applying its changes again.
//!
//! The table is created unqualified, so it lives in the first schema of the session's
//! search_path (normally `public`, or the user's own schema) — the same place every load and
//! every read of it resolves to.
//!
//! `from_watermark` and `accepted_gaps` came later: the first load after an upgrade adds them
//! ([`upgrade_runs_table`]), and reads go through `to_jsonb(row)`, so they work on a table that
//! lacks them (the value is then NULL).

use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use crate::config::{Mode, quote_identifier};
use crate::warehouse::watermark::{self, RunLiterals, parse_accepted_gaps};
use crate::warehouse::{CommitRecord, LoadRequest, RUNS_TABLE};

use super::session::Session;
use super::sql::quote_literal;
use super::transient::PgFailure;

const COLUMNS: &str = "r.\"table_name\", r.\"run_id\", r.\"mode\", r.\"watermark\", r.\"committed_at\", r.\"upserts\", r.\"deletes\", r.\"target_rows\", r.\"seq\", to_jsonb(r) ->> 'from_watermark', to_jsonb(r) ->> 'accepted_gaps'";

/// Newest first. `seq` grows with every insert, and loads of one table insert one after the
/// other (they hold the table's load lock until they commit), so it is the commit order.
const NEWEST_FIRST: &str = "ORDER BY \"seq\" DESC";

/// The same order for reads, which name the table `r`.
const NEWEST_FIRST_OF_R: &str = "ORDER BY r.\"seq\" DESC";

/// The runs table. `UNIQUE (table_name, seq)` is the index the newest-commit lookups use.
pub(super) fn create_runs_table() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  \
           \"seq\" bigint GENERATED ALWAYS AS IDENTITY,\n  \
           \"table_name\" text NOT NULL,\n  \
           \"run_id\" text NOT NULL PRIMARY KEY,\n  \
           \"mode\" text NOT NULL CHECK (\"mode\" IN ('full', 'incremental')),\n  \
           \"watermark\" timestamptz NOT NULL,\n  \
           \"committed_at\" timestamptz NOT NULL DEFAULT clock_timestamp(),\n  \
           \"upserts\" bigint NOT NULL,\n  \
           \"deletes\" bigint NOT NULL,\n  \
           \"target_rows\" bigint NOT NULL,\n  \
           \"from_watermark\" timestamptz,\n  \
           \"accepted_gaps\" text,\n  \
           UNIQUE (\"table_name\", \"seq\")\n\
         )",
        quote_identifier(RUNS_TABLE)
    )
}

/// One boolean: whether the runs table has the columns [`upgrade_runs_table`] adds (both are
/// added by one statement, so the last one stands for both).
pub(super) fn upgraded() -> String {
    format!(
        "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass({}) \
         AND attname = 'accepted_gaps' AND NOT attisdropped)",
        quote_literal(&quote_identifier(RUNS_TABLE))
    )
}

/// Adds `from_watermark` and `accepted_gaps` to a table written before them; each existing
/// commit's `from_watermark` is the watermark of the commit before it. Runs in the load's
/// transaction (PostgreSQL's DDL is transactional) under the shared-DDL lock, and only when
/// [`upgraded`] says no, so two loads never upgrade at once and the runs table is locked
/// exclusively only by the one load that upgrades it.
pub(super) fn upgrade_runs_table() -> String {
    let runs = quote_identifier(RUNS_TABLE);
    format!(
        "ALTER TABLE {runs} ADD COLUMN IF NOT EXISTS \"from_watermark\" timestamptz, \
         ADD COLUMN IF NOT EXISTS \"accepted_gaps\" text;\n\
         UPDATE {runs} AS r SET \"from_watermark\" = (SELECT p.\"watermark\" FROM {runs} AS p \
           WHERE p.\"table_name\" = r.\"table_name\" AND p.\"seq\" < r.\"seq\" ORDER BY p.\"seq\" DESC LIMIT 1)"
    )
}

/// Records the load; `target_rows` is counted in the same statement, after the changes, and
/// `committed_at` is the time the statement runs (inside the load's transaction).
pub(super) fn record_run(request: &LoadRequest, quoted_target: &str) -> String {
    let RunLiterals { run_id, mode, watermark, upserts, deletes, from_watermark, accepted_gaps } =
        RunLiterals::of(request, quote_literal);
    format!(
        "INSERT INTO {} (\"table_name\", \"run_id\", \"mode\", \"watermark\", \"upserts\", \"deletes\", \"target_rows\", \"from_watermark\", \"accepted_gaps\")\n\
         SELECT {}, {run_id}, {mode}, {watermark}::timestamptz, {upserts}, {deletes}, count(*), {from_watermark}::timestamptz, {accepted_gaps} FROM {quoted_target}",
        quote_identifier(RUNS_TABLE),
        quote_literal(&request.table.name),
    )
}

/// The committed watermark of a table (no row when it never committed).
pub(super) fn latest_watermark(table_name: &str) -> String {
    watermark::latest_watermark(table_name, NEWEST_FIRST, quote_literal)
}

/// The newest commit of a table; `None` when it never committed or the runs table is missing.
pub(super) async fn last_commit(
    session: &Session,
    table_name: &str,
) -> Result<Option<CommitRecord>, PgFailure> {
    let sql = format!(
        "SELECT {COLUMNS} FROM {} AS r WHERE r.\"table_name\" = $1 {NEWEST_FIRST_OF_R} LIMIT 1",
        quote_identifier(RUNS_TABLE)
    );
    select_one(session, &sql, table_name).await
}

/// The commit of one run; `None` when it never committed or the runs table is missing.
pub(super) async fn find_run(session: &Session, run_id: &str) -> Result<Option<CommitRecord>, PgFailure> {
    let sql = format!("SELECT {COLUMNS} FROM {} AS r WHERE r.\"run_id\" = $1", quote_identifier(RUNS_TABLE));
    select_one(session, &sql, run_id).await
}

/// Reads at most one record; a failure says whether it is transient (a dropped connection).
async fn select_one(session: &Session, sql: &str, param: &str) -> Result<Option<CommitRecord>, PgFailure> {
    match session.client.query_opt(sql, &[&param]).await {
        Ok(row) => row.map(|row| record_of(&row)).transpose(),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(None),
        Err(e) => Err(PgFailure::statement(&e, reading(&super::failure::describe(&e)))),
    }
}

fn reading(message: &str) -> String {
    format!("reading {RUNS_TABLE}: {message}")
}

fn read_error(message: &str) -> PgFailure {
    PgFailure::permanent(reading(message))
}

fn record_of(row: &Row) -> Result<CommitRecord, PgFailure> {
    let column_error = |e: tokio_postgres::Error| read_error(&e.to_string());
    let run_id: String = row.try_get(1).map_err(column_error)?;
    let bad = |what: String| read_error(&format!("run {run_id}: {what}; was the table edited by hand?"));
    let mode: String = row.try_get(2).map_err(column_error)?;
    let mode = match mode.as_str() {
        "full" => Mode::Full,
        "incremental" => Mode::Incremental,
        other => return Err(bad(format!("unknown mode `{other}`"))),
    };
    let count = |index: usize| -> Result<u64, PgFailure> {
        let n: i64 = row.try_get(index).map_err(column_error)?;
        u64::try_from(n).map_err(|_| bad(format!("negative count {n}")))
    };
    let seq: i64 = row.try_get(8).map_err(column_error)?;
    let from_watermark: Option<String> = row.try_get(9).map_err(column_error)?;
    let from_watermark = from_watermark
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(&text)
                .or_else(|_| chrono::DateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f%#z"))
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|e| bad(format!("from_watermark `{text}`: {e}")))
        })
        .transpose()?;
    let gaps: Option<String> = row.try_get(10).map_err(column_error)?;
    let accepted_gaps = parse_accepted_gaps(gaps.as_deref()).map_err(&bad)?;
    Ok(CommitRecord {
        seq: u64::try_from(seq).map_err(|_| bad(format!("negative seq {seq}")))?,
        from_watermark,
        accepted_gaps,
        table_name: row.try_get(0).map_err(column_error)?,
        mode,
        watermark: row.try_get(3).map_err(column_error)?,
        committed_at: row.try_get(4).map_err(column_error)?,
        upserts: count(5)?,
        deletes: count(6)?,
        target_rows: count(7)?,
        run_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::testkit;

    #[test]
    fn the_record_carries_the_exact_watermark_and_quoted_names() {
        let mut request = testkit::request_for(testkit::orders_table(), Mode::Incremental, "o'run");
        request.watermark = testkit::at("2024-03-01T10:15:00.123456Z");
        let sql = record_run(&request, "\"orders\"");
        assert!(sql.contains("'o''run'"), "{sql}");
        assert!(sql.contains("'2024-03-01T10:15:00.123456Z'::timestamptz"), "{sql}");
        assert!(sql.ends_with("count(*), NULL::timestamptz, NULL FROM \"orders\""), "{sql}");
        request.previous_watermark = Some(testkit::at("2024-03-01T09:00:00Z"));
        let sql = record_run(&request, "\"orders\"");
        assert!(sql.contains("'2024-03-01T09:00:00.000000Z'::timestamptz, NULL FROM"), "{sql}");
    }

    #[test]
    fn the_latest_watermark_query_quotes_the_table_name() {
        let sql = latest_watermark("o'brien");
        assert!(sql.contains("= 'o''brien' ORDER BY \"seq\" DESC LIMIT 1"), "{sql}");
    }
}
