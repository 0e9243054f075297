//! Reading a page of a target's rows for the console (see [`crate::contract::rows`]): the SQL
//! every dialect shares, cut by key (keyset paging, never OFFSET), and the page made of the
//! rows a warehouse returned. Each warehouse supplies how a value is placed in the SQL (a bound
//! parameter, or a literal) and how it runs the query; none of them takes a lock a load waits
//! for: it is one plain SELECT.

use crate::config::{TableConfig, quote_identifier};
use crate::contract::{PageRequest, PageStart, RowPage};

use super::WarehouseError;

/// A page's query: its SQL, and the values its placeholders stand for, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PageQuery {
    pub sql: String,
    pub values: Vec<String>,
}

/// The target's key columns in key order, or why the console cannot page it.
pub(crate) fn key_columns(table: &TableConfig) -> Result<Vec<String>, WarehouseError> {
    let key: Vec<String> = table.key_columns().iter().map(|c| c.name.clone()).collect();
    if key.is_empty() || key.len() != table.key.len() {
        return Err(WarehouseError::Other(format!(
            "table `{}` has no key columns known yet, so its rows cannot be paged by key; \
             connect once (DynamoDB names the key) or write `key` in tables.toml",
            table.name
        )));
    }
    Ok(key)
}

/// The page's SELECT on `target` (quoted): every column, `request.limit` rows in key order from
/// where the request starts. `place(i, value)` writes the `i`th value into the SQL (a
/// placeholder, or a literal); the values are returned in that order.
pub(crate) fn page_query(
    target: &str,
    key: &[String],
    request: &PageRequest,
    place: impl Fn(usize, &str) -> String,
) -> PageQuery {
    let quoted: Vec<String> = key.iter().map(|k| quote_identifier(k)).collect();
    let order =
        |direction: &str| quoted.iter().map(|k| format!("{k}{direction}")).collect::<Vec<_>>().join(", ");
    let limit = request.limit;
    let select = |condition: &str, direction: &str| {
        format!("SELECT * FROM {target}{condition} ORDER BY {} LIMIT {limit}", order(direction))
    };
    match &request.start {
        PageStart::First => PageQuery { sql: select("", ""), values: Vec::new() },
        PageStart::AtLeast(values) => {
            let values: Vec<String> = values.iter().take(quoted.len()).cloned().collect();
            PageQuery {
                sql: select(&format!(" WHERE {}", beyond(&quoted, &values, ">", ">=", &place)), ""),
                values,
            }
        }
        PageStart::After(values) => PageQuery {
            sql: select(&format!(" WHERE {}", beyond(&quoted, values, ">", ">", &place)), ""),
            values: values.clone(),
        },
        PageStart::Before(values) => {
            let inner = select(&format!(" WHERE {}", beyond(&quoted, values, "<", "<", &place)), " DESC");
            PageQuery {
                sql: format!("SELECT * FROM ({inner}) AS page ORDER BY {}", order("")),
                values: values.clone(),
            }
        }
    }
}

/// Rows past `values` in key order, for any number of key columns without row-value
/// comparisons (Redshift has none): `(a > x) OR (a = x AND b > y)`. `op` compares every column
/// but the last of `values`, `last_op` that one (`>=`: at or after a key prefix).
fn beyond(
    key: &[String],
    values: &[String],
    op: &str,
    last_op: &str,
    place: &impl Fn(usize, &str) -> String,
) -> String {
    let count = key.len().min(values.len());
    let terms: Vec<String> = (0..count)
        .map(|last| {
            let mut parts: Vec<String> =
                (0..last).map(|i| format!("{} = {}", key[i], place(i, &values[i]))).collect();
            let op = if last + 1 == count { last_op } else { op };
            parts.push(format!("{} {op} {}", key[last], place(last, &values[last])));
            format!("({})", parts.join(" AND "))
        })
        .collect();
    terms.join(" OR ")
}

/// The page of `rows` (values as text, parallel to `columns`), with each row's key values read
/// from the key columns. Warehouses that fold unquoted names (Redshift) are matched without case.
pub(crate) fn page_of(
    columns: Vec<String>,
    rows: Vec<Vec<Option<String>>>,
    key: &[String],
) -> Result<RowPage, WarehouseError> {
    let positions = key
        .iter()
        .map(|k| {
            columns.iter().position(|c| c.eq_ignore_ascii_case(k)).ok_or_else(|| {
                WarehouseError::Other(format!(
                    "the target has no key column \"{k}\" (its columns: {}); was it created by another \
                     tables.toml, or altered by hand?",
                    columns.join(", ")
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let keys = rows
        .iter()
        .map(|row| positions.iter().map(|&i| row.get(i).cloned().flatten().unwrap_or_default()).collect())
        .collect();
    Ok(RowPage { columns, rows, keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(start: PageStart, key: &[&str]) -> PageQuery {
        let key: Vec<String> = key.iter().map(|k| (*k).to_owned()).collect();
        page_query("\"t\"", &key, &PageRequest { start, limit: 100 }, |i, _| format!("?{}", i + 1))
    }

    #[test]
    fn pages_are_cut_by_key_and_never_by_offset() {
        let first = query(PageStart::First, &["pk", "sk"]);
        assert_eq!(first.sql, "SELECT * FROM \"t\" ORDER BY \"pk\", \"sk\" LIMIT 100");
        let next = query(PageStart::After(vec!["a".into(), "7".into()]), &["pk", "sk"]);
        assert_eq!(
            next.sql,
            "SELECT * FROM \"t\" WHERE (\"pk\" > ?1) OR (\"pk\" = ?1 AND \"sk\" > ?2) ORDER BY \"pk\", \"sk\" LIMIT 100"
        );
        assert_eq!(next.values, ["a", "7"]);
        let previous = query(PageStart::Before(vec!["a".into()]), &["pk"]);
        assert_eq!(
            previous.sql,
            "SELECT * FROM (SELECT * FROM \"t\" WHERE (\"pk\" < ?1) ORDER BY \"pk\" DESC LIMIT 100) AS page ORDER BY \"pk\""
        );
        let find = query(PageStart::AtLeast(vec!["c".into()]), &["pk", "sk"]);
        assert_eq!(find.sql, "SELECT * FROM \"t\" WHERE (\"pk\" >= ?1) ORDER BY \"pk\", \"sk\" LIMIT 100");
        let both = query(PageStart::AtLeast(vec!["c".into(), "7".into(), "extra".into()]), &["pk", "sk"]);
        assert_eq!(
            both.sql,
            "SELECT * FROM \"t\" WHERE (\"pk\" > ?1) OR (\"pk\" = ?1 AND \"sk\" >= ?2) ORDER BY \"pk\", \"sk\" LIMIT 100"
        );
        assert_eq!(both.values, ["c", "7"], "values past the key's columns are dropped");
        for page in [first, next, previous, find] {
            assert!(!page.sql.contains("OFFSET"), "{}", page.sql);
        }
    }

    #[test]
    fn each_row_carries_its_key_in_key_order() {
        let columns = vec!["total".to_owned(), "SK".to_owned(), "pk".to_owned()];
        let rows = vec![vec![None, Some("2".to_owned()), Some("a".to_owned())]];
        let page = page_of(columns, rows, &["pk".to_owned(), "sk".to_owned()]).unwrap();
        assert_eq!(page.keys, [["a", "2"]]);
    }

    #[test]
    fn a_missing_key_column_is_named() {
        let err = page_of(vec!["x".into()], Vec::new(), &["pk".to_owned()]).unwrap_err().to_string();
        assert!(err.contains("no key column \"pk\"") && err.contains("its columns: x"), "{err}");
    }
}
