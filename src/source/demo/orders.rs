//! The `orders` demo table: composite key (`pk` customer, `sk` order), nested maps and lists, all
//! three set types, binaries, 38-digit and 1E-130-small numbers, and attribute names with a dash,
//! a dot and a space — everything a mapping has to get right.

use rand::Rng;

use super::values::{
    binary, binary_set, decimal, distinct_integers, huge_integer, money, pick, ratio, timestamp, tiny,
    word_set,
};
use crate::ddb::{AttributeValue as V, Item};

const STATUSES: &[&str] = &["placed", "paid", "shipped", "delivered", "cancelled"];
const CURRENCIES: &[&str] = &["EUR", "USD", "SEK"];
const TAGS: &[&str] = &["gift", "express", "fragile", "b2b", "promo", "repeat", "eco", "bulk"];
const CITIES: &[(&str, &str)] = &[
    ("Stockholm", "111 22"),
    ("Göteborg", "411 04"),
    ("Berlin", "10115"),
    ("Lyon", "69001"),
    ("Austin", "78701"),
];
const SKUS: &[&str] = &["SKU-KETTLE", "SKU-MUG", "SKU-TEA-500G", "SKU-FILTER", "SKU-GRINDER", "SKU-SPOON"];
const GIFT_NOTES: &[&str] = &["Happy birthday!", "Grattis på födelsedagen 🎉", "With love, A."];
const CUSTOMER_NOTES: &[&str] = &[
    "Leave at the door",
    "Call before delivery — \"ring twice\"",
    "Second floor\nno lift",
    "Tabs\tand unicode: naïve café",
];
/// Customers referenced by orders' partition keys.
const CUSTOMERS: u32 = 20_000;
/// The value-added-tax rate applied to order totals, in percent.
const TAX_PERCENT: u64 = 25;

/// A new order `ORDER#<serial>` placed at `micros`.
pub(super) fn new_order(rng: &mut impl Rng, serial: u64, micros: i64) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), V::S(format!("CUST#{:05}", rng.random_range(0..CUSTOMERS))));
    item.insert("sk".into(), V::S(format!("ORDER#{serial:08}")));
    item.insert(
        "status".into(),
        V::S(if rng.random_bool(0.8) { "placed" } else { pick(rng, STATUSES) }.into()),
    );
    item.insert("placed_at".into(), V::S(timestamp(micros)));
    let lines = (0..rng.random_range(1..=5)).map(|_| order_line(rng)).collect();
    item.insert("lines".into(), V::L(lines));
    item.insert("amount".into(), V::M(Item::from([("currency".into(), V::S(pick(rng, CURRENCIES).into()))])));
    reprice(&mut item);
    item.insert("signature".into(), V::B(binary(rng, 16..=48)));
    item.insert("metrics".into(), V::M(new_metrics(rng)));
    item.insert("is_priority".into(), V::Bool(rng.random_bool(0.2)));
    for mutation in [Mutation::Tags, Mutation::Coupons, Mutation::Attachments, Mutation::GiftNote] {
        if rng.random_bool(0.3) {
            mutation.apply(rng, &mut item);
        }
    }
    if rng.random_bool(0.7) {
        Mutation::Shipping.apply(rng, &mut item);
    }
    if rng.random_bool(0.3) {
        Mutation::CustomerNotes.apply(rng, &mut item);
    }
    if rng.random_bool(0.15) {
        item.insert("legacy".into(), V::Null(true));
    }
    item
}

/// One or two changes of the kind an order sees over its life.
pub(super) fn update_order(rng: &mut impl Rng, item: &mut Item, _micros: i64) {
    for _ in 0..rng.random_range(1..=2) {
        let mutation = MUTATIONS[rng.random_range(0..MUTATIONS.len())];
        mutation.apply(rng, item);
    }
}

/// What an update does. Toggles REMOVE an optional attribute when present and SET it otherwise.
#[derive(Debug, Clone, Copy)]
enum Mutation {
    Status,
    Lines,
    GiftNote,
    CustomerNotes,
    Tags,
    Coupons,
    Attachments,
    Shipping,
    Metrics,
    Priority,
    Legacy,
    Currency,
}

const MUTATIONS: &[Mutation] = &[
    Mutation::Status,
    Mutation::Status,
    Mutation::Lines,
    Mutation::GiftNote,
    Mutation::CustomerNotes,
    Mutation::Tags,
    Mutation::Coupons,
    Mutation::Attachments,
    Mutation::Shipping,
    Mutation::Metrics,
    Mutation::Priority,
    Mutation::Legacy,
    Mutation::Currency,
];

