//! Spilling the fold by key to disk, for incremental stages whose key set would not fit the
//! table's memory budget (`stage_memory_mb`).
//!
//! The in-memory fold ([`super::fold`]) keeps every staged key, about
//! [`IN_MEMORY_BYTES_PER_KEY`] bytes each. When the exports' changes (their manifests' item
//! counts, an upper bound of the changed keys) would pass the budget, the stage spills instead:
//! 1. every change is checked and mapped as usual, then written, with its export's rank (0 = the
//!    newest), its file and line, to one of several partition files by a hash of its key
//!    ([`SpillWriter`]), in the run's spool folder;
//! 2. each partition is folded on its own ([`super::spill_fold`]): the change of the newest
//!    export wins, a key twice in that export is an error naming the file, and the winners go
//!    out as staged lines. A partition larger than its share of the budget is split again.
//!
//! The staged rows and counts are those of the in-memory fold; only their order and their split
//! into parts differ, which nothing downstream reads (each staged key is unique).

use std::fs::File;
use std::hash::Hasher as _;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::error::StageError;
use super::fold::KeyHasher;
use super::spool::SpoolFile;

/// What one key costs the in-memory fold: the key set's entry and spare room, and the key's
/// string (about 140 B, measured on the stage benchmark's keys).
pub(super) const IN_MEMORY_BYTES_PER_KEY: u64 = 140;
/// What a spilled change costs in memory while its partition is folded, beyond its own bytes:
/// the map entry and two allocations.
pub(super) const FOLD_BYTES_PER_RECORD: u64 = 128;
/// Bytes a spilled change is assumed to take when the partitions are planned (its staged line
/// is not known yet); a partition that turns out larger is split again when it is folded.
const PLANNED_RECORD_BYTES: u64 = 256;
/// Most partitions of one split: each lane keeps a write buffer per partition.
pub(super) const MAX_PARTITIONS: u64 = 256;
/// Write buffer of one partition file of one lane.
const WRITE_BUFFER: usize = 32 * 1024;
/// Read buffer of a partition file.
pub(super) const READ_BUFFER: usize = 256 * 1024;
/// Fixed part of a record: rank, file, line, change, nulled, key length, staged length, hash,
/// compared digest.
const HEADER_BYTES: usize = 4 + 4 + 8 + 1 + 4 + 4 + 4 + 8 + 16;

/// How a stage spills: into how many partitions, and how much memory folding one may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SpillPlan {
    pub partitions: usize,
    /// Memory of one partition's fold: the budget shared by the threads folding at once.
    pub fold_budget: u64,
}

impl SpillPlan {
    /// `None` when `changes` keys fit `budget` bytes in the in-memory fold.
    pub(super) fn for_changes(changes: u64, budget: u64, threads: usize) -> Option<SpillPlan> {
        if changes.saturating_mul(IN_MEMORY_BYTES_PER_KEY) <= budget {
            return None;
        }
        let fold_budget = (budget / threads.max(1) as u64).max(1);
        let planned = changes.saturating_mul(PLANNED_RECORD_BYTES + FOLD_BYTES_PER_RECORD);
        let partitions = planned.div_ceil(fold_budget).clamp(2, MAX_PARTITIONS);
        Some(SpillPlan { partitions: partitions as usize, fold_budget })
    }
}

/// What a spilled line stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Change {
    Upsert = 0,
    Delete = 1,
    /// A value did not fit its column (`on_type_error = "fail"`): an error only if the change
    /// wins, and then read again from its file to report it.
    TypeError = 2,
}

/// One spilled change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record<K, S> {
    /// The export's place, newest first: the smallest rank wins.
    pub rank: u32,
    /// The data file, as an index into [`super::key_checks::KeyDigests`]' file names.
    pub file: u32,
    pub line: u64,
    pub change: Change,
    pub nulled: u32,
    /// What picks the key's partition ([`key_hash`], or its compared digest under Redshift, so
    /// that keys differing by trailing blanks meet in one partition).
    pub hash: u64,
    /// The digest of the key as Redshift compares it (see [`super::key_checks`]); 0 when the
    /// warehouse compares keys exactly.
    pub compared: u128,
    /// The key ([`crate::ddb::ItemKey`]'s text).
    pub key: K,
    /// The staged line, with its newline (empty for a type error).
    pub staged: S,
}

/// A record as it is written: borrowed.
pub(super) type RecordRef<'a> = Record<&'a [u8], &'a [u8]>;
/// A record as it is read back.
pub(super) type OwnedRecord = Record<Box<[u8]>, Box<[u8]>>;

