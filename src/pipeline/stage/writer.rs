//! Writing the staged output: compressed JSON Lines parts, the COPY manifest and the jsonpaths
//! file (the format is described in `docs/how-it-works.md`).
//!
//! Each worker owns a [`PartWriter`] and fills its own parts, so workers never wait for each
//! other. A part is compressed as it fills (gzip level 1 for Redshift, LZ4 for the warehouses
//! dynashift loads itself: [`StagedCompression`]; staging is meant to keep up with `zcat`) into
//! a temporary file ([`super::spool`]), and uploaded once it passes the table's
//! `staged_file_bytes`, so memory does not grow with the part size.

use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use flate2::Compression;
use flate2::write::GzEncoder;
use lz4_flex::frame::{BlockSize, FrameEncoder, FrameInfo};
use serde_json::json;
use tokio::runtime::Handle;

use crate::config::TableConfig;
use crate::contract::staged::StagedCompression;
use crate::pipeline::staged::StagedFile;
use crate::store::ObjectStore;

use super::error::StageError;
use super::progress::Progress;
use super::spool::SpoolFile;

/// gzip level of staged parts: level 1 compresses JSON Lines about 6× at several hundred MB/s.
const GZIP_LEVEL: u32 = 1;
/// Uncompressed bytes collected before they are handed to the compressor in one call.
const COMPRESS_CHUNK: usize = 256 * 1024;
/// Compressed bytes buffered before a write to the spool file.
const SPOOL_BUFFER: usize = 256 * 1024;

/// `<table>/staged/<run_id>/`: where one run's staged output lives.
pub(super) fn staged_prefix(table: &TableConfig, run_id: &str) -> String {
    format!("{}staged/{run_id}/", table.state_prefix())
}

/// The key of part `index`.
pub(super) fn part_key(prefix: &str, index: u32, compression: StagedCompression) -> String {
    format!("{prefix}part-{index:05}.{}", compression.extension())
}

/// Where the workers' parts go: the store, the part numbering and the list of written parts.
pub(super) struct PartSink {
    store: Arc<dyn ObjectStore>,
    handle: Handle,
    prefix: String,
    compression: StagedCompression,
    target_bytes: u64,
    /// Folder for the temporary files parts are compressed into.
    spool_dir: PathBuf,
    next_index: AtomicU32,
    written: Mutex<Vec<StagedFile>>,
    progress: Arc<Progress>,
}

/// Where a part sink writes: the store and key prefix, and the temporary folder it spools in.
pub(super) struct PartTarget {
    pub store: Arc<dyn ObjectStore>,
    pub handle: Handle,
    pub prefix: String,
    pub spool_dir: PathBuf,
    pub compression: StagedCompression,
}

impl PartSink {
    pub(super) fn new(target: PartTarget, target_bytes: u64, progress: Arc<Progress>) -> PartSink {
        PartSink {
            store: target.store,
            handle: target.handle,
            prefix: target.prefix,
            compression: target.compression,
            target_bytes: target_bytes.max(1),
            spool_dir: target.spool_dir,
            next_index: AtomicU32::new(0),
            written: Mutex::new(Vec::new()),
            progress,
        }
    }

    /// The folder parts (and a spilling stage's partitions) are spooled in.
    pub(super) fn spool_dir(&self) -> &std::path::Path {
        &self.spool_dir
    }

    /// Writes an empty part when no worker wrote any, so a staged set always has one file.
    pub(super) fn ensure_one_part(&self) -> Result<(), StageError> {
        if self.written.lock().unwrap_or_else(PoisonError::into_inner).is_empty() {
            OpenPart::create(self)?.finish_into(self)?;
        }
        Ok(())
    }

    /// The parts written, by key.
    pub(super) fn files(&self) -> Vec<StagedFile> {
        let mut files = self.written.lock().unwrap_or_else(PoisonError::into_inner).clone();
        files.sort_by(|a, b| a.key.cmp(&b.key));
        files
    }

