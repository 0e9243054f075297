//! The DynamoDB side of the formats: attribute values, export data lines and export manifests,
//! exactly as DynamoDB writes them to S3.

pub mod item_paths;
pub mod json;
pub mod key;
pub mod line;
pub mod manifest;
pub mod number;
pub mod value;

pub use key::ItemKey;
pub use line::{ExportLine, FullLine, IncrementalLine};
pub use manifest::{ManifestFileEntry, ManifestSummary};
pub use value::{AttributeValue, Item};
