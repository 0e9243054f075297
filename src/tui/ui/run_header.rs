//! The line above the run panes: which run they show, its mode and state, and how long it took.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{fit_line, span};
use crate::contract::pricing;
use crate::human;
use crate::tui::app::App;
use crate::tui::format;
use crate::tui::labels;
use crate::tui::run_view::{Origin, RunEnd};
use crate::tui::theme::{Theme, Tone};

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    frame.render_widget(Paragraph::new(fit_line(line(app, theme), usize::from(area.width))), area);
}

fn line(app: &App, theme: &Theme) -> Line<'static> {
    let Some(table) = app.selected() else {
        return Line::from(span(theme, Tone::Dim, " no table selected"));
    };
    let sep = || span(theme, Tone::Dim, " · ");
    let mut spans: Vec<Span> = vec![span(theme, Tone::Heading, format!(" {}", table.name))];
    if let Some(holder) = table.foreign_run() {
        let (tone, running) = labels::foreign_run(holder);
        let since = format!("{running} since {}", holder.acquired_at.format("%H:%M:%S"));
        spans.extend([sep(), span(theme, tone, since)]);
    }
    let Some(run) = table.shown_run() else {
        spans.push(sep());
        spans.push(span(theme, Tone::Dim, "no run yet: i syncs incrementally, f fully, d shows the plan"));
        return Line::from(spans);
    };
    let which = match run.origin {
        Origin::Live => format!("run {}", run.run_id),
        Origin::Journal => format!("last run {}", run.run_id),
    };
    spans.extend([sep(), span(theme, Tone::Plain, which)]);
    if let Some(mode) = run.mode {
        spans.extend([sep(), span(theme, Tone::Plain, mode.as_str())]);
    }
    let (tone, phase) = labels::phase(run.phase());
    spans.extend([sep(), span(theme, tone, phase)]);
    let took = format::duration(run.elapsed(app.now()));
    let timing = if run.end.is_some() { format!("took {took}") } else { took };
    spans.extend([sep(), span(theme, Tone::Plain, timing)]);
    // Estimates (docs/cost.md): the run's export cost, and 30 days of the table's schedule.
    let projected = table.projected_cost(app.now()).map(|p| format!("~{}/30d", pricing::usd(p.usd)));
    let cost = match (run.cost.as_ref().map(|c| format!("cost ~{}", c.usd_text())), projected) {
        (Some(cost), Some(projected)) => Some(format!("{cost}, {projected}")),
        (cost, projected) => cost.or(projected),
    };
    if let Some(cost) = cost {
        spans.extend([sep(), span(theme, Tone::Plain, cost)]);
    }
    if let Some(RunEnd::Committed { upserts, deletes, target_rows, .. }) = &run.end {
        let summary =
            format!("{} → {}", format::loaded(*upserts, *deletes), human::counted(*target_rows, "row"));
        spans.extend([sep(), span(theme, Tone::Plain, summary)]);
    }
    Line::from(spans)
}
