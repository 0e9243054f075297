//! The tables pane: every configured table with its target, mode, watermark, lag (coloured by
//! the configured thresholds), the state of its current or last run, and what that run loaded.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::{pane_block, span};
use crate::config::{LagThresholds, Mode};
use crate::tui::app::{App, NextRun};
use crate::tui::connection::Connection;
use crate::tui::format;
use crate::tui::labels;
use crate::tui::pane::Pane;
use crate::tui::table_entry::TableEntry;
use crate::tui::table_list::SortColumn;
use crate::tui::theme::{Theme, Tone};
use crate::tui::wrap;

/// Below this inner width the target column is left out, so the state keeps room.
const WIDE: u16 = 100;

/// The "Next" column: "in 1h05m", "paused".
const NEXT_WIDTH: u16 = 8;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let focused = app.focus() == Pane::Tables && app.popup().is_none();
    let order = app.list().order();
    let block = pane_block(title(order.len(), app), focused, theme)
        .title_top(title_right(app, theme).right_aligned());
    if order.is_empty() {
        let text = format!("No table matches “{}”. Esc clears the filter.", app.list().filter);
        frame.render_widget(Paragraph::new(span(theme, Tone::Dim, text)).block(block), area);
        return;
    }
    let columns = Columns::fit(app, area.width.saturating_sub(2));
    let visible = usize::from(area.height.saturating_sub(3)).max(1);
    let cursor = app.list().cursor;
    let range = cursor.visible_range(order.len(), visible);
    let rows = order[range.clone()].iter().map(|&i| row(&app.tables()[i], app, theme, &columns));
    let table = Table::new(rows, columns.constraints())
        .header(header(app.list().sort, &columns, shows_demo(app), theme))
        .block(block)
        .column_spacing(1)
        .row_highlight_style(if focused { theme.selected } else { theme.selected_unfocused });
    let mut state = TableState::new().with_selected(Some(cursor.selected() - range.start));
    frame.render_stateful_widget(table, area, &mut state);
}

/// Column widths: fixed ones sized to their content, the state column gets the rest (and its
/// text is cut with an ellipsis to fit).
struct Columns {
    name: u16,
    /// Shown when the pane is wide.
    target: Option<u16>,
    mode: u16,
    watermark: u16,
    lag: u16,
    /// When the table runs next; shown when any table has a schedule (`every`).
    next: Option<u16>,
    state: u16,
    loaded: u16,
}

impl Columns {
    fn fit(app: &App, inner: u16) -> Columns {
        let wide = inner >= WIDE;
        let longest = |f: &dyn Fn(&TableEntry) -> usize| app.tables().iter().map(f).max().unwrap_or(0) as u16;
        let name = longest(&|t| wrap::width(&t.name)).clamp(5, 24);
        let target = wide.then(|| longest(&|t| wrap::width(&t.target)).clamp(6, 28));
        let loaded = longest(&|t| t.loaded().map_or(0, |(u, d)| wrap::width(&format::loaded(u, d)))).max(6);
        let (mode, watermark, lag) = if wide { (11, 19, 6) } else { (4, 11, 6) };
        let next = app.schedules().any().then_some(NEXT_WIDTH);
        let columns = if wide { 7 } else { 6 } + u16::from(next.is_some());
        let fixed =
            name + target.unwrap_or(0) + mode + watermark + lag + next.unwrap_or(0) + loaded + (columns - 1);
        let state = inner.saturating_sub(fixed).max(8);
        Columns { name, target, mode, watermark, lag, next, state, loaded }
    }

    fn constraints(&self) -> Vec<Constraint> {
        let mut widths = vec![self.name];
        widths.extend(self.target);
        widths.extend([self.mode, self.watermark, self.lag]);
        widths.extend(self.next);
        widths.extend([self.state, self.loaded]);
        widths.into_iter().map(Constraint::Length).collect()
    }
}

/// "Tables · 3", or "Tables · 1 of 3" while a filter hides some.
fn title(shown: usize, app: &App) -> String {
    let total = app.tables().len();
    if app.list().filter.is_empty() {
        format!(" Tables · {total} ")
    } else {
        format!(" Tables · {shown} of {total} ")
    }
}

fn title_right(app: &App, theme: &Theme) -> Line<'static> {
    let list = app.list();
    let mut spans = Vec::new();
    if app.schedules().paused() {
        spans.push(span(theme, Tone::Warn, " schedules paused (p resumes) ·".to_owned()));
    }
    spans.push(span(theme, Tone::Dim, format!(" sort: {} ", list.sort.label())));
    if list.editing {
        spans.push(span(theme, Tone::Accent, format!("· filter: {}▏ ", list.filter)));
    } else if !list.filter.is_empty() {
        spans.push(span(theme, Tone::Accent, format!("· filter: {} ", list.filter)));
    }
    Line::from(spans)
}

/// Whether a listed table is a demo one, whose watermark is on the simulated clock.
fn shows_demo(app: &App) -> bool {
    app.list().order().iter().any(|&i| app.tables()[i].demo)
}

