//! The tables the built-in demo source simulates, so a `source = "demo"` table that the demo
//! cannot serve is caught when the config loads rather than at the first sync.
//!
//! This mirrors `crate::source::demo::CATALOG` (the demo source is written separately); once
//! that constant and its keys exist, [`demo_table_key`] should read them instead of this list.

/// Demo table names with their key attributes (partition key, then sort key).
const DEMO_TABLES: &[(&str, &[&str])] = &[("orders", &["pk", "sk"]), ("customers", &["customer_id"])];

/// The key of the demo table called `name`, or `None` when the demo has no such table.
pub(super) fn demo_table_key(name: &str) -> Option<&'static [&'static str]> {
    DEMO_TABLES.iter().find(|(table, _)| *table == name).map(|(_, key)| *key)
}

/// The demo table names, for hints (`orders, customers`).
pub(super) fn demo_table_names() -> String {
    DEMO_TABLES.iter().map(|(table, _)| *table).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_both_demo_tables_and_their_keys() {
        assert_eq!(demo_table_key("orders"), Some(&["pk", "sk"][..]));
        assert_eq!(demo_table_key("customers"), Some(&["customer_id"][..]));
        assert_eq!(demo_table_key("Orders"), None);
        assert_eq!(demo_table_names(), "orders, customers");
    }
}
