//! Popups over the panes: help, confirmations, the SQL / error viewer, the dry-run plan, the
//! failure chain, run details and the run log. Their text comes from
//! [`crate::tui::popup_content`], already wrapped; this draws the frame and the visible slice.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};

use super::{doc_line, span};
use crate::tui::app::App;
use crate::tui::layout::{self, PopupSize};
use crate::tui::popup::Popup;
use crate::tui::popup_content;
use crate::tui::theme::{Theme, Tone};

pub(super) fn draw(frame: &mut Frame, screen: Rect, app: &App, popup: &Popup, theme: &Theme) {
    let lines = popup_content::build(app, popup, layout::popup_text_width(screen, popup.size()));
    let area = layout::popup_area(screen, popup.size(), lines.len());
    let text_area = layout::popup_text_area(area);
    let visible = usize::from(text_area.height);
    let scroll = popup.scroll.min(lines.len().saturating_sub(visible));
    let mut block = Block::bordered()
        .border_type(BorderType::Double)
        .border_style(theme.border_focused)
        .title(Line::from(format!(" {} ", popup.title())).style(theme.header));
    if popup.size() == PopupSize::Large {
        block = block.title_bottom(position(scroll, visible, lines.len(), theme).right_aligned());
    }
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    let shown: Vec<Line> = lines.iter().skip(scroll).take(visible).map(|l| doc_line(theme, l)).collect();
    frame.render_widget(Paragraph::new(shown), text_area);
}

/// `lines 1–20 of 58 · ↑↓ scroll · Esc close`.
fn position(scroll: usize, visible: usize, total: usize, theme: &Theme) -> Line<'static> {
    let mut spans = Vec::new();
    if total > visible {
        let last = (scroll + visible).min(total);
        spans.push(span(theme, Tone::Dim, format!(" lines {}–{last} of {total} ·", scroll + 1)));
        spans.push(span(theme, Tone::Key, " ↑↓"));
        spans.push(span(theme, Tone::Dim, " scroll ·"));
    }
    spans.push(span(theme, Tone::Key, " Esc"));
    spans.push(span(theme, Tone::Dim, " close "));
    Line::from(spans)
}
