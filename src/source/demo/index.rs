//! The in-memory index of a demo table's write log: every write's timestamp, key and location
//! (not its image: images stay in the log), the keys live at the end of the history, and each
//! key's writes as a chain from its latest write back. About 80 bytes per key and 32 per write.
//!
//! A compacted log starts with a snapshot: the put in effect of each item live at the snapshot
//! instant, recorded as *bases* ([`HistoryIndex::record_base`]), in the order of the live set at
//! that instant so that generation after it picks the same items it would have without
//! compaction. Questions about instants before the snapshot cannot be answered; the history
//! refuses them.
//!
//! It answers the two questions exports ask — which items exist at T, and which keys changed in
//! [from, to) with their images at both ends — without replaying the log.

use std::collections::HashMap;

use super::log::Location;
use super::seed::stable_hash;
use crate::ddb::ItemKey;

/// One write, as indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WriteRef {
    pub ts: i64,
    pub key: KeyId,
    pub at: Location,
    /// A put (the item exists after it); `false` for a delete.
    pub put: bool,
    /// Position of the key's previous write, [`NONE`] for its first.
    prev: u32,
}

/// A key, interned: ids count up in order of first appearance in the index.
pub(super) type KeyId = u32;

const NONE: u32 = u32::MAX;

/// How one key changed over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct KeyChange {
    pub key: KeyId,
    /// The put in effect at the window's start, if the item existed then.
    pub old: Option<WriteRef>,
    /// The put in effect at the window's end, if the item exists then.
    pub new: Option<WriteRef>,
    /// The last write of the key in the window.
    pub last_write: i64,
}

#[derive(Debug, Default)]
pub(super) struct HistoryIndex {
    /// The snapshot's bases (first [`HistoryIndex::bases`] entries, in live-set order), then
    /// the log's writes in timestamp order.
    writes: Vec<WriteRef>,
    bases: usize,
    /// Key ids by [`stable_hash`] of the key; keys whose hash is taken go to `collided`.
    key_ids: HashMap<u64, KeyId>,
    collided: HashMap<ItemKey, KeyId>,
    keys: Vec<ItemKey>,
    /// Position in `writes` of each key's latest write.
    latest: Vec<u32>,
    /// Keys written before the snapshot and gone by then: counted, not kept.
    retired_keys: u64,
    live: LiveSet,
}

/// A write whose timestamp is not after the previous one: the log is not in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OutOfOrder {
    pub previous: i64,
    pub ts: i64,
}

impl HistoryIndex {
    /// Adds the next write of the log.
    pub(super) fn record(
        &mut self,
        ts: i64,
        key: ItemKey,
        at: Location,
        put: bool,
    ) -> Result<(), OutOfOrder> {
        if let Some(previous) = self.last_ts().filter(|previous| ts <= *previous) {
            return Err(OutOfOrder { previous, ts });
        }
        self.push(ts, key, at, put);
        Ok(())
    }

    /// Adds the next base of a snapshot (all before any log write): the put in effect of a
    /// live item, in the order of the live set at the snapshot instant.
    pub(super) fn record_base(&mut self, ts: i64, key: ItemKey, at: Location) {
        debug_assert_eq!(self.bases, self.writes.len(), "bases come before the log's writes");
        self.push(ts, key, at, true);
        self.bases += 1;
    }

    /// Ends the snapshot: `keys_before` keys had been written before its instant (the live ones
    /// are its bases), so new keys go on counting from there.
    pub(super) fn end_snapshot(&mut self, keys_before: u64) {
        self.retired_keys = keys_before.saturating_sub(self.keys.len() as u64);
    }

    /// Keys ever written, including those retired by a snapshot.
    pub(super) fn key_count(&self) -> usize {
        self.retired_keys as usize + self.keys.len()
    }

    pub(super) fn key(&self, id: KeyId) -> &ItemKey {
        &self.keys[id as usize]
    }

    /// Items existing after the last write.
    pub(super) fn live_count(&self) -> usize {
        self.live.members.len()
    }

    /// The `n`-th live key (in a deterministic order that depends only on the writes).
    pub(super) fn live_key(&self, n: usize) -> KeyId {
        self.live.members[n]
    }

    /// The last write of `key`.
    pub(super) fn latest(&self, key: KeyId) -> Option<WriteRef> {
        self.latest.get(key as usize).map(|&i| self.writes[i as usize])
    }

    /// Writes in the log part (after the snapshot).
    pub(super) fn log_writes(&self) -> &[WriteRef] {
        &self.writes[self.bases..]
    }

    /// The put of each item that exists at `t` (writes before `t`), in key order.
    pub(super) fn state_at(&self, t: i64) -> Vec<WriteRef> {
        let mut puts: Vec<WriteRef> =
            (0..self.keys.len() as KeyId).filter_map(|key| self.before(key, t)).filter(|w| w.put).collect();
        puts.sort_by(|a, b| self.key(a.key).cmp(self.key(b.key)));
        puts
    }

