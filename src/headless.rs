//! The headless front end (`--headless`): runs syncs for cron and scripts and prints their events
//! as readable lines or as JSON Lines. It knows the pipeline's events, nothing of AWS.
//!
//! Exit codes: [`EXIT_OK`] when every run committed (or was up to date, or was a dry run),
//! [`EXIT_RUN_FAILED`] when any run failed — the last lines then name table, stage, cause and
//! what to do — [`EXIT_USAGE`] for usage and configuration errors (decided by `main`), and
//! [`EXIT_LOCKED`] when nothing failed but a table was skipped because another run holds it.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Mode;
use crate::contract::PlanOptions;
use crate::contract::{AcceptedGap, CostEstimate, DriftCheck};
use crate::pipeline::events::{EventKind, RunEvent, RunOutcome};
use crate::pipeline::{Engine, RunFailure, RunRequest};
use crate::signals::Signals;

pub use crate::contract::exit::{EXIT_LOCKED, EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE};
pub use lines::{Verbosity, describe, level_of};
pub use startup_error::{StartupError, StartupErrorKind};

mod lines;
mod startup_error;

/// What `--headless` was asked to do.
#[derive(Debug, Clone)]
pub struct HeadlessRequest {
    /// Tables to sync, in the order given.
    pub tables: Vec<String>,
    /// `None`: each table's configured mode.
    pub mode: Option<Mode>,
    pub dry_run: bool,
    pub json: bool,
    /// How much text output says (`-q`, `-v`); JSON Lines carry every event regardless.
    pub verbosity: Verbosity,
    /// `--accept-gap`, `--force`.
    pub options: PlanOptions,
}

/// The outcome of one table's run, for the closing summary.
#[derive(Debug, Clone)]
pub struct TableResult {
    pub table: String,
    pub run_id: String,
    pub result: Result<RunOutcome, FailureSummary>,
    /// Gaps between exports the run applied knowingly (`--accept-gap`).
    pub accepted_gaps: Vec<AcceptedGap>,
    /// What the run's exports cost, when it got that far.
    pub cost: Option<CostEstimate>,
    /// The run's drift event, when it had one (drift, or a pushdown run that could not count).
    pub drift: Option<DriftCheck>,
}

/// A failure as the summary line reports it.
#[derive(Debug, Clone, Serialize)]
pub struct FailureSummary {
    pub stage: String,
    pub cause: String,
    pub hint: String,
    /// The table was skipped because another run holds its lease: nothing was attempted.
    pub skipped: bool,
}

impl From<RunFailure> for FailureSummary {
    fn from(f: RunFailure) -> FailureSummary {
        FailureSummary { stage: f.stage.to_string(), cause: f.cause, hint: f.hint, skipped: f.lease_held }
    }
}

/// [`EXIT_OK`] when every run succeeded, [`EXIT_RUN_FAILED`] when any failed, and
/// [`EXIT_LOCKED`] when none failed but some were skipped because another run holds them.
pub fn exit_code(results: &[TableResult]) -> u8 {
    let failures = results.iter().filter_map(|r| r.result.as_ref().err());
    let (skipped, failed): (Vec<_>, Vec<_>) = failures.partition(|f| f.skipped);
    match (failed.is_empty(), skipped.is_empty()) {
        (false, _) => EXIT_RUN_FAILED,
        (true, false) => EXIT_LOCKED,
        (true, true) => EXIT_OK,
    }
}

