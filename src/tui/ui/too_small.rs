//! What shows instead of the panes when the terminal is smaller than 80×24.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use crate::tui::layout::{MIN_HEIGHT, MIN_WIDTH};
use crate::tui::theme::{Theme, Tone};

pub(super) fn draw(frame: &mut Frame, area: Rect, theme: &Theme) {
    let lines = vec![
        Line::styled(format!("terminal too small (need {MIN_WIDTH}×{MIN_HEIGHT})"), theme.style(Tone::Warn)),
        Line::styled(format!("this one is {}×{}", area.width, area.height), theme.style(Tone::Dim)),
        Line::styled("enlarge it, or press q to quit", theme.style(Tone::Dim)),
    ];
    let message = area.centered(Constraint::Fill(1), Constraint::Length(3));
    frame.render_widget(Paragraph::new(lines).centered().wrap(Wrap { trim: true }), message);
}
