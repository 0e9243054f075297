//! The store's copy of a table's watermark (`<table>/_state/watermark.json`).
//!
//! The truth is the warehouse's `dynashift_runs` row, committed in the same transaction as the
//! data; this copy only makes the state visible to anyone browsing the bucket. It is reconciled
//! with the warehouse before every run and rewritten after every commit.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{Mode, TableConfig};
use crate::store::{ObjectStore, StoreError};
use crate::warehouse::CommitRecord;

/// The contents of `watermark.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatermarkCopy {
    pub table: String,
    pub run_id: String,
    pub mode: Mode,
    /// The last committed `ExportToTime` (or full `ExportTime`).
    pub watermark: DateTime<Utc>,
    pub committed_at: DateTime<Utc>,
}

impl From<&CommitRecord> for WatermarkCopy {
    fn from(record: &CommitRecord) -> WatermarkCopy {
        WatermarkCopy {
            table: record.table_name.clone(),
            run_id: record.run_id.clone(),
            mode: record.mode,
            watermark: record.watermark,
            committed_at: record.committed_at,
        }
    }
}

fn key(table: &TableConfig) -> String {
    format!("{}_state/watermark.json", table.state_prefix())
}

/// Reads the copy; a missing or unreadable copy is `None` (the warehouse is the truth anyway).
pub async fn read_copy(
    store: &dyn ObjectStore,
    table: &TableConfig,
) -> Result<Option<WatermarkCopy>, StoreError> {
    match store.get(&key(table)).await {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

/// Makes the copy match the warehouse's record (deleting it when the warehouse has none).
/// Returns whether it had to change anything.
pub async fn reconcile_copy(
    store: &dyn ObjectStore,
    table: &TableConfig,
    truth: Option<&CommitRecord>,
) -> Result<bool, StoreError> {
    let current = read_copy(store, table).await?;
    let wanted = truth.map(WatermarkCopy::from);
    if current == wanted {
        return Ok(false);
    }
    match wanted {
        Some(copy) => write_copy(store, table, &copy).await?,
        None => store.delete(&key(table)).await?,
    }
    Ok(true)
}

/// Writes the copy.
pub async fn write_copy(
    store: &dyn ObjectStore,
    table: &TableConfig,
    copy: &WatermarkCopy,
) -> Result<(), StoreError> {
    store.put(&key(table), serde_json::to_vec_pretty(copy).expect("watermarks always serialize")).await
}
