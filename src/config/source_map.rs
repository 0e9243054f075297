//! Byte offsets of the config text → 1-based line and column, and the excerpt shown under a
//! problem. Columns count characters, not bytes, so a caret lands under the right character even
//! after a non-ASCII letter earlier on the line.

use std::ops::Range;
use std::path::Path;

use super::error::{ConfigError, Excerpt, Problem};
use super::issues::Issue;

/// Line lookup over one config text.
pub(super) struct SourceMap<'a> {
    text: &'a str,
    /// Byte offset where each line starts.
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        let breaks = text.match_indices('\n').map(|(i, _)| i + 1);
        SourceMap { text, line_starts: std::iter::once(0).chain(breaks).collect() }
    }

    /// Turns collected issues into a [`ConfigError`] for `file`.
    pub(super) fn error(&self, file: &Path, issues: Vec<Issue>) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            problems: issues.into_iter().map(|i| self.problem(i)).collect(),
        }
    }

    fn problem(&self, issue: Issue) -> Problem {
        let mut message = issue.message;
        if let Some(first) = issue.first_at {
            let (line, column) = self.position(first.start);
            message.push_str(&format!(" (first defined at line {line}, column {column})"));
        }
        let Some(span) = issue.span else {
            return Problem { line: None, column: None, message, hint: issue.hint, excerpt: None };
        };
        let (line, column) = self.position(span.start);
        let excerpt = self.excerpt(line, span);
        Problem { line: Some(line), column: Some(column), message, hint: issue.hint, excerpt: Some(excerpt) }
    }

    /// 1-based (line, column) of a byte offset (clamped to the text).
    pub(super) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = self.floor_char_boundary(offset);
        let line_index = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let line_start = self.line_starts[line_index];
        (line_index + 1, self.text[line_start..offset].chars().count() + 1)
    }

    /// The line holding `span.start`, marking the span up to the end of that line.
    fn excerpt(&self, line: usize, span: Range<usize>) -> Excerpt {
        let text = self.line_text(line);
        let line_start = self.line_starts[line - 1];
        // A span may start at the line break itself (an unterminated string): mark the line's end.
        let start = (self.floor_char_boundary(span.start) - line_start).min(text.len());
        let end = self.floor_char_boundary(span.end).clamp(line_start + start, line_start + text.len())
            - line_start;
        Excerpt {
            text: text.to_owned(),
            start: text[..start].chars().count(),
            len: text[start..end].chars().count().max(1),
        }
    }

    /// Line `line` (1-based) without its line break.
    fn line_text(&self, line: usize) -> &'a str {
        let start = self.line_starts[line - 1];
        let end = self.line_starts.get(line).map_or(self.text.len(), |&next| next - 1);
        self.text[start..end].strip_suffix('\r').unwrap_or(&self.text[start..end])
    }

    fn floor_char_boundary(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "a = 1\n[t]\nnäme = \"x y\"\n";

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let map = SourceMap::new(TEXT);
        assert_eq!(map.position(0), (1, 1));
        assert_eq!(map.position(6), (2, 1));
        let value = TEXT.find("\"x").unwrap();
        assert_eq!(map.position(value), (3, 8));
    }

    #[test]
    fn offsets_past_the_end_land_on_the_last_line() {
        let map = SourceMap::new("a = [1,\n");
        assert_eq!(map.position(100), (2, 1));
    }

    #[test]
    fn excerpt_marks_the_span_within_its_line() {
        let map = SourceMap::new(TEXT);
        let value = TEXT.find("\"x").unwrap();
        let excerpt = map.excerpt(3, value..value + 5);
        assert_eq!(excerpt, Excerpt { text: "näme = \"x y\"".into(), start: 7, len: 5 });
    }

    #[test]
    fn multi_line_spans_are_cut_at_the_line_end_and_empty_spans_get_one_caret() {
        let map = SourceMap::new("k = [\n1]\n");
        assert_eq!(map.excerpt(1, 4..8).len, 1);
        assert_eq!(map.excerpt(1, 0..0), Excerpt { text: "k = [".into(), start: 0, len: 1 });
    }

    #[test]
    fn duplicates_name_the_first_place() {
        let map = SourceMap::new(TEXT);
        let issue =
            Issue { span: Some(6..9), message: "twice".into(), hint: "h".into(), first_at: Some(0..1) };
        let error = map.error(Path::new("t.toml"), vec![issue]);
        assert_eq!(error.problems[0].message, "twice (first defined at line 1, column 1)");
        assert_eq!((error.problems[0].line, error.problems[0].column), (Some(2), Some(1)));
    }

    #[test]
    fn a_span_starting_at_the_line_break_marks_the_line_end() {
        // Found by fuzzing the config reader: an unterminated string reports its span at the break.
        let map = SourceMap::new("a = \"x\r\nb = 1\n");
        assert_eq!(map.excerpt(1, 6..7), Excerpt { text: "a = \"x".into(), start: 6, len: 1 });
        assert_eq!(map.excerpt(1, 7..9), Excerpt { text: "a = \"x".into(), start: 6, len: 1 });
        let config = crate::config::load_str("[x]\nprefix = \"p\nkey = 1\n", Path::new("t.toml"));
        assert!(config.is_err(), "refused with a message, not a panic");
    }

    #[test]
    fn crlf_line_ends_are_not_shown() {
        let map = SourceMap::new("a = 1\r\nb = 2\r\n");
        assert_eq!(map.line_text(1), "a = 1");
        assert_eq!(map.position(7), (2, 1));
    }
}
