//! The rows view of one table's target: a read-only page of 100 rows by key, read in the
//! background through the engine (the warehouse's own read, outside every load). Paging is by
//! key — the next page starts after the last key shown, the previous one ends before the first —
//! and `/` jumps to the page starting at the first key at or after a typed value.
//!
//! This is the view's state and its rules only; the state asks for reads by returning a
//! [`RowsRead`], which the app turns into a command, and drawing reads it.

use crate::contract::{PageRequest, PageStart, RowPage};

use super::list_cursor::ListCursor;

/// A read the view asks for: its number (a newer read makes an older answer stale) and page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RowsRead {
    pub number: u64,
    pub page: PageRequest,
}

/// What the view shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Shown {
    /// Nothing read yet.
    Nothing,
    /// The target does not exist: no load created it yet.
    NotLoaded,
    /// A page of rows (possibly empty: the target exists and holds none, or nothing is past a key).
    Page(RowPage),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct RowsView {
    pub table: String,
    pub target: String,
    pub shown: Shown,
    /// Whether the page shown is the first by key (no previous page).
    pub at_first: bool,
    /// The read under way, if any (its answer replaces the page).
    pub pending: Option<RowsRead>,
    /// Numbers reads; the newest read alone is shown.
    reads: u64,
    /// Why the newest read failed (the page shown stays).
    pub error: Option<String>,
    /// The first column shown (left / right scroll sideways).
    pub first_column: usize,
    /// The selected row of the page.
    pub cursor: ListCursor,
    /// The key being typed after `/`, while it is.
    pub finding: Option<String>,
    /// What the shown page was found by, when `/` found it.
    pub found: Option<Vec<String>>,
    /// Where the shown page starts, to read it again.
    shown_start: PageStart,
}

impl RowsView {
    /// The view of `table` (loading `target`), and its first read: the first page by key.
    /// `numbered` is the number of the newest read of any view before it, so an answer for a
    /// view already closed is never taken for one of this view.
    pub(super) fn open(table: &str, target: &str, numbered: u64) -> (RowsView, RowsRead) {
        let mut view = RowsView {
            table: table.to_owned(),
            target: target.to_owned(),
            shown: Shown::Nothing,
            at_first: true,
            pending: None,
            reads: numbered,
            error: None,
            first_column: 0,
            cursor: ListCursor::default(),
            finding: None,
            found: None,
            shown_start: PageStart::First,
        };
        let read = view.read(PageStart::First);
        (view, read)
    }

    /// The page shown, if rows were read.
    pub(super) fn page(&self) -> Option<&RowPage> {
        match &self.shown {
            Shown::Page(page) => Some(page),
            _ => None,
        }
    }

    /// Asks for the page starting at `start`.
    pub(super) fn read(&mut self, start: PageStart) -> RowsRead {
        self.reads += 1;
        let read = RowsRead { number: self.reads, page: PageRequest::new(start) };
        self.pending = Some(read.clone());
        read
    }

    /// A read ended. Stale answers are dropped; a previous page that reached the first row is
    /// read again as the whole first page (returned), so paging back always ends on a full page.
    pub(super) fn on_read(
        &mut self,
        number: u64,
        result: Result<Option<RowPage>, String>,
        visible: usize,
    ) -> Option<RowsRead> {
        let pending = self.pending.take_if(|read| read.number == number)?;
        match result {
            Err(message) => self.error = Some(message),
            Ok(None) => {
                self.error = None;
                self.shown = Shown::NotLoaded;
            }
            Ok(Some(page)) => {
                if matches!(pending.page.start, PageStart::Before(_)) && page.is_short(&pending.page) {
                    return Some(self.read(PageStart::First));
                }
                self.error = None;
                self.at_first = pending.page.start == PageStart::First;
                self.shown_start = pending.page.start.clone();
                self.found = match pending.page.start {
                    PageStart::AtLeast(values) => Some(values),
                    _ => None,
                };
                self.first_column = self.first_column.min(page.columns.len().saturating_sub(1));
                self.cursor = ListCursor::default();
                self.cursor.clamp(page.rows.len(), visible);
                self.shown = Shown::Page(page);
            }
        }
        None
    }