    /// The snapshot a compaction at `t` would write: the put in effect of each item live at `t`,
    /// in the live set's order at `t`, and how many keys had been written before `t`.
    pub(super) fn snapshot_at(&self, t: i64) -> (Vec<WriteRef>, u64) {
        let end = self.bases + self.log_writes().partition_point(|w| w.ts < t);
        let mut live = LiveSet::default();
        let mut keys_seen = 0;
        for write in &self.writes[..end] {
            keys_seen = keys_seen.max(write.key + 1);
            if write.put { live.insert(write.key) } else { live.remove(write.key) }
        }
        let puts =
            live.members.iter().map(|&key| self.before(key, t).expect("a live key has a put")).collect();
        (puts, self.retired_keys + u64::from(keys_seen))
    }

    /// Every key written in `[from, to)`, in key order, with its puts at both ends.
    pub(super) fn changes_in(&self, from: i64, to: i64) -> Vec<KeyChange> {
        let log = self.log_writes();
        let lo = log.partition_point(|w| w.ts < from);
        let hi = log.partition_point(|w| w.ts < to);
        let mut keys: Vec<KeyId> = log[lo..hi].iter().map(|w| w.key).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut changes: Vec<KeyChange> = keys
            .into_iter()
            .map(|key| {
                let last = self.before(key, to).expect("the key was written in the window");
                KeyChange {
                    key,
                    old: self.before(key, from).filter(|w| w.put),
                    new: Some(last).filter(|w| w.put),
                    last_write: last.ts,
                }
            })
            .collect();
        changes.sort_by(|a, b| self.key(a.key).cmp(self.key(b.key)));
        changes
    }

    /// The last write of `key` before `t`, walking its chain back from its latest write.
    fn before(&self, key: KeyId, t: i64) -> Option<WriteRef> {
        let mut at = *self.latest.get(key as usize)?;
        while at != NONE {
            let write = self.writes[at as usize];
            if write.ts < t {
                return Some(write);
            }
            at = write.prev;
        }
        None
    }

    fn last_ts(&self) -> Option<i64> {
        self.log_writes().last().or(self.writes[..self.bases].iter().max_by_key(|w| w.ts)).map(|w| w.ts)
    }

    fn push(&mut self, ts: i64, key: ItemKey, at: Location, put: bool) {
        let id = self.intern(key);
        let position = self.writes.len() as u32;
        let prev = std::mem::replace(&mut self.latest[id as usize], position);
        self.writes.push(WriteRef { ts, key: id, at, put, prev });
        if put { self.live.insert(id) } else { self.live.remove(id) }
    }

    fn intern(&mut self, key: ItemKey) -> KeyId {
        let hash = stable_hash(key.0.as_bytes());
        match self.key_ids.get(&hash) {
            Some(&id) if self.keys[id as usize] == key => return id,
            Some(_) => {
                if let Some(&id) = self.collided.get(&key) {
                    return id;
                }
            }
            None => {}
        }
        let id = self.keys.len() as KeyId;
        match self.key_ids.entry(hash) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(id);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(key.clone(), id);
            }
        }
        self.keys.push(key);
        self.latest.push(NONE);
        id
    }
}

/// The set of existing keys, with O(1) insert, remove and "pick the n-th".
#[derive(Debug, Default)]
struct LiveSet {
    members: Vec<KeyId>,
    /// Position in `members` of each key id, [`LiveSet::ABSENT`] when not live.
    position: Vec<u32>,
}

impl LiveSet {
    const ABSENT: u32 = u32::MAX;

    fn insert(&mut self, key: KeyId) {
        if self.position.len() <= key as usize {
            self.position.resize(key as usize + 1, Self::ABSENT);
        }
        if self.position[key as usize] == Self::ABSENT {
            self.position[key as usize] = self.members.len() as u32;
            self.members.push(key);
        }
    }

    fn remove(&mut self, key: KeyId) {
        let Some(&at) = self.position.get(key as usize).filter(|&&at| at != Self::ABSENT) else { return };
        self.members.swap_remove(at as usize);
        if let Some(&moved) = self.members.get(at as usize) {
            self.position[moved as usize] = at;
        }
        self.position[key as usize] = Self::ABSENT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u32) -> ItemKey {
        ItemKey(format!("k{n:03}"))
    }

    fn at(ts: i64) -> Location {
        Location { offset: ts as u64 * 100, len: 100 }
    }

    /// k001 put@10, k002 put@20, k001 put@30, k002 delete@40, k003 put@50, k003 delete@60.
    fn index() -> HistoryIndex {
        let mut index = HistoryIndex::default();
        for (ts, k, put) in
            [(10, 1, true), (20, 2, true), (30, 1, true), (40, 2, false), (50, 3, true), (60, 3, false)]
        {
            index.record(ts, key(k), at(ts), put).unwrap();
        }
        index
    }

