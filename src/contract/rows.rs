//! A page of a target's rows, read back for people to look at (the console's rows view). Pages
//! are cut by key, never by OFFSET: each page asks for the rows after (or before) a key, so a
//! page costs the same at the end of a large table as at its start, and rows a load adds or
//! removes meanwhile never shift the page.

/// Where a page starts. Key values are text, one per key column in key order, as a page
/// returned them ([`RowPage::keys`]); each warehouse compares them as its column's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStart {
    /// The first rows by key.
    First,
    /// The rows after this key (the next page).
    After(Vec<String>),
    /// The rows just before this key (the previous page), still returned in key order.
    Before(Vec<String>),
    /// The rows from the first whose key is at or after these values (finding a key): one value
    /// per leading key column, in key order; fewer values than key columns compare a prefix.
    AtLeast(Vec<String>),
}

/// One page to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub start: PageStart,
    /// Rows at most.
    pub limit: usize,
}

impl PageStart {
    /// The start a typed find names: key values separated by commas (`C042, O-7`: the first key
    /// column, then the second), each trimmed; `First` when nothing was typed.
    pub fn find(typed: &str) -> PageStart {
        if typed.trim().is_empty() {
            return PageStart::First;
        }
        PageStart::AtLeast(typed.split(',').map(|value| value.trim().to_owned()).collect())
    }
}

impl PageRequest {
    /// Rows one page of the console holds.
    pub const PAGE_ROWS: usize = 100;

    pub fn new(start: PageStart) -> PageRequest {
        PageRequest { start, limit: PageRequest::PAGE_ROWS }
    }
}

/// Rows of a target in key order, every value as the warehouse writes it as text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowPage {
    /// The target's columns, in table order.
    pub columns: Vec<String>,
    /// Each row's values, parallel to `columns`; `None` is SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
    /// Each row's key values, parallel to `rows`: what the next or previous page starts from.
    pub keys: Vec<Vec<String>>,
}

impl RowPage {
    /// Whether the page holds fewer rows than asked for: no page follows it in its direction.
    pub fn is_short(&self, request: &PageRequest) -> bool {
        self.rows.len() < request.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_find_names_one_value_per_key_column_separated_by_commas() {
        assert_eq!(PageStart::find("  "), PageStart::First);
        assert_eq!(PageStart::find(" C042 "), PageStart::AtLeast(vec!["C042".into()]));
        assert_eq!(PageStart::find("C042, O-7"), PageStart::AtLeast(vec!["C042".into(), "O-7".into()]));
    }

    #[test]
    fn a_page_is_short_when_it_holds_less_than_the_limit() {
        let request = PageRequest { start: PageStart::First, limit: 2 };
        let one = RowPage { rows: vec![vec![None]], keys: vec![vec!["a".into()]], ..RowPage::default() };
        assert!(one.is_short(&request));
        let two = RowPage { rows: vec![vec![None]; 2], ..one };
        assert!(!two.is_short(&request));
        assert_eq!(PageRequest::new(PageStart::First).limit, 100);
    }
}
