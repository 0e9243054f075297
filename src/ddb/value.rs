//! DynamoDB attribute values in the "DynamoDB JSON" shape used by exports: `{"S":"x"}`, `{"N":"1"}`…
//!
//! Numbers stay as the exact decimal text DynamoDB wrote (never an `f64`), and binary values stay
//! base64 text, so a value read from an export can be written back byte for byte.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An item: attribute name → value. A `BTreeMap` so that everything written is deterministic.
pub type Item = BTreeMap<String, AttributeValue>;

/// One DynamoDB attribute value, covering all ten types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeValue {
    /// String.
    S(String),
    /// Number, as DynamoDB's exact decimal text (up to 38 significant digits).
    N(String),
    /// Binary, as base64 text.
    B(String),
    /// Boolean.
    #[serde(rename = "BOOL")]
    Bool(bool),
    /// Null; DynamoDB always writes `{"NULL":true}`.
    #[serde(rename = "NULL")]
    Null(bool),
    /// Map of name → value.
    M(Item),
    /// List of values of any type.
    L(Vec<AttributeValue>),
    /// String set.
    #[serde(rename = "SS")]
    Ss(Vec<String>),
    /// Number set.
    #[serde(rename = "NS")]
    Ns(Vec<String>),
    /// Binary set (base64 text).
    #[serde(rename = "BS")]
    Bs(Vec<String>),
}

impl AttributeValue {
    /// The DynamoDB type tag (`"S"`, `"N"`, `"BOOL"`…), for error messages.
    pub fn type_tag(&self) -> &'static str {
        match self {
            AttributeValue::S(_) => "S",
            AttributeValue::N(_) => "N",
            AttributeValue::B(_) => "B",
            AttributeValue::Bool(_) => "BOOL",
            AttributeValue::Null(_) => "NULL",
            AttributeValue::M(_) => "M",
            AttributeValue::L(_) => "L",
            AttributeValue::Ss(_) => "SS",
            AttributeValue::Ns(_) => "NS",
            AttributeValue::Bs(_) => "BS",
        }
    }
}
