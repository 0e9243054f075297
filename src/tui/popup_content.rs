//! The text of each popup, built from the state for a given width. The state uses the line count
//! to clamp scrolling; the popup pane draws the lines.

use chrono::{DateTime, Utc};

use crate::human;

use super::doc::{Doc, DocLine};
use super::format;
use super::keymap::{self, Context};
use super::labels;
use super::popup::{Popup, PopupKind, Question};
use super::rows_view::RowsView;
use super::run_log::LogLevel;
use super::run_view::{RunEnd, RunView, StatementRow};
use super::table_entry::TableEntry;
use super::theme::Tone;

/// What the popups read from the console's state. The state (`App`) implements it, so the state
/// can measure its popup for scrolling without this module depending on it.
pub(super) trait PopupState {
    fn now(&self) -> DateTime<Utc>;
    fn log_file(&self) -> &std::path::Path;
    fn table(&self, name: &str) -> Option<&TableEntry>;
    fn dry_run(&self) -> Option<&RunView>;
    fn demo_clock(&self, table: &str) -> bool;
    fn rows(&self) -> Option<&RowsView>;
}

/// The lines of `popup` at `width` cells.
pub(super) fn build(app: &impl PopupState, popup: &Popup, width: usize) -> Vec<DocLine> {
    let mut doc = Doc::new(width);
    match &popup.kind {
        PopupKind::Help => help(&mut doc, app),
        PopupKind::Confirm(question) => confirm(&mut doc, app, question),
        PopupKind::Statement { table, run_id, position } => {
            let run = app.table(table).and_then(|t| {
                [t.live.as_ref(), t.last_journal.as_ref()].into_iter().flatten().find(|r| &r.run_id == run_id)
            });
            match run.and_then(|r| r.statements.get(*position)) {
                Some(row) => statement(&mut doc, row),
                None => doc.text(Tone::Dim, "This statement belongs to a run that is no longer shown."),
            }
        }
        PopupKind::DryRun => match app.dry_run() {
            Some(plan) => dry_run(&mut doc, plan),
            None => doc.text(Tone::Dim, "No dry run yet: d plans one for the selected table."),
        },
        PopupKind::Failure { table } => match app.table(table).and_then(|t| t.shown_run()) {
            Some(run) => failure(&mut doc, run),
            None => doc.text(Tone::Dim, "No failed run to show."),
        },
        PopupKind::RunDetail(run) => run_detail(&mut doc, run, app.now(), app.demo_clock(&run.table)),
        PopupKind::Log { table } => match app.table(table).and_then(|t| t.shown_run()) {
            Some(run) => log(&mut doc, run),
            None => doc.text(Tone::Dim, "No run to show the log of."),
        },
        PopupKind::Row => whole_row(&mut doc, app.rows()),
        PopupKind::TableDetail { table } => match app.table(table) {
            Some(entry) => super::table_detail::table_detail(&mut doc, entry),
            None => doc.text(Tone::Dim, "This table is no longer configured."),
        },
        PopupKind::Drift { table } => match app.table(table).and_then(|t| t.drift()) {
            Some(report) => super::ui::drift::drift_doc(&mut doc, table, report),
            None => doc.text(Tone::Dim, &format!("No schema drift in the last run of {table}.")),
        },
    }
    doc.into_lines()
}

/// The rows view's selected row, a column a line: `name` then its whole value (NULL dimmed).
fn whole_row(doc: &mut Doc, view: Option<&RowsView>) {
    let page = view.and_then(|view| Some((view, view.page()?)));
    let Some((row, page)) =
        page.and_then(|(view, page)| Some((page.rows.get(view.cursor.selected())?, page)))
    else {
        doc.text(Tone::Dim, "No row is selected.");
        return;
    };
    for (name, value) in page.columns.iter().zip(row) {
        doc.text(Tone::Heading, name);
        match value {
            Some(value) => doc.indented(2, Tone::Plain, value),
            None => doc.indented(2, Tone::Dim, "NULL"),
        }
    }
}

fn help(doc: &mut Doc, app: &impl PopupState) {
    doc.field("Log file", Tone::Plain, &app.log_file().display().to_string());
    doc.text(Tone::Dim, "Logs go to this file, never to the screen (DYNASHIFT_LOG sets the level).");
    for context in Context::ALL {
        doc.heading(context.title());
        for binding in keymap::bindings(context) {
            doc.keyed(&binding.keys_label(), binding.help);
        }
    }
    doc.heading("Mouse");
    doc.text(
        Tone::Plain,
        "The wheel scrolls the pane under the pointer; a click focuses a pane and selects a row.",
    );
}

