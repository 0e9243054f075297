//! One run of one table: the state machine
//! `Planned → Exporting → Exported → Staging → Staged → Loading → Loaded → Committed`,
//! journaled at every boundary. The watermark moves only with the warehouse's commit.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod recorder;

use self::recorder::JournalRecorder;
use super::cleanup;
use super::engine::RunRequest;
use super::error::{PipelineError, RunFailure};
use super::events::{EventKind, EventSink, RunEvent, RunOutcome, Stage};
use super::export;
use super::fault::{self, Fault};
use super::journal::{JournalExport, JournalFailure, JournalStatement, RunJournal};
use super::lock::Lease;
use super::stage::{self, StageInput};
use super::staged::{StagedFormat, StagedSet, config_fingerprint, staged_columns, target_columns};
use super::state;
use crate::config::{Mode, TableConfig};
use crate::human;
use crate::source::{ExportDescription, ExportPlan, ExportSource, PlanOptions, PlanRequest, PlannedExport};
use crate::store::ObjectStore;
use crate::warehouse::{LoadRequest, Warehouse};

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
        let renewal = spawn_renewal(lease, ctx.store.clone(), ctx.cancel.clone());
        let result = self.sync().await;
        renewal.stop_and_release(ctx.store.as_ref()).await;
        result
    }

    /// Plan, then report what would run — windows, files and SQL — changing nothing.
    async fn dry_run(&mut self) -> Result<RunOutcome, PipelineError> {
        let ctx = self.ctx;
        let previous = self.reconciled_watermark(false).await?;
        let mut plan = self.plan_quietly(previous).await?;
        if !plan.exports.is_empty() {
            let files = self.planned_files(&plan).await?;
            plan.notes.extend(files);
        }
        self.report_plan(&plan);
        if plan.exports.is_empty() {
            return Ok(RunOutcome::DryRun);
        }
        let staged = dry_run_staged_set(&ctx.table, ctx.request.mode, &ctx.run_id);
        let request = self.load_request(staged, &plan, previous);
        let statements = ctx.warehouse.plan(&request);
        let total = statements.len();
        for (i, statement) in statements.into_iter().enumerate() {
            ctx.events.emit(EventKind::StatementPlanned {
                index: i + 1,
                total,
                label: statement.label,
                sql: statement.sql,
            });
        }
        Ok(RunOutcome::DryRun)
    }

    /// What a dry run can say of the files: the data files of exports that already exist (read
    /// from their manifests, verified later by the real run), and where staged files would go.
    async fn planned_files(&self, plan: &ExportPlan) -> Result<Vec<String>, PipelineError> {
        let ctx = self.ctx;
        let mut notes = Vec::new();
        for planned in &plan.exports {
            let Some(existing) = &planned.existing else {
                notes.push(format!(
                    "{}: its data files are known once DynamoDB has written the export",
                    planned.spec
                ));
                continue;
            };
            let export = stage::manifest::read_export(ctx.store.as_ref(), existing).await?;
            let items: u64 = export.files.iter().map(|f| f.item_count).sum();
            let mut note = format!(
                "{}: {}, {}:",
                planned.spec,
                human::counted(export.files.len() as u64, "data file"),
                human::counted(items, "item")
            );
            for file in &export.files {
                let file_items = human::counted(file.item_count, "item");
                note.push_str(&format!("\n  {} ({file_items})", ctx.store.url_of(&file.key)));
            }
            notes.push(note);
        }
        let staged_dir = ctx.store.url_of(&format!("{}staged/<run id>/", ctx.table.state_prefix()));
        notes.push(match StagedFormat::for_run(&ctx.table, ctx.request.mode) {
            StagedFormat::Folded => {
                format!("staged files, COPY manifest and jsonpaths would go to {staged_dir}")
            }
            StagedFormat::ExportItems => format!(
                "pushdown: Redshift would read the export's data files directly; \
                 the COPY manifest and jsonpaths would go to {staged_dir}"
            ),
        });
        Ok(notes)
    }

    async fn sync(&mut self) -> Result<RunOutcome, PipelineError> {
        let ctx = self.ctx;
        let interrupted = self.settle_interrupted_runs().await?;
        let keep = [ctx.run_id.as_str(), interrupted.as_ref().map_or("", |old| old.run_id.as_str())];
        match cleanup::sweep_staged_folders(ctx.store.as_ref(), &ctx.table, &keep).await {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(table = %ctx.table.name, runs = ?removed, "removed staged folders of earlier runs");
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "could not remove staged folders of earlier runs"),
        }
        let previous = self.reconciled_watermark(true).await?;
        if let Some(old) = interrupted {
            if old.mode == ctx.request.mode && old.previous_watermark == previous && !old.exports.is_empty() {
                return self.resume(old, previous).await;
            }
            self.close_interrupted(
                old,
                "its plan no longer applies (another mode, or a run committed since)",
            )
            .await?;
        }
        let plan = self.plan(previous).await?;
        let mut journal = RunJournal::new(&ctx.run_id, &ctx.table.name, ctx.request.mode, previous);
        journal.config_fingerprint = Some(config_fingerprint(&ctx.table, ctx.request.mode));
        journal.exports = plan
            .exports
            .iter()
            .enumerate()
            .map(|(index, p)| JournalExport {
                spec: p.spec.clone(),
                client_token: Some(export::client_token(&ctx.run_id, index, &p.spec)),
                export_arn: None,
                description: None,
            })
            .collect();
        journal.target_watermark = plan.exports.last().map(|p| p.spec.watermark());
        journal.accepted_gaps = plan.accepted_gaps.clone();
        if plan.exports.is_empty() {
            // Sources put the reason for an empty plan last; earlier notes were already reported.
            let reason = plan.notes.last().cloned().unwrap_or_else(|| "nothing to export".into());
            journal.note = Some(reason.clone());
            journal.finished_at = Some(Utc::now());
            self.journal.open_and_save(journal).await?;
            return Ok(RunOutcome::UpToDate { watermark: previous, reason });
        }
        self.journal.open_and_save(journal).await?;

        let exports = self.export(&plan).await?;
        let staged = self.stage(exports).await?;
        self.load(staged, &plan, previous).await
    }

    /// Continues a run that was killed before it committed: the same exports (found again by
    /// their ARNs, never requested twice), its verified staged files when it got that far, and a
    /// fresh load — the warehouse holds no commit of it (checked by `settle_interrupted_runs`).
    async fn resume(
        &mut self,
        old: RunJournal,
        previous: Option<DateTime<Utc>>,
    ) -> Result<RunOutcome, PipelineError> {
        let ctx = self.ctx;
        ctx.events.emit(EventKind::Resuming { resumed_run_id: old.run_id.clone(), stage: old.stage });
        let plan = ExportPlan {
            exports: old
                .exports
                .iter()
                .map(|e| PlannedExport { spec: e.spec.clone(), existing: e.description.clone() })
                .collect(),
            notes: vec![format!("resuming run {} at stage {}", old.run_id, old.stage)],
            accepted_gaps: old.accepted_gaps.clone(),
        };
        self.report_plan(&plan);
        let mut journal = RunJournal::new(&ctx.run_id, &ctx.table.name, ctx.request.mode, previous);
        let fingerprint = config_fingerprint(&ctx.table, ctx.request.mode);
        journal.config_fingerprint = Some(fingerprint.clone());
        journal.exports = old.exports.clone();
        // The exports keep the tokens they were (or are about to be) requested with.
        for (index, export) in journal.exports.iter_mut().enumerate() {
            export.client_token.get_or_insert_with(|| export::legacy_client_token(&old.run_id, index));
        }
        journal.target_watermark = old.target_watermark;
        journal.accepted_gaps = old.accepted_gaps.clone();
        journal.note = Some(format!("resumes run {} (interrupted at stage {})", old.run_id, old.stage));
        self.journal.open_and_save(journal).await?;
        // Staged files are reused only under the config they were staged with (columns, types,
        // paths… may have changed since; the format follows full_load), and only when they are
        // all still there.
        let format = StagedFormat::for_run(&ctx.table, ctx.request.mode);
        let reusable_staged = match &old.staged {
            Some(staged) if old.stage >= Stage::Staged && staged.format == format => {
                match self.staged_under(&old, &fingerprint) {
                    true if self.staged_files_exist(staged).await? => Some(staged.clone()),
                    _ => None,
                }
            }
            _ => None,
        };
        if reusable_staged.is_none() && old.staged.is_some() {
            cleanup::remove_staged_folder(ctx.store.as_ref(), &ctx.table, &old.run_id).await?;
        }
        let known_arns: Vec<Option<String>> = old.exports.iter().map(|e| e.export_arn.clone()).collect();
        self.close_interrupted(old, &format!("resumed by run {}", ctx.run_id)).await?;

        let staged = match reusable_staged {
            Some(staged) => {
                self.journal.update(|journal| journal.staged = Some(staged.clone()));
                self.enter(Stage::Staged).await?;
                staged
            }
            None => {
                let exports = self.export_with(&plan, known_arns).await?;
                self.stage(exports).await?
            }
        };
        self.load(staged, &plan, previous).await
    }

    /// Whether `old` staged its files under the config this run has (`fingerprint`); says so
    /// to the user when not, since its files are then staged again from the exports.
    fn staged_under(&self, old: &RunJournal, fingerprint: &str) -> bool {
        let why = match old.config_fingerprint.as_deref() {
            Some(staged_with) if staged_with == fingerprint => return true,
            Some(_) => "the table's configuration changed since (columns, types, paths or policies)",
            None => "an older dynashift staged them without recording the configuration it used",
        };
        let message = format!(
            "run {} staged its files, but {why}: staging again from its exports, so the load uses              the current mapping",
            old.run_id
        );
        self.ctx.events.emit(EventKind::Warning { message });
        false
    }

    async fn staged_files_exist(&self, staged: &StagedSet) -> Result<bool, PipelineError> {
        let store = self.ctx.store.as_ref();
        for key in staged.files.iter().map(|f| f.key.as_str()).chain([staged.manifest_key.as_str()]) {
            if store.head(key).await?.is_none() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Settles the journals of earlier runs that never finished (killed, power loss): those the
    /// warehouse holds a commit of are closed as committed, older interrupted ones as
    /// interrupted, and the newest interrupted one is returned to be resumed.
    async fn settle_interrupted_runs(&mut self) -> Result<Option<RunJournal>, PipelineError> {
        let ctx = self.ctx;
        let mut newest_interrupted = None;
        // Newest first, so the first uncommitted one is the one to resume.
        for mut journal in RunJournal::list(&ctx.table, ctx.store.as_ref()).await? {
            if !journal.awaits_resume() {
                continue;
            }
            if let Some(record) = ctx.warehouse.find_run(&journal.run_id).await? {
                journal.stage = Stage::Committed;
                journal.target_rows = Some(record.target_rows);
                journal.note = Some("committed; the run was interrupted before it could record that".into());
                journal.finished_at = Some(Utc::now());
                journal.failure = None;
                journal.resumable = false;
                journal.save(&ctx.table, ctx.store.as_ref()).await?;
            } else if newest_interrupted.is_none() {
                newest_interrupted = Some(journal);
            } else {
                self.close_interrupted(journal, "a newer run was interrupted too").await?;
            }
        }
        Ok(newest_interrupted)
    }

    /// Closes an interrupted run's journal; nothing of it was committed.
    async fn close_interrupted(&mut self, mut journal: RunJournal, why: &str) -> Result<(), PipelineError> {
        let ctx = self.ctx;
        ctx.events.emit(EventKind::Warning {
            message: format!(
                "run {} was interrupted at stage {}; nothing of it was committed ({why})",
                journal.run_id, journal.stage
            ),
        });
        journal.failure = Some(JournalFailure {
            stage: journal.stage,
            cause: format!("interrupted: the process ended before the run finished; {why}"),
            hint: "nothing of it was committed; a later run covers the same changes".into(),
        });
        journal.finished_at = Some(Utc::now());
        journal.resumable = false;
        journal.save(&ctx.table, ctx.store.as_ref()).await?;
        Ok(())
    }

    /// The committed watermark according to the warehouse; when `fix_copy`, the store's copy is
    /// made to match it.
    async fn reconciled_watermark(&mut self, fix_copy: bool) -> Result<Option<DateTime<Utc>>, PipelineError> {
        let ctx = self.ctx;
        let record = ctx.warehouse.last_commit(&ctx.table.name).await?;
        if fix_copy && state::reconcile_copy(ctx.store.as_ref(), &ctx.table, record.as_ref()).await? {
            tracing::info!(table = %ctx.table.name, "watermark copy in the store reconciled with the warehouse");
        }
        Ok(record.map(|r| r.watermark))
    }

    async fn plan(&mut self, watermark: Option<DateTime<Utc>>) -> Result<ExportPlan, PipelineError> {
        let plan = self.plan_quietly(watermark).await?;
        self.report_plan(&plan);
        Ok(plan)
    }

    /// Asks the source for the exports this run needs, without reporting them yet.
    async fn plan_quietly(&mut self, watermark: Option<DateTime<Utc>>) -> Result<ExportPlan, PipelineError> {
        let ctx = self.ctx;
        let mode = ctx.request.mode;
        if !ctx.source.supports(mode) {
            return Err(PipelineError::ModeNotSupported {
                table: ctx.table.name.clone(),
                mode,
                reason: format!("{} cannot", ctx.source.describe()),
            });
        }
        Ok(ctx.source.plan_with(PlanRequest { mode, watermark }, ctx.options).await?)
    }

    fn report_plan(&self, plan: &ExportPlan) {
        let ctx = self.ctx;
        ctx.events.emit(EventKind::Planned {
            exports: plan.exports.iter().map(|p| p.spec.clone()).collect(),
            notes: plan.notes.clone(),
        });
        for gap in &plan.accepted_gaps {
            ctx.events.emit(EventKind::GapAccepted { from: gap.from, to: gap.to });
        }
        for note in &plan.notes {
            tracing::info!(table = %ctx.table.name, note = %note, "plan note");
        }
    }

    async fn export(&mut self, plan: &ExportPlan) -> Result<Vec<ExportDescription>, PipelineError> {
        self.export_with(plan, vec![None; plan.exports.len()]).await
    }

    /// Requests the planned exports whose ARN is not known yet (a resumed run knows some), then
    /// polls them all until complete.
    async fn export_with(
        &mut self,
        plan: &ExportPlan,
        known_arns: Vec<Option<String>>,
    ) -> Result<Vec<ExportDescription>, PipelineError> {
        let ctx = self.ctx;
        self.enter(Stage::Exporting).await?;
        let total = plan.exports.len();
        let mut arns = Vec::with_capacity(total);
        for (index, planned) in plan.exports.iter().enumerate() {
            let arn = match &known_arns[index] {
                Some(arn) => {
                    let (export_arn, spec) = (arn.clone(), planned.spec.clone());
                    ctx.events.emit(EventKind::ExportFound { index, total, export_arn, spec });
                    arn.clone()
                }
                None => {
                    let token = self.client_token(index, planned);
                    let position = (index, total);
                    let source = ctx.source.as_ref();
                    let arn =
                        export::request(source, &ctx.table, &token, position, planned, &ctx.events).await?;
                    if fault::after_export_request(index) {
                        fault::crash(&format!("after requesting export {index}"));
                    }
                    arn
                }
            };
            // Journal the ARN at once: a crashed run's export is found again by it.
            self.journal.record(|journal| journal.exports[index].export_arn = Some(arn.clone())).await?;
            arns.push(arn);
        }
        let descriptions = export::wait_all(
            ctx.source.as_ref(),
            ctx.store.as_ref(),
            &plan.exports,
            &arns,
            &ctx.events,
            &ctx.cancel,
        )
        .await?;
        self.journal.update(|journal| {
            for (entry, description) in journal.exports.iter_mut().zip(&descriptions) {
                entry.description = Some(description.clone());
            }
        });
        self.enter(Stage::Exported).await?;
        Ok(descriptions)
    }

    /// The journaled ClientToken of export `index` (a journal always has one: see `sync` and
    /// `resume`); a fresh one should the journal be missing.
    fn client_token(&self, index: usize, planned: &PlannedExport) -> String {
        let journaled = self.journal.journal().and_then(|j| j.exports.get(index)?.client_token.clone());
        journaled.unwrap_or_else(|| export::client_token(&self.ctx.run_id, index, &planned.spec))
    }

    /// Stages the exports, or for a pushdown full load only lists the export's files for the
    /// warehouse to read itself.
    async fn stage(&mut self, exports: Vec<ExportDescription>) -> Result<StagedSet, PipelineError> {
        let ctx = self.ctx;
        self.enter(Stage::Staging).await?;
        let input = StageInput {
            run_id: ctx.run_id.clone(),
            table: ctx.table.clone(),
            exports,
            store: ctx.store.clone(),
            events: ctx.events.clone(),
            cancel: ctx.cancel.clone(),
            rules: ctx.warehouse.stage_rules(),
        };
        let (staged, counts) = match StagedFormat::for_run(&ctx.table, ctx.request.mode) {
            StagedFormat::Folded => stage::stage(input).await?,
            StagedFormat::ExportItems => stage::stage_export_items(input).await?,
        };
        self.journal.update(|journal| {
            journal.stage_counts = Some(counts);
            journal.staged = Some(staged.clone());
        });
        self.enter(Stage::Staged).await?;
        Ok(staged)
    }

    async fn load(
        &mut self,
        staged: StagedSet,
        plan: &ExportPlan,
        previous: Option<DateTime<Utc>>,
    ) -> Result<RunOutcome, PipelineError> {
        let ctx = self.ctx;
        self.enter(Stage::Loading).await?;
        if ctx.cancel.is_cancelled() {
            return Err(PipelineError::Cancelled);
        }
        let request = self.load_request(staged.clone(), plan, previous);
        let (tee, statements) = statement_tee(&ctx.events);
        let result = ctx.warehouse.load(&request, &tee, &ctx.cancel).await;
        drop(tee);
        let statements = statements.collect().await;
        self.journal.update(|journal| journal.statements = statements);
        let report = result?;
        // The load transaction committed the data and the watermark together.
        ctx.events.emit(EventKind::WatermarkAdvanced { from: previous, to: request.watermark });
        self.journal.update(|journal| journal.target_rows = Some(report.target_rows));
        self.enter(Stage::Loaded).await?;
        self.enter(Stage::Committed).await?;
        self.after_commit(&staged).await;
        Ok(RunOutcome::Committed {
            watermark: request.watermark,
            upserts: report.upserts,
            deletes: report.deletes,
            target_rows: report.target_rows,
        })
    }

    /// Housekeeping once committed; failures here are only logged, the sync itself is done.
    async fn after_commit(&mut self, staged: &StagedSet) {
        let ctx = self.ctx;
        if let Err(err) = self.journal.record(|journal| journal.finished_at = Some(Utc::now())).await {
            tracing::warn!(%err, "could not record the committed run in its journal");
        }
        match ctx.warehouse.last_commit(&ctx.table.name).await {
            Ok(record) => {
                if let Err(err) = state::reconcile_copy(ctx.store.as_ref(), &ctx.table, record.as_ref()).await
                {
                    tracing::warn!(%err, "could not update the watermark copy in the store");
                }
            }
            Err(err) => tracing::warn!(%err, "could not read back the commit record"),
        }
        for key in staged.written_keys() {
            if let Err(err) = ctx.store.delete(key).await {
                tracing::warn!(%err, key, "could not remove a staged file");
            }
        }
    }

    fn load_request(
        &self,
        staged: StagedSet,
        plan: &ExportPlan,
        previous: Option<DateTime<Utc>>,
    ) -> LoadRequest {
        let ctx = self.ctx;
        let watermark =
            plan.exports.last().map(|p| p.spec.watermark()).expect("a load follows a non-empty plan");
        LoadRequest {
            run_id: ctx.run_id.clone(),
            table: ctx.table.clone(),
            mode: ctx.request.mode,
            staged,
            watermark,
            previous_watermark: previous,
            store: ctx.store.clone(),
            accepted_gaps: plan.accepted_gaps.clone(),
        }
    }

    /// Moves to `stage`, journals it and reports it.
    async fn enter(&mut self, stage: Stage) -> Result<(), PipelineError> {
        if self.ctx.cancel.is_cancelled() && stage < Stage::Loaded {
            return Err(PipelineError::Cancelled);
        }
        self.stage = stage;
        self.journal.record(|journal| journal.stage = stage).await?;
        self.ctx.events.emit(EventKind::StageChanged { stage });
        match fault::after_stage(stage) {
            Some(Fault::Crash) => fault::crash(&format!("after stage {stage}")),
            Some(Fault::Fail) => {
                Err(PipelineError::Inconsistent(format!("injected failure after stage {stage}")))
            }
            None => Ok(()),
        }
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

/// The staged set a dry run shows SQL for: the keys and format a real run would write, no
/// files yet (so a pushdown table's dry run shows the pushdown COPY).
fn dry_run_staged_set(table: &TableConfig, mode: Mode, run_id: &str) -> StagedSet {
    let dir = format!("{}staged/{run_id}", table.state_prefix());
    let format = StagedFormat::for_run(table, mode);
    let columns = match format {
        StagedFormat::Folded => staged_columns(table),
        StagedFormat::ExportItems => target_columns(table),
    };
    StagedSet {
        manifest_key: format!("{dir}/copy.manifest"),
        jsonpaths_key: format!("{dir}/jsonpaths.json"),
        columns,
        files: Vec::new(),
        upserts: 0,
        deletes: 0,
        format,
    }
}

/// A sink for the warehouse whose statement events are also collected for the journal.
fn statement_tee(events: &EventSink) -> (EventSink, StatementLog) {
    let (tx, mut rx) = mpsc::unbounded_channel::<RunEvent>();
    let forward_to = events.clone();
    let collected = Arc::new(Mutex::new(Vec::<JournalStatement>::new()));
    let sink = collected.clone();
    let task = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            record_statement(&mut sink.lock().expect("statement log lock"), &event.kind);
            forward_to.forward(event);
        }
    });
    (events.redirected(tx), StatementLog { collected, task })
}

