//! Writes an export in the exact layout DynamoDB uses in S3, so the demo source, test fixtures and
//! benchmarks produce files indistinguishable from real exports:
//!
//! ```text
//! <prefix>/AWSDynamoDB/<ExportId>/_started
//! <prefix>/AWSDynamoDB/<ExportId>/manifest-summary.json   (+ .md5)
//! <prefix>/AWSDynamoDB/<ExportId>/manifest-files.json     (+ .md5)
//! <prefix>/AWSDynamoDB/<ExportId>/data/<26 base32>.json.gz       full exports
//! <prefix>/AWSDynamoDB/data/<26 base32>.json.gz                  incremental exports (shared folder)
//! ```
//!
//! Objects are written in the order DynamoDB's contract implies: `_started` first, data files,
//! then the manifests, with the summary last — so a reader that sees the summary sees it all.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;
use md5::{Digest, Md5};
use rand::Rng;

use super::ExportSpec;
use crate::ddb::{ManifestFileEntry, ManifestSummary};
use crate::store::{ObjectStore, StoreError};

/// One export to write.
#[derive(Debug, Clone)]
pub struct LayoutExport<'a> {
    /// Store prefix under which `AWSDynamoDB/` is written (no trailing slash; empty for none).
    pub prefix: &'a str,
    /// `<14-digit epoch ms>-<8 hex>`, see [`new_export_id`].
    pub export_id: &'a str,
    pub table_arn: &'a str,
    pub table_id: &'a str,
    /// The bucket name recorded in the summary.
    pub bucket: &'a str,
    pub spec: &'a ExportSpec,
    pub start_time: DateTime<Utc>,
    pub end_time: DateTime<Utc>,
    /// Data lines (JSON text, no newline) of each data file; a file may be empty.
    pub files: &'a [Vec<String>],
    pub billed_size_bytes: u64,
}

/// Where an export was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenExport {
    pub export_arn: String,
    pub manifest_summary_key: String,
    pub item_count: u64,
    pub data_file_keys: Vec<String>,
}

/// A fresh export id: the request time in epoch milliseconds (14 digits) and 8 random hex digits,
/// like `01768386924000-d339e52d`.
pub fn new_export_id(requested_at: DateTime<Utc>) -> String {
    let suffix: u32 = rand::rng().random();
    format!("{:014}-{suffix:08x}", requested_at.timestamp_millis())
}

/// The export ARN DynamoDB gives an export of `table_arn`.
pub fn export_arn(table_arn: &str, export_id: &str) -> String {
    format!("{table_arn}/export/{export_id}")
}

/// The export id at the end of an export ARN.
pub fn export_id_of(export_arn: &str) -> Option<&str> {
    export_arn.rsplit_once("/export/").map(|(_, id)| id)
}

/// AWS timestamps in manifests: ISO-8601 UTC with milliseconds.
pub fn manifest_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Writes `export` into `store` and returns where it went.
pub async fn write_export(
    store: &dyn ObjectStore,
    export: &LayoutExport<'_>,
) -> Result<WrittenExport, StoreError> {
    let (export_dir, data_dir) = export_folders(export);
    let data = export.files.iter().map(|lines| {
        let bytes = gzip_lines(lines);
        let md5 = Md5::digest(&bytes).into();
        (DataBody::Bytes(bytes), lines.len() as u64, md5)
    });
    write_layout(store, export, &export_dir, &data_dir, data.collect()).await
}

/// Writes `export` into `store` with data files already gzipped into local files (see
/// [`GzipFileWriter`]), so no export is ever held in memory whatever its size. `export.files` is
/// not read: `files` holds the data, in the order the manifest lists it.
pub async fn write_export_from_files(
    store: &dyn ObjectStore,
    export: &LayoutExport<'_>,
    files: &[GzipDataFile],
) -> Result<WrittenExport, StoreError> {
    let (export_dir, data_dir) = export_folders(export);
    let data = files.iter().map(|f| (DataBody::File(&f.path), f.item_count, f.md5)).collect();
    write_layout(store, export, &export_dir, &data_dir, data).await
}

