//! How run states are named and toned on screen, in one place so the tables pane, the run panes,
//! the history and the popups all say the same thing the same way.

use super::run_view::{ExportPhase, Phase, RunView, StatementState};
use super::theme::Tone;
use crate::pipeline::events::Stage;

const STAGES: [Stage; 8] = [
    Stage::Planned,
    Stage::Exporting,
    Stage::Exported,
    Stage::Staging,
    Stage::Staged,
    Stage::Loading,
    Stage::Loaded,
    Stage::Committed,
];

/// `✓ committed`, `✗ failed at loading`, `▶ staging`.
pub fn phase(phase: Phase) -> (Tone, String) {
    match phase {
        Phase::Running(stage) => (Tone::Accent, format!("▶ {stage}")),
        Phase::Committed => (Tone::Ok, "✓ committed".into()),
        Phase::UpToDate => (Tone::Ok, "✓ up to date".into()),
        Phase::DryRun => (Tone::Dim, "dry run".into()),
        Phase::Failed(stage) => (Tone::Bad, format!("✗ failed at {stage}")),
        Phase::Unfinished(stage) => (Tone::Warn, format!("? unfinished at {stage}")),
    }
}

/// [`phase`] in fewer cells, for narrow columns: `✗ loading` rather than `✗ failed at loading`.
pub fn phase_short(phase: Phase) -> (Tone, String) {
    match phase {
        Phase::Failed(stage) => (Tone::Bad, format!("✗ {stage}")),
        Phase::Unfinished(stage) => (Tone::Warn, format!("? {stage}")),
        other => self::phase(other),
    }
}

/// The phase of a run, with the first part of its cause when it failed (for one-line cells).
pub fn phase_with_cause(run: &RunView) -> (Tone, String) {
    let (tone, text) = phase(run.phase());
    match run.failure() {
        Some(failure) => (tone, format!("{text}: {}", super::wrap::first_line(&failure.cause))),
        None => (tone, text),
    }
}

pub fn export_phase(phase: ExportPhase) -> (Tone, &'static str) {
    match phase {
        ExportPhase::Planned => (Tone::Dim, "planned"),
        ExportPhase::Requested => (Tone::Accent, "REQUESTED"),
        ExportPhase::InProgress => (Tone::Accent, "IN_PROGRESS"),
        ExportPhase::Completed => (Tone::Ok, "COMPLETED"),
        ExportPhase::Failed => (Tone::Bad, "FAILED"),
    }
}

/// The marker in front of an export in a catch-up plan.
pub fn export_marker(phase: ExportPhase) -> (Tone, &'static str) {
    match phase {
        ExportPhase::Planned => (Tone::Dim, "·"),
        ExportPhase::Requested | ExportPhase::InProgress => (Tone::Accent, "▶"),
        ExportPhase::Completed => (Tone::Ok, "✓"),
        ExportPhase::Failed => (Tone::Bad, "✗"),
    }
}

pub fn statement_state(state: StatementState) -> (Tone, &'static str) {
    match state {
        StatementState::Planned => (Tone::Dim, "planned"),
        StatementState::Submitted => (Tone::Dim, "submitted"),
        StatementState::Running => (Tone::Accent, "running"),
        StatementState::Finished => (Tone::Ok, "finished"),
        StatementState::Failed => (Tone::Bad, "failed"),
        StatementState::Aborted => (Tone::Warn, "aborted"),
    }
}

/// Every stage with a mark: `✓` passed, `▶` current, `✗` where it failed, `·` not reached.
pub fn stage_track(run: &RunView) -> Vec<(Tone, String)> {
    let failed_at = run.failure().map(|f| f.stage);
    let finished = run.end.is_some();
    let mut spans = Vec::new();
    for stage in STAGES {
        let (tone, mark) = if Some(stage) == failed_at {
            (Tone::Bad, "✗")
        } else if stage < run.stage || (stage == run.stage && finished && failed_at.is_none()) {
            (Tone::Ok, "✓")
        } else if stage == run.stage && !finished {
            (Tone::Accent, "▶")
        } else {
            (Tone::Dim, "·")
        };
        if !spans.is_empty() {
            spans.push((Tone::Dim, " ".to_owned()));
        }
        spans.push((tone, format!("{mark}{stage}")));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::tui::fixtures::Script;

    fn track_text(run: &RunView) -> String {
        stage_track(run).into_iter().map(|(_, s)| s).collect()
    }

    #[test]
    fn the_track_marks_passed_current_and_failed_stages() {
        let mut script = Script::new("orders", "r");
        let mut run = RunView::from_first_event(&script.started(Mode::Incremental, false));
        for event in script.staging() {
            run.apply(&event);
        }
        assert_eq!(
            track_text(&run),
            "✓planned ✓exporting ✓exported ▶staging ·staged ·loading ·loaded ·committed"
        );
        let mut script = Script::new("orders", "r");
        let mut failed = RunView::from_first_event(&script.started(Mode::Incremental, false));
        for event in script.failed_while_loading() {
            failed.apply(&event);
        }
        assert!(track_text(&failed).contains("✓staged ✗loading ·loaded"));
    }

    #[test]
    fn failures_carry_their_cause_on_one_line() {
        let mut script = Script::new("orders", "r");
        let mut run = RunView::from_first_event(&script.started(Mode::Incremental, false));
        for event in script.failed_while_loading() {
            run.apply(&event);
        }
        let (tone, text) = phase_with_cause(&run);
        assert_eq!(tone, Tone::Bad);
        assert!(text.starts_with("✗ failed at loading: statement 4 (merge upserts) failed"));
    }

    #[test]
    fn phases_read_as_words() {
        assert_eq!(phase(Phase::Running(Stage::Exporting)).1, "▶ exporting");
        assert_eq!(phase(Phase::Committed), (Tone::Ok, "✓ committed".into()));
        assert_eq!(phase_short(Phase::Failed(Stage::Loading)).1, "✗ loading");
        assert_eq!(phase_short(Phase::Committed), phase(Phase::Committed));
    }
}