    /// The next page by key; `Err` says why there is none.
    pub(super) fn next_page(&mut self) -> Result<RowsRead, &'static str> {
        let page = self.page().ok_or("no rows shown yet")?;
        let last = page.keys.last().filter(|_| page.rows.len() >= PageRequest::PAGE_ROWS);
        let last = last.ok_or("this is the last page: no key comes after it")?.clone();
        Ok(self.read(PageStart::After(last)))
    }

    /// The previous page by key; `Err` says why there is none.
    pub(super) fn previous_page(&mut self) -> Result<RowsRead, &'static str> {
        if self.at_first {
            return Err("this is the first page: no key comes before it");
        }
        let first = self.page().and_then(|page| page.keys.first()).cloned();
        let first = first.ok_or("no key shown to page back from: g goes to the first page")?;
        Ok(self.read(PageStart::Before(first)))
    }

    /// The shown page again (a load may have changed it), or the read under way again.
    pub(super) fn reread(&mut self) -> RowsRead {
        let start =
            self.pending.as_ref().map_or_else(|| self.shown_start.clone(), |read| read.page.start.clone());
        self.read(start)
    }

    /// Moves the first column shown by `delta`, within the columns.
    pub(super) fn scroll_columns(&mut self, delta: isize) {
        let columns = self.page().map_or(0, |page| page.columns.len());
        self.first_column = self.first_column.saturating_add_signed(delta).min(columns.saturating_sub(1));
    }

    /// The number of the newest read asked for.
    pub(super) fn numbered(&self) -> u64 {
        self.reads
    }

    /// Rows in the page shown.
    pub(super) fn row_count(&self) -> usize {
        self.page().map_or(0, |page| page.rows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(keys: std::ops::Range<usize>) -> RowPage {
        RowPage {
            columns: vec!["id".into(), "name".into(), "total".into()],
            rows: keys.clone().map(|k| vec![Some(format!("{k:03}")), None, Some("1.50".into())]).collect(),
            keys: keys.map(|k| vec![format!("{k:03}")]).collect(),
        }
    }

    #[test]
    fn pages_follow_the_keys_shown() {
        let (mut view, first) = RowsView::open("orders", "sales.orders", 0);
        assert_eq!(first.page.start, PageStart::First);
        assert_eq!(view.on_read(first.number, Ok(Some(page(0..100))), 20), None);
        assert_eq!(view.previous_page(), Err("this is the first page: no key comes before it"));
        let next = view.next_page().unwrap();
        assert_eq!(next.page.start, PageStart::After(vec!["099".into()]));
        view.on_read(next.number, Ok(Some(page(100..130))), 20);
        assert!(!view.at_first);
        assert!(view.next_page().unwrap_err().starts_with("this is the last page"));
        assert_eq!(view.reread().page.start, PageStart::After(vec!["099".into()]), "r reads the same page");
        let back = view.previous_page().unwrap();
        assert_eq!(back.page.start, PageStart::Before(vec!["100".into()]));
    }

    #[test]
    fn paging_back_to_the_start_reads_the_whole_first_page() {
        let (mut view, first) = RowsView::open("orders", "sales.orders", 0);
        view.on_read(first.number, Ok(Some(page(40..140))), 20);
        view.at_first = false;
        let back = view.previous_page().unwrap();
        let again = view.on_read(back.number, Ok(Some(page(0..40))), 20).expect("reads the first page");
        assert_eq!(again.page.start, PageStart::First);
        assert_eq!(view.page().unwrap().keys[0], ["040"], "the page stays until the first page comes");
    }

    #[test]
    fn a_stale_answer_is_dropped_and_a_failure_keeps_the_page() {
        let (mut view, first) = RowsView::open("orders", "sales.orders", 0);
        let newer = view.read(PageStart::AtLeast(vec!["050".into()]));
        assert_eq!(view.on_read(first.number, Ok(Some(page(0..100))), 20), None);
        assert_eq!(view.shown, Shown::Nothing);
        view.on_read(newer.number, Ok(Some(page(50..150))), 20);
        assert_eq!(view.found, Some(vec!["050".to_owned()]));
        let failing = view.next_page().unwrap();
        view.on_read(failing.number, Err("connection reset".into()), 20);
        assert_eq!(view.error.as_deref(), Some("connection reset"));
        assert_eq!(view.page().unwrap().keys[0], ["050"]);
    }

    #[test]
    fn a_reopened_view_never_takes_an_answer_meant_for_the_closed_one() {
        let (closed, first) = RowsView::open("orders", "sales.orders", 0);
        let (mut view, read) = RowsView::open("orders", "sales.orders", closed.numbered());
        assert_ne!(read.number, first.number);
        assert_eq!(view.on_read(first.number, Ok(Some(page(0..100))), 20), None);
        assert_eq!(view.shown, Shown::Nothing);
    }

    #[test]
    fn a_missing_target_is_not_loaded_and_columns_scroll_within_the_page() {
        let (mut view, first) = RowsView::open("orders", "sales.orders", 0);
        view.on_read(first.number, Ok(None), 20);
        assert_eq!(view.shown, Shown::NotLoaded);
        let again = view.read(PageStart::First);
        view.on_read(again.number, Ok(Some(page(0..3))), 20);
        view.scroll_columns(5);
        assert_eq!(view.first_column, 2);
        view.scroll_columns(-1);
        assert_eq!(view.first_column, 1);
    }
}
