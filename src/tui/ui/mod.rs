//! Drawing: one function per pane, each reading the state and nothing else (no clock, no I/O).

mod connection;
pub(super) mod drift;
mod export;
mod footer;
mod history;
mod manifest;
mod popups;
mod rows;
mod run_header;
mod statements;
mod status_line;
mod tables;
mod too_small;
mod trends;

use ratatui::Frame;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

use super::app::App;
use super::doc::DocLine;
use super::layout::ScreenLayout;
use super::theme::{Theme, Tone};

/// Draws the whole console.
pub(super) fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    let area = frame.area();
    let Some(layout) = ScreenLayout::new(area, app.tables().len()) else {
        too_small::draw(frame, area, theme);
        return;
    };
    tables::draw(frame, layout.tables, app, theme);
    if app.connection().is_connected() {
        run_header::draw(frame, layout.run_header, app, theme);
        export::draw(frame, layout.export, app, theme);
        manifest::draw(frame, layout.manifest, app, theme);
        statements::draw(frame, layout.statements, app, theme);
        history::draw(frame, layout.history, app, theme);
        if let Some(area) = layout.trends {
            trends::draw(frame, area, app, theme);
        }
    } else {
        connection::draw(frame, layout.run_header.union(layout.history), app, theme);
    }
    status_line::draw(frame, layout.status, app, theme);
    footer::draw(frame, layout.footer, app, theme);
    if let Some(view) = app.rows() {
        rows::draw(frame, area, view, theme);
    }
    if let Some(popup) = app.popup() {
        popups::draw(frame, area, app, popup, theme);
    }
}

/// A pane's frame; the focused pane's border and title stand out.
fn pane_block<'a>(title: impl Into<Line<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    let (border, title_style) =
        if focused { (theme.border_focused, theme.header) } else { (theme.border, theme.style(Tone::Plain)) };
    Block::bordered()
        .border_type(if focused { BorderType::Thick } else { BorderType::Plain })
        .border_style(border)
        .title(title.into().style(title_style))
}

fn span<'a>(theme: &Theme, tone: Tone, text: impl Into<std::borrow::Cow<'a, str>>) -> Span<'a> {
    Span::styled(text, theme.style(tone))
}

/// A `Label    value` line of a run pane.
fn field<'a>(theme: &Theme, label: &'a str, value: Vec<Span<'a>>) -> Line<'a> {
    let mut spans = vec![span(theme, Tone::Dim, format!("{label:<9}"))];
    spans.extend(value);
    Line::from(spans)
}

/// `line` cut to `width` cells, its last kept span ending in `…` when something was cut: a
/// one-line row never stops mid-word without saying so.
fn fit_line(line: Line<'static>, width: usize) -> Line<'static> {
    let mut left = width;
    let mut spans = Vec::with_capacity(line.spans.len());
    for span in line.spans {
        let cells = super::wrap::width(&span.content);
        if cells <= left {
            left -= cells;
            spans.push(span);
            continue;
        }
        let cut = super::wrap::ellipsize(&span.content, left);
        spans.push(Span::styled(cut, span.style));
        break;
    }
    Line::from(spans).style(line.style)
}

/// [`fit_line`] for every line of a pane's text.
fn fit_lines(lines: Vec<Line<'static>>, width: usize) -> Vec<Line<'static>> {
    lines.into_iter().map(|line| fit_line(line, width)).collect()
}

fn doc_line(theme: &Theme, line: &DocLine) -> Line<'static> {
    Line::from(line.0.iter().map(|(tone, text)| span(theme, *tone, text.clone())).collect::<Vec<_>>())
}
