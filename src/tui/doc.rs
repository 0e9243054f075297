//! Popup text, built as plain toned lines already wrapped to the popup's width. Building it apart
//! from drawing gives the state the exact line count (to clamp scrolling) and gives tests text to
//! assert on.

use super::theme::Tone;
use super::wrap;

/// Width of the label column of [`Doc::field`] lines.
const LABEL_WIDTH: usize = 12;
/// Width of the key column of [`Doc::keyed`] lines.
const KEY_WIDTH: usize = 18;

/// One line: toned pieces of text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct DocLine(pub Vec<(Tone, String)>);

impl DocLine {
    #[cfg(test)]
    pub(super) fn plain_text(&self) -> String {
        self.0.iter().map(|(_, text)| text.as_str()).collect()
    }
}

/// A document being written for a popup `width` cells wide.
#[derive(Debug, Clone)]
pub(super) struct Doc {
    width: usize,
    lines: Vec<DocLine>,
}

impl Doc {
    pub(super) fn new(width: usize) -> Doc {
        Doc { width: width.max(10), lines: Vec::new() }
    }

    pub(super) fn width(&self) -> usize {
        self.width
    }

    pub(super) fn blank(&mut self) {
        self.lines.push(DocLine::default());
    }

    /// A section title, separated from what came before by a blank line.
    pub(super) fn heading(&mut self, text: &str) {
        if !self.lines.is_empty() {
            self.blank();
        }
        self.text(Tone::Heading, text);
    }

    /// Wrapped text in one tone.
    pub(super) fn text(&mut self, tone: Tone, text: &str) {
        self.indented(0, tone, text);
    }

    /// Wrapped text, every line starting `indent` cells in.
    pub(super) fn indented(&mut self, indent: usize, tone: Tone, text: &str) {
        let pad = " ".repeat(indent);
        for line in wrap::wrap(text, self.width.saturating_sub(indent)) {
            self.lines.push(DocLine(vec![(tone, format!("{pad}{line}"))]));
        }
    }

    /// `label       value`, the value wrapped under itself.
    pub(super) fn field(&mut self, label: &str, tone: Tone, value: &str) {
        let value_width = self.width.saturating_sub(LABEL_WIDTH);
        for (i, line) in wrap::wrap(value, value_width).into_iter().enumerate() {
            let label = if i == 0 { format!("{label:<LABEL_WIDTH$}") } else { " ".repeat(LABEL_WIDTH) };
            self.lines.push(DocLine(vec![(Tone::Dim, label), (tone, line)]));
        }
    }

    /// `keys              what they do`, for the help: keys in their own column, the text
    /// wrapped beside them.
    pub(super) fn keyed(&mut self, keys: &str, text: &str) {
        let key_width = KEY_WIDTH.min(self.width / 2);
        let text_width = self.width.saturating_sub(key_width);
        for (i, line) in wrap::wrap(text, text_width).into_iter().enumerate() {
            let keys = if i == 0 {
                format!("{:<key_width$}", wrap::ellipsize(keys, key_width - 1))
            } else {
                " ".repeat(key_width)
            };
            self.lines.push(DocLine(vec![(Tone::Key, keys), (Tone::Plain, line)]));
        }
    }

    /// One line of toned pieces, cut to the width when too long.
    pub(super) fn spans(&mut self, spans: Vec<(Tone, String)>) {
        let mut room = self.width;
        let mut line = Vec::with_capacity(spans.len());
        for (tone, text) in spans {
            let fitted = wrap::ellipsize(&text, room);
            room -= wrap::width(&fitted);
            line.push((tone, fitted));
            if room == 0 {
                break;
            }
        }
        self.lines.push(DocLine(line));
    }

    pub(super) fn into_lines(self) -> Vec<DocLine> {
        self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(doc: Doc) -> Vec<String> {
        doc.into_lines().iter().map(DocLine::plain_text).collect()
    }

    #[test]
    fn fields_wrap_under_their_value() {
        let mut doc = Doc::new(31);
        doc.field("Cause", Tone::Bad, "statement 4 failed: UNIQUE constraint");
        assert_eq!(text(doc), ["Cause       statement 4 failed:", "            UNIQUE constraint"]);
    }

    #[test]
    fn headings_are_separated_by_a_blank_line() {
        let mut doc = Doc::new(20);
        doc.heading("One");
        doc.heading("Two");
        assert_eq!(text(doc), ["One", "", "Two"]);
    }

    #[test]
    fn keyed_lines_align_their_text() {
        let mut doc = Doc::new(40);
        doc.keyed("↑ / k", "move up");
        doc.keyed("Esc / q / Enter", "close the popup and go back");
        assert_eq!(
            text(doc),
            [
                "↑ / k             move up",
                "Esc / q / Enter   close the popup and go",
                "                  back"
            ]
        );
    }

    #[test]
    fn spans_are_cut_to_the_width() {
        let mut doc = Doc::new(10);
        doc.spans(vec![(Tone::Key, "abc ".into()), (Tone::Plain, "defghijkl".into())]);
        assert_eq!(text(doc), ["abc defgh…"]);
    }

    #[test]
    fn indented_text_keeps_its_indent_when_wrapping() {
        let mut doc = Doc::new(14);
        doc.indented(4, Tone::Plain, "select a from b");
        assert_eq!(text(doc), ["    select a", "    from b"]);
    }
}
