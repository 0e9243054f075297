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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    fn record(run_id: &str, minute: u32) -> CommitRecord {
        use chrono::TimeZone;
        CommitRecord {
            table_name: "customers".into(),
            run_id: run_id.into(),
            mode: Mode::Incremental,
            watermark: Utc.with_ymd_and_hms(2026, 11, 24, 10, minute, 0).unwrap(),
            committed_at: Utc.with_ymd_and_hms(2026, 11, 24, 11, 0, 0).unwrap(),
            upserts: 1,
            deletes: 0,
            target_rows: 1,
            seq: u64::from(minute) + 1,
            from_watermark: None,
            accepted_gaps: Vec::new(),
        }
    }

    #[tokio::test]
    async fn the_copy_follows_the_warehouse() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let text = "[[table]]\nname = \"customers\"\nkey = [\"customer_id\"]\n";
        let table =
            crate::config::load_str(text, std::path::Path::new("/tmp/tables.toml")).unwrap().tables.remove(0);

        assert!(!reconcile_copy(&store, &table, None).await.unwrap());
        assert!(reconcile_copy(&store, &table, Some(&record("a", 15))).await.unwrap());
        assert!(!reconcile_copy(&store, &table, Some(&record("a", 15))).await.unwrap());
        assert_eq!(read_copy(&store, &table).await.unwrap().unwrap().run_id, "a");
        // A copy ahead of the warehouse (its load never committed) is put back.
        write_copy(&store, &table, &WatermarkCopy::from(&record("b", 30))).await.unwrap();
        assert!(reconcile_copy(&store, &table, Some(&record("a", 15))).await.unwrap());
        assert_eq!(read_copy(&store, &table).await.unwrap().unwrap().run_id, "a");
        assert!(reconcile_copy(&store, &table, None).await.unwrap());
        assert!(read_copy(&store, &table).await.unwrap().is_none());
    }
}
