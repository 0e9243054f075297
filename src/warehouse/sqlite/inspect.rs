//! Reading a target back: for tests (expected vs loaded rows) and for anyone inspecting a load.

use rusqlite::Connection;
use rusqlite::types::Value;

use crate::config::{TargetTable, quote_identifier};
use crate::warehouse::WarehouseError;

use super::names::table_name;

/// A target's contents, rows ordered by primary key.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Every row of `target`, ordered by its primary key (by insertion when it has none); `None`
/// when the table does not exist.
pub(super) fn query_rows(
    conn: &Connection,
    target: &TargetTable,
) -> Result<Option<TableRows>, WarehouseError> {
    let name = table_name(target);
    let read_error = |e: rusqlite::Error| WarehouseError::Other(format!("reading table {name}: {e}"));
    let Some((columns, key)) = describe_table(conn, &name).map_err(read_error)? else {
        return Ok(None);
    };
    let order = if key.is_empty() {
        "rowid".to_owned()
    } else {
        key.iter().map(|k| quote_identifier(k)).collect::<Vec<_>>().join(", ")
    };
    let sql = format!("SELECT * FROM {} ORDER BY {order}", quote_identifier(&name));
    let mut statement = conn.prepare(&sql).map_err(read_error)?;
    let width = columns.len();
    let rows = statement
        .query_map([], |row| (0..width).map(|i| row.get::<_, Value>(i)).collect::<Result<Vec<_>, _>>())
        .map_err(read_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read_error)?;
    Ok(Some(TableRows { columns, rows }))
}

/// The column names of `target` in table order; `None` when the table does not exist.
pub(super) fn column_names(
    conn: &Connection,
    target: &TargetTable,
) -> Result<Option<Vec<String>>, WarehouseError> {
    let name = table_name(target);
    let described = describe_table(conn, &name)
        .map_err(|e| WarehouseError::Other(format!("reading the columns of table {name}: {e}")))?;
    Ok(described.map(|(columns, _)| columns))
}

/// The table's columns in order and its primary-key columns in key order; `None` when missing.
fn describe_table(conn: &Connection, name: &str) -> rusqlite::Result<Option<(Vec<String>, Vec<String>)>> {
    let mut statement = conn.prepare("SELECT name, pk FROM pragma_table_info(?1) ORDER BY cid")?;
    let described: Vec<(String, i64)> =
        statement.query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    if described.is_empty() {
        return Ok(None);
    }
    let mut key: Vec<&(String, i64)> = described.iter().filter(|(_, pk)| *pk > 0).collect();
    key.sort_by_key(|(_, pk)| *pk);
    let key = key.into_iter().map(|(column, _)| column.clone()).collect();
    Ok(Some((described.into_iter().map(|(column, _)| column).collect(), key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_the_primary_key_in_key_order() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE \"sales.t\" (b INTEGER, a TEXT, v TEXT, PRIMARY KEY (a, b));
             INSERT INTO \"sales.t\" VALUES (2, 'x', 'x2'), (1, 'y', 'y1'), (1, 'x', 'x1');",
        )
        .unwrap();
        let target = TargetTable { schema: Some("sales".into()), table: "t".into() };
        let table = query_rows(&conn, &target).unwrap().unwrap();
        assert_eq!(table.columns, ["b", "a", "v"]);
        let values: Vec<Value> = table.rows.iter().map(|r| r[2].clone()).collect();
        assert_eq!(values, ["x1", "x2", "y1"].map(|s| Value::Text(s.into())));
    }

    #[test]
    fn a_missing_table_is_none() {
        let conn = Connection::open_in_memory().unwrap();
        let target = TargetTable { schema: None, table: "nope".into() };
        assert_eq!(query_rows(&conn, &target).unwrap(), None);
    }
}
