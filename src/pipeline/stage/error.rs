//! Why staging failed. Every variant names the export, file, line or key it concerns, and
//! [`StageError::hint`] says what to do. A stage failure always happens before anything loads:
//! the staged output of a failed stage step is never used.

use std::borrow::Cow;

use crate::store::StoreError;

use super::type_error::TypeError;
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

    /// A data line is longer than any export line of a DynamoDB item can be.
    #[error(
        "`{key}`, line {line}: the line is longer than {} MiB; a DynamoDB item is at most 400 KB, so \
         this is not an export line",
        limit / (1024 * 1024)
    )]
    LineTooLong { key: String, line: u64, limit: usize },

    /// A data line is JSON but not a DynamoDB export line of this table.
    #[error("`{key}`, line {line}: not a DynamoDB export line: {reason}")]
    NotAnItem { key: String, line: u64, reason: String },

    /// A value does not fit its column (and `on_type_error` is "fail", or it is a key column).
    #[error("`{key}`, line {line}: {error}")]
    Type { key: String, line: u64, error: Box<TypeError> },

    /// An incremental export holds two lines for one key, which DynamoDB never writes.
    #[error("export {export_arn} has more than one line for key {key} (seen again in `{file}`)")]
    DuplicateKey { export_arn: String, key: String, file: String },

    /// A key is on two lines of the exports being staged (a full export holds each item once).
    #[error(
        "export {export_arn} holds key {key} twice: `{first_file}`, line {first_line} and `{file}`, line {line}"
    )]
    RepeatedKey {
        export_arn: String,
        key: String,
        first_file: String,
        first_line: u64,
        file: String,
        line: u64,
    },

    /// Two keys differ only by trailing blanks, which the warehouse (Redshift) ignores.
    #[error(
        "`{file}`, line {line}: key {key} differs only by trailing blanks from key {first_key} \
         (`{first_file}`, line {first_line}); they are two DynamoDB items, but Redshift compares text \
         ignoring trailing blanks, so both would load as one row"
    )]
    BlankTwinKeys {
        key: String,
        file: String,
        line: u64,
        first_key: String,
        first_file: String,
        first_line: u64,
    },

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

/// Most characters of a user's value (a key, a name, a type tag) quoted in a stage error.
pub(super) const MAX_QUOTED_CHARS: usize = 200;

/// `text` as it is when short; otherwise its first [`MAX_QUOTED_CHARS`] characters followed by
/// `… (N bytes)`. Every user value quoted in a stage error goes through here, so a hostile
/// 10 MB attribute name yields a short message rather than a 30 MB one.
pub(super) fn capped(text: &str) -> Cow<'_, str> {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len())),
    }
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
            | StageError::LineTooLong { .. }
            | StageError::NotAnItem { .. }
            | StageError::DuplicateKey { .. }
            | StageError::RepeatedKey { .. } => DAMAGED.into(),
            StageError::BlankTwinKeys { .. } => {
                "nothing was loaded; Redshift cannot hold both items as distinct rows: change one of the \
                 keys in DynamoDB (e.g. drop the trailing blanks), or sync the table into SQLite or \
                 PostgreSQL, which compare text exactly"
                    .into()
            }
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
    fn quoted_values_are_capped_with_their_size() {
        assert_eq!(capped("short"), "short");
        let exact = "é".repeat(MAX_QUOTED_CHARS);
        assert_eq!(capped(&exact), exact);
        let long = format!("{}{}", "é".repeat(MAX_QUOTED_CHARS), "x".repeat(10_000_000));
        let quoted = capped(&long);
        assert_eq!(quoted, format!("{}… ({} bytes)", "é".repeat(MAX_QUOTED_CHARS), long.len()));
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
