//! Runs a load's steps as one BatchExecuteStatement and follows it with DescribeStatement until
//! it ends, reporting every sub-statement as the statement events every warehouse emits
//! (submitted → started → finished / failed / aborted, with Redshift's query id) through the
//! shared [`crate::warehouse::runner::StatementReporter`], which records them for the load's
//! outcome.
//!
//! The batch is one transaction that the Data API commits when its last statement finishes, so
//! the load's outcome is the batch's final status: FINISHED committed everything, anything
//! else committed nothing. A cancel sends CancelStatement and keeps following the batch until
//! it ends — a batch that finished first did commit, and is reported so.

use std::time::{Duration, Instant};

use crate::contract::events::{EventKind, StatementStatus};
use crate::contract::staged::StagedFormat;
use crate::warehouse::reconcile;
use crate::warehouse::watermark::stale_watermark;
use crate::warehouse::{LoadReport, RUNS_TABLE, WarehouseError};

use super::data_api::{BatchState, DataApi, FIRST_POLL, Phase, StatementState, next_poll};
use super::load_errors;
use super::plan::{Role, Step};
pub(super) use crate::warehouse::runner::LoadJob;

/// How long a cancelled batch may take to stop before the load stops following it.
const CANCEL_GRACE: Duration = Duration::from_secs(60);

/// What has been reported of each sub-statement.
#[derive(Debug, Default, Clone, Copy)]
struct Reported {
    started: bool,
    finished: bool,
}

/// Follows one batch, turning status changes into events.
struct Follower<'a> {
    api: &'a DataApi,
    steps: &'a [Step],
    job: &'a LoadJob<'a>,
    reported: Vec<Reported>,
    /// The error of the failed sub-statement, explained (load errors, stale watermark…).
    failure: Option<(usize, String)>,
    /// The batch's id once submitted (its sub-statements' results are read by `id:n`).
    batch_id: String,
}

/// Submits and follows the batch; `Ok` only when it committed.
pub(super) async fn run_batch(
    api: &DataApi,
    steps: &[Step],
    job: &LoadJob<'_>,
) -> Result<LoadReport, WarehouseError> {
    for (position, step) in steps.iter().enumerate() {
        job.reporter.submitted(position + 1, steps.len(), step);
    }
    let mut follower = Follower {
        api,
        steps,
        job,
        reported: vec![Reported::default(); steps.len()],
        failure: None,
        batch_id: String::new(),
    };
    if job.cancel.is_cancelled() {
        follower.close_unfinished(StatementStatus::Aborted, "cancelled before the batch was sent");
        return Err(WarehouseError::Cancelled);
    }
    let sqls: Vec<String> = steps.iter().map(|s| s.sql.clone()).collect();
    let name = format!("dynashift {} {}", job.request.table.name, job.request.run_id);
    // Fresh per load attempt: a resumed run must submit anew, not get its failed batch back.
    let client_token = format!("dynashift-{}", uuid_like());
    let id = match api.batch(&sqls, &name, &client_token).await {
        Ok(id) => id,
        Err(failure) => {
            let message =
                format!("submitting the batch to the Redshift Data API failed: {}", failure.message);
            follower.close_unfinished(StatementStatus::Aborted, &message);
            return Err(WarehouseError::Connection(message));
        }
    };
    tracing::info!(batch = %id, statements = steps.len(), "batch submitted");
    follower.batch_id.clone_from(&id);
    let state = follower.follow(&id).await?;
    follower.conclude(&id, state).await
}

