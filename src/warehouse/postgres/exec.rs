//! Runs a load's steps on its own session, reporting each one as the statement events every
//! warehouse emits (submitted → started → finished / failed / aborted, 1-based index).
//!
//! The steps open and commit their own transaction; whatever stops them (a failed statement, a
//! cancel, a COPY problem) ends in ROLLBACK, so the target and `dynashift_runs` are left exactly
//! as they were. A cancel interrupts the running statement through PostgreSQL's cancel request.
//! A stop at the COMMIT itself is the one whose outcome may be unknown (its answer lost); the
//! [`LoadStop`] says so, and the `load` module settles it.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tokio_util::sync::CancellationToken;

use crate::warehouse::reconcile::{before_counts, check_reconciled};
use crate::warehouse::runner::{self, StepBackend, Tally};
use crate::warehouse::shape::TableShape;
use crate::warehouse::{LoadReport, WarehouseError};

use super::copy::{CopySource, copy_staged_files};
use super::failure::StepError;
use super::plan::{Action, Step};
use super::session::{Canceller, Session};
use super::sql;
pub(super) use crate::warehouse::runner::LoadJob;
use crate::warehouse::watermark::stale_watermark;

/// How long a cancelled statement may take to stop before the load stops waiting for it (the
/// session is dropped then, and the server rolls its transaction back).
const CANCEL_GRACE: Duration = Duration::from_secs(10);

/// How long the ROLLBACK after a failure may take. It is instant unless the session is still
/// busy with a statement that ignored a cancel; the session is dropped then, which rolls back too.
const ROLLBACK_TIMEOUT: Duration = Duration::from_secs(5);

/// The statement that stopped a load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadStop {
    /// 1-based, as in the statement events.
    pub index: usize,
    pub label: String,
    pub error: StepError,
    /// The stop came from the COMMIT: the server may have committed before the answer was lost.
    pub at_commit: bool,
}

impl From<LoadStop> for WarehouseError {
    fn from(stop: LoadStop) -> WarehouseError {
        stop.error.at_statement(stop.index, stop.label)
    }
}

/// Runs `steps` in order; on any stop, rolls back and says which statement stopped and why.
pub(super) async fn run_steps(
    session: &Session,
    steps: &[Step],
    job: &LoadJob<'_>,
) -> Result<LoadReport, LoadStop> {
    let mut backend = PostgresSteps { session, job, shape: TableShape::of(&job.request.table) };
    runner::run_steps(&mut backend, steps, job.reporter, job.cancel).await.map_err(|stop| {
        let step = &steps[stop.index - 1];
        LoadStop {
            index: stop.index,
            label: step.label.clone(),
            error: stop.error,
            at_commit: step.action == Action::Commit,
        }
    })
}

/// The load's session, as the shared statement loop's backend.
struct PostgresSteps<'a> {
    session: &'a Session,
    job: &'a LoadJob<'a>,
    shape: TableShape,
}

impl StepBackend for PostgresSteps<'_> {
    type Action = Action;

    /// Every step but the COMMIT is interrupted by a cancel (once sent, the commit's outcome is
    /// the load's).
    async fn perform(&mut self, step: &Step, tally: &mut Tally) -> Result<Option<i64>, StepError> {
        let performed = perform(self.session, step, self.job, &self.shape, tally);
        if step.action == Action::Commit {
            performed.await
        } else {
            unless_cancelled(performed, self.job.cancel, &self.session.canceller()).await
        }
    }

    async fn roll_back(&mut self) {
        roll_back(self.session).await;
    }

    fn reconciles(action: &Action) -> bool {
        matches!(action, Action::CheckReconciled(_))
    }
}

/// Runs `statement` until it ends or the load is cancelled. On cancel, asks the server to
/// cancel it and waits (a bounded time) for it to stop; the step is then cancelled whatever
/// the statement's outcome, since the transaction will be rolled back.
async fn unless_cancelled<T>(
    statement: impl Future<Output = Result<T, StepError>>,
    cancel: &CancellationToken,
    canceller: &Canceller,
) -> Result<T, StepError> {
    let mut statement = std::pin::pin!(statement);
    tokio::select! {
        biased;
        result = &mut statement => result,
        () = cancel.cancelled() => {
            canceller.cancel_running_statement().await;
            if tokio::time::timeout(CANCEL_GRACE, statement).await.is_err() {
                tracing::warn!("the cancelled statement did not stop in time; dropping its session");
            }
            Err(StepError::Cancelled)
        }
    }
}