/// A data file's content: in memory, or a local file to upload.
enum DataBody<'a> {
    Bytes(Vec<u8>),
    File(&'a Path),
}

/// The export's own folder and where its data files go.
fn export_folders(export: &LayoutExport<'_>) -> (String, String) {
    let root = match export.prefix {
        "" => "AWSDynamoDB".to_owned(),
        prefix => format!("{prefix}/AWSDynamoDB"),
    };
    let export_dir = format!("{root}/{}", export.export_id);
    let data_dir = match export.spec {
        ExportSpec::Full { .. } => format!("{export_dir}/data"),
        ExportSpec::Incremental { .. } => format!("{root}/data"),
    };
    (export_dir, data_dir)
}

/// `_started`, the data files (each: body, item count, MD5 of the gzip bytes), the manifests.
async fn write_layout(
    store: &dyn ObjectStore,
    export: &LayoutExport<'_>,
    export_dir: &str,
    data_dir: &str,
    data: Vec<(DataBody<'_>, u64, [u8; 16])>,
) -> Result<WrittenExport, StoreError> {
    store.put(&format!("{export_dir}/_started"), Vec::new()).await?;

    let mut entries = Vec::with_capacity(data.len());
    let mut data_file_keys = Vec::with_capacity(data.len());
    let mut item_count = 0;
    for (body, lines, digest) in data {
        let key = format!("{data_dir}/{}.json.gz", random_base32_name());
        entries.push(ManifestFileEntry {
            item_count: Some(lines),
            md5_checksum: Some(base64::engine::general_purpose::STANDARD.encode(digest)),
            etag: Some(hex(&digest)),
            data_file_s3_key: Some(store.bucket_key(&key)),
        });
        match body {
            DataBody::Bytes(bytes) => store.put(&key, bytes).await?,
            DataBody::File(path) => store.put_file(&key, path).await?,
        }
        item_count += lines;
        data_file_keys.push(key);
    }

    let files_key = format!("{export_dir}/manifest-files.json");
    let mut files_json = String::new();
    for entry in &entries {
        files_json.push_str(&serde_json::to_string(entry).expect("manifest entries always serialize"));
        files_json.push('\n');
    }
    put_with_md5(store, &files_key, files_json.into_bytes()).await?;

    let arn = export_arn(export.table_arn, export.export_id);
    let mut summary = summary_for(export, &arn, &store.bucket_key(&files_key), item_count);
    summary.s3_prefix = (!export.prefix.is_empty()).then(|| store.bucket_key(export.prefix));
    let summary_key = format!("{export_dir}/manifest-summary.json");
    let summary_bytes = serde_json::to_vec(&summary).expect("manifest summaries always serialize");
    put_with_md5(store, &summary_key, summary_bytes).await?;

    Ok(WrittenExport { export_arn: arn, manifest_summary_key: summary_key, item_count, data_file_keys })
}

fn summary_for(export: &LayoutExport<'_>, arn: &str, files_key: &str, item_count: u64) -> ManifestSummary {
    let mut summary = ManifestSummary {
        export_arn: Some(arn.to_owned()),
        start_time: Some(manifest_time(export.start_time)),
        end_time: Some(manifest_time(export.end_time)),
        table_arn: Some(export.table_arn.to_owned()),
        table_id: Some(export.table_id.to_owned()),
        s3_bucket: Some(export.bucket.to_owned()),
        s3_prefix: (!export.prefix.is_empty()).then(|| export.prefix.to_owned()),
        s3_sse_algorithm: Some("AES256".to_owned()),
        s3_sse_kms_key_id: None,
        manifest_files_s3_key: Some(files_key.to_owned()),
        billed_size_bytes: Some(export.billed_size_bytes),
        item_count: Some(item_count),
        output_format: Some("DYNAMODB_JSON".to_owned()),
        ..ManifestSummary::default()
    };
    match export.spec {
        ExportSpec::Full { export_time } => {
            summary.version = Some("2020-06-30".to_owned());
            summary.export_time = Some(manifest_time(*export_time));
        }
        ExportSpec::Incremental { from, to, view_type } => {
            summary.version = Some("2023-08-01".to_owned());
            summary.export_from_time = Some(manifest_time(*from));
            summary.export_to_time = Some(manifest_time(*to));
            summary.output_view = Some(view_type.as_str().to_owned());
            summary.export_type = Some("INCREMENTAL_EXPORT".to_owned());
        }
    }
    summary
}

/// Writes an object and its `.md5` sibling (base64 MD5, no newline), as exports do.
async fn put_with_md5(store: &dyn ObjectStore, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
    let digest = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&bytes).as_slice());
    let md5_key = format!("{}.md5", key.strip_suffix(".json").unwrap_or(key));
    store.put(key, bytes).await?;
    store.put(&md5_key, digest.into_bytes()).await
}

