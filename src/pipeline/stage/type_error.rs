//! The error of a value that does not fit its column. It has a file of its own, below both the
//! mapping that raises it and the stage errors that carry it, so neither imports the other.

/// A value that does not fit its column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "table `{table}`, item {item_key}: attribute `{path}` = {value} does not fit column `{column}` \
     ({column_type}): {reason}"
)]
pub struct TypeError {
    pub table: String,
    /// The item's primary key, as `ItemKey` displays it.
    pub item_key: String,
    /// The attribute path (or "(whole item)" for the whole-item column).
    pub path: String,
    pub column: String,
    pub column_type: String,
    /// The value as DynamoDB JSON, shortened.
    pub value: String,
    pub reason: String,
    /// Key columns never fall back to NULL: a row without its key cannot be merged.
    pub is_key: bool,
}

impl TypeError {
    pub fn hint(&self) -> String {
        if self.is_key {
            format!(
                "key columns must always convert: give `{}` a type every key value fits (a varchar fits any key)",
                self.column
            )
        } else {
            format!(
                "change the type of `{}` in tables.toml, or set on_type_error = \"null\" for `{}` to load NULL \
                 for values that do not fit",
                self.column, self.table
            )
        }
    }
}
