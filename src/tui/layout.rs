//! Where everything goes on screen, as a pure function of the terminal size. The state uses it
//! too (to page lists, clamp popup scrolling and hit-test the mouse) so both agree exactly.
//!
//! ```text
//! ┌ Tables ──────────────────────────────────────────────────────┐
//! └──────────────────────────────────────────────────────────────┘
//!  run header: table · run id · mode · state · elapsed
//! ┌ Export ───────────────────────┐┌ Manifest generation ───────┐
//! └───────────────────────────────┘└────────────────────────────┘
//! ┌ Statements ───────────────────────────┐┌ History ───────────┐
//! └───────────────────────────────────────┘└────────────────────┘
//!  status line (notices, the selected run's latest log line)
//!  footer (keys)
//! ```

use ratatui::layout::{Constraint, Layout, Margin, Position, Rect};

use super::pane::Pane;

/// The smallest terminal the console draws in; below it, a message says so.
pub(super) const MIN_WIDTH: u16 = 80;
pub(super) const MIN_HEIGHT: u16 = 24;

/// Rows of the export / manifest panes (borders included): room for 7 lines of content on tall
/// terminals, 6 on an 80×24 one.
const RUN_PANES_TALL: u16 = 9;
const RUN_PANES_SHORT: u16 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ScreenLayout {
    pub tables: Rect,
    pub run_header: Rect,
    pub export: Rect,
    pub manifest: Rect,
    pub statements: Rect,
    pub history: Rect,
    /// The trend charts above the history, when its column is tall enough.
    pub trends: Option<Rect>,
    pub status: Rect,
    pub footer: Rect,
}

impl ScreenLayout {
    /// The layout for a terminal of `area`, `None` when it is smaller than 80×24.
    pub(super) fn new(area: Rect, table_count: usize) -> Option<ScreenLayout> {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            return None;
        }
        let body = area.height - 3;
        let wanted = u16::try_from(table_count).unwrap_or(u16::MAX).saturating_add(3);
        let tables_height = wanted.clamp(4, body * 2 / 5);
        let run_panes = if area.height >= 32 { RUN_PANES_TALL } else { RUN_PANES_SHORT };
        let [tables, run_header, middle, bottom, status, footer] = area.layout(&Layout::vertical([
            Constraint::Length(tables_height),
            Constraint::Length(1),
            Constraint::Length(run_panes),
            Constraint::Fill(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ]));
        let [export, manifest] =
            middle.layout(&Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]));
        let [statements, history] =
            bottom.layout(&Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]));
        let (trends, history) = split_trends(history);
        Some(ScreenLayout {
            tables,
            run_header,
            export,
            manifest,
            statements,
            history,
            trends,
            status,
            footer,
        })
    }

    pub(super) fn pane_area(&self, pane: Pane) -> Rect {
        match pane {
            Pane::Tables => self.tables,
            Pane::Statements => self.statements,
            Pane::History => self.history,
        }
    }

    /// The focusable pane under the cell (`column`, `row`).
    pub(super) fn pane_at(&self, column: u16, row: u16) -> Option<Pane> {
        [Pane::Tables, Pane::Statements, Pane::History]
            .into_iter()
            .find(|&pane| self.pane_area(pane).contains(Position::new(column, row)))
    }

    /// Data rows a list pane shows: its height less borders and the column header.
    pub(super) fn visible_rows(&self, pane: Pane) -> usize {
        usize::from(self.pane_area(pane).height.saturating_sub(3)).max(1)
    }
}

/// Rows of the history column from which the trend charts go above the list: the list keeps
/// room for eight runs.
const TRENDS_FROM: u16 = 11 + TRENDS_HEIGHT;
/// The trends pane: one row per chart and the borders.
const TRENDS_HEIGHT: u16 = super::trends::SERIES.len() as u16 + 2;

/// The trends pane (when `history` is tall enough) and what is left for the history list.
fn split_trends(history: Rect) -> (Option<Rect>, Rect) {
    if history.height < TRENDS_FROM {
        return (None, history);
    }
    let [trends, list] =
        history.layout(&Layout::vertical([Constraint::Length(TRENDS_HEIGHT), Constraint::Fill(1)]));
    (Some(trends), list)
}

/// How big a popup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PopupSize {
    /// Help, SQL, plans, details: most of the screen.
    Large,
    /// A yes/no question.
    Small,
}

/// The popup's outer width.
fn popup_width(screen: Rect, size: PopupSize) -> u16 {
    match size {
        PopupSize::Large => screen.width.saturating_sub(6).min(110),
        PopupSize::Small => screen.width.saturating_sub(4).min(66),
    }
}

/// Cells per line of popup text: the width inside the border and one column of padding a side.
pub(super) fn popup_text_width(screen: Rect, size: PopupSize) -> usize {
    usize::from(popup_width(screen, size).saturating_sub(4))
}

