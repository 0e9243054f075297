//! Export data lines, exactly as DynamoDB writes them, and their spread over data files.
//!
//! Full: `{"Item":{…}}` per existing item. Incremental: one line per key written in the window
//! (its net change): `Keys` always, `NewImage` when the item exists at the end, `OldImage` when it
//! existed at the start and the view is `NEW_AND_OLD_IMAGES`; an item created and deleted inside
//! the window leaves no line.

use std::path::Path;

use crate::config::ViewType;
use crate::ddb::line::{IncrementalLineOut, LineMetadata};
use crate::ddb::{AttributeValue, FullLine, Item, ItemKey};
use crate::source::layout::{GzipDataFile, GzipFileWriter};

use super::error::DemoError;
use super::history::ItemChange;
use super::seed::stable_hash;

/// A data line and the hash of its item's key, which picks its data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyedLine {
    pub key_hash: u64,
    pub text: String,
}

/// The line of `item` in a full export.
pub(super) fn full_line(item: Item, key_attributes: &[String]) -> KeyedLine {
    let key_hash = key_hash(&item, key_attributes);
    let text = serde_json::to_string(&FullLine { item }).expect("export lines always serialize");
    KeyedLine { key_hash, text }
}

/// The line of `change` in an incremental export in view `view_type`; `None` for an item created
/// and deleted inside the window.
pub(super) fn incremental_line(
    change: &ItemChange,
    view_type: ViewType,
    key_attributes: &[String],
) -> Option<KeyedLine> {
    if change.old.is_none() && change.new.is_none() {
        return None;
    }
    let line = IncrementalLineOut {
        metadata: LineMetadata {
            write_timestamp_micros: AttributeValue::N(change.last_write_micros.to_string()),
        },
        keys: &change.keys,
        old_image: change.old.as_ref().filter(|_| view_type == ViewType::NewAndOldImages),
        new_image: change.new.as_ref(),
    };
    let text = serde_json::to_string(&line).expect("export lines always serialize");
    Some(KeyedLine { key_hash: key_hash(&change.keys, key_attributes), text })
}

/// An export's data files being written: each line goes, as it is made, to the file its key
/// hash picks, so memory stays at one line whatever the export's size.
pub(super) struct DataFiles {
    files: Vec<GzipFileWriter>,
    /// Bytes of DynamoDB JSON written, newlines included (what AWS bills).
    text_bytes: u64,
}

impl DataFiles {
    /// `count` empty data files in `dir` (which must exist).
    pub(super) fn create(dir: &Path, count: usize) -> Result<DataFiles, DemoError> {
        let files = (0..count)
            .map(|n| {
                let path = dir.join(format!("part-{n}.json.gz"));
                GzipFileWriter::create(&path).map_err(DemoError::io(&path))
            })
            .collect::<Result<_, _>>()?;
        Ok(DataFiles { files, text_bytes: 0 })
    }

    pub(super) fn write(&mut self, line: &KeyedLine) -> Result<(), DemoError> {
        let n = (line.key_hash % self.files.len() as u64) as usize;
        let file = &mut self.files[n];
        file.write_line(&line.text).map_err(|e| DemoError::Io { path: file.path().to_owned(), source: e })?;
        self.text_bytes += line.text.len() as u64 + 1;
        Ok(())
    }

    /// Closes every file; returns them with the bytes of JSON written.
    pub(super) fn finish(self) -> Result<(Vec<GzipDataFile>, u64), DemoError> {
        let files = self
            .files
            .into_iter()
            .map(|file| {
                let path = file.path().to_owned();
                file.finish().map_err(|e| DemoError::Io { path, source: e })
            })
            .collect::<Result<_, _>>()?;
        Ok((files, self.text_bytes))
    }
}

/// How many data files an export has: 2 to 4, like the partitions of a small table, picked from
/// the export id so every process writing the export agrees.
pub(super) fn data_file_count(export_id: &str) -> usize {
    2 + (stable_hash(export_id.as_bytes()) % 3) as usize
}

