//! What the console knows about one run, reduced from its [`RunEvent`]s (or read back from its
//! journal, see [`super::journal_view`]). The run panes, the dry-run plan and the run-details
//! popup all render this one model.

use chrono::{DateTime, Utc};

use super::bounded::Bounded;
use super::run_log::{self, LogLine};
use crate::config::Mode;
use crate::contract::{CostEstimate, DriftReport, ExportSpec, ExportStatus};
use crate::pipeline::events::{EventKind, RunEvent, RunOutcome, Stage, StageCounts, StatementStatus};

/// How many statement rows and log lines a run keeps (the newest win).
pub(super) const MAX_ROWS: usize = 500;

/// Where an export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ExportPhase {
    /// In the plan, not requested yet.
    Planned,
    /// Requested (or found in the store), no status yet.
    Requested,
    InProgress,
    Completed,
    Failed,
}

impl From<ExportStatus> for ExportPhase {
    fn from(status: ExportStatus) -> ExportPhase {
        match status {
            ExportStatus::InProgress => ExportPhase::InProgress,
            ExportStatus::Completed => ExportPhase::Completed,
            ExportStatus::Failed => ExportPhase::Failed,
        }
    }
}

/// One export (one window when catching up).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ExportView {
    pub spec: ExportSpec,
    pub arn: Option<String>,
    /// Found in the store rather than requested.
    pub existing: bool,
    pub phase: ExportPhase,
    pub elapsed_ms: Option<u64>,
    pub polls: u32,
    pub item_count: Option<u64>,
    pub billed_bytes: Option<u64>,
    pub data_files: Option<usize>,
}

impl ExportView {
    pub(super) fn planned(spec: ExportSpec) -> ExportView {
        ExportView {
            spec,
            arn: None,
            existing: false,
            phase: ExportPhase::Planned,
            elapsed_ms: None,
            polls: 0,
            item_count: None,
            billed_bytes: None,
            data_files: None,
        }
    }
}

/// Manifest generation (the stage step).
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct StagingView {
    pub counts: StageCounts,
    /// Data files checked against their manifest entry; `None` when unknown (read from a journal).
    pub verified_files: Option<u64>,
    /// Of those, checked by MD5 too.
    pub md5_verified: Option<u64>,
    pub staged_files: Option<usize>,
    pub manifest_url: Option<String>,
    pub finished: bool,
}

/// Where a warehouse statement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatementState {
    /// A dry run's statement: shown, never run.
    Planned,
    Submitted,
    Running,
    Finished,
    Failed,
    Aborted,
}

impl From<StatementStatus> for StatementState {
    fn from(status: StatementStatus) -> StatementState {
        match status {
            StatementStatus::Finished => StatementState::Finished,
            StatementStatus::Failed => StatementState::Failed,
            StatementStatus::Aborted => StatementState::Aborted,
        }
    }
}

/// One warehouse statement.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StatementRow {
    /// 1-based, as the pipeline numbers them.
    pub index: usize,
    pub total: usize,
    pub label: String,
    pub sql: String,
    pub state: StatementState,
    pub duration_ms: Option<u64>,
    pub rows: Option<i64>,
    pub error: Option<String>,
    pub query_id: Option<String>,
}

/// Why a run failed, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    pub stage: Stage,
    /// The whole error chain.
    pub cause: String,
    pub hint: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RunEnd {
    Committed { watermark: DateTime<Utc>, upserts: u64, deletes: u64, target_rows: u64 },
    UpToDate { reason: String },
    DryRun,
    Failed(Failure),
}

/// Counts checked after the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Reconciled {
    pub target_rows: u64,
    pub upserts: u64,
    pub deletes: u64,
}

/// Where the model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Events of a run this console started.
    Live,
    /// A run journal (an earlier run, or one another process ran).
    Journal,
}

