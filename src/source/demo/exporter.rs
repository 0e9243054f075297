//! ExportTableToPointInTime and DescribeExport of the simulated table.
//!
//! Starting an export records it (idempotently per client token, as AWS does) and returns its
//! ARN. DescribeExport reports `IN_PROGRESS` until `export_duration` of real time has passed
//! since the request, then writes the export — once, under a lock, by whichever process asks
//! first, including one started after a crash — in the exact AWS layout, and reports `COMPLETED`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};

use super::error::DemoError;
use super::files::{FileLock, create_private_dir};
use super::lines::{DataFiles, data_file_count, full_line, incremental_line};
use super::record::{Completion, ExportRecord, ExportRecords};
use super::simulation::{SimulatedTable, blocking};
use crate::source::layout::{LayoutExport, export_arn, new_export_id, write_export_from_files};
use crate::source::windows::{MAX_WINDOW, MIN_WINDOW, RestorableRange};
use crate::source::{ExportDescription, ExportSpec, ExportStatus, ExportTarget, SourceError};
use crate::store::ObjectStore;

/// AWS bills at least 10 MB per incremental export.
const MIN_INCREMENTAL_BILLED_BYTES: u64 = 10_000_000;

/// The identity the simulated table shows in ARNs and manifests.
#[derive(Debug, Clone)]
pub(super) struct TableIdentity {
    pub name: String,
    pub arn: String,
    pub table_id: String,
    pub key_attributes: Vec<String>,
}

pub(super) struct Exporter {
    pub identity: TableIdentity,
    pub table: SimulatedTable,
    pub records: ExportRecords,
    pub store: Arc<dyn ObjectStore>,
    /// Real time an export stays in progress.
    pub export_duration: StdDuration,
}

impl Exporter {
    /// ExportTableToPointInTime: records the export and returns its ARN. The same client token
    /// returns the same export (checked first, so a retry succeeds even once the requested
    /// instants have aged); a new export must lie in the restorable range.
    pub(super) async fn start(
        &self,
        spec: &ExportSpec,
        target: &ExportTarget,
        client_token: &str,
    ) -> Result<String, SourceError> {
        let (now, range) = self.table.restorable_range().await?;
        let records = self.records.clone();
        let (spec, prefix, token) = (spec.clone(), target.prefix.clone(), client_token.to_owned());
        let identity = self.identity.clone();
        blocking(move || {
            let _lock = records.lock()?;
            if let Some(existing) = records.find_by_token(&token)? {
                return Ok(reuse(existing, &spec, &prefix, &identity.name));
            }
            if let Err(refused) = check_export_times(&identity.name, &spec, range) {
                return Ok(Err(refused));
            }
            let export_id = new_export_id(now);
            let record = ExportRecord {
                export_arn: export_arn(&identity.arn, &export_id),
                export_id,
                client_token: token,
                spec,
                prefix,
                requested_at: Utc::now(),
                sim_requested_at: now,
                completion: None,
            };
            records.save(&record)?;
            Ok(Ok(record.export_arn))
        })
        .await?
    }

    /// DescribeExport.
    pub(super) async fn describe(&self, export_arn: &str) -> Result<ExportDescription, SourceError> {
        let record = self.load(export_arn).await?;
        if record.completion.is_some() {
            return Ok(describe_record(&record));
        }
        let elapsed = (Utc::now() - record.requested_at).to_std().unwrap_or_default();
        if elapsed < self.export_duration {
            return Ok(describe_record(&record));
        }
        self.complete(record).await
    }

    async fn load(&self, export_arn: &str) -> Result<ExportRecord, SourceError> {
        let not_found = || {
            SourceError::Invalid(format!(
                "ExportNotFoundException: {export_arn} is not an export of demo table `{}`",
                self.identity.name
            ))
        };
        let prefix = format!("{}/export/", self.identity.arn);
        let export_id = export_arn.strip_prefix(&prefix).ok_or_else(not_found)?;
        let (records, export_id) = (self.records.clone(), export_id.to_owned());
        blocking(move || records.load(&export_id)).await?.ok_or_else(not_found)
    }

