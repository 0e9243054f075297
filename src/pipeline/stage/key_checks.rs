//! Checks on keys across every line of a stage step, shared by all workers:
//! - a key attribute keeps one DynamoDB type (S, N or B) throughout: an S `"1"` among N keys
//!   would load onto the N item's row when the key column is text;
//! - a full export holds each key once (DynamoDB writes each item once; a second line would
//!   silently overwrite the first in the stage);
//! - when the warehouse ignores trailing blanks (Redshift), no two staged keys may differ only by
//!   trailing blanks: they are two DynamoDB items but one warehouse row.
//!
//! Keys are remembered as 128-bit digests (SipHash-1-3), with the first line that held them, so
//! memory stays small: see [`KeyDigests`] for the cost per key. They are checked once every line
//! is read, a partition at a time ([`KeyDigests::first_clash`]): in memory, or on disk for a full
//! export whose keys would not fit `stage_memory_mb` even so ([`super::digest_spill`]).

use std::hash::Hasher;
use std::path::Path;
use std::sync::{Mutex, OnceLock, PoisonError};

use siphasher::sip128::{Hasher128, SipHasher13};

use crate::contract::ExpectedKeyType;

use super::digest_spill::DigestSpill;
use super::error::{StageError, capped};
use super::image::{Map, Value};
use super::key_origin::{ClashFinder, FoundClash, Origin, Seen};

/// Partitions of the in-memory digests: each is checked on its own, its hash table small enough
/// to stay in cache.
const SHARDS: usize = 256;

/// The digests of the keys seen so far, appended to partitions as lines are read (by each
/// worker into its own [`LaneDigests`]) and checked once every line is read.
///
/// Checking each key as its line was read, in one shared hash table, cost 7 % of a full
/// export's stage: the table outgrows the cache, so nearly every key was a cache miss, taken
/// under a shard's lock, whose atomic instructions then waited for it. Appending costs neither,
/// and each partition's check fits the cache. A key costs its 32-byte entry, up to twice that
/// just after its partition's vector grows (`digest_entries_are_32_bytes`), plus one
/// partition's hash table while it is checked. Spilled, digests cost a write buffer per
/// partition and 32 bytes of disk a key.
#[derive(Debug)]
pub(super) struct KeyDigests {
    held: Held,
    files: Mutex<Vec<String>>,
    trim_blanks: bool,
}

/// Where the digests wait to be checked.
#[derive(Debug)]
enum Held {
    /// Each worker's, handed over once it is done ([`KeyDigests::absorb`]).
    Memory(Mutex<Vec<LaneDigests>>),
    Spilled(DigestSpill),
}

/// One worker's in-memory digests, by partition: appended without a lock.
#[derive(Debug, Default)]
pub(super) struct LaneDigests(Vec<Vec<(u128, Seen)>>);

impl KeyDigests {
    /// `trim_blanks`: keys are compared with trailing blanks of their S attributes dropped.
    pub(super) fn new(trim_blanks: bool) -> KeyDigests {
        KeyDigests { held: Held::Memory(Mutex::default()), files: Mutex::new(Vec::new()), trim_blanks }
    }

    /// Digests of up to `keys` keys: in memory when they fit `budget` bytes, else spilled into
    /// partition files in `spool_dir`.
    pub(super) fn for_keys(trim_blanks: bool, keys: u64, budget: u64, spool_dir: &Path) -> KeyDigests {
        match DigestSpill::partitions_for(keys, budget) {
            None => KeyDigests::new(trim_blanks),
            Some(partitions) => KeyDigests {
                held: Held::Spilled(DigestSpill::new(spool_dir, partitions)),
                ..KeyDigests::new(trim_blanks)
            },
        }
    }

    /// The partitions the digests spill into (0: kept in memory).
    pub(super) fn spill_partitions(&self) -> usize {
        match &self.held {
            Held::Memory(_) => 0,
            Held::Spilled(spill) => spill.partitions(),
        }
    }

    /// Hands over a worker's digests, once it has read its last line.
    pub(super) fn absorb(&self, lane: LaneDigests) {
        if let Held::Memory(lanes) = &self.held {
            lanes.lock().unwrap_or_else(PoisonError::into_inner).push(lane);
        }
    }

