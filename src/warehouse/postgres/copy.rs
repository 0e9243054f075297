//! The COPY step: `COPY stage (…) FROM STDIN` fed with every staged file, inside the load's
//! transaction.
//!
//! A blocking thread reads the files as they download (see
//! [`crate::warehouse::staged_files`]), decodes each line, checks it against the column spec
//! and writes it in COPY's text format ([`super::copy_text`]) into chunks; the async side sends
//! the chunks to the server as they come. Memory stays at a few chunks whatever the files' size.
//! The copy checks what the stage step promised (columns, rows per file, totals) and that the
//! server stored every row sent. A failure the server reports for a row ("COPY …, line N") is
//! traced back to its staged file and line.

use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::SinkExt;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio_postgres::{Client, CopyInSink};
use tokio_util::sync::CancellationToken;

use crate::contract::staged::{StagedFile, StagedSet};
use crate::store::ObjectStore;
use crate::warehouse::shape::TableShape;
use crate::warehouse::staged_files::{
    CopyCounts, check_file_rows, check_staged_columns, check_totals, each_staged_line,
};
use crate::warehouse::staged_lines::LineDecoder;

use super::copy_text::write_row;
use super::failure::StepError;

/// Size of one chunk of COPY data handed to the connection.
const CHUNK_BYTES: usize = 256 * 1024;

/// Chunks encoded ahead of the network.
const CHUNKS_IN_FLIGHT: usize = 4;

/// What the COPY reads and for which table.
pub(super) struct CopySource {
    pub store: Arc<dyn ObjectStore>,
    pub staged: StagedSet,
    pub shape: TableShape,
    pub cancel: CancellationToken,
}

/// Streams every staged file into the stage with `copy_sql`; returns the rows copied by op.
pub(super) async fn copy_staged_files(
    client: &Client,
    copy_sql: &str,
    source: CopySource,
) -> Result<CopyCounts, StepError> {
    check_staged_columns(&source.staged, &source.shape).map_err(StepError::Failed)?;
    let cancel = source.cancel.clone();
    let postgres = |e: &tokio_postgres::Error| StepError::postgres(e, copy_sql, &cancel);
    let sink = client.copy_in::<_, Bytes>(copy_sql).await.map_err(|e| postgres(&e))?;
    let mut sink = Box::pin(sink);
    let (chunks, received) = mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    let runtime = Handle::current();
    let encoder = tokio::task::spawn_blocking(move || encode_files(&source, &runtime, &chunks));
    let sent = send_chunks(sink.as_mut(), received).await;
    let encoded = encoder.await.map_err(|e| StepError::Failed(format!("the COPY encoder stopped: {e}")))?;
    sent.map_err(|e| postgres(&e))?;
    // On an encoding failure the sink is dropped unfinished, which aborts the COPY.
    let Encoded { counts, origins } = encoded?;
    let stored = sink.as_mut().finish().await.map_err(|e| {
        let failure = postgres(&e);
        locate_row(&e, &origins).map_or(failure.clone(), |location| failure.at(&location))
    })?;
    if stored != counts.rows() {
        return Err(StepError::Failed(format!(
            "the server stored {stored} rows of the {} sent; the COPY lost rows",
            counts.rows()
        )));
    }
    Ok(counts)
}

/// Sends the encoder's chunks until it is done. Stops at the first send error, dropping the
/// receiver, which stops the encoder too.
async fn send_chunks(
    mut sink: Pin<&mut CopyInSink<Bytes>>,
    mut received: mpsc::Receiver<Bytes>,
) -> Result<(), tokio_postgres::Error> {
    while let Some(chunk) = received.recv().await {
        sink.as_mut().send(chunk).await?;
    }
    Ok(())
}

/// What the encoder produced besides the data.
struct Encoded {
    counts: CopyCounts,
    origins: RowOrigins,
}

/// Runs on a blocking thread: every file, in order, into chunks on `chunks`.
fn encode_files(
    source: &CopySource,
    runtime: &Handle,
    chunks: &mpsc::Sender<Bytes>,
) -> Result<Encoded, StepError> {
    let decoder = LineDecoder::new(&source.shape);
    let columns: Vec<String> = source.shape.column_names().map(str::to_owned).collect();
    let mut writer = ChunkWriter { buffer: Vec::with_capacity(CHUNK_BYTES * 2), chunks };
    let mut counts = CopyCounts::default();
    let mut origins = RowOrigins::default();
    for file in &source.staged.files {
        if source.cancel.is_cancelled() {
            return Err(StepError::Cancelled);
        }
        let before = counts.rows();
        origins.files.push(FileRows {
            key: file.key.clone(),
            first_row: before + 1,
            blank_lines: Vec::new(),
        });
        let encoder = FileEncoder { decoder: &decoder, columns: &columns, file, source, runtime };
        encoder.encode(&mut writer, &mut counts, &mut origins)?;
        check_file_rows(file, counts.rows() - before).map_err(StepError::Failed)?;
    }
    writer.flush()?;
    check_totals(&source.staged, counts).map_err(StepError::Failed)?;
    Ok(Encoded { counts, origins })
}

