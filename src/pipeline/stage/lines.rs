//! The two export data line shapes, as the stage step parses them (borrowing, see [`super::image`]).
//!
//! Full exports write `{"Item":{…}}`; incremental exports write
//! `{"Metadata":{"WriteTimestampMicros":{"N":"…"}},"Keys":{…},"NewImage":{…},"OldImage":{…}}`,
//! where a missing `NewImage` is a delete. `NewImage` present but `null` is refused, not read as
//! a delete: DynamoDB leaves the field out, and a damaged line must not delete a row. `OldImage`
//! is checked to be a map and skipped without building it: the apply rule needs the new image
//! alone.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::ddb::ItemKey;

use super::error::capped;
use super::image::{Map, Value};

/// A line of a full export.
#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct FullItemLine<'a> {
    #[serde(rename = "Item", borrow)]
    pub item: Map<'a>,
}

/// A line of an incremental export.
#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct ChangeLine<'a> {
    #[serde(rename = "Metadata", borrow)]
    pub metadata: Metadata<'a>,
    #[serde(rename = "Keys", borrow)]
    pub keys: Map<'a>,
    #[serde(rename = "NewImage", borrow, default, deserialize_with = "present_map")]
    pub new_image: Option<Map<'a>>,
    #[serde(rename = "OldImage", default, deserialize_with = "present_skipped")]
    pub _old_image: Option<SkippedMap>,
}

/// A field that, when present, must be a map (`null` included is refused).
fn present_map<'de: 'a, 'a, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Map<'a>>, D::Error> {
    Map::deserialize(deserializer).map(Some)
}

fn present_skipped<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SkippedMap>, D::Error> {
    SkippedMap::deserialize(deserializer).map(Some)
}

/// A map whose entries are skipped unbuilt (`OldImage`): only its shape is checked.
#[derive(Debug, PartialEq)]
pub(super) struct SkippedMap;

impl<'de> Deserialize<'de> for SkippedMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SkippedMap, D::Error> {
        struct SkippedVisitor;

        impl<'de> Visitor<'de> for SkippedVisitor {
            type Value = SkippedMap;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of attribute names to DynamoDB values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<SkippedMap, A::Error> {
                while access.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(SkippedMap)
            }
        }

        deserializer.deserialize_map(SkippedVisitor)
    }
}

#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct Metadata<'a> {
    #[serde(rename = "WriteTimestampMicros", borrow)]
    pub write_timestamp_micros: Value<'a>,
}

impl ChangeLine<'_> {
    /// `WriteTimestampMicros` as an integer, when it is an integral N.
    pub(super) fn write_micros(&self) -> Option<i64> {
        match &self.metadata.write_timestamp_micros {
            Value::N(text) => text.parse().ok(),
            _ => None,
        }
    }
}

/// The same [`ItemKey`] that `ItemKey::of` builds for the owned item (each key attribute's
/// DynamoDB JSON, joined by U+001F), built without converting the image; `None` when a key
/// attribute is missing.
pub(super) fn item_key(image: &Map<'_>, key_attributes: &[String]) -> Option<ItemKey> {
    let mut text = Vec::with_capacity(64);
    for (i, name) in key_attributes.iter().enumerate() {
        if i > 0 {
            text.extend_from_slice("\u{1f}".as_bytes());
        }
        serde_json::to_writer(&mut text, image.get(name)?).ok()?;
    }
    String::from_utf8(text).ok().map(ItemKey)
}

/// Why `image` cannot carry the primary key `key_attributes`, if it cannot: every key attribute
/// must be present and of a key type (DynamoDB keys are only ever S, N or B), or the row could
/// neither be matched nor merged.
pub(super) fn key_problem(image: &Map<'_>, key_attributes: &[String], what: &str) -> Option<String> {
    key_attributes.iter().find_map(|name| match image.get(name) {
        None => Some(format!("{what} has no key attribute `{name}`")),
        Some(value) if !matches!(value.type_tag(), "S" | "N" | "B") => Some(format!(
            "{what} has key attribute `{name}` of type {}; DynamoDB keys are S, N or B",
            value.type_tag()
        )),
        Some(_) => None,
    })
}