fn confirm(doc: &mut Doc, app: &impl PopupState, question: &Question) {
    match question {
        Question::FullSync { table } => {
            let target = app.table(table).map_or(table.as_str(), |t| t.target.as_str());
            doc.text(
                Tone::Plain,
                &format!(
                    "A full sync exports all of {table} and replaces every row of {target} with it, in one \
                     transaction: readers keep the old rows until it commits, never an empty table."
                ),
            );
            yes_no(doc, "run the full sync", "leave it");
        }
        Question::FirstSync { table } => {
            let target = app.table(table).map_or(table.as_str(), |t| t.target.as_str());
            doc.text(
                Tone::Plain,
                &format!(
                    "{table} has never been synced, so an incremental sync has no watermark to start from. \
                     A full sync exports all of {table} and creates {target}; incremental syncs go on from there."
                ),
            );
            yes_no(doc, "run the full sync", "leave it");
        }
        Question::Quit { active } => {
            let (runs, them) = if *active == 1 {
                ("1 run is".to_owned(), "it")
            } else {
                (format!("{active} runs are"), "them")
            };
            doc.text(
                Tone::Plain,
                &format!(
                    "{runs} still going. Quitting cancels {them}: nothing of an unfinished run is committed, \
                     and the next sync covers the same changes."
                ),
            );
            yes_no(doc, "cancel and quit", "keep running");
        }
    }
}

fn statement(doc: &mut Doc, row: &StatementRow) {
    let (tone, state) = labels::statement_state(row.state);
    doc.field("Statement", Tone::Plain, &format!("{}/{} {}", row.index, row.total, row.label));
    doc.field("Status", tone, state);
    if let Some(ms) = row.duration_ms {
        doc.field("Duration", Tone::Plain, &format::millis(ms));
    }
    if let Some(rows) = row.rows {
        doc.field("Rows", Tone::Plain, &format::count(rows.max(0) as u64));
    }
    if let Some(id) = &row.query_id {
        doc.field("Query id", Tone::Dim, id);
    }
    if let Some(error) = &row.error {
        doc.heading("Error");
        doc.indented(2, Tone::Bad, error);
    }
    doc.heading("SQL");
    doc.indented(2, Tone::Plain, &row.sql);
}

fn dry_run(doc: &mut Doc, plan: &RunView) {
    doc.field("Table", Tone::Plain, &plan.table);
    if let Some(mode) = plan.mode {
        doc.field("Mode", Tone::Plain, mode.as_str());
    }
    let (tone, status) = match &plan.end {
        None => (Tone::Accent, "planning…".to_owned()),
        Some(RunEnd::Failed(_)) => (Tone::Bad, "the plan failed (below)".to_owned()),
        Some(_) => (Tone::Ok, "nothing was changed; this is what a sync would do".to_owned()),
    };
    doc.field("Status", tone, &status);
    exports_section(doc, plan, false);
    for note in &plan.plan_notes {
        doc.field("Note", Tone::Warn, note);
    }
    if !plan.statements.is_empty() {
        doc.heading(&format!(
            "SQL ({}, one transaction)",
            human::counted(plan.statements.len() as u64, "statement")
        ));
        for row in plan.statements.iter() {
            doc.text(Tone::Dim, &format!("-- {}/{} {}", row.index, row.total, row.label));
            doc.indented(2, Tone::Plain, &row.sql);
        }
    }
    if let Some(failure) = plan.failure() {
        doc.heading("Failure");
        failure_fields(doc, failure);
    }
}

fn exports_section(doc: &mut Doc, run: &RunView, demo: bool) {
    if run.exports.is_empty() {
        if run.end.is_some() {
            doc.heading("Exports");
            doc.text(Tone::Dim, "nothing to export");
        }
        return;
    }
    let mut title = if run.is_catch_up() {
        format!("Exports ({} windows, catching up)", run.exports.len())
    } else {
        "Export".to_owned()
    };
    if demo {
        title.push_str(" · windows on the demo clock");
    }
    doc.heading(&title);
    for (i, export) in run.exports.iter().enumerate() {
        let (tone, marker) = labels::export_marker(export.phase);
        let (status_tone, status) = labels::export_phase(export.phase);
        let mut spans = vec![
            (tone, format!("{marker} {}. ", i + 1)),
            (Tone::Plain, export.spec.to_string()),
            (Tone::Dim, "  ".into()),
            (status_tone, status.to_owned()),
        ];
        if let Some(items) = export.item_count {
            spans.push((Tone::Dim, format!("  {}", human::counted(items, "item"))));
        }
        doc.spans(spans);
        if let Some(arn) = &export.arn {
            doc.indented(5, Tone::Dim, arn);
        }
    }
    // The estimate with the assumption it rests on (docs/cost.md).
    if let Some(cost) = &run.cost {
        doc.field("Cost", Tone::Plain, &cost.line());
    }
}

