//! The shapes the key and column rules hand each other: a column or key on its way to the
//! validated model (`Draft`, `KeyDraft`), with where tables.toml writes it (`Placed`), and the
//! key scalar types DynamoDB declares. They sit below `columns`, `described_key` and `key_types`,
//! which all work on them, so those files need not import each other in a circle.

use std::ops::Range;

use toml::Spanned;

use crate::contract::ExpectedKeyType;

use super::model::{ColumnSpec, KeyFromTable, UnmappedPolicy};
use super::path::AttrPath;
use super::types::ColumnType;

/// The scalar type DynamoDB declares for a key attribute (`AttributeType` S, N or B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScalar {
    String,
    Number,
    Binary,
}

impl KeyScalar {
    /// Whether a column of type `ty` holds at least some values of this type. Mirrors the stage
    /// step's conversions: binary values load only as base64 text, and no number is a date. A
    /// column that fails every key value would fail every row of a sync.
    pub fn fits(self, ty: ColumnType) -> bool {
        match (self, ty) {
            (KeyScalar::Binary, ColumnType::Varchar(_)) => true,
            (KeyScalar::Binary, _) => false,
            (KeyScalar::Number, ColumnType::Date) => false,
            _ => true,
        }
    }

    /// "a number (N)", for messages.
    pub(super) fn describe(self) -> &'static str {
        match self {
            KeyScalar::String => "a string (S)",
            KeyScalar::Number => "a number (N)",
            KeyScalar::Binary => "a binary (B)",
        }
    }

    /// What to type a key column of this kind as.
    pub(super) fn column_hint(self) -> &'static str {
        match self {
            KeyScalar::String => "use varchar(n) for a string key",
            KeyScalar::Number => "use bigint or decimal(38,0) for a number key",
            KeyScalar::Binary => "use varchar(n): a binary key loads as its base64 text",
        }
    }
}

/// What a table's rows look like in the warehouse.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ColumnLayout {
    /// Empty while `key_from_table` is `Some`.
    pub key: Vec<String>,
    pub columns: Vec<ColumnSpec>,
    pub unmapped: UnmappedPolicy,
    pub key_from_table: Option<KeyFromTable>,
    /// Each key attribute's expected DynamoDB type, in key order (see `key_types`).
    pub key_types: Vec<Option<ExpectedKeyType>>,
}

/// A value and where tables.toml writes it; no place when there is none to point at (a key read
/// from DescribeTable, a column rebuilt from a validated table).
#[derive(Debug, Clone)]
pub(super) struct Placed<T> {
    pub value: T,
    pub span: Option<Range<usize>>,
}

impl<T: Clone> Placed<T> {
    pub(super) fn written(spanned: &Spanned<T>) -> Placed<T> {
        Placed { value: spanned.get_ref().clone(), span: Some(spanned.span()) }
    }

    pub(super) fn unplaced(value: T) -> Placed<T> {
        Placed { value, span: None }
    }
}

/// A column on its way to a [`ColumnSpec`].
#[derive(Debug, Clone)]
pub(super) struct Draft {
    pub name: Placed<String>,
    pub path: Option<AttrPath>,
    /// `None` when the type is left out: it then defaults by key-ness.
    pub ty: Option<Placed<ColumnType>>,
    pub is_key: bool,
}

/// A key as the key rules see it: partition key, then sort key.
#[derive(Debug, Clone)]
pub(super) struct KeyDraft {
    pub attributes: Vec<KeyAttributeDraft>,
    /// Where the whole `key = [...]` is written.
    pub span: Option<Range<usize>>,
}

/// One key attribute, and its type when DynamoDB declared it (a written key has none).
#[derive(Debug, Clone)]
pub(super) struct KeyAttributeDraft {
    pub name: Placed<String>,
    pub scalar: Option<KeyScalar>,
}

/// A table's columns before its key is applied: read from tables.toml, or rebuilt from a loaded
/// table when DescribeTable names the key.
#[derive(Debug, Clone)]
pub(super) struct KeylessLayout {
    /// `table "orders"`, for messages.
    pub label: String,
    /// `None` when the table lists no `columns`: then each key attribute becomes a column.
    pub columns: Option<Vec<Draft>>,
    /// Every column was read without a problem. When one was not, it may have been meant to map
    /// a key attribute, so "key not mapped" is not reported on top.
    pub all_readable: bool,
    /// `None` when the unmapped setting was reported as wrong.
    pub unmapped: Option<UnmappedPolicy>,
}