/// Collects COPY rows and hands them on in chunks.
struct ChunkWriter<'a> {
    buffer: Vec<u8>,
    chunks: &'a mpsc::Sender<Bytes>,
}

impl ChunkWriter<'_> {
    fn flush_if_full(&mut self) -> Result<(), StepError> {
        if self.buffer.len() >= CHUNK_BYTES { self.flush() } else { Ok(()) }
    }

    fn flush(&mut self) -> Result<(), StepError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES * 2));
        // The receiver only goes away when sending to the server failed; that error is reported.
        self.chunks
            .blocking_send(Bytes::from(chunk))
            .map_err(|_| StepError::Failed("the connection stopped taking COPY data".into()))
    }
}

/// Encodes one staged file.
struct FileEncoder<'a> {
    decoder: &'a LineDecoder,
    columns: &'a [String],
    file: &'a StagedFile,
    source: &'a CopySource,
    runtime: &'a Handle,
}

impl FileEncoder<'_> {
    fn encode(
        &self,
        writer: &mut ChunkWriter<'_>,
        counts: &mut CopyCounts,
        origins: &mut RowOrigins,
    ) -> Result<(), StepError> {
        let at_line = |n: u64| format!("{} line {n}", self.file.key);
        let store = self.source.store.as_ref();
        let skip = |line_no| origins.skip_line(line_no);
        each_staged_line(store, self.runtime, self.file, &self.source.cancel, skip, |line_no, line| {
            let row = self
                .decoder
                .decode(line)
                .map_err(|message| StepError::Failed(message).at(&at_line(line_no)))?;
            write_row(&mut writer.buffer, &row, self.columns)
                .map_err(|message| StepError::Failed(message).at(&at_line(line_no)))?;
            counts.add(row.op);
            writer.flush_if_full()
        })
    }
}

/// Where each COPY row came from: rows are numbered across all files, in order, and blank
/// lines (which are skipped) shift a file's line numbers.
#[derive(Debug, Default)]
struct RowOrigins {
    files: Vec<FileRows>,
}

#[derive(Debug)]
struct FileRows {
    key: String,
    /// The 1-based COPY row number of the file's first row.
    first_row: u64,
    /// Line numbers of skipped blank lines, ascending.
    blank_lines: Vec<u64>,
}

impl RowOrigins {
    fn skip_line(&mut self, line_no: u64) {
        if let Some(file) = self.files.last_mut() {
            file.blank_lines.push(line_no);
        }
    }

    /// `key line n` of the 1-based COPY row `row`.
    fn locate(&self, row: u64) -> Option<String> {
        let file = self.files.iter().rev().find(|f| f.first_row <= row)?;
        let mut line = row - file.first_row + 1;
        for blank in &file.blank_lines {
            if *blank <= line {
                line += 1;
            }
        }
        Some(format!("{} line {line}", file.key))
    }
}

/// The staged file and line of the row a COPY error names in its context
/// (`COPY dynashift_stage, line 3, column …`).
fn locate_row(error: &tokio_postgres::Error, origins: &RowOrigins) -> Option<String> {
    let context = error.as_db_error()?.where_()?;
    origins.locate(copy_line(context)?)
}

fn copy_line(context: &str) -> Option<u64> {
    let rest = context.strip_prefix("COPY ")?;
    let (_, after) = rest.split_once(", line ")?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins() -> RowOrigins {
        RowOrigins {
            files: vec![
                FileRows { key: "a".into(), first_row: 1, blank_lines: vec![] },
                FileRows { key: "b".into(), first_row: 4, blank_lines: vec![2, 3] },
            ],
        }
    }

    #[test]
    fn copy_rows_are_traced_to_their_file_and_line() {
        let origins = origins();
        assert_eq!(origins.locate(1).as_deref(), Some("a line 1"));
        assert_eq!(origins.locate(3).as_deref(), Some("a line 3"));
        assert_eq!(origins.locate(4).as_deref(), Some("b line 1"));
        assert_eq!(origins.locate(5).as_deref(), Some("b line 4"));
        assert_eq!(origins.locate(0), None);
    }

    #[test]
    fn reads_the_line_from_postgres_copy_context() {
        assert_eq!(copy_line("COPY dynashift_stage, line 2"), Some(2));
        assert_eq!(copy_line("COPY dynashift_stage, line 17, column visits: \"x\""), Some(17));
        assert_eq!(copy_line("SQL statement \"…\""), None);
    }
}