fn header(sort: SortColumn, columns: &Columns, demo: bool, theme: &Theme) -> Row<'static> {
    let wide = columns.target.is_some();
    let mark = |column: SortColumn, title: &str| {
        if sort == column { format!("{title} ▼") } else { title.to_owned() }
    };
    let mut titles = vec![mark(SortColumn::Table, "Table")];
    if wide {
        titles.push(mark(SortColumn::Target, "Target"));
    }
    let last_export = match (demo, wide) {
        (false, _) => "Last export",
        (true, true) => "Last export (demo)",
        (true, false) => "Last (demo)",
    };
    titles.extend(["Mode".to_owned(), last_export.to_owned(), mark(SortColumn::Lag, "Lag")]);
    if columns.next.is_some() {
        titles.push("Next".to_owned());
    }
    titles.extend([mark(SortColumn::State, "State"), mark(SortColumn::Loaded, "Loaded")]);
    Row::new(titles).style(theme.header)
}

fn row<'a>(table: &'a TableEntry, app: &App, theme: &Theme, columns: &Columns) -> Row<'a> {
    let wide = columns.target.is_some();
    let mut cells = vec![name_cell(table, theme, usize::from(columns.name))];
    if let Some(width) = columns.target {
        cells.push(Cell::from(wrap::ellipsize(&table.target, usize::from(width))));
    }
    let mode = match (table.mode, wide) {
        (Mode::Incremental, false) => "incr",
        (mode, _) => mode.as_str(),
    };
    let watermark = match table.watermark {
        Some(w) if wide => format::instant(w),
        Some(w) => format::instant_short(w),
        None => "—".to_owned(),
    };
    let (lag_tone, lag) = lag_cell(table, app.now(), app.lag_thresholds());
    let (state_tone, state) = state_cell(table, app.connection());
    let loaded = table.loaded().map(|(u, d)| format::loaded(u, d)).unwrap_or_default();
    cells.extend([Cell::from(mode), Cell::from(watermark), Cell::from(span(theme, lag_tone, lag))]);
    if columns.next.is_some() {
        let next = app.next_run(&table.name);
        let tone = match next {
            NextRun::Due => Tone::Accent,
            NextRun::Paused => Tone::Warn,
            _ => Tone::Dim,
        };
        cells.push(Cell::from(span(theme, tone, next.label())));
    }
    cells.extend([
        Cell::from(span(theme, state_tone, wrap::ellipsize(&state, usize::from(columns.state)))),
        Cell::from(loaded),
    ]);
    Row::new(cells)
}

/// The table's name, marked `Δ` when its last run found schema drift (`D` shows it).
fn name_cell<'a>(table: &TableEntry, theme: &Theme, width: usize) -> Cell<'a> {
    if table.drift().is_none() {
        return Cell::from(wrap::ellipsize(&table.name, width));
    }
    let name = wrap::ellipsize(&table.name, width.saturating_sub(2));
    Cell::from(Line::from(vec![Span::raw(name), Span::raw(" "), span(theme, Tone::Warn, "Δ")]))
}

/// The lag and its tone: ok, warn past `lag.warn`, bad past `lag.critical`.
pub(super) fn lag_cell(
    table: &TableEntry,
    now: chrono::DateTime<chrono::Utc>,
    lag: LagThresholds,
) -> (Tone, String) {
    match table.lag(now) {
        None if table.loaded_once => (Tone::Bad, "never".into()),
        None => (Tone::Dim, "…".into()),
        Some(age) if age >= lag.critical => (Tone::Bad, format::duration(age)),
        Some(age) if age >= lag.warn => (Tone::Warn, format::duration(age)),
        Some(age) => (Tone::Ok, format::duration(age)),
    }
}

fn state_cell(table: &TableEntry, connection: &Connection) -> (Tone, String) {
    if let Some(holder) = table.foreign_run() {
        return labels::foreign_run(holder);
    }
    match (table.shown_run(), &table.load_error) {
        (Some(run), _) => labels::phase_with_cause(run),
        (None, None) if !table.loaded_once => match connection {
            Connection::Connecting { .. } => (Tone::Dim, "connecting…".into()),
            Connection::Failed { .. } => (Tone::Bad, "not connected".into()),
            Connection::Connected => (Tone::Dim, "loading…".into()),
        },
        (None, Some(error)) => (Tone::Warn, format!("⚠ cannot read state: {error}")),
        (None, None) => (Tone::Dim, "never synced".into()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::tui::fixtures::{self, t};

    #[test]
    fn lag_tones_follow_the_thresholds() {
        let config = fixtures::config();
        let mut table = TableEntry::new(&config.tables[0]);
        let now = t(18, 0, 0);
        assert_eq!(lag_cell(&table, now, config.lag).0, Tone::Dim, "not loaded yet");
        table.loaded_once = true;
        assert_eq!(lag_cell(&table, now, config.lag), (Tone::Bad, "never".into()));
        table.watermark = Some(now - Duration::from_secs(3600));
        assert_eq!(lag_cell(&table, now, config.lag), (Tone::Ok, "1h00m".into()));
        table.watermark = Some(now - Duration::from_secs(3 * 3600));
        assert_eq!(lag_cell(&table, now, config.lag).0, Tone::Warn);
        table.watermark = Some(now - Duration::from_secs(30 * 3600));
        assert_eq!(lag_cell(&table, now, config.lag), (Tone::Bad, "1d06h".into()));
    }
}
