//! The sync mode and the incremental view type: chosen in `tables.toml`, carried by every export
//! spec and run event, so they sit in the contract rather than in the config model.

use serde::{Deserialize, Serialize};

/// Sync mode: replace the whole target from a full export, or apply changes since the watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Full,
    Incremental,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Incremental => "incremental",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Incremental export view type (the wire enum values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViewType {
    #[serde(rename = "NEW_AND_OLD_IMAGES")]
    NewAndOldImages,
    #[serde(rename = "NEW_IMAGE")]
    NewImage,
}

impl ViewType {
    pub fn as_str(self) -> &'static str {
        match self {
            ViewType::NewAndOldImages => "NEW_AND_OLD_IMAGES",
            ViewType::NewImage => "NEW_IMAGE",
        }
    }
}