impl RecordRef<'_> {
    fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut header = [0u8; HEADER_BYTES];
        header[0..4].copy_from_slice(&self.rank.to_le_bytes());
        header[4..8].copy_from_slice(&self.file.to_le_bytes());
        header[8..16].copy_from_slice(&self.line.to_le_bytes());
        header[16] = self.change as u8;
        header[17..21].copy_from_slice(&self.nulled.to_le_bytes());
        header[21..25].copy_from_slice(&length(self.key)?.to_le_bytes());
        header[25..29].copy_from_slice(&length(self.staged)?.to_le_bytes());
        header[29..37].copy_from_slice(&self.hash.to_le_bytes());
        header[37..53].copy_from_slice(&self.compared.to_le_bytes());
        out.write_all(&header)?;
        out.write_all(self.key)?;
        out.write_all(self.staged)
    }
}

fn length(bytes: &[u8]) -> io::Result<u32> {
    u32::try_from(bytes.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "record over 4 GiB"))
}

impl OwnedRecord {
    fn read_from(input: &mut impl Read) -> io::Result<OwnedRecord> {
        let mut header = [0u8; HEADER_BYTES];
        input.read_exact(&mut header)?;
        let u32_at = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().unwrap_or_default());
        let change = match header[16] {
            0 => Change::Upsert,
            1 => Change::Delete,
            2 => Change::TypeError,
            other => {
                let message = format!("spill record with change {other}: the spill file is damaged");
                return Err(io::Error::new(io::ErrorKind::InvalidData, message));
            }
        };
        let mut read_bytes = |len: u32| -> io::Result<Box<[u8]>> {
            let mut bytes = vec![0u8; len as usize];
            input.read_exact(&mut bytes)?;
            Ok(bytes.into_boxed_slice())
        };
        let key = read_bytes(u32_at(21))?;
        let staged = read_bytes(u32_at(25))?;
        Ok(Record {
            rank: u32_at(0),
            file: u32_at(4),
            line: u64::from_le_bytes(header[8..16].try_into().unwrap_or_default()),
            change,
            nulled: u32_at(17),
            hash: u64::from_le_bytes(header[29..37].try_into().unwrap_or_default()),
            compared: u128::from_le_bytes(header[37..53].try_into().unwrap_or_default()),
            key,
            staged,
        })
    }

    pub(super) fn as_ref(&self) -> RecordRef<'_> {
        Record {
            rank: self.rank,
            file: self.file,
            line: self.line,
            change: self.change,
            nulled: self.nulled,
            hash: self.hash,
            compared: self.compared,
            key: &self.key,
            staged: &self.staged,
        }
    }
}

/// The hash of a key's text that picks its partition when keys are compared exactly.
pub(super) fn key_hash(key: &[u8]) -> u64 {
    let mut hasher = KeyHasher::default();
    hasher.write(key);
    hasher.finish()
}

/// The partition (of `partitions`) a record with `hash` goes to in split `depth`. Each depth
/// mixes the hash differently, so a partition split again spreads over all of its
/// sub-partitions; and the mix keeps partitions from sharing hash bits the fold's hash map
/// relies on.
pub(super) fn partition_of(hash: u64, depth: u32, partitions: usize) -> usize {
    let mut x = hash ^ u64::from(depth + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // The splitmix64 finaliser.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    ((u128::from(x) * partitions as u128) >> 64) as usize
}

/// A partition file, written and closed: removed when dropped.
#[derive(Debug)]
pub(super) struct SpilledFile {
    file: SpoolFile,
    pub records: u64,
    pub bytes: u64,
}

impl SpilledFile {
    /// Reads the records back, in the order they were written.
    pub(super) fn records(
        &self,
    ) -> Result<impl Iterator<Item = Result<OwnedRecord, StageError>> + '_, StageError> {
        let path = self.file.path();
        let file = File::open(path).map_err(|source| spill_error(path, source))?;
        let mut input = BufReader::with_capacity(READ_BUFFER, file);
        Ok((0..self.records)
            .map(move |_| OwnedRecord::read_from(&mut input).map_err(|source| spill_error(path, source))))
    }
}

/// Partition files being written: one per partition, created on its first record.
#[derive(Debug)]
pub(super) struct SpillWriter {
    dir: PathBuf,
    depth: u32,
    partitions: Vec<Option<OpenFile>>,
}

#[derive(Debug)]
struct OpenFile {
    out: BufWriter<SpoolFile>,
    records: u64,
}

impl SpillWriter {
    /// Writes into `partitions` files in `dir`, by [`partition_of`] at `depth`.
    pub(super) fn new(dir: &Path, partitions: usize, depth: u32) -> SpillWriter {
        SpillWriter { dir: dir.to_owned(), depth, partitions: (0..partitions).map(|_| None).collect() }
    }

    /// How many partitions the records are spread over.
    pub(super) fn partitions(&self) -> usize {
        self.partitions.len()
    }

