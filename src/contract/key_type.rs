//! What DynamoDB type a key attribute must have, told by the configuration to the stage step so
//! it can refuse a line whose key has another (an N `1` on an S table would update or create the
//! wrong item).

/// The DynamoDB types (`S`, `N`, `B`) a key attribute may have, and where that is known from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedKeyType {
    /// The accepted type tags: one when DynamoDB declared it; `S` and `B` for a varchar key
    /// column (a binary key loads as its base64 text).
    pub tags: &'static [&'static str],
    /// Where the type comes from, for messages: "DynamoDB's key schema (DescribeTable)", or the
    /// key column and its type in tables.toml.
    pub source: String,
}

impl ExpectedKeyType {
    /// Whether a value tagged `tag` is of an accepted type.
    pub fn accepts(&self, tag: &str) -> bool {
        self.tags.contains(&tag)
    }

    /// "S", "S or B", for messages.
    pub fn describe(&self) -> String {
        self.tags.join(" or ")
    }
}