/// A one-word summary of a run, for the tables pane's state column and its sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Running(Stage),
    Committed,
    UpToDate,
    DryRun,
    Failed(Stage),
    /// A journal that never recorded an end: interrupted, or running in another process.
    Unfinished(Stage),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct RunView {
    pub run_id: String,
    pub table: String,
    pub origin: Origin,
    pub mode: Option<Mode>,
    pub dry_run: bool,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub stage: Stage,
    /// The interrupted run this one continues.
    pub resumed_from: Option<String>,
    pub target: Option<String>,
    pub plan_notes: Vec<String>,
    pub exports: Vec<ExportView>,
    pub staging: Option<StagingView>,
    pub statements: Bounded<StatementRow>,
    pub reconciled: Option<Reconciled>,
    pub previous_watermark: Option<DateTime<Utc>>,
    pub new_watermark: Option<DateTime<Utc>>,
    pub end: Option<RunEnd>,
    pub log: Bounded<LogLine>,
    /// What the run's exports cost, once estimated.
    pub cost: Option<CostEstimate>,
    /// The schema drift the run found (none when nothing drifted or it was not counted).
    pub drift: Option<DriftReport>,
}

impl RunView {
    pub(super) fn new(run_id: &str, table: &str, origin: Origin, started_at: DateTime<Utc>) -> RunView {
        RunView {
            run_id: run_id.to_owned(),
            table: table.to_owned(),
            origin,
            mode: None,
            dry_run: false,
            started_at,
            ended_at: None,
            stage: Stage::Planned,
            resumed_from: None,
            target: None,
            plan_notes: Vec::new(),
            exports: Vec::new(),
            staging: None,
            statements: Bounded::new(MAX_ROWS),
            reconciled: None,
            previous_watermark: None,
            new_watermark: None,
            end: None,
            log: Bounded::new(MAX_ROWS),
            cost: None,
            drift: None,
        }
    }

    /// A live model for a run whose first event is `event`.
    pub(super) fn from_first_event(event: &RunEvent) -> RunView {
        let mut view = RunView::new(&event.run_id, &event.table, Origin::Live, event.at);
        view.apply(event);
        view
    }

    /// Folds one event of this run into the model.
    pub(super) fn apply(&mut self, event: &RunEvent) {
        if let Some(line) = run_log::line_for(event) {
            self.log.push(line);
        }
        match &event.kind {
            EventKind::RunStarted { mode, dry_run, target, .. } => {
                self.started_at = event.at;
                self.mode = Some(*mode);
                self.dry_run = *dry_run;
                self.target = Some(target.clone());
            }
            EventKind::Resuming { resumed_run_id, stage } => {
                self.resumed_from = Some(resumed_run_id.clone());
                self.stage = *stage;
            }
            EventKind::StageChanged { stage } => self.stage = *stage,
            EventKind::Planned { exports, notes } => {
                self.exports = exports.iter().cloned().map(ExportView::planned).collect();
                self.plan_notes = notes.clone();
            }
            EventKind::ExportRequested { index, export_arn, spec, .. } => {
                let export = self.export_mut(*index, spec);
                export.arn = Some(export_arn.clone());
                export.phase = ExportPhase::Requested;
            }
            EventKind::ExportFound { index, export_arn, spec, .. } => {
                let export = self.export_mut(*index, spec);
                export.arn = Some(export_arn.clone());
                export.existing = true;
                export.phase = ExportPhase::Requested;
            }
            EventKind::ExportPolled {
                index,
                status,
                elapsed_ms,
                polls,
                item_count,
                billed_size_bytes,
                ..
            } => {
                if let Some(export) = self.exports.get_mut(*index) {
                    export.phase = (*status).into();
                    export.elapsed_ms = Some(*elapsed_ms);
                    export.polls = *polls;
                    export.item_count = item_count.or(export.item_count);
                    export.billed_bytes = billed_size_bytes.or(export.billed_bytes);
                }
            }
            EventKind::ExportCompleted { index, item_count, billed_size_bytes, data_files, .. } => {
                if let Some(export) = self.exports.get_mut(*index) {
                    export.phase = ExportPhase::Completed;
                    export.item_count = Some(*item_count);
                    export.billed_bytes = Some(*billed_size_bytes);
                    export.data_files = Some(*data_files);
                }
            }
            kind => self.apply_later_stages(event.at, kind),
        }
    }