    fn upload(&self, index: u32, spool: SpoolFile, rows: u64) -> Result<(), StageError> {
        let key = part_key(&self.prefix, index, self.compression);
        let size = spool.written_bytes().map_err(|source| spool_error(&spool, source))?;
        self.handle.block_on(self.store.put_file(&key, spool.path()))?;
        self.progress.add_bytes_out(size);
        let file = StagedFile { key, rows, bytes: size };
        self.written.lock().unwrap_or_else(PoisonError::into_inner).push(file);
        Ok(())
    }
}

/// One worker's output: lines not yet compressed, and the part being filled, if any.
pub(super) struct PartWriter {
    sink: Arc<PartSink>,
    pending: Vec<u8>,
    pending_rows: u64,
    open: Option<OpenPart>,
}

impl PartWriter {
    pub(super) fn new(sink: Arc<PartSink>) -> PartWriter {
        PartWriter {
            sink,
            pending: Vec::with_capacity(COMPRESS_CHUNK + 64 * 1024),
            pending_rows: 0,
            open: None,
        }
    }

    /// The buffer to append exactly one line to; call [`PartWriter::line_written`] after.
    pub(super) fn line_buffer(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    /// Counts the line just appended; compresses and rolls the part over when it is due.
    pub(super) fn line_written(&mut self) -> Result<(), StageError> {
        self.pending_rows += 1;
        let part_input = self.open.as_ref().map_or(0, |part| part.input_bytes);
        if part_input + self.pending.len() as u64 >= self.sink.target_bytes {
            self.compress_pending()?;
            return self.close_part();
        }
        if self.pending.len() >= COMPRESS_CHUNK {
            self.compress_pending()?;
        }
        Ok(())
    }

    /// Writes what is left, if anything.
    pub(super) fn finish(mut self) -> Result<(), StageError> {
        self.compress_pending()?;
        self.close_part()
    }

    /// Finishes every writer at once, each on a thread of its own: the last parts of a stage
    /// all close together, and each upload (a copy and an `fsync` on a local store, a PUT on
    /// S3) mostly waits, so one after another they would add up at the end of every stage.
    /// Returns the first error; every writer is finished (or failed) either way.
    pub(super) fn finish_all(writers: Vec<PartWriter>) -> Result<(), StageError> {
        let results: Vec<Result<(), StageError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = writers.into_iter().map(|writer| scope.spawn(|| writer.finish())).collect();
            handles
                .into_iter()
                .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        });
        results.into_iter().collect()
    }

    /// Hands the pending lines to the part's compressor, opening a part when none is open.
    fn compress_pending(&mut self) -> Result<(), StageError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let part = match &mut self.open {
            Some(part) => part,
            None => self.open.insert(OpenPart::create(&self.sink)?),
        };
        part.compress(&self.pending, self.pending_rows)?;
        self.pending.clear();
        self.pending_rows = 0;
        Ok(())
    }

    fn close_part(&mut self) -> Result<(), StageError> {
        match self.open.take() {
            Some(part) => part.finish_into(&self.sink),
            None => Ok(()),
        }
    }
}

/// A part being compressed into its spool file.
struct OpenPart {
    index: u32,
    encoder: PartEncoder,
    /// Uncompressed bytes handed to the encoder.
    input_bytes: u64,
    rows: u64,
}

impl OpenPart {
    fn create(sink: &PartSink) -> Result<OpenPart, StageError> {
        let spool = SpoolFile::create_named(&sink.spool_dir, "part", sink.compression.extension())
            .map_err(|source| StageError::Spool { path: sink.spool_dir.display().to_string(), source })?;
        let buffered = BufWriter::with_capacity(SPOOL_BUFFER, spool);
        let index = sink.next_index.fetch_add(1, Ordering::Relaxed);
        Ok(OpenPart { index, encoder: PartEncoder::new(sink.compression, buffered), input_bytes: 0, rows: 0 })
    }

    fn compress(&mut self, lines: &[u8], rows: u64) -> Result<(), StageError> {
        self.encoder.write_all(lines).map_err(|source| spool_error(self.encoder.spool(), source))?;
        self.input_bytes += lines.len() as u64;
        self.rows += rows;
        Ok(())
    }

