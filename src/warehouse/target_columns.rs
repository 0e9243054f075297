//! Columns tables.toml maps that an existing target lacks: a column added to tables.toml after
//! the target was created. An incremental load (and a full load that keeps the target rather
//! than rebuilding it) would fail at its first statement naming the column, after the export was
//! already paid for; the run checks first and says what to do, changing nothing.

use crate::config::{TableConfig, quote_identifier};

use super::shape::{TableShape, TargetColumn};
use super::{Warehouse, WarehouseError};

/// A column the target lacks, with the statement that adds it in the warehouse's SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingColumn {
    pub name: String,
    /// `ALTER TABLE <target> ADD COLUMN <definition>`.
    pub add: String,
}

/// The columns `table` maps that its target, as `warehouse` reads it, lacks; empty when the
/// target has them all or does not exist yet (the load creates it whole). Names compare without
/// case: Redshift folds them to lowercase.
pub async fn missing_columns(
    warehouse: &dyn Warehouse,
    table: &TableConfig,
) -> Result<Vec<MissingColumn>, WarehouseError> {
    let Some(existing) = warehouse.target_columns(table).await? else { return Ok(Vec::new()) };
    let shape = TableShape::of(table);
    Ok(lacking(&shape, &existing)
        .map(|column| MissingColumn {
            name: column.name.clone(),
            add: warehouse.add_column_sql(table, column),
        })
        .collect())
}

/// `ALTER TABLE <target> ADD COLUMN <definition>`, `target` quoted as the warehouse names it.
pub fn add_column(target: String, definition: String) -> String {
    format!("ALTER TABLE {target} ADD COLUMN {definition}")
}

/// The columns of `shape` not among `existing`.
fn lacking<'a>(shape: &'a TableShape, existing: &'a [String]) -> impl Iterator<Item = &'a TargetColumn> {
    shape.columns.iter().filter(|column| !existing.iter().any(|name| name.eq_ignore_ascii_case(&column.name)))
}

/// `"name" <type>`, as a CREATE TABLE line of `ty` written by `sql_type` (NOT NULL for a key
/// column): the column definition every dialect writes the same way.
pub fn column_definition(column: &TargetColumn, sql_type: &str) -> String {
    let not_null = if column.is_key { " NOT NULL" } else { "" };
    format!("{} {sql_type}{not_null}", quote_identifier(&column.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    #[test]
    fn columns_the_target_lacks_are_found_without_case() {
        let shape = TableShape::of(&testkit::customers_table());
        let all: Vec<String> = shape.column_names().map(str::to_uppercase).collect();
        assert_eq!(lacking(&shape, &all).count(), 0);
        let fewer: Vec<String> = all.iter().filter(|c| *c != "NAME").cloned().collect();
        let missing: Vec<&str> = lacking(&shape, &fewer).map(|c| c.name.as_str()).collect();
        assert_eq!(missing, ["name"]);
    }
}