struct StatementLog {
    collected: Arc<Mutex<Vec<JournalStatement>>>,
    task: tokio::task::JoinHandle<()>,
}

impl StatementLog {
    /// Waits for the tee to drain (its sender must be dropped first) and returns the statements.
    async fn collect(self) -> Vec<JournalStatement> {
        let _ = self.task.await;
        std::mem::take(&mut *self.collected.lock().expect("statement log lock"))
    }
}

fn record_statement(statements: &mut Vec<JournalStatement>, kind: &EventKind) {
    if let EventKind::StatementFinished { index, .. } = kind
        && fault::in_load(*index)
    {
        fault::crash(&format!("load statement {index}"));
    }
    match kind {
        EventKind::StatementSubmitted { label, sql, .. } => statements.push(JournalStatement {
            label: label.clone(),
            sql: sql.clone(),
            status: None,
            duration_ms: None,
            rows: None,
            error: None,
            query_id: None,
        }),
        EventKind::StatementFinished { index, status, duration_ms, rows, error, query_id } => {
            if let Some(statement) = index.checked_sub(1).and_then(|i| statements.get_mut(i)) {
                statement.status = Some(*status);
                statement.duration_ms = Some(*duration_ms);
                statement.rows = *rows;
                statement.error = error.clone();
                statement.query_id = query_id.clone();
            }
        }
        _ => {}
    }
}

