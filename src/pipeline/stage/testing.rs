//! Test fixtures for the stage step: a table config, a temporary store, and exports written in
//! the AWS layout (manifests, `.md5` files, gzip data files) straight through the store.

use std::io::{Read as _, Write as _};

use chrono::{TimeZone as _, Utc};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde_json::json;

use crate::config::ViewType;
pub(crate) use crate::config::testing::{orders_table, table_with};
use crate::source::{ExportDescription, ExportSpec, ExportStatus};
use crate::store::{LocalStore, ObjectMeta, ObjectReader, ObjectStore, StoreError};

use super::checksum::md5_base64;

/// Runs the stage entry point `entry` (`stage`, `stage_export_items`, …) as run `run-1` of
/// `orders` over `exports` read from `store`; returns what it returned and every event it sent.
pub(crate) async fn run_entry<T, F: std::future::Future<Output = T>>(
    entry: impl FnOnce(super::StageInput) -> F,
    store: std::sync::Arc<dyn ObjectStore>,
    table: crate::config::TableConfig,
    exports: Vec<ExportDescription>,
    cancel: tokio_util::sync::CancellationToken,
) -> (T, Vec<crate::contract::events::EventKind>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let input = super::StageInput {
        run_id: "run-1".into(),
        table: std::sync::Arc::new(table),
        exports,
        store,
        events: crate::contract::events::EventSink::new("run-1", "orders", tx),
        cancel,
        rules: crate::contract::StageRules::EXACT,
    };
    let result = entry(input).await;
    (
        result,
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e: crate::contract::events::RunEvent| e.kind)
            .collect(),
    )
}

/// The orders table with a pushdown switched on by `pushdown_on`, less `first_sku` (a path
/// Redshift's COPY cannot read).
pub(crate) fn pushdown_table_with(
    pushdown_on: impl FnOnce(&mut crate::config::TableConfig),
) -> crate::config::TableConfig {
    table_with(|t| {
        pushdown_on(t);
        t.columns.retain(|c| c.name != "first_sku");
    })
}

/// What a pushdown stage of exports without any data file did: it staged the usual way (COPY
/// cannot read a manifest without entries), and said why.
pub(crate) fn assert_staged_the_usual_way(
    format: crate::contract::staged::StagedFormat,
    events: &[crate::contract::events::EventKind],
) {
    use crate::contract::events::EventKind;
    assert_eq!(
        format,
        crate::contract::staged::StagedFormat::Folded,
        "COPY cannot read a manifest without entries"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, EventKind::Warning { message } if message.contains("no data files"))),
        "{events:?}"
    );
}

/// A pushdown stage's error for a column whose path Redshift's COPY cannot read (`first_sku`).
pub(crate) fn assert_unreadable_column<T: std::fmt::Debug>(result: Result<T, super::StageError>) {
    let error = result.unwrap_err();
    assert!(matches!(&error, super::StageError::PushdownPath(e) if e.column == "first_sku"), "{error}");
}

/// A store in a fresh temporary folder (kept alive by the returned guard).
pub(crate) fn store_in() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    (dir, store)
}

pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The text of the staged file `key`, decompressed as its ending says (gzip or LZ4).
pub(crate) fn staged_text(key: &str, bytes: &[u8]) -> String {
    let mut text = String::new();
    crate::contract::staged::StagedCompression::of_key(key)
        .decompress(bytes)
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// An order item as DynamoDB JSON.
pub(crate) fn order(pk: &str, sk: u32, total: &str) -> String {
    json!({
        "pk": {"S": pk}, "sk": {"N": sk.to_string()}, "status": {"S": "paid"},
        "detail": {"M": {"total": {"N": total}, "items": {"L": [{"M": {"sku": {"S": format!("sku-{sk}")}}}]}}},
        "created": {"S": "2024-05-01T12:00:00Z"}
    })
    .to_string()
}

fn keys(pk: &str, sk: u32) -> String {
    json!({"pk": {"S": pk}, "sk": {"N": sk.to_string()}}).to_string()
}

/// A full export line.
pub(crate) fn full_line(item: &str) -> String {
    format!(r#"{{"Item":{item}}}"#)
}

/// An incremental insert/update line (with an old image, as NEW_AND_OLD_IMAGES writes it).
pub(crate) fn upsert_line(micros: i64, pk: &str, sk: u32, item: &str) -> String {
    let metadata = json!({"WriteTimestampMicros": {"N": micros.to_string()}});
    format!(r#"{{"Metadata":{metadata},"Keys":{},"OldImage":{item},"NewImage":{item}}}"#, keys(pk, sk))
}

/// An incremental delete line; `with_old_image` false is the NEW_IMAGE view's form (Keys only).
pub(crate) fn delete_line(micros: i64, pk: &str, sk: u32, with_old_image: bool) -> String {
    let metadata = json!({"WriteTimestampMicros": {"N": micros.to_string()}});
    let keys = keys(pk, sk);
    match with_old_image {
        true => format!(r#"{{"Metadata":{metadata},"Keys":{keys},"OldImage":{keys}}}"#),
        false => format!(r#"{{"Metadata":{metadata},"Keys":{keys}}}"#),
    }
}

/// An export to write into a store in the AWS layout, under the `exports/` prefix.
#[derive(Debug, Clone)]
pub(crate) struct ExportFixture {
    pub id: String,
    pub incremental: bool,
    pub format: String,
    pub files: Vec<Vec<u8>>,
    pub summary_item_count: Option<u64>,
}

impl ExportFixture {
    pub(crate) fn full(id: &str) -> ExportFixture {
        ExportFixture {
            id: id.into(),
            incremental: false,
            format: "DYNAMODB_JSON".into(),
            files: Vec::new(),
            summary_item_count: None,
        }
    }

    pub(crate) fn incremental(id: &str) -> ExportFixture {
        ExportFixture { incremental: true, ..ExportFixture::full(id) }
    }

    pub(crate) fn format(mut self, format: &str) -> ExportFixture {
        self.format = format.into();
        self
    }

    /// Adds a data file holding `lines`, gzipped.
    pub(crate) fn file<S: AsRef<str>>(mut self, lines: &[S]) -> ExportFixture {
        let text: String = lines.iter().map(|l| format!("{}\n", l.as_ref())).collect();
        self.files.push(gzip(text.as_bytes()));
        self
    }

    /// Adds a data file with no items (a gzip stream of nothing, as AWS writes for empty partitions).
    pub(crate) fn empty_file(self) -> ExportFixture {
        self.raw_file(gzip(b""))
    }

    /// Adds a data file with exactly these bytes (for corrupt-file tests); it counts 0 items.
    pub(crate) fn raw_file(mut self, bytes: Vec<u8>) -> ExportFixture {
        self.files.push(bytes);
        self
    }

    /// Overrides the summary's itemCount (default: the sum of the files').
    pub(crate) fn summary_item_count(mut self, count: u64) -> ExportFixture {
        self.summary_item_count = Some(count);
        self
    }

    pub(crate) fn folder(&self) -> String {
        format!("exports/AWSDynamoDB/{}/", self.id)
    }

    pub(crate) fn data_key(&self, index: usize) -> String {
        let folder = if self.incremental {
            "exports/AWSDynamoDB/data/".to_owned()
        } else {
            format!("{}data/", self.folder())
        };
        format!("{folder}{}-{index:02}.json.gz", self.id)
    }

    /// Writes data files, `manifest-files.json`, `manifest-summary.json` and their `.md5` files,
    /// and returns the export as DescribeExport would describe it.
    pub(crate) async fn write(&self, store: &LocalStore) -> ExportDescription {
        let mut entries = String::new();
        let mut total = 0;
        for (index, bytes) in self.files.iter().enumerate() {
            let key = self.data_key(index);
            let count = gunzip_lines(bytes);
            total += count;
            let entry = json!({"itemCount": count, "md5Checksum": md5_base64(bytes), "etag": "e", "dataFileS3Key": key});
            entries.push_str(&format!("{entry}\n"));
            store.put(&key, bytes.clone()).await.unwrap();
        }
        let files_key = format!("{}manifest-files.json", self.folder());
        self.put_with_md5(store, &files_key, entries.into_bytes()).await;
        let summary = self.summary(&files_key, self.summary_item_count.unwrap_or(total));
        let summary_key = format!("{}manifest-summary.json", self.folder());
        self.put_with_md5(store, &summary_key, summary.to_string().into_bytes()).await;
        ExportDescription {
            export_arn: self.arn(),
            status: ExportStatus::Completed,
            spec: self.spec(),
            manifest_summary_key: Some(summary_key),
            item_count: Some(total),
            billed_size_bytes: Some(0),
            failure_code: None,
            failure_message: None,
        }
    }

    fn arn(&self) -> String {
        format!("arn:aws:dynamodb:us-east-1:123456789012:table/orders/export/{}", self.id)
    }

    fn spec(&self) -> ExportSpec {
        let from = Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap();
        match self.incremental {
            true => ExportSpec::Incremental {
                from,
                to: from + chrono::Duration::hours(1),
                view_type: ViewType::NewAndOldImages,
            },
            false => ExportSpec::Full { export_time: from },
        }
    }

    fn summary(&self, files_key: &str, item_count: u64) -> serde_json::Value {
        let mut summary = json!({
            "version": "2020-06-30", "exportArn": self.arn(), "startTime": "2024-05-01T00:00:00.000Z",
            "s3Bucket": "bucket", "s3Prefix": "exports", "manifestFilesS3Key": files_key,
            "billedSizeBytes": 0, "itemCount": item_count, "outputFormat": self.format,
        });
        if self.incremental {
            summary["version"] = json!("2023-08-01");
            summary["exportType"] = json!("INCREMENTAL_EXPORT");
            summary["outputView"] = json!("NEW_AND_OLD_IMAGES");
        }
        summary
    }

    async fn put_with_md5(&self, store: &LocalStore, key: &str, bytes: Vec<u8>) {
        let md5_key = format!("{}.md5", key.strip_suffix(".json").unwrap());
        store.put(&md5_key, md5_base64(&bytes).into_bytes()).await.unwrap();
        store.put(key, bytes).await.unwrap();
    }
}

/// Items in a gzip data file (0 for bytes that are not gzip).
fn gunzip_lines(bytes: &[u8]) -> u64 {
    let mut text = String::new();
    match MultiGzDecoder::new(bytes).read_to_string(&mut text) {
        Ok(_) => text.lines().filter(|l| !l.trim().is_empty()).count() as u64,
        Err(_) => 0,
    }
}

/// A local folder seen from below a prefix, as an S3 store rooted at `s3://bucket/prefix/` sees
/// its bucket (bucket keys lose the prefix); optionally it cancels a token whenever a data file
/// is opened, so a cancellation lands in the middle of reading that file, deterministically.
#[derive(Debug)]
pub(crate) struct PrefixedStore {
    inner: LocalStore,
    prefix: String,
    cancel_on_open: Option<tokio_util::sync::CancellationToken>,
}

impl PrefixedStore {
    pub(crate) fn new(inner: LocalStore, prefix: &str) -> PrefixedStore {
        PrefixedStore { inner, prefix: prefix.into(), cancel_on_open: None }
    }

    pub(crate) fn cancelling_on_open(
        inner: LocalStore,
        token: tokio_util::sync::CancellationToken,
    ) -> PrefixedStore {
        PrefixedStore { inner, prefix: String::new(), cancel_on_open: Some(token) }
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait::async_trait]
impl ObjectStore for PrefixedStore {
    fn root_url(&self) -> String {
        self.inner.url_of(&self.prefix)
    }

    fn url_of(&self, key: &str) -> String {
        self.inner.url_of(&self.full(key))
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.inner.get(&self.full(key)).await
    }

    async fn open(&self, key: &str) -> Result<ObjectReader, StoreError> {
        if let Some(token) = &self.cancel_on_open {
            token.cancel();
        }
        self.inner.open(&self.full(key)).await
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.inner.put(&self.full(key), bytes).await
    }

    async fn put_file(&self, key: &str, file: &std::path::Path) -> Result<(), StoreError> {
        self.inner.put_file(&self.full(key), file).await
    }

    async fn create_new(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.inner.create_new(&self.full(key), bytes).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let listed = self.inner.list(&self.full(prefix)).await?;
        Ok(listed
            .into_iter()
            .map(|meta| ObjectMeta { key: meta.key[self.prefix.len()..].to_owned(), size: meta.size })
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(&self.full(key)).await
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        self.inner.head(&self.full(key)).await
    }

    fn store_key(&self, bucket_key: &str) -> Option<String> {
        bucket_key.strip_prefix(&self.prefix).map(str::to_owned)
    }
}
