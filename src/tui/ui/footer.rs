//! The footer: the keys that apply where focus is, generated from the keymap. When they do not
//! all fit, the ones for `?` (help) and `q` stay, since help lists the rest.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::span;
use crate::tui::app::App;
use crate::tui::keymap::{self, FooterEntry};
use crate::tui::theme::{Theme, Tone};
use crate::tui::wrap;

pub(super) fn draw(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let drifted = app.selected().is_some_and(|table| table.drift().is_some());
    let entries = keymap::footer_entries(&app.key_contexts(), drifted);
    frame.render_widget(Paragraph::new(line(&entries, usize::from(area.width), theme)), area);
}

fn entry_width(entry: &FooterEntry) -> usize {
    1 + wrap::width(entry.keys) + 1 + wrap::width(entry.label) + 1
}

fn line(entries: &[FooterEntry], width: usize, theme: &Theme) -> Line<'static> {
    let pinned = |e: &FooterEntry| matches!(e.keys, "?" | "q");
    let reserved: usize = entries.iter().filter(|e| pinned(e)).map(entry_width).sum();
    let mut used = reserved;
    let mut shown: Vec<&FooterEntry> = Vec::new();
    for entry in entries.iter().filter(|e| !pinned(e)) {
        if used + entry_width(entry) > width {
            break;
        }
        used += entry_width(entry);
        shown.push(entry);
    }
    shown.extend(entries.iter().filter(|e| pinned(e)));
    let spans: Vec<Span> = shown
        .into_iter()
        .flat_map(|e| {
            [
                span(theme, Tone::Plain, " "),
                span(theme, Tone::Key, e.keys),
                span(theme, Tone::Dim, format!(" {} ", e.label)),
            ]
        })
        .collect();
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::keymap::Context;
    use crate::tui::theme::ColorSupport;

    fn text_of(width: usize, drifted: bool) -> String {
        let entries = keymap::footer_entries(&[Context::Tables, Context::Global], drifted);
        let line = line(&entries, width, &Theme::new(ColorSupport::Monochrome));
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    fn text(width: usize) -> String {
        text_of(width, false)
    }

    #[test]
    fn the_drift_key_shows_only_while_the_selected_table_has_drift() {
        assert!(!text(300).contains("D drift"), "{}", text(300));
        let drifted = text_of(300, true);
        assert!(drifted.contains("D drift"), "{drifted}");
    }

    #[test]
    fn help_and_quit_stay_when_space_runs_out() {
        let narrow = text(40);
        assert!(narrow.contains("? help") && narrow.contains("q quit"), "{narrow}");
        assert!(wrap::width(&narrow) <= 40, "{narrow}");
        let wide = text(300);
        assert!(wide.contains("s sort") && wide.contains("i sync") && wide.contains("? help"));
    }
}
