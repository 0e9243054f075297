//! A run's log as the console shows it: one short line per thing that happened. Frequent
//! progress events (export polls, staging progress, per-file checks) update the panes instead,
//! so the log stays readable.

use chrono::{DateTime, Utc};

use super::format;
use crate::human;
use crate::pipeline::events::{EventKind, RunEvent, RunOutcome, StatementStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LogLevel {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LogLine {
    pub at: DateTime<Utc>,
    pub level: LogLevel,
    pub text: String,
}

impl LogLine {
    pub(super) fn info(at: DateTime<Utc>, text: impl Into<String>) -> LogLine {
        LogLine { at, level: LogLevel::Info, text: text.into() }
    }

    pub(super) fn warn(at: DateTime<Utc>, text: impl Into<String>) -> LogLine {
        LogLine { at, level: LogLevel::Warn, text: text.into() }
    }

    pub(super) fn error(at: DateTime<Utc>, text: impl Into<String>) -> LogLine {
        LogLine { at, level: LogLevel::Error, text: text.into() }
    }
}

/// The log line for `event`, if it gets one.
pub(super) fn line_for(event: &RunEvent) -> Option<LogLine> {
    let at = event.at;
    let info = |text: String| Some(LogLine::info(at, text));
    match &event.kind {
        EventKind::RunStarted { mode, dry_run, source, warehouse, target, .. } => {
            let kind = if *dry_run { "dry run" } else { "run" };
            info(format!("{mode} {kind} started: {source} → {target} ({warehouse})"))
        }
        EventKind::Resuming { resumed_run_id, stage } => {
            info(format!("resuming run {resumed_run_id} from {stage}"))
        }
        EventKind::StageChanged { stage } => info(format!("stage: {stage}")),
        EventKind::Planned { exports, notes } => {
            let mut text = match exports.len() {
                0 => "nothing to export".to_owned(),
                1 => format!("plan: {}", exports[0]),
                n => format!("plan: {n} windows to catch up, {} … {}", exports[0], exports[n - 1]),
            };
            if !notes.is_empty() {
                text.push_str(&format!(" ({})", notes.join("; ")));
            }
            Some(LogLine::info(at, text))
        }
        EventKind::GapAccepted { from, to } => Some(LogLine::warn(
            at,
            format!(
                "gap accepted: changes in {} are in no export",
                crate::contract::AcceptedGap { from: *from, to: *to }
            ),
        )),
        EventKind::ExportRequested { index, total, export_arn, .. } => {
            info(format!("export {}/{total} requested: {export_arn}", index + 1))
        }
        EventKind::ExportFound { index, total, export_arn, .. } => {
            info(format!("export {}/{total} found in the store: {export_arn}", index + 1))
        }
        EventKind::ExportCompleted { index, item_count, billed_size_bytes, data_files, .. } => info(format!(
            "export {} completed: {}, {} billed, {}",
            index + 1,
            human::counted(*item_count, "item"),
            format::bytes(*billed_size_bytes),
            human::counted(*data_files as u64, "data file")
        )),
        EventKind::CostEstimated { usd, billed_bytes, assumption } => info(
            crate::contract::CostEstimate {
                usd: *usd,
                billed_bytes: *billed_bytes,
                assumption: assumption.clone(),
            }
            .line(),
        ),
        EventKind::StagingStarted { files_total, exports } => info(format!(
            "staging {} from {}",
            human::counted(*files_total, "data file"),
            human::counted(*exports as u64, "export")
        )),
        EventKind::StagingFinished { counts, staged_files, .. } => info(format!(
            "staged {} and {} into {}",
            human::counted(counts.upserts, "upsert"),
            human::counted(counts.deletes, "delete"),
            human::counted(*staged_files as u64, "file")
        )),
        EventKind::StatementSubmitted { index, total, label, .. } => {
            info(format!("statement {index}/{total} submitted: {label}"))
        }
        EventKind::StatementFinished { index, status, duration_ms, error, .. } => {
            statement_line(at, *index, *status, *duration_ms, error.as_deref())
        }
        EventKind::Reconciled { target_rows, upserts, deletes } => info(format!(
            "reconciled: target holds {} after {}",
            human::counted(*target_rows, "row"),
            format::loaded(*upserts, *deletes)
        )),
        EventKind::WatermarkAdvanced { to, .. } => info(format!("watermark → {}", format::instant(*to))),
        EventKind::Drift { check } if check.drifted() => Some(LogLine::warn(
            at,
            format!("drift: {} (press the drift key for columns entries)", check.summary()),
        )),
        EventKind::Drift { check } => info(format!("drift {}", check.summary())),
        EventKind::Warning { message } => Some(LogLine::warn(at, message.clone())),
        EventKind::RunFinished { result } => info(outcome_text(result)),
        EventKind::RunFailed { stage, cause, .. } => {
            Some(LogLine::error(at, format!("failed at {stage}: {cause}")))
        }
        EventKind::ExportPolled { .. }
        | EventKind::FileVerified { .. }
        | EventKind::StagingProgress { .. }
        | EventKind::StatementPlanned { .. }
        | EventKind::StatementStarted { .. } => None,
    }
}

fn statement_line(
    at: DateTime<Utc>,
    index: usize,
    status: StatementStatus,
    duration_ms: u64,
    error: Option<&str>,
) -> Option<LogLine> {
    let took = format::millis(duration_ms);
    Some(match status {
        StatementStatus::Finished => LogLine::info(at, format!("statement {index} finished in {took}")),
        StatementStatus::Aborted => LogLine::warn(at, format!("statement {index} aborted after {took}")),
        StatementStatus::Failed => {
            LogLine::error(at, format!("statement {index} failed: {}", error.unwrap_or("no message")))
        }
    })
}

fn outcome_text(outcome: &RunOutcome) -> String {
    match outcome {
        RunOutcome::Committed { upserts, deletes, target_rows, .. } => format!(
            "committed {}; the target holds {}",
            format::loaded(*upserts, *deletes),
            human::counted(*target_rows, "row")
        ),
        RunOutcome::UpToDate { reason, .. } => format!("up to date: {reason}"),
        RunOutcome::DryRun => "dry run finished; nothing changed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::events::Stage;
    use crate::tui::fixtures::Script;

    #[test]
    fn failures_are_errors_with_stage_and_cause() {
        let mut script = Script::new("orders", "r");
        let event = script.event(EventKind::RunFailed {
            stage: Stage::Staging,
            cause: "bad file".into(),
            hint: "h".into(),
        });
        let line = line_for(&event).unwrap();
        assert_eq!(line.level, LogLevel::Error);
        assert_eq!(line.text, "failed at staging: bad file");
    }

    #[test]
    fn exports_are_numbered_from_one() {
        let events = Script::new("orders", "r").exporting();
        let lines: Vec<String> = events.iter().filter_map(line_for).map(|l| l.text).collect();
        assert!(lines.iter().any(|l| l.starts_with("export 1/2 requested")), "{lines:?}");
        assert!(lines.iter().any(|l| l.starts_with("plan: 2 windows to catch up")), "{lines:?}");
    }

    #[test]
    fn progress_events_stay_out_of_the_log() {
        let mut script = Script::new("orders", "r");
        let progress = script.event(EventKind::StagingProgress { counts: Default::default() });
        assert_eq!(line_for(&progress), None);
    }

    #[test]
    fn warnings_are_warnings() {
        let mut script = Script::new("orders", "r");
        let line = line_for(&script.event(EventKind::Warning { message: "PITR edge near".into() })).unwrap();
        assert_eq!((line.level, line.text.as_str()), (LogLevel::Warn, "PITR edge near"));
    }
}
