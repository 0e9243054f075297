//! The contract between the stage step and the load step: what was staged, and where.

use serde::{Deserialize, Serialize};

use crate::config::TableConfig;

/// Name of the staged column that says whether a row is an upsert (`U`) or a delete (`D`).
pub const OP_COLUMN: &str = "dynashift_op";
/// Name of the staged column with the change's `WriteTimestampMicros` (null in full loads).
pub const TS_COLUMN: &str = "dynashift_ts";

/// One staged data file (gzip JSON Lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedFile {
    /// Store key.
    pub key: String,
    pub rows: u64,
    /// Compressed size.
    pub bytes: u64,
}

/// The load-ready output of one run's stage step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagedSet {
    /// Store key of the Redshift COPY manifest listing `files`.
    pub manifest_key: String,
    /// Store key of the jsonpaths file, one path per staged column.
    pub jsonpaths_key: String,
    /// The staged columns in file order: [`OP_COLUMN`], [`TS_COLUMN`], then the table's columns.
    pub columns: Vec<String>,
    pub files: Vec<StagedFile>,
    pub upserts: u64,
    pub deletes: u64,
}

/// The staged column names for a table, in jsonpaths / COPY column order: the op and timestamp
/// columns, each configured column, then the whole-item column when unmapped attributes are kept.
pub fn staged_columns(table: &TableConfig) -> Vec<String> {
    let mut columns = vec![OP_COLUMN.to_owned(), TS_COLUMN.to_owned()];
    columns.extend(table.columns.iter().map(|c| c.name.clone()));
    if let crate::config::UnmappedPolicy::KeepItem { column } = &table.unmapped {
        columns.push(column.clone());
    }
    columns
}
