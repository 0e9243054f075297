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

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus() == Pane::Statements && app.popup().is_none();
    let run = app.selected().and_then(|t| t.shown_run());
    let block = pane_block(title(run), focused, theme);
    let Some(run) = run.filter(|r| !r.statements.is_empty()) else {
        let text = if run.is_some_and(|r| r.end.is_none()) { "No statements yet." } else { "No statements." };
        frame.render_widget(Paragraph::new(span(theme, Tone::Dim, text)).block(block), area);
        return;
    };
    let visible = usize::from(area.height.saturating_sub(3)).max(1);
    let cursor = app.statements_cursor();
    let range = cursor.visible_range(run.statements.len(), visible);
    let shown: Vec<&StatementRow> = run.statements.iter().skip(range.start).take(range.len()).collect();
    let widths = Widths::fit(area.width.saturating_sub(2), &shown);
    let with_errors = widths.error.is_some();
    let rows = run.statements.iter().skip(range.start).take(range.len()).map(|s| row(s, theme, &widths));
    let table = Table::new(rows, widths.constraints())
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

/// Column widths: `#`, status, time and rows as wide as their header or the widest shown value;
/// the label and error columns share what those leave of the pane's width (3 to 2; the label
/// takes it all while no shown statement failed), and their text is cut to it with an ellipsis.
struct Widths {
    /// `#`, status, time, rows.
    fixed: [u16; 4],
    label: u16,
    /// Shown from [`ERROR_COLUMN`] cells of inner width, when a shown statement failed.
    error: Option<u16>,
}

impl Widths {
    fn fit(inner: u16, shown: &[&StatementRow]) -> Widths {
        let widest = |header: &str, cell: &dyn Fn(&StatementRow) -> String| {
            let values = shown.iter().map(|s| wrap::width(&cell(s)));
            values.fold(wrap::width(header), usize::max) as u16
        };
        let fixed = [
            3,
            widest("Status", &|s| labels::statement_state(s.state).1.to_owned()),
            widest("Time", &|s| time_text(s)),
            widest("Rows", &|s| rows_text(s)),
        ];
        let with_errors = shown.iter().any(|s| s.error.is_some()) && inner >= ERROR_COLUMN;
        let gaps = if with_errors { 5 } else { 4 };
        let free = inner.saturating_sub(fixed.iter().sum::<u16>() + gaps);
        if with_errors {
            let label = free * 3 / 5;
            Widths { fixed, label, error: Some(free - label) }
        } else {
            Widths { fixed, label: free, error: None }
        }
    }

    fn constraints(&self) -> Vec<Constraint> {
        let [index, status, time, rows] = self.fixed;
        let mut widths = vec![index, self.label, status, time, rows];
        widths.extend(self.error);
        widths.into_iter().map(Constraint::Length).collect()
    }
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

fn row<'a>(statement: &'a StatementRow, theme: &Theme, widths: &Widths) -> Row<'a> {
    let (tone, state) = labels::statement_state(statement.state);
    let mut cells = vec![
        Cell::from(format!("{:>3}", statement.index)),
        Cell::from(wrap::ellipsize(&statement.label, usize::from(widths.label))),
        Cell::from(span(theme, tone, state)),
        Cell::from(Line::from(time_text(statement)).right_aligned()),
        Cell::from(Line::from(rows_text(statement)).right_aligned()),
    ];
    if let Some(width) = widths.error {
        let error = statement.error.as_deref().map(wrap::first_line).unwrap_or_default();
        cells.push(Cell::from(span(theme, Tone::Bad, wrap::ellipsize(error, usize::from(width)))));
    }
    Row::new(cells)
}

fn time_text(statement: &StatementRow) -> String {
    statement.duration_ms.map(format::millis).unwrap_or_default()
}

fn rows_text(statement: &StatementRow) -> String {
    statement.rows.map(|r| format::count(r.max(0) as u64)).unwrap_or_default()
}