/// Runs one step; returns the row count it reports.
async fn perform(
    session: &Session,
    step: &Step,
    job: &LoadJob<'_>,
    shape: &TableShape,
    tally: &mut Tally,
) -> Result<Option<i64>, StepError> {
    let client = &session.client;
    let postgres = |e: tokio_postgres::Error| StepError::postgres(&e, &step.sql, job.cancel);
    match &step.action {
        Action::Execute | Action::Commit => {
            client.batch_execute(&step.sql).await.map(|()| None).map_err(postgres)
        }
        Action::CreateIfMissing { exists } => create_if_missing(session, &step.sql, exists, job.cancel).await,
        Action::Modify => client.execute(&step.sql, &[]).await.map(|n| Some(row_count(n))).map_err(postgres),
        Action::Copy => {
            let source = CopySource {
                store: job.request.store.clone(),
                staged: job.request.staged.clone(),
                shape: shape.clone(),
                cancel: job.cancel.clone(),
            };
            tally.copied = copy_staged_files(client, &step.sql, source).await?;
            Ok(Some(row_count(tally.copied.rows())))
        }
        Action::ExpectWatermark(expected) => {
            let row = client.query_opt(&step.sql, &[]).await.map_err(postgres)?;
            let committed: Option<DateTime<Utc>> = row.map(|r| r.try_get(0)).transpose().map_err(postgres)?;
            check_watermark(&job.request.table.name, committed, *expected)?;
            Ok(None)
        }
        Action::ExpectColumns { table, expected } => {
            let row = client.query_one(&step.sql, &[]).await.map_err(postgres)?;
            let listed: Option<String> = row.try_get(0).map_err(postgres)?;
            let found = crate::warehouse::history::split_columns(listed.as_deref());
            crate::warehouse::history::check_columns(table, &found, expected).map_err(StepError::Failed)?;
            Ok(None)
        }
        Action::CountBefore => {
            let row = client.query_one(&step.sql, &[]).await.map_err(postgres)?;
            let counts = [row.try_get(0), row.try_get(1), row.try_get(2)];
            let [before, new_keys, deleted_present] = counts;
            let counts =
                [before.map_err(postgres)?, new_keys.map_err(postgres)?, deleted_present.map_err(postgres)?];
            tally.before = Some(before_counts(counts));
            Ok(None)
        }
        Action::CheckReconciled(check) => {
            let after: i64 =
                client.query_one(&step.sql, &[]).await.and_then(|r| r.try_get(0)).map_err(postgres)?;
            check_reconciled(&job.request.table.name, *check, tally.before, after)?;
            tally.target_rows = u64::try_from(after).unwrap_or_default();
            Ok(Some(after))
        }
    }
}

/// Creates the object unless it exists; when it is missing, takes the shared DDL lock and
/// looks again, since another load may have created it meanwhile.
async fn create_if_missing(
    session: &Session,
    create: &str,
    exists: &str,
    cancel: &CancellationToken,
) -> Result<Option<i64>, StepError> {
    let client = &session.client;
    let postgres = |sql: &str, e: tokio_postgres::Error| StepError::postgres(&e, sql, cancel);
    let exists_now = || async {
        client
            .query_one(exists, &[])
            .await
            .and_then(|r| r.try_get::<_, bool>(0))
            .map_err(|e| postgres(exists, e))
    };
    if exists_now().await? {
        return Ok(None);
    }
    let lock = sql::lock_shared_ddl();
    client.batch_execute(&lock).await.map_err(|e| postgres(&lock, e))?;
    if !exists_now().await? {
        client.batch_execute(create).await.map_err(|e| postgres(create, e))?;
    }
    Ok(None)
}

fn row_count(rows: u64) -> i64 {
    i64::try_from(rows).unwrap_or(i64::MAX)
}

/// An incremental load applies the changes after the committed watermark, so it must start
/// exactly there; another watermark means another run committed since this one was planned.
/// Compared at PostgreSQL's precision (microseconds).
fn check_watermark(
    table: &str,
    committed: Option<DateTime<Utc>>,
    expected: Option<DateTime<Utc>>,
) -> Result<(), StepError> {
    let expected = expected.map(|w| w.trunc_subsecs(6));
    match stale_watermark(table, committed, expected) {
        Some(message) => Err(StepError::Failed(message)),
        None => Ok(()),
    }
}

/// Ends the load's transaction. A failure is logged: the original error is what the caller
/// needs, and the session is dropped right after, which makes the server roll back anyway.
async fn roll_back(session: &Session) {
    match tokio::time::timeout(ROLLBACK_TIMEOUT, session.client.batch_execute("ROLLBACK")).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(error = %super::failure::describe(&error), "ROLLBACK failed"),
        Err(_) => tracing::warn!("ROLLBACK did not answer in time; dropping the session"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::testkit::at;

    #[test]
    fn the_watermark_must_be_exactly_the_committed_one() {
        let committed = at("2024-05-01T12:00:00.123456Z");
        assert_eq!(check_watermark("orders", Some(committed), Some(committed)), Ok(()));
        assert_eq!(check_watermark("orders", None, None), Ok(()));
        let finer = committed + chrono::Duration::nanoseconds(700);
        assert_eq!(check_watermark("orders", Some(committed), Some(finer)), Ok(()));
        let Err(StepError::Failed(message)) =
            check_watermark("orders", Some(committed), Some(at("2024-05-01T11:00:00Z")))
        else {
            panic!("a stale watermark must fail");
        };
        assert!(
            message.contains(
                "orders is committed up to 2024-05-01T12:00:00.123456Z but this load continues from 2024-05-01T11:00:00.000000Z"
            ),
            "{message}"
        );
        assert!(check_watermark("orders", Some(committed), None).is_err());
        assert!(check_watermark("orders", None, Some(committed)).is_err());
    }
}
