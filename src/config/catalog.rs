//! The tables the built-in demo source simulates, so a `source = "demo"` table that the demo
//! cannot serve is caught when the config loads rather than at the first sync. The catalog itself
//! belongs to the demo source; this only asks it.

use crate::source::demo::{CATALOG, catalog_key};

/// The key of the demo table called `name`, or `None` when the demo has no such table.
pub(super) fn demo_table_key(name: &str) -> Option<&'static [&'static str]> {
    catalog_key(name)
}

/// The demo table names, for hints (`orders, customers`).
pub(super) fn demo_table_names() -> String {
    CATALOG.join(", ")
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
