//! The headless text lines: which events a level prints, and the words for each.
//!
//! A cron job's log should say what happened without scrolling: by default one line per stage
//! change and per warning, then the summary; `-v` adds the detail (polls, files, statements,
//! counts); `-q` keeps errors and the summary. JSON Lines ignore levels and carry every event.

use chrono::{DateTime, Utc};

use crate::contract::{AcceptedGap, CostEstimate, DriftCheck};
use crate::human::{bytes, count, counted, counted_as, with_article};
use crate::pipeline::events::{EventKind, RunOutcome, StatementStatus};

/// How much the text output says (`-q`, default, `-v`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Errors and the summary only.
    Quiet,
    /// One line per stage change and per warning, and the summary.
    #[default]
    Normal,
    /// Everything: polls, files, statements and counts too.
    Verbose,
}

impl Verbosity {
    /// The level of `-q` / `-v`: both cannot be given (the command line refuses it).
    pub fn from_flags(quiet: bool, verbose: bool) -> Verbosity {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        }
    }

    /// A dry run exists to show its plan and SQL, so it shows them unless asked to be quiet.
    pub fn for_dry_run(self) -> Verbosity {
        if self == Verbosity::Normal { Verbosity::Verbose } else { self }
    }
}

/// The least verbose level that prints `kind`.
pub fn level_of(kind: &EventKind) -> Verbosity {
    match kind {
        EventKind::RunFailed { .. } => Verbosity::Quiet,
        EventKind::StatementFinished { status: StatementStatus::Failed, .. } => Verbosity::Quiet,
        EventKind::RunStarted { .. }
        | EventKind::Resuming { .. }
        | EventKind::Planned { .. }
        | EventKind::StageChanged { .. }
        | EventKind::GapAccepted { .. }
        | EventKind::Drift { check: DriftCheck::Counted { .. } }
        | EventKind::Warning { .. }
        | EventKind::StatementFinished { status: StatementStatus::Aborted, .. } => Verbosity::Normal,
        EventKind::ExportRequested { .. }
        | EventKind::ExportFound { .. }
        | EventKind::ExportPolled { .. }
        | EventKind::ExportCompleted { .. }
        | EventKind::CostEstimated { .. }
        | EventKind::StagingStarted { .. }
        | EventKind::FileVerified { .. }
        | EventKind::StagingProgress { .. }
        | EventKind::StagingFinished { .. }
        | EventKind::Drift { check: DriftCheck::NotCounted { .. } }
        | EventKind::StatementPlanned { .. }
        | EventKind::StatementSubmitted { .. }
        | EventKind::StatementStarted { .. }
        | EventKind::StatementFinished { .. }
        | EventKind::Reconciled { .. }
        | EventKind::WatermarkAdvanced { .. }
        | EventKind::RunFinished { .. } => Verbosity::Verbose,
    }
}

