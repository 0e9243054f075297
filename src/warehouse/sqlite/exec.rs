//! Runs a load's steps on the writer connection, reporting each one as the statement events
//! every warehouse emits (submitted → started → finished / failed / aborted, 1-based index).
//!
//! The steps open and commit their own transaction; whatever stops them (a failed statement, a
//! cancel, a COPY problem) ends in ROLLBACK, so the target and `dynashift_runs` are left exactly
//! as they were — which is what makes a load stopped by a busy database safe to run again.

use std::fmt;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::retry::{RetryAccount, Retryable};
use crate::warehouse::reconcile::{before_counts, check_reconciled};
use crate::warehouse::runner::{self, StatementReporter, StepBackend, Tally};
use crate::warehouse::shape::TableShape;
use crate::warehouse::{LoadReport, LoadRequest, WarehouseError};

use super::copy::{CopySource, copy_staged_files};
use super::failure::StepError;
use super::plan::{Action, Step};
use super::runs::parse_timestamp;
use crate::warehouse::watermark::stale_watermark;

/// Everything a load needs on its blocking thread.
#[derive(Clone)]
pub(super) struct LoadJob {
    pub request: LoadRequest,
    pub reporter: StatementReporter,
    pub cancel: CancellationToken,
    /// The runtime the store is read through.
    pub runtime: Handle,
}

/// The statement that stopped a load (rolled back), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadStop {
    /// 1-based, as in the statement events.
    pub index: usize,
    pub label: String,
    pub error: StepError,
}

impl fmt::Display for LoadStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            StepError::Failed(message) | StepError::Transient { message, .. } => {
                write!(f, "statement {} ({}) failed: {message}", self.index, self.label)
            }
            StepError::Cancelled => f.write_str("cancelled"),
        }
    }
}

impl Retryable for LoadStop {
    fn transient_cause(&self) -> Option<String> {
        self.error.transient_cause().map(str::to_owned)
    }

    fn with_retry_account(mut self, account: &RetryAccount) -> LoadStop {
        self.error = self.error.with_retry_account(account);
        self
    }
}

impl From<LoadStop> for WarehouseError {
    fn from(stop: LoadStop) -> WarehouseError {
        stop.error.at_statement(stop.index, stop.label)
    }
}

/// Runs `steps` in order; on any stop, rolls back and says which statement stopped and why.
/// The shared loop is async, but every SQLite step runs to its end without waiting, so it is
/// driven right here on the load's blocking thread (a cancel interrupts a running statement
/// through [`super::interrupt`]).
pub(super) fn run_steps(conn: &Connection, steps: &[Step], job: &LoadJob) -> Result<LoadReport, LoadStop> {
    end_abandoned_transaction(conn);
    let mut backend = SqliteSteps { conn, job, shape: TableShape::of(&job.request.table) };
    futures::executor::block_on(runner::run_steps(&mut backend, steps, &job.reporter, &job.cancel)).map_err(
        |stop| LoadStop { index: stop.index, label: steps[stop.index - 1].label.clone(), error: stop.error },
    )
}

/// The writer connection, as the shared statement loop's backend.
struct SqliteSteps<'a> {
    conn: &'a Connection,
    job: &'a LoadJob,
    shape: TableShape,
}

impl StepBackend for SqliteSteps<'_> {
    type Action = Action;

    async fn perform(&mut self, step: &Step, tally: &mut Tally) -> Result<Option<i64>, StepError> {
        perform(self.conn, step, self.job, &self.shape, tally)
    }

    async fn roll_back(&mut self) {
        roll_back(self.conn);
    }

    fn reconciles(action: &Action) -> bool {
        matches!(action, Action::CheckReconciled(_))
    }
}

