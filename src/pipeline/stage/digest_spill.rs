//! The full export's key check, spilled to disk when its keys would not fit `stage_memory_mb`.
//!
//! A full export holds each key once, and the stage checks that by remembering a digest of
//! every key ([`super::key_checks::KeyDigests`]): up to [`DIGEST_BYTES_PER_KEY`] bytes a key,
//! which grows with the table (3.7 GB for 50 million items). Past the budget the digests go to
//! partition files instead, by digest, 32 bytes each; once every line is staged each partition is
//! read back on its own and checked in memory. Two lines with one key meet in one partition, so
//! the check finds what the in-memory one finds, only later: the stage fails before anything is
//! loaded either way.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::error::StageError;
use super::key_origin::{ClashFinder, FoundClash, Origin, Seen};
use super::spill::{partition_of, spill_error};
use super::spool::SpoolFile;

/// What one key costs the in-memory check at worst: its 32-byte entry, the hash table's control
/// byte, and the spare room just after the table grows (see `KeyDigests`).
pub(super) const DIGEST_BYTES_PER_KEY: u64 = 74;
/// One spilled digest: the compared digest, the exact digest, the file and the line.
const RECORD_BYTES: usize = 16 + 8 + 4 + 4;
/// Most partitions: each holds a write buffer while the export is read.
const MAX_PARTITIONS: u64 = 1024;
const WRITE_BUFFER: usize = 16 * 1024;
const READ_BUFFER: usize = 256 * 1024;
/// The split depth [`partition_of`] mixes with; the fold's spill uses 0 and up.
const DEPTH: u32 = u32::MAX - 1;

/// The digests of a full export's keys, in partition files under the run's spool folder.
#[derive(Debug)]
pub(super) struct DigestSpill {
    dir: PathBuf,
    partitions: Vec<Mutex<Option<Partition>>>,
}

#[derive(Debug)]
struct Partition {
    out: BufWriter<SpoolFile>,
    records: u64,
}

impl DigestSpill {
    /// How many partitions `keys` digests need so that one partition's check fits half of
    /// `budget` bytes (the other half is the stage's own); `None` when all of them fit the budget.
    pub(super) fn partitions_for(keys: u64, budget: u64) -> Option<usize> {
        let bytes = keys.saturating_mul(DIGEST_BYTES_PER_KEY);
        if bytes <= budget {
            return None;
        }
        let per_partition = (budget / 2).max(1);
        Some(bytes.div_ceil(per_partition).clamp(2, MAX_PARTITIONS) as usize)
    }

    /// Spills into `partitions` files in `dir`, each created on its first digest.
    pub(super) fn new(dir: &Path, partitions: usize) -> DigestSpill {
        DigestSpill { dir: dir.to_owned(), partitions: (0..partitions).map(|_| Mutex::new(None)).collect() }
    }

    pub(super) fn partitions(&self) -> usize {
        self.partitions.len()
    }

    /// Writes one key's digests to its partition.
    pub(super) fn write(&self, compared: u128, seen: Seen) -> Result<(), StageError> {
        let index = partition_of(compared as u64, DEPTH, self.partitions.len());
        let mut slot = self.partitions[index].lock().unwrap_or_else(PoisonError::into_inner);
        let partition = match &mut *slot {
            Some(partition) => partition,
            empty => {
                let file = SpoolFile::create_named(&self.dir, "keys", "bin")
                    .map_err(|source| spill_error(&self.dir, source))?;
                empty.insert(Partition { out: BufWriter::with_capacity(WRITE_BUFFER, file), records: 0 })
            }
        };
        partition.records += 1;
        let mut record = [0u8; RECORD_BYTES];
        record[0..16].copy_from_slice(&compared.to_le_bytes());
        record[16..24].copy_from_slice(&seen.exact.to_le_bytes());
        record[24..28].copy_from_slice(&seen.origin.file.to_le_bytes());
        record[28..32].copy_from_slice(&seen.origin.line.to_le_bytes());
        partition.out.write_all(&record).map_err(|source| spill_error(partition.out.get_ref().path(), source))
    }

