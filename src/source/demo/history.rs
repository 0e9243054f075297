//! A demo table's point-in-time history: the seeded workload, generated lazily and persisted
//! under `state_dir/<table>/` so that any process, now or after a restart, sees the same writes.
//!
//! Files: `writes.jsonl` (the [`WriteLog`]), `meta.json` (settings the history was generated
//! with, how far it is generated, how much of the log is committed) and `history.lock` (held
//! around every read-modify-write, so two processes never generate the same minute twice).
//!
//! The state at T is the fold of the writes before T, which makes full exports at any instant and
//! incremental exports of any window exact and mutually consistent.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::catalog::DemoTable;
use super::error::DemoError;
use super::files::{create_private_dir, lock_exclusive, read_json, write_json};
use super::index::{HistoryIndex, KeyChange};
use super::log::{WriteLog, WriteRecord};
use super::seed::{Step, rng_for};
use super::workload::{HOUR_MICROS, MINUTE_MICROS, WriteKind, choose_kind, write_times, writes_in_minute};
use crate::ddb::{Item, ItemKey};

/// The workload settings of one table's history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkloadSettings {
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
    /// Bytes of `writes.jsonl` that are complete; anything after is a crashed writer's tail.
    committed_len: u64,
}

/// One key's change over a window, with the images read from the log.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemChange {
    pub keys: Item,
    pub old: Option<Item>,
    pub new: Option<Item>,
    pub last_write_micros: i64,
}

pub struct History {
    table: DemoTable,
    key_attributes: Vec<String>,
    settings: WorkloadSettings,
    folder: PathBuf,
    log: WriteLog,
    index: HistoryIndex,
    /// Log bytes reflected in `index`.
    indexed_len: u64,
}

impl History {
    /// Opens the history folder of `table` (nothing is generated until asked).
    pub fn open(folder: &Path, table: DemoTable, settings: WorkloadSettings) -> Result<History, DemoError> {
        create_private_dir(folder)?;
        let log = WriteLog::open(&folder.join("writes.jsonl"), folder)?;
        Ok(History {
            table,
            key_attributes: table.key().iter().map(|k| k.to_string()).collect(),
            settings,
            folder: folder.to_owned(),
            log,
            index: HistoryIndex::default(),
            indexed_len: 0,
        })
    }

    /// Changes the writes per hour of minutes not generated yet (the configuration may change
    /// while a process runs; the seed and initial items may not).
    pub fn set_writes_per_hour(&mut self, writes_per_hour: u32) {
        self.settings.writes_per_hour = writes_per_hour;
    }

