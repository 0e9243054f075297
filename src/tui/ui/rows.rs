//! The rows view: a page of a table's target rows in key order, drawn as a table over the
//! panes. Columns are as wide as their widest value shown (within a cap) and scroll sideways
//! from the first column shown; values are the warehouse's own text, NULL dimmed.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::span;
use crate::contract::RowPage;
use crate::tui::layout;
use crate::tui::rows_view::{RowsView, Shown};
use crate::tui::theme::{Theme, Tone};
use crate::tui::wrap;

/// The widest a column gets; longer values end in `…`.
const MAX_COLUMN: usize = 32;

pub(super) fn draw(frame: &mut Frame, screen: Rect, view: &RowsView, theme: &Theme) {
    let area = layout::rows_area(screen);
    let block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(theme.border_focused)
        .title(Line::from(format!(" Rows · {} · {} ", view.table, view.target)).style(theme.header))
        .title_bottom(status(view, theme).right_aligned());
    frame.render_widget(Clear, area);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    match &view.shown {
        Shown::Nothing => message(frame, inner, theme, Tone::Dim, "Reading the first rows…"),
        Shown::NotLoaded => message(
            frame,
            inner,
            theme,
            Tone::Dim,
            &format!("No rows loaded yet: {} does not exist until a sync loads it (i or f).", view.target),
        ),
        Shown::Page(page) if page.rows.is_empty() => {
            let text = match &view.found {
                Some(key) => {
                    format!("No key at or after \"{}\". g goes back to the first rows.", key.join(", "))
                }
                None => format!("{} holds no rows.", view.target),
            };
            message(frame, inner, theme, Tone::Dim, &text);
        }
        Shown::Page(page) => rows(frame, inner, view, page, theme),
    }
    if let Some(error) = &view.error {
        let bottom = Rect::new(inner.x, inner.bottom().saturating_sub(1), inner.width, 1.min(inner.height));
        frame.render_widget(Clear, bottom);
        message(frame, bottom, theme, Tone::Bad, &format!("✗ {error}"));
    }
}

fn message(frame: &mut Frame, area: Rect, theme: &Theme, tone: Tone, text: &str) {
    let paragraph = Paragraph::new(span(theme, tone, text.to_owned())).wrap(Wrap { trim: true });
    frame.render_widget(paragraph, area);
}

fn rows(frame: &mut Frame, area: Rect, view: &RowsView, page: &RowPage, theme: &Theme) {
    let visible = usize::from(area.height.saturating_sub(1)).max(1);
    let range = view.cursor.visible_range(page.rows.len(), visible);
    let shown = column_widths(page, range.clone(), view.first_column, usize::from(area.width));
    let header =
        Row::new(shown.iter().map(|&(i, _)| Cell::from(page.columns[i].clone()))).style(theme.header);
    let body = page.rows[range.clone()].iter().map(|row| {
        Row::new(shown.iter().map(|&(i, width)| match row.get(i).and_then(Option::as_deref) {
            Some(value) => Cell::from(wrap::ellipsize(&one_line(value), width)),
            None => Cell::from(span(theme, Tone::Dim, "NULL")),
        }))
    });
    let widths = shown.iter().map(|&(_, width)| Constraint::Length(width as u16));
    let table = Table::new(body, widths).header(header).column_spacing(1).row_highlight_style(theme.selected);
    let selected = view.cursor.selected().checked_sub(range.start);
    frame.render_stateful_widget(table, area, &mut TableState::new().with_selected(selected));
}

/// The columns that fit `width` cells from `first` on, each as wide as its header and the
/// values of the rows shown (at most [`MAX_COLUMN`]): `(column index, width)`. The first one
/// is always shown, cut to the width if it must be.
fn column_widths(
    page: &RowPage,
    rows: std::ops::Range<usize>,
    first: usize,
    width: usize,
) -> Vec<(usize, usize)> {
    let mut shown = Vec::new();
    let mut used = 0;
    for (i, name) in page.columns.iter().enumerate().skip(first) {
        let widest = page.rows[rows.clone()]
            .iter()
            .map(|row| row.get(i).and_then(Option::as_deref).map_or(4, |v| wrap::width(&one_line(v))))
            .fold(wrap::width(name), usize::max)
            .min(MAX_COLUMN);
        let spacing = usize::from(!shown.is_empty());
        if used + spacing + widest > width {
            if shown.is_empty() {
                shown.push((i, width));
            }
            break;
        }
        used += spacing + widest;
        shown.push((i, widest));
    }
    shown
}

/// A value on one line: line breaks and tabs read as spaces.
fn one_line(value: &str) -> String {
    value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// `rows 1–20 of 100 · columns 3–9 of 12 · from key "C042"`, or the find being typed.
fn status(view: &RowsView, theme: &Theme) -> Line<'static> {
    if let Some(typed) = &view.finding {
        return Line::from(vec![
            span(theme, Tone::Key, " find key ≥ "),
            span(theme, Tone::Plain, format!("{typed}▏ ")),
        ]);
    }
    let mut parts = Vec::new();
    if view.pending.is_some() {
        parts.push("reading…".to_owned());
    }
    if let Some(page) = view.page().filter(|page| !page.rows.is_empty()) {
        let first = view.cursor.selected() + 1;
        parts.push(format!(
            "row {first} of {}{}",
            page.rows.len(),
            if view.at_first { " (first page)" } else { "" }
        ));
        parts.push(format!("column {} of {}", view.first_column + 1, page.columns.len()));
        if let Some(found) = &view.found {
            parts.push(format!("from key ≥ \"{}\"", found.join(", ")));
        }
    }
    if parts.is_empty() {
        return Line::default();
    }
    Line::from(span(theme, Tone::Dim, format!(" {} ", parts.join(" · "))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_the_width_from_the_first_shown() {
        let page = RowPage {
            columns: vec!["id".into(), "name".into(), "note".into()],
            rows: vec![vec![Some("1".into()), Some("Ada".into()), Some("x".repeat(50))]],
            keys: vec![vec!["1".into()]],
        };
        assert_eq!(column_widths(&page, 0..1, 0, 80), [(0, 2), (1, 4), (2, MAX_COLUMN)]);
        assert_eq!(column_widths(&page, 0..1, 0, 10), [(0, 2), (1, 4)]);
        assert_eq!(column_widths(&page, 0..1, 2, 10), [(2, 10)]);
    }
}
