//! The tables the demo simulates, their keys, and how their items are made and changed. The
//! shapes are documented in the notes (`demo-shapes.md`) and mirrored by the shipped
//! `tables.toml`: one table with a composite key and nested attributes, one plain.

use rand::Rng;

use super::{customers, orders};
use crate::ddb::Item;

/// The demo tables, by DynamoDB table name, and their key attributes (partition key, then sort
/// key): config validation checks `source = "demo"` tables against the same list, so it lives in
/// config.
pub use crate::config::{DEMO_TABLES as CATALOG, demo_table_key as catalog_key};

/// One table of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DemoTable {
    Orders,
    Customers,
}

impl DemoTable {
    pub(super) fn named(name: &str) -> Option<DemoTable> {
        match name {
            "orders" => Some(DemoTable::Orders),
            "customers" => Some(DemoTable::Customers),
            _ => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            DemoTable::Orders => "orders",
            DemoTable::Customers => "customers",
        }
    }

    pub(super) fn key(self) -> &'static [&'static str] {
        catalog_key(self.name()).expect("every demo table is in the catalog (tested below)")
    }

    /// A new item; `serial` is unique within the table (it makes the key unique), `micros` is
    /// the write's timestamp.
    pub(super) fn new_item(self, rng: &mut impl Rng, serial: u64, micros: i64) -> Item {
        match self {
            DemoTable::Orders => orders::new_order(rng, serial, micros),
            DemoTable::Customers => customers::new_customer(rng, serial, micros),
        }
    }

    /// Changes some non-key attributes of `item`, as an update at `micros` would.
    pub(super) fn update(self, rng: &mut impl Rng, item: &mut Item, micros: i64) {
        match self {
            DemoTable::Orders => orders::update_order(rng, item, micros),
            DemoTable::Customers => customers::update_customer(rng, item, micros),
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::ddb::ItemKey;

    #[test]
    fn every_catalog_table_has_a_key_and_round_trips_its_name() {
        for name in CATALOG {
            let table = DemoTable::named(name).unwrap();
            assert_eq!(table.name(), *name);
            assert!(catalog_key(name).is_some());
        }
        assert_eq!(catalog_key("orders"), Some(&["pk", "sk"][..]));
        assert_eq!(catalog_key("customers"), Some(&["customer_id"][..]));
        assert_eq!(catalog_key("Orders"), None);
    }

    #[test]
    fn items_carry_their_key_and_updates_never_touch_it() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for table in [DemoTable::Orders, DemoTable::Customers] {
            let key: Vec<String> = table.key().iter().map(|k| k.to_string()).collect();
            for serial in 0..200 {
                let mut item = table.new_item(&mut rng, serial, 1_700_000_000_000_000);
                let before = ItemKey::of(&item, &key).expect("items carry their key");
                table.update(&mut rng, &mut item, 1_700_000_000_000_001);
                assert_eq!(ItemKey::of(&item, &key), Some(before));
            }
        }
    }
}
