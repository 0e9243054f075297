//! The COPY step: streams every staged file from the store into the stage table through one
//! prepared INSERT, inside the load's transaction.
//!
//! Files are read as they download (gzip → lines, constant memory), on the blocking thread the
//! load runs on, through the async store. The copy checks what the stage step promised: the
//! files were staged for this table's columns, each holds the rows the staged set lists, and the
//! upsert / delete totals match. A mismatch means the files changed or belong to another run.

use std::io::{BufRead, BufReader};

use flate2::bufread::MultiGzDecoder;
use rusqlite::{Connection, Statement, params_from_iter};
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;
use tokio_util::sync::CancellationToken;

use crate::pipeline::staged::{StagedFile, StagedSet};
use crate::store::ObjectStore;

use super::failure::StepError;
use super::line::{LineDecoder, Op};
use super::shape::TableShape;

/// Rows between two looks at the cancellation token inside one file.
const CANCEL_CHECK_ROWS: u64 = 4096;

/// Read buffer for the downloaded (compressed) and the decompressed stream.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Where the COPY reads from.
pub struct CopySource<'a> {
    pub store: &'a dyn ObjectStore,
    pub runtime: &'a Handle,
    pub staged: &'a StagedSet,
    pub shape: &'a TableShape,
    pub cancel: &'a CancellationToken,
}

/// Rows copied into the stage, by op.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyCounts {
    pub upserts: u64,
    pub deletes: u64,
}

impl CopyCounts {
    pub fn rows(self) -> u64 {
        self.upserts + self.deletes
    }

    fn add(&mut self, op: Op) {
        match op {
            Op::Upsert => self.upserts += 1,
            Op::Delete => self.deletes += 1,
        }
    }
}

/// Copies every staged file into the stage with `insert_sql` (the prepared INSERT).
pub fn copy_staged_files(
    conn: &Connection,
    insert_sql: &str,
    source: &CopySource<'_>,
) -> Result<CopyCounts, StepError> {
    check_staged_columns(source)?;
    let mut insert = conn.prepare(insert_sql).map_err(|e| StepError::Failed(e.to_string()))?;
    let decoder = LineDecoder::new(source.shape);
    let mut counts = CopyCounts::default();
    for file in &source.staged.files {
        if source.cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        let before = counts.rows();
        copy_file(&mut insert, &decoder, file, source, &mut counts)?;
        let copied = counts.rows() - before;
        if copied != file.rows {
            return Err(StepError::Failed(format!(
                "{}: holds {copied} rows but the staged set lists {}; the staged files changed after \
                 staging: run the sync again to stage afresh",
                file.key, file.rows
            )));
        }
    }
    check_totals(source.staged, counts)?;
    Ok(counts)
}

fn check_staged_columns(source: &CopySource<'_>) -> Result<(), StepError> {
    let expected = source.shape.staged_column_names();
    if source.staged.columns == expected {
        return Ok(());
    }
    Err(StepError::Failed(format!(
        "the staged files have columns {:?} but the table's column spec stages {:?}; tables.toml \
         changed since they were staged: run the sync again to stage afresh",
        source.staged.columns, expected
    )))
}

fn check_totals(staged: &StagedSet, counts: CopyCounts) -> Result<(), StepError> {
    if (counts.upserts, counts.deletes) == (staged.upserts, staged.deletes) {
        return Ok(());
    }
    Err(StepError::Failed(format!(
        "the staged files hold {} upserts and {} deletes but the staged set lists {} and {}; \
         run the sync again to stage afresh",
        counts.upserts, counts.deletes, staged.upserts, staged.deletes
    )))
}

fn copy_file(
    insert: &mut Statement<'_>,
    decoder: &LineDecoder,
    file: &StagedFile,
    source: &CopySource<'_>,
    counts: &mut CopyCounts,
) -> Result<(), StepError> {
    let mut lines = open_lines(file, source)?;
    let at_line = |n: u64| format!("{} line {n}", file.key);
    let mut line = String::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        let read = lines
            .read_line(&mut line)
            .map_err(|e| StepError::Failed(format!("reading failed: {e}")).at(&at_line(line_no + 1)))?;
        if read == 0 {
            return Ok(());
        }
        line_no += 1;
        if line.trim().is_empty() {
            continue;
        }
        if line_no.is_multiple_of(CANCEL_CHECK_ROWS) && source.cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        let row =
            decoder.decode(&line).map_err(|message| StepError::Failed(message).at(&at_line(line_no)))?;
        insert
            .execute(params_from_iter(&row.values))
            .map_err(|e| StepError::sqlite(&e, source.cancel).at(&at_line(line_no)))?;
        counts.add(row.op);
    }
}

/// The file as a stream of decompressed lines.
fn open_lines(file: &StagedFile, source: &CopySource<'_>) -> Result<impl BufRead, StepError> {
    let reader = source
        .runtime
        .block_on(source.store.open(&file.key))
        .map_err(|e| StepError::Failed(format!("opening the staged file: {e}")))?;
    let download = BufReader::with_capacity(
        READ_BUFFER_BYTES,
        SyncIoBridge::new_with_handle(reader, source.runtime.clone()),
    );
    Ok(BufReader::with_capacity(READ_BUFFER_BYTES, MultiGzDecoder::new(download)))
}