/// Why a failed statement may succeed when the batch runs again (its transaction rolled back):
/// a conflict with a concurrent transaction. `None` for every other failure.
pub(super) fn transient_cause(message: &str) -> Option<String> {
    let lower = message.to_lowercase();
    let causes = [
        ("serializable isolation violation", "a serializable-isolation conflict (Redshift 1023)"),
        ("could not serialize access", "a serialization conflict"),
        ("deadlock detected", "a deadlock"),
        ("pg_type_typname_nsp_index", "another load creating the same table at once"),
        ("pg_namespace_nspname_index", "another load creating the same schema at once"),
        ("concurrent transaction", "a concurrent transaction"),
    ];
    if super::runs::is_concurrent_upgrade(message) {
        return Some(format!("another load upgrading {RUNS_TABLE} at once"));
    }
    if let Some(cause) = concurrent_creation(&lower) {
        return Some(cause);
    }
    causes.iter().find(|(needle, _)| lower.contains(needle)).map(|(_, cause)| (*cause).to_owned())
}

/// `IF NOT EXISTS` is checked as the statement starts, not against a creation committing at
/// that moment: two tables' first loads at once (`--all` on a new warehouse) both create
/// `dynashift_runs`, and a shared schema, and the second can fail with "relation/type … already
/// exists" (PostgreSQL, the stand-in, words it so besides the unique-index errors above; its
/// developers say IF NOT EXISTS does not guard concurrent creation). The batch rolled back; run
/// again, it finds the object. These statements never meet an existing object otherwise, so the
/// message alone tells the race.
fn concurrent_creation(lower: &str) -> Option<String> {
    if !lower.contains("already exists") {
        return None;
    }
    let runs_table = format!("\"{RUNS_TABLE}\"");
    if (lower.contains("relation ") || lower.contains("type ")) && lower.contains(&runs_table) {
        return Some(format!("another load creating {RUNS_TABLE} at once"));
    }
    lower.contains("schema \"").then(|| "another load creating the same schema at once".to_owned())
}

/// 32 random hex digits (the Data API's client tokens are 1..64 characters).
fn uuid_like() -> String {
    use rand::Rng;
    let bits: u128 = rand::rng().random();
    format!("{bits:032x}")
}

