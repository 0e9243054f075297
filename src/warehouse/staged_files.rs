//! The staged files as a warehouse that reads them itself sees them: opened as a stream of
//! lines, and checked against what the stage step promised in the [`StagedSet`] — the files were
//! staged for this table's columns, each holds the rows the set lists, and the upsert / delete
//! totals match. A mismatch means the files changed or belong to another run.
//!
//! Files are read as they download (gzip or LZ4, as the key ends → lines, constant memory) on a
//! blocking thread, through the async store.

use std::io::{BufRead, BufReader};

use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;
use tokio_util::sync::CancellationToken;

use crate::contract::staged::{StagedCompression, StagedFile, StagedSet};
use crate::store::ObjectStore;

use super::shape::TableShape;
use super::staged_lines::Op;
use super::step::StepError;

/// Read buffer for the downloaded (compressed) and the decompressed stream.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Rows read from staged files, by op.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyCounts {
    pub upserts: u64,
    pub deletes: u64,
}

impl CopyCounts {
    pub fn rows(self) -> u64 {
        self.upserts + self.deletes
    }

    pub fn add(&mut self, op: Op) {
        match op {
            Op::Upsert => self.upserts += 1,
            Op::Delete => self.deletes += 1,
        }
    }
}

/// Opens a staged file as a stream of decompressed lines, decompressed as its key's ending says
/// (so a set staged as gzip before LZ4 existed still loads on a resume). Blocking: call it on a
/// blocking thread; `runtime` drives the store's download.
pub fn open_staged_lines(
    store: &dyn ObjectStore,
    runtime: &Handle,
    file: &StagedFile,
) -> Result<impl BufRead + Send + use<>, String> {
    let reader =
        runtime.block_on(store.open(&file.key)).map_err(|e| format!("opening the staged file: {e}"))?;
    let download =
        BufReader::with_capacity(READ_BUFFER_BYTES, SyncIoBridge::new_with_handle(reader, runtime.clone()));
    let content = StagedCompression::of_key(&file.key).decompress(download);
    Ok(BufReader::with_capacity(READ_BUFFER_BYTES, content))
}

/// Lines between two looks at the cancellation token inside one staged file.
const CANCEL_CHECK_LINES: u64 = 4096;

/// Reads a staged file line by line, as every warehouse's COPY of staged files does: `row(n, line)`
/// for each line with content, `blank(n)` for an empty one (`n` counts from 1). Stops with
/// [`StepError::Cancelled`] when `cancel` fires (looked at every few thousand lines) and at the
/// first error of `row`; a read error names the file and line.
pub fn each_staged_line(
    store: &dyn ObjectStore,
    runtime: &Handle,
    file: &StagedFile,
    cancel: &CancellationToken,
    mut blank: impl FnMut(u64),
    mut row: impl FnMut(u64, &str) -> Result<(), StepError>,
) -> Result<(), StepError> {
    let mut lines = open_staged_lines(store, runtime, file).map_err(StepError::Failed)?;
    let mut line = String::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        let read = lines.read_line(&mut line).map_err(|e| {
            StepError::Failed(format!("reading failed: {e}")).at(&format!(
                "{} line {}",
                file.key,
                line_no + 1
            ))
        })?;
        if read == 0 {
            return Ok(());
        }
        line_no += 1;
        if line.trim().is_empty() {
            blank(line_no);
            continue;
        }
        if line_no.is_multiple_of(CANCEL_CHECK_LINES) && cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        row(line_no, &line)?;
    }
}

/// The staged set's columns must be the ones this table's column spec stages.
pub fn check_staged_columns(staged: &StagedSet, shape: &TableShape) -> Result<(), String> {
    let expected = shape.staged_column_names();
    if staged.columns == expected {
        return Ok(());
    }
    Err(format!(
        "the staged files have columns {:?} but the table's column spec stages {:?}; tables.toml \
         changed since they were staged: run the sync again to stage afresh",
        staged.columns, expected
    ))
}

/// A file must hold the rows the staged set lists for it.
pub fn check_file_rows(file: &StagedFile, copied: u64) -> Result<(), String> {
    if copied == file.rows {
        return Ok(());
    }
    Err(format!(
        "{}: holds {copied} rows but the staged set lists {}; the staged files changed after \
         staging: run the sync again to stage afresh",
        file.key, file.rows
    ))
}