/// `2026-11-24 18:30:05Z`.
pub(super) fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// One human line (or a few) per event, with the detail `verbosity` asks for (a plan lists its
/// exports and notes only when verbose); `None` for events text mode leaves out.
pub fn describe(kind: &EventKind, verbosity: Verbosity) -> Option<String> {
    let verbose = verbosity >= Verbosity::Verbose;
    Some(match kind {
        EventKind::RunStarted { mode, dry_run, source, warehouse, target, .. } => {
            let sync = format!("{mode} sync");
            let what = if *dry_run {
                format!("dry run (nothing will change) of {}", with_article(&sync))
            } else {
                sync
            };
            format!("{what}: {source} → {warehouse}, table {target}")
        }
        EventKind::Resuming { resumed_run_id, stage } => {
            format!("resuming run {resumed_run_id} at stage {stage}")
        }
        EventKind::StageChanged { stage } => format!("stage: {stage}"),
        EventKind::Planned { exports, notes } => plan(exports, notes, verbose),
        EventKind::GapAccepted { from, to } => format!(
            "gap accepted (--accept-gap): changes in {} are in no export and are not applied",
            AcceptedGap { from: *from, to: *to }
        ),
        EventKind::ExportRequested { index, total, export_arn, .. } => {
            format!("export {}/{total} requested: {export_arn}", index + 1)
        }
        EventKind::ExportFound { index, total, export_arn, spec } => {
            format!("export {}/{total} found: {spec}: {export_arn}", index + 1)
        }
        EventKind::ExportPolled { index, status, elapsed_ms, polls, .. } => format!(
            "export {} {} after {:.1} s (poll {polls})",
            index + 1,
            status.as_str(),
            *elapsed_ms as f64 / 1000.0
        ),
        EventKind::ExportCompleted { index, item_count, billed_size_bytes, data_files, .. } => format!(
            "export {} completed: {} in {}, {} billed",
            index + 1,
            counted(*item_count, "item"),
            counted(*data_files as u64, "data file"),
            bytes(*billed_size_bytes)
        ),
        EventKind::CostEstimated { usd, billed_bytes, assumption } => {
            CostEstimate { usd: *usd, billed_bytes: *billed_bytes, assumption: assumption.clone() }.line()
        }
        EventKind::StagingStarted { files_total, exports } => format!(
            "staging {} from {}",
            counted(*files_total, "data file"),
            counted(*exports as u64, "export")
        ),
        EventKind::FileVerified { key, items, md5_checked } => {
            format!(
                "verified {key}: {}{}",
                counted(*items, "item"),
                if *md5_checked { ", md5 ok" } else { "" }
            )
        }
        EventKind::StagingProgress { counts } => format!(
            "staging: {}/{} files, {} read",
            count(counts.files_done),
            count(counts.files_total),
            counted(counts.items_read, "item")
        ),
        EventKind::StagingFinished { counts, staged_files, manifest_url } => format!(
            "staged {} → {}, {} ({} superseded, {} nulled) in {}, {} in → {} out, {:.2} s{}\n  manifest: {manifest_url}",
            counted(counts.items_read, "item"),
            counted(counts.upserts, "upsert"),
            counted(counts.deletes, "delete"),
            count(counts.superseded),
            counted(counts.nulled_values, "value"),
            counted(*staged_files as u64, "file"),
            bytes(counts.bytes_in),
            bytes(counts.bytes_out),
            counts.elapsed_ms as f64 / 1000.0,
            spilled(counts.spill_partitions)
        ),
        EventKind::StatementPlanned { index, total, label, sql } => {
            format!("[{index}/{total}] {label}\n{}", indent(sql))
        }
        EventKind::StatementSubmitted { index, total, label, .. } => format!("[{index}/{total}] {label}"),
        EventKind::StatementStarted { .. } => return None,
        EventKind::StatementFinished { index, status, duration_ms, rows, error, .. } => {
            let rows = rows.map(|r| format!(", {}", counted(r.max(0) as u64, "row"))).unwrap_or_default();
            match status {
                StatementStatus::Finished => format!("[{index}] finished in {duration_ms} ms{rows}"),
                StatementStatus::Failed => format!(
                    "[{index}] FAILED after {duration_ms} ms: {}",
                    error.as_deref().unwrap_or("no message")
                ),
                StatementStatus::Aborted => format!("[{index}] aborted after {duration_ms} ms"),
            }
        }
        EventKind::Reconciled { target_rows, upserts, deletes } => format!(
            "reconciled: target holds {} after {} and {}",
            counted(*target_rows, "row"),
            counted(*upserts, "upsert"),
            counted(*deletes, "delete")
        ),
        EventKind::WatermarkAdvanced { from, to } => {
            format!("watermark advanced: {} → {}", from.map(time).unwrap_or_else(|| "none".into()), time(*to))
        }
        EventKind::Drift { check } => drift(check),
        EventKind::Warning { message } => format!("warning: {message}"),
        EventKind::RunFinished { result } => match result {
            RunOutcome::Committed { .. } => "run committed".to_owned(),
            RunOutcome::UpToDate { reason, .. } => format!("up to date: {reason}"),
            RunOutcome::DryRun => "dry run finished; nothing was changed".to_owned(),
        },
        EventKind::RunFailed { stage, cause, hint } => {
            format!("run FAILED at stage {stage}: {cause}\n  what to do: {hint}")
        }
    })
}

/// `plan: 1 export: full at …`, or `plan: 3 exports (catching up)`; verbose adds one line per
/// export and the source's notes.
fn plan(exports: &[crate::contract::ExportSpec], notes: &[String], verbose: bool) -> String {
    let mut text = match exports.len() {
        0 => "plan: nothing to export".to_owned(),
        1 => format!("plan: 1 export: {}", exports[0]),
        n => format!("plan: {} (catching up)", counted(n as u64, "export")),
    };
    if !verbose {
        return text;
    }
    if exports.len() > 1 {
        text.push(':');
        for (i, spec) in exports.iter().enumerate() {
            text.push_str(&format!("\n  {}. {spec}", i + 1));
        }
    }
    for note in notes {
        text.push_str(&format!("\n  note: {note}"));
    }
    text
}

