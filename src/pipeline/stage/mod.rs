//! The stage step: a run's completed exports → load-ready staged files.
//!
//! 1. Read every export's manifests ([`manifest`]) and refuse what cannot be staged (ION, a
//!    missing manifest, counts that do not add up) before reading any data.
//! 2. Stream the data files on one worker thread per core, up to four ([`worker`]): gzip → lines
//!    ([`reader`]) parsed without copying ([`lines`], [`image`]) → fold by key, newest export
//!    first ([`fold`]) → one staged line per change ([`map`], [`lookup`], [`coerce`],
//!    [`datetime`]) → each worker's own gzip parts ([`writer`]). Each file is verified against its
//!    manifest entry (item count, and MD5 when given); progress goes out as events ([`progress`]).
//! 3. Write the COPY manifest and the jsonpaths file, and report the counts.
//!
//! Memory stays flat in the size of the export: files are streamed, and the only thing that
//! grows is the set of keys staged from incremental exports (the number of changed keys).
//! Any error fails the stage step, and the run with it, before anything is loaded.

mod checksum;
mod coerce;
mod datetime;
mod diagnose;
mod digest_spill;
mod drift;
mod drift_report;
mod error;
mod fold;
#[doc(hidden)]
pub mod fuzzing;
mod image;
mod key_checks;
mod key_origin;
mod lines;
mod lookup;
pub mod manifest;
pub mod map;
mod progress;
mod pushdown;
mod pushdown_changes;
mod reader;
mod reread;
mod scan;
mod spill;
mod spill_fold;
mod spool;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;
mod type_error;
mod worker;
mod writer;

use std::sync::Arc;
use std::time::Instant;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use super::events::{EventKind, EventSink, StageCounts};
use super::staged::{StagedFile, StagedFormat, StagedSet, staged_columns};
use crate::config::TableConfig;
use crate::contract::StageRules;
use crate::source::{ExportDescription, ExportSpec};
use crate::store::ObjectStore;

pub use error::StageError;
pub use map::{TypeError, map_item};
pub use pushdown::stage_export_items;
pub use pushdown_changes::stage_export_changes;

use crate::contract::DriftReport;
use drift::{DriftTally, MappedTree};
use fold::KeyFold;
use key_checks::{KeyDigests, KeyTypes};
use manifest::{ExportFiles, ExportKind};
use map::RowMapper;
use progress::Progress;
use spill::{SpillPlan, SpillWriter, SpilledFile};
use spill_fold::SpillFold;
use worker::{Lane, Workers};
use writer::{PartSink, PartTarget, PartWriter};

/// Most worker threads. Each one holds a staged part in memory (compressed, up to
/// `staged_file_bytes` of rows), so the count bounds memory; a few cores already outrun the store.
const MAX_WORKERS: usize = 4;

/// What the stage step works on.
pub struct StageInput {
    pub run_id: String,
    pub table: Arc<TableConfig>,
    /// Completed exports, oldest first.
    pub exports: Vec<ExportDescription>,
    pub store: Arc<dyn ObjectStore>,
    pub events: EventSink,
    pub cancel: CancellationToken,
    /// What the warehouse demands beyond column types (from [`crate::warehouse::Warehouse::stage_rules`]).
    pub rules: StageRules,
}

/// What the stage step produced.
#[derive(Debug)]
pub struct Staged {
    pub set: StagedSet,
    pub counts: StageCounts,
    /// The export's schema drift against the table's columns.
    pub drift: DriftReport,
}

/// Stages `input.exports` under `<table>/staged/<run_id>/` and returns what was written and the
/// final counts (see [`stage_counting_drift`], which also returns the drift).
pub async fn stage(input: StageInput) -> Result<(StagedSet, StageCounts), StageError> {
    stage_counting_drift(input).await.map(|staged| (staged.set, staged.counts))
}

