//! Reading an export's manifests: `manifest-summary.json` → `manifest-files.json` → the list of
//! data files to stage, with the counts and checksums to verify them against.
//!
//! Data files are taken only from the manifest, never by listing a folder: incremental exports
//! share one `AWSDynamoDB/data/` folder across exports.
//!
//! Manifests name files by their *bucket* key, which includes the `S3Prefix` the export was made
//! with (or none: AWS's default export sits at the bucket root). The export may since have been
//! copied elsewhere, or the store may be rooted below the bucket, so keys are rebased: the part
//! from `AWSDynamoDB/` on is taken below the folder the summary was actually found in.

use crate::ddb::{ManifestFileEntry, ManifestSummary};
use crate::source::{ExportDescription, ExportSpec, ExportStatus};
use crate::store::{ObjectStore, StoreError};

use super::checksum::{checksum_matches, md5_base64};
use super::error::StageError;

/// The only export format dynashift reads.
const DYNAMODB_JSON: &str = "DYNAMODB_JSON";

/// Whether an export holds a snapshot or changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Full,
    Incremental,
}

/// One data file, as its export's manifest describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    /// Store key.
    pub key: String,
    pub item_count: u64,
    /// Base64 MD5 of the gzip object, when the manifest gives one.
    pub md5: Option<String>,
}

/// What the stage step reads of one export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportFiles {
    pub export_arn: String,
    pub kind: ExportKind,
    pub files: Vec<DataFile>,
    /// Doubts that do not stop the run (a summary checksum that does not match), for the user.
    pub warnings: Vec<String>,
}

const AWS_FOLDER: &str = "AWSDynamoDB/";

/// The store key of an object a manifest names by its bucket key (`manifestFilesS3Key`,
/// `dataFileS3Key`: `[<S3Prefix>/]AWSDynamoDB/…`): its part from the last `AWSDynamoDB/` folder
/// on, below `root` — the `<prefix>/AWSDynamoDB/` folder the summary was found in. The result
/// therefore always lies inside the export set, whatever prefix the export was made with.
fn rebase(root: &str, manifest_key: &str, line: Option<u64>, bucket_key: &str) -> Result<String, StageError> {
    let invalid = |reason: String| StageError::InvalidManifest { key: manifest_key.into(), line, reason };
    let start = bucket_key
        .rmatch_indices(AWS_FOLDER)
        .map(|(at, _)| at)
        .find(|&at| at == 0 || bucket_key.as_bytes()[at - 1] == b'/')
        .ok_or_else(|| {
            invalid(format!("it names `{bucket_key}`, which is not inside an {AWS_FOLDER} folder"))
        })?;
    let below = &bucket_key[start + AWS_FOLDER.len()..];
    if below.split('/').any(|part| matches!(part, "" | "." | "..")) {
        return Err(invalid(format!(
            "it names `{bucket_key}`, which has an empty, '.' or '..' segment and would lie outside the export's folder"
        )));
    }
    Ok(format!("{root}{below}"))
}

/// Reads and checks the manifests of a completed export.
pub async fn read_export(
    store: &dyn ObjectStore,
    export: &ExportDescription,
) -> Result<ExportFiles, StageError> {
    let arn = &export.export_arn;
    if export.status != ExportStatus::Completed {
        return Err(StageError::InvalidExportSet {
            reason: format!("export {arn} is {:?}, not completed", export.status),
        });
    }
    let summary_key = export.manifest_summary_key.clone().ok_or_else(|| StageError::MissingManifest {
        export_arn: arn.clone(),
        key: "manifest-summary.json (DescribeExport named none)".into(),
    })?;
    let (summary_bytes, summary_checksum) = read_manifest(store, arn, &summary_key).await?;
    // A real export set had a summary whose `.md5` matched nothing while its files manifest and
    // data files all verified: the summary's checksum only warns (its content is checked for
    // sense by the source), the files manifest's and every data file's stay hard checks.
    let warnings: Vec<String> = summary_checksum
        .map(|mismatch| format!("{mismatch}; the summary is used anyway, its files are all verified"))
        .into_iter()
        .collect();
    let summary = parse_summary(&summary_key, &summary_bytes)?;
    check_format(arn, &summary)?;
    let kind = export_kind(&summary_key, &export.spec, &summary)?;
    let files_bucket_key =
        summary.manifest_files_s3_key.as_deref().ok_or_else(|| StageError::InvalidManifest {
            key: summary_key.clone(),
            line: None,
            reason: "it has no manifestFilesS3Key".into(),
        })?;
    let root = export_root(&summary_key)?;
    let files_key = rebase(root, &summary_key, None, files_bucket_key)?;
    let (manifest, files_checksum) = read_manifest(store, arn, &files_key).await?;
    if let Some(mismatch) = files_checksum {
        return Err(mismatch);
    }
    let files = parse_file_entries(arn, &files_key, root, &manifest)?;
    check_summary_count(&summary_key, &summary, &files)?;
    Ok(ExportFiles { export_arn: arn.clone(), kind, files, warnings })
}