/// The background lease renewal of a run.
struct Renewal {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Lease>,
}

fn spawn_renewal(mut lease: Lease, store: Arc<dyn ObjectStore>, run_cancel: CancellationToken) -> Renewal {
    let stop = CancellationToken::new();
    let stop_signal = stop.clone();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop_signal.cancelled() => return lease,
                _ = tokio::time::sleep(lease.renew_every()) => {}
            }
            if let Err(err) = lease.renew(store.as_ref()).await {
                tracing::error!(%err, "lost the table lease; cancelling the run");
                run_cancel.cancel();
                return lease;
            }
        }
    });
    Renewal { stop, task }
}

impl Renewal {
    async fn stop_and_release(self, store: &dyn ObjectStore) {
        self.stop.cancel();
        match self.task.await {
            Ok(lease) => {
                if let Err(err) = lease.release(store).await {
                    tracing::warn!(%err, "could not release the table lease; it will expire");
                }
            }
            Err(err) => tracing::warn!(%err, "lease renewal task ended abnormally; the lease will expire"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FullLoad;
    use crate::pipeline::stage::testing::table_with;

    #[test]
    fn a_dry_run_of_a_pushdown_table_plans_the_pushdown_load_of_full_syncs_only() {
        let table = table_with(|t| t.full_load = FullLoad::Pushdown);
        let full = dry_run_staged_set(&table, Mode::Full, "r");
        assert_eq!(full.format, StagedFormat::ExportItems);
        assert_eq!(full.columns, target_columns(&table));
        assert_eq!(full.jsonpaths_key, "orders/staged/r/jsonpaths.json");
        let incremental = dry_run_staged_set(&table, Mode::Incremental, "r");
        assert_eq!(incremental.format, StagedFormat::Folded);
        assert_eq!(incremental.columns, staged_columns(&table));
    }
}
