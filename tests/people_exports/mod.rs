//! A `people` table on the `exports` source, loading into SQLite, and the means to write its
//! exports by hand the way DynamoDB writes them under the table's prefix: gzip data files (in
//! the export's own `data/` folder, or the `AWSDynamoDB/data/` folder incremental exports share),
//! `manifest-files.json` and `manifest-summary.json`. Shared by the hand-made export set of
//! `e2e_exports.rs` and the hostile-input corpus (`hostile_support`).
#![allow(dead_code, reason = "each test binary uses a part of the support")]

use std::sync::Arc;

use base64::Engine as _;
use md5::{Digest, Md5};
use tokio::sync::mpsc::UnboundedReceiver;

use dynashift::config::Config;
use dynashift::pipeline::events::RunEvent;
use dynashift::pipeline::{Adapters, Engine, TableAdapters};
use dynashift::source::exports::ExistingExports;
use dynashift::source::layout::gzip_lines;
use dynashift::store::ObjectStore;
use dynashift::warehouse::Warehouse;

pub const TABLE: &str = "people";
pub const PREFIX: &str = "incoming/people";
const TABLE_ARN: &str = "arn:aws:dynamodb:eu-north-1:123456789123:table/people";

/// `tables.toml` of the table in the folder the test runs in (`bucket/`, `warehouse.sqlite`):
/// key `id`, columns `id`, `name`, `nickname` (up to 8 characters) and `age`, then
/// `more_columns` (TOML inline tables, each line ending in a comma); `settings` are more
/// `key = value` lines of the table.
pub fn people_config(settings: &str, more_columns: &str) -> String {
    format!(
        r#"
[defaults]
bucket = "file://bucket"

[warehouse]
kind = "sqlite"
path = "warehouse.sqlite"

[[table]]
name = "{TABLE}"
source = "exports"
prefix = "{PREFIX}"
mode = "incremental"
{settings}
key = ["id"]
columns = [
  {{ name = "id", type = "varchar(16)" }},
  {{ name = "name", type = "varchar(64)" }},
  {{ name = "nickname", type = "varchar(8)" }},
  {{ name = "age", type = "integer" }},
{more_columns}
]
"#
    )
}

/// One data file as its `manifest-files.json` line describes it; cases edit the fields to make
/// the manifest disagree with the file.
#[derive(Debug, Clone)]
pub struct DataEntry {
    pub key: String,
    pub items: u64,
    pub md5: Option<String>,
}

impl DataEntry {
    pub fn manifest_line(&self) -> String {
        let md5 = self.md5.as_ref().map(|m| format!(r#""md5Checksum":"{m}","#)).unwrap_or_default();
        format!(r#"{{"itemCount":{},{md5}"etag":"0-1","dataFileS3Key":"{}"}}"#, self.items, self.key)
    }
}

pub fn md5_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(bytes).as_slice())
}

/// The folder of export `id`.
pub fn export_dir(id: &str) -> String {
    format!("{PREFIX}/AWSDynamoDB/{id}")
}

/// The key of data file `name` in the `data/` folder incremental exports share.
pub fn shared_data_key(name: &str) -> String {
    format!("{PREFIX}/AWSDynamoDB/data/{name}.json.gz")
}

/// Writes a gzip data file of `lines` at `key`; returns its (true) manifest entry.
pub async fn write_data_file(store: &dyn ObjectStore, key: &str, lines: &[&str]) -> DataEntry {
    let bytes = gzip_lines(&lines.iter().map(|l| l.to_string()).collect::<Vec<_>>());
    write_raw_file(store, key, bytes, lines.len() as u64).await
}

/// Writes `bytes` at `key` as they are; the entry claims `items` items and their true MD5.
pub async fn write_raw_file(store: &dyn ObjectStore, key: &str, bytes: Vec<u8>, items: u64) -> DataEntry {
    let md5 = md5_base64(&bytes);
    store.put(key, bytes).await.unwrap();
    DataEntry { key: key.to_owned(), items, md5: Some(md5) }
}

/// Writes `_started`, `manifest-files.json` and `manifest-summary.json` of export `id`: `times`
/// are the summary's time fields, `extra` more fields after `outputFormat` (each led by a comma),
/// and `edit` may change the summary before it is written.
pub async fn write_manifests(
    store: &dyn ObjectStore,
    id: &str,
    (times, extra): (&str, &str),
    entries: &[DataEntry],
    edit: impl FnOnce(&mut serde_json::Value),
) {
    let dir = export_dir(id);
    store.put(&format!("{dir}/_started"), Vec::new()).await.unwrap();
    let files: String = entries.iter().map(|e| e.manifest_line() + "\n").collect();
    store.put(&format!("{dir}/manifest-files.json"), files.into_bytes()).await.unwrap();
    let items: u64 = entries.iter().map(|e| e.items).sum();
    // Full exports carry version 2020-06-30, incremental ones 2023-08-01 (aws-facts §2.2).
    let version = if extra.contains("INCREMENTAL_EXPORT") { "2023-08-01" } else { "2020-06-30" };
    let summary = format!(
        r#"{{"version":"{version}","exportArn":"{TABLE_ARN}/export/{id}","startTime":"2026-01-14T10:40:00.000Z","endTime":"2026-01-14T10:45:00.000Z","tableArn":"{TABLE_ARN}","tableId":"cf263806-6bf1-4e51-a242-7067dcdecc72",{times},"s3Bucket":"test-bucket","s3Prefix":"{PREFIX}","s3SseAlgorithm":"AES256","s3SseKmsKeyId":null,"manifestFilesS3Key":"{dir}/manifest-files.json","billedSizeBytes":10000000,"itemCount":{items},"outputFormat":"DYNAMODB_JSON"{extra}}}"#
    );
    let mut summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    edit(&mut summary);
    store.put(&format!("{dir}/manifest-summary.json"), summary.to_string().into_bytes()).await.unwrap();
}

/// An engine syncing the (first) table of `config` from the exports in `store` into `warehouse`.
pub fn exports_engine(
    config: Config,
    store: Arc<dyn ObjectStore>,
    warehouse: Arc<dyn Warehouse>,
) -> (Engine, UnboundedReceiver<RunEvent>) {
    let table = &config.tables[0];
    let source = ExistingExports::new(table, store.clone()).expect("the exports source opens");
    let adapters = Adapters {
        warehouse,
        tables: [(table.name.clone(), TableAdapters { source: Arc::new(source), store })].into(),
    };
    Engine::new(Arc::new(config), adapters)
}