fn failure_fields(doc: &mut Doc, failure: &super::run_view::Failure) {
    doc.field("Stage", Tone::Bad, failure.stage.as_str());
    doc.field("Cause", Tone::Plain, &failure.cause);
    doc.field("What to do", Tone::Accent, &failure.hint);
}

fn failure(doc: &mut Doc, run: &RunView) {
    let Some(failure) = run.failure() else {
        doc.text(Tone::Dim, &format!("The last run of {} did not fail.", run.table));
        return;
    };
    doc.field("Run", Tone::Plain, &format!("{} ({})", run.run_id, run.mode.map_or("", |m| m.as_str())));
    doc.field("Failed at", Tone::Bad, failure.stage.as_str());
    doc.spans(labels::stage_track(run));
    doc.heading("Cause");
    doc.indented(2, Tone::Plain, &failure.cause);
    if let Some(row) = run.statements.iter().find(|s| s.error.is_some()) {
        doc.heading(&format!("Failed statement {}/{}: {}", row.index, row.total, row.label));
        doc.indented(2, Tone::Bad, row.error.as_deref().unwrap_or_default());
    }
    doc.heading("What to do");
    doc.indented(2, Tone::Accent, &failure.hint);
}

/// `demo`: the run's watermark and windows are on the demo's simulated clock (its start and end
/// are real), so they say so.
fn run_detail(doc: &mut Doc, run: &RunView, now: DateTime<Utc>, demo: bool) {
    let (tone, result) = labels::phase(run.phase());
    let table = match &run.target {
        Some(target) => format!("{} → {target}", run.table),
        None => run.table.clone(),
    };
    doc.field("Table", Tone::Plain, &table);
    if let Some(mode) = run.mode {
        doc.field("Mode", Tone::Plain, mode.as_str());
    }
    doc.field("Result", tone, &result);
    doc.field("Started", Tone::Plain, &format::instant(run.started_at));
    let took = format::duration(run.elapsed(now));
    match run.ended_at {
        Some(end) => doc.field("Finished", Tone::Plain, &format!("{} (took {took})", format::instant(end))),
        None => doc.field("Elapsed", Tone::Plain, &took),
    }
    watermark_field(doc, run, demo);
    doc.spans(labels::stage_track(run));
    exports_section(doc, run, demo);
    staging_section(doc, run);
    statements_section(doc, run);
    if let Some(failure) = run.failure() {
        doc.heading("Failure");
        failure_fields(doc, failure);
    }
    for note in &run.plan_notes {
        doc.field("Note", Tone::Dim, note);
    }
}

fn watermark_field(doc: &mut Doc, run: &RunView, demo: bool) {
    let show = |t: Option<DateTime<Utc>>| t.map_or("never".to_owned(), format::instant);
    let clock = if demo { " (demo clock)" } else { "" };
    match run.new_watermark {
        Some(new) => doc.field(
            "Watermark",
            Tone::Plain,
            &format!("{} → {}{clock}", show(run.previous_watermark), format::instant(new)),
        ),
        None => {
            doc.field("Watermark", Tone::Dim, &format!("{} (unchanged){clock}", show(run.previous_watermark)))
        }
    }
}

fn staging_section(doc: &mut Doc, run: &RunView) {
    let Some(staging) = &run.staging else { return };
    let c = &staging.counts;
    doc.heading("Manifest generation");
    doc.field("Files", Tone::Plain, &format!("{}/{}", c.files_done, c.files_total));
    doc.field("Items read", Tone::Plain, &format::count(c.items_read));
    doc.field("Loaded", Tone::Plain, &format::loaded(c.upserts, c.deletes));
    doc.field("Superseded", Tone::Plain, &format::count(c.superseded));
    if c.nulled_values > 0 {
        doc.field("Nulled", Tone::Warn, &format::count(c.nulled_values));
    }
    doc.field(
        "Bytes",
        Tone::Plain,
        &format!("{} in, {} out", format::bytes(c.bytes_in), format::bytes(c.bytes_out)),
    );
}

fn statements_section(doc: &mut Doc, run: &RunView) {
    if run.statements.is_empty() {
        return;
    }
    doc.heading(&format!("Statements ({})", run.statements.len()));
    for row in run.statements.iter() {
        let (tone, state) = labels::statement_state(row.state);
        let duration = row.duration_ms.map(format::millis).unwrap_or_default();
        let rows = row.rows.map(|r| human::counted(r.max(0) as u64, "row")).unwrap_or_default();
        doc.spans(vec![
            (Tone::Dim, format!("{:>2}. ", row.index)),
            (tone, format!("{state:<9} ")),
            (Tone::Plain, format!("{duration:>7} {rows:>12}  {}", row.label)),
        ]);
        if let Some(error) = &row.error {
            doc.indented(4, Tone::Bad, error);
        }
    }
}