    /// Reads each partition back and checks it in memory: the first key found twice, if any.
    /// The partition files are removed as they are checked.
    pub(super) fn first_clash(&self) -> Result<Option<FoundClash>, StageError> {
        for slot in &self.partitions {
            let Some(partition) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() else {
                continue;
            };
            let file = partition.out.into_inner().map_err(|e| {
                let (source, out) = e.into_parts();
                spill_error(out.get_ref().path(), source)
            })?;
            if let Some(clash) = clash_in(&file, partition.records)? {
                return Ok(Some(clash));
            }
        }
        Ok(None)
    }
}

/// The first key twice among `records` digests of `file`.
fn clash_in(file: &SpoolFile, records: u64) -> Result<Option<FoundClash>, StageError> {
    let path = file.path();
    let opened = std::fs::File::open(path).map_err(|source| spill_error(path, source))?;
    let mut input = BufReader::with_capacity(READ_BUFFER, opened);
    let mut finder = ClashFinder::with_capacity(usize::try_from(records).unwrap_or(usize::MAX));
    for _ in 0..records {
        let (compared, record) = read_record(&mut input).map_err(|source| spill_error(path, source))?;
        if let Some(clash) = finder.add(compared, record) {
            return Ok(Some(clash));
        }
    }
    Ok(None)
}

fn read_record(input: &mut impl Read) -> io::Result<(u128, Seen)> {
    let mut record = [0u8; RECORD_BYTES];
    input.read_exact(&mut record)?;
    let at = |from: usize, to: usize| &record[from..to];
    let compared = u128::from_le_bytes(at(0, 16).try_into().unwrap_or_default());
    let exact = u64::from_le_bytes(at(16, 24).try_into().unwrap_or_default());
    let file = u32::from_le_bytes(at(24, 28).try_into().unwrap_or_default());
    let line = u32::from_le_bytes(at(28, 32).try_into().unwrap_or_default());
    Ok((compared, Seen { exact, origin: Origin { file, line } }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stage::key_origin::KeyClash;

    fn seen(exact: u64, line: u32) -> Seen {
        Seen { exact, origin: Origin { file: 0, line } }
    }

    #[test]
    fn keys_that_fit_the_budget_are_not_spilled() {
        assert_eq!(DigestSpill::partitions_for(1_000, 1_000 * DIGEST_BYTES_PER_KEY), None);
        assert_eq!(DigestSpill::partitions_for(1_001, 1_000 * DIGEST_BYTES_PER_KEY), Some(3));
        // 50 million keys in the default 256 MiB: each partition's check fits 128 MiB.
        let partitions = DigestSpill::partitions_for(50_000_000, 256 << 20).unwrap();
        assert_eq!(partitions, 28);
        assert!(50_000_000 / partitions as u64 * DIGEST_BYTES_PER_KEY <= 128 << 20);
        assert_eq!(DigestSpill::partitions_for(u64::MAX, 1), Some(1024));
    }

    #[test]
    fn a_repeated_key_and_a_blank_twin_are_found_in_their_partition() {
        let dir = tempfile::tempdir().unwrap();
        let spill = DigestSpill::new(dir.path(), 8);
        for key in 0..1_000u128 {
            spill.write(key << 70 | key, seen(key as u64, key as u32 + 1)).unwrap();
        }
        assert_eq!(spill.first_clash().unwrap(), None);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "checked partitions are removed");

        let spill = DigestSpill::new(dir.path(), 8);
        spill.write(7, seen(70, 1)).unwrap();
        spill.write(8, seen(80, 2)).unwrap();
        spill.write(7, seen(70, 3)).unwrap();
        let found = spill.first_clash().unwrap().unwrap();
        assert_eq!(
            found,
            FoundClash {
                clash: KeyClash::Repeated { first: Origin { file: 0, line: 1 } },
                second: Origin { file: 0, line: 3 }
            }
        );

        let spill = DigestSpill::new(dir.path(), 8);
        spill.write(9, seen(90, 4)).unwrap();
        spill.write(9, seen(91, 5)).unwrap();
        let found = spill.first_clash().unwrap().unwrap();
        assert_eq!(found.clash, KeyClash::BlankTwin { first: Origin { file: 0, line: 4 } });
        assert_eq!(found.second.line, 5);
    }

    #[test]
    fn a_full_spool_folder_is_a_spool_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let spill = DigestSpill::new(&gone, 2);
        let error = spill.write(1, seen(1, 1)).unwrap_err();
        assert!(matches!(error, StageError::Spool { .. }), "{error:?}");
        assert!(error.to_string().contains("gone"), "{error}");
    }
}
