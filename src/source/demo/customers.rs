//! The `customers` demo table: one key attribute and flat, typed attributes — the plain case.

use rand::Rng;

use super::values::{date, decimal, money, pick, timestamp};
use crate::ddb::{AttributeValue as V, Item};

const FIRST_NAMES: &[&str] =
    &["Ada", "Björn", "Chloé", "Dmitri", "Eun-ji", "Farah", "Gustav", "Zoë", "Åsa", "Oğuz"];
const LAST_NAMES: &[&str] =
    &["Lindqvist", "O'Brien", "Nakamura", "García", "Okafor", "Müller", "Smith", "Nguyen"];
const TIERS: &[&str] = &["bronze", "silver", "gold"];

/// A new customer `CUST#<serial>` first seen at `micros`.
pub(super) fn new_customer(rng: &mut impl Rng, serial: u64, micros: i64) -> Item {
    let (first, last) = (pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES));
    Item::from([
        ("customer_id".into(), V::S(format!("CUST#{serial:05}"))),
        ("name".into(), V::S(format!("{first} {last}"))),
        ("email".into(), V::S(email(first, last, serial))),
        ("tier".into(), V::S(pick(rng, TIERS).into())),
        ("credit".into(), V::N(money(rng, 1_000_000_000_000))),
        ("active".into(), V::Bool(rng.random_bool(0.9))),
        ("signup_date".into(), V::S(date(rng))),
        ("visits".into(), V::N(rng.random_range(0..50u32).to_string())),
        ("score".into(), V::N(score(rng))),
        ("last_seen".into(), V::S(timestamp(micros))),
    ])
}

/// A visit (always: `visits` + 1.., `last_seen`, `score`), sometimes with a tier, credit or
/// activity change.
pub(super) fn update_customer(rng: &mut impl Rng, item: &mut Item, micros: i64) {
    let visits = match item.get("visits") {
        Some(V::N(n)) => n.parse::<u64>().unwrap_or(0),
        _ => 0,
    };
    item.insert("visits".into(), V::N((visits + rng.random_range(1..=5)).to_string()));
    item.insert("last_seen".into(), V::S(timestamp(micros)));
    item.insert("score".into(), V::N(score(rng)));
    match rng.random_range(0..6) {
        0 => {
            item.insert("tier".into(), V::S(pick(rng, TIERS).into()));
        }
        1 => {
            item.insert("credit".into(), V::N(money(rng, 1_000_000_000_000)));
        }
        2 => {
            let active = matches!(item.get("active"), Some(V::Bool(true)));
            item.insert("active".into(), V::Bool(!active));
        }
        _ => {}
    }
}

/// A score with four decimals in `[0, 1)`, like `0.8731`.
fn score(rng: &mut impl Rng) -> String {
    decimal(rng.random_range(0..10_000), 4)
}

fn email(first: &str, last: &str, serial: u64) -> String {
    let ascii = |s: &str| s.chars().filter(char::is_ascii_alphabetic).collect::<String>().to_lowercase();
    format!("{}.{}.{serial}@example.com", ascii(first), ascii(last))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::ddb::number::Number;

    #[test]
    fn new_customers_have_the_documented_shape() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let customer = new_customer(&mut rng, 42, 1_795_975_200_000_001);
        assert_eq!(customer["customer_id"], V::S("CUST#00042".into()));
        assert_eq!(customer["last_seen"], V::S("2026-11-29T18:00:00.000001Z".into()));
        assert!(matches!(&customer["email"], V::S(e) if e.ends_with(".42@example.com") && e.is_ascii()));
        assert!(matches!(&customer["tier"], V::S(t) if TIERS.contains(&t.as_str())));
        assert!(matches!(&customer["active"], V::Bool(_)));
        let V::N(score) = &customer["score"] else { panic!("score is a number") };
        let score = Number::parse(score).unwrap();
        assert!(score.fraction_digits() <= 4 && score.to_f64() < 1.0);
        let V::N(credit) = &customer["credit"] else { panic!("credit is a number") };
        assert!(Number::parse(credit).unwrap().integer_digits() <= 12);
        assert_eq!(customer.len(), 10);
    }

    #[test]
    fn updates_count_visits_and_touch_last_seen() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut customer = new_customer(&mut rng, 1, 0);
        let V::N(before) = customer["visits"].clone() else { panic!("visits is a number") };
        update_customer(&mut rng, &mut customer, 1_000_000);
        let V::N(after) = &customer["visits"] else { panic!("visits is a number") };
        assert!(after.parse::<u64>().unwrap() > before.parse::<u64>().unwrap());
        assert_eq!(customer["last_seen"], V::S("1970-01-01T00:00:01.000000Z".into()));
        assert_eq!(customer.len(), 10, "customers have no optional attributes");
    }
}
