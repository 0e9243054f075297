//! The connection pane: until the warehouse and AWS are connected, it takes the place of the run
//! panes and says what is being connected, how the retries go, or why connecting failed and
//! what to do.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::{pane_block, span};
use crate::tui::app::App;
use crate::tui::connection;
use crate::tui::theme::Theme;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let log_file = app.log_file().display().to_string();
    let mut lines = Vec::new();
    for (tone, text) in connection::pane_text(app.connection(), app.targets(), &log_file, app.now()) {
        if !lines.is_empty() {
            lines.push(Line::default());
        }
        lines.push(Line::from(span(theme, tone, text)));
    }
    let paragraph =
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(pane_block(" Connection ", false, theme));
    frame.render_widget(paragraph, area);
}