    pub(super) fn write(&mut self, record: &RecordRef<'_>) -> Result<(), StageError> {
        let index = partition_of(record.hash, self.depth, self.partitions.len());
        let open = match &mut self.partitions[index] {
            Some(open) => open,
            slot => {
                let file = SpoolFile::create_named(&self.dir, "spill", "bin")
                    .map_err(|source| spill_error(&self.dir, source))?;
                slot.insert(OpenFile { out: BufWriter::with_capacity(WRITE_BUFFER, file), records: 0 })
            }
        };
        open.records += 1;
        record.write_to(&mut open.out).map_err(|source| spill_error(open.out.get_ref().path(), source))
    }

    /// Flushes every file; the result has one entry per partition (`None`: nothing went there).
    pub(super) fn finish(self) -> Result<Vec<Option<SpilledFile>>, StageError> {
        self.partitions
            .into_iter()
            .map(|open| {
                let Some(OpenFile { out, records }) = open else { return Ok(None) };
                let file = out.into_inner().map_err(|e| {
                    let (source, out) = e.into_parts();
                    spill_error(out.get_ref().path(), source)
                })?;
                let bytes = file.written_bytes().map_err(|source| spill_error(file.path(), source))?;
                Ok(Some(SpilledFile { file, records, bytes }))
            })
            .collect()
    }
}

pub(super) fn spill_error(path: &Path, source: io::Error) -> StageError {
    StageError::Spool { path: path.display().to_string(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(rank: u32, key: &'a [u8], staged: &'a [u8]) -> RecordRef<'a> {
        let (hash, compared) = (key_hash(key), u128::MAX - 5);
        Record {
            rank,
            file: 7,
            line: 1 << 40,
            change: Change::Delete,
            nulled: 3,
            hash,
            compared,
            key,
            staged,
        }
    }

    #[test]
    fn the_fold_spills_only_past_the_budget() {
        assert_eq!(SpillPlan::for_changes(1000, 140_000, 2), None);
        let plan = SpillPlan::for_changes(1001, 140_000, 2).unwrap();
        assert_eq!(plan.fold_budget, 70_000);
        assert_eq!(plan.partitions, 6, "1001 × 384 B over 70 kB");
        assert_eq!(SpillPlan::for_changes(u64::MAX, 1, 4).unwrap().partitions, MAX_PARTITIONS as usize);
        assert_eq!(SpillPlan::for_changes(3, 300, 1).unwrap().partitions, 4, "3 × 384 B over 300 B");
    }

    #[test]
    fn records_go_to_their_keys_partition_and_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = SpillWriter::new(dir.path(), 4, 0);
        let keys: Vec<String> = (0..200).map(|i| format!(r#"{{"pk":{{"S":"k{i}"}}}}"#)).collect();
        for (i, key) in keys.iter().enumerate() {
            writer.write(&record(i as u32, key.as_bytes(), b"{\"a\":1}\n")).unwrap();
        }
        let files = writer.finish().unwrap();
        assert_eq!(files.len(), 4);
        let mut seen = 0;
        for (index, file) in files.iter().enumerate() {
            let file = file.as_ref().expect("200 keys reach every one of 4 partitions");
            for read in file.records().unwrap() {
                let read = read.unwrap();
                assert_eq!(partition_of(key_hash(&read.key), 0, 4), index);
                let key = &keys[read.rank as usize];
                assert_eq!(read.as_ref(), record(read.rank, key.as_bytes(), b"{\"a\":1}\n"));
                seen += 1;
            }
        }
        assert_eq!(seen, 200);
        let paths: Vec<_> = files.iter().flatten().map(|f| f.file.path().to_owned()).collect();
        drop(files);
        assert!(paths.iter().all(|p| !p.exists()), "partition files go when dropped");
    }

    #[test]
    fn another_depth_splits_a_partition_evenly() {
        let keys: Vec<String> = (0..4000).map(|i| format!("key-{i}")).collect();
        let first: Vec<&String> =
            keys.iter().filter(|k| partition_of(key_hash(k.as_bytes()), 0, 4) == 0).collect();
        let mut again = [0usize; 4];
        for key in &first {
            again[partition_of(key_hash(key.as_bytes()), 1, 4)] += 1;
        }
        assert!(again.iter().all(|&n| n > first.len() / 8), "{again:?} of {}", first.len());
    }

    #[test]
    fn a_damaged_record_is_an_error() {
        let mut bytes = Vec::new();
        record(0, b"k", b"x").write_to(&mut bytes).unwrap();
        bytes[16] = 9;
        assert!(OwnedRecord::read_from(&mut bytes.as_slice()).is_err());
        assert!(OwnedRecord::read_from(&mut &bytes[..10]).is_err());
    }
}