/// Runs the requested tables (concurrency bounded by the engine), prints every event to `out`,
/// and returns the process exit code.
pub async fn run(
    engine: Engine,
    mut events: mpsc::UnboundedReceiver<RunEvent>,
    request: HeadlessRequest,
    out: &mut (dyn Write + Send),
) -> u8 {
    let mut handles = Vec::new();
    let mut results = Vec::new();
    for table in &request.tables {
        let mode = request
            .mode
            .or_else(|| engine.config().table(table).map(|t| t.mode))
            .unwrap_or(Mode::Incremental);
        match engine.start_with(table, RunRequest { mode, dry_run: request.dry_run }, request.options) {
            Ok(handle) => handles.push(handle),
            Err(err) => results.push(TableResult {
                table: table.clone(),
                run_id: String::new(),
                result: Err(FailureSummary {
                    stage: "start".into(),
                    cause: err.to_string(),
                    hint: err.hint(),
                    skipped: false,
                }),
                accepted_gaps: Vec::new(),
                cost: None,
                drift: None,
            }),
        }
    }
    let stop_watch = cancel_on_stop_signal(handles.iter().map(|h| h.cancel.clone()).collect());
    let verbosity = if request.dry_run { request.verbosity.for_dry_run() } else { request.verbosity };
    let mut printer = Printer::new(request.json, verbosity);
    let mut pending = handles.len();
    while pending > 0 {
        let Some(event) = events.recv().await else { break };
        pending -= usize::from(event.is_terminal());
        printer.print(&event, out);
    }
    for handle in handles {
        let outcome = match handle.join.await {
            Ok(outcome) => outcome.map_err(FailureSummary::from),
            Err(join_error) => Err(FailureSummary {
                stage: "unknown".into(),
                cause: format!("the run crashed: {join_error}"),
                hint: "this is a bug: please report it with the log file".into(),
                skipped: false,
            }),
        };
        let accepted_gaps = printer.gaps.remove(&handle.run_id).unwrap_or_default();
        let cost = printer.costs.remove(&handle.run_id);
        let drift = printer.drift.remove(&handle.run_id);
        results.push(TableResult {
            table: handle.table,
            run_id: handle.run_id,
            result: outcome,
            accepted_gaps,
            cost,
            drift,
        });
    }
    stop_watch.abort();
    print_summary(&results, request.json, verbosity, out);
    let _ = out.flush();
    exit_code(&results)
}

/// Exit code of a process ended by a second stop signal (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: i32 = 130;

/// On the first stop signal (Ctrl-C, SIGTERM from cron or systemd, SIGHUP), cancels every run:
/// each stops its remote export poll or Redshift statement and rolls its load back, so the runs
/// end failed-and-resumable instead of abandoned. A second signal ends the process at once; an
/// interrupted run is resumed by the next one.
fn cancel_on_stop_signal(cancels: Vec<CancellationToken>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut signals = match Signals::new() {
            Ok(signals) => signals,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for stop signals; Ctrl-C will end the process at once");
                return;
            }
        };
        signals.recv().await;
        eprintln!(
            "dynashift: stop requested: cancelling the runs (a second Ctrl-C ends the process at once)"
        );
        tracing::info!("stop signal: cancelling {}", crate::human::counted(cancels.len() as u64, "run"));
        cancels.iter().for_each(CancellationToken::cancel);
        signals.recv().await;
        eprintln!("dynashift: second stop signal: exiting; the next run resumes the interrupted ones");
        std::process::exit(EXIT_INTERRUPTED);
    })
}

/// The closing lines: one per table, failures last so the very last line names one. The cost
/// footnote is left out at `-q`, whose output cron mails: errors and one line per table only.
fn print_summary(results: &[TableResult], json: bool, verbosity: Verbosity, out: &mut (dyn Write + Send)) {
    let mut ordered: Vec<&TableResult> = results.iter().filter(|r| r.result.is_ok()).collect();
    ordered.extend(results.iter().filter(|r| r.result.is_err()));
    for result in ordered {
        if json {
            let mut line = match &result.result {
                Ok(outcome) => serde_json::json!({ "event": "summary", "table": result.table,
                    "run_id": result.run_id, "ok": true, "result": outcome }),
                Err(failure) => serde_json::json!({ "event": "summary", "table": result.table,
                    "run_id": result.run_id, "ok": false, "failure": failure }),
            };
            if !result.accepted_gaps.is_empty() {
                line["accepted_gaps"] = serde_json::json!(result.accepted_gaps);
            }
            if let Some(cost) = &result.cost {
                line["cost"] = serde_json::json!(cost);
            }
            if let Some(drift) = &result.drift {
                line["drift"] = serde_json::json!(drift);
            }
            let _ = writeln!(out, "{line}");
            continue;
        }
        let line = match &result.result {
            Ok(RunOutcome::Committed { watermark, upserts, deletes, target_rows }) => format!(
                "{}{}{}",
                lines::committed(&result.table, *watermark, *upserts, *deletes, *target_rows),
                gaps_text(&result.accepted_gaps),
                result.cost.as_ref().map_or_else(String::new, |cost| format!("; {}", cost.line()))
            ),
            Ok(RunOutcome::UpToDate { reason, .. }) => {
                format!("OK      {}: up to date ({reason})", result.table)
            }
            Ok(RunOutcome::DryRun) => format!("OK      {}: dry run, nothing changed", result.table),
            Err(f) if f.skipped => format!("SKIPPED {}: {} — {}", result.table, f.cause, f.hint),
            Err(f) => format!(
                "FAILED  {}: at stage {}: {} — what to do: {}",
                result.table, f.stage, f.cause, f.hint
            ),
        };
        let _ = writeln!(out, "{line}{}", drift_text(result));
    }
    let footnote = !json && verbosity > Verbosity::Quiet;
    if footnote && results.iter().any(|r| r.cost.is_some() && r.result.is_ok()) {
        let _ = writeln!(out, "{}", lines::COST_FOOTNOTE);
    }
}

