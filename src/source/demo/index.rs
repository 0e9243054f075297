//! The in-memory index of a demo table's write log: every write's timestamp, key and location
//! (not its image: images stay in the log, so memory grows by ~40 bytes per write, not by the
//! item size), each key's writes, and the keys live at the end of the history.
//!
//! It answers the two questions exports ask — which items exist at T, and which keys changed in
//! [from, to) with their images at both ends — by binary search, without replaying the log.

use std::collections::HashMap;

use super::log::Location;
use crate::ddb::ItemKey;

/// One write, as indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteRef {
    pub ts: i64,
    pub key: KeyId,
    pub at: Location,
    /// A put (the item exists after it); `false` for a delete.
    pub put: bool,
}

/// A key, interned: ids count up in order of first write, so they double as insert serials.
pub type KeyId = u32;

/// How one key changed over a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyChange {
    pub key: KeyId,
    /// The put in effect at the window's start, if the item existed then.
    pub old: Option<WriteRef>,
    /// The put in effect at the window's end, if the item exists then.
    pub new: Option<WriteRef>,
    /// The last write of the key in the window.
    pub last_write: i64,
}

#[derive(Debug, Default)]
pub struct HistoryIndex {
    writes: Vec<WriteRef>,
    key_ids: HashMap<ItemKey, KeyId>,
    keys: Vec<ItemKey>,
    /// Positions in `writes` of each key's writes, ascending.
    per_key: Vec<Vec<u32>>,
    live: LiveSet,
}

/// A write whose timestamp is not after the previous one: the log is not in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfOrder {
    pub previous: i64,
    pub ts: i64,
}

impl HistoryIndex {
    /// Adds the next write of the log.
    pub fn record(&mut self, ts: i64, key: ItemKey, at: Location, put: bool) -> Result<(), OutOfOrder> {
        if let Some(previous) = self.writes.last().map(|w| w.ts).filter(|previous| ts <= *previous) {
            return Err(OutOfOrder { previous, ts });
        }
        let id = self.intern(key);
        self.per_key[id as usize].push(self.writes.len() as u32);
        self.writes.push(WriteRef { ts, key: id, at, put });
        if put {
            self.live.insert(id)
        } else {
            self.live.remove(id)
        }
        Ok(())
    }

    /// Keys ever written.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    pub fn key(&self, id: KeyId) -> &ItemKey {
        &self.keys[id as usize]
    }

    /// Items existing after the last write.
    pub fn live_count(&self) -> usize {
        self.live.members.len()
    }

    /// The `n`-th live key (in a deterministic order that depends only on the writes).
    pub fn live_key(&self, n: usize) -> KeyId {
        self.live.members[n]
    }

    /// The last write of `key`.
    pub fn latest(&self, key: KeyId) -> Option<WriteRef> {
        self.per_key[key as usize].last().map(|&i| self.writes[i as usize])
    }

    /// The put of each item that exists at `t` (writes before `t`), in key order.
    pub fn state_at(&self, t: i64) -> Vec<WriteRef> {
        let mut puts: Vec<WriteRef> =
            (0..self.keys.len() as KeyId).filter_map(|key| self.before(key, t)).filter(|w| w.put).collect();
        puts.sort_by(|a, b| self.key(a.key).cmp(self.key(b.key)));
        puts
    }

    /// Every key written in `[from, to)`, in key order, with its puts at both ends.
    pub fn changes_in(&self, from: i64, to: i64) -> Vec<KeyChange> {
        let lo = self.writes.partition_point(|w| w.ts < from);
        let hi = self.writes.partition_point(|w| w.ts < to);
        let mut keys: Vec<KeyId> = self.writes[lo..hi].iter().map(|w| w.key).collect();
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

    /// The last write of `key` before `t`.
    fn before(&self, key: KeyId, t: i64) -> Option<WriteRef> {
        let positions = &self.per_key[key as usize];
        let n = positions.partition_point(|&i| self.writes[i as usize].ts < t);
        n.checked_sub(1).map(|n| self.writes[positions[n] as usize])
    }

    fn intern(&mut self, key: ItemKey) -> KeyId {
        if let Some(&id) = self.key_ids.get(&key) {
            return id;
        }
        let id = self.keys.len() as KeyId;
        self.key_ids.insert(key.clone(), id);
        self.keys.push(key);
        self.per_key.push(Vec::new());
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
