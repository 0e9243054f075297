//! The run's state machine: plan, export, stage, load and commit, each boundary journaled
//! (through the recorder) and reported. A stage that fails leaves the run at that stage, which
//! `execute` reports and records.

use chrono::{DateTime, Utc};

use super::{Run, recovery};
use crate::contract::{DriftCheck, ExportDescription};
use crate::pipeline::error::PipelineError;
use crate::pipeline::events::{EventKind, RunOutcome, Stage};
use crate::pipeline::export;
use crate::pipeline::fault::{self, Fault};
use crate::pipeline::journal::{JournalExport, RunJournal};
use crate::pipeline::stage::{self, StageInput};
use crate::pipeline::staged::{FormatForRun as _, StagedFormat, StagedSet, config_fingerprint};
use crate::pipeline::{cleanup, state};
use crate::source::{ExportPlan, PlanRequest, PlannedExport};
use crate::warehouse::{LoadCall, LoadRequest};

impl Run<'_> {
    /// Settles earlier runs, then resumes the interrupted one whose plan still applies or plans
    /// and runs afresh.
    pub(super) async fn sync(&mut self) -> Result<RunOutcome, PipelineError> {
        let ctx = self.ctx;
        let interrupted = recovery::settle_interrupted_runs(ctx).await?;
        let keep = [ctx.run_id.as_str(), interrupted.as_ref().map_or("", |old| old.run_id.as_str())];
        match cleanup::sweep_staged_folders(ctx.store.as_ref(), &ctx.table, &keep).await {
            Ok(removed) if !removed.is_empty() => {
                tracing::info!(table = %ctx.table.name, runs = ?removed, "removed staged folders of earlier runs");
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(%err, "could not remove staged folders of earlier runs"),
        }
        let previous = self.reconciled_watermark(true).await?;
        super::target_check::check_target_columns(ctx).await?;
        if let Some(old) = interrupted {
            if old.mode == ctx.request.mode && old.previous_watermark == previous && !old.exports.is_empty() {
                return self.resume(old, previous).await;
            }
            recovery::close_interrupted(
                ctx,
                old,
                "its plan no longer applies (another mode, or a run committed since)",
            )
            .await?;
        }
        let plan = self.plan(previous).await?;
        let mut journal = RunJournal::new(&ctx.run_id, &ctx.table.name, ctx.request.mode, previous);
        journal.config_fingerprint =
            Some(config_fingerprint(&ctx.table, ctx.request.mode, ctx.warehouse.stage_rules()));
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
        mut old: RunJournal,
        previous: Option<DateTime<Utc>>,
    ) -> Result<RunOutcome, PipelineError> {
        let ctx = self.ctx;
        ctx.events.emit(EventKind::Resuming { resumed_run_id: old.run_id.clone(), stage: old.stage });
        let plan = recovery::resumed_plan(&old);
        self.report_plan(&plan);
        let fingerprint = config_fingerprint(&ctx.table, ctx.request.mode, ctx.warehouse.stage_rules());
        self.journal.open_and_save(recovery::resumed_journal(ctx, &old, previous, &fingerprint)).await?;
        let reusable_staged = recovery::reusable_staged(ctx, &old, &fingerprint).await?;
        let known_arns: Vec<Option<String>> = old.exports.iter().map(|e| e.export_arn.clone()).collect();
        // This run takes the exports' estimate over (resumed_journal copied it), so a 30-day
        // total counts them once.
        old.cost = None;
        let old_drift = old.drift.clone();
        recovery::close_interrupted(ctx, old, &format!("resumed by run {}", ctx.run_id)).await?;

        let staged = match reusable_staged {
            Some(staged) => {
                self.journal.update(|journal| journal.staged = Some(staged.clone()));
                self.report_carried_cost();
                if let Some(drift) = &old_drift {
                    super::drift::act_on_drift(ctx, drift)?;
                }
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

    /// The committed watermark according to the warehouse; when `fix_copy`, the store's copy is
    /// made to match it.
    pub(super) async fn reconciled_watermark(
        &mut self,
        fix_copy: bool,
    ) -> Result<Option<DateTime<Utc>>, PipelineError> {
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
    pub(super) async fn plan_quietly(
        &mut self,
        watermark: Option<DateTime<Utc>>,
    ) -> Result<ExportPlan, PipelineError> {
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

    pub(super) fn report_plan(&self, plan: &ExportPlan) {
        let ctx = self.ctx;
        let mut notes = plan.notes.clone();
        notes.extend(full_sync_history_note(&ctx.table, ctx.request.mode, plan));
        ctx.events.emit(EventKind::Planned {
            exports: plan.exports.iter().map(|p| p.spec.clone()).collect(),
            notes: notes.clone(),
        });
        for gap in &plan.accepted_gaps {
            ctx.events.emit(EventKind::GapAccepted { from: gap.from, to: gap.to });
        }
        for note in &notes {
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
        self.report_cost(&descriptions);
        self.check_item_count(&descriptions).await;
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
        let pushdown = |(staged, counts)| {
            let reason =
                "a pushdown load reads the export in Redshift; dynashift never sees its items".into();
            (staged, counts, DriftCheck::NotCounted { reason })
        };
        let (staged, counts, drift) = match StagedFormat::for_run(&ctx.table, ctx.request.mode) {
            StagedFormat::Folded => {
                let staged = stage::stage_counting_drift(input).await?;
                (staged.set, staged.counts, DriftCheck::Counted { report: staged.drift })
            }
            StagedFormat::ExportItems => pushdown(stage::stage_export_items(input).await?),
            StagedFormat::ExportChanges => pushdown(stage::stage_export_changes(input).await?),
        };
        self.journal.update(|journal| {
            journal.stage_counts = Some(counts);
            journal.staged = Some(staged.clone());
            journal.drift = Some(drift.clone());
        });
        super::drift::act_on_drift(ctx, &drift)?;
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
        // The warehouse's statement events pass the crash-in-load fault as they are emitted.
        let events = ctx.events.clone().with_emit_hook(fault::crash_in_load_hook());
        let loaded =
            ctx.warehouse.load(LoadCall { request: &request, events: &events, cancel: &ctx.cancel }).await;
        self.journal.update(|journal| journal.statements = loaded.statements);
        let report = loaded.result?;
        // The load transaction committed the data and the watermark together.
        ctx.events.emit(EventKind::WatermarkAdvanced { from: previous, to: request.watermark });
        self.journal.update(|journal| {
            journal.target_rows = Some(report.target_rows);
            // An incremental pushdown folds in the warehouse: the stage could count only change
            // lines, the load counted the keys they fold to, as history and status should show.
            if staged.format == StagedFormat::ExportChanges
                && let Some(counts) = journal.stage_counts.as_mut()
            {
                (counts.upserts, counts.deletes) = (report.upserts, report.deletes);
            }
        });
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

    pub(super) fn load_request(
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
}

/// A full sync of a table with a history table appends nothing to it (it replaces or reconciles
/// the target's rows rather than applying changes): the plan says so, so `--dry-run` shows it.
fn full_sync_history_note(
    table: &crate::config::TableConfig,
    mode: crate::config::Mode,
    plan: &ExportPlan,
) -> Option<String> {
    let history = table.history_target.as_ref()?;
    (mode == crate::config::Mode::Full && !plan.exports.is_empty()).then(|| {
        format!("history table {history}: a full sync appends nothing to it (only incremental loads append the changes they apply)")
    })
}
