//! Export data lines, exactly as DynamoDB writes them, and their spread over data files.
//!
//! Full: `{"Item":{…}}` per existing item. Incremental: one line per key written in the window
//! (its net change): `Keys` always, `NewImage` when the item exists at the end, `OldImage` when it
//! existed at the start and the view is `NEW_AND_OLD_IMAGES`; an item created and deleted inside
//! the window leaves no line.

use crate::config::ViewType;
use crate::ddb::line::{IncrementalLineOut, LineMetadata};
use crate::ddb::{AttributeValue, FullLine, Item, ItemKey};

use super::history::ItemChange;
use super::seed::stable_hash;

/// A data line and the hash of its item's key, which picks its data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedLine {
    pub key_hash: u64,
    pub text: String,
}

/// Lines of a full export of `items`.
pub fn full_lines(items: Vec<Item>, key_attributes: &[String]) -> Vec<KeyedLine> {
    items
        .into_iter()
        .map(|item| {
            let key_hash = key_hash(&item, key_attributes);
            let text = serde_json::to_string(&FullLine { item }).expect("export lines always serialize");
            KeyedLine { key_hash, text }
        })
        .collect()
}

/// Lines of an incremental export of `changes` in view `view_type`.
pub fn incremental_lines(
    changes: &[ItemChange],
    view_type: ViewType,
    key_attributes: &[String],
) -> Vec<KeyedLine> {
    changes
        .iter()
        .filter(|change| change.old.is_some() || change.new.is_some())
        .map(|change| {
            let line = IncrementalLineOut {
                metadata: LineMetadata {
                    write_timestamp_micros: AttributeValue::N(change.last_write_micros.to_string()),
                },
                keys: &change.keys,
                old_image: change.old.as_ref().filter(|_| view_type == ViewType::NewAndOldImages),
                new_image: change.new.as_ref(),
            };
            let text = serde_json::to_string(&line).expect("export lines always serialize");
            KeyedLine { key_hash: key_hash(&change.keys, key_attributes), text }
        })
        .collect()
}

/// How many data files an export has: 2 to 4, like the partitions of a small table, picked from
/// the export id so every process writing the export agrees.
pub fn data_file_count(export_id: &str) -> usize {
    2 + (stable_hash(export_id.as_bytes()) % 3) as usize
}

/// Spreads lines over `files` data files by key hash; some files may stay empty, as in AWS.
pub fn spread(lines: Vec<KeyedLine>, files: usize) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new(); files];
    for line in lines {
        out[(line.key_hash % files as u64) as usize].push(line.text);
    }
    out
}

fn key_hash(item: &Item, key_attributes: &[String]) -> u64 {
    let key = ItemKey::of(item, key_attributes).expect("demo items carry their key");
    stable_hash(key.0.as_bytes())
}

#[cfg(test)]
mod tests {
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
        let lines = full_lines(vec![item("a", "1")], &key_attributes());
        assert_eq!(lines[0].text, r#"{"Item":{"n":{"N":"1"},"pk":{"S":"a"}}}"#);
    }

    #[test]
    fn incremental_lines_follow_the_aws_formats_for_both_views() {
        let changes = [
            change("ins", None, Some("1")),
            change("upd", Some("1"), Some("2")),
            change("del", Some("1"), None),
        ];
        let both: Vec<String> = incremental_lines(&changes, ViewType::NewAndOldImages, &key_attributes())
            .into_iter()
            .map(|l| l.text)
            .collect();
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
        let new_only: Vec<String> = incremental_lines(&changes, ViewType::NewImage, &key_attributes())
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert!(new_only.iter().all(|l| !l.contains("OldImage")));
        assert_eq!(new_only[2], format!(r#"{meta},"Keys":{{"pk":{{"S":"del"}}}}}}"#));
    }

    #[test]
    fn an_item_born_and_gone_in_the_window_leaves_no_line() {
        assert!(
            incremental_lines(&[change("x", None, None)], ViewType::NewAndOldImages, &key_attributes())
                .is_empty()
        );
    }

    #[test]
    fn lines_spread_by_key_over_two_to_four_files() {
        for id in ["01768386924000-d339e52d", "01768386924000-00000000", "01768386924001-ffffffff"] {
            assert!((2..=4).contains(&data_file_count(id)));
        }
        let lines = full_lines((0..50).map(|i| item(&format!("k{i}"), "1")).collect(), &key_attributes());
        let files = spread(lines.clone(), 3);
        assert_eq!(files.len(), 3);
        assert_eq!(files.iter().map(Vec::len).sum::<usize>(), 50);
        assert!(files.iter().all(|f| !f.is_empty()), "50 keys reach every file");
        assert_eq!(spread(lines, 3), files, "the same key always lands in the same file");
        assert_eq!(spread(Vec::new(), 2), vec![Vec::<String>::new(), Vec::new()]);
    }
}