impl Mutation {
    fn apply(self, rng: &mut impl Rng, item: &mut Item) {
        match self {
            Mutation::Status => advance_status(item),
            Mutation::Lines => {
                change_lines(rng, item);
                reprice(item);
            }
            Mutation::GiftNote => toggle(item, "gift-note", || V::S(pick(rng, GIFT_NOTES).into())),
            Mutation::CustomerNotes => {
                toggle(item, "customer notes", || V::S(pick(rng, CUSTOMER_NOTES).into()))
            }
            Mutation::Tags => change_tags(rng, item),
            Mutation::Coupons => toggle(item, "coupon_ids", || {
                let count = rng.random_range(1..=3);
                V::Ns(distinct_integers(rng, count, 100_000))
            }),
            Mutation::Attachments => toggle(item, "attachments", || V::Bs(binary_set(rng))),
            Mutation::Shipping => {
                let (city, zip) = CITIES[rng.random_range(0..CITIES.len())];
                let address =
                    Item::from([("city".into(), V::S(city.into())), ("zip".into(), V::S(zip.into()))]);
                item.insert("shipping.address".into(), V::M(address));
            }
            Mutation::Metrics => change_metrics(rng, item),
            Mutation::Priority => {
                let priority = matches!(item.get("is_priority"), Some(V::Bool(true)));
                item.insert("is_priority".into(), V::Bool(!priority));
            }
            Mutation::Legacy => toggle(item, "legacy", || V::Null(true)),
            Mutation::Currency => {
                let currency = V::S(pick(rng, CURRENCIES).into());
                in_map(item, "amount", |amount| {
                    amount.insert("currency".into(), currency);
                });
            }
        }
    }
}

fn order_line(rng: &mut impl Rng) -> V {
    V::M(Item::from([
        ("sku".into(), V::S(pick(rng, SKUS).into())),
        ("qty".into(), V::N(rng.random_range(1..=10u32).to_string())),
        ("price".into(), V::N(money(rng, 5_000))),
    ]))
}

fn new_metrics(rng: &mut impl Rng) -> Item {
    Item::from([
        ("huge".into(), V::N(huge_integer(rng))),
        ("tiny".into(), V::N(tiny(rng))),
        ("ratio".into(), V::N(ratio(rng))),
    ])
}

fn change_metrics(rng: &mut impl Rng, item: &mut Item) {
    let (name, value) = match rng.random_range(0..3) {
        0 => ("huge", huge_integer(rng)),
        1 => ("tiny", tiny(rng)),
        _ => ("ratio", ratio(rng)),
    };
    in_map(item, "metrics", |metrics| {
        metrics.insert(name.into(), V::N(value));
    });
}

/// placed → paid → shipped → delivered; a placed or paid order is sometimes cancelled instead.
fn advance_status(item: &mut Item) {
    let next = match item.get("status") {
        Some(V::S(s)) if s == "placed" => "paid",
        Some(V::S(s)) if s == "paid" => "shipped",
        Some(V::S(s)) if s == "shipped" => "delivered",
        Some(V::S(s)) if s == "delivered" || s == "cancelled" => return,
        _ => "cancelled",
    };
    item.insert("status".into(), V::S(next.into()));
}

/// Appends a line, removes one, or changes a quantity.
fn change_lines(rng: &mut impl Rng, item: &mut Item) {
    let Some(V::L(lines)) = item.get_mut("lines") else { return };
    match rng.random_range(0..3) {
        0 if lines.len() < 5 => lines.push(order_line(rng)),
        1 if lines.len() > 1 => {
            lines.remove(rng.random_range(0..lines.len()));
        }
        _ => {
            let index = rng.random_range(0..lines.len());
            if let V::M(line) = &mut lines[index] {
                line.insert("qty".into(), V::N(rng.random_range(1..=10u32).to_string()));
            }
        }
    }
}

/// Adds a tag, removes one (REMOVE-ing the set when it would become empty), or creates the set.
fn change_tags(rng: &mut impl Rng, item: &mut Item) {
    match item.get_mut("tags") {
        Some(V::Ss(tags)) if rng.random_bool(0.5) => {
            let word = pick(rng, TAGS);
            if !tags.iter().any(|t| t == word) {
                tags.push(word.into());
            }
        }
        Some(V::Ss(tags)) if tags.len() > 1 => {
            tags.remove(rng.random_range(0..tags.len()));
        }
        Some(_) => {
            item.remove("tags");
        }
        None => {
            item.insert("tags".into(), V::Ss(word_set(rng, TAGS, 3)));
        }
    }
}

/// Sets `amount.total` to the sum of the lines and `amount.tax` to [`TAX_PERCENT`] of it.
fn reprice(item: &mut Item) {
    let total_cents: u64 = match item.get("lines") {
        Some(V::L(lines)) => lines.iter().map(line_cents).sum(),
        _ => 0,
    };
    in_map(item, "amount", |amount| {
        amount.insert("total".into(), V::N(decimal(total_cents, 2)));
        amount.insert("tax".into(), V::N(decimal(total_cents * TAX_PERCENT / 100, 2)));
    });
}