    fn finish_into(self, sink: &PartSink) -> Result<(), StageError> {
        let path = self.encoder.spool().path().display().to_string();
        let buffered =
            self.encoder.finish().map_err(|source| StageError::Spool { path: path.clone(), source })?;
        let spool = buffered.into_inner().map_err(|e| StageError::Spool { path, source: e.into_error() })?;
        sink.upload(self.index, spool, self.rows)
    }
}

/// The compressor of one part, as the warehouse reads it.
enum PartEncoder {
    Gzip(GzEncoder<BufWriter<SpoolFile>>),
    /// With a content checksum, so a damaged file fails its load as a damaged gzip file does.
    Lz4(FrameEncoder<BufWriter<SpoolFile>>),
}

impl PartEncoder {
    fn new(compression: StagedCompression, out: BufWriter<SpoolFile>) -> PartEncoder {
        match compression {
            StagedCompression::Gzip => PartEncoder::Gzip(GzEncoder::new(out, Compression::new(GZIP_LEVEL))),
            StagedCompression::Lz4 => {
                let frame = FrameInfo::new().block_size(BlockSize::Max256KB).content_checksum(true);
                PartEncoder::Lz4(FrameEncoder::with_frame_info(frame, out))
            }
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            PartEncoder::Gzip(encoder) => encoder.write_all(bytes),
            PartEncoder::Lz4(encoder) => encoder.write_all(bytes),
        }
    }

    fn spool(&self) -> &SpoolFile {
        match self {
            PartEncoder::Gzip(encoder) => encoder.get_ref().get_ref(),
            PartEncoder::Lz4(encoder) => encoder.get_ref().get_ref(),
        }
    }

    /// Writes the format's trailer and hands back the (still buffered) spool file.
    fn finish(self) -> std::io::Result<BufWriter<SpoolFile>> {
        match self {
            PartEncoder::Gzip(encoder) => encoder.finish(),
            PartEncoder::Lz4(encoder) => encoder.finish().map_err(std::io::Error::from),
        }
    }
}

fn spool_error(spool: &SpoolFile, source: std::io::Error) -> StageError {
    StageError::Spool { path: spool.path().display().to_string(), source }
}

/// The Redshift COPY manifest listing `files` (every entry mandatory, with its compressed size).
pub(super) fn copy_manifest(store: &dyn ObjectStore, files: &[StagedFile]) -> Vec<u8> {
    let entries: Vec<serde_json::Value> = files
        .iter()
        .map(|file| json!({"url": store.url_of(&file.key), "mandatory": true, "meta": {"content_length": file.bytes}}))
        .collect();
    json!({ "entries": entries }).to_string().into_bytes()
}

