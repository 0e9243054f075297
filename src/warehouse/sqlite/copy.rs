//! The COPY step: streams every staged file from the store into the stage table (or a full
//! load's new table) through one prepared INSERT, inside the load's transaction.
//!
//! Files are read as they download (see [`crate::warehouse::staged_files`]) on the blocking
//! thread the load runs on, and checked against the staged set as they are copied.

use rusqlite::{Connection, Statement, params_from_iter};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::contract::staged::{StagedFile, StagedSet};
use crate::store::ObjectStore;
use crate::warehouse::shape::TableShape;
use crate::warehouse::staged_files::{
    CopyCounts, check_file_rows, check_staged_columns, check_totals, each_staged_line,
};
use crate::warehouse::staged_lines::{LineDecoder, Op};

use super::failure::StepError;
use super::line::StagedRow;

/// Where the COPY reads from.
pub(super) struct CopySource<'a> {
    pub store: &'a dyn ObjectStore,
    pub runtime: &'a Handle,
    pub staged: &'a StagedSet,
    pub shape: &'a TableShape,
    pub cancel: &'a CancellationToken,
    /// Insert only the staged upserts (a full load filling its new table); deletes are read,
    /// checked and counted all the same.
    pub upserts_only: bool,
}

/// Copies every staged file into the stage with `insert_sql` (the prepared INSERT).
pub(super) fn copy_staged_files(
    conn: &Connection,
    insert_sql: &str,
    source: &CopySource<'_>,
) -> Result<CopyCounts, StepError> {
    check_staged_columns(source.staged, source.shape).map_err(StepError::Failed)?;
    let mut insert = conn.prepare(insert_sql).map_err(|e| StepError::Failed(e.to_string()))?;
    let decoder = LineDecoder::new(source.shape);
    let mut counts = CopyCounts::default();
    for file in &source.staged.files {
        if source.cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        let before = counts.rows();
        copy_file(&mut insert, &decoder, file, source, &mut counts)?;
        check_file_rows(file, counts.rows() - before).map_err(StepError::Failed)?;
    }
    check_totals(source.staged, counts).map_err(StepError::Failed)?;
    Ok(counts)
}

fn copy_file(
    insert: &mut Statement<'_>,
    decoder: &LineDecoder,
    file: &StagedFile,
    source: &CopySource<'_>,
    counts: &mut CopyCounts,
) -> Result<(), StepError> {
    let at_line = |n: u64| format!("{} line {n}", file.key);
    each_staged_line(
        source.store,
        source.runtime,
        file,
        source.cancel,
        |_| (),
        |line_no, line| {
            let row = decoder
                .decode(line)
                .map(StagedRow::of)
                .map_err(|message| StepError::Failed(message).at(&at_line(line_no)))?;
            if row.op == Op::Upsert || !source.upserts_only {
                insert
                    .execute(params_from_iter(&row.values))
                    .map_err(|e| StepError::sqlite(&e, source.cancel).at(&at_line(line_no)))?;
            }
            counts.add(row.op);
            Ok(())
        },
    )
}
