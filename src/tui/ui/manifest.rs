//! The manifest generation pane (the stage step): files done of total with a gauge, items read,
//! upserts and deletes, bytes in and out, throughput, and the manifest verification results.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};

use super::{field, fit_lines, pane_block, span};
use crate::human;
use crate::pipeline::events::Stage;
use crate::tui::app::App;
use crate::tui::format;
use crate::tui::run_view::{Origin, RunView, StagingView};
use crate::tui::theme::{Theme, Tone};

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let block = pane_block(" Manifest generation ", false, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let run = app.selected().and_then(|t| t.shown_run());
    let Some((run, staging)) = run.and_then(|run| run.staging.as_ref().map(|s| (run, s))) else {
        frame.render_widget(Paragraph::new(waiting(run, theme)), inner);
        return;
    };
    let [gauge_area, text_area] =
        inner.layout(&Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]));
    frame.render_widget(gauge(staging, theme), gauge_area);
    let lines = fit_lines(lines(run, staging, theme), usize::from(text_area.width));
    frame.render_widget(Paragraph::new(lines), text_area);
}

fn waiting(run: Option<&RunView>, theme: &Theme) -> Line<'static> {
    let text = match run {
        Some(run) if run.end.is_none() && run.stage < Stage::Staging => "Waiting for the exports.",
        Some(run) if run.origin == Origin::Journal && run.stage >= Stage::Staged => {
            "No counts in this run's journal."
        }
        Some(_) => "Nothing staged.",
        None => "No run yet.",
    };
    Line::from(span(theme, Tone::Dim, text))
}

fn gauge(staging: &StagingView, theme: &Theme) -> LineGauge<'static> {
    let c = &staging.counts;
    let ratio = if c.files_total == 0 { 0.0 } else { c.files_done as f64 / c.files_total as f64 };
    LineGauge::default()
        .ratio(ratio.clamp(0.0, 1.0))
        .label(format!("{:<9}{}/{} ", "Files", c.files_done, c.files_total))
        .filled_symbol("█")
        .unfilled_symbol("░")
        .filled_style(theme.gauge)
        .unfilled_style(theme.dim)
}

fn lines(run: &RunView, staging: &StagingView, theme: &Theme) -> Vec<Line<'static>> {
    let c = &staging.counts;
    let plain = |text: String| span(theme, Tone::Plain, text);
    let dim = |text: String| span(theme, Tone::Dim, text);
    let mut lines = vec![
        field(
            theme,
            "Items",
            vec![
                plain(format!("{} read", format::count(c.items_read))),
                dim(" · ".into()),
                plain(format::loaded(c.upserts, c.deletes)),
                dim(format!(" · {} superseded", format::count(c.superseded))),
            ],
        ),
        field(
            theme,
            "Bytes",
            vec![
                plain(format!("{} in", format::bytes(c.bytes_in))),
                dim(" · ".into()),
                plain(format!("{} out", format::bytes(c.bytes_out))),
            ],
        ),
        field(theme, "Rate", rate(c.items_read, c.bytes_in, c.elapsed_ms, theme)),
        field(theme, "Verified", verified(staging, theme)),
    ];
    if c.nulled_values > 0 {
        lines.push(field(
            theme,
            "Nulled",
            vec![span(
                theme,
                Tone::Warn,
                format!("{} did not fit their column", human::counted(c.nulled_values, "value")),
            )],
        ));
    }
    if let Some(files) = staging.staged_files {
        let into = if run.dry_run { "would be" } else { "staged in" };
        lines.push(field(
            theme,
            "Output",
            vec![plain(format!("{into} {} for COPY", human::counted(files as u64, "file")))],
        ));
    }
    lines
}

fn rate(items: u64, bytes_in: u64, elapsed_ms: u64, theme: &Theme) -> Vec<Span<'static>> {
    match (format::per_second(items, elapsed_ms), format::per_second(bytes_in, elapsed_ms)) {
        (Some(items), Some(bytes)) => vec![
            span(theme, Tone::Plain, format!("{} items/s", format::count(items as u64))),
            span(
                theme,
                Tone::Dim,
                format!(" · {}/s in · {}", format::bytes(bytes as u64), format::millis(elapsed_ms)),
            ),
        ],
        _ => vec![span(theme, Tone::Dim, "—")],
    }
}

fn verified(staging: &StagingView, theme: &Theme) -> Vec<Span<'static>> {
    let total = staging.counts.files_total;
    match (staging.verified_files, staging.md5_verified) {
        (Some(done), Some(md5)) => {
            let tone = if done == total && total > 0 { Tone::Ok } else { Tone::Plain };
            vec![
                span(theme, tone, format!("{done}/{total} files match the manifest")),
                span(theme, Tone::Dim, format!(" ({md5} by MD5)")),
            ]
        }
        (Some(done), None) => vec![span(theme, Tone::Ok, format!("{done}/{total} files match the manifest"))],
        (None, _) => vec![span(theme, Tone::Dim, "—")],
    }
}
