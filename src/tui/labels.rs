//! How run states are named and toned on screen, in one place so the tables pane, the run panes,
//! the history and the popups all say the same thing the same way.

use super::run_view::{ExportPhase, Phase, RunView, StatementState};
use super::theme::Tone;
use crate::pipeline::events::Stage;
use crate::pipeline::lock::LeaseHolder;

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
pub(super) fn phase(phase: Phase) -> (Tone, String) {
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
pub(super) fn phase_short(phase: Phase) -> (Tone, String) {
    match phase {
        Phase::Failed(stage) => (Tone::Bad, format!("✗ {stage}")),
        Phase::Unfinished(stage) => (Tone::Warn, format!("? {stage}")),
        other => self::phase(other),
    }
}

/// The phase of a run, with the first part of its cause when it failed (for one-line cells).
pub(super) fn phase_with_cause(run: &RunView) -> (Tone, String) {
    let (tone, text) = phase(run.phase());
    match run.failure() {
        Some(failure) => (tone, format!("{text}: {}", cause_in_brief(&failure.cause))),
        None => (tone, text),
    }
}

/// A failure's cause for a one-line cell: its first line without the file paths, object keys
/// and URLs that error messages start with (`/srv/x/_state/lock: permission denied` reads
/// `permission denied`), and with paths inside the text cut to their last part: in a narrow
/// column the start of a path says nothing. Enter on the table shows the whole cause.
pub(super) fn cause_in_brief(cause: &str) -> String {
    let line = super::wrap::first_line(cause);
    let parts: Vec<&str> = line.split(": ").collect();
    let mut kept: Vec<&str> = parts.iter().copied().filter(|part| !is_location(part)).collect();
    if kept.is_empty() {
        kept = parts.last().copied().into_iter().collect();
    }
    let text = kept.join(": ");
    text.split(' ').map(shorten_path).collect::<Vec<_>>().join(" ")
}

/// Whether a part of an error chain is only where it happened: a path, key or URL (quoted or
/// not, with a line number or not).
fn is_location(part: &str) -> bool {
    let place = part.trim().split(", line ").next().unwrap_or_default().trim_matches('`');
    !place.is_empty() && !place.contains(' ') && place.contains('/')
}

/// A long path-like word cut to its last part: `(/tmp/dynashift-x/part-00001.csv)` reads
/// `(…/part-00001.csv)`.
fn shorten_path(word: &str) -> String {
    let core = word.trim_matches(|c: char| matches!(c, '(' | ')' | '`' | ',' | '\'' | '"'));
    if !core.contains('/') || core.len() <= 24 {
        return word.to_owned();
    }
    let last = core.trim_end_matches('/').rsplit('/').next().unwrap_or(core);
    word.replacen(core, &format!("…/{last}"), 1)
}

/// `▶ running (pid 1234 on ops-1)`: a run of another process holds the table's lease.
pub(super) fn foreign_run(holder: &LeaseHolder) -> (Tone, String) {
    (Tone::Accent, format!("▶ running (pid {} on {})", holder.pid, holder.host))
}

pub(super) fn export_phase(phase: ExportPhase) -> (Tone, &'static str) {
    match phase {
        ExportPhase::Planned => (Tone::Dim, "planned"),
        ExportPhase::Requested => (Tone::Accent, "REQUESTED"),
        ExportPhase::InProgress => (Tone::Accent, "IN_PROGRESS"),
        ExportPhase::Completed => (Tone::Ok, "COMPLETED"),
        ExportPhase::Failed => (Tone::Bad, "FAILED"),
    }
}

/// The marker in front of an export in a catch-up plan.
pub(super) fn export_marker(phase: ExportPhase) -> (Tone, &'static str) {
    match phase {
        ExportPhase::Planned => (Tone::Dim, "·"),
        ExportPhase::Requested | ExportPhase::InProgress => (Tone::Accent, "▶"),
        ExportPhase::Completed => (Tone::Ok, "✓"),
        ExportPhase::Failed => (Tone::Bad, "✗"),
    }
}

pub(super) fn statement_state(state: StatementState) -> (Tone, &'static str) {
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
pub(super) fn stage_track(run: &RunView) -> Vec<(Tone, String)> {
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
    fn causes_in_brief_leave_out_where_and_keep_why() {
        assert_eq!(
            cause_in_brief(
                "/srv/dynashift/.dynashift/bucket/orders/_state/lock: permission denied (os error 13)"
            ),
            "permission denied (os error 13)"
        );
        assert_eq!(
            cause_in_brief("`AWSDynamoDB/0176/data/abc.json.gz`, line 7: invalid JSON: expected value\nmore"),
            "invalid JSON: expected value"
        );
        assert_eq!(
            cause_in_brief(
                "staging failed: writing a staged part failed (/tmp/dynashift-1a2b/part-00001.csv): disk full"
            ),
            "staging failed: writing a staged part failed (…/part-00001.csv): disk full"
        );
        assert_eq!(
            cause_in_brief("statement 4 (merge upserts) failed: UNIQUE constraint failed: orders.id"),
            "statement 4 (merge upserts) failed: UNIQUE constraint failed: orders.id"
        );
        assert_eq!(cause_in_brief("s3://bucket/key"), "s3://bucket/key", "nothing but a place: kept");
    }

    #[test]
    fn phases_read_as_words() {
        assert_eq!(phase(Phase::Running(Stage::Exporting)).1, "▶ exporting");
        assert_eq!(phase(Phase::Committed), (Tone::Ok, "✓ committed".into()));
        assert_eq!(phase_short(Phase::Failed(Stage::Loading)).1, "✗ loading");
        assert_eq!(phase_short(Phase::Committed), phase(Phase::Committed));
    }
}
