//! Where a key was first seen, what a second sighting of it is, and the check that finds one:
//! shared by the in-memory key check ([`super::key_checks`]) and its spilled form
//! ([`super::digest_spill`]), which differ only in where the digests wait to be checked.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

/// Where a line was read: an index into [`super::key_checks::KeyDigests`]' file names, and the
/// line number. Ordered by file, then line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Origin {
    pub file: u32,
    pub line: u32,
}

/// What a key digest remembers: a digest of the exact key (to tell an exact repeat from a
/// trailing-blank twin) and where the key was first seen. 16 bytes, beside the 16-byte digest.
#[derive(Debug, Clone, Copy)]
pub(super) struct Seen {
    pub exact: u64,
    pub origin: Origin,
}

/// A second sighting of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyClash {
    /// The same key again.
    Repeated { first: Origin },
    /// A key equal to an earlier one once trailing blanks are dropped.
    BlankTwin { first: Origin },
}

/// What a second key with `seen`'s compared digest and `exact` digest is.
pub(super) fn clash_of(seen: &Seen, exact: u64) -> KeyClash {
    if seen.exact == exact {
        KeyClash::Repeated { first: seen.origin }
    } else {
        KeyClash::BlankTwin { first: seen.origin }
    }
}

/// Two sightings of one key: the clash, and where the second one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FoundClash {
    pub clash: KeyClash,
    pub second: Origin,
}

/// Checks one partition of key digests: the first digest met again is the clash, told from the
/// earlier of its two lines (by file, then line), whichever was recorded first.
pub(super) struct ClashFinder {
    seen: HashMap<u128, Seen, BuildHasherDefault<HighBits>>,
}

impl ClashFinder {
    /// A check of up to `records` digests (a partition's: small enough to stay in cache).
    pub(super) fn with_capacity(records: usize) -> ClashFinder {
        ClashFinder { seen: HashMap::with_capacity_and_hasher(records, BuildHasherDefault::default()) }
    }

    /// Adds the next digest; the clash when its key was seen before.
    pub(super) fn add(&mut self, compared: u128, sighting: Seen) -> Option<FoundClash> {
        match self.seen.entry(compared) {
            Entry::Occupied(other) => {
                let (first, second) = match *other.get() {
                    earlier if earlier.origin <= sighting.origin => (earlier, sighting),
                    later => (sighting, later),
                };
                Some(FoundClash { clash: clash_of(&first, second.exact), second: second.origin })
            }
            Entry::Vacant(slot) => {
                slot.insert(sighting);
                None
            }
        }
    }
}

/// The digest is already uniform: its high 64 bits are the table's hash (partitions are chosen
/// by its low bits, so these still vary within one).
#[derive(Debug, Default, Clone, Copy)]
struct HighBits(u64);

impl Hasher for HighBits {
    fn write(&mut self, bytes: &[u8]) {
        for (i, byte) in bytes.iter().take(8).enumerate() {
            self.0 |= u64::from(*byte) << (8 * i);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = (value >> 64) as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