/// Reads a manifest and, when a `.md5` or `.checksum` file sits beside it, checks it: the
/// mismatch, if any, is returned beside the bytes for the caller to weigh.
async fn read_manifest(
    store: &dyn ObjectStore,
    export_arn: &str,
    key: &str,
) -> Result<(Vec<u8>, Option<StageError>), StageError> {
    let bytes = store.get(key).await.map_err(|e| match e {
        StoreError::NotFound { .. } => {
            StageError::MissingManifest { export_arn: export_arn.into(), key: key.into() }
        }
        other => StageError::Store(other),
    })?;
    let mismatch = checksum_file_mismatch(store, key, &bytes).await?;
    Ok((bytes, mismatch))
}

/// Real exports write `<name>.md5`; the documentation says `<name>.checksum`. Either is checked
/// when present; neither is required.
async fn checksum_file_mismatch(
    store: &dyn ObjectStore,
    key: &str,
    bytes: &[u8],
) -> Result<Option<StageError>, StageError> {
    let stem = key.strip_suffix(".json").unwrap_or(key);
    for sibling in [format!("{stem}.md5"), format!("{stem}.checksum")] {
        let expected = match store.get(&sibling).await {
            Ok(expected) => String::from_utf8_lossy(&expected).into_owned(),
            Err(StoreError::NotFound { .. }) => continue,
            Err(other) => return Err(other.into()),
        };
        let actual = md5_base64(bytes);
        if !checksum_matches(&expected, &actual) {
            let expected = expected.trim().into();
            return Ok(Some(StageError::Md5Mismatch { key: key.into(), expected, actual }));
        }
    }
    Ok(None)
}

fn parse_summary(key: &str, bytes: &[u8]) -> Result<ManifestSummary, StageError> {
    serde_json::from_slice(bytes).map_err(|e| StageError::InvalidManifest {
        key: key.into(),
        line: None,
        reason: e.to_string(),
    })
}

/// ION (or any format but DynamoDB JSON) is refused up front, before anything is read.
fn check_format(export_arn: &str, summary: &ManifestSummary) -> Result<(), StageError> {
    match summary.output_format.as_deref() {
        None | Some(DYNAMODB_JSON) => Ok(()),
        Some(other) => {
            Err(StageError::UnsupportedFormat { export_arn: export_arn.into(), format: other.into() })
        }
    }
}

/// The kind the run asked for; an explicit `exportType` in the summary must agree with it.
fn export_kind(key: &str, spec: &ExportSpec, summary: &ManifestSummary) -> Result<ExportKind, StageError> {
    let kind = match spec {
        ExportSpec::Full { .. } => ExportKind::Full,
        ExportSpec::Incremental { .. } => ExportKind::Incremental,
    };
    let declared = match summary.export_type.as_deref() {
        Some("INCREMENTAL_EXPORT") => Some(ExportKind::Incremental),
        Some("FULL_EXPORT") => Some(ExportKind::Full),
        _ => None,
    };
    match declared {
        Some(declared) if declared != kind => Err(StageError::InvalidManifest {
            key: key.into(),
            line: None,
            reason: format!("it describes a {declared:?} export, but the run expected a {kind:?} one"),
        }),
        _ => Ok(kind),
    }
}

