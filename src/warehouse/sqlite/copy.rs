//! The COPY step: streams every staged file from the store into the stage table (or a full
//! load's new table) through one prepared INSERT, inside the load's transaction.
//!
//! Two threads share the work, so a load uses both cores: a reader thread downloads, inflates,
//! decodes and checks the staged lines (most of a COPY's CPU), while the load's own thread,
//! which holds the connection, only binds and inserts. Rows pass between them in batches
//! through a bounded channel (a few batches in flight, so memory stays constant; spent batches
//! go back to the reader to be filled again, see [`BoundValues`]), in file order: the rows go in
//! exactly as one thread would insert them, and the first problem in file order — a line that
//! does not decode, an insert that fails — is the one reported. Files are checked against the
//! staged set as they are read (see [`crate::warehouse::staged_files`]).
//! Nothing here overlaps the stage step: the staged files are complete before a load starts,
//! which is what lets a resumed run load them again.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use rusqlite::types::ToSqlOutput;
use rusqlite::{Connection, Statement, params_from_iter};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::contract::staged::StagedSet;
use crate::store::ObjectStore;
use crate::warehouse::shape::TableShape;
use crate::warehouse::staged_files::{
    CopyCounts, check_file_rows, check_staged_columns, check_totals, each_staged_line,
};
use crate::warehouse::staged_lines::{LineDecoder, Op};

use super::failure::StepError;
use super::line::{Bound, BoundValues};

/// Rows the reader decodes before handing them over.
const BATCH_ROWS: usize = 1024;

/// Batches decoded ahead of the inserts (the reader waits when this many are queued).
const BATCHES_IN_FLIGHT: usize = 4;

/// Where the COPY reads from.
pub(super) struct CopySource<'a> {
    pub store: &'a dyn ObjectStore,
    pub runtime: &'a Handle,
    pub staged: &'a StagedSet,
    pub shape: &'a TableShape,
    pub cancel: &'a CancellationToken,
    /// Which rows the INSERT takes, and which of their values it binds.
    pub bound: Bound,
}

/// Copies every staged file with `insert_sql` (the prepared INSERT), reading on a thread of its
/// own (see the module docs).
pub(super) fn copy_staged_files(
    conn: &Connection,
    insert_sql: &str,
    source: &CopySource<'_>,
) -> Result<CopyCounts, StepError> {
    check_staged_columns(source.staged, source.shape).map_err(StepError::Failed)?;
    let mut insert = conn.prepare(insert_sql).map_err(|e| StepError::Failed(e.to_string()))?;
    let decoder = LineDecoder::new(source.shape);
    std::thread::scope(|scope| {
        let (batches, received) = sync_channel(BATCHES_IN_FLIGHT);
        // Room for every batch there can be, so giving one back never waits.
        let (spent, recycled) = sync_channel(BATCHES_IN_FLIGHT + 2);
        let reader = std::thread::Builder::new()
            .name("dynashift-copy".into())
            .spawn_scoped(scope, || read_rows(&decoder, source, batches, recycled))
            .map_err(|e| StepError::Failed(format!("cannot start the staged-file reader: {e}")))?;
        let inserted = insert_rows(&mut insert, received, spent, source);
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(StepError::Failed("the staged-file reader stopped unexpectedly".into())));
        // An insert that failed did so at a row before whatever stopped the reader after it
        // (at worst the hung-up channel), so its error is the one to report.
        inserted?;
        read
    })
}

/// Decoded rows, in file order: each row's bound values one after the other.
#[derive(Default)]
struct Batch {
    values: BoundValues,
    /// Where each row was read: the file's index in the staged set and its line number.
    rows: Vec<(usize, u64)>,
}

impl Batch {
    /// A spent batch given back by the inserts, emptied, or else a new one.
    fn next(recycled: &Receiver<Batch>) -> Batch {
        match recycled.try_recv() {
            Ok(mut batch) => {
                batch.values.clear();
                batch.rows.clear();
                batch
            }
            Err(_) => Batch::default(),
        }
    }
}

/// "<file key> line <n>".
fn at_line(staged: &StagedSet, (file, line_no): (usize, u64)) -> String {
    format!("{} line {line_no}", staged.files[file].key)
}

/// The load's side: inserts every row of every batch, until the reader is done (the channel
/// closes) or an insert fails, and gives each spent batch back to the reader.
fn insert_rows(
    insert: &mut Statement<'_>,
    batches: Receiver<Batch>,
    spent: SyncSender<Batch>,
    source: &CopySource<'_>,
) -> Result<(), StepError> {
    let columns = source.bound.values_per_row(source.shape);
    for batch in batches {
        for (values, &at) in batch.values.rows(columns).zip(&batch.rows) {
            insert
                .execute(params_from_iter(values.map(ToSqlOutput::Borrowed)))
                .map_err(|e| StepError::sqlite(&e, source.cancel).at(&at_line(source.staged, at)))?;
        }
        // Full (or the reader is done): the batch is freed here instead.
        let _ = spent.try_send(batch);
    }
    Ok(())
}

/// The reader's side: every staged file's lines, decoded into batches sent to `batches`, each
/// file checked against the staged set once read. The rows decoded before a problem are sent
/// before it is returned, so an insert among them that fails is still reported first.
fn read_rows(
    decoder: &LineDecoder,
    source: &CopySource<'_>,
    batches: SyncSender<Batch>,
    recycled: Receiver<Batch>,
) -> Result<CopyCounts, StepError> {
    let mut batch = Batch::default();
    let result = read_files(decoder, source, &batches, &recycled, &mut batch);
    if !batch.rows.is_empty() {
        // Ignored when the inserts stopped: their error is the one reported.
        let _ = batches.send(batch);
    }
    result
}

fn read_files(
    decoder: &LineDecoder,
    source: &CopySource<'_>,
    batches: &SyncSender<Batch>,
    recycled: &Receiver<Batch>,
    batch: &mut Batch,
) -> Result<CopyCounts, StepError> {
    let mut counts = CopyCounts::default();
    for (index, file) in source.staged.files.iter().enumerate() {
        if source.cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        let before = counts.rows();
        each_staged_line(
            source.store,
            source.runtime,
            file,
            source.cancel,
            |_| (),
            |line_no, line| {
                let row = decoder.decode(line).map_err(|message| {
                    StepError::Failed(message).at(&at_line(source.staged, (index, line_no)))
                })?;
                counts.add(row.op);
                if row.op == Op::Delete && source.bound == Bound::TargetColumns {
                    return Ok(());
                }
                batch.values.push_row(row, source.bound);
                batch.rows.push((index, line_no));
                if batch.rows.len() < BATCH_ROWS {
                    return Ok(());
                }
                let full = std::mem::replace(batch, Batch::next(recycled));
                // The inserts stopped (their error is the one reported): stop reading.
                batches.send(full).map_err(|_| StepError::Cancelled)
            },
        )?;
        check_file_rows(file, counts.rows() - before).map_err(StepError::Failed)?;
    }
    check_totals(source.staged, counts).map_err(StepError::Failed)?;
    Ok(counts)
}
