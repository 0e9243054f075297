//! What a warehouse demands of staged rows beyond their column types, told to the stage step so
//! it can refuse (or null) what the load would get wrong, without the pipeline knowing which
//! warehouse it loads into.

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
}

impl StageRules {
    /// SQLite and PostgreSQL: text compares exactly, JSON strings have no practical limit.
    pub const EXACT: StageRules =
        StageRules { trailing_blanks_insignificant: false, super_string_limit: None };

    /// Redshift's rules.
    pub const REDSHIFT: StageRules =
        StageRules { trailing_blanks_insignificant: true, super_string_limit: Some(65_535) };
}
