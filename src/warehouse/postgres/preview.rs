//! A page of a target's rows for the console (see [`crate::warehouse::preview`]): one plain
//! SELECT on the shared reader session, in autocommit, never inside a load's transaction and
//! never taking the advisory lock loads serialize on. Its ACCESS SHARE lock lasts the one
//! statement, so a full load's swap waits for a page of 100 rows at most.
//!
//! Values come back as PostgreSQL's own text (the simple query protocol), whatever the column
//! type; key values are written back as literals, which PostgreSQL reads as the key column's
//! type (an untyped literal compared with a column takes the column's type).

use tokio_postgres::SimpleQueryMessage;

use crate::config::TableConfig;
use crate::contract::{PageRequest, RowPage};
use crate::warehouse::WarehouseError;
use crate::warehouse::preview::{key_columns, page_of, page_query};

use super::failure::describe;
use super::names::quoted_target;
use super::session::Session;
use super::sql::quote_literal;

/// Whether the relation exists; `to_regclass` resolves the name like a query would.
const EXISTS: &str = "SELECT to_regclass($1) IS NOT NULL";

/// The page `request` asks for; `None` when the target does not exist yet.
pub(super) async fn read_page(
    session: &Session,
    table: &TableConfig,
    request: &PageRequest,
) -> Result<Option<RowPage>, WarehouseError> {
    let key = key_columns(table)?;
    let target = quoted_target(&table.target);
    let failed = |e: tokio_postgres::Error| {
        WarehouseError::Other(format!("reading rows of {target}: {}", describe(&e)))
    };
    let exists: bool = session.client.query_one(EXISTS, &[&target]).await.map_err(failed)?.get(0);
    if !exists {
        return Ok(None);
    }
    let query = page_query(&target, &key, request, |_, value| quote_literal(value));
    let messages = session.client.simple_query(&query.sql).await.map_err(failed)?;
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    for message in messages {
        match message {
            SimpleQueryMessage::RowDescription(described) => {
                columns = described.iter().map(|c| c.name().to_owned()).collect();
            }
            SimpleQueryMessage::Row(row) => {
                rows.push((0..row.len()).map(|i| row.get(i).map(str::to_owned)).collect());
            }
            _ => {}
        }
    }
    page_of(columns, rows, &key).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::PageStart;

    #[test]
    fn key_values_are_literals_of_the_column_type() {
        let key = vec!["order_id".to_owned(), "line_no".to_owned()];
        let request = PageRequest::new(PageStart::Before(vec!["o'1".into(), "10".into()]));
        let query = page_query("\"sales\".\"line_items\"", &key, &request, |_, value| quote_literal(value));
        insta::assert_snapshot!(query.sql);
    }
}
