//! The target's columns and key as a load sees them: the configured columns, then the
//! whole-item column when unmapped attributes are kept (the staged column order, minus the op
//! and timestamp columns).

use crate::config::{ColumnType, TableConfig, UnmappedPolicy};
use crate::contract::staged::{OP_COLUMN, TS_COLUMN};

/// One column of the target table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetColumn {
    pub name: String,
    pub ty: ColumnType,
    pub is_key: bool,
}

/// The target's columns (in staged order) and its primary key (in key-schema order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableShape {
    pub columns: Vec<TargetColumn>,
    pub key: Vec<String>,
    /// `deletes = "soft"`: the target also carries `dynashift_deleted_at` (never staged).
    pub soft_deletes: bool,
}

impl TableShape {
    pub fn of(table: &TableConfig) -> TableShape {
        let mut columns: Vec<TargetColumn> = table
            .columns
            .iter()
            .map(|c| TargetColumn { name: c.name.clone(), ty: c.ty, is_key: c.is_key })
            .collect();
        if let UnmappedPolicy::KeepItem { column } = &table.unmapped {
            columns.push(TargetColumn { name: column.clone(), ty: ColumnType::Super, is_key: false });
        }
        let key = table.key_columns().into_iter().map(|c| c.name.clone()).collect();
        TableShape { columns, key, soft_deletes: table.deletes == crate::config::Deletes::Soft }
    }

    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    /// The columns an upsert overwrites when the key already exists.
    pub fn non_key_columns(&self) -> impl Iterator<Item = &TargetColumn> {
        self.columns.iter().filter(|c| !c.is_key)
    }

    /// The staged file's columns: op, timestamp, then the target's.
    pub fn staged_column_names(&self) -> Vec<String> {
        let mut names = vec![OP_COLUMN.to_owned(), TS_COLUMN.to_owned()];
        names.extend(self.column_names().map(str::to_owned));
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::staged_columns;
    use crate::warehouse::testkit;

    #[test]
    fn keeps_configured_order_adds_the_item_column_and_orders_the_key_by_key_schema() {
        let table = testkit::orders_table();
        let shape = TableShape::of(&table);
        assert_eq!(shape.key, ["customer_id", "order_id"]);
        assert_eq!(shape.columns.last().map(|c| (c.name.as_str(), c.ty)), Some(("item", ColumnType::Super)));
        assert_eq!(shape.staged_column_names(), staged_columns(&table));
        let non_key: Vec<_> = shape.non_key_columns().map(|c| c.name.as_str()).collect();
        assert!(!non_key.contains(&"customer_id") && non_key.contains(&"item"), "{non_key:?}");
    }

    #[test]
    fn a_dropping_table_has_no_item_column() {
        let shape = TableShape::of(&testkit::customers_table());
        assert_eq!(shape.key, ["customer_id"]);
        assert!(shape.columns.iter().all(|c| c.name != "item"));
    }
}