    /// The first key recorded twice (in a full export), or two keys differing only by trailing
    /// blanks (under Redshift): checked once every line is read, a partition at a time. In
    /// memory, the digests are dropped as they are checked.
    pub(super) fn first_clash(&self) -> Result<Option<FoundClash>, StageError> {
        let lanes = match &self.held {
            Held::Memory(lanes) => std::mem::take(&mut *lanes.lock().unwrap_or_else(PoisonError::into_inner)),
            Held::Spilled(spill) => return spill.first_clash(),
        };
        let mut lanes: Vec<_> = lanes.into_iter().map(|lane| lane.0).collect();
        for shard in 0..SHARDS {
            let mut partition: Vec<_> =
                lanes.iter_mut().filter_map(|lane| lane.get_mut(shard).map(std::mem::take)).collect();
            let mut finder = ClashFinder::with_capacity(partition.iter().map(Vec::len).sum());
            let mut digests = partition.iter_mut().flat_map(|digests| digests.drain(..));
            if let Some(clash) = digests.find_map(|(compared, seen)| finder.add(compared, seen)) {
                return Ok(Some(clash));
            }
        }
        Ok(None)
    }

    /// Registers a data file; its index goes into each [`Origin`] read from it.
    pub(super) fn file_index(&self, key: &str) -> u32 {
        let mut files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files.push(key.to_owned());
        u32::try_from(files.len() - 1).unwrap_or(u32::MAX)
    }

    /// The data file an [`Origin`] names.
    pub(super) fn file_name(&self, origin: Origin) -> String {
        let files = self.files.lock().unwrap_or_else(PoisonError::into_inner);
        files.get(origin.file as usize).cloned().unwrap_or_default()
    }

    /// Records the key of `image`, seen at `origin`, for [`KeyDigests::first_clash`]: into
    /// the worker's own `lane` in memory.
    pub(super) fn record(
        &self,
        lane: &mut LaneDigests,
        image: &Map<'_>,
        key_attributes: &[String],
        origin: Origin,
    ) -> Result<(), StageError> {
        let (compared, exact) = digests(image, key_attributes, self.trim_blanks);
        let seen = Seen { exact, origin };
        match &self.held {
            Held::Memory(_) => {
                if lane.0.is_empty() {
                    lane.0.resize_with(SHARDS, Vec::new);
                }
                lane.0[(compared as usize) % SHARDS].push((compared, seen));
                Ok(())
            }
            Held::Spilled(spill) => spill.write(compared, seen),
        }
    }
}

/// The digest of the key as the warehouse compares it (trailing blanks dropped when `trim`), and
/// 64 bits of the digest of the exact key. Without `trim` the two keys are the same, so the
/// second digest is the first's low bits rather than a second hash of every key.
pub(super) fn digests(image: &Map<'_>, key_attributes: &[String], trim: bool) -> (u128, u64) {
    if !trim {
        let compared = exact_digest(image, key_attributes);
        return (compared, compared as u64);
    }
    let mut compared = SipHasher13::new();
    let mut exact = SipHasher13::new();
    for name in key_attributes {
        let (tag, text) = key_text(image.get(name));
        let trimmed = if tag == "S" { text.trim_end_matches(' ') } else { text };
        hash_part(&mut compared, tag, trimmed);
        hash_part(&mut exact, tag, text);
    }
    (compared.finish128().as_u128(), exact.finish128().as_u128() as u64)
}

/// The digest of the exact key: what [`digests`] computes for it, without trimming.
fn exact_digest(image: &Map<'_>, key_attributes: &[String]) -> u128 {
    let mut hasher = SipHasher13::new();
    for name in key_attributes {
        let (tag, text) = key_text(image.get(name));
        hash_part(&mut hasher, tag, text);
    }
    hasher.finish128().as_u128()
}

/// Feeds one key attribute to a key digest: its tag, and its text with its length first, so
/// that no two keys hash the same bytes.
#[inline]
fn hash_part(hasher: &mut SipHasher13, tag: &str, text: &str) {
    hasher.write(tag.as_bytes());
    hasher.write_usize(text.len());
    hasher.write(text.as_bytes());
}

/// A key attribute's type tag and text.
fn key_text<'v>(value: Option<&'v Value<'_>>) -> (&'static str, &'v str) {
    match value {
        Some(Value::S(text)) => ("S", text.as_ref()),
        Some(Value::N(text)) => ("N", text.as_ref()),
        Some(Value::B(text)) => ("B", text.as_ref()),
        // Checked before: every key attribute is present and S, N or B.
        _ => ("", ""),
    }
}