    /// Staging, load and the end of the run.
    fn apply_later_stages(&mut self, at: DateTime<Utc>, kind: &EventKind) {
        match kind {
            EventKind::StagingStarted { files_total, .. } => {
                let counts = StageCounts { files_total: *files_total, ..StageCounts::default() };
                self.staging = Some(StagingView {
                    counts,
                    verified_files: Some(0),
                    md5_verified: Some(0),
                    ..StagingView::default()
                });
            }
            EventKind::FileVerified { md5_checked, .. } => {
                let staging = self.staging.get_or_insert_with(StagingView::default);
                staging.verified_files = Some(staging.verified_files.unwrap_or(0) + 1);
                staging.md5_verified = Some(staging.md5_verified.unwrap_or(0) + u64::from(*md5_checked));
            }
            EventKind::StagingProgress { counts } => {
                self.staging.get_or_insert_with(StagingView::default).counts = *counts;
            }
            EventKind::StagingFinished { counts, staged_files, manifest_url } => {
                let staging = self.staging.get_or_insert_with(StagingView::default);
                staging.counts = *counts;
                staging.staged_files = Some(*staged_files);
                staging.manifest_url = Some(manifest_url.clone());
                staging.finished = true;
            }
            EventKind::StatementPlanned { index, total, label, sql } => {
                self.push_statement(*index, *total, label, sql, StatementState::Planned);
            }
            EventKind::StatementSubmitted { index, total, label, sql } => {
                self.push_statement(*index, *total, label, sql, StatementState::Submitted);
            }
            EventKind::StatementStarted { index, query_id } => {
                if let Some(row) = self.statement_mut(*index) {
                    row.state = StatementState::Running;
                    row.query_id = query_id.clone().or(row.query_id.take());
                }
            }
            EventKind::StatementFinished { index, status, duration_ms, rows, error, query_id } => {
                if let Some(row) = self.statement_mut(*index) {
                    row.state = (*status).into();
                    row.duration_ms = Some(*duration_ms);
                    row.rows = *rows;
                    row.error = error.clone();
                    row.query_id = query_id.clone().or(row.query_id.take());
                }
            }
            EventKind::Drift { check } => self.drift = check.report().filter(|r| !r.is_empty()).cloned(),
            EventKind::Reconciled { target_rows, upserts, deletes } => {
                self.reconciled =
                    Some(Reconciled { target_rows: *target_rows, upserts: *upserts, deletes: *deletes });
            }
            EventKind::WatermarkAdvanced { from, to } => {
                self.previous_watermark = *from;
                self.new_watermark = Some(*to);
            }
            EventKind::CostEstimated { usd, billed_bytes, assumption } => {
                let assumption = assumption.clone();
                self.cost = Some(CostEstimate { usd: *usd, billed_bytes: *billed_bytes, assumption });
            }
            EventKind::RunFinished { result } => {
                self.ended_at = Some(at);
                self.end = Some(end_of(result));
            }
            EventKind::RunFailed { stage, cause, hint } => {
                self.ended_at = Some(at);
                self.end =
                    Some(RunEnd::Failed(Failure { stage: *stage, cause: cause.clone(), hint: hint.clone() }));
            }
            _ => {}
        }
    }

    /// Marks a run whose task died without reporting its end.
    pub(super) fn mark_lost(&mut self, at: DateTime<Utc>, panic: &str) {
        if self.end.is_some() {
            return;
        }
        let failure = Failure {
            stage: self.stage,
            cause: format!("the run stopped unexpectedly: {panic}"),
            hint: "this is a bug in dynashift; the log file has the details. Nothing was committed unless \
                   the stage shows committed; run the sync again"
                .into(),
        };
        self.log.push(LogLine::error(at, format!("failed at {}: {}", failure.stage, failure.cause)));
        self.ended_at = Some(at);
        self.end = Some(RunEnd::Failed(failure));
    }

