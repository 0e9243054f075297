//! The second half of a spilled stage ([`super::spill`]): each partition is folded in memory on
//! its own, one per worker thread at a time, and its winners go out as staged lines.
//!
//! A partition holds every change of its keys, from every export: the change of the newest
//! export (the smallest rank) wins and the others count as superseded, exactly as the in-memory
//! fold drops them. Two changes of one key in the winning export are the export's error
//! ([`StageError::DuplicateKey`]); in an older export they are superseded, as in memory.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use crate::ddb::ItemKey;

use super::error::{StageError, capped};
use super::fold::KeyHasher;
use super::key_origin::Origin;
use super::progress::CountsDelta;
use super::spill::{
    Change, FOLD_BYTES_PER_RECORD, MAX_PARTITIONS, OwnedRecord, SpillPlan, SpillWriter, SpilledFile,
};
use super::worker::Workers;
use super::writer::PartWriter;

/// Most times a partition too large for its budget is split again (256⁴ partitions: enough
/// for any budget; past it a partition is folded however large it is).
const MAX_SPLITS: u32 = 3;
/// Records folded between two checks for cancellation.
const RECORDS_PER_CHECK: u64 = 4096;

/// The change a key's fold keeps so far.
struct Winner {
    rank: u32,
    file: u32,
    line: u64,
    change: Change,
    nulled: u32,
    compared: u128,
    staged: Box<[u8]>,
    /// A file holding the key again in the same export (an error if this export wins).
    again_in: Option<u32>,
}

impl Winner {
    fn of(record: OwnedRecord) -> Winner {
        Winner {
            rank: record.rank,
            file: record.file,
            line: record.line,
            change: record.change,
            nulled: record.nulled,
            compared: record.compared,
            staged: record.staged,
            again_in: None,
        }
    }
}

/// What every folding thread shares.
pub(super) struct SpillFold<'a> {
    pub plan: SpillPlan,
    /// The exports' ARNs by rank (newest first).
    pub export_arns: &'a [String],
    pub spool_dir: &'a std::path::Path,
    /// Keys differing only by trailing blanks may not both stage (Redshift).
    pub refuse_blank_twins: bool,
}

/// The partitions left to fold, and the first failure (which stops every thread).
struct Queue {
    partitions: Mutex<Vec<Vec<SpilledFile>>>,
    stop: AtomicBool,
    failure: Mutex<Option<StageError>>,
}