impl Follower<'_> {
    /// Polls until the batch ends; a cancel asks Redshift to stop it, then keeps polling.
    async fn follow(&mut self, id: &str) -> Result<(BatchState, bool), WarehouseError> {
        let mut delay = FIRST_POLL;
        let mut cancel_sent: Option<Instant> = None;
        loop {
            let cancelled = tokio::select! {
                () = tokio::time::sleep(delay) => false,
                () = self.job.cancel.cancelled(), if cancel_sent.is_none() => true,
            };
            if cancelled {
                self.send_cancel(id).await;
                cancel_sent = Some(Instant::now());
                continue;
            }
            let state = self.api.describe_statement(id).await.map_err(|failure| {
                WarehouseError::Connection(format!(
                    "lost track of batch {id} ({}); whether it committed shows in {RUNS_TABLE}, which the next run \
                     of this table checks before loading again",
                    failure.message
                ))
            })?;
            self.report_progress(&state).await;
            if state.overall.phase.is_terminal() {
                return Ok((state, cancel_sent.is_some()));
            }
            if cancel_sent.is_some_and(|at| at.elapsed() > CANCEL_GRACE) {
                return Err(WarehouseError::Other(format!(
                    "batch {id} did not stop within {}s of CancelStatement; whether it committed shows in {RUNS_TABLE}, \
                     which the next run checks",
                    CANCEL_GRACE.as_secs()
                )));
            }
            delay = next_poll(delay);
        }
    }

    async fn send_cancel(&self, id: &str) {
        match self.api.cancel(id).await {
            Ok(true) => tracing::info!(batch = %id, "CancelStatement accepted"),
            Ok(false) => tracing::info!(batch = %id, "CancelStatement: the batch had already ended"),
            Err(failure) => tracing::warn!(batch = %id, error = %failure.message, "CancelStatement failed"),
        }
    }

    /// Reports every sub-statement that started or ended since the last poll.
    async fn report_progress(&mut self, state: &BatchState) {
        for (position, sub) in state.subs.iter().enumerate().take(self.steps.len()) {
            let index = position + 1;
            if sub.phase != Phase::Waiting && !self.reported[position].started {
                self.reported[position].started = true;
                self.job.reporter.started(index, sub.query_id.map(|q| q.to_string()));
            }
            if sub.phase.is_terminal() && !self.reported[position].finished {
                let error = match sub.phase {
                    Phase::Failed => Some(self.explain_failure(position, sub).await),
                    _ => sub.error.clone(),
                };
                self.finish(position, sub, error);
            }
        }
    }

    fn finish(&mut self, position: usize, sub: &StatementState, error: Option<String>) {
        self.reported[position].finished = true;
        let status = match sub.phase {
            Phase::Finished => StatementStatus::Finished,
            Phase::Failed => StatementStatus::Failed,
            _ => StatementStatus::Aborted,
        };
        let query_id = sub.query_id.map(|q| q.to_string());
        self.job.reporter.ended(position + 1, status, sub.duration, sub.rows, error, query_id);
    }

    /// Redshift's error, made actionable for the statements whose failure has a known meaning.
    async fn explain_failure(&mut self, position: usize, sub: &StatementState) -> String {
        let error = sub.error.clone().unwrap_or_else(|| "failed without an error text".to_owned());
        let request = self.job.request;
        let explained = match self.steps[position].action {
            Role::Copy => load_errors::explain(self.api, &error, sub.query_id).await,
            Role::GuardRun => format!(
                "run {} is already recorded in {RUNS_TABLE}: it committed before; nothing is applied twice",
                request.run_id
            ),
            Role::GuardWatermark => self.stale_watermark_message(&error).await,
            Role::GuardReconciled => self.reconciliation_message(&error).await,
            Role::Plain | Role::ReconcileCounts => error,
        };
        self.failure = Some((position, explained.clone()));
        explained
    }

    async fn stale_watermark_message(&self, error: &str) -> String {
        let request = self.job.request;
        match super::read_last_commit(self.api, &request.table.name).await {
            Ok(committed) => stale_watermark(
                &request.table.name,
                committed.map(|c| c.watermark),
                request.previous_watermark,
            )
            .unwrap_or_else(|| {
                format!("the watermark check failed ({error}) although the watermark matches now")
            }),
            Err(e) => format!(
                "the committed watermark is not the one this load continues from ({error}; reading it: {e})"
            ),
        }
    }

    /// A failed reconciliation check, with the numbers the statement before it selected (read
    /// back by its `batch:n` id; GetStatementResult, Redshift Data API Reference). Should that
    /// read fail, the message says so and still names the check.
    async fn reconciliation_message(&self, error: &str) -> String {
        let request = self.job.request;
        let table = &request.table.name;
        let numbers = match self.steps.iter().position(|s| s.action == Role::ReconcileCounts) {
            Some(position) => self.api.result(&format!("{}:{}", self.batch_id, position + 1)).await,
            None => return format!("the reconciliation check of table {table} failed ({error})"),
        };
        let row: Option<Vec<u64>> = numbers
            .ok()
            .and_then(|rows| rows.into_iter().next())
            .and_then(|row| row.into_iter().map(|value| value.and_then(|v| v.parse().ok())).collect());
        let check = crate::warehouse::plan_frame::reconcile_check_of(request);
        let explained = match (check, row.as_deref()) {
            (reconcile::Check::Rows(rows), Some([after])) => {
                reconcile::mismatch(table, reconcile::Expectation::Rows(rows), *after)
            }
            (reconcile::Check::CountedBefore, Some([before, new_keys, deleted_present, after])) => {
                let counts = reconcile::BeforeCounts {
                    before: *before,
                    new_keys: *new_keys,
                    deleted_present: *deleted_present,
                };
                reconcile::mismatch(table, reconcile::Expectation::Change(counts), *after)
            }
            _ => None,
        };
        explained.unwrap_or_else(|| {
            format!(
                "reconciliation failed for table {table}: the target's row count after the change is not the \
                 one the change implies ({error}; its numbers could not be read back); the load was rolled back: \
                 the target and the watermark are as they were"
            )
        })
    }

    /// Reports the sub-statements the batch ended without running.
    fn close_unfinished(&mut self, status: StatementStatus, why: &str) {
        for (position, reported) in self.reported.iter_mut().enumerate() {
            if !reported.finished {
                reported.finished = true;
                let why = Some(why.to_owned());
                self.job.reporter.ended(position + 1, status, Duration::ZERO, None, why, None);
            }
        }
    }

    /// The load's outcome from the batch's final state.
    async fn conclude(
        mut self,
        id: &str,
        (state, cancel_sent): (BatchState, bool),
    ) -> Result<LoadReport, WarehouseError> {
        match state.overall.phase {
            Phase::Finished => {
                self.close_unfinished(StatementStatus::Finished, "reported finished with its batch");
                Ok(self.reconcile(id, &state).await)
            }
            Phase::Aborted if cancel_sent => {
                self.close_unfinished(StatementStatus::Aborted, "cancelled");
                Err(WarehouseError::Cancelled)
            }
            _ => {
                let (position, message) = match self.failure.take() {
                    Some(failure) => failure,
                    None => {
                        let position = self.reported.iter().position(|r| !r.finished).unwrap_or(0);
                        let why =
                            state.overall.error.clone().unwrap_or_else(|| "the batch was aborted".into());
                        (position, why)
                    }
                };
                self.close_unfinished(
                    StatementStatus::Aborted,
                    "not run: the batch stopped at an earlier statement",
                );
                if self.steps[position].action == Role::GuardRun {
                    return self.already_committed().await;
                }
                Err(WarehouseError::Statement {
                    index: position + 1,
                    label: self.steps[position].label.clone(),
                    message,
                })
            }
        }
    }

    /// The run committed before — a batch that a crashed process left running finished after
    /// the crash — so this batch applied nothing, and the load is reported as the commit record
    /// says it went.
    async fn already_committed(&self) -> Result<LoadReport, WarehouseError> {
        let request = self.job.request;
        let record = super::read_run(self.api, &request.run_id).await?.ok_or_else(|| {
            WarehouseError::Other(format!(
                "the batch found run {} in {RUNS_TABLE}, but reading its record back found none",
                request.run_id
            ))
        })?;
        self.job.reporter.events().emit(EventKind::Warning {
            message: format!(
                "run {} had already committed (at {}, by an earlier batch of this run); nothing was applied twice",
                request.run_id, record.committed_at
            ),
        });
        let report =
            LoadReport { target_rows: record.target_rows, upserts: record.upserts, deletes: record.deletes };
        self.job.reporter.reconciled(&report);
        Ok(report)
    }

    /// The counts of a committed load: the target's rows from the reconciliation, and the
    /// staged upserts and deletes; a COPY that loaded another number of rows is a warning.
    async fn reconcile(&self, id: &str, state: &BatchState) -> LoadReport {
        let request = self.job.request;
        // For export changes the staged set counts every change line as an upsert: the rows
        // its COPY must load.
        let staged = request.staged.upserts + request.staged.deletes;
        if let Some(copy) = self.steps.iter().position(|s| s.action == Role::Copy) {
            self.warn_on_copy_mismatch(state, copy, staged);
        }
        let target_rows = match self.count_target(id).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "the batch committed but its row count could not be read; using the commit record");
                let record = super::read_run(self.api, &request.run_id).await.ok().flatten();
                record.map_or(0, |r| r.target_rows)
            }
        };
        let (upserts, deletes) = self.committed_counts().await;
        let report = LoadReport { target_rows, upserts, deletes };
        self.job.reporter.reconciled(&report);
        report
    }

    /// The upserts and deletes of a committed load: the staged set's, except for an incremental
    /// pushdown load (export changes), whose lines dynashift never reads: its batch counted the
    /// folded keys into the commit record, which is read back. Should that read fail, the
    /// staged change-line count stands in, with a warning.
    async fn committed_counts(&self) -> (u64, u64) {
        let request = self.job.request;
        let staged = &request.staged;
        if staged.format != StagedFormat::ExportChanges {
            return (staged.upserts, staged.deletes);
        }
        let why = match super::read_run(self.api, &request.run_id).await {
            Ok(Some(record)) => return (record.upserts, record.deletes),
            Ok(None) => "it found no record".to_owned(),
            Err(error) => error.to_string(),
        };
        self.job.reporter.events().emit(EventKind::Warning {
            message: format!(
                "run {} committed, but reading its counts back from {RUNS_TABLE} failed ({why}): the {} change \
                 lines COPY loaded are shown as upserts; {RUNS_TABLE} holds the folded upserts and deletes",
                request.run_id,
                staged.upserts + staged.deletes
            ),
        });
        (staged.upserts, staged.deletes)
    }

    fn warn_on_copy_mismatch(&self, state: &BatchState, copy: usize, staged: u64) {
        let Some(copied) = state.subs.get(copy).and_then(|s| s.rows) else { return };
        if u64::try_from(copied).ok() != Some(staged) {
            self.job.reporter.events().emit(EventKind::Warning {
                message: format!(
                    "COPY loaded {copied} rows but {staged} were staged; check the staged files"
                ),
            });
        }
    }

    /// The target's rows after the change: the last number the reconciliation selected (the
    /// count the run's record made).
    async fn count_target(&self, id: &str) -> Result<u64, String> {
        let position = self
            .steps
            .iter()
            .position(|s| s.action == Role::ReconcileCounts)
            .ok_or("no reconciliation statement")?;
        let rows = self.api.result(&format!("{id}:{}", position + 1)).await.map_err(|f| f.message)?;
        let text = rows
            .first()
            .and_then(|r| r.last())
            .cloned()
            .flatten()
            .ok_or("the reconciliation returned no row")?;
        text.parse().map_err(|_| format!("the reconciliation's count returned `{text}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_are_transient_and_everything_else_permanent() {
        let conflict = "ERROR: 1023 DETAIL: Serializable isolation violation on table - 123456, transactions forming the cycle are: 1, 2";
        assert_eq!(
            transient_cause(conflict).as_deref(),
            Some("a serializable-isolation conflict (Redshift 1023)")
        );
        let race = "ERROR: duplicate key value violates unique constraint \"pg_type_typname_nsp_index\"";
        assert!(transient_cause(race).is_some());
        assert_eq!(transient_cause("ERROR: permission denied for relation orders"), None);
        assert_eq!(transient_cause("run r1 is already recorded in dynashift_runs"), None);
        let lost_upgrade = "ERROR: column \"seq\" of relation \"dynashift_runs\" already exists";
        assert_eq!(
            transient_cause(lost_upgrade).as_deref(),
            Some("another load upgrading dynashift_runs at once")
        );
    }

    #[test]
    fn losing_a_race_to_create_the_runs_table_or_a_schema_is_transient() {
        let creating_runs = Some("another load creating dynashift_runs at once");
        for lost in [
            "ERROR: type \"dynashift_runs\" already exists",
            "ERROR: relation \"dynashift_runs\" already exists",
        ] {
            assert_eq!(transient_cause(lost).as_deref(), creating_runs, "{lost}");
        }
        assert_eq!(
            transient_cause("ERROR: schema \"sales\" already exists").as_deref(),
            Some("another load creating the same schema at once")
        );
        // A target table is created by its own table's load only: no race, a real error.
        assert_eq!(transient_cause("ERROR: relation \"orders\" already exists"), None);
        assert_eq!(transient_cause("ERROR: type \"orders\" already exists"), None);
    }
}
