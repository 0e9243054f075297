//! Reads a run journal back into the console's run model, so a run from an earlier session (or
//! from cron) is shown with the same panes and popups as a live one.

use super::run_view::{
    ExportPhase, ExportView, Failure, Origin, RunEnd, RunView, StagingView, StatementRow, StatementState,
};
use crate::contract::AcceptedGap;
use crate::pipeline::RunJournal;
use crate::pipeline::events::Stage;
use crate::pipeline::journal::{JournalExport, JournalStatement};

impl RunView {
    pub(super) fn from_journal(journal: &RunJournal) -> RunView {
        let mut view = RunView::new(&journal.run_id, &journal.table, Origin::Journal, journal.started_at);
        view.mode = Some(journal.mode);
        view.stage = journal.stage;
        view.ended_at = journal.finished_at;
        view.previous_watermark = journal.previous_watermark;
        view.exports = journal.exports.iter().map(export_view).collect();
        view.staging = journal.stage_counts.map(|counts| {
            // A run gets past staging only when every data file matched its manifest.
            let staged = journal.stage >= Stage::Staged;
            StagingView {
                counts,
                verified_files: staged.then_some(counts.files_total),
                md5_verified: None,
                staged_files: journal.staged.as_ref().map(|s| s.files.len()),
                manifest_url: None,
                finished: staged,
            }
        });
        let total = journal.statements.len();
        for (i, statement) in journal.statements.iter().enumerate() {
            view.statements.push(statement_row(i + 1, total, statement));
        }
        view.end = end_of(journal);
        view.cost = journal.cost.clone();
        if matches!(view.end, Some(RunEnd::Committed { .. })) {
            view.new_watermark = journal.target_watermark;
        }
        if let Some(note) = &journal.note {
            view.plan_notes.push(note.clone());
        }
        for gap in &journal.accepted_gaps {
            view.plan_notes.push(accepted_gap_note(gap));
        }
        view.drift =
            journal.drift.as_ref().and_then(|check| check.report()).filter(|r| !r.is_empty()).cloned();
        view
    }
}

/// How the run detail shows a gap the run applied knowingly (headless `--accept-gap`).
pub(super) fn accepted_gap_note(gap: &AcceptedGap) -> String {
    format!("accepted gap (--accept-gap): changes in {gap} are in no export and were not applied")
}

fn export_view(export: &JournalExport) -> ExportView {
    let mut view = ExportView::planned(export.spec.clone());
    view.arn = export.export_arn.clone();
    if view.arn.is_some() {
        view.phase = ExportPhase::Requested;
    }
    if let Some(description) = &export.description {
        view.phase = description.status.into();
        view.item_count = description.item_count;
        view.billed_bytes = description.billed_size_bytes;
    }
    view
}

fn statement_row(index: usize, total: usize, statement: &JournalStatement) -> StatementRow {
    StatementRow {
        index,
        total,
        label: statement.label.clone(),
        sql: statement.sql.clone(),
        state: statement.status.map_or(StatementState::Submitted, StatementState::from),
        duration_ms: statement.duration_ms,
        rows: statement.rows,
        error: statement.error.clone(),
        query_id: statement.query_id.clone(),
    }
}

fn end_of(journal: &RunJournal) -> Option<RunEnd> {
    if let Some(failure) = &journal.failure {
        return Some(RunEnd::Failed(Failure {
            stage: failure.stage,
            cause: failure.cause.clone(),
            hint: failure.hint.clone(),
        }));
    }
    if journal.stage == Stage::Committed {
        let counts = journal.stage_counts.unwrap_or_default();
        return Some(RunEnd::Committed {
            watermark: journal.target_watermark.unwrap_or(journal.updated_at),
            upserts: counts.upserts,
            deletes: counts.deletes,
            target_rows: journal.target_rows.unwrap_or(0),
        });
    }
    journal.finished_at.map(|_| RunEnd::UpToDate { reason: journal.note.clone().unwrap_or_default() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::{committed_journal, failed_journal, t};
    use crate::tui::run_view::Phase;

    #[test]
    fn a_committed_journal_reads_as_committed() {
        let view = RunView::from_journal(&committed_journal("r1", t(17, 0, 0)));
        assert_eq!(view.phase(), Phase::Committed);
        assert_eq!(view.origin, Origin::Journal);
        assert_eq!(view.loaded(), Some((1180, 24)));
        assert_eq!(view.exports[0].phase, ExportPhase::Completed);
        assert_eq!(view.statements.len(), 4);
        assert!(view.staging.as_ref().unwrap().finished);
        assert!(!view.is_active());
    }

    #[test]
    fn a_failed_journal_keeps_its_failure() {
        let view = RunView::from_journal(&failed_journal("r2", t(16, 0, 0)));
        assert_eq!(view.phase(), Phase::Failed(Stage::Loading));
        assert!(view.failure().unwrap().hint.contains("run again"));
        assert_eq!(view.statements.iter().filter(|s| s.state == StatementState::Failed).count(), 1);
    }

    #[test]
    fn accepted_gaps_are_shown_in_the_run_detail() {
        let from = t(17, 0, 0);
        let mut journal = committed_journal("r1", from);
        journal.accepted_gaps = vec![AcceptedGap { from, to: from + chrono::Duration::seconds(69) }];
        let view = RunView::from_journal(&journal);
        assert!(
            view.plan_notes.iter().any(|n| n.starts_with("accepted gap (--accept-gap): changes in [")),
            "{:?}",
            view.plan_notes
        );
    }

    #[test]
    fn an_unfinished_journal_is_neither_running_nor_failed() {
        let mut journal = committed_journal("r3", t(16, 0, 0));
        journal.stage = Stage::Staging;
        journal.finished_at = None;
        let view = RunView::from_journal(&journal);
        assert_eq!(view.phase(), Phase::Unfinished(Stage::Staging));
    }

    #[test]
    fn an_up_to_date_journal_keeps_its_reason() {
        let mut journal = committed_journal("r4", t(16, 0, 0));
        journal.stage = Stage::Planned;
        journal.exports.clear();
        journal.note = Some("less than one 15 min window since the watermark".into());
        let view = RunView::from_journal(&journal);
        assert_eq!(view.end, Some(RunEnd::UpToDate { reason: journal.note.clone().unwrap() }));
    }
}
