//! A page of a target's rows for the console (see [`crate::warehouse::preview`]), read on a
//! connection of its own inside one read transaction. The database is in WAL mode (see the
//! `connection` module), where a reader sees the last committed state and neither waits for a
//! writer nor makes one wait: a load commits while a page is read.

use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::config::TableConfig;
use crate::contract::{PageRequest, RowPage};
use crate::warehouse::WarehouseError;
use crate::warehouse::preview::{key_columns, page_of, page_query};

use super::connection::open_reader;
use super::names::{quoted_target, table_name};

/// The page `request` asks for of `table`'s target in the database at `path`; `None` when the
/// target does not exist yet. Blocking: run it on the blocking pool.
pub(super) fn read_page(
    path: &Path,
    table: &TableConfig,
    request: &PageRequest,
) -> Result<Option<RowPage>, WarehouseError> {
    let key = key_columns(table)?;
    let name = table_name(&table.target);
    let conn = open_reader(path)?;
    // One snapshot for both reads: the table cannot vanish between the check and the SELECT.
    let snapshot = conn.unchecked_transaction().map_err(|e| failed(&name, e))?;
    let page = read_in(&snapshot, table, &key, request)?;
    snapshot.commit().map_err(|e| failed(&name, e))?;
    Ok(page)
}

/// The page, read on `conn` (inside the caller's read transaction).
fn read_in(
    conn: &Connection,
    table: &TableConfig,
    key: &[String],
    request: &PageRequest,
) -> Result<Option<RowPage>, WarehouseError> {
    let name = table_name(&table.target);
    let failed = |e: rusqlite::Error| failed(&name, e);
    if !exists(conn, &name).map_err(failed)? {
        return Ok(None);
    }
    let query = page_query(&quoted_target(&table.target), key, request, |i, _| format!("?{}", i + 1));
    let mut statement = conn.prepare(&query.sql).map_err(failed)?;
    let columns: Vec<String> = statement.column_names().map(str::to_owned).collect();
    let width = columns.len();
    let rows = statement
        .query_map(rusqlite::params_from_iter(query.values.iter()), |row| {
            (0..width).map(|i| row.get_ref(i).map(text)).collect::<Result<Vec<_>, _>>()
        })
        .map_err(failed)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    page_of(columns, rows, key).map(Some)
}

fn failed(name: &str, error: rusqlite::Error) -> WarehouseError {
    WarehouseError::Other(format!("reading rows of {name}: {error}"))
}

fn exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", [name], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n > 0)
}

/// A stored value as text. Bound back as a key, text compares as the column's type: SQLite
/// applies an INTEGER or REAL column's affinity to a text operand.
fn text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(x) => Some(x.to_string()),
        ValueRef::Text(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
        ValueRef::Blob(bytes) => {
            Some(format!("x'{}'", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Mode;
    use crate::contract::PageStart;
    use crate::warehouse::Warehouse;
    use crate::warehouse::sqlite::testkit::{Fixture, odd_names_table, odd_names_upsert};

    fn request(start: PageStart) -> PageRequest {
        PageRequest { start, limit: 2 }
    }

    fn text(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    /// The integer key column of each row (the odd-names table's second key column).
    fn sks(page: &RowPage) -> Vec<String> {
        page.keys.iter().map(|key| key[1].clone()).collect()
    }

    async fn loaded(sks: &[i64]) -> (Fixture, TableConfig) {
        let fixture = Fixture::new();
        let table = odd_names_table("odd");
        let lines = sks.iter().map(|&sk| odd_names_upsert(&table, sk, "\"v\"")).collect();
        fixture.sync(&table, Mode::Full, "r1", &[lines]).await.result.unwrap();
        (fixture, table)
    }

    #[tokio::test]
    async fn pages_follow_the_key_in_both_directions_and_compare_numbers_as_numbers() {
        let (fixture, table) = loaded(&[11, 2, 10, 1, 3]).await;
        let page = |start| {
            let (warehouse, table) = (&fixture.warehouse, &table);
            async move { warehouse.preview(table, &request(start)).await.unwrap().unwrap() }
        };
        let first = page(PageStart::First).await;
        assert_eq!(first.columns, ["order", "a \"quoted\" col", "x;y", "ünï"]);
        assert_eq!(first.rows[0], [Some("k".into()), Some("1".into()), Some("v".into()), Some("1".into())]);
        assert_eq!(sks(&first), ["1", "2"]);
        assert_eq!(sks(&page(PageStart::After(text(&["k", "2"]))).await), ["3", "10"]);
        assert_eq!(sks(&page(PageStart::After(text(&["k", "10"]))).await), ["11"]);
        assert_eq!(sks(&page(PageStart::Before(text(&["k", "10"]))).await), ["2", "3"]);
        assert_eq!(sks(&page(PageStart::AtLeast(text(&["k"]))).await), ["1", "2"]);
        assert!(page(PageStart::AtLeast(text(&["l"]))).await.rows.is_empty());
        // A composite key: the second column compared as its type (3 < 4 < 10).
        assert_eq!(sks(&page(PageStart::AtLeast(text(&["k", "4"]))).await), ["10", "11"]);
        assert_eq!(sks(&page(PageStart::AtLeast(text(&["k", "3"]))).await), ["3", "10"]);
    }

    #[test]
    fn keys_are_bound_parameters() {
        let table = odd_names_table("odd");
        let key = key_columns(&table).unwrap();
        let request = PageRequest::new(PageStart::After(text(&["k", "7"])));
        insta::assert_snapshot!(
            page_query(&quoted_target(&table.target), &key, &request, |i, _| format!("?{}", i + 1)).sql
        );
    }

    #[tokio::test]
    async fn a_target_not_loaded_yet_has_no_page() {
        let fixture = Fixture::new();
        let table = odd_names_table("odd");
        assert_eq!(fixture.warehouse.preview(&table, &request(PageStart::First)).await.unwrap(), None);
    }

    /// The rows view holds a read transaction while a load replaces the table: the load
    /// commits without waiting, and the view keeps its snapshot until it reads again.
    #[tokio::test]
    async fn a_load_commits_while_a_page_is_read() {
        let (mut fixture, table) = loaded(&[1, 2]).await;
        let patient = crate::retry::RetryPolicy {
            first_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(50),
            jitter: 0.0,
            deadline: Duration::from_millis(200),
        };
        fixture.warehouse = fixture.warehouse.clone().with_load_retry(patient);
        super::super::lock(&fixture.warehouse.writer).busy_timeout(Duration::from_millis(20)).unwrap();
        let key = key_columns(&table).unwrap();
        let conn = open_reader(fixture.warehouse.path()).unwrap();
        let snapshot = conn.unchecked_transaction().unwrap();
        let before = read_in(&snapshot, &table, &key, &request(PageStart::First)).unwrap().unwrap();
        assert_eq!(sks(&before), ["1", "2"]);

        let lines = vec![odd_names_upsert(&table, 5, "\"w\"")];
        let outcome = fixture.sync(&table, Mode::Full, "r2", &[lines]).await;
        assert_eq!(outcome.result.unwrap().target_rows, 1, "the load committed while the page was open");

        let same = read_in(&snapshot, &table, &key, &request(PageStart::First)).unwrap().unwrap();
        assert_eq!(sks(&same), ["1", "2"], "the open read keeps its snapshot");
        snapshot.commit().unwrap();
        let after = fixture.warehouse.preview(&table, &request(PageStart::First)).await.unwrap().unwrap();
        assert_eq!(sks(&after), ["5"]);
    }
}