    #[test]
    fn state_at_takes_writes_strictly_before_t() {
        let index = index();
        let ts = |refs: Vec<WriteRef>| refs.iter().map(|w| w.ts).collect::<Vec<_>>();
        assert_eq!(ts(index.state_at(10)), Vec::<i64>::new());
        assert_eq!(ts(index.state_at(11)), vec![10]);
        assert_eq!(ts(index.state_at(35)), vec![30, 20]);
        assert_eq!(ts(index.state_at(55)), vec![30, 50]);
        assert_eq!(ts(index.state_at(100)), vec![30]);
    }

    #[test]
    fn changes_pair_the_images_at_both_ends_of_the_window() {
        let index = index();
        let changes = index.changes_in(25, 45);
        assert_eq!(changes.len(), 2);
        let (k1, k2) = (&changes[0], &changes[1]);
        assert_eq!((k1.old.map(|w| w.ts), k1.new.map(|w| w.ts), k1.last_write), (Some(10), Some(30), 30));
        assert_eq!((k2.old.map(|w| w.ts), k2.new.map(|w| w.ts), k2.last_write), (Some(20), None, 40));
        let born_and_gone = index.changes_in(45, 65);
        assert_eq!(born_and_gone.len(), 1);
        assert_eq!((born_and_gone[0].old, born_and_gone[0].new), (None, None));
        assert!(index.changes_in(45, 45).is_empty());
    }

    #[test]
    fn a_snapshot_answers_like_the_writes_it_replaces() {
        let whole = index();
        let (bases, keys_before) = whole.snapshot_at(35);
        assert_eq!(bases.iter().map(|w| w.ts).collect::<Vec<_>>(), vec![30, 20], "live-set order at 35");
        assert_eq!(keys_before, 2);
        let mut compacted = HistoryIndex::default();
        for base in &bases {
            compacted.record_base(base.ts, whole.key(base.key).clone(), base.at);
        }
        compacted.end_snapshot(keys_before);
        for (ts, k, put) in [(40, 2, false), (50, 3, true), (60, 3, false)] {
            compacted.record(ts, key(k), at(ts), put).unwrap();
        }
        let ts = |refs: Vec<WriteRef>| refs.iter().map(|w| (w.ts, w.at)).collect::<Vec<_>>();
        for t in [35, 41, 55, 100] {
            assert_eq!(ts(compacted.state_at(t)), ts(whole.state_at(t)), "state at {t}");
        }
        let pairs = |changes: Vec<KeyChange>, index: &HistoryIndex| {
            changes
                .iter()
                .map(|c| (index.key(c.key).clone(), c.old.map(|w| w.ts), c.new.map(|w| w.ts), c.last_write))
                .collect::<Vec<_>>()
        };
        assert_eq!(pairs(compacted.changes_in(35, 65), &compacted), pairs(whole.changes_in(35, 65), &whole));
        assert_eq!(compacted.key_count(), whole.key_count());
        assert_eq!(compacted.live_count(), whole.live_count());
        assert_eq!(compacted.key(compacted.live_key(0)), whole.key(whole.live_key(0)));
        assert_eq!(
            compacted.record(35, key(4), at(35), true),
            Err(OutOfOrder { previous: 60, ts: 35 }),
            "the log goes on after the snapshot"
        );
    }

    #[test]
    fn a_deleted_key_counts_toward_serials_after_a_snapshot() {
        let whole = index();
        let (bases, keys_before) = whole.snapshot_at(65);
        assert_eq!((bases.len(), keys_before), (1, 3));
        let mut compacted = HistoryIndex::default();
        compacted.record_base(bases[0].ts, whole.key(bases[0].key).clone(), bases[0].at);
        compacted.end_snapshot(keys_before);
        assert_eq!(compacted.key_count(), 3);
        compacted.record(70, key(5), at(70), true).unwrap();
        assert_eq!(compacted.key_count(), 4);
    }

    #[test]
    fn writes_must_be_in_timestamp_order() {
        let mut index = index();
        assert_eq!(index.record(60, key(9), at(60), true), Err(OutOfOrder { previous: 60, ts: 60 }));
    }

    #[test]
    fn the_live_set_follows_puts_and_deletes() {
        let index = index();
        assert_eq!(index.live_count(), 1);
        assert_eq!(index.live_key(0), 0);
        assert_eq!(index.key_count(), 3);
        assert_eq!(index.latest(1).map(|w| w.put), Some(false));
        let mut live = LiveSet::default();
        for k in [0, 1, 2, 3] {
            live.insert(k);
        }
        live.remove(1);
        live.remove(1);
        assert_eq!(live.members, vec![0, 3, 2]);
        assert_eq!(live.position[3], 1);
    }
}