/// Runs one step; returns the row count it reports.
fn perform(
    conn: &Connection,
    step: &Step,
    job: &LoadJob,
    shape: &TableShape,
    tally: &mut Tally,
) -> Result<Option<i64>, StepError> {
    let sqlite = |e: rusqlite::Error| StepError::sqlite(&e, &job.cancel);
    match &step.action {
        Action::Execute => conn.execute(&step.sql, []).map(|_| None).map_err(sqlite),
        Action::Modify => {
            conn.execute(&step.sql, []).map(|changed| Some(row_count(changed as u64))).map_err(sqlite)
        }
        Action::Copy(bound) => {
            let source = CopySource {
                bound: *bound,
                store: job.request.store.as_ref(),
                runtime: &job.runtime,
                staged: &job.request.staged,
                shape,
                cancel: &job.cancel,
            };
            tally.copied = copy_staged_files(conn, &step.sql, &source)?;
            Ok(Some(row_count(tally.copied.rows())))
        }
        Action::ExpectWatermark(expected) => {
            let committed: Option<String> =
                conn.query_row(&step.sql, [], |r| r.get(0)).optional().map_err(sqlite)?;
            check_watermark(&job.request.table.name, committed.as_deref(), *expected)?;
            Ok(None)
        }
        Action::Upgrade { needed } => {
            if conn.query_row(needed, [], |r| r.get::<_, bool>(0)).map_err(sqlite)? {
                conn.execute_batch(&step.sql).map_err(sqlite)?;
            }
            Ok(None)
        }
        Action::ExpectColumns { table, expected } => {
            let listed: Option<String> = conn.query_row(&step.sql, [], |r| r.get(0)).map_err(sqlite)?;
            let found = crate::warehouse::history::split_columns(listed.as_deref());
            crate::warehouse::history::check_columns(table, &found, expected).map_err(StepError::Failed)?;
            Ok(None)
        }
        Action::CountBefore => {
            let counts = conn
                .query_row(&step.sql, [], |r| Ok([r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?]))
                .map_err(sqlite)?;
            tally.before = Some(before_counts(counts));
            Ok(None)
        }
        Action::CheckReconciled(check) => {
            let after: i64 = conn.query_row(&step.sql, [], |r| r.get(0)).map_err(sqlite)?;
            check_reconciled(&job.request.table.name, *check, tally.before, after)?;
            tally.target_rows = u64::try_from(after).unwrap_or_default();
            Ok(Some(after))
        }
    }
}

fn row_count(rows: u64) -> i64 {
    i64::try_from(rows).unwrap_or(i64::MAX)
}

/// An incremental load applies the changes after the committed watermark, so it must start
/// exactly there; another watermark means another run committed since this one was planned.
fn check_watermark(
    table: &str,
    committed: Option<&str>,
    expected: Option<DateTime<Utc>>,
) -> Result<(), StepError> {
    let committed = committed.map(parse_timestamp).transpose().map_err(StepError::Failed)?;
    match stale_watermark(table, committed, expected) {
        Some(message) => Err(StepError::Failed(message)),
        None => Ok(()),
    }
}

/// A previous load that panicked mid-transaction left it open on this connection.
fn end_abandoned_transaction(conn: &Connection) {
    if !conn.is_autocommit() {
        tracing::warn!("rolling back a transaction an earlier load left open");
        roll_back(conn);
    }
}

/// Rolls back the open transaction, if any (SQLite already ended it after an interrupt or some
/// errors). A failed ROLLBACK is logged: the original error is what the caller needs.
fn roll_back(conn: &Connection) {
    if conn.is_autocommit() {
        return;
    }
    if let Err(error) = conn.execute_batch("ROLLBACK") {
        tracing::error!(%error, "ROLLBACK failed; the connection may still hold the load's transaction");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::sqlite::testkit::at;

    #[test]
    fn the_watermark_must_be_exactly_the_committed_one() {
        let committed = "2024-05-01T12:00:00.000000Z";
        assert_eq!(check_watermark("orders", Some(committed), Some(at(committed))), Ok(()));
        assert_eq!(check_watermark("orders", None, None), Ok(()));
        let Err(StepError::Failed(message)) =
            check_watermark("orders", Some(committed), Some(at("2024-05-01T11:00:00Z")))
        else {
            panic!("a stale watermark must fail");
        };
        assert!(
            message.contains("orders is committed up to 2024-05-01T12:00:00.000000Z but this load continues from 2024-05-01T11:00:00.000000Z"),
            "{message}"
        );
        assert!(check_watermark("orders", Some(committed), None).is_err());
        assert!(check_watermark("orders", None, Some(at(committed))).is_err());
    }

    #[test]
    fn rolling_back_without_a_transaction_is_harmless() {
        let conn = Connection::open_in_memory().unwrap();
        roll_back(&conn);
        conn.execute_batch("BEGIN; CREATE TABLE t (x);").unwrap();
        end_abandoned_transaction(&conn);
        assert!(conn.is_autocommit());
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0)).unwrap();
        assert_eq!(tables, 0);
    }
}