/// `; drift: …` for a summary line, or nothing (a run whose failure is the drift already says it).
fn drift_text(result: &TableResult) -> String {
    match (&result.drift, &result.result) {
        (Some(_), Err(failure)) if failure.cause.contains("schema drift") => String::new(),
        (Some(DriftCheck::NotCounted { reason }), _) => format!("; drift not counted ({reason})"),
        (Some(check), _) => format!("; drift: {}", check.summary()),
        (None, _) => String::new(),
    }
}

/// `; accepted gaps (--accept-gap): [a, b), …` for a summary line, or nothing.
fn gaps_text(gaps: &[AcceptedGap]) -> String {
    if gaps.is_empty() {
        return String::new();
    }
    let listed: Vec<String> = gaps.iter().map(ToString::to_string).collect();
    format!("; accepted gaps (--accept-gap), changes in no export: {}", listed.join(", "))
}

/// Turns events into lines. Text mode prints the events its level shows, and stage progress at
/// most every few seconds; JSON mode prints every event.
struct Printer {
    json: bool,
    verbosity: Verbosity,
    last_progress: BTreeMap<String, DateTime<Utc>>,
    /// Accepted gaps by run id, for the closing summary.
    gaps: BTreeMap<String, Vec<AcceptedGap>>,
    /// Cost estimates by run id, for the closing summary.
    costs: BTreeMap<String, CostEstimate>,
    /// Drift by run id, for the closing summary.
    drift: BTreeMap<String, DriftCheck>,
}

impl Printer {
    fn new(json: bool, verbosity: Verbosity) -> Printer {
        Printer {
            json,
            verbosity,
            last_progress: BTreeMap::new(),
            gaps: BTreeMap::new(),
            costs: BTreeMap::new(),
            drift: BTreeMap::new(),
        }
    }