    /// Writes the export's files unless another process already did; returns it completed.
    async fn complete(&self, record: ExportRecord) -> Result<ExportDescription, SourceError> {
        let (records, export_id) = (self.records.clone(), record.export_id.clone());
        let (_lock, current): (FileLock, Option<ExportRecord>) = blocking(move || {
            let lock = records.lock()?;
            Ok::<_, DemoError>((lock, records.load(&export_id)?))
        })
        .await?;
        let mut record = current.unwrap_or(record);
        if record.completion.is_none() {
            record.completion = Some(self.write(&record).await?);
            let (records, saved) = (self.records.clone(), record.clone());
            let pending = blocking(move || {
                records.save(&saved)?;
                records.earliest_pending()
            })
            .await?;
            // Still under the exports lock, so no export is recorded meanwhile; one whose instants
            // were checked just before waits for the lock, which `COMPACTION_SLACK` allows for.
            self.table.compact(pending).await?;
        }
        Ok(describe_record(&record))
    }

    /// Writes the export's data files from the history, one line at a time, into a folder beside
    /// its record, then puts them into the store in the AWS layout and removes the folder.
    async fn write(&self, record: &ExportRecord) -> Result<Completion, SourceError> {
        let parts = self.records.parts_dir(&record.export_id);
        let written = self.write_through(record, &parts).await;
        let cleaned = blocking(move || remove_parts(&parts)).await;
        let completion = written?;
        cleaned?;
        Ok(completion)
    }

    async fn write_through(&self, record: &ExportRecord, parts: &Path) -> Result<Completion, SourceError> {
        let (dir, count) = (parts.to_owned(), data_file_count(&record.export_id));
        let files = blocking(move || {
            remove_parts(&dir)?;
            create_private_dir(&dir)?;
            DataFiles::create(&dir, count)
        })
        .await?;
        let files = self.fill(&record.spec, files).await?;
        let (files, text_bytes) = blocking(move || files.finish()).await?;
        let billed = billed_size(&record.spec, text_bytes);
        let end_time = self.table.now().await?;
        let bucket = bucket_name(&self.store.root_url());
        let layout = LayoutExport {
            prefix: record.prefix.trim_matches('/'),
            export_id: &record.export_id,
            table_arn: &self.identity.arn,
            table_id: &self.identity.table_id,
            bucket: &bucket,
            spec: &record.spec,
            start_time: record.sim_requested_at,
            end_time,
            files: &[],
            billed_size_bytes: billed,
        };
        let written = write_export_from_files(self.store.as_ref(), &layout, &files).await?;
        Ok(Completion {
            manifest_summary_key: written.manifest_summary_key,
            item_count: written.item_count,
            billed_size_bytes: billed,
            data_files: written.data_file_keys.len(),
            sim_completed_at: end_time,
        })
    }

    /// Writes the export's lines into `files`.
    async fn fill(&self, spec: &ExportSpec, files: DataFiles) -> Result<DataFiles, SourceError> {
        let key_attributes = self.identity.key_attributes.clone();
        match *spec {
            ExportSpec::Full { export_time } => {
                let each = move |files: &mut DataFiles, item| files.write(&full_line(item, &key_attributes));
                self.table.fold_items_at(export_time, files, each).await
            }
            ExportSpec::Incremental { from, to, view_type } => {
                let each = move |files: &mut DataFiles, change| match incremental_line(
                    &change,
                    view_type,
                    &key_attributes,
                ) {
                    Some(line) => files.write(&line),
                    None => Ok(()),
                };
                self.table.fold_changes(from, to, files, each).await
            }
        }
    }
}

/// Removes an export's data-file folder (left by a crash, or done with).
fn remove_parts(dir: &Path) -> Result<(), DemoError> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(DemoError::Io { path: dir.to_owned(), source: e })
        }
        _ => Ok(()),
    }
}

/// The ARN of an export found by its client token, or ExportConflict when the token was used for
/// a different export.
fn reuse(
    existing: ExportRecord,
    spec: &ExportSpec,
    prefix: &str,
    table: &str,
) -> Result<String, SourceError> {
    if existing.spec == *spec && existing.prefix == prefix {
        return Ok(existing.export_arn);
    }
    Err(SourceError::Invalid(format!(
        "ExportConflictException: client token `{}` of demo table `{table}` was already used for export {} \
         ({} into {}), not for {spec} into {prefix}",
        existing.client_token, existing.export_arn, existing.spec, existing.prefix
    )))
}

