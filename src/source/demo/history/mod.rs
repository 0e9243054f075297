//! A demo table's point-in-time history: the seeded workload, generated lazily and persisted
//! under `state_dir/<table>/` so that any process, now or after a restart, sees the same writes.
//!
//! Files: `writes.jsonl` (the [`WriteLog`]; `writes-<n>.jsonl` once compacted), `meta.json`
//! (settings the history was generated with, how far it is generated, which log file is current,
//! how much of it is committed, where its snapshot ends) and `history.lock` (held around every
//! read-modify-write, so two processes never generate the same minute twice).
//!
//! The state at T is the fold of the writes before T, which makes full exports at any instant and
//! incremental exports of any window exact and mutually consistent. Writes older than the
//! restorable range are compacted away ([`compact`]) into a snapshot: the state at one instant,
//! from which the log goes on; instants before it are refused.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::catalog::DemoTable;
use super::error::DemoError;
use super::files::{create_private_dir, lock_exclusive, read_json, write_json};
use super::index::{HistoryIndex, KeyChange};
use super::log::WriteLog;
use crate::ddb::{Item, ItemKey};

mod compact;
mod generate;

use self::generate::minute_start;

/// The log file of a history that was never compacted (and of every history before compaction).
const FIRST_LOG_FILE: &str = "writes.jsonl";

/// The workload settings of one table's history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct WorkloadSettings {
    pub seed: u64,
    pub initial_items: usize,
    pub writes_per_hour: u32,
}

/// `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct HistoryMeta {
    table: String,
    seed: u64,
    initial_items: usize,
    /// When the table was created: its first item was written after this.
    created: DateTime<Utc>,
    /// Start of workload minute 0 (the initial items fill the hour before it).
    origin: DateTime<Utc>,
    /// Workload minutes generated so far.
    minutes: u64,
    /// Bytes of the log file that are complete; anything after is a crashed writer's tail.
    committed_len: u64,
    /// The current log file in the folder (compaction writes a new one, then switches here).
    /// Absent in states written before compaction existed: those read as `writes.jsonl`.
    #[serde(default = "first_log_file")]
    log_file: String,
    /// The snapshot the log file starts with, once compacted.
    #[serde(default)]
    snapshot: Option<Snapshot>,
}

fn first_log_file() -> String {
    FIRST_LOG_FILE.to_owned()
}

/// The head of a compacted log: one line per item live at `at` (its last write before `at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Snapshot {
    /// The instant the snapshot holds the state of; the history starts here.
    at: DateTime<Utc>,
    /// Bytes of the log file that are the snapshot; the log's writes follow.
    len: u64,
    /// Keys ever written before `at`, deleted ones included: new items go on numbering from here.
    keys_before: u64,
}

/// One key's change over a window, with the images read from the log.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ItemChange {
    pub keys: Item,
    pub old: Option<Item>,
    pub new: Option<Item>,
    pub last_write_micros: i64,
}

pub(super) struct History {
    table: DemoTable,
    key_attributes: Vec<String>,
    settings: WorkloadSettings,
    folder: PathBuf,
    /// Name of the log file `log` has open.
    log_file: String,
    log: WriteLog,
    /// The snapshot of the committed log, as last loaded.
    snapshot: Option<Snapshot>,
    index: HistoryIndex,
    /// Log bytes reflected in `index`.
    indexed_len: u64,
}

impl History {
    /// Opens the history folder of `table` (nothing is generated until asked).
    pub(super) fn open(
        folder: &Path,
        table: DemoTable,
        settings: WorkloadSettings,
    ) -> Result<History, DemoError> {
        create_private_dir(folder)?;
        let log = WriteLog::open(&folder.join(FIRST_LOG_FILE), folder)?;
        Ok(History {
            table,
            key_attributes: table.key().iter().map(|k| k.to_string()).collect(),
            settings,
            folder: folder.to_owned(),
            log_file: FIRST_LOG_FILE.to_owned(),
            log,
            snapshot: None,
            index: HistoryIndex::default(),
            indexed_len: 0,
        })
    }

    /// Changes the writes per hour of minutes not generated yet (the configuration may change
    /// while a process runs; the seed and initial items may not).
    pub(super) fn set_writes_per_hour(&mut self, writes_per_hour: u32) {
        self.settings.writes_per_hour = writes_per_hour;
    }