/// Said once under the summary lines when a run was priced (docs/cost.md).
pub(super) const COST_FOOTNOTE: &str = "note: export cost estimates cover DynamoDB's export charges at list \
    price; S3 requests and storage and Redshift Data API calls are small and not included (docs/cost.md)";

/// The summary line of a committed run.
pub(super) fn committed(
    table: &str,
    watermark: DateTime<Utc>,
    upserts: u64,
    deletes: u64,
    target_rows: u64,
) -> String {
    format!(
        "OK      {table}: committed up to {}; {}, {}; target holds {}",
        time(watermark),
        counted(upserts, "upsert"),
        counted(deletes, "delete"),
        counted_as(target_rows, "row", "rows")
    )
}

/// Most `columns` entries a drift line lists (the rest are in `dynashift status` and the console).
const DRIFT_ENTRIES_LISTED: usize = 5;

/// `drift: …`, then a `columns` entry per new attribute and a line per type drift.
fn drift(check: &DriftCheck) -> String {
    let DriftCheck::Counted { report } = check else { return format!("drift {}", check.summary()) };
    let mut text = format!("drift: {}", report.summary());
    for attribute in report.unmapped.iter().take(DRIFT_ENTRIES_LISTED) {
        text.push_str(&format!("\n  to map {}, add to columns: {}", attribute.path, attribute.column_entry));
    }
    for drift in report.type_drift.iter().take(DRIFT_ENTRIES_LISTED) {
        text.push_str(&format!(
            "\n  column {} ({}) got {} at {}, expects {}",
            drift.column,
            drift.column_type,
            counted(drift.items, &format!("{} value", drift.seen)),
            drift.path,
            drift.expected.join(" or ")
        ));
    }
    text
}

