//! The statements pane: one row per warehouse statement of the selected table's run, with its
//! status, duration, rows and error. Enter opens the full SQL and error. Only the visible rows
//! are built, so a long run draws as fast as a short one.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::{pane_block, span};
use crate::tui::app::App;
use crate::tui::format;
use crate::tui::labels;
use crate::tui::pane::Pane;
use crate::tui::run_view::{RunView, StatementRow};
use crate::tui::theme::{Theme, Tone};
use crate::tui::wrap;

/// Inner width from which the error column is shown.
const ERROR_COLUMN: u16 = 70;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus() == Pane::Statements && app.popup().is_none();
    let run = app.selected().and_then(|t| t.shown_run());
    let block = pane_block(title(run), focused, theme);
    let Some(run) = run.filter(|r| !r.statements.is_empty()) else {
        let text = if run.is_some_and(|r| r.end.is_none()) { "No statements yet." } else { "No statements." };
        frame.render_widget(Paragraph::new(span(theme, Tone::Dim, text)).block(block), area);
        return;
    };
    let with_errors = area.width.saturating_sub(2) >= ERROR_COLUMN;
    let visible = usize::from(area.height.saturating_sub(3)).max(1);
    let cursor = app.statements_cursor();
    let range = cursor.visible_range(run.statements.len(), visible);
    let rows = run.statements.iter().skip(range.start).take(range.len()).map(|s| row(s, theme, with_errors));
    let table = Table::new(rows, widths(with_errors))
        .header(header(with_errors, theme))
        .block(block)
        .column_spacing(1)
        .row_highlight_style(if focused { theme.selected } else { theme.selected_unfocused });
    let selected = cursor.selected().checked_sub(range.start);
    frame.render_stateful_widget(table, area, &mut TableState::new().with_selected(selected));
}

fn title(run: Option<&RunView>) -> Line<'static> {
    let Some(run) = run.filter(|r| !r.statements.is_empty()) else {
        return Line::from(" Statements ");
    };
    let done = run.statements.iter().filter(|s| s.duration_ms.is_some()).count();
    let mut title = format!(" Statements · {done}/{} done ", run.statements.len());
    if run.statements.dropped() > 0 {
        title.push_str(&format!("· {} older not kept ", run.statements.dropped()));
    }
    Line::from(title)
}

fn widths(with_errors: bool) -> Vec<Constraint> {
    let mut widths = vec![
        Constraint::Length(3),
        Constraint::Fill(3),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(9),
    ];
    if with_errors {
        widths.push(Constraint::Fill(2));
    }
    widths
}

fn header(with_errors: bool, theme: &Theme) -> Row<'static> {
    let mut titles = vec![
        Cell::from("#"),
        Cell::from("Statement"),
        Cell::from("Status"),
        Cell::from(Line::from("Time").right_aligned()),
        Cell::from(Line::from("Rows").right_aligned()),
    ];
    if with_errors {
        titles.push(Cell::from("Error"));
    }
    Row::new(titles).style(theme.header)
}

fn row<'a>(statement: &'a StatementRow, theme: &Theme, with_errors: bool) -> Row<'a> {
    let (tone, state) = labels::statement_state(statement.state);
    let mut cells = vec![
        Cell::from(format!("{:>3}", statement.index)),
        Cell::from(statement.label.as_str()),
        Cell::from(span(theme, tone, state)),
        Cell::from(Line::from(statement.duration_ms.map(format::millis).unwrap_or_default()).right_aligned()),
        Cell::from(
            Line::from(statement.rows.map(|r| format::count(r.max(0) as u64)).unwrap_or_default())
                .right_aligned(),
        ),
    ];
    if with_errors {
        let error = statement.error.as_deref().map(wrap::first_line).unwrap_or_default();
        cells.push(Cell::from(span(theme, Tone::Bad, error)));
    }
    Row::new(cells)
}
