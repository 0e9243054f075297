//! One run of one table: the state machine
//! `Planned → Exporting → Exported → Staging → Staged → Loading → Loaded → Committed`,
//! journaled at every boundary. The watermark moves only with the warehouse's commit.
//!
//! This file holds what a run works with and how it ends (reported, and recorded in its
//! journal); the pieces live beside it: `machine` (the stages, whose load journals the
//! statements the warehouse returns), `recovery` (interrupted runs), `dry_run`, `lease_keeper`
//! (renewal) and `recorder` (the journal).

use std::sync::Arc;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

mod accounting;
mod drift;
mod dry_run;
mod lease_keeper;
mod machine;
mod recorder;
mod recovery;
mod target_check;

use self::recorder::JournalRecorder;
use super::error::{PipelineError, RunFailure};
use super::events::{EventKind, EventSink, RunOutcome, Stage};
use super::journal::{JournalFailure, RunJournal};
use super::lock::Lease;
use crate::config::TableConfig;
use crate::contract::{PlanOptions, RunRequest};
use crate::source::ExportSource;
use crate::store::ObjectStore;
use crate::warehouse::Warehouse;

/// Everything one run works with.
pub struct RunContext {
    pub run_id: String,
    pub table: Arc<TableConfig>,
    pub source: Arc<dyn ExportSource>,
    pub store: Arc<dyn ObjectStore>,
    pub warehouse: Arc<dyn Warehouse>,
    pub request: RunRequest,
    pub options: PlanOptions,
    pub events: EventSink,
    pub cancel: CancellationToken,
}

/// Runs to the end and reports the outcome both as the return value and as the last event.
pub async fn execute(ctx: RunContext) -> Result<RunOutcome, RunFailure> {
    ctx.events.emit(EventKind::RunStarted {
        mode: ctx.request.mode,
        dry_run: ctx.request.dry_run,
        source: ctx.source.describe(),
        store: ctx.store.root_url(),
        warehouse: ctx.warehouse.describe(),
        target: ctx.table.target.to_string(),
    });
    let journal = JournalRecorder::new(ctx.table.clone(), ctx.store.clone());
    let mut run = Run { ctx: &ctx, stage: Stage::Planned, journal, leased: false };
    let result = if ctx.request.dry_run { run.dry_run().await } else { run.locked().await };
    match result {
        Ok(outcome) => {
            ctx.events.emit(EventKind::RunFinished { result: outcome.clone() });
            Ok(outcome)
        }
        Err(err) => {
            let failure = RunFailure::for_source(run.stage, &err, &ctx.table.source);
            // Reported to the user as an event; the log keeps a copy for later reading.
            tracing::info!(run_id = %ctx.run_id, table = %ctx.table.name, stage = %failure.stage, cause = %failure.cause, "run failed");
            // A cancelled run leaves its exports running in DynamoDB (they cannot be cancelled):
            // the next run picks them up rather than paying for new ones.
            let resumable = matches!(err, PipelineError::Cancelled);
            run.record_failure(&failure, resumable).await;
            ctx.events.emit(EventKind::RunFailed {
                stage: failure.stage,
                cause: failure.cause.clone(),
                hint: failure.hint.clone(),
            });
            Err(failure)
        }
    }
}

struct Run<'a> {
    ctx: &'a RunContext,
    /// The stage the run is in; a failure is reported against it.
    stage: Stage,
    journal: JournalRecorder,
    /// The run holds the table's lease: a failure is this table's run failing, not a skip.
    leased: bool,
}

impl Run<'_> {
    /// Holds the table's lease for the whole run, renewing it in the background.
    async fn locked(&mut self) -> Result<RunOutcome, PipelineError> {
        let ctx = self.ctx;
        // Taking over a stale lease waits a lease period; a cancel must not wait for that.
        let lease = tokio::select! {
            lease = Lease::acquire(ctx.store.as_ref(), &ctx.table, &ctx.run_id) => lease?,
            _ = ctx.cancel.cancelled() => return Err(PipelineError::Cancelled),
        };
        self.leased = true;
        let renewal = lease_keeper::spawn_renewal(lease, ctx.store.clone(), ctx.cancel.clone());
        let result = self.sync().await;
        renewal.stop_and_release(ctx.store.as_ref()).await;
        result
    }

    /// Best effort: the failure is reported as an event whatever happens here.
    async fn record_failure(&mut self, failure: &RunFailure, resumable: bool) {
        let ctx = self.ctx;
        if !self.journal.is_open() {
            // A run that failed before its plan was journaled (no watermark yet, the PITR
            // window, an unreachable source) is recorded too, so history, `status` and the
            // failure count see it. Only under the lease: a skipped run is not a run.
            if !self.leased {
                return;
            }
            let journal = RunJournal::new(&ctx.run_id, &ctx.table.name, ctx.request.mode, None);
            self.journal.open(RunJournal { stage: failure.stage, ..journal });
        }
        let recorded = self.journal.record(|journal| {
            journal.resumable = resumable && !journal.exports.is_empty() && journal.stage < Stage::Loaded;
            journal.failure = Some(JournalFailure {
                stage: failure.stage,
                cause: failure.cause.clone(),
                hint: failure.hint.clone(),
            });
            journal.finished_at = Some(Utc::now());
        });
        if let Err(err) = recorded.await {
            tracing::warn!(%err, "could not record the failure in the run journal");
        }
    }
}
