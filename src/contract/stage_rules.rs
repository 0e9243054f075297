//! What a warehouse demands of staged rows beyond their column types, told to the stage step so
//! it can refuse (or null) what the load would get wrong, without the pipeline knowing which
//! warehouse it loads into.

use super::staged::StagedCompression;

/// Rules the stage step applies for the warehouse a run loads into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StageRules {
    /// The warehouse compares text ignoring trailing blanks (Redshift: `'a' = 'a '` is true, RS-DG
    /// "Examples with character types"), so DynamoDB keys `"a"` and `"a "` — two items — would
    /// meet as one row: a MERGE whose source holds both fails, otherwise one overwrites the other.
    pub trailing_blanks_insignificant: bool,
    /// Longest string, in bytes, that a `super` value may hold (Redshift: 65,535, RS-DG "SUPER
    /// limitations"); `None` when the warehouse has no such limit.
    pub super_string_limit: Option<usize>,
    /// How the staged files are compressed for this warehouse's loader.
    pub compression: StagedCompression,
}

impl StageRules {
    /// SQLite and PostgreSQL: text compares exactly, JSON strings have no practical limit.
    /// dynashift reads their staged files itself, so they take the faster LZ4.
    pub const EXACT: StageRules = StageRules {
        trailing_blanks_insignificant: false,
        super_string_limit: None,
        compression: StagedCompression::Lz4,
    };

    /// Redshift's rules.
    pub const REDSHIFT: StageRules = StageRules {
        trailing_blanks_insignificant: true,
        super_string_limit: Some(65_535),
        compression: StagedCompression::Gzip,
    };
}