fn indent(sql: &str) -> String {
    sql.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// The note a stage that spilled its fold by key to disk adds to its summary.
fn spilled(partitions: u64) -> String {
    match partitions {
        0 => String::new(),
        n => format!(", spilled to disk in {n} partitions (more keys than stage_memory_mb holds)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::pipeline::events::{Stage, StageCounts};

    fn started(mode: Mode, dry_run: bool) -> String {
        let kind = EventKind::RunStarted {
            mode,
            dry_run,
            source: "demo table orders".into(),
            store: "file:///b".into(),
            warehouse: "sqlite w.sqlite".into(),
            target: "orders".into(),
        };
        describe(&kind, Verbosity::Normal).expect("a line")
    }

    #[test]
    fn a_run_start_reads_as_a_sentence_in_either_mode() {
        assert_eq!(
            started(Mode::Full, false),
            "full sync: demo table orders → sqlite w.sqlite, table orders"
        );
        assert!(started(Mode::Full, true).starts_with("dry run (nothing will change) of a full sync"));
        assert!(
            started(Mode::Incremental, true)
                .starts_with("dry run (nothing will change) of an incremental sync")
        );
    }

    #[test]
    fn levels_order_errors_stages_and_detail() {
        let failed = EventKind::RunFailed { stage: Stage::Loading, cause: "c".into(), hint: "h".into() };
        assert_eq!(level_of(&failed), Verbosity::Quiet);
        assert_eq!(level_of(&EventKind::StageChanged { stage: Stage::Staging }), Verbosity::Normal);
        assert_eq!(level_of(&EventKind::Warning { message: "w".into() }), Verbosity::Normal);
        let polled = EventKind::FileVerified { key: "k".into(), items: 1, md5_checked: true };
        assert_eq!(level_of(&polled), Verbosity::Verbose);
        assert_eq!(Verbosity::from_flags(true, false), Verbosity::Quiet);
        assert_eq!(Verbosity::from_flags(false, true), Verbosity::Verbose);
        assert_eq!(Verbosity::Normal.for_dry_run(), Verbosity::Verbose);
        assert_eq!(Verbosity::Quiet.for_dry_run(), Verbosity::Quiet);
    }

    #[test]
    fn one_of_a_thing_is_singular_and_numbers_are_grouped() {
        let finished = EventKind::StatementFinished {
            index: 3,
            status: StatementStatus::Finished,
            duration_ms: 2,
            rows: Some(1),
            error: None,
            query_id: None,
        };
        assert_eq!(describe(&finished, Verbosity::Verbose).unwrap(), "[3] finished in 2 ms, 1 row");
        let staging = EventKind::StagingStarted { files_total: 1, exports: 1 };
        assert_eq!(describe(&staging, Verbosity::Verbose).unwrap(), "staging 1 data file from 1 export");
        let reconciled = EventKind::Reconciled { target_rows: 12_345, upserts: 1, deletes: 0 };
        assert_eq!(
            describe(&reconciled, Verbosity::Verbose).unwrap(),
            "reconciled: target holds 12,345 rows after 1 upsert and 0 deletes"
        );
        let counts = StageCounts {
            items_read: 1,
            upserts: 1,
            bytes_in: 1536,
            bytes_out: 100_000,
            ..Default::default()
        };
        let staged = EventKind::StagingFinished { counts, staged_files: 1, manifest_url: "m".into() };
        let line = describe(&staged, Verbosity::Verbose).unwrap();
        assert!(line.starts_with("staged 1 item → 1 upsert, 0 deletes (0 superseded, 0 values nulled) in 1 file, 1.5 KiB in → 97.7 KiB out"), "{line}");
        assert!(!line.contains("spilled"), "{line}");
        let counts = StageCounts { spill_partitions: 12, ..counts };
        let staged = EventKind::StagingFinished { counts, staged_files: 1, manifest_url: "m".into() };
        let line = describe(&staged, Verbosity::Verbose).unwrap();
        assert!(
            line.contains(" s, spilled to disk in 12 partitions (more keys than stage_memory_mb holds)\n"),
            "{line}"
        );
        assert_eq!(
            committed("t", Utc::now(), 1, 1, 1).matches(" 1 upsert, 1 delete; target holds 1 row").count(),
            1
        );
    }

    #[test]
    fn drift_lines_give_a_columns_entry_per_new_attribute_and_pushdown_says_it_did_not_count() {
        use crate::contract::{DriftReport, TypeDrift, UnmappedAttribute};
        let attribute = |path: &str| UnmappedAttribute {
            path: path.into(),
            items: 2,
            types: [("S".to_owned(), 2)].into(),
            column_entry: format!("{{ name = \"{path}\", path = \"{path}\", type = \"varchar(32)\" }}"),
        };
        let report = DriftReport {
            items_checked: 9,
            unmapped: (0..7).map(|i| attribute(&format!("a{i}"))).collect(),
            type_drift: vec![TypeDrift {
                path: "n".into(),
                column: "n".into(),
                column_type: "integer".into(),
                expected: vec!["N".into()],
                seen: "S".into(),
                items: 1,
            }],
            ..DriftReport::default()
        };
        let counted = EventKind::Drift { check: DriftCheck::Counted { report } };
        assert_eq!(level_of(&counted), Verbosity::Normal);
        let text = describe(&counted, Verbosity::Normal).unwrap();
        assert!(
            text.starts_with("drift: 7 unmapped attributes (a0 in 2, a1 in 2, a2 in 2 and 4 more)"),
            "{text}"
        );
        assert_eq!(text.matches("add to columns: { name = ").count(), 5, "{text}");
        assert!(text.ends_with("\n  column n (integer) got 1 S value at n, expects N"), "{text}");
        let pushdown = EventKind::Drift { check: DriftCheck::NotCounted { reason: "pushdown".into() } };
        assert_eq!(level_of(&pushdown), Verbosity::Verbose);
        assert_eq!(describe(&pushdown, Verbosity::Verbose).unwrap(), "drift not counted: pushdown");
    }

    #[test]
    fn a_plan_lists_its_exports_and_notes_only_when_verbose() {
        let spec = |h| crate::contract::ExportSpec::Full {
            export_time: chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 1, 1, h, 0, 0).unwrap(),
        };
        let planned = EventKind::Planned { exports: vec![spec(1), spec(2)], notes: vec!["n".into()] };
        assert_eq!(describe(&planned, Verbosity::Normal).unwrap(), "plan: 2 exports (catching up)");
        let verbose = describe(&planned, Verbosity::Verbose).unwrap();
        assert_eq!(verbose.lines().count(), 4, "{verbose}");
        assert!(verbose.ends_with("\n  note: n"), "{verbose}");
    }
}
