//! Why staging failed. Every variant names the export, file, line or key it concerns, and
//! [`StageError::hint`] says what to do. A stage failure always happens before anything loads:
//! the staged output of a failed stage step is never used.

use crate::store::StoreError;

use super::map::TypeError;
use crate::ddb::item_paths::ItemPathError;

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// The exports handed to the stage step cannot be staged together.
    #[error("cannot stage these exports: {reason}")]
    InvalidExportSet { reason: String },

    /// A manifest (`manifest-summary.json` / `manifest-files.json`) is not in the store.
    #[error("export {export_arn}: manifest `{key}` is missing from the store")]
    MissingManifest { export_arn: String, key: String },

    /// A manifest is there but unreadable or incomplete.
    #[error("{key}{}: not a valid export manifest: {reason}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    InvalidManifest { key: String, line: Option<u64>, reason: String },

    /// The export is in a format dynashift does not read (ION).
    #[error(
        "export {export_arn} is in {format} format, which is not supported; dynashift reads DYNAMODB_JSON exports"
    )]
    UnsupportedFormat { export_arn: String, format: String },

    /// A data file listed in the manifest is not in the store.
    #[error("data file `{key}` is listed in its export's manifest but missing from the store")]
    MissingDataFile { key: String },

    /// A data file (or the summary) holds another number of items than the manifest says.
    #[error("`{key}`: the manifest says {expected} items, the export has {actual}")]
    CountMismatch { key: String, expected: u64, actual: u64 },

    /// An object's MD5 differs from its manifest's or checksum file's.
    #[error("`{key}`: MD5 is {actual}, the manifest says {expected}")]
    Md5Mismatch { key: String, expected: String, actual: String },

    /// A data file is not valid gzip (or is truncated).
    #[error("`{key}`: not a readable gzip file: {source}")]
    CorruptGzip {
        key: String,
        #[source]
        source: std::io::Error,
    },

    /// Reading a data file from the store failed midway.
    #[error("`{key}`: reading from the store failed: {source}")]
    Read {
        key: String,
        #[source]
        source: std::io::Error,
    },

    /// A data line is not JSON.
    #[error("`{key}`, line {line}: invalid JSON: {source}")]
    InvalidJson {
        key: String,
        line: u64,
        #[source]
        source: serde_json::Error,
    },

    /// A data line is JSON but not a DynamoDB export line of this table.
    #[error("`{key}`, line {line}: not a DynamoDB export line: {reason}")]
    NotAnItem { key: String, line: u64, reason: String },

    /// A value does not fit its column (and `on_type_error` is "fail", or it is a key column).
    #[error("`{key}`, line {line}: {error}")]
    Type { key: String, line: u64, error: Box<TypeError> },

    /// An incremental export holds two lines for one key, which DynamoDB never writes.
    #[error("export {export_arn} has more than one line for key {key} (seen again in `{file}`)")]
    DuplicateKey { export_arn: String, key: String, file: String },

    /// A staged part could not be written to its temporary file.
    #[error("writing a staged part to the temporary folder failed ({path}): {source}")]
    Spool {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// A column's attribute path cannot be read by a pushdown COPY.
    #[error(transparent)]
    PushdownPath(#[from] ItemPathError),

    #[error("staging was cancelled")]
    Cancelled,

    #[error(transparent)]
    Store(#[from] StoreError),
}

impl StageError {
    /// What the user should do about it.
    pub fn hint(&self) -> String {
        const DAMAGED: &str = "the export is incomplete or damaged and nothing was loaded; \
            run the sync again to request a new export";
        match self {
            StageError::InvalidExportSet { .. } => {
                "a full sync stages exactly one full export and an incremental \
                sync only incremental exports; check the exports under the source prefix"
                    .into()
            }
            StageError::MissingManifest { .. } => {
                "the export may not have completed, or its files were deleted; \
                wait for it to complete or run the sync again"
                    .into()
            }
            StageError::UnsupportedFormat { .. } => {
                "request exports with ExportFormat DYNAMODB_JSON (the default)".into()
            }
            StageError::InvalidManifest { .. }
            | StageError::MissingDataFile { .. }
            | StageError::CountMismatch { .. }
            | StageError::Md5Mismatch { .. }
            | StageError::CorruptGzip { .. }
            | StageError::InvalidJson { .. }
            | StageError::NotAnItem { .. }
            | StageError::DuplicateKey { .. } => DAMAGED.into(),
            StageError::Type { error, .. } => error.hint(),
            StageError::Read { .. } | StageError::Store(_) => {
                "check that the store is reachable, then run the sync again".into()
            }
            StageError::Spool { .. } => {
                "check the free space of the temporary folder (set TMPDIR to use another one)".into()
            }
            StageError::PushdownPath(_) => {
                "set full_load = \"staged\" for this table: dynashift then reads the attribute itself".into()
            }
            StageError::Cancelled => "nothing was loaded; run the sync again when ready".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_line() {
        let error =
            StageError::NotAnItem { key: "x/data/a.json.gz".into(), line: 7, reason: "no Item".into() };
        assert_eq!(error.to_string(), "`x/data/a.json.gz`, line 7: not a DynamoDB export line: no Item");
        let manifest =
            StageError::InvalidManifest { key: "m.json".into(), line: Some(3), reason: "bad".into() };
        assert_eq!(manifest.to_string(), "m.json, line 3: not a valid export manifest: bad");
        let summary = StageError::InvalidManifest { key: "s.json".into(), line: None, reason: "bad".into() };
        assert_eq!(summary.to_string(), "s.json: not a valid export manifest: bad");
    }

    #[test]
    fn every_error_has_a_hint() {
        let errors = [
            StageError::Cancelled,
            StageError::InvalidExportSet { reason: "none".into() },
            StageError::UnsupportedFormat { export_arn: "a".into(), format: "ION".into() },
            StageError::CountMismatch { key: "k".into(), expected: 1, actual: 2 },
            StageError::PushdownPath(ItemPathError {
                column: "c".into(),
                path: "a[0]".into(),
                reason: "it indexes a list".into(),
            }),
        ];
        for error in errors {
            assert!(!error.hint().is_empty(), "{error}");
        }
    }
}
