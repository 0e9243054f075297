//! The data lines of DynamoDB export files (`DYNAMODB_JSON`), one JSON object per line.
//!
//! Full exports write `{"Item":{…}}`. Incremental exports write
//! `{"Metadata":{"WriteTimestampMicros":{"N":"…"}},"Keys":{…},"NewImage":{…},"OldImage":{…}}`,
//! where a missing `NewImage` means the item was deleted in the window.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::value::{AttributeValue, Item};

/// A line of a full export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FullLine {
    #[serde(rename = "Item")]
    pub item: Item,
}

/// `Metadata` of an incremental export line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineMetadata {
    #[serde(rename = "WriteTimestampMicros")]
    pub write_timestamp_micros: AttributeValue,
}

/// A line of an incremental export, as read. The old image is only noted, never parsed: the
/// apply rule needs the new image alone, and skipping the old one keeps staging fast.
#[derive(Debug, Clone, Deserialize)]
pub struct IncrementalLine {
    #[serde(rename = "Metadata")]
    pub metadata: LineMetadata,
    #[serde(rename = "Keys")]
    pub keys: Item,
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<Item>,
    #[serde(rename = "OldImage", default)]
    pub old_image: Option<IgnoredAny>,
}

/// A line of an incremental export, as written (by the demo source and by test fixtures).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncrementalLineOut<'a> {
    #[serde(rename = "Metadata")]
    pub metadata: LineMetadata,
    #[serde(rename = "Keys")]
    pub keys: &'a Item,
    #[serde(rename = "OldImage", skip_serializing_if = "Option::is_none")]
    pub old_image: Option<&'a Item>,
    #[serde(rename = "NewImage", skip_serializing_if = "Option::is_none")]
    pub new_image: Option<&'a Item>,
}

/// What one export line means for the target table.
#[derive(Debug, Clone, PartialEq)]
pub enum ExportLine {
    /// The item exists with this image (full export line, insert or update).
    Upsert { item: Item, write_micros: Option<i64> },
    /// The item with these keys was deleted.
    Delete { keys: Item, write_micros: i64 },
}
