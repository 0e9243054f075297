//! The staged and target column names a table's config implies, in jsonpaths / COPY column
//! order: what the stage step writes and every warehouse loads.

use super::{TableConfig, UnmappedPolicy};
use crate::contract::staged::{NEW_KEY_COLUMN, OP_COLUMN, TS_COLUMN};

/// The staged column names for a table, in jsonpaths / COPY column order: the op and timestamp
/// columns, each configured column, then the whole-item column when unmapped attributes are kept.
pub fn staged_columns(table: &TableConfig) -> Vec<String> {
    let mut columns = vec![OP_COLUMN.to_owned(), TS_COLUMN.to_owned()];
    columns.extend(target_columns(table));
    columns
}

/// The columns of an incremental pushdown stage, in jsonpaths order: the write time, the first
/// key as read from the new image (NULL for a delete), then the target's columns.
pub fn change_columns(table: &TableConfig) -> Vec<String> {
    let mut columns = vec![TS_COLUMN.to_owned(), NEW_KEY_COLUMN.to_owned()];
    columns.extend(target_columns(table));
    columns
}

/// The target's column names: each configured column, then the whole-item column when
/// unmapped attributes are kept.
pub fn target_columns(table: &TableConfig) -> Vec<String> {
    let mut columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    if let UnmappedPolicy::KeepItem { column } = &table.unmapped {
        columns.push(column.clone());
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::orders_table;

    #[test]
    fn staged_columns_are_the_op_and_timestamp_then_the_target_columns() {
        let table = orders_table();
        let staged = staged_columns(&table);
        assert_eq!(staged[..2], [OP_COLUMN, TS_COLUMN]);
        assert_eq!(staged[2..], target_columns(&table)[..]);
        assert_eq!(target_columns(&table).last().map(String::as_str), Some("item"));
    }
}