/// The `<prefix>/AWSDynamoDB/` folder an export's summary sits in: every file of the export
/// (its own folder, or the shared incremental `data/`) lies below it.
fn export_root(summary_key: &str) -> Result<&str, StageError> {
    const MARKER: &str = AWS_FOLDER;
    let end = summary_key.rfind(MARKER).ok_or_else(|| StageError::InvalidManifest {
        key: summary_key.into(),
        line: None,
        reason: "it is not inside an AWSDynamoDB/ folder, where DynamoDB writes exports".into(),
    })?;
    Ok(&summary_key[..end + MARKER.len()])
}

fn parse_file_entries(
    export_arn: &str,
    key: &str,
    root: &str,
    bytes: &[u8],
) -> Result<Vec<DataFile>, StageError> {
    let invalid = |line: usize, reason: String| StageError::InvalidManifest {
        key: key.into(),
        line: Some(line as u64 + 1),
        reason,
    };
    let mut files = Vec::new();
    for (index, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry: ManifestFileEntry =
            serde_json::from_slice(line).map_err(|e| invalid(index, e.to_string()))?;
        let data_key =
            entry.data_file_s3_key.ok_or_else(|| invalid(index, "it has no dataFileS3Key".into()))?;
        let item_count = entry.item_count.ok_or_else(|| invalid(index, "it has no itemCount".into()))?;
        if data_key.ends_with(".ion.gz") {
            return Err(StageError::UnsupportedFormat {
                export_arn: export_arn.into(),
                format: "ION".into(),
            });
        }
        let data_key = rebase(root, key, Some(index as u64 + 1), &data_key)?;
        files.push(DataFile { key: data_key, item_count, md5: entry.md5_checksum });
    }
    Ok(files)
}