    /// Makes sure every write before `through` exists: catches up with what other processes
    /// wrote, creates the table (with its workload starting at `origin_if_new`) on first use,
    /// and generates the missing minutes. Returns the table's creation time.
    pub fn prepare(
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
    pub fn forget_index(&mut self) {
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
    pub fn items_at(&mut self, t: DateTime<Utc>) -> Result<Vec<Item>, DemoError> {
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
    pub fn for_each_item_at(
        &mut self,
        t: DateTime<Utc>,
        mut each: impl FnMut(Item) -> Result<(), DemoError>,
    ) -> Result<(), DemoError> {
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
    pub fn changes(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ItemChange>, DemoError> {
        let mut changes = Vec::new();
        self.for_each_change(from, to, |change| {
            changes.push(change);
            Ok(())
        })?;
        Ok(changes)
    }

    /// Calls `each` with every key written in `[from, to)` and its images at both ends, in key
    /// order, reading the images one key at a time. Call [`History::prepare`] through `to` first.
    pub fn for_each_change(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut each: impl FnMut(ItemChange) -> Result<(), DemoError>,
    ) -> Result<(), DemoError> {
        for change in self.index.changes_in(from.timestamp_micros(), to.timestamp_micros()) {
            let change = self.read_change(&change)?;
            each(change)?;
        }
        Ok(())
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
        let file_len = self.log.file_len()?;
        if file_len < meta.committed_len {
            return Err(self.damaged(format!(
                "writes.jsonl has {file_len} bytes but {} were committed",
                meta.committed_len
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

    /// Indexes the log lines other processes committed since this one last looked.
    fn index_tail(&mut self, committed_len: u64) -> Result<(), DemoError> {
        if committed_len == self.indexed_len {
            return Ok(());
        }
        for (at, header) in self.log.scan(self.indexed_len, committed_len)? {
            let key = ItemKey::of(&header.keys, &self.key_attributes).ok_or_else(|| {
                self.damaged(format!("the write at byte {} lacks a key attribute", at.offset))
            })?;
            self.index
                .record(header.ts, key, at, header.image.is_some())
                .map_err(|e| self.damaged(format!("write at {} follows one at {}", e.ts, e.previous)))?;
        }
        self.indexed_len = committed_len;
        Ok(())
    }

    /// Starts the table: `initial_items` inserts spread over the hour before `origin`.
    fn create(&mut self, origin: DateTime<Utc>) -> Result<HistoryMeta, DemoError> {
        self.log.truncate(0)?;
        self.forget_index();
        let mut meta = HistoryMeta {
            table: self.table.name().into(),
            seed: self.settings.seed,
            initial_items: self.settings.initial_items,
            created: origin - Duration::hours(1),
            origin,
            minutes: 0,
            committed_len: 0,
        };
        let mut rng = rng_for(self.settings.seed, self.table.name(), Step::InitialLoad);
        let start = meta.created.timestamp_micros();
        for ts in write_times(&mut rng, start, HOUR_MICROS, self.settings.initial_items as u64) {
            self.insert(&mut rng, ts)?;
        }
        self.commit(&mut meta)?;
        Ok(meta)
    }

    fn generate_minute(&mut self, meta: &HistoryMeta, minute: u64) -> Result<(), DemoError> {
        let mut rng = rng_for(self.settings.seed, self.table.name(), Step::Minute(minute));
        let count = writes_in_minute(self.settings.writes_per_hour, minute);
        let start = minute_start(meta, minute).timestamp_micros();
        for ts in write_times(&mut rng, start, MINUTE_MICROS, count) {
            match choose_kind(&mut rng, self.index.live_count()) {
                WriteKind::Insert => self.insert(&mut rng, ts)?,
                WriteKind::Update => self.update(&mut rng, ts)?,
                WriteKind::Delete => self.delete(&mut rng, ts)?,
            }
        }
        Ok(())
    }

    fn insert(&mut self, rng: &mut impl Rng, ts: i64) -> Result<(), DemoError> {
        let item = self.table.new_item(rng, self.index.key_count() as u64, ts);
        self.append(ts, self.keys_of(&item), Some(item))
    }

    fn update(&mut self, rng: &mut impl Rng, ts: i64) -> Result<(), DemoError> {
        let mut record = self.read_random_live(rng)?;
        let mut item =
            record.image.take().ok_or_else(|| self.damaged("a live item's last write is a delete"))?;
        self.table.update(rng, &mut item, ts);
        self.append(ts, record.keys, Some(item))
    }

    fn delete(&mut self, rng: &mut impl Rng, ts: i64) -> Result<(), DemoError> {
        let record = self.read_random_live(rng)?;
        self.append(ts, record.keys, None)
    }

    /// The last write of a random live item.
    fn read_random_live(&mut self, rng: &mut impl Rng) -> Result<WriteRecord, DemoError> {
        let key = self.index.live_key(rng.random_range(0..self.index.live_count()));
        let latest = self.index.latest(key).expect("a live key has writes");
        self.log.read(latest.at)
    }

    fn append(&mut self, ts: i64, keys: Item, image: Option<Item>) -> Result<(), DemoError> {
        let key = ItemKey::of(&keys, &self.key_attributes).expect("generated writes carry their key");
        let put = image.is_some();
        let at = self.log.append(&WriteRecord { ts, keys, image })?;
        self.index
            .record(ts, key, at, put)
            .map_err(|e| self.damaged(format!("generated write at {} follows one at {}", e.ts, e.previous)))
    }

    /// Makes appended writes durable, then records them as committed.
    fn commit(&mut self, meta: &mut HistoryMeta) -> Result<(), DemoError> {
        meta.committed_len = self.log.commit()?;
        write_json(&self.folder.join("meta.json"), meta)?;
        self.indexed_len = meta.committed_len;
        Ok(())
    }

    fn keys_of(&self, item: &Item) -> Item {
        self.key_attributes
            .iter()
            .filter_map(|k| item.get_key_value(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn damaged(&self, detail: impl std::fmt::Display) -> DemoError {
        DemoError::damaged(&self.folder.join("writes.jsonl"), &self.folder, detail)
    }
}

fn minute_start(meta: &HistoryMeta, minute: u64) -> DateTime<Utc> {
    meta.origin + Duration::minutes(minute as i64)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::TimeZone;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    const SETTINGS: WorkloadSettings = WorkloadSettings { seed: 42, initial_items: 30, writes_per_hour: 600 };

    fn origin() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0).unwrap()
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        origin() + Duration::minutes(minutes)
    }

    fn open(dir: &Path, settings: WorkloadSettings) -> History {
        History::open(dir, DemoTable::Orders, settings).unwrap()
    }

    fn generated(dir: &Path, settings: WorkloadSettings, through: DateTime<Utc>) -> Vec<u8> {
        open(dir, settings).prepare(origin(), through).unwrap();
        std::fs::read(dir.join("writes.jsonl")).unwrap()
    }

    fn records(dir: &Path) -> Vec<WriteRecord> {
        let text = std::fs::read_to_string(dir.join("writes.jsonl")).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    fn by_key(items: Vec<Item>) -> BTreeMap<ItemKey, Item> {
        let key = ["pk".to_owned(), "sk".to_owned()];
        items.into_iter().map(|item| (ItemKey::of(&item, &key).unwrap(), item)).collect()
    }

    #[test]
    fn the_table_starts_with_its_initial_items_spread_over_the_hour_before() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = open(dir.path(), SETTINGS);
        let created = history.prepare(origin(), origin()).unwrap();
        assert_eq!(created, at(-60));
        assert!(history.items_at(at(-60)).unwrap().is_empty());
        assert_eq!(history.items_at(origin()).unwrap().len(), 30);
        let half = history.items_at(at(-30)).unwrap().len();
        assert!((5..25).contains(&half), "inserts are spread over the hour, {half} in the first half");
        assert!(
            records(dir.path())
                .iter()
                .all(|r| r.ts >= at(-60).timestamp_micros() && r.ts < origin().timestamp_micros())
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_history_and_another_seed_another() {
        let (a, b, c) =
            (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = generated(a.path(), SETTINGS, at(120));
        assert_eq!(first, generated(b.path(), SETTINGS, at(120)));
        assert_ne!(first, generated(c.path(), WorkloadSettings { seed: 7, ..SETTINGS }, at(120)));
    }

    #[test]
    fn generating_in_steps_and_across_restarts_gives_the_same_history() {
        let (whole, steps) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let expected = generated(whole.path(), SETTINGS, at(120));
        let mut history = open(steps.path(), SETTINGS);
        for minutes in [10, 37, 37, 61] {
            history.prepare(origin(), at(minutes)).unwrap();
        }
        drop(history);
        // A restart goes on from the log, whatever origin the clock now suggests.
        open(steps.path(), SETTINGS).prepare(at(500), at(120)).unwrap();
        assert_eq!(std::fs::read(steps.path().join("writes.jsonl")).unwrap(), expected);
    }

    #[test]
    fn two_processes_take_turns_and_see_each_others_writes() {
        let (shared, reference) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let mut one = open(shared.path(), SETTINGS);
        let mut two = open(shared.path(), SETTINGS);
        one.prepare(origin(), at(30)).unwrap();
        two.prepare(origin(), at(60)).unwrap();
        one.prepare(origin(), at(90)).unwrap();
        let mut alone = open(reference.path(), SETTINGS);
        alone.prepare(origin(), at(90)).unwrap();
        assert_eq!(one.items_at(at(80)).unwrap(), alone.items_at(at(80)).unwrap());
        assert_eq!(two.items_at(at(45)).unwrap(), alone.items_at(at(45)).unwrap());
        assert_eq!(
            std::fs::read(shared.path().join("writes.jsonl")).unwrap(),
            std::fs::read(reference.path().join("writes.jsonl")).unwrap()
        );
    }

    #[test]
    fn writes_are_strictly_increasing_at_the_configured_rate_and_mix() {
        let dir = tempfile::tempdir().unwrap();
        generated(dir.path(), SETTINGS, at(600));
        let records = records(dir.path());
        assert!(records.windows(2).all(|w| w[0].ts < w[1].ts));
        let in_hour = |h: i64| {
            let (from, to) = (at(h * 60).timestamp_micros(), at(h * 60 + 60).timestamp_micros());
            records.iter().filter(|r| (from..to).contains(&r.ts)).count()
        };
        assert_eq!((in_hour(0), in_hour(5), in_hour(9)), (600, 600, 600));
        let deletes = records.iter().filter(|r| r.image.is_none()).count();
        assert!((700..1100).contains(&deletes), "about 15% of 6000 writes are deletes: {deletes}");
    }

    #[test]
    fn state_at_the_start_plus_the_changes_of_a_window_is_the_state_at_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let mut history = open(dir.path(), SETTINGS);
        history.prepare(origin(), at(240)).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..12 {
            let from =
                at(rng.random_range(-70..200)) + Duration::microseconds(rng.random_range(0..60_000_000));
            let to = from + Duration::microseconds(rng.random_range(1..3_600_000_000));
            let mut state = by_key(history.items_at(from).unwrap());
            for change in history.changes(from, to).unwrap() {
                let key = ItemKey::of(&change.keys, &["pk".into(), "sk".into()]).unwrap();
                assert_eq!(state.get(&key), change.old.as_ref(), "the old image is the state at `from`");
                assert!(
                    change.last_write_micros >= from.timestamp_micros()
                        && change.last_write_micros < to.timestamp_micros()
                );
                match change.new {
                    Some(image) => state.insert(key, image),
                    None => state.remove(&key),
                };
            }
            assert_eq!(state, by_key(history.items_at(to).unwrap()), "window {from} .. {to}");
        }
    }

    #[test]
    fn a_crashed_writers_tail_is_cut_off() {
        let (dir, reference) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        open(dir.path(), SETTINGS).prepare(origin(), at(30)).unwrap();
        let mut file =
            std::fs::OpenOptions::new().append(true).open(dir.path().join("writes.jsonl")).unwrap();
        std::io::Write::write_all(&mut file, b"{\"ts_micros\":99999999999999999,\"keys\":{\"pk\"").unwrap();
        open(dir.path(), SETTINGS).prepare(origin(), at(60)).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("writes.jsonl")).unwrap(),
            generated(reference.path(), SETTINGS, at(60))
        );
    }

    #[test]
    fn changed_settings_are_refused_with_a_way_out() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path(), SETTINGS).prepare(origin(), origin()).unwrap();
        let err = open(dir.path(), WorkloadSettings { seed: 1, ..SETTINGS })
            .prepare(origin(), origin())
            .unwrap_err();
        assert!(matches!(err, DemoError::SettingsChanged { setting: "seed", .. }), "{err}");
        assert!(err.to_string().contains("delete that folder"), "{err}");
        let more = WorkloadSettings { writes_per_hour: 6000, ..SETTINGS };
        open(dir.path(), more).prepare(origin(), at(1)).expect("the write rate may change");
    }

    #[test]
    fn a_truncated_log_is_reported_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path(), SETTINGS).prepare(origin(), origin()).unwrap();
        std::fs::write(dir.path().join("writes.jsonl"), b"").unwrap();
        let err = open(dir.path(), SETTINGS).prepare(origin(), origin()).unwrap_err().to_string();
        assert!(err.contains("were committed") && err.contains("delete the folder"), "{err}");
    }
}
