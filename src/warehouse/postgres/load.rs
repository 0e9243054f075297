//! A load, retried when it fails transiently — and only when re-running it is exactly right.
//!
//! Every attempt runs the whole load on a new session, in one transaction. A failure before the
//! COMMIT was sent (a deadlock, a serialization failure, the server restarting, the connection
//! dropping) rolled that transaction back, so the next attempt starts from the same state: it
//! is re-run after a backoff, announced as a warning event ("retrying the load after …").
//!
//! A failure AT the COMMIT is different: the server may have committed before its answer was
//! lost — or may still be committing, or may still wait in the open transaction for a COMMIT
//! that never arrived. The load is then not re-run blindly. Its server process is ended first
//! (see the `backend` module), which settles the transaction one way or the other; then
//! `dynashift_runs` is read — the run's record is written in the same transaction, so it is
//! there exactly when the load committed:
//! - there: the load is done, reported from the record;
//! - not there: the transaction rolled back, and the failure is judged like any other;
//! - unreadable, or the process would not end: the load fails saying so, and the next run of
//!   the table, which reads the record before anything else, finishes or repeats it.
//!
//! Whatever happens, a run cannot commit twice: its record's `run_id` is a primary key, and an
//! incremental load also checks the committed watermark under the table's load lock.

use std::fmt;

use crate::contract::events::EventKind;
use crate::retry::{RetryAccount, RetryLoop, Retryable};
use crate::warehouse::{CommitRecord, LoadReport, WarehouseError};

use super::PostgresWarehouse;
use super::backend::Backend;
use super::exec::{self, LoadJob, LoadStop};
use super::plan::Step;
use super::transient::PgFailure;

/// Runs the load `steps` describe, retrying it as the module doc says.
pub(super) async fn run(
    warehouse: &PostgresWarehouse,
    steps: &[Step],
    job: &LoadJob<'_>,
) -> Result<LoadReport, WarehouseError> {
    let events = job.reporter.events();
    let result = RetryLoop::new(warehouse.connector.load_retry(), "the load")
        .cancelled_by(job.cancel)
        .on_retry(|retrying| events.emit(EventKind::Warning { message: retrying.to_string() }))
        .run(|| attempt(warehouse, steps, job))
        .await;
    match result {
        Ok(report) => Ok(report),
        Err(failure) if job.cancel.is_cancelled() && failure.committed_nothing() => {
            Err(WarehouseError::Cancelled)
        }
        Err(failure) => Err(failure.into()),
    }
}

/// Why one attempt did not commit.
#[derive(Debug)]
enum AttemptError {
    /// No session could be opened.
    Connect(PgFailure),
    /// A statement stopped the load; its transaction rolled back.
    Stopped(LoadStop),
    /// The COMMIT got no answer, and whether it committed could not be read.
    Unsettled(String),
}

impl AttemptError {
    /// False only when the load may have committed after all.
    fn committed_nothing(&self) -> bool {
        !matches!(self, AttemptError::Unsettled(_))
    }
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptError::Connect(failure) => f.write_str(&failure.message),
            AttemptError::Stopped(stop) => match stop.error.message() {
                Some(message) => write!(f, "statement {} ({}) failed: {message}", stop.index, stop.label),
                None => f.write_str("cancelled"),
            },
            AttemptError::Unsettled(message) => f.write_str(message),
        }
    }
}

impl Retryable for AttemptError {
    fn transient_cause(&self) -> Option<String> {
        match self {
            AttemptError::Connect(failure) => failure.cause.clone(),
            AttemptError::Stopped(stop) => stop.error.transient_cause().map(str::to_owned),
            AttemptError::Unsettled(_) => None,
        }
    }

    fn with_retry_account(self, account: &RetryAccount) -> AttemptError {
        let noted = |message: String| format!("{message} ({account})");
        match self {
            AttemptError::Connect(failure) => AttemptError::Connect(failure.with_retry_account(account)),
            AttemptError::Stopped(mut stop) => {
                stop.error = stop.error.with_retry_account(account);
                AttemptError::Stopped(stop)
            }
            AttemptError::Unsettled(message) => AttemptError::Unsettled(noted(message)),
        }
    }
}

impl From<AttemptError> for WarehouseError {
    fn from(failure: AttemptError) -> WarehouseError {
        match failure {
            AttemptError::Connect(failure) => failure.into(),
            AttemptError::Stopped(stop) => stop.into(),
            AttemptError::Unsettled(message) => WarehouseError::Other(message),
        }
    }
}

