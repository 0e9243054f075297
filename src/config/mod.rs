//! `tables.toml`: the model the rest of dynashift consumes, and its loader.
//!
//! Loading validates everything before any I/O and reports problems as [`ConfigError`]s that
//! name the file, line and column and say what to do.

mod alerts;
mod aws_source;
mod catalog;
mod columns;
mod defaults;
mod described_key;
mod drafts;
mod duration;
mod error;
mod every;
mod history;
mod ident;
mod inherit;
mod issues;
mod key_types;
mod load;
mod location;
mod model;
mod names;
mod path;
mod postgres_url;
mod pushdown_path;
mod raw;
mod raw_warehouse;
mod reader;
mod redshift;
mod reserved;
mod source_map;
mod staged_columns;
mod syntax;
mod table;
#[cfg(test)]
pub(crate) mod testing;
mod types;
mod validate;
mod warehouse;

pub use catalog::{DEMO_TABLES, demo_table_key};
pub use described_key::{KeyAttribute, KeyError};
pub use drafts::KeyScalar;
pub use error::{ConfigError, Excerpt, Problem};
pub use ident::{
    MAX_IDENTIFIER_BYTES, check_identifier, is_valid_identifier, quote_identifier, quote_identifier_list,
};
pub use load::{load, load_str};
pub use location::check_bucket_name;
pub use model::*;
pub use path::{AttrPath, PathSegment};
pub use pushdown_path::path_problem;
pub use staged_columns::{change_columns, staged_columns, target_columns};
pub use types::{ColumnType, VARCHAR_MAX};
