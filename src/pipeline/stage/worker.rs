//! The stage step's hot path: workers (one per core) take an export's data files from a shared
//! queue, stream each one line by line through fold → map → their own staged parts, and verify
//! it against its manifest entry.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::error::Category;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::config::TableConfig;
use crate::contract::StageRules;
use crate::ddb::ItemKey;
use crate::store::ObjectStore;

use super::checksum::checksum_matches;
use super::diagnose::{describe, failing_path, lenient_key};
use super::drift::{DriftTally, MappedTree};
use super::error::{StageError, capped};
use super::fold::{ExportKeys, KeyFold};
use super::image::Map;
use super::key_checks::{KeyDigests, KeyTypes, LaneDigests, digests};
use super::key_origin::Origin;
use super::lines::{ChangeLine, FullItemLine, item_key, key_problem, keys_disagree};
use super::manifest::{DataFile, ExportFiles, ExportKind};
use super::map::RowMapper;
use super::progress::{CountsDelta, Progress};
use super::reader::DataFileReader;
use super::scan::Scanned;
use super::spill::{Change, Record, SpillWriter, key_hash};
use super::writer::PartWriter;

/// Lines between two checks for cancellation and two progress flushes.
const LINES_PER_CHECK: u64 = 2048;

/// Most keys a worker's key set is sized for up front.
const MAX_PRESIZED_KEYS: usize = 1 << 22;

/// What every worker shares.
pub(super) struct Workers<'a> {
    pub table: &'a TableConfig,
    pub mapper: &'a RowMapper,
    pub store: Arc<dyn ObjectStore>,
    pub handle: Handle,
    pub cancel: &'a CancellationToken,
    pub progress: &'a Progress,
    pub rules: StageRules,
    pub key_types: &'a KeyTypes,
    pub digests: &'a KeyDigests,
    /// The paths the columns read, which each image's drift is counted against.
    pub mapped: &'a MappedTree,
}

/// One worker thread's output: its staged parts, and its partition files when the stage spills.
pub(super) struct Lane {
    pub part: PartWriter,
    pub spill: Option<SpillWriter>,
    /// The drift of every image this worker read, merged with the others' at the end.
    pub drift: DriftTally,
    /// The keys this worker read, checked with the others' at the end.
    pub digests: LaneDigests,
    /// A spilled change's staged line, before it is written with its key.
    scratch: Vec<u8>,
}

impl Lane {
    pub(super) fn new(part: PartWriter, spill: Option<SpillWriter>, drift: DriftTally) -> Lane {
        Lane { part, spill, drift, digests: LaneDigests::default(), scratch: Vec::new() }
    }
}

/// One export being staged: its files, handed out in order, and the first error (which stops
/// every worker).
struct ExportRun<'a> {
    export: &'a ExportFiles,
    fold: &'a KeyFold,
    /// The export's place among the run's, newest first (what a spilled change records).
    rank: u32,
    /// Indexes into the export's files, in the order workers take them ([`largest_first`]).
    queue: Vec<usize>,
    next_file: AtomicUsize,
    stop: AtomicBool,
    failure: Mutex<Option<StageError>>,
}

/// The order workers take an export's files in: most items first (the manifest's count), ties in
/// manifest order. A worker is busy for as long as its files take, and the stage ends with the
/// last one; taking the largest files first leaves small ones to even out the end, instead of a
/// large file started last keeping one worker busy while the others wait. (DynamoDB's data files
/// of one export differ in size.)
fn largest_first(files: &[DataFile]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&index| std::cmp::Reverse(files[index].item_count));
    order
}

