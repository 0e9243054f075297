//! A page of a target's rows for the console (see [`crate::warehouse::preview`]): one plain
//! SELECT through the Data API (ExecuteStatement, then GetStatementResult with its
//! ColumnMetadata), outside every load's batch and never behind the `LOCK` a load takes at its
//! end. Key values travel as Data API parameters (`:k0`, `:k1`…), which Redshift converts to the
//! key column's type ("SqlParameter", Redshift Data API reference:
//! <https://docs.aws.amazon.com/redshift-data/latest/APIReference/API_SqlParameter.html>), so no
//! value is ever spliced into the SQL text. A parameter cannot be empty; DynamoDB keys never are.

use aws_sdk_redshiftdata::types::SqlParameter;

use crate::config::TableConfig;
use crate::contract::{PageRequest, RowPage};
use crate::warehouse::WarehouseError;
use crate::warehouse::preview::{key_columns, page_of, page_query};

use super::data_api::{DataApi, QueryError};
use super::sql::quoted_target;

/// The page `request` asks for; `None` when the target does not exist yet.
pub(super) async fn read_page(
    api: &DataApi,
    table: &TableConfig,
    request: &PageRequest,
) -> Result<Option<RowPage>, WarehouseError> {
    let key = key_columns(table)?;
    let target = quoted_target(&table.target);
    let query = page_query(&target, &key, request, |i, _| parameter_name(i));
    let parameters = query
        .values
        .iter()
        .enumerate()
        .map(|(i, value)| parameter(i, value))
        .collect::<Result<Vec<_>, _>>()?;
    match api.query_table(&query.sql, "dynashift read rows", &parameters).await {
        Ok((columns, rows)) => page_of(columns, rows, &key).map(Some),
        Err(QueryError::Failed(message)) if is_missing_relation(&message) => Ok(None),
        Err(QueryError::Failed(message)) => {
            Err(WarehouseError::Other(format!("reading rows of {target}: {message}")))
        }
        Err(QueryError::Call(failure)) => Err(WarehouseError::Connection(format!(
            "reaching Redshift through the Data API ({}): {}",
            api.describe(),
            failure.message
        ))),
    }
}

/// The column names of `table`'s target, from the ColumnMetadata of a `SELECT * … LIMIT 0`
/// (GetStatementResult, Redshift Data API reference); `None` when the target does not exist yet
/// or the result carries no column metadata (then nothing is checked).
pub(super) async fn read_columns(
    api: &DataApi,
    table: &TableConfig,
) -> Result<Option<Vec<String>>, WarehouseError> {
    let target = quoted_target(&table.target);
    let sql = format!("SELECT * FROM {target} LIMIT 0");
    match api.query_table(&sql, "dynashift read the target's columns", &[]).await {
        Ok((columns, _)) => Ok(Some(columns).filter(|columns| !columns.is_empty())),
        Err(QueryError::Failed(message)) if is_missing_relation(&message) => Ok(None),
        Err(QueryError::Failed(message)) => {
            Err(WarehouseError::Other(format!("reading the columns of {target}: {message}")))
        }
        Err(QueryError::Call(failure)) => Err(WarehouseError::Connection(format!(
            "reaching Redshift through the Data API ({}): {}",
            api.describe(),
            failure.message
        ))),
    }
}

/// `:k0`, `:k1`…: the placeholder of the `index`th value.
fn parameter_name(index: usize) -> String {
    format!(":k{index}")
}

fn parameter(index: usize, value: &str) -> Result<SqlParameter, WarehouseError> {
    if value.is_empty() {
        return Err(WarehouseError::Other(
            "an empty key value cannot be looked up in Redshift (the Data API refuses empty parameters)"
                .into(),
        ));
    }
    SqlParameter::builder()
        .name(format!("k{index}"))
        .value(value)
        .build()
        .map_err(|e| WarehouseError::Other(format!("building the Data API parameter: {e}")))
}

/// Whether a failed SELECT means the target is not there yet (no load created it).
fn is_missing_relation(message: &str) -> bool {
    message.contains("relation") && message.contains("does not exist")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::PageStart;

    #[test]
    fn keys_are_parameters_never_text_in_the_sql() {
        let key = vec!["customer_id".to_owned(), "order_id".to_owned()];
        let request = PageRequest::new(PageStart::After(vec!["c'1".into(), "o\\2".into()]));
        let query = page_query("\"sales\".\"orders\"", &key, &request, |i, _| parameter_name(i));
        insta::assert_snapshot!(query.sql);
        assert!(!query.sql.contains("c'1") && !query.sql.contains("o\\2"));
        let built = parameter(1, "o\\2").unwrap();
        assert_eq!((built.name(), built.value()), ("k1", "o\\2"));
        assert!(parameter(0, "").unwrap_err().to_string().contains("empty key value"));
    }

    #[test]
    fn a_missing_target_is_recognised() {
        assert!(is_missing_relation("ERROR: relation \"sales.orders\" does not exist"));
        assert!(!is_missing_relation("ERROR: permission denied for relation orders"));
    }
}
