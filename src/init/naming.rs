//! Warehouse column names for DynamoDB attribute names. Attribute names are case-sensitive and
//! may hold any character; warehouse names here are `[a-z_][a-z0-9_$]*`, not reserved, not
//! `dynashift_…` (see `config::ident`). So a name is lowercased, every other character becomes
//! `_`, and collisions (`OrderId` and `orderid`) get a numbered suffix (aws-facts §7).

use std::collections::HashSet;

use crate::config::{MAX_IDENTIFIER_BYTES, is_valid_identifier};

/// Prefix dynashift keeps for its own columns and tables.
const RESERVED_PREFIX: &str = "dynashift_";

/// Hands out distinct valid column names.
#[derive(Debug, Default)]
pub(crate) struct ColumnNames {
    taken: HashSet<String>,
}

impl ColumnNames {
    /// Names already used (the item column) are never handed out.
    pub(crate) fn with_taken<'a>(names: impl IntoIterator<Item = &'a str>) -> ColumnNames {
        ColumnNames { taken: names.into_iter().map(str::to_owned).collect() }
    }

    /// A valid, unused column name for `attribute`.
    pub(crate) fn name_for(&mut self, attribute: &str) -> String {
        let base = sanitized(attribute);
        let mut candidate = base.clone();
        let mut suffix = 2;
        while self.taken.contains(&candidate) || !is_valid_identifier(&candidate) {
            candidate = numbered(&base, suffix);
            suffix += 1;
        }
        self.taken.insert(candidate.clone());
        candidate
    }
}

/// `attribute` lowercased, with `_` for every character a bare identifier cannot hold, never
/// starting with a digit or `$`, never dynashift's prefix, and short enough for a suffix.
fn sanitized(attribute: &str) -> String {
    let mut name: String = attribute
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$' { c } else { '_' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        name.insert(0, '_');
    }
    if name.starts_with(RESERVED_PREFIX) {
        name.insert_str(0, "attr_");
    }
    name.truncate(MAX_IDENTIFIER_BYTES - 8);
    name
}

/// `base_2`, `base_3`… (a reserved word like `order` becomes `order_2`).
fn numbered(base: &str, suffix: usize) -> String {
    format!("{base}_{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid_distinct_identifiers() {
        let mut names = ColumnNames::with_taken(["item"]);
        assert_eq!(names.name_for("customer_id"), "customer_id");
        assert_eq!(names.name_for("OrderId"), "orderid");
        assert_eq!(names.name_for("orderId"), "orderid_2");
        assert_eq!(names.name_for("gift-note"), "gift_note");
        assert_eq!(names.name_for("shipping.address"), "shipping_address");
        assert_eq!(names.name_for("2fa"), "_2fa");
        assert_eq!(names.name_for("item"), "item_2");
        assert_eq!(names.name_for("dynashift_seq"), "attr_dynashift_seq");
        assert_eq!(names.name_for("Ωmega"), "_mega");
        let reserved = names.name_for("order");
        assert!(is_valid_identifier(&reserved) && reserved.starts_with("order"), "{reserved}");
        let long = names.name_for(&"x".repeat(300));
        assert!(is_valid_identifier(&long) && long.len() <= MAX_IDENTIFIER_BYTES);
    }
}
