//! What the demo remembers of each export it was asked for: `state_dir/<table>/exports/<id>.json`,
//! so DescribeExport works from any process, and a restarted one completes an export that was
//! in progress when the previous one stopped.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::DemoError;
use super::files::{FileLock, create_private_dir, lock_exclusive, read_json, write_json};
use crate::source::ExportSpec;

/// One requested export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct ExportRecord {
    pub export_id: String,
    pub export_arn: String,
    pub client_token: String,
    pub spec: ExportSpec,
    /// Store prefix the export is written under.
    pub prefix: String,
    /// Real time of the request: the export completes `export_duration` of real time later.
    pub requested_at: DateTime<Utc>,
    /// Simulated time of the request (the manifest's `startTime`).
    pub sim_requested_at: DateTime<Utc>,
    pub completion: Option<Completion>,
}

/// Where a completed export was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Completion {
    pub manifest_summary_key: String,
    pub item_count: u64,
    pub billed_size_bytes: u64,
    pub data_files: usize,
    /// Simulated time of completion (the manifest's `endTime`).
    pub sim_completed_at: DateTime<Utc>,
}

/// The export records of one table.
#[derive(Debug, Clone)]
pub(super) struct ExportRecords {
    /// The table's state folder (named in errors).
    folder: PathBuf,
    dir: PathBuf,
}

impl ExportRecords {
    pub(super) fn new(table_folder: &Path) -> ExportRecords {
        ExportRecords { folder: table_folder.to_owned(), dir: table_folder.join("exports") }
    }

    /// Held while starting or completing an export, so each happens once across processes.
    pub(super) fn lock(&self) -> Result<FileLock, DemoError> {
        create_private_dir(&self.dir)?;
        lock_exclusive(&self.folder.join("exports.lock"))
    }

    pub(super) fn load(&self, export_id: &str) -> Result<Option<ExportRecord>, DemoError> {
        if !is_export_id(export_id) {
            return Ok(None);
        }
        read_json(&self.path_of(export_id), &self.folder)
    }

    pub(super) fn save(&self, record: &ExportRecord) -> Result<(), DemoError> {
        create_private_dir(&self.dir)?;
        write_json(&self.path_of(&record.export_id), record)
    }

    /// The export requested with `client_token`, if any.
    pub(super) fn find_by_token(&self, client_token: &str) -> Result<Option<ExportRecord>, DemoError> {
        Ok(self.all()?.into_iter().find(|record| record.client_token == client_token))
    }

    /// Every export record.
    fn all(&self) -> Result<Vec<ExportRecord>, DemoError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(DemoError::Io { path: self.dir.clone(), source: e }),
        };
        let mut records = Vec::new();
        for entry in entries {
            let path = entry.map_err(DemoError::io(&self.dir))?.path();
            if path.extension().is_none_or(|ext| ext != "json") {
                continue;
            }
            records.extend(read_json::<ExportRecord>(&path, &self.folder)?);
        }
        Ok(records)
    }

    /// The earliest instant any export still in progress covers (its export time, or the start
    /// of its window): history from there on must be kept until it completes.
    pub(super) fn earliest_pending(&self) -> Result<Option<DateTime<Utc>>, DemoError> {
        let mut earliest: Option<DateTime<Utc>> = None;
        for record in self.all()? {
            if record.completion.is_none() {
                let instant = match record.spec {
                    ExportSpec::Full { export_time } => export_time,
                    ExportSpec::Incremental { from, .. } => from,
                };
                earliest = Some(earliest.map_or(instant, |e| e.min(instant)));
            }
        }
        Ok(earliest)
    }

    /// Where the data files of `export_id` are written before they go to the store.
    pub(super) fn parts_dir(&self, export_id: &str) -> PathBuf {
        self.dir.join(format!("{export_id}.parts"))
    }

    fn path_of(&self, export_id: &str) -> PathBuf {
        self.dir.join(format!("{export_id}.json"))
    }
}

/// `<14 digits>-<8 hex>`: anything else cannot name a record file.
fn is_export_id(text: &str) -> bool {
    let Some((millis, suffix)) = text.split_once('-') else { return false };
    millis.len() == 14
        && millis.bytes().all(|b| b.is_ascii_digit())
        && suffix.len() == 8
        && suffix.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn record(id: &str, token: &str) -> ExportRecord {
        let t = Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0).unwrap();
        ExportRecord {
            export_id: id.into(),
            export_arn: format!("arn:aws:dynamodb:us-east-1:000000000000:table/orders/export/{id}"),
            client_token: token.into(),
            spec: ExportSpec::Full { export_time: t },
            prefix: "orders/exports".into(),
            requested_at: t,
            sim_requested_at: t,
            completion: None,
        }
    }

    #[test]
    fn records_round_trip_and_are_found_by_token() {
        let dir = tempfile::tempdir().unwrap();
        let records = ExportRecords::new(dir.path());
        assert_eq!(records.find_by_token("t1").unwrap(), None);
        records.save(&record("01768386924000-d339e52d", "t1")).unwrap();
        records.save(&record("01768386925000-aaaaaaaa", "t2")).unwrap();
        assert_eq!(
            records.load("01768386924000-d339e52d").unwrap(),
            Some(record("01768386924000-d339e52d", "t1"))
        );
        assert_eq!(records.find_by_token("t2").unwrap().unwrap().export_id, "01768386925000-aaaaaaaa");
        assert_eq!(records.find_by_token("t3").unwrap(), None);
    }

    #[test]
    fn the_earliest_pending_instant_ignores_completed_exports() {
        let dir = tempfile::tempdir().unwrap();
        let records = ExportRecords::new(dir.path());
        assert_eq!(records.earliest_pending().unwrap(), None);
        let t = Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0).unwrap();
        let mut done = record("01768386924000-d339e52d", "t1");
        done.spec = ExportSpec::Full { export_time: t - chrono::Duration::days(3) };
        done.completion = Some(Completion {
            manifest_summary_key: "k".into(),
            item_count: 0,
            billed_size_bytes: 0,
            data_files: 2,
            sim_completed_at: t,
        });
        records.save(&done).unwrap();
        let mut pending = record("01768386925000-aaaaaaaa", "t2");
        pending.spec = ExportSpec::Incremental {
            from: t - chrono::Duration::days(1),
            to: t,
            view_type: crate::config::ViewType::NewImage,
        };
        records.save(&pending).unwrap();
        records.save(&record("01768386926000-bbbbbbbb", "t3")).unwrap();
        assert_eq!(records.earliest_pending().unwrap(), Some(t - chrono::Duration::days(1)));
    }

    #[test]
    fn only_export_ids_name_records() {
        let dir = tempfile::tempdir().unwrap();
        let records = ExportRecords::new(dir.path());
        assert_eq!(records.load("../../etc/passwd").unwrap(), None);
        assert!(is_export_id("01768386924000-d339e52d"));
        assert!(!is_export_id("01768386924000-d339e52"));
        assert!(!is_export_id("0176838692400x-d339e52d"));
    }
}