fn key_hash(item: &Item, key_attributes: &[String]) -> u64 {
    let key = ItemKey::of(item, key_attributes).expect("demo items carry their key");
    stable_hash(key.0.as_bytes())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use flate2::read::MultiGzDecoder;
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::ddb::AttributeValue as V;

    fn key_attributes() -> Vec<String> {
        vec!["pk".into()]
    }

    fn item(pk: &str, n: &str) -> Item {
        Item::from([("pk".into(), V::S(pk.into())), ("n".into(), V::N(n.into()))])
    }

    fn change(pk: &str, old: Option<&str>, new: Option<&str>) -> ItemChange {
        ItemChange {
            keys: Item::from([("pk".into(), V::S(pk.into()))]),
            old: old.map(|n| item(pk, n)),
            new: new.map(|n| item(pk, n)),
            last_write_micros: 1768386096366933,
        }
    }

    #[test]
    fn full_lines_wrap_each_item() {
        let line = full_line(item("a", "1"), &key_attributes());
        assert_eq!(line.text, r#"{"Item":{"n":{"N":"1"},"pk":{"S":"a"}}}"#);
    }

    #[test]
    fn incremental_lines_follow_the_aws_formats_for_both_views() {
        let changes = [
            change("ins", None, Some("1")),
            change("upd", Some("1"), Some("2")),
            change("del", Some("1"), None),
        ];
        let lines = |view| -> Vec<String> {
            changes
                .iter()
                .filter_map(|c| incremental_line(c, view, &key_attributes()))
                .map(|l| l.text)
                .collect()
        };
        let both = lines(ViewType::NewAndOldImages);
        let meta = r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768386096366933"}}"#;
        assert_eq!(
            both,
            vec![
                format!(
                    r#"{meta},"Keys":{{"pk":{{"S":"ins"}}}},"NewImage":{{"n":{{"N":"1"}},"pk":{{"S":"ins"}}}}}}"#
                ),
                format!(
                    r#"{meta},"Keys":{{"pk":{{"S":"upd"}}}},"OldImage":{{"n":{{"N":"1"}},"pk":{{"S":"upd"}}}},"NewImage":{{"n":{{"N":"2"}},"pk":{{"S":"upd"}}}}}}"#
                ),
                format!(
                    r#"{meta},"Keys":{{"pk":{{"S":"del"}}}},"OldImage":{{"n":{{"N":"1"}},"pk":{{"S":"del"}}}}}}"#
                ),
            ]
        );
        let new_only = lines(ViewType::NewImage);
        assert!(new_only.iter().all(|l| !l.contains("OldImage")));
        assert_eq!(new_only[2], format!(r#"{meta},"Keys":{{"pk":{{"S":"del"}}}}}}"#));
    }

    #[test]
    fn an_item_born_and_gone_in_the_window_leaves_no_line() {
        assert_eq!(
            incremental_line(&change("x", None, None), ViewType::NewAndOldImages, &key_attributes()),
            None
        );
    }

    #[test]
    fn lines_spread_by_key_over_two_to_four_files() {
        for id in ["01768386924000-d339e52d", "01768386924000-00000000", "01768386924001-ffffffff"] {
            assert!((2..=4).contains(&data_file_count(id)));
        }
        let dir = tempfile::tempdir().unwrap();
        let write = |keys: &mut dyn Iterator<Item = String>| {
            let mut files = DataFiles::create(dir.path(), 3).unwrap();
            for k in keys {
                files.write(&full_line(item(&k, "1"), &key_attributes())).unwrap();
            }
            let (files, bytes) = files.finish().unwrap();
            let text: Vec<String> = files
                .iter()
                .map(|f| {
                    let mut text = String::new();
                    MultiGzDecoder::new(std::fs::File::open(&f.path).unwrap())
                        .read_to_string(&mut text)
                        .unwrap();
                    text
                })
                .collect();
            (files.iter().map(|f| f.item_count).collect::<Vec<_>>(), text, bytes)
        };
        let (counts, text, bytes) = write(&mut (0..50).map(|i| format!("k{i}")));
        assert_eq!(counts.iter().sum::<u64>(), 50);
        assert!(counts.iter().all(|&c| c > 0), "50 keys reach every file: {counts:?}");
        assert_eq!(
            bytes,
            text.iter().map(|t| t.len() as u64).sum::<u64>(),
            "bytes of JSON, newlines included"
        );
        let again = write(&mut (0..50).rev().map(|i| format!("k{i}")));
        for (a, b) in text.iter().zip(&again.1) {
            let (mut a, mut b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b, "the same key always lands in the same file");
        }
        assert_eq!(write(&mut std::iter::empty()).0, vec![0, 0, 0]);
    }
}