/// One attempt: a new session, every step, and the settling of a COMMIT that went unanswered.
async fn attempt(
    warehouse: &PostgresWarehouse,
    steps: &[Step],
    job: &LoadJob<'_>,
) -> Result<LoadReport, AttemptError> {
    let session = warehouse.connector.open().await.map_err(AttemptError::Connect)?;
    match exec::run_steps(&session, steps, job).await {
        Ok(report) => Ok(report),
        Err(stop) if stop.at_commit => {
            let backend = session.backend;
            drop(session);
            settle_commit(warehouse, job, stop, backend).await
        }
        Err(stop) => Err(AttemptError::Stopped(stop)),
    }
}

/// Learns whether a COMMIT that failed went through: ends the load's server process, so its
/// transaction is over, then looks for the run's record.
async fn settle_commit(
    warehouse: &PostgresWarehouse,
    job: &LoadJob<'_>,
    stop: LoadStop,
    backend: Backend,
) -> Result<LoadReport, AttemptError> {
    let run_id = &job.request.run_id;
    let settled = match warehouse.end_backend(backend).await {
        Ok(()) => warehouse.read_run(run_id).await,
        Err(failure) => Err(failure),
    };
    match settled {
        Ok(Some(record)) => {
            let answer = stop.error.message().unwrap_or("no answer");
            job.reporter.events().emit(EventKind::Warning {
                message: format!(
                    "the answer to COMMIT was lost ({answer}); dynashift_runs holds run {run_id}, so the load committed"
                ),
            });
            Ok(report_of(&record))
        }
        Ok(None) => Err(AttemptError::Stopped(stop)),
        Err(read) => Err(AttemptError::Unsettled(format!(
            "the COMMIT of run {run_id} got no answer ({}) and {read}, so whether it committed is unknown; the \
             next run of this table reads dynashift_runs first and then finishes or repeats this run",
            stop.error.message().unwrap_or("cancelled")
        ))),
    }
}

fn report_of(record: &CommitRecord) -> LoadReport {
    LoadReport { target_rows: record.target_rows, upserts: record.upserts, deletes: record.deletes }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::retry::Ending;
    use crate::warehouse::step::StepError;

    fn stop(error: StepError, at_commit: bool) -> AttemptError {
        AttemptError::Stopped(LoadStop { index: 7, label: "merge staged upserts".into(), error, at_commit })
    }

    fn transient(cause: &str) -> StepError {
        StepError::Transient { message: "FATAL 57P01: terminating connection".into(), cause: cause.into() }
    }

    #[test]
    fn only_transient_stops_and_connects_are_retried() {
        assert_eq!(
            stop(transient("deadlock (40P01)"), false).transient_cause().as_deref(),
            Some("deadlock (40P01)")
        );
        assert_eq!(stop(StepError::Failed("23505".into()), false).transient_cause(), None);
        assert_eq!(stop(StepError::Cancelled, false).transient_cause(), None);
        assert_eq!(AttemptError::Unsettled("unknown".into()).transient_cause(), None);
        let refused = PgFailure {
            message: "cannot connect".into(),
            cause: Some("connection refused".into()),
            connecting: true,
        };
        assert_eq!(AttemptError::Connect(refused).transient_cause().as_deref(), Some("connection refused"));
    }

    #[test]
    fn the_final_error_names_the_statement_and_what_was_retried() {
        let account = RetryAccount {
            retries: 3,
            over: Duration::from_secs(75),
            causes: vec!["server shutting down (57P01)".into()],
            ending: Ending::Deadline(Duration::from_secs(180)),
        };
        let error = WarehouseError::from(
            stop(transient("server shutting down (57P01)"), false).with_retry_account(&account),
        );
        assert_eq!(
            error.to_string(),
            "statement 7 (merge staged upserts) failed: FATAL 57P01: terminating connection (retried 3 times over \
             1m 15s: server shutting down (57P01); giving up at the 3m deadline)"
        );
    }

    #[test]
    fn only_an_unsettled_commit_may_have_committed() {
        assert!(stop(StepError::Cancelled, true).committed_nothing());
        assert!(!AttemptError::Unsettled("unknown".into()).committed_nothing());
    }
}
