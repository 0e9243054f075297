//! Checks on keys across every line of a stage step, shared by all workers:
//! - a key attribute keeps one DynamoDB type (S, N or B) throughout: an S `"1"` among N keys
//!   would load onto the N item's row when the key column is text;
//! - a full export holds each key once (DynamoDB writes each item once; a second line would
//!   silently overwrite the first in the stage);
//! - when the warehouse ignores trailing blanks (Redshift), no two staged keys may differ only by
//!   trailing blanks: they are two DynamoDB items but one warehouse row.
//!
//! Keys are remembered as 128-bit digests (SipHash-1-3), with the first line that held them, so
//! memory stays small: see [`KeyDigests`] for the cost per key. A full export whose keys would not
//! fit `stage_memory_mb` even so has its digests checked on disk ([`super::digest_spill`]).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::{Mutex, OnceLock, PoisonError};

use siphasher::sip128::{Hasher128, SipHasher13};

use crate::contract::ExpectedKeyType;

use super::digest_spill::{DigestSpill, SpilledClash};
use super::error::{StageError, capped};
use super::image::{Map, Value};
use super::key_origin::{KeyClash, Origin, Seen, clash_of};

/// Shards of the digest map: workers insert concurrently, each shard behind its own lock.
const SHARDS: usize = 64;

/// The digests of the keys seen so far. Each costs 32 bytes of entry plus the hash table's
/// control byte and spare capacity: about 37 bytes a key when the table is 7/8 full, up to twice
/// that just after it grows (measured by `digest_entries_are_32_bytes`). Spilled, they cost a
/// write buffer per partition and 32 bytes of disk a key.
#[derive(Debug)]
pub(super) struct KeyDigests {
    held: Held,
    files: Mutex<Vec<String>>,
    trim_blanks: bool,
}

/// Where the digests are kept.
#[derive(Debug)]
enum Held {
    /// In memory: a clash is found as its second line is read.
    Memory(Vec<Mutex<HashMap<u128, Seen, BuildHasherDefault<LowBits>>>>),
    /// In partition files, checked once every line is read ([`KeyDigests::spilled_clash`]).
    Spilled(DigestSpill),
}

impl KeyDigests {
    /// `trim_blanks`: keys are compared with trailing blanks of their S attributes dropped.
    pub(super) fn new(trim_blanks: bool) -> KeyDigests {
        let shards = (0..SHARDS).map(|_| Mutex::new(HashMap::default())).collect();
        KeyDigests { held: Held::Memory(shards), files: Mutex::new(Vec::new()), trim_blanks }
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

    /// The first clash among spilled digests (none when they are kept in memory, where
    /// [`KeyDigests::record`] reports each clash as it happens).
    pub(super) fn spilled_clash(&self) -> Result<Option<SpilledClash>, StageError> {
        match &self.held {
            Held::Memory(_) => Ok(None),
            Held::Spilled(spill) => spill.first_clash(),
        }
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

    /// Records the key of `image`; a key seen before is a clash. Spilled digests report no
    /// clash here (see [`KeyDigests::spilled_clash`]), only a failure to write them.
    pub(super) fn record(
        &self,
        image: &Map<'_>,
        key_attributes: &[String],
        origin: Origin,
    ) -> Result<Option<KeyClash>, StageError> {
        let (compared, exact) = digests(image, key_attributes, self.trim_blanks);
        let shards = match &self.held {
            Held::Memory(shards) => shards,
            Held::Spilled(spill) => return spill.write(compared, Seen { exact, origin }).map(|()| None),
        };
        let mut shard = shards[(compared as usize) % SHARDS].lock().unwrap_or_else(PoisonError::into_inner);
        // One probe of the table, whether the key is new or a clash.
        Ok(match shard.entry(compared) {
            Entry::Occupied(seen) => Some(clash_of(seen.get(), exact)),
            Entry::Vacant(slot) => {
                slot.insert(Seen { exact, origin });
                None
            }
        })
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

/// The digest is already uniform: its low bits are the hash.
#[derive(Debug, Default, Clone, Copy)]
struct LowBits(u64);

impl Hasher for LowBits {
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

    #[test]
    fn a_repeated_key_names_its_first_line() {
        let digests = KeyDigests::new(false);
        digests.file_index("data/a.json.gz");
        let item = map(r#"{"pk":{"S":"a"},"sk":{"N":"1"},"x":{"S":"1"}}"#);
        assert_eq!(digests.record(&item, &keys(), at(1)).unwrap(), None);
        assert_eq!(digests.record(&map(r#"{"pk":{"S":"a"},"sk":{"N":"2"}}"#), &keys(), at(2)).unwrap(), None);
        assert_eq!(digests.record(&map(r#"{"pk":{"N":"a"},"sk":{"N":"1"}}"#), &keys(), at(3)).unwrap(), None);
        assert_eq!(
            digests.record(&map(r#"{"pk":{"S":"a "},"sk":{"N":"1"}}"#), &keys(), at(4)).unwrap(),
            None
        );
        let again = digests.record(&map(r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#), &keys(), at(5)).unwrap();
        assert_eq!(again, Some(KeyClash::Repeated { first: at(1) }));
        assert_eq!(digests.file_name(at(1)), "data/a.json.gz");
    }

    #[test]
    fn keys_that_differ_only_by_trailing_blanks_clash_when_blanks_are_ignored() {
        let digests = KeyDigests::new(true);
        assert_eq!(digests.record(&map(r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#), &keys(), at(1)).unwrap(), None);
        let twin = digests.record(&map(r#"{"pk":{"S":"a  "},"sk":{"N":"1"}}"#), &keys(), at(2)).unwrap();
        assert_eq!(twin, Some(KeyClash::BlankTwin { first: at(1) }));
        // Leading blanks and tabs are significant in Redshift too.
        assert_eq!(
            digests.record(&map(r#"{"pk":{"S":" a"},"sk":{"N":"1"}}"#), &keys(), at(3)).unwrap(),
            None
        );
        assert_eq!(
            digests.record(&map(r#"{"pk":{"S":"a\t"},"sk":{"N":"1"}}"#), &keys(), at(4)).unwrap(),
            None
        );
        let repeat = digests.record(&map(r#"{"pk":{"S":"a  "},"sk":{"N":"1"}}"#), &keys(), at(5)).unwrap();
        assert_eq!(repeat, Some(KeyClash::BlankTwin { first: at(1) }), "a clash is not remembered");
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
