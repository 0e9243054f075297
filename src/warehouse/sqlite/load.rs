//! A load, run again when the database was busy.
//!
//! SQLite has one writer at a time. Every connection waits up to its busy timeout for the write
//! lock, which covers short overlaps; a longer one (another dynashift loading a large table into
//! the same file, a `sqlite3` session left in a write transaction) ends the load with
//! SQLITE_BUSY before it changed anything, its transaction rolled back. Such a load is run again
//! after a backoff, announced as a warning event ("retrying the load after …"), until the load
//! policy's deadline. A COMMIT here is a local call whose outcome is always known, so there is
//! no unanswered COMMIT to settle.
//!
//! Reads of commit records are not retried: in WAL mode a reader never waits for a writer, and
//! the busy timeout covers the moments it waits for a checkpoint.

use std::fmt;
use std::sync::Arc;

use crate::contract::events::EventKind;
use crate::retry::{RetryAccount, RetryLoop, Retryable};
use crate::warehouse::{LoadReport, WarehouseError};

use super::exec::{self, LoadJob, LoadStop};
use super::interrupt::InterruptOnCancel;
use super::plan::Step;
use super::{SqliteWarehouse, lock, task_failed};

/// Runs the load `steps` describe on the writer connection, retrying it as the module doc says.
pub(super) async fn run(
    warehouse: &SqliteWarehouse,
    steps: Vec<Step>,
    job: LoadJob,
) -> Result<LoadReport, WarehouseError> {
    let steps = Arc::new(steps);
    let (events, cancel) = (job.reporter.events().clone(), job.cancel.clone());
    let result = RetryLoop::new(warehouse.load_retry, "the load")
        .cancelled_by(&cancel)
        .on_retry(|retrying| events.emit(EventKind::Warning { message: retrying.to_string() }))
        .run(|| attempt(warehouse, steps.clone(), job.clone()))
        .await;
    match result {
        Ok(report) => Ok(report),
        Err(_) if cancel.is_cancelled() => Err(WarehouseError::Cancelled),
        Err(failure) => Err(failure.into()),
    }
}

/// One attempt, on tokio's blocking pool.
async fn attempt(
    warehouse: &SqliteWarehouse,
    steps: Arc<Vec<Step>>,
    job: LoadJob,
) -> Result<LoadReport, AttemptError> {
    let writer = warehouse.writer.clone();
    let attempt = tokio::task::spawn_blocking(move || {
        let conn = lock(&writer);
        let _interrupt = InterruptOnCancel::arm(&conn, &job.cancel, &job.runtime);
        exec::run_steps(&conn, &steps, &job)
    });
    match attempt.await {
        Ok(result) => result.map_err(AttemptError::Stopped),
        Err(error) => Err(AttemptError::TaskFailed(task_failed(error))),
    }
}

/// Why one attempt did not commit.
#[derive(Debug)]
enum AttemptError {
    /// A statement stopped the load; its transaction rolled back.
    Stopped(LoadStop),
    /// The blocking task ended without an answer (it panicked).
    TaskFailed(WarehouseError),
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptError::Stopped(stop) => stop.fmt(f),
            AttemptError::TaskFailed(error) => error.fmt(f),
        }
    }
}

impl Retryable for AttemptError {
    fn transient_cause(&self) -> Option<String> {
        match self {
            AttemptError::Stopped(stop) => stop.transient_cause(),
            AttemptError::TaskFailed(_) => None,
        }
    }

    fn with_retry_account(self, account: &RetryAccount) -> AttemptError {
        match self {
            AttemptError::Stopped(stop) => AttemptError::Stopped(stop.with_retry_account(account)),
            AttemptError::TaskFailed(error) => {
                AttemptError::TaskFailed(WarehouseError::Other(format!("{error} ({account})")))
            }
        }
    }
}

impl From<AttemptError> for WarehouseError {
    fn from(failure: AttemptError) -> WarehouseError {
        match failure {
            AttemptError::Stopped(stop) => stop.into(),
            AttemptError::TaskFailed(error) => error,
        }
    }
}