/// Gzip of the lines, each followed by `\n`. No lines → a valid empty gzip member (20 bytes).
pub fn gzip_lines(lines: &[String]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    for line in lines {
        encoder.write_all(line.as_bytes()).expect("writing to a Vec cannot fail");
        encoder.write_all(b"\n").expect("writing to a Vec cannot fail");
    }
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// A data file written ahead into a local file by [`GzipFileWriter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GzipDataFile {
    pub path: PathBuf,
    pub item_count: u64,
    /// MD5 of the gzip bytes (the manifest's `md5Checksum` and `etag`).
    pub md5: [u8; 16],
}

/// Gzips lines into a local file as they come, hashing the compressed bytes on the way, so an
/// export of any size is written with the memory of one line. The bytes are those
/// [`gzip_lines`] gives for the same lines.
pub struct GzipFileWriter {
    path: PathBuf,
    encoder: GzEncoder<Md5Writer<BufWriter<File>>>,
    item_count: u64,
}

impl GzipFileWriter {
    /// Creates (replacing) the file at `path`.
    pub fn create(path: &Path) -> std::io::Result<GzipFileWriter> {
        let file = BufWriter::with_capacity(256 * 1024, File::create(path)?);
        let hashed = Md5Writer { inner: file, md5: Md5::new() };
        Ok(GzipFileWriter {
            path: path.to_owned(),
            encoder: GzEncoder::new(hashed, Compression::fast()),
            item_count: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `line` and its newline.
    pub fn write_line(&mut self, line: &str) -> std::io::Result<()> {
        self.encoder.write_all(line.as_bytes())?;
        self.encoder.write_all(b"\n")?;
        self.item_count += 1;
        Ok(())
    }

    /// Ends the gzip stream and flushes the file.
    pub fn finish(self) -> std::io::Result<GzipDataFile> {
        let hashed = self.encoder.finish()?;
        let md5 = hashed.md5.finalize().into();
        hashed.inner.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(GzipDataFile { path: self.path, item_count: self.item_count, md5 })
    }
}

/// Passes bytes through, hashing them.
struct Md5Writer<W> {
    inner: W,
    md5: Md5,
}

impl<W: Write> Write for Md5Writer<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.md5.update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// 26 characters of RFC 4648 base32 (lowercase), like export data file names.
fn random_base32_name() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut rng = rand::rng();
    (0..26).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use chrono::TimeZone;
    use flate2::read::MultiGzDecoder;

    use super::*;
    use crate::config::ViewType;
    use crate::store::LocalStore;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 14, h, m, 0).unwrap()
    }

    async fn write(store: &LocalStore, spec: &ExportSpec, id: &str, files: &[Vec<String>]) -> WrittenExport {
        let export = LayoutExport {
            prefix: "orders/exports",
            export_id: id,
            table_arn: "arn:aws:dynamodb:us-east-1:000000000000:table/orders",
            table_id: "cf263806-6bf1-4e51-a242-7067dcdecc72",
            bucket: "demo-bucket",
            spec,
            start_time: at(10, 0),
            end_time: at(10, 5),
            files,
            billed_size_bytes: 10_000_000,
        };
        write_export(store, &export).await.unwrap()
    }

