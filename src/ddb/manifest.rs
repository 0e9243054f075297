//! Export manifests: `manifest-summary.json` (one object) and `manifest-files.json` (JSON Lines,
//! one object per data file). Parsed leniently: unknown fields are ignored and any field may be
//! null, because AWS has added fields over time (`exportType`, `outputView`…).

use serde::{Deserialize, Serialize};

/// `manifest-summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ManifestSummary {
    pub version: Option<String>,
    pub export_arn: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub table_arn: Option<String>,
    pub table_id: Option<String>,
    /// Full exports only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_time: Option<String>,
    /// Incremental exports only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_from_time: Option<String>,
    /// Incremental exports only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_to_time: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_prefix: Option<String>,
    pub s3_sse_algorithm: Option<String>,
    pub s3_sse_kms_key_id: Option<String>,
    pub manifest_files_s3_key: Option<String>,
    pub billed_size_bytes: Option<u64>,
    pub item_count: Option<u64>,
    pub output_format: Option<String>,
    /// Incremental exports only: `NEW_AND_OLD_IMAGES` or `NEW_IMAGE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_view: Option<String>,
    /// Incremental exports only: `INCREMENTAL_EXPORT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_type: Option<String>,
}

/// One line of `manifest-files.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ManifestFileEntry {
    pub item_count: Option<u64>,
    /// Base64 MD5 of the gzip object's bytes.
    pub md5_checksum: Option<String>,
    pub etag: Option<String>,
    pub data_file_s3_key: Option<String>,
}