/// Why `new_image` does not describe the item `keys` names, if it does not: a line whose
/// `Keys` say one item and whose `NewImage` holds another would load the second under the
/// first's change. Both have been checked by [`key_problem`].
pub(super) fn keys_disagree(
    keys: &Map<'_>,
    new_image: &Map<'_>,
    key_attributes: &[String],
) -> Option<(String, String)> {
    key_attributes.iter().find_map(|name| {
        let (in_keys, in_image) = (keys.get(name)?, new_image.get(name)?);
        (in_keys != in_image).then(|| {
            let json =
                |value: &Value<'_>| capped(&serde_json::to_string(value).unwrap_or_default()).into_owned();
            (name.clone(), format!("`Keys` has {} but `NewImage` has {}", json(in_keys), json(in_image)))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ddb::Item;

    #[test]
    fn key_attributes_must_be_present_and_scalar() {
        let keys = ["id".to_owned()];
        let problem = |text: &str, what: &str| {
            key_problem(&serde_json::from_str::<Map<'_>>(text).unwrap(), &keys, what)
        };
        assert_eq!(problem(r#"{"id":{"S":"1"}}"#, "the item"), None);
        assert_eq!(problem(r#"{"id":{"N":"1"}}"#, "the item"), None);
        let missing = problem(r#"{"x":{"S":"1"}}"#, "NewImage").unwrap();
        assert!(missing.contains("NewImage has no key attribute `id`"), "{missing}");
        let map_key = problem(r#"{"id":{"M":{"a":{"S":"b"}}}}"#, "Keys").unwrap();
        assert!(map_key.contains("of type M"), "{map_key}");
    }

    #[test]
    fn item_keys_match_the_owned_form() {
        let text = r#"{"pk":{"S":"a\"b\u0001"},"sk":{"N":"2"},"x":{"BOOL":true}}"#;
        let item: Item = serde_json::from_str(text).unwrap();
        let map: Map<'_> = serde_json::from_str(text).unwrap();
        let attributes = ["pk".to_owned(), "sk".to_owned()];
        assert_eq!(item_key(&map, &attributes), ItemKey::of(&item, &attributes));
        assert_eq!(item_key(&map, &["nope".to_owned()]), None);
    }

    #[test]
    fn change_lines_skip_the_old_image_and_read_the_timestamp() {
        let line = r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768386096366933"}},"Keys":{"pk":{"S":"2"}},
            "OldImage":{"pk":{"S":"2"},"bad":{"WHATEVER":1}},"NewImage":{"pk":{"S":"2"},"t":{"S":"x"}}}"#;
        let change: ChangeLine<'_> = serde_json::from_str(line).unwrap();
        assert_eq!(change.write_micros(), Some(1_768_386_096_366_933));
        assert!(change.new_image.unwrap().contains_key("t"));
        let delete: ChangeLine<'_> = serde_json::from_str(
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1.5"}},"Keys":{"pk":{"S":"2"}}}"#,
        )
        .unwrap();
        assert!(delete.new_image.is_none());
        assert_eq!(delete.write_micros(), None);
    }

    #[test]
    fn a_null_or_scalar_image_is_refused() {
        let line = |image: &str| {
            format!(
                r#"{{"Metadata":{{"WriteTimestampMicros":{{"N":"1"}}}},"Keys":{{"pk":{{"S":"2"}}}},{image}}}"#
            )
        };
        for image in [r#""NewImage":null"#, r#""NewImage":[]"#, r#""OldImage":null"#, r#""OldImage":"x""#] {
            let error = serde_json::from_str::<ChangeLine<'_>>(&line(image)).unwrap_err();
            assert_eq!(error.classify(), serde_json::error::Category::Data, "{image}: {error}");
        }
        assert!(serde_json::from_str::<ChangeLine<'_>>(&line(r#""OldImage":{"a":{"X":1}}"#)).is_ok());
    }

    #[test]
    fn keys_must_name_the_new_images_item() {
        let keys = ["pk".to_owned()];
        fn map(text: &str) -> Map<'_> {
            serde_json::from_str(text).unwrap()
        }
        let (same, other) = (map(r#"{"pk":{"S":"1"}}"#), map(r#"{"pk":{"S":"2"},"x":{"N":"1"}}"#));
        assert_eq!(keys_disagree(&same, &map(r#"{"pk":{"S":"1"},"x":{"N":"1"}}"#), &keys), None);
        let (name, reason) = keys_disagree(&same, &other, &keys).unwrap();
        assert_eq!(name, "pk");
        assert_eq!(reason, r#"`Keys` has {"S":"1"} but `NewImage` has {"S":"2"}"#);
        assert!(keys_disagree(&same, &map(r#"{"pk":{"N":"1"}}"#), &keys).is_some());
        let long = format!(r#"{{"pk":{{"S":"{}"}}}}"#, "k".repeat(1_000_000));
        let (_, reason) = keys_disagree(&same, &map(&long), &keys).unwrap();
        assert!(reason.len() < 600 && reason.ends_with("… (1000008 bytes)"), "{reason}");
    }

    #[test]
    fn full_lines_need_an_item() {
        assert!(serde_json::from_str::<FullItemLine<'_>>(r#"{"Item":{"pk":{"S":"1"}}}"#).is_ok());
        assert!(serde_json::from_str::<FullItemLine<'_>>(r#"{"Items":{}}"#).is_err());
    }
}
