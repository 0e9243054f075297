//! `tables.toml`: the model the rest of dynashift consumes, and its loader.
//!
//! Loading validates everything before any I/O and reports problems as [`ConfigError`]s that
//! name the file, line and column and say what to do.

mod error;
mod ident;
mod load;
mod model;
mod path;
mod types;

pub use error::ConfigError;
pub use ident::{is_valid_identifier, quote_identifier};
pub use load::{load, load_str};
pub use model::*;
pub use path::AttrPath;
pub use types::ColumnType;
