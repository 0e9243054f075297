//! Errors told after their line was read: the key or the type error of a line read again from
//! its data file (the digests and the spilled fold keep only where a line was), and the error of
//! a key staged twice, whether found as its line was read or once spilled digests are checked.

use super::diagnose::lenient_key;
use super::error::StageError;
use super::key_origin::KeyClash;
use super::lines::ChangeLine;
use super::reader::DataFileReader;
use super::worker::{Workers, type_error};

impl Workers<'_> {
    /// The key on line `line` of data file `file`, read again for an error message (the digest
    /// set keeps no keys, only where they were first seen).
    pub(super) fn refind_key(&self, file: &str, line: u64) -> String {
        let found = || -> Result<Option<String>, StageError> {
            let mut reader = DataFileReader::open(self.store.as_ref(), &self.handle, file)?;
            let mut text = Vec::new();
            while reader.read_line(&mut text)? {
                if reader.line_number() == line {
                    return Ok(lenient_key(&text, &self.table.key));
                }
            }
            Ok(None)
        };
        found().ok().flatten().unwrap_or_else(|| "(no longer readable)".to_owned())
    }

    /// The error of a key staged twice (`clash`), the second time as `key` at `(file, line)`.
    pub(super) fn key_clash(
        &self,
        export_arn: &str,
        clash: KeyClash,
        key: String,
        (file, line): (String, u64),
    ) -> StageError {
        match clash {
            KeyClash::Repeated { first } => StageError::RepeatedKey {
                export_arn: export_arn.to_owned(),
                key,
                first_file: self.digests.file_name(first),
                first_line: u64::from(first.line),
                file,
                line,
            },
            KeyClash::BlankTwin { first } => {
                let first_file = self.digests.file_name(first);
                let first_key = self.refind_key(&first_file, u64::from(first.line));
                StageError::BlankTwinKeys {
                    key,
                    file,
                    line,
                    first_key,
                    first_file,
                    first_line: u64::from(first.line),
                }
            }
        }
    }

    /// Checks the key digests once every line is read (see [`super::key_checks::KeyDigests`]):
    /// the error of the first key staged twice, with both lines.
    pub(super) fn check_keys(&self, export_arn: &str) -> Result<(), StageError> {
        if self.cancel.is_cancelled() {
            return Err(StageError::Cancelled);
        }
        let partitions = self.digests.spill_partitions();
        if partitions > 0 {
            self.progress.spilled(partitions);
        }
        let Some(found) = self.digests.first_clash()? else { return Ok(()) };
        let file = self.digests.file_name(found.second);
        let line = u64::from(found.second.line);
        let key = self.refind_key(&file, line);
        Err(self.key_clash(export_arn, found.clash, key, (file, line)))
    }

    /// The type error of a spilled change that won its fold, read again from line `line` of
    /// `file` (a spilled change keeps only that it failed).
    pub(super) fn refind_type_error(&self, file: &str, line: u64) -> StageError {
        let found = || -> Result<Option<StageError>, StageError> {
            let mut reader = DataFileReader::open(self.store.as_ref(), &self.handle, file)?;
            let mut text = Vec::new();
            while reader.read_line(&mut text)? {
                if reader.line_number() != line {
                    continue;
                }
                let Ok(change) = serde_json::from_slice::<ChangeLine<'_>>(&text) else { return Ok(None) };
                let micros = change.write_micros().unwrap_or_default();
                let mut out = Vec::new();
                let mapped = match &change.new_image {
                    Some(image) => self.mapper.write_upsert(&mut out, image, Some(micros)),
                    None => self.mapper.write_delete(&mut out, &change.keys, micros),
                };
                return Ok(mapped.err().map(|error| type_error(&reader, error)));
            }
            Ok(None)
        };
        found().unwrap_or_else(Some).unwrap_or_else(|| StageError::NotAnItem {
            key: file.into(),
            line,
            reason: "a value did not fit its column when the line was staged, but the line reads \
                     differently now: the data file changed while it was staged; sync again"
                .into(),
        })
    }
}