/// The jsonpaths file: one bracket-notation path per staged column, in column order.
pub(super) fn jsonpaths(columns: &[String]) -> Vec<u8> {
    let paths: Vec<String> = columns.iter().map(|column| format!("$['{column}']")).collect();
    json!({ "jsonpaths": paths }).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::events::EventSink;
    use crate::pipeline::stage::testing::{orders_table, staged_text, store_in};
    use crate::store::LocalStore;

    fn sink(store: &LocalStore, spool_dir: &std::path::Path, target_bytes: u64) -> Arc<PartSink> {
        sink_as(store, spool_dir, target_bytes, StagedCompression::Gzip)
    }

    fn sink_as(
        store: &LocalStore,
        spool_dir: &std::path::Path,
        target_bytes: u64,
        compression: StagedCompression,
    ) -> Arc<PartSink> {
        let progress = Arc::new(Progress::new(EventSink::discard(), 0, std::time::Instant::now()));
        let target = PartTarget {
            store: Arc::new(store.clone()),
            handle: Handle::current(),
            prefix: "t/staged/r/".into(),
            spool_dir: spool_dir.to_owned(),
            compression,
        };
        Arc::new(PartSink::new(target, target_bytes, progress))
    }

    fn spool_files(dir: &tempfile::TempDir) -> usize {
        std::fs::read_dir(dir.path()).unwrap().count()
    }

    fn write_lines(writer: &mut PartWriter, lines: &[&str]) {
        for line in lines {
            writer.line_buffer().extend_from_slice(format!("{line}\n").as_bytes());
            writer.line_written().unwrap();
        }
    }

    #[test]
    fn keys_follow_the_staged_layout() {
        assert_eq!(staged_prefix(&orders_table(), "run-1"), "orders/staged/run-1/");
        let prefix = "orders/staged/run-1/";
        assert_eq!(part_key(prefix, 7, StagedCompression::Gzip), "orders/staged/run-1/part-00007.json.gz");
        assert_eq!(part_key(prefix, 7, StagedCompression::Lz4), "orders/staged/run-1/part-00007.json.lz4");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn parts_roll_over_past_the_target_size_in_either_compression() {
        for (compression, ending) in [(StagedCompression::Gzip, "gz"), (StagedCompression::Lz4, "lz4")] {
            let (_dir, store) = store_in();
            let spool = tempfile::tempdir().unwrap();
            let sink = sink_as(&store, spool.path(), 20, compression);
            let files = tokio::task::spawn_blocking({
                let sink = sink.clone();
                move || {
                    let mut writer = PartWriter::new(sink.clone());
                    write_lines(
                        &mut writer,
                        &["{\"a\":1}", "{\"a\":2}", "{\"a\":3}", "{\"a\":4}", "{\"a\":5}"],
                    );
                    writer.finish().unwrap();
                    sink.files()
                }
            })
            .await
            .unwrap();
            let rows: Vec<u64> = files.iter().map(|f| f.rows).collect();
            assert_eq!(rows, [3, 2], "a part closes once it reaches 20 bytes (3 lines of 8)");
            assert_eq!(files[0].key, format!("t/staged/r/part-00000.json.{ending}"));
            let first = staged_text(&files[0].key, &store.get(&files[0].key).await.unwrap());
            assert_eq!(first, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
            let second = staged_text(&files[1].key, &store.get(&files[1].key).await.unwrap());
            assert_eq!(second, "{\"a\":4}\n{\"a\":5}\n");
            assert_eq!(files[1].bytes, store.get(&files[1].key).await.unwrap().len() as u64);
            assert_eq!(spool_files(&spool), 0, "spool files are removed once uploaded");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_empty_stage_still_writes_one_part() {
        let (_dir, store) = store_in();
        let spool = tempfile::tempdir().unwrap();
        let sink = sink(&store, spool.path(), 1000);
        let files = tokio::task::spawn_blocking({
            let sink = sink.clone();
            move || {
                PartWriter::new(sink.clone()).finish().unwrap();
                sink.ensure_one_part().unwrap();
                sink.ensure_one_part().unwrap();
                sink.files()
            }
        })
        .await
        .unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].rows, 0);
        assert_eq!(staged_text(&files[0].key, &store.get(&files[0].key).await.unwrap()), "");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unwritable_spool_folder_is_a_spool_error() {
        let (_dir, store) = store_in();
        let sink = sink(&store, std::path::Path::new("/nonexistent/spool"), 1000);
        let error = tokio::task::spawn_blocking(move || {
            let mut writer = PartWriter::new(sink);
            write_lines(&mut writer, &["{}"]);
            writer.finish().unwrap_err()
        })
        .await
        .unwrap();
        assert!(
            matches!(&error, StageError::Spool { path, .. } if path.contains("/nonexistent/spool")),
            "{error}"
        );
        assert!(error.hint().contains("TMPDIR"));
    }

    #[tokio::test]
    async fn copy_manifest_and_jsonpaths_match_the_contract() {
        let (_dir, store) = store_in();
        let files = [StagedFile { key: "t/staged/r/part-00000.json.gz".into(), rows: 2, bytes: 31 }];
        let manifest: serde_json::Value = serde_json::from_slice(&copy_manifest(&store, &files)).unwrap();
        assert_eq!(
            manifest,
            json!({"entries":[{"url": store.url_of("t/staged/r/part-00000.json.gz"), "mandatory": true, "meta": {"content_length": 31}}]})
        );
        let paths = jsonpaths(&["dynashift_op".into(), "dynashift_ts".into(), "order_id".into()]);
        assert_eq!(
            String::from_utf8(paths).unwrap(),
            r#"{"jsonpaths":["$['dynashift_op']","$['dynashift_ts']","$['order_id']"]}"#
        );
    }
}