impl Workers<'_> {
    /// Folds `partitions` (each the files of every lane for one partition) into `writers`, one
    /// thread per writer. A partition's files are removed once it is folded.
    pub(super) fn fold_spilled(
        &self,
        fold: &SpillFold<'_>,
        partitions: Vec<Vec<SpilledFile>>,
        writers: &mut [PartWriter],
    ) -> Result<(), StageError> {
        let threads = writers.len().min(partitions.len());
        let queue = Queue {
            partitions: Mutex::new(partitions),
            stop: AtomicBool::new(false),
            failure: Mutex::new(None),
        };
        std::thread::scope(|scope| {
            let handles: Vec<_> = writers
                .iter_mut()
                .take(threads)
                .map(|writer| scope.spawn(|| self.fold_from_queue(fold, &queue, writer)))
                .collect();
            for handle in handles {
                handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            }
        });
        match queue.failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn fold_from_queue(&self, fold: &SpillFold<'_>, queue: &Queue, writer: &mut PartWriter) {
        loop {
            if queue.stop.load(Ordering::Relaxed) {
                return;
            }
            let next = queue.partitions.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let Some(files) = next else { return };
            if let Err(error) = self.fold_partition(fold, files, 0, writer, &queue.stop) {
                let mut failure = queue.failure.lock().unwrap_or_else(PoisonError::into_inner);
                failure.get_or_insert(error);
                queue.stop.store(true, Ordering::Relaxed);
                return;
            }
        }
    }

    /// Folds one partition in memory, or splits it first when it would not fit its budget.
    fn fold_partition(
        &self,
        fold: &SpillFold<'_>,
        files: Vec<SpilledFile>,
        depth: u32,
        writer: &mut PartWriter,
        stop: &AtomicBool,
    ) -> Result<(), StageError> {
        let records: u64 = files.iter().map(|f| f.records).sum();
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let memory = bytes + records * FOLD_BYTES_PER_RECORD;
        if memory <= fold.plan.fold_budget || depth >= MAX_SPLITS || records < 2 {
            return self.fold_in_memory(fold, &files, records, writer, stop);
        }
        let parts = memory.div_ceil(fold.plan.fold_budget).clamp(2, MAX_PARTITIONS) as usize;
        let mut split = SpillWriter::new(fold.spool_dir, parts, depth + 1);
        for file in &files {
            for record in file.records()? {
                split.write(&record?.as_ref())?;
            }
        }
        drop(files);
        for part in split.finish()?.into_iter().flatten() {
            self.fold_partition(fold, vec![part], depth + 1, writer, stop)?;
        }
        Ok(())
    }

    fn fold_in_memory(
        &self,
        fold: &SpillFold<'_>,
        files: &[SpilledFile],
        records: u64,
        writer: &mut PartWriter,
        stop: &AtomicBool,
    ) -> Result<(), StageError> {
        let capacity = usize::try_from(records).unwrap_or(usize::MAX).min(1 << 24);
        let mut winners: HashMap<Box<[u8]>, Winner, BuildHasherDefault<KeyHasher>> =
            HashMap::with_capacity_and_hasher(capacity, BuildHasherDefault::default());
        let mut delta = CountsDelta::default();
        let mut read = 0u64;
        for file in files {
            for record in file.records()? {
                let mut record = record?;
                read += 1;
                if read.is_multiple_of(RECORDS_PER_CHECK)
                    && (self.cancel.is_cancelled() || stop.load(Ordering::Relaxed))
                {
                    return Err(StageError::Cancelled);
                }
                match winners.entry(std::mem::take(&mut record.key)) {
                    Entry::Vacant(vacant) => {
                        vacant.insert(Winner::of(record));
                    }
                    Entry::Occupied(mut occupied) => {
                        delta.superseded += 1;
                        let winner = occupied.get_mut();
                        if record.rank < winner.rank {
                            *winner = Winner::of(record);
                        } else if record.rank == winner.rank {
                            winner.again_in.get_or_insert(record.file);
                        }
                    }
                }
            }
        }
        if fold.refuse_blank_twins {
            self.refuse_blank_twins(&winners)?;
        }
        for (key, winner) in winners {
            self.stage_winner(fold, &key, winner, writer, &mut delta)?;
        }
        self.progress.add(&mut delta);
        Ok(())
    }

    /// Two winners with one compared digest are two keys differing only by trailing blanks (the
    /// winners' exact keys all differ); the in-memory stage refuses them through
    /// [`super::key_checks::KeyDigests`], which records exactly the staged keys too.
    fn refuse_blank_twins(
        &self,
        winners: &HashMap<Box<[u8]>, Winner, BuildHasherDefault<KeyHasher>>,
    ) -> Result<(), StageError> {
        let mut seen: HashMap<u128, &Winner> = HashMap::with_capacity(winners.len());
        for (key, winner) in winners {
            let Some(first) = seen.insert(winner.compared, winner) else { continue };
            let file_name = |file: u32| self.digests.file_name(Origin { file, line: 0 });
            let first_file = file_name(first.file);
            return Err(StageError::BlankTwinKeys {
                key: key_text(key),
                file: file_name(winner.file),
                line: winner.line,
                first_key: self.refind_key(&first_file, first.line),
                first_file,
                first_line: first.line,
            });
        }
        Ok(())
    }

    fn stage_winner(
        &self,
        fold: &SpillFold<'_>,
        key: &[u8],
        winner: Winner,
        writer: &mut PartWriter,
        delta: &mut CountsDelta,
    ) -> Result<(), StageError> {
        let file_name = |file: u32| self.digests.file_name(Origin { file, line: 0 });
        if let Some(file) = winner.again_in {
            let export_arn = fold.export_arns.get(winner.rank as usize).cloned().unwrap_or_default();
            return Err(StageError::DuplicateKey { export_arn, key: key_text(key), file: file_name(file) });
        }
        match winner.change {
            Change::TypeError => return Err(self.refind_type_error(&file_name(winner.file), winner.line)),
            Change::Upsert => delta.upserts += 1,
            Change::Delete => delta.deletes += 1,
        }
        delta.nulled_values += u64::from(winner.nulled);
        writer.line_buffer().extend_from_slice(&winner.staged);
        writer.line_written()
    }
}

/// A spilled key ([`ItemKey`]'s text) as error messages show it.
fn key_text(key: &[u8]) -> String {
    capped(&ItemKey(String::from_utf8_lossy(key).into_owned()).to_string()).into_owned()
}