/// Refuses what DynamoDB refuses: instants outside the restorable range, windows outside
/// 15 minutes to 24 hours.
fn check_export_times(table: &str, spec: &ExportSpec, range: RestorableRange) -> Result<(), SourceError> {
    let inside = |t: DateTime<Utc>| range.earliest <= t && t <= range.latest;
    let problem = match *spec {
        ExportSpec::Full { export_time } if !inside(export_time) => {
            Some("ExportTime is outside the restorable range")
        }
        ExportSpec::Incremental { from, to, .. } if !inside(from) || !inside(to) => {
            Some("the export period is outside the restorable range")
        }
        ExportSpec::Incremental { from, to, .. } if to - from < MIN_WINDOW || to - from > MAX_WINDOW => {
            Some("the export period must be between 15 minutes and 24 hours long")
        }
        _ => None,
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(SourceError::Invalid(format!(
            "InvalidExportTimeException: {problem} of demo table `{table}` ({} to {}): {spec}",
            range.earliest.format("%Y-%m-%d %H:%M:%SZ"),
            range.latest.format("%Y-%m-%d %H:%M:%SZ"),
        ))),
    }
}

/// Full exports bill the table size; incrementals the changed data, at least 10 MB. `bytes` is
/// the export's DynamoDB JSON, newlines included.
fn billed_size(spec: &ExportSpec, bytes: u64) -> u64 {
    match spec {
        ExportSpec::Full { .. } => bytes,
        ExportSpec::Incremental { .. } => bytes.max(MIN_INCREMENTAL_BILLED_BYTES),
    }
}

fn describe_record(record: &ExportRecord) -> ExportDescription {
    let completion = record.completion.as_ref();
    ExportDescription {
        export_arn: record.export_arn.clone(),
        status: if completion.is_some() { ExportStatus::Completed } else { ExportStatus::InProgress },
        spec: record.spec.clone(),
        manifest_summary_key: completion.map(|c| c.manifest_summary_key.clone()),
        item_count: completion.map(|c| c.item_count),
        billed_size_bytes: completion.map(|c| c.billed_size_bytes),
        failure_code: None,
        failure_message: None,
    }
}

/// The bucket name manifests record: the S3 bucket, or the local folder's name.
fn bucket_name(root_url: &str) -> String {
    let path =
        root_url.strip_prefix("s3://").or_else(|| root_url.strip_prefix("file://")).unwrap_or(root_url);
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let name = if root_url.starts_with("s3://") { parts.first() } else { parts.last() };
    name.map(|n| (*n).to_owned()).unwrap_or_else(|| "local".into())
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::config::ViewType;

    fn range() -> RestorableRange {
        let latest = Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0).unwrap();
        RestorableRange { earliest: latest - Duration::days(2), latest }
    }

    #[test]
    fn export_times_are_checked_like_dynamodb_does() {
        let r = range();
        let incremental =
            |from, to| ExportSpec::Incremental { from, to, view_type: ViewType::NewAndOldImages };
        assert!(check_export_times("orders", &ExportSpec::Full { export_time: r.latest }, r).is_ok());
        assert!(check_export_times("orders", &incremental(r.latest - MIN_WINDOW, r.latest), r).is_ok());
        for spec in [
            ExportSpec::Full { export_time: r.latest + Duration::seconds(1) },
            ExportSpec::Full { export_time: r.earliest - Duration::seconds(1) },
            incremental(r.latest - Duration::minutes(14), r.latest),
            incremental(r.earliest, r.earliest + Duration::hours(25)),
            incremental(r.latest - Duration::hours(1), r.latest + Duration::minutes(1)),
        ] {
            let err = check_export_times("orders", &spec, r).unwrap_err().to_string();
            assert!(err.starts_with("InvalidExportTimeException"), "{spec}: {err}");
        }
    }

    #[test]
    fn incremental_exports_bill_at_least_ten_megabytes() {
        let full = ExportSpec::Full { export_time: range().latest };
        let incremental = ExportSpec::Incremental {
            from: range().earliest,
            to: range().latest,
            view_type: ViewType::NewImage,
        };
        assert_eq!(billed_size(&full, 100), 100);
        assert_eq!(billed_size(&incremental, 100), 10_000_000);
    }

    #[test]
    fn bucket_names_come_from_the_store_root() {
        assert_eq!(bucket_name("s3://acme-exports/dynashift/"), "acme-exports");
        assert_eq!(bucket_name("file:///home/me/.dynashift/bucket/"), "bucket");
        assert_eq!(bucket_name("file:///"), "local");
    }
}
