//! The tables pane's order: which tables pass the filter, sorted by which column, and which one is
//! selected. The selection follows the table (by name) when the order changes under it.

use std::cmp::Reverse;

use super::list_cursor::ListCursor;
use super::run_view::Phase;
use super::table_entry::TableEntry;

/// The column the tables pane is sorted by; `s` cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum SortColumn {
    /// As configured in tables.toml.
    #[default]
    Config,
    Table,
    Target,
    /// Most behind first.
    Lag,
    /// Failures first, then running, then the rest.
    State,
    /// Most rows loaded first.
    Loaded,
}

impl SortColumn {
    pub(super) fn next(self) -> SortColumn {
        match self {
            SortColumn::Config => SortColumn::Table,
            SortColumn::Table => SortColumn::Target,
            SortColumn::Target => SortColumn::Lag,
            SortColumn::Lag => SortColumn::State,
            SortColumn::State => SortColumn::Loaded,
            SortColumn::Loaded => SortColumn::Config,
        }
    }

    pub(super) fn label(self) -> &'static str {
        match self {
            SortColumn::Config => "config order",
            SortColumn::Table => "table",
            SortColumn::Target => "target",
            SortColumn::Lag => "lag",
            SortColumn::State => "state",
            SortColumn::Loaded => "rows loaded",
        }
    }
}

/// How urgent a table's state is: lower sorts first.
fn urgency(phase: Option<Phase>) -> u8 {
    match phase {
        Some(Phase::Failed(_)) => 0,
        Some(Phase::Running(_)) => 1,
        Some(Phase::Unfinished(_)) => 2,
        None => 3,
        Some(Phase::UpToDate | Phase::DryRun) => 4,
        Some(Phase::Committed) => 5,
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct TableList {
    pub sort: SortColumn,
    /// The filter text (matched case-insensitively against name and target).
    pub filter: String,
    /// Whether keys are going into the filter.
    pub editing: bool,
    /// Indices into the table entries, in display order.
    order: Vec<usize>,
    pub cursor: ListCursor,
}

impl TableList {
    pub(super) fn new(tables: &[TableEntry]) -> TableList {
        let mut list = TableList::default();
        list.reorder(tables, 1);
        list
    }

    /// Indices of the shown tables, in display order.
    pub(super) fn order(&self) -> &[usize] {
        &self.order
    }

    /// The selected table's index into the entries.
    pub(super) fn selected(&self) -> Option<usize> {
        self.order.get(self.cursor.selected()).copied()
    }

    /// Recomputes the order after the tables, the sort or the filter changed, keeping the
    /// selected table selected when it is still shown.
    pub(super) fn reorder(&mut self, tables: &[TableEntry], visible: usize) {
        let previous = self.selected();
        let needle = self.filter.to_lowercase();
        let mut order: Vec<usize> = (0..tables.len()).filter(|&i| tables[i].matches(&needle)).collect();
        self.sort_by_column(&mut order, tables);
        let position = previous.and_then(|p| order.iter().position(|&i| i == p)).unwrap_or(0);
        self.order = order;
        self.cursor.select(position, self.order.len(), visible);
    }

    fn sort_by_column(&self, order: &mut [usize], tables: &[TableEntry]) {
        match self.sort {
            SortColumn::Config => {}
            SortColumn::Table => order.sort_by(|&a, &b| tables[a].name.cmp(&tables[b].name)),
            SortColumn::Target => order.sort_by(|&a, &b| tables[a].target.cmp(&tables[b].target)),
            // Oldest watermark first; never synced (None) sorts before any time.
            SortColumn::Lag => order.sort_by_key(|&i| tables[i].watermark),
            SortColumn::State => order.sort_by_key(|&i| urgency(tables[i].phase())),
            SortColumn::Loaded => {
                order.sort_by_key(|&i| Reverse(tables[i].loaded().map(|(u, d)| u + d)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::{self, committed_journal, failed_journal, t};
    use crate::tui::run_view::RunView;

    fn entries() -> Vec<TableEntry> {
        let config = fixtures::config();
        let mut tables: Vec<TableEntry> = config.tables.iter().map(TableEntry::new).collect();
        tables[0].watermark = Some(t(17, 0, 0));
        tables[0].last_journal = Some(RunView::from_journal(&committed_journal("a", t(16, 0, 0))));
        tables[1].watermark = Some(t(9, 0, 0));
        tables[1].last_journal = Some(RunView::from_journal(&failed_journal("b", t(16, 0, 0))));
        tables
    }

    fn names(list: &TableList, tables: &[TableEntry]) -> Vec<String> {
        list.order().iter().map(|&i| tables[i].name.clone()).collect()
    }

    #[test]
    fn each_sort_column_orders_as_documented() {
        let tables = entries();
        let mut list = TableList::new(&tables);
        let mut seen = Vec::new();
        for _ in 0..6 {
            seen.push((list.sort, names(&list, &tables)));
            list.sort = list.sort.next();
            list.reorder(&tables, 3);
        }
        let expected = [
            (SortColumn::Config, ["orders", "customers", "invoices"]),
            (SortColumn::Table, ["customers", "invoices", "orders"]),
            (SortColumn::Target, ["customers", "orders", "invoices"]),
            (SortColumn::Lag, ["invoices", "customers", "orders"]),
            (SortColumn::State, ["customers", "invoices", "orders"]),
            (SortColumn::Loaded, ["orders", "customers", "invoices"]),
        ];
        for ((sort, got), (want_sort, want)) in seen.iter().zip(expected) {
            assert_eq!(*sort, want_sort);
            assert_eq!(got, &want, "{sort:?}");
        }
        assert_eq!(list.sort, SortColumn::Config, "the cycle comes back around");
    }

    #[test]
    fn selection_follows_the_table_through_a_resort() {
        let tables = entries();
        let mut list = TableList::new(&tables);
        list.cursor.select(1, 3, 3);
        assert_eq!(list.selected(), Some(1));
        list.sort = SortColumn::Table;
        list.reorder(&tables, 3);
        assert_eq!(list.selected(), Some(1), "still customers");
        assert_eq!(list.cursor.selected(), 0);
    }

    #[test]
    fn filtering_hides_tables_and_clearing_brings_them_back() {
        let tables = entries();
        let mut list = TableList::new(&tables);
        list.filter = "BILL".into();
        list.reorder(&tables, 3);
        assert_eq!(names(&list, &tables), ["invoices"]);
        list.filter = "zzz".into();
        list.reorder(&tables, 3);
        assert_eq!(list.selected(), None);
        list.filter.clear();
        list.reorder(&tables, 3);
        assert_eq!(names(&list, &tables).len(), 3);
    }
}
