//! Compaction: a demo table's history keeps only what its restorable range can ask for. Writes
//! before an instant are replaced by a snapshot — each item live at that instant, as its last
//! write before it — written with the writes since into a new log file, which `meta.json` then
//! names (one atomic replace). Other processes see the new file name at their next load and
//! re-index from it; a crash before the switch leaves the old log current and an orphan file
//! that the next compaction replaces.
//!
//! The snapshot's lines are in the order of the live set at its instant, so the items the
//! workload picks for later updates and deletes, and the serials of later inserts, are those an
//! uncompacted history picks: generation goes on identically.

use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Utc};

use super::super::error::DemoError;
use super::super::files::{private_options, write_json};
use super::super::index::WriteRef;
use super::{FIRST_LOG_FILE, History, Snapshot};

/// A compaction rewrites the kept log, so it waits until it drops at least this many writes and
/// at least a quarter of the log: the log stays under 4/3 of the kept period's writes (plus this).
const MIN_DROPPED_WRITES: usize = 1000;

impl History {
    /// Forgets the writes before `keep_from`, keeping the state at that instant as a snapshot, when
    /// that drops enough of the log (see [`MIN_DROPPED_WRITES`]). Returns whether it compacted.
    pub(crate) fn compact(&mut self, keep_from: DateTime<Utc>) -> Result<bool, DemoError> {
        let _lock = super::super::files::lock_exclusive(&self.folder.join("history.lock"))?;
        let compacted = self.compact_locked(keep_from);
        if compacted.is_err() {
            self.forget_index();
        }
        compacted
    }

    fn compact_locked(&mut self, keep_from: DateTime<Utc>) -> Result<bool, DemoError> {
        let Some(mut meta) = self.load_meta()? else { return Ok(false) };
        if self.snapshot.is_some_and(|s| keep_from <= s.at) {
            return Ok(false);
        }
        let t = keep_from.timestamp_micros();
        let log = self.index.log_writes();
        let dropped = log.partition_point(|w| w.ts < t);
        if dropped < MIN_DROPPED_WRITES || dropped * 4 < log.len() {
            return Ok(false);
        }
        let kept_from_offset = log.get(dropped).map_or(meta.committed_len, |w| w.at.offset);
        let (bases, keys_before) = self.index.snapshot_at(t);
        let name = next_log_file(&meta.log_file);
        let (snapshot_len, total_len) =
            self.write_compacted(&self.folder.join(&name), &bases, kept_from_offset, meta.committed_len)?;

        meta.snapshot = Some(Snapshot { at: keep_from, len: snapshot_len, keys_before });
        meta.committed_len = total_len;
        meta.log_file = name;
        write_json(&self.folder.join("meta.json"), &meta)?;
        self.switch_log(&meta.log_file)?;
        self.snapshot = meta.snapshot;
        self.index_tail(meta.committed_len)?;
        self.remove_other_logs(&meta.log_file);
        Ok(true)
    }

    /// Writes the snapshot lines (`bases`, as stored) then the log's bytes `from..to` into a new
    /// file at `path`, synced; returns the snapshot's length and the file's.
    fn write_compacted(
        &mut self,
        path: &Path,
        bases: &[WriteRef],
        from: u64,
        to: u64,
    ) -> Result<(u64, u64), DemoError> {
        let file = private_options().write(true).create(true).truncate(true).open(path);
        let mut out = BufWriter::with_capacity(1 << 20, file.map_err(DemoError::io(path))?);
        let mut snapshot_len = 0;
        for base in bases {
            let line = self.log.read_raw(base.at)?;
            out.write_all(&line).map_err(DemoError::io(path))?;
            snapshot_len += line.len() as u64;
        }
        self.log.copy_range(from, to, &mut out)?;
        let file =
            out.into_inner().map_err(|e| DemoError::Io { path: path.to_owned(), source: e.into_error() })?;
        file.sync_all().map_err(DemoError::io(path))?;
        Ok((snapshot_len, snapshot_len + (to - from)))
    }

    /// Removes log files other than `current` (the one just replaced, or a crash's leftovers).
    fn remove_other_logs(&self, current: &str) {
        let Ok(entries) = std::fs::read_dir(&self.folder) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != current && is_log_file(&name) {
                // Best effort: a file left behind is replaced or removed by the next compaction.
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// `writes.jsonl` → `writes-1.jsonl` → `writes-2.jsonl` …
fn next_log_file(current: &str) -> String {
    let generation = current
        .strip_prefix("writes-")
        .and_then(|rest| rest.strip_suffix(".jsonl"))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0);
    format!("writes-{}.jsonl", generation + 1)
}

fn is_log_file(name: &str) -> bool {
    name == FIRST_LOG_FILE
        || name
            .strip_prefix("writes-")
            .and_then(|rest| rest.strip_suffix(".jsonl"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