/// All files together must hold the upserts and deletes the staged set lists.
pub fn check_totals(staged: &StagedSet, counts: CopyCounts) -> Result<(), String> {
    if (counts.upserts, counts.deletes) == (staged.upserts, staged.deletes) {
        return Ok(());
    }
    Err(format!(
        "the staged files hold {} upserts and {} deletes but the staged set lists {} and {}; \
         run the sync again to stage afresh",
        counts.upserts, counts.deletes, staged.upserts, staged.deletes
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::Arc;

    use super::*;
    use crate::config::Mode;
    use crate::store::LocalStore;
    use crate::warehouse::testkit;

    fn staged_set() -> StagedSet {
        testkit::request_for(testkit::customers_table(), Mode::Full, "r1").staged
    }

    #[test]
    fn counts_by_op() {
        let mut counts = CopyCounts::default();
        counts.add(Op::Upsert);
        counts.add(Op::Delete);
        counts.add(Op::Upsert);
        assert_eq!((counts.upserts, counts.deletes, counts.rows()), (2, 1, 3));
    }

    #[test]
    fn the_columns_must_match_the_spec() {
        let table = testkit::customers_table();
        let shape = TableShape::of(&table);
        let mut staged = staged_set();
        assert_eq!(check_staged_columns(&staged, &shape), Ok(()));
        staged.columns.pop();
        let err = check_staged_columns(&staged, &shape).unwrap_err();
        assert!(err.contains("tables.toml changed since they were staged"), "{err}");
    }

    #[test]
    fn row_counts_must_match_per_file_and_in_total() {
        let file = StagedFile { key: "t/staged/r1/part-00000.json.gz".into(), rows: 2, bytes: 10 };
        assert_eq!(check_file_rows(&file, 2), Ok(()));
        let err = check_file_rows(&file, 1).unwrap_err();
        assert!(err.starts_with("t/staged/r1/part-00000.json.gz: holds 1 rows but the staged set lists 2"));
        let mut staged = staged_set();
        (staged.upserts, staged.deletes) = (1, 1);
        assert_eq!(check_totals(&staged, CopyCounts { upserts: 1, deletes: 1 }), Ok(()));
        let err = check_totals(&staged, CopyCounts { upserts: 2, deletes: 0 }).unwrap_err();
        assert!(err.contains("hold 2 upserts and 0 deletes but the staged set lists 1 and 1"), "{err}");
    }

    /// Every line of `key` holding `bytes`, or the error that stopped the read.
    async fn lines_of(key: &str, bytes: Vec<u8>) -> Result<Vec<String>, String> {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::new(dir.path()));
        store.put(key, bytes).await.unwrap();
        let file = StagedFile { key: key.into(), rows: 0, bytes: 0 };
        let runtime = Handle::current();
        tokio::task::spawn_blocking(move || {
            let mut lines = Vec::new();
            let cancel = CancellationToken::new();
            each_staged_line(
                store.as_ref(),
                &runtime,
                &file,
                &cancel,
                |_| {},
                |_, line| {
                    lines.push(line.trim_end().to_owned());
                    Ok(())
                },
            )
            .map(|()| lines)
            .map_err(|e| format!("{e:?}"))
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lz4_and_gzip_files_are_read_as_their_keys_end() {
        let text = "{\"a\":1}\n{\"a\":2}\n";
        let expected = ["{\"a\":1}", "{\"a\":2}"];
        assert_eq!(lines_of("t/staged/r/part-00000.json.lz4", testkit::lz4(text)).await.unwrap(), expected);
        assert_eq!(lines_of("t/staged/r/part-00000.json.gz", testkit::gzip(text)).await.unwrap(), expected);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_damaged_lz4_file_fails_naming_the_file() {
        let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(
            lz4_flex::frame::FrameInfo::new().content_checksum(true),
            Vec::new(),
        );
        std::io::Write::write_all(&mut encoder, "{\"a\":1}\n".repeat(50).as_bytes()).unwrap();
        let mut bytes = encoder.finish().unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff; // the content checksum no longer matches
        let err = lines_of("t/staged/r/part-00001.json.lz4", bytes).await.unwrap_err();
        assert!(err.contains("t/staged/r/part-00001.json.lz4 line"), "{err}");
        assert!(err.contains("reading failed"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_concatenated_gzip_members_as_one_stream() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::new(dir.path()));
        let mut bytes = testkit::gzip("a\n");
        bytes.extend(testkit::gzip("b\n"));
        store.put("k.json.gz", bytes).await.unwrap();
        let file = StagedFile { key: "k.json.gz".into(), rows: 2, bytes: 0 };
        let runtime = Handle::current();
        let text = tokio::task::spawn_blocking(move || {
            let mut text = String::new();
            open_staged_lines(store.as_ref(), &runtime, &file).unwrap().read_to_string(&mut text).unwrap();
            text
        })
        .await
        .unwrap();
        assert_eq!(text, "a\nb\n");
    }
}