fn log(doc: &mut Doc, run: &RunView) {
    if run.log.dropped() > 0 {
        doc.text(Tone::Dim, &format!("({} earlier lines not kept)", run.log.dropped()));
    }
    if run.log.is_empty() {
        doc.text(Tone::Dim, "No log lines: this run was read from its journal.");
    }
    let width = doc.width();
    for line in run.log.iter() {
        let tone = match line.level {
            LogLevel::Info => Tone::Plain,
            LogLevel::Warn => Tone::Warn,
            LogLevel::Error => Tone::Bad,
        };
        let stamp = line.at.format("%H:%M:%S ").to_string();
        let mut first = true;
        for part in super::wrap::wrap(&line.text, width.saturating_sub(9)) {
            let lead = if first { stamp.clone() } else { " ".repeat(9) };
            doc.spans(vec![(Tone::Dim, lead), (tone, part)]);
            first = false;
        }
    }
}

/// The answer line of a yes/no question.
fn yes_no(doc: &mut Doc, yes: &str, no: &str) {
    doc.blank();
    doc.spans(vec![
        (Tone::Key, "y".into()),
        (Tone::Plain, format!(" {yes}    ")),
        (Tone::Key, "n".into()),
        (Tone::Plain, format!(" {no}")),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::tui::action::{Action, Intent};
    use crate::tui::app::App;
    use crate::tui::app::test_support::app;
    use crate::tui::fixtures::{MERGE_ERROR, Script};

    fn text(app: &App, width: usize) -> String {
        let popup = app.popup().expect("a popup is open");
        build(app, popup, width).iter().map(DocLine::plain_text).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn help_lists_every_binding_and_the_log_file() {
        let mut app = app(120, 40);
        app.intent(Intent::Help);
        let help = text(&app, 300);
        assert!(help.contains("/srv/dynashift/.dynashift/dynashift.log"));
        for binding in keymap::KEYMAP {
            assert!(help.contains(binding.help), "{}", binding.help);
        }
    }

    #[test]
    fn the_failure_popup_has_stage_cause_statement_and_hint() {
        let mut app = app(120, 40);
        let mut script = Script::new("orders", "r1");
        app.feed([script.started(Mode::Incremental, false)]);
        app.feed(script.failed_while_loading());
        app.intent(Intent::Open);
        let failure = text(&app, 200);
        assert!(failure.contains("Failed at   loading"));
        assert!(failure.contains(MERGE_ERROR));
        assert!(failure.contains("Failed statement 4/4: merge upserts"));
        assert!(failure.contains("What to do\n  nothing was committed"));
    }

    #[test]
    fn the_run_detail_shows_the_cost_estimate_with_its_assumption() {
        let mut app = app(120, 40);
        let mut script = Script::new("orders", "r1");
        app.feed([script.started(Mode::Incremental, false)]);
        let estimate = crate::contract::CostEstimate {
            usd: Some(0.0009765625),
            billed_bytes: 10 << 20,
            assumption: "incremental export, 0.0098 GB processed at $0.10/GB (us-east-1 list price, \
                         minimum 10 MB per export)"
                .into(),
        };
        app.feed([script.event(crate::pipeline::EventKind::cost_estimated(&estimate))]);
        app.feed(script.committed_run());
        app.intent(Intent::Open);
        let detail = text(&app, 200);
        assert!(
            detail.contains(
                "Cost        estimated export cost $0.0010 (incremental export, 0.0098 GB processed"
            ),
            "{detail}"
        );
    }

    #[test]
    fn no_line_is_wider_than_the_popup() {
        let mut app = app(120, 40);
        let mut script = Script::new("orders", "r1");
        app.feed([script.started(Mode::Incremental, false)]);
        app.feed(script.failed_while_loading());
        app.intent(Intent::Open);
        for width in [30, 60, 100] {
            let lines = build(&app, app.popup().unwrap(), width);
            for line in lines {
                assert!(crate::tui::wrap::width(&line.plain_text()) <= width, "{}", line.plain_text());
            }
        }
    }

    #[test]
    fn the_dry_run_popup_shows_the_windows_and_the_sql() {
        let mut app = app(120, 40);
        let mut script = Script::new("orders", "dry");
        app.update(Action::RunStarted { table: "orders".into(), run_id: "dry".into(), dry_run: true });
        assert!(text(&app, 100).contains("planning…"));
        app.feed([script.started(Mode::Incremental, true)]);
        app.feed(script.dry_run());
        let plan = text(&app, 100);
        assert!(plan.contains("Exports (2 windows, catching up)"));
        assert!(plan.contains("-- 4/4 merge upserts"));
        assert!(plan.contains("MERGE INTO analytics.orders"));
        assert!(plan.contains("nothing was changed"));
    }
}