    fn export_mut(&mut self, index: usize, spec: &ExportSpec) -> &mut ExportView {
        while self.exports.len() <= index {
            self.exports.push(ExportView::planned(spec.clone()));
        }
        let export = &mut self.exports[index];
        export.spec = spec.clone();
        export
    }

    fn push_statement(&mut self, index: usize, total: usize, label: &str, sql: &str, state: StatementState) {
        self.statements.push(StatementRow {
            index,
            total,
            label: label.to_owned(),
            sql: sql.to_owned(),
            state,
            duration_ms: None,
            rows: None,
            error: None,
            query_id: None,
        });
    }

    fn statement_mut(&mut self, index: usize) -> Option<&mut StatementRow> {
        self.statements.find_newest_mut(|row| row.index == index)
    }

    /// Whether this console is still waiting for the run to end.
    pub(super) fn is_active(&self) -> bool {
        self.origin == Origin::Live && self.end.is_none()
    }

    pub(super) fn phase(&self) -> Phase {
        match &self.end {
            Some(RunEnd::Committed { .. }) => Phase::Committed,
            Some(RunEnd::UpToDate { .. }) => Phase::UpToDate,
            Some(RunEnd::DryRun) => Phase::DryRun,
            Some(RunEnd::Failed(failure)) => Phase::Failed(failure.stage),
            None if self.origin == Origin::Live => Phase::Running(self.stage),
            None => Phase::Unfinished(self.stage),
        }
    }

    pub(super) fn failure(&self) -> Option<&Failure> {
        match &self.end {
            Some(RunEnd::Failed(failure)) => Some(failure),
            _ => None,
        }
    }

    /// How long the run took, or has been going at `now`.
    pub(super) fn elapsed(&self, now: DateTime<Utc>) -> std::time::Duration {
        super::format::between(self.started_at, self.ended_at.unwrap_or(now))
    }

    /// Upserts and deletes the run committed, or (while it runs) staged to load; `None` for runs
    /// that loaded nothing.
    pub(super) fn loaded(&self) -> Option<(u64, u64)> {
        match (&self.end, &self.reconciled, &self.staging) {
            (Some(RunEnd::Committed { upserts, deletes, .. }), _, _) => Some((*upserts, *deletes)),
            (Some(_), _, _) => None,
            (None, Some(r), _) => Some((r.upserts, r.deletes)),
            (None, None, Some(staging)) if staging.finished => {
                Some((staging.counts.upserts, staging.counts.deletes))
            }
            _ => None,
        }
    }

    /// Several windows: the run is catching up on a watermark more than one window behind.
    pub(super) fn is_catch_up(&self) -> bool {
        self.exports.len() > 1
    }

    /// The export to show in detail: the first one not completed, else the last.
    pub(super) fn current_export(&self) -> Option<(usize, &ExportView)> {
        self.exports
            .iter()
            .enumerate()
            .find(|(_, e)| e.phase != ExportPhase::Completed)
            .or_else(|| self.exports.iter().enumerate().next_back())
    }
}

