//! Writing a DynamoDB export in AWS's layout into a local folder standing in for the bucket
//! (`LocalStore` and `file://` buckets map a key to the file of that path below it): gzip data
//! files of DynamoDB JSON lines under `<export folder>/data/`, the `manifest-files.json` listing
//! them with their MD5, and, for the incremental exports of `benches/stage.rs` and
//! `benches/spill.rs`, the summary and the `DescribeExport` answer the stage reads.
//!
//! Layout and manifest fields as in
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html>.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use chrono::{DateTime, TimeZone as _, Utc};
use dynashift::config::ViewType;
use dynashift::source::{ExportDescription, ExportSpec, ExportStatus};
use flate2::Compression;
use flate2::write::GzEncoder;
use md5::{Digest as _, Md5};

/// What [`write_data_files`] wrote.
pub struct DataFiles {
    /// The data files' keys, in order.
    pub keys: Vec<String>,
    /// The key of `manifest-files.json`.
    pub manifest_key: String,
    /// Bytes of DynamoDB JSON, newlines included.
    pub uncompressed: u64,
    /// Bytes of gzip.
    pub compressed: u64,
}

/// Writes `items` lines (`line(i)` for `i` in `0..items`, in order) spread evenly over `files`
/// gzip data files named `<stem><nnnn>….json.gz` under `<export_dir>/data/` of `bucket`, and the
/// export's `manifest-files.json` listing them.
pub fn write_data_files(
    bucket: &Path,
    export_dir: &str,
    stem: &str,
    (items, files): (u64, u64),
    compression: Compression,
    mut line: impl FnMut(u64) -> String,
) -> DataFiles {
    std::fs::create_dir_all(bucket.join(export_dir).join("data")).expect("create the export folder");
    let (mut manifest, mut keys, mut uncompressed, mut compressed) = (String::new(), vec![], 0, 0);
    for file in 0..files {
        let (first, last) = (file * items / files, (file + 1) * items / files);
        let mut encoder = GzEncoder::new(Vec::new(), compression);
        for item in first..last {
            let text = line(item);
            uncompressed += text.len() as u64 + 1;
            writeln!(encoder, "{text}").expect("gzip into memory");
        }
        let bytes = encoder.finish().expect("gzip into memory");
        compressed += bytes.len() as u64;
        let key = format!("{export_dir}/data/{stem}{file:04}aaaaaaaaaaaaaaaaaaa.json.gz");
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&bytes));
        manifest.push_str(&format!(
            "{{\"itemCount\":{},\"md5Checksum\":\"{md5}\",\"etag\":\"0-1\",\"dataFileS3Key\":\"{key}\"}}\n",
            last - first
        ));
        std::fs::write(bucket.join(&key), bytes).expect("write a data file");
        keys.push(key);
    }
    let manifest_key = format!("{export_dir}/manifest-files.json");
    std::fs::write(bucket.join(&manifest_key), manifest).expect("write manifest-files.json");
    DataFiles { keys, manifest_key, uncompressed, compressed }
}

/// One incremental change line: `keys` (the item's key attributes as DynamoDB JSON) written at a
/// random instant of the hour 12:00–13:00 on 2024-05-01, with the images given (an old image
/// alone, or none with a NEW_IMAGE view, is a delete).
pub fn change_line(
    random: &mut super::generate::Random,
    keys: &str,
    old: Option<&str>,
    new: Option<&str>,
) -> String {
    let micros = 1_714_564_800_000_000 + random.below(3_600_000_000);
    let mut line = format!(r#"{{"Metadata":{{"WriteTimestampMicros":{{"N":"{micros}"}}}},"Keys":{keys}"#);
    if let Some(old) = old {
        line.push_str(&format!(r#","OldImage":{old}"#));
    }
    if let Some(new) = new {
        line.push_str(&format!(r#","NewImage":{new}"#));
    }
    line.push('}');
    line
}

/// An incremental export of the `orders` table covering 12:00–13:00 on 2024-05-01, in the bucket
/// folder `exports/`.
pub struct IncrementalExport {
    /// The export's id (its folder under `AWSDynamoDB/`).
    pub id: String,
    /// Change lines, one per changed key.
    pub items: u64,
    pub files: u64,
    pub view: ViewType,
}

impl IncrementalExport {
    fn folder(&self) -> String {
        format!("exports/AWSDynamoDB/{}", self.id)
    }

    fn arn(&self) -> String {
        format!("arn:aws:dynamodb:us-east-1:123456789012:table/orders/export/{}", self.id)
    }

    fn summary_key(&self) -> String {
        format!("{}/manifest-summary.json", self.folder())
    }

    fn window_start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap()
    }

    /// Writes the data files (see [`write_data_files`]) and the summary into `bucket`.
    pub fn write(
        &self,
        bucket: &Path,
        compression: Compression,
        line: impl FnMut(u64) -> String,
    ) -> DataFiles {
        let (stem, sizes) = ("bench", (self.items, self.files));
        let written = write_data_files(bucket, &self.folder(), stem, sizes, compression, line);
        let summary = serde_json::json!({
            "version": "2023-08-01", "exportArn": self.arn(), "manifestFilesS3Key": written.manifest_key,
            "itemCount": self.items, "outputFormat": "DYNAMODB_JSON", "outputView": self.view.as_str(),
            "exportType": "INCREMENTAL_EXPORT",
        });
        std::fs::write(bucket.join(self.summary_key()), summary.to_string()).expect("write the summary");
        written
    }

    /// The export, as DescribeExport would describe it.
    pub fn description(&self) -> ExportDescription {
        let from = Self::window_start();
        let to = from + chrono::Duration::hours(1);
        ExportDescription {
            export_arn: self.arn(),
            status: ExportStatus::Completed,
            spec: ExportSpec::Incremental { from, to, view_type: self.view },
            manifest_summary_key: Some(self.summary_key()),
            item_count: Some(self.items),
            billed_size_bytes: None,
            failure_code: None,
            failure_message: None,
        }
    }
}
