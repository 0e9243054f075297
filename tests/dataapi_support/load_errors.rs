//! Load errors the Redshift way: a row in `sys_load_error_detail` per rejected line (file,
//! line, column, type, code, reason), written on a separate autocommit connection so it
//! survives the rollback of the failed load, and joined by the adapter through the COPY's
//! RedshiftQueryId.
//!
//! Lines the stand-in itself cannot shred (bad JSON, bad UTF-8, too many bytes) are described
//! where they are found. Values PostgreSQL rejects are located through PostgreSQL's COPY error
//! context (`COPY t, line N, column c: …`): the stand-in remembers which file and line each
//! COPY row came from.

use tokio_postgres::NoTls;
use tokio_postgres::error::{DbError, SqlState};

use super::copy_row::{ColumnKind, TargetColumn};

/// Redshift's load error codes (STL_LOAD_ERRORS / SYS_LOAD_ERROR_DETAIL).
pub mod codes {
    pub const OUT_OF_RANGE: i32 = 1204;
    pub const BAD_TIMESTAMP: i32 = 1206;
    pub const INVALID_DIGIT: i32 = 1207;
    pub const NOT_NULL: i32 = 1213;
    pub const OTHER: i32 = 1216;
    pub const INVALID_UTF8: i32 = 1220;
    pub const BAD_JSON: i32 = 1224;
}

/// Raw lines are cut to this many characters, as in Redshift.
const RAW_LINE_CHARS: usize = 1024;

/// Where a COPY row came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowOrigin {
    pub file_url: String,
    /// 1-based, counting every line of the (decompressed) file.
    pub line: u64,
}

/// One rejected line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub origin: RowOrigin,
    pub column: Option<TargetColumn>,
    pub code: i32,
    pub message: String,
    pub raw_line: Option<String>,
}

/// The rejected line behind a PostgreSQL COPY error, when its context names one.
/// `origin_of(n)` gives the origin of the n-th (1-based) COPY row.
pub fn from_postgres(
    error: &DbError,
    columns: &[TargetColumn],
    origin_of: impl Fn(u64) -> Option<RowOrigin>,
) -> Option<LoadError> {
    let context = error.where_()?;
    let line = copy_line(context)?;
    let column = columns
        .iter()
        .find(|c| {
            context.contains(&format!(", column {}:", c.name)) || error.column() == Some(c.name.as_str())
        })
        .cloned();
    let code = redshift_code(error.code(), column.as_ref().map(|c| c.kind));
    Some(LoadError {
        origin: origin_of(line)?,
        column,
        code,
        message: error.message().to_owned(),
        raw_line: None,
    })
}

/// N from `COPY t, line N, …`.
fn copy_line(context: &str) -> Option<u64> {
    let after = &context[context.find(", line ")? + ", line ".len()..];
    let digits = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
    after[..digits].parse().ok()
}

fn redshift_code(state: &SqlState, kind: Option<ColumnKind>) -> i32 {
    match *state {
        SqlState::INVALID_TEXT_REPRESENTATION if kind == Some(ColumnKind::Json) => codes::BAD_JSON,
        SqlState::INVALID_TEXT_REPRESENTATION => codes::INVALID_DIGIT,
        SqlState::INVALID_DATETIME_FORMAT | SqlState::DATETIME_FIELD_OVERFLOW => codes::BAD_TIMESTAMP,
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE | SqlState::STRING_DATA_RIGHT_TRUNCATION => codes::OUT_OF_RANGE,
        SqlState::NOT_NULL_VIOLATION => codes::NOT_NULL,
        _ => codes::OTHER,
    }
}

/// Writes `error` into `sys_load_error_detail` for the load `query_id`, on a connection of its
/// own (autocommit).
pub async fn record(pg_url: &str, query_id: i64, error: &LoadError) -> Result<(), String> {
    let failed = |e: tokio_postgres::Error| format!("ERROR: writing sys_load_error_detail: {e}");
    let (client, connection) = tokio_postgres::connect(pg_url, NoTls).await.map_err(failed)?;
    let connection = tokio::spawn(connection);
    let raw_line = error.raw_line.as_ref().map(|line| line.chars().take(RAW_LINE_CHARS).collect::<String>());
    let inserted = client
        .execute(
            "INSERT INTO sys_load_error_detail (query_id, file_name, line_number, column_name, column_type, \
             position, error_code, error_message, raw_line, start_time) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, getdate())",
            &[
                &query_id,
                &error.origin.file_url,
                &i64::try_from(error.origin.line).unwrap_or(i64::MAX),
                &error.column.as_ref().map(|c| c.name.as_str()),
                &error.column.as_ref().map(|c| c.type_text.as_str()),
                &error.code,
                &error.message,
                &raw_line,
            ],
        )
        .await;
    drop(client);
    let _ = connection.await;
    inserted.map(|_| ()).map_err(failed)
}