/// Stages `input.exports` under `<table>/staged/<run_id>/` and returns what was written, the
/// final counts and the drift. Emits `StagingStarted`, `FileVerified` per data file, throttled
/// `StagingProgress`, and `StagingFinished`.
pub async fn stage_counting_drift(input: StageInput) -> Result<Staged, StageError> {
    let started = Instant::now();
    check_export_set(&input.exports)?;
    let mut exports = Vec::with_capacity(input.exports.len());
    for export in &input.exports {
        cancelled(&input.cancel)?;
        let files = manifest::read_export(input.store.as_ref(), export).await?;
        for message in &files.warnings {
            input.events.emit(EventKind::Warning { message: message.clone() });
        }
        exports.push(files);
    }
    let files_total: u64 = exports.iter().map(|e| e.files.len() as u64).sum();
    input.events.emit(EventKind::StagingStarted { files_total, exports: exports.len() });

    let prefix = writer::staged_prefix(&input.table, &input.run_id);
    remove_previous_attempt(input.store.as_ref(), &prefix).await?;
    let progress = Arc::new(Progress::new(input.events.clone(), files_total, started));
    // Held until the parts are uploaded; a killed run's folder goes with the next claim.
    let spool = spool::SpoolDir::claim(&std::env::temp_dir(), &input.run_id).map_err(|source| {
        StageError::Spool { path: std::env::temp_dir().join("dynashift-spool").display().to_string(), source }
    })?;
    let target = PartTarget {
        store: input.store.clone(),
        handle: Handle::current(),
        prefix: prefix.clone(),
        spool_dir: spool.path().to_owned(),
        compression: input.rules.compression,
    };
    let sink = Arc::new(PartSink::new(target, input.table.staged_file_bytes, progress.clone()));
    let (files, drift) = stage_data_files(&input, exports, sink, progress.clone()).await?;
    drop(spool);

    let (manifest_key, jsonpaths_key) = (format!("{prefix}copy.manifest"), format!("{prefix}jsonpaths.json"));
    let columns = staged_columns(&input.table);
    input.store.put(&manifest_key, writer::copy_manifest(input.store.as_ref(), &files)).await?;
    input.store.put(&jsonpaths_key, writer::jsonpaths(&columns)).await?;
    let counts = progress.counts();
    input.events.emit(EventKind::StagingFinished {
        counts,
        staged_files: files.len(),
        manifest_url: input.store.url_of(&manifest_key),
    });
    let staged = StagedSet {
        manifest_key,
        jsonpaths_key,
        columns,
        files,
        upserts: counts.upserts,
        deletes: counts.deletes,
        format: StagedFormat::Folded,
    };
    Ok(Staged { set: staged, counts, drift })
}

/// A run stages one full export, or one or more incremental exports.
fn check_export_set(exports: &[ExportDescription]) -> Result<(), StageError> {
    let fulls = exports.iter().filter(|e| matches!(e.spec, ExportSpec::Full { .. })).count();
    let reason = match (exports.len(), fulls) {
        (0, _) => "there are no exports".to_owned(),
        (1, _) | (_, 0) => return Ok(()),
        (total, fulls) => {
            format!("a full export cannot be staged with other exports ({fulls} full of {total})")
        }
    };
    Err(StageError::InvalidExportSet { reason })
}

/// A resumed run stages again from scratch; parts left by the earlier attempt must not linger
/// beside the new ones.
async fn remove_previous_attempt(store: &dyn ObjectStore, prefix: &str) -> Result<(), StageError> {
    for object in store.list(prefix).await? {
        store.delete(&object.key).await?;
    }
    Ok(())
}

/// Runs the workers on a blocking thread (they block on file and store I/O and burn CPU).
async fn stage_data_files(
    input: &StageInput,
    exports: Vec<ExportFiles>,
    sink: Arc<PartSink>,
    progress: Arc<Progress>,
) -> Result<(Vec<StagedFile>, DriftReport), StageError> {
    let table = input.table.clone();
    let store = input.store.clone();
    let cancel = input.cancel.clone();
    let handle = Handle::current();
    let rules = input.rules;
    let blocking = tokio::task::spawn_blocking(move || {
        let mapper = RowMapper::with_rules(&table, rules);
        let key_types = KeyTypes::new(&table.key, &table.key_types);
        let digests = KeyDigests::for_keys(
            rules.trailing_blanks_insignificant,
            manifest_items(&exports, ExportKind::Full),
            table.stage_memory_bytes,
            sink.spool_dir(),
        );
        let mapped = MappedTree::new(&table);
        let workers = Workers {
            table: &table,
            mapper: &mapper,
            store,
            handle,
            cancel: &cancel,
            progress: &progress,
            rules,
            key_types: &key_types,
            digests: &digests,
            mapped: &mapped,
        };
        let tally = stage_newest_first(&workers, &exports, &sink)?;
        Ok((sink.files(), drift_report::drift_report(&table, &mapped, tally)))
    });
    match blocking.await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Err(StageError::Cancelled),
    }
}

