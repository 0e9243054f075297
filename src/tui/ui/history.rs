//! The history pane: the selected table's past runs from their journals, newest first. Enter opens
//! one with its stages, exports, counts, statements and failure.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::{pane_block, span};
use crate::config::Mode;
use crate::pipeline::RunJournal;
use crate::pipeline::events::Stage;
use crate::tui::app::App;
use crate::tui::format;
use crate::tui::labels;
use crate::tui::pane::Pane;
use crate::tui::run_view::Phase;
use crate::tui::theme::{Theme, Tone};

/// Inner width from which the mode column is shown.
const MODE_COLUMN: u16 = 44;
/// Inner width from which the cost column is shown (when a run in view has an estimate); it
/// takes the mode column's place when there is room for only one.
const COST_COLUMN: u16 = 40;
/// The cost column's width: `$0.0010`, `$1234.56`.
const COST_WIDTH: u16 = 8;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus() == Pane::History && app.popup().is_none();
    let table = app.selected();
    let count = table.map_or(0, |t| t.history.len());
    let runs = if count == 1 { "1 run".to_owned() } else { format!("{count} runs") };
    let block = pane_block(format!(" History · {runs} "), focused, theme);
    let Some(table) = table.filter(|t| !t.history.is_empty()) else {
        let text = if table.is_some_and(|t| t.loaded_once) { "No past runs." } else { "Loading…" };
        frame.render_widget(Paragraph::new(span(theme, Tone::Dim, text)).block(block), area);
        return;
    };
    let visible = usize::from(area.height.saturating_sub(3)).max(1);
    let cursor = app.history_cursor();
    let range = cursor.visible_range(table.history.len(), visible);
    let inner = area.width.saturating_sub(2);
    let with_cost =
        inner >= COST_COLUMN && table.history[range.clone()].iter().any(|journal| journal.cost.is_some());
    let with_mode = inner >= MODE_COLUMN + if with_cost { COST_WIDTH + 1 } else { 0 };
    // Started, Took and the spacing take 19 cells (and Mode 5, Cost 9 more); Result gets the rest.
    let extra = if with_mode { 5 } else { 0 } + if with_cost { COST_WIDTH + 1 } else { 0 };
    let result_width = area.width.saturating_sub(2 + 19 + extra);
    let short = result_width < 24;
    let rows = table.history[range.clone()].iter().map(|journal| {
        let mut row = row(journal, theme, with_mode, short);
        if with_cost {
            row.push(Cell::from(cost_cell(journal)));
        }
        Row::new(row)
    });
    let mut widths = vec![Constraint::Length(11)];
    let mut titles = vec!["Started"];
    if with_mode {
        widths.push(Constraint::Length(4));
        titles.push("Mode");
    }
    widths.extend([Constraint::Fill(1), Constraint::Length(6)]);
    titles.extend(["Result", "Took"]);
    if with_cost {
        widths.push(Constraint::Length(COST_WIDTH));
        titles.push("Cost");
    }
    let history = Table::new(rows, widths)
        .header(Row::new(titles).style(theme.header))
        .block(block)
        .column_spacing(1)
        .row_highlight_style(if focused { theme.selected } else { theme.selected_unfocused });
    let selected = cursor.selected().checked_sub(range.start);
    frame.render_stateful_widget(history, area, &mut TableState::new().with_selected(selected));
}

/// The run's estimated export cost (`?` when its region has no price), blank without one.
fn cost_cell(journal: &RunJournal) -> String {
    journal.cost.as_ref().map_or_else(String::new, |cost| match cost.usd {
        Some(usd) => crate::contract::pricing::usd(usd),
        None => "?".to_owned(),
    })
}

fn row<'a>(journal: &'a RunJournal, theme: &Theme, with_mode: bool, short: bool) -> Vec<Cell<'a>> {
    let mut cells = vec![Cell::from(format::instant_short(journal.started_at))];
    if with_mode {
        cells.push(Cell::from(if journal.mode == Mode::Full { "full" } else { "incr" }));
    }
    let (tone, result) =
        if short { labels::phase_short(phase(journal)) } else { labels::phase(phase(journal)) };
    let result = match (&journal.failure, journal.stage == Stage::Committed) {
        (None, true) => {
            let counts = journal.stage_counts.unwrap_or_default();
            format!("{} {}", result, format::loaded(counts.upserts, counts.deletes))
        }
        _ => result,
    };
    // A run that applied exports with a gap between them (headless --accept-gap) says so.
    let result = match (journal.accepted_gaps.is_empty(), short) {
        (true, _) => result,
        (false, true) => format!("{result} gap"),
        (false, false) => format!("{result}, gap accepted"),
    };
    let took = journal.finished_at.map(|end| format::duration(format::between(journal.started_at, end)));
    cells.extend([Cell::from(span(theme, tone, result)), Cell::from(took.unwrap_or_default())]);
    cells
}

/// A journal's outcome, without building the whole run model for every row.
fn phase(journal: &RunJournal) -> Phase {
    match (&journal.failure, journal.stage, journal.finished_at) {
        (Some(failure), _, _) => Phase::Failed(failure.stage),
        (None, Stage::Committed, _) => Phase::Committed,
        (None, _, Some(_)) => Phase::UpToDate,
        (None, stage, None) => Phase::Unfinished(stage),
    }
}