    /// Makes sure every write before `through` exists: catches up with what other processes
    /// wrote, creates the table (with its workload starting at `origin_if_new`) on first use,
    /// and generates the missing minutes. Returns the table's creation time.
    pub(super) fn prepare(
        &mut self,
        origin_if_new: DateTime<Utc>,
        through: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, DemoError> {
        let _lock = lock_exclusive(&self.folder.join("history.lock"))?;
        let prepared = self.prepare_locked(origin_if_new, through);
        if prepared.is_err() {
            // The index may hold writes that never reached the log.
            self.forget_index();
        }
        prepared
    }

    /// Drops the in-memory index; the next [`History::prepare`] rebuilds it from the log.
    pub(super) fn forget_index(&mut self) {
        self.index = HistoryIndex::default();
        self.indexed_len = 0;
    }

    fn prepare_locked(
        &mut self,
        origin_if_new: DateTime<Utc>,
        through: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, DemoError> {
        let mut meta = match self.load_meta()? {
            Some(meta) => meta,
            None => self.create(origin_if_new)?,
        };
        let mut generated = false;
        while minute_start(&meta, meta.minutes) < through {
            self.generate_minute(&meta, meta.minutes)?;
            meta.minutes += 1;
            generated = true;
        }
        if generated {
            self.commit(&mut meta)?;
        }
        Ok(meta.created)
    }

    /// Every item that exists at `t`, in key order. Call [`History::prepare`] through `t` first.
    pub(super) fn items_at(&mut self, t: DateTime<Utc>) -> Result<Vec<Item>, DemoError> {
        let mut items = Vec::new();
        self.for_each_item_at(t, |item| {
            items.push(item);
            Ok(())
        })?;
        Ok(items)
    }

    /// Calls `each` with every item that exists at `t`, in key order, reading them from the log
    /// one at a time (an export of any size is never held in memory). Call
    /// [`History::prepare`] through `t` first.
    pub(super) fn for_each_item_at(
        &mut self,
        t: DateTime<Utc>,
        mut each: impl FnMut(Item) -> Result<(), DemoError>,
    ) -> Result<(), DemoError> {
        self.check_kept(t)?;
        for put in self.index.state_at(t.timestamp_micros()) {
            let record = self.log.read(put.at)?;
            let image = record
                .image
                .ok_or_else(|| self.damaged(format!("the put at byte {} has no image", put.at.offset)))?;
            each(image)?;
        }
        Ok(())
    }

    /// Every key written in `[from, to)` with its images at both ends, in key order. Call
    /// [`History::prepare`] through `to` first.
    #[cfg(test)]
    pub(super) fn changes(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ItemChange>, DemoError> {
        let mut changes = Vec::new();
        self.for_each_change(from, to, |change| {
            changes.push(change);
            Ok(())
        })?;
        Ok(changes)
    }

    /// Calls `each` with every key written in `[from, to)` and its images at both ends, in key
    /// order, reading the images one key at a time. Call [`History::prepare`] through `to` first.
    pub(super) fn for_each_change(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut each: impl FnMut(ItemChange) -> Result<(), DemoError>,
    ) -> Result<(), DemoError> {
        self.check_kept(from)?;
        for change in self.index.changes_in(from.timestamp_micros(), to.timestamp_micros()) {
            let change = self.read_change(&change)?;
            each(change)?;
        }
        Ok(())
    }

    /// Refuses instants before the snapshot: their writes are compacted away.
    fn check_kept(&self, t: DateTime<Utc>) -> Result<(), DemoError> {
        match self.snapshot {
            Some(snapshot) if t < snapshot.at => {
                Err(DemoError::Compacted { folder: self.folder.clone(), asked: t, kept_from: snapshot.at })
            }
            _ => Ok(()),
        }
    }

    fn read_change(&mut self, change: &KeyChange) -> Result<ItemChange, DemoError> {
        let old = change.old.map(|w| self.log.read(w.at)).transpose()?;
        let new = change.new.map(|w| self.log.read(w.at)).transpose()?;
        let keys = match (&old, &new) {
            (_, Some(record)) | (Some(record), None) => record.keys.clone(),
            (None, None) => {
                let latest = self.index.latest(change.key).expect("a changed key has writes");
                self.log.read(latest.at)?.keys
            }
        };
        Ok(ItemChange {
            keys,
            old: old.and_then(|r| r.image),
            new: new.and_then(|r| r.image),
            last_write_micros: change.last_write,
        })
    }

    /// Reads `meta.json` and brings the index up to its committed length; `None` for a new table.
    fn load_meta(&mut self) -> Result<Option<HistoryMeta>, DemoError> {
        let Some(meta) = read_json::<HistoryMeta>(&self.folder.join("meta.json"), &self.folder)? else {
            return Ok(None);
        };
        self.check_settings(&meta)?;
        if meta.log_file != self.log_file {
            // Compacted (by this process or another) into a new file.
            self.switch_log(&meta.log_file)?;
        }
        self.snapshot = meta.snapshot;
        let file_len = self.log.file_len()?;
        if file_len < meta.committed_len {
            return Err(self.damaged(format!(
                "{} has {file_len} bytes but {} were committed",
                meta.log_file, meta.committed_len
            )));
        }
        if meta.committed_len < self.indexed_len {
            // The history was started over by another process: index it afresh.
            self.forget_index();
        }
        self.log.truncate(meta.committed_len)?;
        self.index_tail(meta.committed_len)?;
        Ok(Some(meta))
    }

    fn check_settings(&self, meta: &HistoryMeta) -> Result<(), DemoError> {
        let changed = |setting, recorded: String, configured: String| DemoError::SettingsChanged {
            folder: self.folder.clone(),
            setting,
            recorded,
            configured,
        };
        if meta.seed != self.settings.seed {
            return Err(changed("seed", meta.seed.to_string(), self.settings.seed.to_string()));
        }
        if meta.initial_items != self.settings.initial_items {
            let (recorded, configured) =
                (meta.initial_items.to_string(), self.settings.initial_items.to_string());
            return Err(changed("initial_items", recorded, configured));
        }
        if meta.table != self.table.name() {
            return Err(self.damaged(format!(
                "it holds table `{}`, not `{}`",
                meta.table,
                self.table.name()
            )));
        }
        Ok(())
    }

    /// Opens the log file `name` in place of the current one; the index is rebuilt from it.
    fn switch_log(&mut self, name: &str) -> Result<(), DemoError> {
        self.log = WriteLog::open(&self.folder.join(name), &self.folder)?;
        self.log_file = name.to_owned();
        self.forget_index();
        Ok(())
    }

    /// Indexes the log lines other processes committed since this one last looked: the
    /// snapshot's lines as bases (on a fresh index), then the writes.
    fn index_tail(&mut self, committed_len: u64) -> Result<(), DemoError> {
        if committed_len == self.indexed_len {
            return Ok(());
        }
        let (log, index, key_attributes) = (&mut self.log, &mut self.index, &self.key_attributes);
        let log_path = self.folder.join(&self.log_file);
        let damaged = |detail: String| DemoError::damaged(&log_path, &self.folder, detail);
        let key_of = |keys: &Item, offset: u64| {
            ItemKey::of(keys, key_attributes)
                .ok_or_else(|| damaged(format!("the write at byte {offset} lacks a key attribute")))
        };
        if let Some(snapshot) = self.snapshot.filter(|s| self.indexed_len < s.len) {
            log.scan(self.indexed_len, snapshot.len, |at, header| {
                let key = key_of(&header.keys, at.offset)?;
                if header.image.is_none() {
                    return Err(damaged(format!("the snapshot line at byte {} is a delete", at.offset)));
                }
                index.record_base(header.ts, key, at);
                Ok(())
            })?;
            index.end_snapshot(snapshot.keys_before);
            self.indexed_len = snapshot.len;
        }
        log.scan(self.indexed_len, committed_len, |at, header| {
            let key = key_of(&header.keys, at.offset)?;
            index
                .record(header.ts, key, at, header.image.is_some())
                .map_err(|e| damaged(format!("write at {} follows one at {}", e.ts, e.previous)))
        })?;
        self.indexed_len = committed_len;
        Ok(())
    }

    /// Makes appended writes durable, then records them as committed.
    fn commit(&mut self, meta: &mut HistoryMeta) -> Result<(), DemoError> {
        meta.committed_len = self.log.commit()?;
        write_json(&self.folder.join("meta.json"), meta)?;
        self.indexed_len = meta.committed_len;
        Ok(())
    }

    fn damaged(&self, detail: impl std::fmt::Display) -> DemoError {
        DemoError::damaged(&self.folder.join(&self.log_file), &self.folder, detail)
    }
}

#[cfg(test)]
mod tests;