/// The DynamoDB type of each key attribute: the one the configuration knows (DescribeTable, or
/// the key column's type), else the one the first line of the stage step that has it gave it
/// (DynamoDB declares one type per key attribute, and every item's key has it).
#[derive(Debug)]
pub(super) struct KeyTypes {
    expected: Vec<Option<ExpectedKeyType>>,
    first: Vec<OnceLock<(&'static str, String, u64)>>,
}

impl KeyTypes {
    /// `expected`: parallel to `key_attributes`, shorter or `None` where nothing is known.
    pub(super) fn new(key_attributes: &[String], expected: &[Option<ExpectedKeyType>]) -> KeyTypes {
        KeyTypes {
            expected: (0..key_attributes.len()).map(|i| expected.get(i).cloned().flatten()).collect(),
            first: key_attributes.iter().map(|_| OnceLock::new()).collect(),
        }
    }

    /// Why `image`'s key attributes do not have their expected types, or the types the first line
    /// gave them, if they do not. `what` names the image (`Keys`, `Item`); `file` and `line` say
    /// where it is.
    pub(super) fn check(
        &self,
        image: &Map<'_>,
        key_attributes: &[String],
        what: &str,
        file: &str,
        line: u64,
    ) -> Option<(String, String)> {
        key_attributes.iter().enumerate().find_map(|(i, name)| {
            let tag = image.get(name)?.type_tag();
            let path = || format!("{what}.{name}");
            if let Some(expected) = &self.expected[i] {
                if !expected.accepts(tag) {
                    let reason = format!(
                        "key attribute `{}` is of type {tag} here, but the table's is of type {}, per {}; \
                         a DynamoDB key attribute has one type in every item, so this line is not of \
                         this table (or tables.toml types the key column wrongly)",
                        capped(name),
                        expected.describe(),
                        expected.source
                    );
                    return Some((path(), reason));
                }
                if expected.tags.len() == 1 {
                    return None;
                }
            }
            let (first_tag, first_file, first_line) =
                self.first[i].get_or_init(|| (tag, file.to_owned(), line));
            (*first_tag != tag).then(|| {
                let reason = format!(
                    "key attribute `{}` is of type {tag} here but of type {first_tag} in `{}`, line \
                     {first_line}; a DynamoDB key attribute has one type in every item",
                    capped(name),
                    capped(first_file)
                );
                (path(), reason)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stage::key_origin::KeyClash;

    fn map(text: &str) -> Map<'_> {
        serde_json::from_str(text).unwrap()
    }

    const KEYS: &[&str] = &["pk", "sk"];

    fn keys() -> Vec<String> {
        KEYS.iter().map(|k| k.to_string()).collect()
    }

    fn at(line: u32) -> Origin {
        Origin { file: 0, line }
    }

    /// Records each of `lines` (as line 1, 2, …), alternately by two workers, and checks them
    /// all.
    fn first_clash(digests: &KeyDigests, lines: &[&str]) -> Option<FoundClash> {
        let mut lanes = [LaneDigests::default(), LaneDigests::default()];
        for (number, line) in (1..).zip(lines) {
            digests.record(&mut lanes[number as usize % 2], &map(line), &keys(), at(number)).unwrap();
        }
        lanes.into_iter().for_each(|lane| digests.absorb(lane));
        digests.first_clash().unwrap()
    }

    #[test]
    fn a_repeated_key_names_its_first_line() {
        let digests = KeyDigests::new(false);
        digests.file_index("data/a.json.gz");
        let distinct = [
            r#"{"pk":{"S":"a"},"sk":{"N":"1"},"x":{"S":"1"}}"#,
            r#"{"pk":{"S":"a"},"sk":{"N":"2"}}"#,
            r#"{"pk":{"N":"a"},"sk":{"N":"1"}}"#,
            r#"{"pk":{"S":"a "},"sk":{"N":"1"}}"#,
        ];
        assert_eq!(first_clash(&digests, &distinct), None);
        let again = [&distinct[..], &[r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#]].concat();
        let found = first_clash(&digests, &again);
        assert_eq!(found, Some(FoundClash { clash: KeyClash::Repeated { first: at(1) }, second: at(5) }));
        assert_eq!(digests.file_name(at(1)), "data/a.json.gz");
    }

    #[test]
    fn keys_that_differ_only_by_trailing_blanks_clash_when_blanks_are_ignored() {
        let digests = KeyDigests::new(true);
        let a = r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#;
        let twin = first_clash(&digests, &[a, r#"{"pk":{"S":"a  "},"sk":{"N":"1"}}"#]);
        assert_eq!(twin, Some(FoundClash { clash: KeyClash::BlankTwin { first: at(1) }, second: at(2) }));
        // Leading blanks and tabs are significant in Redshift too.
        let others = [a, r#"{"pk":{"S":" a"},"sk":{"N":"1"}}"#, r#"{"pk":{"S":"a\t"},"sk":{"N":"1"}}"#];
        assert_eq!(first_clash(&digests, &others), None);
    }

    #[test]
    fn each_partition_is_emptied_as_it_is_checked() {
        let digests = KeyDigests::new(false);
        let line = r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#;
        assert!(first_clash(&digests, &[line, line]).is_some());
        assert_eq!(first_clash(&digests, &[line]), None, "the clash's digests are gone");
    }

    #[test]
    fn digest_entries_are_32_bytes() {
        assert_eq!(std::mem::size_of::<(u128, Seen)>(), 32);
    }

    #[test]
    fn a_key_attribute_keeps_its_first_type() {
        let types = KeyTypes::new(&keys(), &[]);
        let check = |text: &str, line| types.check(&map(text), &keys(), "Keys", "data/f.json.gz", line);
        assert_eq!(check(r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#, 1), None);
        assert_eq!(check(r#"{"pk":{"S":"b"},"sk":{"N":"2"}}"#, 2), None);
        let (path, reason) = check(r#"{"pk":{"S":"c"},"sk":{"S":"1"}}"#, 3).unwrap();
        assert_eq!(path, "Keys.sk");
        assert_eq!(
            reason,
            "key attribute `sk` is of type S here but of type N in `data/f.json.gz`, line 1; \
             a DynamoDB key attribute has one type in every item"
        );
    }

    fn expected(tags: &'static [&'static str], source: &str) -> Option<ExpectedKeyType> {
        Some(ExpectedKeyType { tags, source: source.into() })
    }

    #[test]
    fn a_key_attribute_of_another_type_than_the_tables_is_refused_on_the_first_line() {
        let types = KeyTypes::new(&keys(), &[expected(&["S"], "DynamoDB's key schema (DescribeTable)")]);
        let check = |text: &str, line| types.check(&map(text), &keys(), "Keys", "data/f.json.gz", line);
        let (path, reason) = check(r#"{"pk":{"N":"1"},"sk":{"N":"1"}}"#, 1).unwrap();
        assert_eq!(path, "Keys.pk");
        assert_eq!(
            reason,
            "key attribute `pk` is of type N here, but the table's is of type S, per DynamoDB's key \
             schema (DescribeTable); a DynamoDB key attribute has one type in every item, so this line \
             is not of this table (or tables.toml types the key column wrongly)"
        );
        assert_eq!(check(r#"{"pk":{"S":"1"},"sk":{"N":"1"}}"#, 2), None);
        // `sk`, of no known type, keeps the first type a line gave it.
        assert_eq!(check(r#"{"pk":{"S":"1"},"sk":{"B":"AA=="}}"#, 3).unwrap().0, "Keys.sk");
    }

    #[test]
    fn a_varchar_key_takes_strings_or_binaries_but_one_of_them_throughout() {
        let varchar = expected(&["S", "B"], "tables.toml, which types key column `pk` as varchar(64)");
        let types = KeyTypes::new(&keys(), &[varchar, None]);
        let check = |text: &str, line| types.check(&map(text), &keys(), "Item", "data/f.json.gz", line);
        let (path, reason) = check(r#"{"pk":{"N":"1"},"sk":{"N":"1"}}"#, 1).unwrap();
        assert_eq!(path, "Item.pk");
        assert!(
            reason.contains("of type S or B, per tables.toml, which types key column `pk` as varchar(64)"),
            "{reason}"
        );
        assert_eq!(check(r#"{"pk":{"B":"AA=="},"sk":{"N":"1"}}"#, 2), None);
        assert_eq!(check(r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#, 3).unwrap().0, "Item.pk");
    }
}