impl Workers<'_> {
    /// Stages every file of `export` with one thread per lane (at most one per file). Returns
    /// the keys each worker staged (empty for a full export, and when the lanes spill).
    pub(super) fn stage_export(
        &self,
        export: &ExportFiles,
        fold: &KeyFold,
        rank: u32,
        lanes: &mut [Lane],
    ) -> Result<Vec<ExportKeys>, StageError> {
        let spilling = lanes.iter().any(|lane| lane.spill.is_some());
        let run = ExportRun {
            export,
            fold,
            rank,
            queue: largest_first(&export.files),
            next_file: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            failure: Mutex::new(None),
        };
        let threads = lanes.len().min(export.files.len());
        let expected_keys = match export.kind {
            ExportKind::Incremental if spilling => 0,
            ExportKind::Incremental => {
                let items: u64 = export.files.iter().map(|f| f.item_count).sum();
                // The manifest is not verified yet: never trust it with an unbounded allocation.
                usize::try_from(items / threads.max(1) as u64).unwrap_or(usize::MAX).min(MAX_PRESIZED_KEYS)
            }
            ExportKind::Full => 0,
        };
        let keys = std::thread::scope(|scope| {
            let handles: Vec<_> = lanes
                .iter_mut()
                .take(threads)
                .map(|lane| scope.spawn(|| self.work(&run, lane, expected_keys)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                .collect()
        });
        match run.failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
            Some(error) => Err(error),
            None => Ok(keys),
        }
    }

    /// One worker: files from the queue until it is empty, cancelled, or a worker failed.
    fn work(&self, run: &ExportRun<'_>, lane: &mut Lane, expected_keys: usize) -> ExportKeys {
        let mut keys = ExportKeys::with_capacity(expected_keys);
        loop {
            if run.stop.load(Ordering::Relaxed) {
                break;
            }
            if self.cancel.is_cancelled() {
                run.fail(StageError::Cancelled);
                break;
            }
            let next = run.queue.get(run.next_file.fetch_add(1, Ordering::Relaxed));
            let Some(file) = next.and_then(|&index| run.export.files.get(index)) else {
                break;
            };
            if let Err(error) = self.stage_file(run, file, lane, &mut keys) {
                run.fail(error);
                break;
            }
        }
        keys
    }

    fn stage_file(
        &self,
        run: &ExportRun<'_>,
        file: &DataFile,
        lane: &mut Lane,
        keys: &mut ExportKeys,
    ) -> Result<(), StageError> {
        let mut reader = DataFileReader::open(self.store.as_ref(), &self.handle, &file.key)?;
        let file_index = self.digests.file_index(&file.key);
        let mut file_stage =
            FileStage { workers: self, run, lane, keys, delta: CountsDelta::default(), file_index };
        let mut line = Vec::with_capacity(16 * 1024);
        let mut items = 0u64;
        let mut bytes_reported = 0u64;
        while reader.read_line(&mut line)? {
            items += 1;
            file_stage.delta.items_read += 1;
            file_stage.apply_line(&reader, &line)?;
            if items.is_multiple_of(LINES_PER_CHECK) {
                if self.cancel.is_cancelled() || run.stop.load(Ordering::Relaxed) {
                    return Err(StageError::Cancelled);
                }
                let bytes = reader.compressed_bytes();
                file_stage.delta.bytes_in += bytes - bytes_reported;
                bytes_reported = bytes;
                self.progress.add(&mut file_stage.delta);
                self.progress.tick();
            }
        }
        let digest = reader.finish()?;
        file_stage.delta.bytes_in += digest.bytes - bytes_reported;
        self.progress.add(&mut file_stage.delta);
        verify(file, items, &digest.md5_base64)?;
        self.progress.file_verified(&file.key, items, file.md5.is_some());
        Ok(())
    }
}

