//! The tables the built-in demo source simulates, by name, with their keys, so a
//! `source = "demo"` table that the demo cannot serve is caught when the config loads rather
//! than at the first sync. The list lives here, not in the demo source, so that config depends
//! on no adapter; the demo source builds its tables from it (`source::demo::CATALOG`).

/// The demo tables, by DynamoDB table name.
pub const DEMO_TABLES: &[&str] = &["orders", "customers"];

/// The key attributes (partition key, then sort key) of the demo table called `name`, or `None`
/// when the demo has no such table.
pub fn demo_table_key(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "orders" => Some(&["pk", "sk"]),
        "customers" => Some(&["customer_id"]),
        _ => None,
    }
}

/// The demo table names, for hints (`orders, customers`).
pub(super) fn demo_table_names() -> String {
    DEMO_TABLES.join(", ")
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
