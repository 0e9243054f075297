//! The problems found while reading and validating a config, before they get line numbers.
//!
//! Checks record problems against byte spans of the TOML text and carry on, so one pass finds
//! everything; [`super::source_map`] turns spans into lines and columns at the end. The collector
//! uses interior mutability because nested readers (a column inside a table inside the document)
//! all report into it at the same time.

use std::cell::RefCell;
use std::ops::Range;

/// One problem, placed by byte span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Issue {
    /// Bytes of the config text the problem is about; `None` for the file as a whole.
    pub span: Option<Range<usize>>,
    pub message: String,
    pub hint: String,
    /// An earlier place the message refers to ("first defined at …"), for duplicates.
    pub first_at: Option<Range<usize>>,
}

/// Collects [`Issue`]s from every check.
#[derive(Debug, Default)]
pub(super) struct Issues(RefCell<Vec<Issue>>);

impl Issues {
    /// Records a problem at `span`.
    pub(super) fn report(&self, span: Range<usize>, message: impl Into<String>, hint: impl Into<String>) {
        self.push(Issue { span: Some(span), message: message.into(), hint: hint.into(), first_at: None });
    }

    /// Records a duplicate at `span` whose first occurrence is at `first`.
    pub(super) fn report_duplicate(
        &self,
        span: Range<usize>,
        first: Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let issue =
            Issue { span: Some(span), message: message.into(), hint: hint.into(), first_at: Some(first) };
        self.push(issue);
    }

    /// Records a problem with no place in the file.
    pub(super) fn report_unplaced(&self, message: impl Into<String>, hint: impl Into<String>) {
        self.push(Issue { span: None, message: message.into(), hint: hint.into(), first_at: None });
    }

    /// How many problems are recorded so far (to tell whether one step added any).
    pub(super) fn count(&self) -> usize {
        self.0.borrow().len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }

    /// The problems in file order; unplaced ones last.
    pub(super) fn into_sorted(self) -> Vec<Issue> {
        let mut issues = self.0.into_inner();
        issues.sort_by_key(|issue| issue.span.as_ref().map_or((usize::MAX, 0), |s| (s.start, s.end)));
        issues
    }

    /// Records a ready-made issue (a TOML syntax error, say).
    pub(super) fn push(&self, issue: Issue) {
        self.0.borrow_mut().push(issue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_position_with_unplaced_last() {
        let issues = Issues::default();
        issues.report_unplaced("whole file", "h");
        issues.report(20..25, "later", "h");
        issues.report_duplicate(3..4, 0..1, "earlier", "h");
        assert!(!issues.is_empty());
        assert_eq!(issues.count(), 3);
        let messages: Vec<String> = issues.into_sorted().into_iter().map(|i| i.message).collect();
        assert_eq!(messages, ["earlier", "later", "whole file"]);
    }

    #[test]
    fn starts_empty() {
        assert!(Issues::default().is_empty());
    }
}
