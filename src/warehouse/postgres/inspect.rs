//! Reading a target back: for tests (expected vs loaded rows, see [`super::values`]) and for
//! anyone inspecting a load.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use tokio_postgres::Row;

use crate::config::{TargetTable, quote_identifier};
use crate::warehouse::WarehouseError;

use super::canonical_json::CanonicalJson;
use super::failure::describe;
use super::names::quoted_target;
use super::session::Session;
use super::values::PgValue;

/// A target's contents, rows ordered by primary key.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<PgValue>>,
}

/// A column as the catalog describes it.
struct Column {
    name: String,
    /// `pg_type.typname`: `varchar`, `int8`, `numeric`, `jsonb`, …
    type_name: String,
}

/// The columns in table order, then the primary-key columns in key order; no columns when the
/// table does not exist. A domain column reports its base type (the Redshift stand-in's `super`
/// is a domain over jsonb).
const DESCRIBE_COLUMNS: &str = "SELECT a.attname::text, COALESCE(base.typname, t.typname)::text FROM pg_attribute a \
    JOIN pg_type t ON t.oid = a.atttypid \
    LEFT JOIN pg_type base ON base.oid = t.typbasetype \
    WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";
const DESCRIBE_KEY: &str = "SELECT a.attname::text FROM pg_index i \
    CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) \
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
    WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY k.position";

/// The column names of `target` in table order; `None` when the table does not exist.
pub(super) async fn column_names(
    session: &Session,
    target: &TargetTable,
) -> Result<Option<Vec<String>>, WarehouseError> {
    let table = quoted_target(target);
    let rows = session.client.query(DESCRIBE_COLUMNS, &[&table]).await.map_err(|e| {
        WarehouseError::Other(format!("reading the columns of table {table}: {}", describe(&e)))
    })?;
    let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    Ok(Some(names).filter(|names| !names.is_empty()))
}

/// Every row of `target`, ordered by its primary key (by every column when it has none);
/// `None` when the table does not exist.
pub(super) async fn query_rows(
    session: &Session,
    target: &TargetTable,
) -> Result<Option<TableRows>, WarehouseError> {
    let table = quoted_target(target);
    let read_error =
        |e: tokio_postgres::Error| WarehouseError::Other(format!("reading table {table}: {}", describe(&e)));
    let client = &session.client;
    let columns: Vec<Column> = client
        .query(DESCRIBE_COLUMNS, &[&table])
        .await
        .map_err(read_error)?
        .iter()
        .map(|r| Column { name: r.get(0), type_name: r.get(1) })
        .collect();
    if columns.is_empty() {
        return Ok(None);
    }
    let key: Vec<String> =
        client.query(DESCRIBE_KEY, &[&table]).await.map_err(read_error)?.iter().map(|r| r.get(0)).collect();
    let order = if key.is_empty() {
        (1..=columns.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
    } else {
        key.iter().map(|k| quote_identifier(k)).collect::<Vec<_>>().join(", ")
    };
    let select: Vec<String> = columns.iter().map(select_expression).collect();
    let sql = format!("SELECT {} FROM {table} ORDER BY {order}", select.join(", "));
    let rows = client.query(&sql, &[]).await.map_err(read_error)?;
    let values = rows
        .iter()
        .map(|row| {
            columns.iter().enumerate().map(|(i, c)| read_value(row, i, c)).collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| WarehouseError::Other(format!("reading table {table}: {e}")))?;
    Ok(Some(TableRows { columns: columns.into_iter().map(|c| c.name).collect(), rows: values }))
}

/// Numeric and JSON columns are read as text: tokio-postgres has no exact decimal type, and
/// jsonb's text keeps every digit.
fn select_expression(column: &Column) -> String {
    let name = quote_identifier(&column.name);
    match column.type_name.as_str() {
        "numeric" | "json" | "jsonb" => format!("{name}::text"),
        _ => name,
    }
}

fn read_value(row: &Row, index: usize, column: &Column) -> Result<PgValue, String> {
    let get_error = |e: tokio_postgres::Error| format!("column \"{}\": {e}", column.name);
    macro_rules! get {
        ($ty:ty) => {
            row.try_get::<_, Option<$ty>>(index).map_err(get_error)?
        };
    }
    let value = match column.type_name.as_str() {
        "varchar" | "text" | "bpchar" => get!(String).map(PgValue::Text),
        "int2" => get!(i16).map(|n| PgValue::Integer(n.into())),
        "int4" => get!(i32).map(|n| PgValue::Integer(n.into())),
        "int8" => get!(i64).map(PgValue::Integer),
        "numeric" => get!(String).map(PgValue::Numeric),
        "float4" => get!(f32).map(|x| PgValue::Double(x.into())),
        "float8" => get!(f64).map(PgValue::Double),
        "bool" => get!(bool).map(PgValue::Boolean),
        "timestamp" => get!(NaiveDateTime).map(PgValue::Timestamp),
        "timestamptz" => get!(DateTime<Utc>).map(PgValue::TimestampTz),
        "date" => get!(NaiveDate).map(PgValue::Date),
        "json" | "jsonb" => match get!(String) {
            Some(text) => Some(PgValue::Json(
                CanonicalJson::parse(&text).map_err(|e| format!("column \"{}\": {e}", column.name))?,
            )),
            None => None,
        },
        other => {
            return Err(format!(
                "column \"{}\" has type {other}, which dynashift never creates",
                column.name
            ));
        }
    };
    Ok(value.unwrap_or(PgValue::Null))
}