impl ExportRun<'_> {
    /// Records the first failure and stops the other workers. Later failures (often just
    /// "stopped") are dropped.
    fn fail(&self, error: StageError) {
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        if failure.is_none() {
            *failure = Some(error);
        }
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A data file against its manifest entry: line count always, MD5 when the manifest has one.
fn verify(file: &DataFile, items: u64, md5_base64: &str) -> Result<(), StageError> {
    if items != file.item_count {
        return Err(StageError::CountMismatch {
            key: file.key.clone(),
            expected: file.item_count,
            actual: items,
        });
    }
    match &file.md5 {
        Some(expected) if !checksum_matches(expected, md5_base64) => Err(StageError::Md5Mismatch {
            key: file.key.clone(),
            expected: expected.clone(),
            actual: md5_base64.into(),
        }),
        _ => Ok(()),
    }
}

/// One worker's state while it reads one file.
struct FileStage<'w, 'a> {
    workers: &'w Workers<'a>,
    run: &'w ExportRun<'w>,
    lane: &'w mut Lane,
    keys: &'w mut ExportKeys,
    delta: CountsDelta,
    /// This file in [`KeyDigests`]' list of files.
    file_index: u32,
}

impl FileStage<'_, '_> {
    fn apply_line(&mut self, reader: &DataFileReader, line: &[u8]) -> Result<(), StageError> {
        match self.run.export.kind {
            ExportKind::Full => self.apply_full_line(reader, line),
            ExportKind::Incremental => self.apply_incremental_line(reader, line),
        }
    }

    fn apply_full_line(&mut self, reader: &DataFileReader, line: &[u8]) -> Result<(), StageError> {
        let FullItemLine { item } = self.parse_line(reader, line)?;
        self.check_key(reader, line, &item, "Item")?;
        self.workers.mapped.observe(&item, &mut self.lane.drift);
        self.record_key(reader, &item)?;
        let mapper = self.workers.mapper;
        let nulled = mapper
            .write_upsert(self.lane.part.line_buffer(), &item, None)
            .map_err(|e| type_error(reader, e))?;
        self.delta.nulled_values += nulled;
        self.delta.upserts += 1;
        self.lane.part.line_written()
    }

    fn apply_incremental_line(&mut self, reader: &DataFileReader, line: &[u8]) -> Result<(), StageError> {
        let change: ChangeLine<'_> = self.parse_line(reader, line)?;
        let write_micros = change.write_micros().ok_or_else(|| {
            let reason = "Metadata.WriteTimestampMicros is not an integer N value";
            self.line_error(reader, line, Some("Metadata.WriteTimestampMicros"), reason)
        })?;
        let key_attributes = &self.workers.table.key;
        self.check_key(reader, line, &change.keys, "Keys")?;
        if let Some(image) = &change.new_image {
            self.check_key(reader, line, image, "NewImage")?;
            if let Some((name, reason)) = keys_disagree(&change.keys, image, key_attributes) {
                return Err(self.line_error(reader, line, Some(&format!("NewImage.{name}")), &reason));
            }
        }
        let key = item_key(&change.keys, key_attributes)
            .ok_or_else(|| self.line_error(reader, line, Some("Keys"), "`Keys` lacks a key attribute"))?;
        // Every new image counts, superseded or not: in memory and spilled alike.
        if let Some(image) = &change.new_image {
            self.workers.mapped.observe(image, &mut self.lane.drift);
        }
        if self.lane.spill.is_some() {
            return self.spill_change(reader, &change, &key, write_micros);
        }
        if self.run.fold.is_superseded(&key) {
            self.delta.superseded += 1;
            return Ok(());
        }
        self.keys.record(&self.run.export.export_arn, key, reader.key())?;
        if self.workers.rules.trailing_blanks_insignificant {
            self.record_key(reader, &change.keys)?;
        }
        let mapper = self.workers.mapper;
        let buffer = self.lane.part.line_buffer();
        let nulled = match &change.new_image {
            Some(image) => mapper.write_upsert(buffer, image, Some(write_micros)),
            None => mapper.write_delete(buffer, &change.keys, write_micros),
        }
        .map_err(|e| type_error(reader, e))?;
        self.delta.nulled_values += nulled;
        match change.new_image {
            Some(_) => self.delta.upserts += 1,
            None => self.delta.deletes += 1,
        }
        self.lane.part.line_written()
    }

    /// A change of a spilling stage: checked and mapped like any, then written to its key's
    /// partition; the fold by key and the counts come when the partitions are folded. A value
    /// that does not fit its column is an error only if the change wins the fold, as in memory.
    fn spill_change(
        &mut self,
        reader: &DataFileReader,
        change: &ChangeLine<'_>,
        key: &ItemKey,
        write_micros: i64,
    ) -> Result<(), StageError> {
        // Under Redshift the fold checks its winners for trailing-blank twins, which the
        // compared digest sends to one partition.
        let (hash, compared) = match self.workers.rules.trailing_blanks_insignificant {
            true => {
                let (compared, _) = digests(&change.keys, &self.workers.table.key, true);
                (compared as u64, compared)
            }
            false => (key_hash(key.0.as_bytes()), 0),
        };
        let mapper = self.workers.mapper;
        let Lane { spill, scratch, .. } = &mut *self.lane;
        scratch.clear();
        let mapped = match &change.new_image {
            Some(image) => mapper.write_upsert(scratch, image, Some(write_micros)),
            None => mapper.write_delete(scratch, &change.keys, write_micros),
        };
        let (kind, nulled) = match mapped {
            Ok(nulled) if change.new_image.is_some() => (Change::Upsert, nulled),
            Ok(nulled) => (Change::Delete, nulled),
            Err(_) => {
                scratch.clear();
                (Change::TypeError, 0)
            }
        };
        let record = Record {
            rank: self.run.rank,
            file: self.file_index,
            line: reader.line_number(),
            change: kind,
            nulled: u32::try_from(nulled).unwrap_or(u32::MAX),
            hash,
            compared,
            key: key.0.as_bytes(),
            staged: scratch.as_slice(),
        };
        match spill {
            Some(spill) => spill.write(&record),
            None => Ok(()),
        }
    }

    /// `image` (`what`: `Item`, `Keys`, `NewImage`) has every key attribute, of a key type, of the
    /// type earlier lines gave it.
    fn check_key(
        &self,
        reader: &DataFileReader,
        line: &[u8],
        image: &Map<'_>,
        what: &str,
    ) -> Result<(), StageError> {
        let key_attributes = &self.workers.table.key;
        if let Some(problem) = key_problem(image, key_attributes, what) {
            return Err(self.line_error(reader, line, Some(what), &problem));
        }
        let types = self.workers.key_types;
        match types.check(image, key_attributes, what, reader.key(), reader.line_number()) {
            Some((path, reason)) => Err(self.line_error(reader, line, Some(&path), &reason)),
            None => Ok(()),
        }
    }

    /// Remembers the key's digest, checked once every line is read: a full export holds each
    /// item once, and under Redshift no two staged keys may differ only by trailing blanks.
    fn record_key(&mut self, reader: &DataFileReader, image: &Map<'_>) -> Result<(), StageError> {
        let line_number = u32::try_from(reader.line_number()).unwrap_or(u32::MAX);
        let origin = Origin { file: self.file_index, line: line_number };
        let key_attributes = &self.workers.table.key;
        self.workers.digests.record(&mut self.lane.digests, image, key_attributes, origin)
    }

    /// Parses one line: through the fast scanner when the line is in its subset, through
    /// serde_json otherwise. A syntax error is invalid JSON, a shape error names the path and the
    /// key.
    fn parse_line<'de, T: serde::Deserialize<'de> + Scanned<'de>>(
        &self,
        reader: &DataFileReader,
        line: &'de [u8],
    ) -> Result<T, StageError> {
        if let Some(parsed) = T::scan(line) {
            return Ok(parsed);
        }
        serde_json::from_slice(line).map_err(|source| match source.classify() {
            Category::Data => {
                let path = failing_path::<T>(line);
                self.line_error(reader, line, path.as_deref(), &capped(&source.to_string()))
            }
            Category::Syntax | Category::Eof | Category::Io => {
                StageError::InvalidJson { key: reader.key().into(), line: reader.line_number(), source }
            }
        })
    }

    /// A line that is not an export line of this table: names its file, line, item and path.
    fn line_error(
        &self,
        reader: &DataFileReader,
        line: &[u8],
        path: Option<&str>,
        reason: &str,
    ) -> StageError {
        let item = lenient_key(line, &self.workers.table.key);
        StageError::NotAnItem {
            key: reader.key().into(),
            line: reader.line_number(),
            reason: describe(item.as_deref(), path, reason),
        }
    }
}

pub(super) fn type_error(reader: &DataFileReader, error: Box<super::map::TypeError>) -> StageError {
    StageError::Type { key: reader.key().into(), line: reader.line_number(), error }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str, item_count: u64) -> DataFile {
        DataFile { key: key.into(), item_count, md5: None }
    }

    #[test]
    fn workers_take_the_largest_files_first_and_ties_in_manifest_order() {
        let files = [file("a", 10), file("b", 500), file("c", 10), file("d", 70), file("e", 500)];
        assert_eq!(largest_first(&files), [1, 4, 3, 0, 2]);
        assert_eq!(largest_first(&[]), Vec::<usize>::new());
    }
}
