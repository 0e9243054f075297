//! Generating a demo table's history: its initial items, then the seeded writes of each
//! simulated minute, appended to the log and the index.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

use super::super::error::DemoError;
use super::super::log::WriteRecord;
use super::super::seed::{Step, rng_for};
use super::super::workload::{
    HOUR_MICROS, MINUTE_MICROS, WriteKind, choose_kind, write_times, writes_in_minute,
};
use super::{History, HistoryMeta};
use crate::ddb::{Item, ItemKey};

impl History {
    /// Starts the table: `initial_items` inserts spread over the hour before `origin`.
    pub(super) fn create(&mut self, origin: DateTime<Utc>) -> Result<HistoryMeta, DemoError> {
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
            log_file: self.log_file.clone(),
            snapshot: None,
        };
        self.snapshot = None;
        let mut rng = rng_for(self.settings.seed, self.table.name(), Step::InitialLoad);
        let start = meta.created.timestamp_micros();
        for ts in write_times(&mut rng, start, HOUR_MICROS, self.settings.initial_items as u64) {
            self.insert(&mut rng, ts)?;
        }
        self.commit(&mut meta)?;
        Ok(meta)
    }

    pub(super) fn generate_minute(&mut self, meta: &HistoryMeta, minute: u64) -> Result<(), DemoError> {
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

    fn keys_of(&self, item: &Item) -> Item {
        self.key_attributes
            .iter()
            .filter_map(|k| item.get_key_value(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

pub(super) fn minute_start(meta: &HistoryMeta, minute: u64) -> DateTime<Utc> {
    meta.origin + Duration::minutes(minute as i64)
}