fn end_of(outcome: &RunOutcome) -> RunEnd {
    match outcome {
        RunOutcome::Committed { watermark, upserts, deletes, target_rows } => RunEnd::Committed {
            watermark: *watermark,
            upserts: *upserts,
            deletes: *deletes,
            target_rows: *target_rows,
        },
        RunOutcome::UpToDate { reason, .. } => RunEnd::UpToDate { reason: reason.clone() },
        RunOutcome::DryRun => RunEnd::DryRun,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::{Script, t};

    #[test]
    fn follows_a_run_through_every_stage() {
        let mut script = Script::new("orders", "run-1");
        let mut view = RunView::from_first_event(&script.started(Mode::Incremental, false));
        assert_eq!(view.phase(), Phase::Running(Stage::Planned));
        for event in script.committed_run() {
            view.apply(&event);
        }
        assert_eq!(view.phase(), Phase::Committed);
        assert_eq!(view.stage, Stage::Committed);
        assert_eq!(view.exports.len(), 2);
        assert!(view.exports.iter().all(|e| e.phase == ExportPhase::Completed));
        let staging = view.staging.as_ref().unwrap();
        assert!(staging.finished);
        assert_eq!(staging.verified_files, Some(3));
        assert_eq!(staging.md5_verified, Some(2));
        assert!(view.statements.iter().all(|s| s.state == StatementState::Finished));
        assert_eq!(view.loaded(), Some((1180, 24)));
        assert!(view.new_watermark.is_some());
        assert!(!view.is_active());
        assert!(view.is_catch_up());
    }

    #[test]
    fn a_failure_keeps_stage_cause_and_hint() {
        let mut script = Script::new("orders", "run-2");
        let mut view = RunView::from_first_event(&script.started(Mode::Incremental, false));
        for event in script.failed_while_loading() {
            view.apply(&event);
        }
        assert_eq!(view.phase(), Phase::Failed(Stage::Loading));
        let failure = view.failure().unwrap();
        assert!(failure.cause.contains("UNIQUE constraint"));
        assert!(!failure.hint.is_empty());
        let failed = view.statements.iter().find(|s| s.state == StatementState::Failed).unwrap();
        assert!(failed.error.as_deref().unwrap().contains("UNIQUE"));
    }

    #[test]
    fn export_polls_update_in_place() {
        let mut script = Script::new("orders", "run-3");
        let mut view = RunView::from_first_event(&script.started(Mode::Incremental, false));
        for event in script.exporting() {
            view.apply(&event);
        }
        let (index, export) = view.current_export().unwrap();
        assert_eq!(index, 1);
        assert_eq!(export.phase, ExportPhase::InProgress);
        assert_eq!(export.polls, 3);
        assert_eq!(view.exports[0].phase, ExportPhase::Completed);
        let log_len = view.log.len();
        view.apply(&script.event(EventKind::ExportPolled {
            index: 1,
            export_arn: "arn".into(),
            status: ExportStatus::InProgress,
            elapsed_ms: 9000,
            polls: 4,
            item_count: None,
            billed_size_bytes: None,
        }));
        assert_eq!(view.log.len(), log_len, "polls update the pane, not the log");
        assert_eq!(view.exports[1].polls, 4);
    }

    #[test]
    fn statements_are_bounded() {
        let mut script = Script::new("orders", "run-4");
        let mut view = RunView::from_first_event(&script.started(Mode::Incremental, false));
        for index in 1..=MAX_ROWS + 20 {
            view.apply(&script.event(EventKind::StatementSubmitted {
                index,
                total: MAX_ROWS + 20,
                label: format!("s{index}"),
                sql: "select 1".into(),
            }));
        }
        assert_eq!(view.statements.len(), MAX_ROWS);
        assert_eq!(view.statements.dropped(), 20);
        assert!(view.log.len() <= MAX_ROWS);
        view.apply(&script.event(EventKind::StatementFinished {
            index: MAX_ROWS + 20,
            status: StatementStatus::Finished,
            duration_ms: 5,
            rows: Some(1),
            error: None,
            query_id: None,
        }));
        assert_eq!(view.statements.last().unwrap().state, StatementState::Finished);
    }

    #[test]
    fn a_lost_run_becomes_a_failure_once() {
        let mut script = Script::new("orders", "run-5");
        let mut view = RunView::from_first_event(&script.started(Mode::Full, false));
        view.apply(&script.event(EventKind::StageChanged { stage: Stage::Staging }));
        view.mark_lost(t(18, 5, 0), "index out of bounds");
        assert_eq!(view.phase(), Phase::Failed(Stage::Staging));
        let before = view.clone();
        view.mark_lost(t(18, 6, 0), "again");
        assert_eq!(view, before);
    }

    #[test]
    fn elapsed_uses_the_given_clock() {
        let mut script = Script::new("orders", "run-6");
        let view = RunView::from_first_event(&script.started(Mode::Full, false));
        assert_eq!(view.elapsed(t(18, 1, 30)).as_secs(), 90);
    }
}
