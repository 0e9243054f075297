//! The export pane: the export being waited on (ARN, status, elapsed time, polls, items, billed
//! bytes) and, when catching up over several windows, the whole plan with each window's state.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{field, fit_lines, pane_block, span};
use crate::contract::ExportSpec;
use crate::human;
use crate::tui::app::App;
use crate::tui::format;
use crate::tui::labels;
use crate::tui::run_view::{ExportPhase, ExportView, RunEnd, RunView};
use crate::tui::theme::{Theme, Tone};
use crate::tui::wrap;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let run = app.selected().and_then(|t| t.shown_run());
    let demo = run.is_some_and(|run| app.demo_clock(&run.table));
    let title = match run {
        Some(run) if run.is_catch_up() && demo => {
            format!(" Exports · {} windows · demo clock ", run.exports.len())
        }
        Some(run) if run.is_catch_up() => format!(" Exports · {} windows, catching up ", run.exports.len()),
        _ if demo => " Export · demo clock ".to_owned(),
        _ => " Export ".to_owned(),
    };
    let inner_width = usize::from(area.width.saturating_sub(2));
    let inner_height = usize::from(area.height.saturating_sub(2));
    let lines = match run {
        Some(run) => lines(run, theme, inner_width, inner_height),
        None => vec![Line::from(span(theme, Tone::Dim, "No run yet."))],
    };
    let lines = fit_lines(lines, inner_width);
    frame.render_widget(Paragraph::new(lines).block(pane_block(title, false, theme)), area);
}

fn lines(run: &RunView, theme: &Theme, width: usize, height: usize) -> Vec<Line<'static>> {
    let Some((index, current)) = run.current_export() else {
        return vec![Line::from(no_exports(run, theme))];
    };
    let done = run.exports.iter().filter(|e| e.phase == ExportPhase::Completed).count();
    let (tone, status) = export_status(run.end.is_some(), current.phase);
    let mut status_spans = vec![span(theme, tone, status)];
    if run.is_catch_up() {
        status_spans.push(span(theme, Tone::Dim, format!(" · {done}/{} done", run.exports.len())));
    }
    let mut lines = vec![field(theme, "Status", status_spans)];
    if let Some(ms) = current.elapsed_ms {
        lines.push(field(
            theme,
            "Elapsed",
            vec![
                span(theme, Tone::Plain, format::millis(ms)),
                span(theme, Tone::Dim, format!(" · {}", human::counted(u64::from(current.polls), "poll"))),
            ],
        ));
    }
    let arn = current.arn.as_deref().map_or("not requested yet".to_owned(), |arn| {
        let found = if current.existing { " (found)" } else { "" };
        wrap::ellipsize_middle(&format!("{arn}{found}"), width.saturating_sub(9))
    });
    lines.push(field(
        theme,
        if run.is_catch_up() { "Current" } else { "Export" },
        vec![span(theme, Tone::Plain, arn)],
    ));
    lines.push(field(theme, "Items", totals(run, theme)));
    if run.is_catch_up() {
        lines.extend(plan_lines(run, index, theme, width, height.saturating_sub(lines.len())));
    } else {
        lines.push(field(theme, "Window", vec![span(theme, Tone::Plain, window(&current.spec))]));
    }
    lines
}

/// The export's status; once the run ended (cancelled, failed) an export it was still waiting
/// on is not being watched any more — DynamoDB cannot cancel it, and the next run picks it up
/// with the same ClientToken — so it is not shown as if it were.
fn export_status(run_ended: bool, phase: ExportPhase) -> (Tone, &'static str) {
    match phase {
        ExportPhase::Requested | ExportPhase::InProgress if run_ended => {
            (Tone::Warn, "left running in DynamoDB; the next run picks it up")
        }
        _ => labels::export_phase(phase),
    }
}

fn no_exports(run: &RunView, theme: &Theme) -> Vec<Span<'static>> {
    match &run.end {
        Some(RunEnd::UpToDate { reason }) => vec![span(theme, Tone::Ok, format!("Up to date: {reason}"))],
        Some(_) => vec![span(theme, Tone::Dim, "No export.")],
        None => vec![span(theme, Tone::Accent, "Planning…")],
    }
}

/// Items and billed bytes over every export of the run.
fn totals(run: &RunView, theme: &Theme) -> Vec<Span<'static>> {
    let sum = |f: fn(&ExportView) -> Option<u64>| -> Option<u64> {
        run.exports.iter().filter_map(f).fold(None, |acc, n| Some(acc.unwrap_or(0) + n))
    };
    let items = sum(|e| e.item_count).map_or("—".to_owned(), format::count);
    let billed = sum(|e| e.billed_bytes).map_or("—".to_owned(), format::bytes);
    vec![span(theme, Tone::Plain, items), span(theme, Tone::Dim, format!(" · billed {billed}"))]
}

/// One line per window, as many as fit, the current one kept in view.
fn plan_lines(run: &RunView, current: usize, theme: &Theme, width: usize, room: usize) -> Vec<Line<'static>> {
    if room == 0 {
        return Vec::new();
    }
    let total = run.exports.len();
    let (shown, more) = if total <= room { (total, false) } else { (room - 1, true) };
    let start = current.saturating_sub(shown.saturating_sub(1) / 2).min(total - shown);
    let mut lines: Vec<Line> = run.exports[start..start + shown]
        .iter()
        .enumerate()
        .map(|(i, export)| {
            let (tone, marker) = labels::export_marker(export.phase);
            let items = export.item_count.map(format::count).unwrap_or_default();
            let text = format!("{}. {}  {items}", start + i + 1, window(&export.spec));
            let text = wrap::ellipsize(&text, width.saturating_sub(2));
            Line::from(vec![span(theme, tone, format!("{marker} ")), span(theme, Tone::Plain, text)])
        })
        .collect();
    if more {
        lines.push(Line::from(span(theme, Tone::Dim, format!("  … {} more windows", total - shown))));
    }
    lines
}

fn window(spec: &ExportSpec) -> String {
    match spec {
        ExportSpec::Full { export_time } => format!("full, as of {}", format::instant(*export_time)),
        ExportSpec::Incremental { from, to, .. } => {
            format!("{} → {}", format::instant_short(*from), format::instant_short(*to))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_a_finished_run_left_running_is_not_shown_as_watched() {
        assert_eq!(export_status(false, ExportPhase::InProgress), (Tone::Accent, "IN_PROGRESS"));
        for phase in [ExportPhase::Requested, ExportPhase::InProgress] {
            assert_eq!(export_status(true, phase).1, "left running in DynamoDB; the next run picks it up");
        }
        assert_eq!(export_status(true, ExportPhase::Completed), (Tone::Ok, "COMPLETED"));
    }
}