/// Newest export first, so a key's newest change is staged and older ones are dropped. When
/// the keys would not fit `stage_memory_mb`, the changes spill into partitions by key, folded
/// once every export is read ([`spill`]). Returns the workers' drift, merged.
fn stage_newest_first(
    workers: &Workers<'_>,
    exports: &[ExportFiles],
    sink: &Arc<PartSink>,
) -> Result<DriftTally, StageError> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let threads = cores.clamp(1, MAX_WORKERS);
    let plan = spill_plan(workers.table.stage_memory_bytes, exports, threads);
    let mut lanes: Vec<Lane> = (0..threads)
        .map(|_| {
            let spill = plan.map(|plan| SpillWriter::new(sink.spool_dir(), plan.partitions, 0));
            Lane::new(PartWriter::new(sink.clone()), spill, DriftTally::new(workers.mapped))
        })
        .collect();
    let mut fold = KeyFold::default();
    for (rank, export) in exports.iter().rev().enumerate() {
        cancelled(workers.cancel)?;
        let rank = u32::try_from(rank).unwrap_or(u32::MAX);
        let keys = workers.stage_export(export, &fold, rank, &mut lanes)?;
        if export.kind == ExportKind::Incremental && plan.is_none() {
            fold.absorb(&export.export_arn, keys)?;
        }
    }
    for lane in &mut lanes {
        workers.digests.absorb(std::mem::take(&mut lane.digests));
    }
    if let Some(export) = exports.first() {
        workers.check_keys(&export.export_arn)?;
    }
    let mut writers = Vec::with_capacity(lanes.len());
    let mut partitions: Vec<Vec<SpilledFile>> = Vec::new();
    let mut drift = DriftTally::new(workers.mapped);
    for lane in lanes {
        drift.merge(lane.drift);
        if let Some(spill) = lane.spill {
            partitions.resize_with(partitions.len().max(spill.partitions()), Vec::new);
            for (partition, file) in spill.finish()?.into_iter().enumerate() {
                partitions[partition].extend(file);
            }
        }
        writers.push(lane.part);
    }
    if let Some(plan) = plan {
        cancelled(workers.cancel)?;
        workers.progress.spilled(plan.partitions);
        let export_arns: Vec<String> = exports.iter().rev().map(|e| e.export_arn.clone()).collect();
        let fold = SpillFold {
            plan,
            export_arns: &export_arns,
            spool_dir: sink.spool_dir(),
            refuse_blank_twins: workers.rules.trailing_blanks_insignificant,
        };
        partitions.retain(|files| !files.is_empty());
        workers.fold_spilled(&fold, partitions, &mut writers)?;
    }
    PartWriter::finish_all(writers)?;
    sink.ensure_one_part()?;
    Ok(drift)
}

/// How the stage spills, if the incremental exports' changes (an upper bound of their keys,
/// from the manifests) would not fit `budget` bytes in the in-memory fold. Full exports are
/// never folded.
fn spill_plan(budget: u64, exports: &[ExportFiles], threads: usize) -> Option<SpillPlan> {
    SpillPlan::for_changes(manifest_items(exports, ExportKind::Incremental), budget, threads)
}

/// The items the manifests of `exports` of `kind` count (known before any data file is read).
fn manifest_items(exports: &[ExportFiles], kind: ExportKind) -> u64 {
    exports.iter().filter(|e| e.kind == kind).flat_map(|e| &e.files).map(|f| f.item_count).sum()
}

fn cancelled(cancel: &CancellationToken) -> Result<(), StageError> {
    if cancel.is_cancelled() { Err(StageError::Cancelled) } else { Ok(()) }
}