/// The popup's frame for `lines` lines of text, centred: as tall as its text, at most the screen
/// less two rows above and below (longer text scrolls).
pub(super) fn popup_area(screen: Rect, size: PopupSize, lines: usize) -> Rect {
    let width = popup_width(screen, size);
    let tallest = screen.height.saturating_sub(4).max(3);
    let height = u16::try_from(lines.saturating_add(2)).unwrap_or(u16::MAX).clamp(3, tallest);
    let x = screen.x + (screen.width - width) / 2;
    let y = screen.y + (screen.height - height) / 2;
    Rect::new(x, y, width, height)
}

/// Where the rows view goes: the whole screen above the status line and the footer.
pub(super) fn rows_area(screen: Rect) -> Rect {
    Rect::new(screen.x, screen.y, screen.width, screen.height.saturating_sub(2))
}

/// Data rows the rows view shows: its height less the borders and the column header.
pub(super) fn rows_table_rows(screen: Rect) -> usize {
    usize::from(rows_area(screen).height.saturating_sub(3)).max(1)
}

/// Where a popup's text goes: inside the border, one column of padding on each side.
pub(super) fn popup_text_area(popup: Rect) -> Rect {
    popup.inner(Margin::new(2, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_terminals_below_80_by_24() {
        assert!(ScreenLayout::new(Rect::new(0, 0, 79, 40), 2).is_none());
        assert!(ScreenLayout::new(Rect::new(0, 0, 120, 23), 2).is_none());
        assert!(ScreenLayout::new(Rect::new(0, 0, 80, 24), 2).is_some());
    }

    #[test]
    fn panes_tile_the_screen_without_overlap() {
        for (w, h) in [(80, 24), (120, 40), (200, 60)] {
            let l = ScreenLayout::new(Rect::new(0, 0, w, h), 3).unwrap();
            let rows = [l.tables, l.run_header, l.export, l.statements, l.status, l.footer];
            assert_eq!(rows.iter().map(|r| r.height).sum::<u16>(), h, "{w}x{h}");
            assert_eq!(l.export.width + l.manifest.width, w);
            assert_eq!(l.statements.width + l.history.width, w);
            assert!(l.statements.height >= 7, "{w}x{h}: statements keep room for four rows");
        }
    }

    #[test]
    fn the_tables_pane_grows_with_tables_up_to_a_cap() {
        let small = ScreenLayout::new(Rect::new(0, 0, 120, 40), 3).unwrap();
        assert_eq!(small.tables.height, 6);
        let many = ScreenLayout::new(Rect::new(0, 0, 120, 40), 100).unwrap();
        assert_eq!(many.tables.height, 37 * 2 / 5);
    }

    #[test]
    fn trends_go_above_the_history_when_it_is_tall_enough() {
        let small = ScreenLayout::new(Rect::new(0, 0, 80, 24), 2).unwrap();
        assert_eq!(small.trends, None);
        let tall = ScreenLayout::new(Rect::new(0, 0, 120, 40), 2).unwrap();
        let trends = tall.trends.expect("room for the charts");
        assert_eq!(
            (trends.bottom(), trends.x, trends.width),
            (tall.history.y, tall.history.x, tall.history.width)
        );
        assert!(tall.visible_rows(Pane::History) >= 8);
    }

    #[test]
    fn hit_testing_finds_focusable_panes_only() {
        let l = ScreenLayout::new(Rect::new(0, 0, 120, 40), 3).unwrap();
        assert_eq!(l.pane_at(5, l.tables.y + 1), Some(Pane::Tables));
        assert_eq!(l.pane_at(5, l.statements.y + 2), Some(Pane::Statements));
        assert_eq!(l.pane_at(l.history.x + 1, l.history.y + 2), Some(Pane::History));
        assert_eq!(l.pane_at(5, l.export.y + 2), None);
        assert_eq!(l.visible_rows(Pane::Tables), 3);
    }

    #[test]
    fn popups_fit_inside_the_screen() {
        for (w, h) in [(80, 24), (120, 40)] {
            let screen = Rect::new(0, 0, w, h);
            for size in [PopupSize::Large, PopupSize::Small] {
                for lines in [0, 5, 500] {
                    let p = popup_area(screen, size, lines);
                    assert!(screen.contains(Position::new(p.x, p.y)));
                    assert!(p.right() <= screen.right() && p.bottom() <= screen.bottom());
                    assert_eq!(usize::from(popup_text_area(p).width), popup_text_width(screen, size));
                }
            }
        }
    }

    #[test]
    fn popups_are_as_tall_as_their_text() {
        let screen = Rect::new(0, 0, 120, 40);
        assert_eq!(popup_area(screen, PopupSize::Large, 10).height, 12);
        assert_eq!(popup_area(screen, PopupSize::Large, 100).height, 36);
    }
}
