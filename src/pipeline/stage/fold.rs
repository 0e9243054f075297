//! Folding changes by key across a run's incremental exports.
//!
//! Each incremental export already holds one line per changed key: its net change over the
//! window. Across windows the newest one wins, so the stage step reads exports newest first and
//! drops a key that a newer export already staged. What it remembers is the set of keys staged so
//! far: it grows with the number of changed keys, never with the size of the table (full exports
//! are not folded: a run stages exactly one, and its keys are unique by construction).

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use crate::ddb::ItemKey;

use super::error::StageError;

/// A set of keys hashed with [`KeyHasher`].
type KeySet = HashSet<ItemKey, BuildHasherDefault<KeyHasher>>;

/// The keys staged from the exports newer than the one being read.
#[derive(Debug, Default)]
pub(super) struct KeyFold {
    staged: KeySet,
}

impl KeyFold {
    /// Whether a newer export already staged this key, so an older change to it is dropped.
    pub(super) fn is_superseded(&self, key: &ItemKey) -> bool {
        self.staged.contains(key)
    }

    /// Adds the keys one export staged (collected per worker). A key staged by two workers of the
    /// same export means the export listed it twice.
    pub(super) fn absorb(&mut self, export_arn: &str, workers: Vec<ExportKeys>) -> Result<(), StageError> {
        self.staged.reserve(workers.iter().map(|w| w.keys.len()).sum());
        for worker in workers {
            // Keys move from the worker's set into the fold; nothing is copied.
            for key in worker.keys {
                if let Some(existing) = self.staged.replace(key) {
                    return Err(duplicate(export_arn, &existing, "another data file of the same export"));
                }
            }
        }
        Ok(())
    }
}

/// The keys one worker staged from the export being read.
#[derive(Debug, Default)]
pub(super) struct ExportKeys {
    keys: KeySet,
}

impl ExportKeys {
    /// Room for `keys` keys, so the set does not rehash as it fills.
    pub(super) fn with_capacity(keys: usize) -> ExportKeys {
        ExportKeys { keys: KeySet::with_capacity_and_hasher(keys, BuildHasherDefault::default()) }
    }

    /// Records a staged key; a key this worker already staged in this export is an error.
    pub(super) fn record(&mut self, export_arn: &str, key: ItemKey, file: &str) -> Result<(), StageError> {
        if let Some(existing) = self.keys.replace(key) {
            return Err(duplicate(export_arn, &existing, file));
        }
        Ok(())
    }
}

/// A fast multiplicative hash (the Fx hash of rustc) for the key sets, which are probed once per
/// changed item. The std SipHash resists hash flooding, which does not matter here: the keys come
/// from the user's own table, and a collision only costs a comparison.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct KeyHasher(u64);

impl KeyHasher {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::SEED);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.add(u64::from_le_bytes(tail) ^ ((chunks.remainder().len() as u64) << 56));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn duplicate(export_arn: &str, key: &ItemKey, file: &str) -> StageError {
    let key = super::error::capped(&key.to_string()).into_owned();
    StageError::DuplicateKey { export_arn: export_arn.into(), key, file: file.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> ItemKey {
        ItemKey(format!(r#"{{"S":"{text}"}}"#))
    }

    fn keys(export: &str, texts: &[&str]) -> ExportKeys {
        let mut keys = ExportKeys::default();
        for text in texts {
            keys.record(export, key(text), "f").unwrap();
        }
        keys
    }

    #[test]
    fn keys_of_newer_exports_supersede_older_changes() {
        let mut fold = KeyFold::default();
        assert!(!fold.is_superseded(&key("a")));
        fold.absorb("newest", vec![keys("newest", &["a"]), keys("newest", &["b"])]).unwrap();
        assert!(fold.is_superseded(&key("a")));
        assert!(fold.is_superseded(&key("b")));
        assert!(!fold.is_superseded(&key("c")));
        fold.absorb("older", vec![keys("older", &["c"])]).unwrap();
        assert!(fold.is_superseded(&key("c")));
    }

    #[test]
    fn a_key_twice_in_one_file_is_an_error() {
        let mut export = keys("e", &["a"]);
        let error = export.record("e", key("a"), "data/x.json.gz").unwrap_err();
        assert!(
            matches!(&error, StageError::DuplicateKey { file, key, .. } if file == "data/x.json.gz" && key == r#"{"S":"a"}"#),
            "{error}"
        );
    }

    #[test]
    fn the_key_hasher_separates_similar_keys() {
        let hash = |text: &str| {
            let mut hasher = KeyHasher::default();
            hasher.write(text.as_bytes());
            hasher.finish()
        };
        let texts = ["", "a", "b", "ab", "ba", "12345678", "123456789", "a\0", "a\0\0"];
        let hashes: HashSet<u64> = texts.iter().map(|t| hash(t)).collect();
        assert_eq!(hashes.len(), texts.len());
    }

    #[test]
    fn a_key_in_two_files_of_one_export_is_an_error() {
        let mut fold = KeyFold::default();
        let error = fold.absorb("e", vec![keys("e", &["a"]), keys("e", &["a"])]).unwrap_err();
        assert!(matches!(error, StageError::DuplicateKey { .. }), "{error}");
    }
}