fn check_summary_count(key: &str, summary: &ManifestSummary, files: &[DataFile]) -> Result<(), StageError> {
    let listed: u64 = files.iter().map(|f| f.item_count).sum();
    match summary.item_count {
        Some(expected) if expected != listed => {
            Err(StageError::CountMismatch { key: key.into(), expected, actual: listed })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stage::testing::{ExportFixture, PrefixedStore, store_in};

    #[tokio::test]
    async fn reads_the_files_of_a_full_export() {
        let (_dir, store) = store_in();
        let fixture = ExportFixture::full("exp1").file(&[r#"{"Item":{"pk":{"S":"a"}}}"#]).empty_file();
        let description = fixture.write(&store).await;
        let export = read_export(&store, &description).await.unwrap();
        assert_eq!(export.kind, ExportKind::Full);
        assert_eq!(export.files.len(), 2);
        assert_eq!(export.files[0].item_count, 1);
        assert_eq!(export.files[1].item_count, 0);
        assert!(export.files[0].key.starts_with("exports/AWSDynamoDB/exp1/data/"));
        assert!(export.files[0].md5.is_some());
    }

    #[tokio::test]
    async fn incremental_data_files_live_in_the_shared_folder() {
        let (_dir, store) = store_in();
        let description = ExportFixture::incremental("exp2").empty_file().write(&store).await;
        let export = read_export(&store, &description).await.unwrap();
        assert_eq!(export.kind, ExportKind::Incremental);
        assert!(export.files[0].key.starts_with("exports/AWSDynamoDB/data/"));
    }

    #[tokio::test]
    async fn ion_exports_are_refused() {
        let (_dir, store) = store_in();
        let description = ExportFixture::full("exp3").format("ION").empty_file().write(&store).await;
        let error = read_export(&store, &description).await.unwrap_err();
        assert!(matches!(&error, StageError::UnsupportedFormat { format, .. } if format == "ION"), "{error}");
        assert!(error.to_string().contains("not supported"));
        assert!(error.hint().contains("DYNAMODB_JSON"));
    }

    #[tokio::test]
    async fn missing_manifests_are_named() {
        let (_dir, store) = store_in();
        let mut description = ExportFixture::full("exp4").empty_file().write(&store).await;
        description.manifest_summary_key = Some("exports/AWSDynamoDB/nope/manifest-summary.json".into());
        let error = read_export(&store, &description).await.unwrap_err();
        assert!(matches!(&error, StageError::MissingManifest { key, .. } if key.contains("nope")), "{error}");
        description.manifest_summary_key = None;
        assert!(matches!(read_export(&store, &description).await, Err(StageError::MissingManifest { .. })));
        let files_key = "exports/AWSDynamoDB/exp5/manifest-files.json";
        let description = ExportFixture::full("exp5").empty_file().write(&store).await;
        store.delete(files_key).await.unwrap();
        store.delete("exports/AWSDynamoDB/exp5/manifest-files.md5").await.unwrap();
        let error = read_export(&store, &description).await.unwrap_err();
        assert!(matches!(&error, StageError::MissingManifest { key, .. } if key == files_key), "{error}");
    }

    #[tokio::test]
    async fn manifest_checksum_files_are_verified_when_present() {
        let (_dir, store) = store_in();
        let description = ExportFixture::full("exp6").empty_file().write(&store).await;
        assert!(read_export(&store, &description).await.unwrap().warnings.is_empty());
        let checksum_key = "exports/AWSDynamoDB/exp6/manifest-files.checksum";
        store.put(checksum_key, b"y+zg5fVeudb3R3DOQ+RKgA==".to_vec()).await.unwrap();
        let error = read_export(&store, &description).await.unwrap_err();
        assert!(
            matches!(&error, StageError::Md5Mismatch { key, .. } if key.ends_with("manifest-files.json")),
            "{error}"
        );
        store.delete(checksum_key).await.unwrap();
        store.delete("exports/AWSDynamoDB/exp6/manifest-files.md5").await.unwrap();
        read_export(&store, &description).await.expect("checksum files are optional");
    }

    #[tokio::test]
    async fn a_summary_checksum_mismatch_only_warns_naming_both_digests() {
        let (_dir, store) = store_in();
        let description =
            ExportFixture::full("exp10").file(&[r#"{"Item":{"pk":{"S":"a"}}}"#]).write(&store).await;
        let summary_md5 = "exports/AWSDynamoDB/exp10/manifest-summary.md5";
        store.put(summary_md5, b"y+zg5fVeudb3R3DOQ+RKgA==".to_vec()).await.unwrap();
        let export = read_export(&store, &description).await.unwrap();
        assert_eq!(export.files.len(), 1);
        let summary = store.get("exports/AWSDynamoDB/exp10/manifest-summary.json").await.unwrap();
        let [warning] = &export.warnings[..] else { panic!("{:?}", export.warnings) };
        assert!(
            warning.contains("manifest-summary.json") && warning.contains("y+zg5fVeudb3R3DOQ+RKgA=="),
            "{warning}"
        );
        assert!(warning.contains(&md5_base64(&summary)), "{warning}");
        // The files manifest's checksum stays a hard check.
        store
            .put("exports/AWSDynamoDB/exp10/manifest-files.md5", b"y+zg5fVeudb3R3DOQ+RKgA==".to_vec())
            .await
            .unwrap();
        let error = read_export(&store, &description).await.unwrap_err();
        assert!(
            matches!(&error, StageError::Md5Mismatch { key, .. } if key.ends_with("manifest-files.json")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn summary_count_must_match_the_listed_files() {
        let (_dir, store) = store_in();
        let description = ExportFixture::full("exp7")
            .summary_item_count(5)
            .file(&[r#"{"Item":{"pk":{"S":"a"}}}"#])
            .write(&store)
            .await;
        let error = read_export(&store, &description).await.unwrap_err();
        assert!(matches!(error, StageError::CountMismatch { expected: 5, actual: 1, .. }), "{error}");
    }

    #[tokio::test]
    async fn summary_type_must_agree_with_the_run() {
        let (_dir, store) = store_in();
        let mut description = ExportFixture::incremental("exp8").empty_file().write(&store).await;
        description.spec = ExportSpec::Full { export_time: chrono::Utc::now() };
        let error = read_export(&store, &description).await.unwrap_err();
        assert!(matches!(error, StageError::InvalidManifest { .. }), "{error}");
    }

    #[test]
    fn file_entries_need_a_key_and_a_count() {
        let no_key = br#"{"itemCount":1}"#;
        let error = parse_file_entries("arn", "m.json", "AWSDynamoDB/", no_key).unwrap_err();
        assert!(
            error.to_string().contains("line 1") && error.to_string().contains("dataFileS3Key"),
            "{error}"
        );
        let no_count = b"\n{\"dataFileS3Key\":\"d.json.gz\"}\n";
        assert!(
            parse_file_entries("arn", "m.json", "AWSDynamoDB/", no_count)
                .unwrap_err()
                .to_string()
                .contains("line 2")
        );
        let ion = br#"{"itemCount":1,"dataFileS3Key":"AWSDynamoDB/x/data/a.ion.gz"}"#;
        assert!(matches!(
            parse_file_entries("arn", "m.json", "AWSDynamoDB/", ion),
            Err(StageError::UnsupportedFormat { .. })
        ));
        assert!(matches!(
            parse_file_entries("arn", "m.json", "AWSDynamoDB/", b"{oops"),
            Err(StageError::InvalidManifest { .. })
        ));
    }

    #[tokio::test]
    async fn bucket_keys_are_read_below_the_folder_the_summary_is_in() {
        let (_dir, local) = store_in();
        // The export is written under `exports/`, and the store is rooted there: bucket keys lose
        // that prefix.
        let description =
            ExportFixture::full("exp9").file(&[r#"{"Item":{"pk":{"S":"a"}}}"#]).write(&local).await;
        let rooted = PrefixedStore::new(local.clone(), "exports/");
        let mut below = description.clone();
        below.manifest_summary_key = Some("AWSDynamoDB/exp9/manifest-summary.json".into());
        let export = read_export(&rooted, &below).await.unwrap();
        assert_eq!(export.files[0].key, "AWSDynamoDB/exp9/data/exp9-00.json.gz");
        // Copied one folder deeper: the manifests still name `exports/AWSDynamoDB/…`.
        let deeper = PrefixedStore::new(local, "");
        for key in ["exp9/manifest-summary.json", "exp9/manifest-summary.md5", "exp9/manifest-files.json"]
            .into_iter()
            .chain(["exp9/manifest-files.md5", "exp9/data/exp9-00.json.gz"])
        {
            let bytes = deeper.get(&format!("exports/AWSDynamoDB/{key}")).await.unwrap();
            deeper.put(&format!("copies/2026/AWSDynamoDB/{key}"), bytes).await.unwrap();
        }
        let mut copied = description;
        copied.manifest_summary_key = Some("copies/2026/AWSDynamoDB/exp9/manifest-summary.json".into());
        let export = read_export(&deeper, &copied).await.unwrap();
        assert_eq!(export.files[0].key, "copies/2026/AWSDynamoDB/exp9/data/exp9-00.json.gz");
    }

    #[test]
    fn data_files_are_taken_inside_the_export_set_whatever_prefix_they_name() {
        let root = "people/AWSDynamoDB/";
        let line = |key: &str| format!(r#"{{"itemCount":1,"dataFileS3Key":"{key}"}}"#);
        for (named, read) in [
            ("AWSDynamoDB/data/a.json.gz", "people/AWSDynamoDB/data/a.json.gz"),
            ("elsewhere/deep/AWSDynamoDB/01-a/data/b.json.gz", "people/AWSDynamoDB/01-a/data/b.json.gz"),
            ("notAWSDynamoDB/AWSDynamoDB/data/c.json.gz", "people/AWSDynamoDB/data/c.json.gz"),
        ] {
            let files = parse_file_entries("arn", "m.json", root, line(named).as_bytes()).unwrap();
            assert_eq!(files[0].key, read, "{named}");
        }
        for key in
            ["people/AWSDynamoDB/../../secrets/a.json.gz", "people/data/a.json.gz", "xAWSDynamoDB/a.gz"]
        {
            let error = parse_file_entries("arn", "m.json", root, line(key).as_bytes()).unwrap_err();
            assert!(matches!(error, StageError::InvalidManifest { line: Some(1), .. }), "{key}: {error}");
            assert!(error.to_string().contains(key), "{error}");
        }
        assert_eq!(
            export_root("t/exports/AWSDynamoDB/01-a/manifest-summary.json").unwrap(),
            "t/exports/AWSDynamoDB/"
        );
        assert!(export_root("t/manifest-summary.json").is_err());
    }
}