fn line_cents(line: &V) -> u64 {
    let V::M(line) = line else { return 0 };
    let price = match line.get("price") {
        Some(V::N(text)) => cents(text),
        _ => 0,
    };
    let qty = match line.get("qty") {
        Some(V::N(text)) => text.parse::<u64>().unwrap_or(0),
        _ => 0,
    };
    price * qty
}

/// The value of decimal text with at most 2 decimals, in hundredths.
fn cents(text: &str) -> u64 {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let fraction = format!("{fraction:0<2}");
    whole.parse::<u64>().unwrap_or(0) * 100 + fraction[..2].parse::<u64>().unwrap_or(0)
}

/// REMOVEs `name` when present, SETs it to `make()` otherwise.
fn toggle(item: &mut Item, name: &str, make: impl FnOnce() -> V) {
    if item.remove(name).is_none() {
        item.insert(name.into(), make());
    }
}

/// Runs `change` on the map attribute `name`; every order has its maps, so nothing is created.
fn in_map(item: &mut Item, name: &str, change: impl FnOnce(&mut Item)) {
    if let Some(V::M(map)) = item.get_mut(name) {
        change(map);
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::ddb::number::Number;

    fn orders(count: u64) -> Vec<Item> {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        (0..count).map(|serial| new_order(&mut rng, serial, 1_795_975_200_000_000)).collect()
    }

    fn numbers_in(value: &V, out: &mut Vec<String>) {
        match value {
            V::N(n) => out.push(n.clone()),
            V::Ns(ns) => out.extend(ns.iter().cloned()),
            V::M(map) => map.values().for_each(|v| numbers_in(v, out)),
            V::L(list) => list.iter().for_each(|v| numbers_in(v, out)),
            _ => {}
        }
    }

    #[test]
    fn new_orders_have_the_documented_shape() {
        for (serial, order) in orders(300).iter().enumerate() {
            assert!(matches!(&order["pk"], V::S(pk) if pk.len() == 10 && pk.starts_with("CUST#")));
            assert_eq!(order["sk"], V::S(format!("ORDER#{serial:08}")));
            assert_eq!(order["placed_at"], V::S("2026-11-29T18:00:00.000000Z".into()));
            assert!(matches!(&order["lines"], V::L(lines) if (1..=5).contains(&lines.len())));
            assert!(matches!(&order["signature"], V::B(_)));
            assert!(matches!(&order["is_priority"], V::Bool(_)));
            let V::M(metrics) = &order["metrics"] else { panic!("metrics is a map") };
            assert!(
                metrics.contains_key("huge") && metrics.contains_key("tiny") && metrics.contains_key("ratio")
            );
        }
        let all = orders(300);
        for optional in
            ["tags", "coupon_ids", "attachments", "gift-note", "shipping.address", "customer notes", "legacy"]
        {
            let present = all.iter().filter(|o| o.contains_key(optional)).count();
            assert!(
                present > 0 && present < all.len(),
                "{optional} should be optional, present in {present}"
            );
        }
    }

    #[test]
    fn totals_add_up_and_every_number_is_valid() {
        for order in orders(200) {
            let V::M(amount) = &order["amount"] else { panic!("amount is a map") };
            let V::L(lines) = &order["lines"] else { panic!("lines is a list") };
            let expected: u64 = lines.iter().map(line_cents).sum();
            assert_eq!(amount["total"], V::N(decimal(expected, 2)));
            let mut numbers = Vec::new();
            numbers_in(&V::M(order.clone()), &mut numbers);
            for number in numbers {
                Number::parse(&number).unwrap_or_else(|e| panic!("{number}: {e:?}"));
            }
        }
    }

    #[test]
    fn updates_remove_optional_attributes_and_change_nested_values() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (mut removed, mut nested_changed) = (0, 0);
        for mut order in orders(300) {
            let before = order.clone();
            update_order(&mut rng, &mut order, 0);
            removed += before.keys().filter(|k| !order.contains_key(*k)).count();
            nested_changed +=
                usize::from(before["metrics"] != order["metrics"] || before["amount"] != order["amount"]);
            assert_eq!((&before["pk"], &before["sk"]), (&order["pk"], &order["sk"]));
            if let Some(V::Ss(tags)) = order.get("tags") {
                assert!(!tags.is_empty(), "sets are never empty");
            }
        }
        assert!(removed > 10, "some updates REMOVE attributes ({removed})");
        assert!(nested_changed > 10, "some updates change nested values ({nested_changed})");
    }

    #[test]
    fn status_moves_forward_only() {
        let mut item = Item::from([("status".into(), V::S("placed".into()))]);
        for expected in ["paid", "shipped", "delivered", "delivered"] {
            advance_status(&mut item);
            assert_eq!(item["status"], V::S(expected.into()));
        }
    }

    #[test]
    fn cents_reads_up_to_two_decimals() {
        assert_eq!(cents("123"), 12300);
        assert_eq!(cents("123.4"), 12340);
        assert_eq!(cents("0.05"), 5);
    }
}