    #[tokio::test]
    async fn full_export_has_the_aws_layout_and_verifiable_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let spec = ExportSpec::Full { export_time: at(10, 0) };
        let files = vec![vec![r#"{"Item":{"pk":{"S":"1"}}}"#.to_owned()], vec![]];
        let written = write(&store, &spec, "01768385930622-efd1a093", &files).await;

        let base = "orders/exports/AWSDynamoDB/01768385930622-efd1a093";
        assert_eq!(written.manifest_summary_key, format!("{base}/manifest-summary.json"));
        assert_eq!(written.item_count, 1);
        assert!(written.data_file_keys.iter().all(|k| k.starts_with(&format!("{base}/data/"))));
        for key in ["_started", "manifest-summary.md5", "manifest-files.json", "manifest-files.md5"] {
            assert!(store.head(&format!("{base}/{key}")).await.unwrap().is_some(), "{key} missing");
        }

        let summary: ManifestSummary =
            serde_json::from_slice(&store.get(&written.manifest_summary_key).await.unwrap()).unwrap();
        assert_eq!(summary.version.as_deref(), Some("2020-06-30"));
        assert_eq!(summary.export_time.as_deref(), Some("2026-01-14T10:00:00.000Z"));
        assert_eq!(summary.export_type, None);
        assert_eq!(summary.manifest_files_s3_key.as_deref(), Some(&*format!("{base}/manifest-files.json")));

        let files_text =
            String::from_utf8(store.get(&format!("{base}/manifest-files.json")).await.unwrap()).unwrap();
        let entries: Vec<ManifestFileEntry> =
            files_text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(entries.len(), 2);
        for entry in &entries {
            let bytes = store.get(entry.data_file_s3_key.as_deref().unwrap()).await.unwrap();
            let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&bytes).as_slice());
            assert_eq!(entry.md5_checksum.as_deref(), Some(md5.as_str()));
            let mut text = String::new();
            MultiGzDecoder::new(&bytes[..]).read_to_string(&mut text).unwrap();
            assert_eq!(text.lines().count() as u64, entry.item_count.unwrap());
        }
        let files_md5 =
            String::from_utf8(store.get(&format!("{base}/manifest-files.md5")).await.unwrap()).unwrap();
        let expected =
            base64::engine::general_purpose::STANDARD.encode(Md5::digest(files_text.as_bytes()).as_slice());
        assert_eq!(files_md5, expected);
    }

    #[tokio::test]
    async fn incremental_exports_share_one_data_folder() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let spec = ExportSpec::Incremental { from: at(10, 0), to: at(10, 15), view_type: ViewType::NewImage };
        let first = write(&store, &spec, "01768386924000-d339e52d", &[vec![], vec![]]).await;
        let second = write(&store, &spec, "01768386925000-aaaaaaaa", &[vec![]]).await;
        for key in first.data_file_keys.iter().chain(&second.data_file_keys) {
            assert!(key.starts_with("orders/exports/AWSDynamoDB/data/"), "{key}");
            assert_eq!(key.rsplit('/').next().unwrap().len(), 26 + ".json.gz".len());
        }
        let summary: ManifestSummary =
            serde_json::from_slice(&store.get(&second.manifest_summary_key).await.unwrap()).unwrap();
        assert_eq!(summary.export_type.as_deref(), Some("INCREMENTAL_EXPORT"));
        assert_eq!(summary.output_view.as_deref(), Some("NEW_IMAGE"));
        assert_eq!(summary.export_from_time.as_deref(), Some("2026-01-14T10:00:00.000Z"));
        assert_eq!(summary.export_time, None);
    }

    #[tokio::test]
    async fn a_bucket_root_export_has_a_null_prefix_and_bucket_relative_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let spec = ExportSpec::Full { export_time: at(10, 0) };
        let export = LayoutExport {
            prefix: "",
            export_id: "01768385930622-efd1a093",
            table_arn: "arn:aws:dynamodb:eu-north-1:123456789123:table/test",
            table_id: "cf263806-6bf1-4e51-a242-7067dcdecc72",
            bucket: "test-1231x1x",
            spec: &spec,
            start_time: at(10, 0),
            end_time: at(10, 6),
            files: &[vec![]],
            billed_size_bytes: 0,
        };
        let written = write_export(&store, &export).await.unwrap();
        assert_eq!(written.manifest_summary_key, "AWSDynamoDB/01768385930622-efd1a093/manifest-summary.json");
        let text = String::from_utf8(store.get(&written.manifest_summary_key).await.unwrap()).unwrap();
        assert!(text.contains(r#""s3Prefix":null"#), "{text}");
        assert!(
            text.contains(
                r#""manifestFilesS3Key":"AWSDynamoDB/01768385930622-efd1a093/manifest-files.json""#
            )
        );
        assert_eq!(store.get(&written.data_file_keys[0]).await.unwrap().len(), 20, "an empty gzip file");
    }

    #[tokio::test]
    async fn data_files_written_ahead_give_the_same_bytes_and_manifests_as_lines_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join("bucket"));
        let spec = ExportSpec::Full { export_time: at(10, 0) };
        let files: Vec<Vec<String>> =
            vec![(0..5000).map(|i| format!(r#"{{"Item":{{"pk":{{"S":"{i}"}}}}}}"#)).collect(), vec![]];
        let mut ahead = Vec::new();
        for (n, lines) in files.iter().enumerate() {
            let mut writer = GzipFileWriter::create(&dir.path().join(format!("part-{n}"))).unwrap();
            for line in lines {
                writer.write_line(line).unwrap();
            }
            let written = writer.finish().unwrap();
            assert_eq!(std::fs::read(&written.path).unwrap(), gzip_lines(lines), "file {n}");
            ahead.push(written);
        }
        let in_memory = write(&store, &spec, "01768385930622-efd1a093", &files).await;
        let export = LayoutExport {
            prefix: "orders/exports",
            export_id: "01768385930623-efd1a094",
            table_arn: "arn:aws:dynamodb:us-east-1:000000000000:table/orders",
            table_id: "cf263806-6bf1-4e51-a242-7067dcdecc72",
            bucket: "demo-bucket",
            spec: &spec,
            start_time: at(10, 0),
            end_time: at(10, 5),
            files: &[],
            billed_size_bytes: 10_000_000,
        };
        let streamed = write_export_from_files(&store, &export, &ahead).await.unwrap();
        assert_eq!(streamed.item_count, in_memory.item_count);
        let manifest = |written: &WrittenExport| {
            let key = written.manifest_summary_key.replace("manifest-summary", "manifest-files");
            let store = &store;
            async move {
                let text = String::from_utf8(store.get(&key).await.unwrap()).unwrap();
                text.lines()
                    .map(|l| serde_json::from_str::<ManifestFileEntry>(l).unwrap())
                    .map(|e| (e.item_count, e.md5_checksum, e.etag))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(manifest(&streamed).await, manifest(&in_memory).await);
        for (a, b) in streamed.data_file_keys.iter().zip(&in_memory.data_file_keys) {
            assert_eq!(store.get(a).await.unwrap(), store.get(b).await.unwrap());
        }
    }

    #[test]
    fn export_ids_and_arns_look_like_aws() {
        let id = new_export_id(Utc.with_ymd_and_hms(2026, 1, 14, 10, 35, 24).unwrap());
        assert_eq!(id.len(), 23);
        assert!(id.starts_with("01768386924000-"));
        let arn = export_arn("arn:aws:dynamodb:eu-north-1:123456789123:table/test", &id);
        assert_eq!(export_id_of(&arn), Some(id.as_str()));
        assert_eq!(gzip_lines(&[]).len(), 20);
    }
}