    fn print(&mut self, event: &RunEvent, out: &mut (dyn Write + Send)) {
        if let EventKind::GapAccepted { from, to } = &event.kind {
            let gap = AcceptedGap { from: *from, to: *to };
            self.gaps.entry(event.run_id.clone()).or_default().push(gap);
        }
        if let EventKind::CostEstimated { usd, billed_bytes, assumption } = &event.kind {
            let estimate =
                CostEstimate { usd: *usd, billed_bytes: *billed_bytes, assumption: assumption.clone() };
            self.costs.insert(event.run_id.clone(), estimate);
        }
        if let EventKind::Drift { check } = &event.kind {
            self.drift.insert(event.run_id.clone(), check.clone());
        }
        if self.json {
            let _ = writeln!(out, "{}", serde_json::to_string(event).expect("events always serialize"));
            return;
        }
        if level_of(&event.kind) > self.verbosity {
            return;
        }
        if let EventKind::StagingProgress { .. } = &event.kind {
            let last = self.last_progress.get(&event.run_id).copied();
            if last.is_some_and(|t| event.at - t < chrono::Duration::seconds(3)) {
                return;
            }
            self.last_progress.insert(event.run_id.clone(), event.at);
        }
        if let Some(text) = describe(&event.kind, self.verbosity) {
            for line in text.lines() {
                let _ = writeln!(out, "{} {:<12} {line}", event.at.format("%H:%M:%S"), event.table);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_carries_the_drift_unless_the_failure_is_the_drift() {
        let report =
            crate::contract::DriftReport { items_checked: 4, untracked_paths: 2, ..Default::default() };
        let outcome = RunOutcome::UpToDate { watermark: None, reason: "r".into() };
        let mut result = TableResult {
            table: "t".into(),
            run_id: "r1".into(),
            result: Ok(outcome),
            accepted_gaps: Vec::new(),
            cost: None,
            drift: Some(DriftCheck::Counted { report }),
        };
        assert_eq!(drift_text(&result), "; drift: 2 unmapped attributes in 4 items checked");
        let mut json = Vec::new();
        print_summary(std::slice::from_ref(&result), true, Verbosity::Normal, &mut json);
        let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(json["drift"]["report"]["untracked_paths"], 2);
        result.drift = Some(DriftCheck::NotCounted { reason: "pushdown".into() });
        assert_eq!(drift_text(&result), "; drift not counted (pushdown)");
        result.result = Err(FailureSummary {
            stage: "staging".into(),
            cause: "schema drift in `t` (on_drift = \"fail\"): …".into(),
            hint: "h".into(),
            skipped: false,
        });
        result.drift = Some(DriftCheck::Counted { report: Default::default() });
        assert_eq!(drift_text(&result), "", "the failure already says it");
    }

    #[test]
    fn accepted_gaps_are_in_the_event_lines_and_the_summary() {
        let from = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 14, 10, 18, 50).unwrap();
        let to = from + chrono::Duration::seconds(70);
        let line = describe(&EventKind::GapAccepted { from, to }, Verbosity::Normal).unwrap();
        assert!(
            line.starts_with("gap accepted (--accept-gap): changes in [2026-01-14 10:18:50.000Z"),
            "{line}"
        );
        let outcome = RunOutcome::Committed { watermark: to, upserts: 1, deletes: 0, target_rows: 1 };
        let result = TableResult {
            table: "test".into(),
            run_id: "r1".into(),
            result: Ok(outcome),
            accepted_gaps: vec![AcceptedGap { from, to }],
            cost: None,
            drift: None,
        };
        let mut text = Vec::new();
        print_summary(std::slice::from_ref(&result), false, Verbosity::Normal, &mut text);
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains("accepted gaps (--accept-gap), changes in no export: [2026-01-14 10:18:50.000Z"),
            "{text}"
        );
        let mut json = Vec::new();
        print_summary(&[result], true, Verbosity::Normal, &mut json);
        let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(json["accepted_gaps"][0]["from"], "2026-01-14T10:18:50Z");
    }

    #[test]
    fn the_summary_prices_a_run_with_its_assumption_and_says_once_what_is_left_out() {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, 10, 0, 0).unwrap();
        let cost = CostEstimate {
            usd: Some(0.0009765625),
            billed_bytes: 10 << 20,
            assumption: "incremental export, 0.0098 GB processed at $0.10/GB (us-east-1 list price, \
                         minimum 10 MB per export)"
                .into(),
        };
        let committed = TableResult {
            table: "orders".into(),
            run_id: "r1".into(),
            result: Ok(RunOutcome::Committed { watermark: at, upserts: 3, deletes: 1, target_rows: 2_000 }),
            accepted_gaps: Vec::new(),
            cost: Some(cost.clone()),
            drift: None,
        };
        let unpriced = TableResult {
            table: "events".into(),
            run_id: "r2".into(),
            cost: Some(CostEstimate {
                usd: None,
                billed_bytes: 10 << 20,
                assumption: "price unknown for region eu-west-3: set export_price_incremental_per_gb in \
                             [defaults] or the table"
                    .into(),
            }),
            ..committed.clone()
        };
        let up_to_date = TableResult {
            table: "customers".into(),
            run_id: "r3".into(),
            result: Ok(RunOutcome::UpToDate { watermark: Some(at), reason: "less than one window".into() }),
            accepted_gaps: Vec::new(),
            cost: None,
            drift: None,
        };
        let results = [committed, unpriced, up_to_date];
        let mut text = Vec::new();
        print_summary(&results, false, Verbosity::Normal, &mut text);
        let text = String::from_utf8(text).unwrap();
        assert_eq!(text.matches("S3 requests and storage").count(), 1, "{text}");
        insta::assert_snapshot!("summary_with_cost_text", text);
        let mut quiet = Vec::new();
        print_summary(&results, false, Verbosity::Quiet, &mut quiet);
        let quiet = String::from_utf8(quiet).unwrap();
        assert!(quiet.contains("estimated export cost") && !quiet.contains("note:"), "{quiet}");
        let mut json = Vec::new();
        print_summary(&results, true, Verbosity::Normal, &mut json);
        insta::assert_snapshot!("summary_with_cost_json", String::from_utf8(json).unwrap());

        let mut printer = Printer::new(true, Verbosity::Normal);
        let event = RunEvent {
            run_id: "r1".into(),
            table: "orders".into(),
            at,
            kind: EventKind::cost_estimated(&cost),
        };
        let mut line = Vec::new();
        printer.print(&event, &mut line);
        insta::assert_snapshot!("cost_estimated_event_json", String::from_utf8(line).unwrap());
        assert_eq!(printer.costs.get("r1"), Some(&cost));
    }

    #[test]
    fn a_summary_without_an_estimate_has_no_footnote() {
        let result = TableResult {
            table: "orders".into(),
            run_id: "r1".into(),
            result: Ok(RunOutcome::DryRun),
            accepted_gaps: Vec::new(),
            cost: None,
            drift: None,
        };
        let mut text = Vec::new();
        print_summary(&[result], false, Verbosity::Normal, &mut text);
        assert!(!String::from_utf8(text).unwrap().contains("note:"));
    }
}
