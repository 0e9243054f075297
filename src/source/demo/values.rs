//! Random attribute values in the exact text DynamoDB stores: numbers normalized (no leading or
//! trailing zeros), binaries as base64, timestamps as RFC 3339 with microseconds, sets distinct
//! and never empty.

use base64::Engine as _;
use chrono::{DateTime, NaiveDate, SecondsFormat};
use rand::Rng;
use rand::seq::IndexedRandom;

/// `units / 10^scale` as normalized decimal text: `decimal(12300, 2)` is `"123"`, `decimal(5, 2)`
/// is `"0.05"`.
pub(super) fn decimal(units: u64, scale: u32) -> String {
    let divisor = 10u64.pow(scale);
    let (whole, fraction) = (units / divisor, units % divisor);
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:0width$}", width = scale as usize);
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// An amount with at most 2 decimals below `max_whole` (exclusive).
pub(super) fn money(rng: &mut impl Rng, max_whole: u64) -> String {
    decimal(rng.random_range(0..max_whole * 100), 2)
}

/// An integer of exactly 38 significant digits (DynamoDB's precision limit), sometimes negative.
pub(super) fn huge_integer(rng: &mut impl Rng) -> String {
    let mut text = String::with_capacity(39);
    if rng.random_bool(0.1) {
        text.push('-');
    }
    text.push(char::from(b'1' + rng.random_range(0..9u8)));
    for _ in 0..36 {
        text.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    // A trailing zero would not be significant.
    text.push(char::from(b'1' + rng.random_range(0..9u8)));
    text
}

/// A positive number from `1E-130` (DynamoDB's smallest) up to `0.000001`, in plain notation
/// down to nine decimals and in E notation below, as DynamoDB returns them.
pub(super) fn tiny(rng: &mut impl Rng) -> String {
    match rng.random_range(0..10u8) {
        0 => "1E-130".into(),
        1 => "0.000001".into(),
        _ => {
            let mantissa = rng.random_range(1..1000u32);
            let mantissa = trim_trailing_zeros(mantissa);
            // The magnitude (exponent of the leading digit) bounds the value to [1E-130, 1E-6).
            let magnitude = rng.random_range(-130..=-7i32);
            scientific(mantissa, magnitude - (mantissa.to_string().len() as i32 - 1))
        }
    }
}

/// A ratio in eighths or thousandths in `[0, 1)`, like `0.125`.
pub(super) fn ratio(rng: &mut impl Rng) -> String {
    if rng.random_bool(0.5) {
        decimal(rng.random_range(0..8) * 125, 3)
    } else {
        decimal(rng.random_range(0..1000), 3)
    }
}

/// `count` distinct random integers below `max`, as number-set members.
pub(super) fn distinct_integers(rng: &mut impl Rng, count: usize, max: u64) -> Vec<String> {
    let mut values: Vec<u64> = Vec::with_capacity(count);
    while values.len() < count {
        let value = rng.random_range(0..max);
        if !values.contains(&value) {
            values.push(value);
        }
    }
    values.into_iter().map(|v| v.to_string()).collect()
}

/// Random bytes of a length in `len`, as base64 text.
pub(super) fn binary(rng: &mut impl Rng, len: std::ops::RangeInclusive<usize>) -> String {
    let mut bytes = vec![0u8; rng.random_range(len)];
    rng.fill(&mut bytes[..]);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// 1 to 3 distinct binaries, as a binary set.
pub(super) fn binary_set(rng: &mut impl Rng) -> Vec<String> {
    let mut set: Vec<String> = Vec::new();
    for _ in 0..rng.random_range(1..=3) {
        let value = binary(rng, 4..=12);
        if !set.contains(&value) {
            set.push(value);
        }
    }
    set
}

/// 1 to `max` distinct words of `vocabulary`, as a string set.
pub(super) fn word_set(rng: &mut impl Rng, vocabulary: &[&str], max: usize) -> Vec<String> {
    let count = rng.random_range(1..=max.min(vocabulary.len()));
    vocabulary.choose_multiple(rng, count).map(|w| (*w).to_owned()).collect()
}

/// One of `choices`.
pub(super) fn pick<'a>(rng: &mut impl Rng, choices: &[&'a str]) -> &'a str {
    choices.choose(rng).expect("choices are never empty")
}

/// RFC 3339 UTC with microseconds, like `2026-11-24T18:00:00.123456Z`.
pub(super) fn timestamp(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .expect("demo timestamps are in chrono's range")
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A day between 2015 and 2025, as `YYYY-MM-DD`.
pub(super) fn date(rng: &mut impl Rng) -> String {
    let first = NaiveDate::from_ymd_opt(2015, 1, 1).expect("a valid date");
    (first + chrono::Days::new(rng.random_range(0..11 * 365))).format("%Y-%m-%d").to_string()
}

fn trim_trailing_zeros(mut n: u32) -> u32 {
    while n.is_multiple_of(10) {
        n /= 10;
    }
    n
}

/// `mantissa × 10^exponent`, a value below 1: plain when it needs at most 9 decimals, otherwise
/// `d.ddE-x`.
fn scientific(mantissa: u32, exponent: i32) -> String {
    let digits = mantissa.to_string();
    let magnitude = exponent + digits.len() as i32 - 1;
    debug_assert!(magnitude < 0, "only values below 1 are written here");
    if magnitude >= -9 {
        let zeros = (-exponent) as usize - digits.len();
        return format!("0.{}{digits}", "0".repeat(zeros));
    }
    let (head, tail) = digits.split_at(1);
    if tail.is_empty() { format!("{head}E{magnitude}") } else { format!("{head}.{tail}E{magnitude}") }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::ddb::number::Number;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    #[test]
    fn decimals_are_normalized() {
        assert_eq!(decimal(12300, 2), "123");
        assert_eq!(decimal(12340, 2), "123.4");
        assert_eq!(decimal(5, 2), "0.05");
        assert_eq!(decimal(0, 2), "0");
        assert_eq!(decimal(125, 3), "0.125");
    }

    #[test]
    fn scientific_switches_notation_below_nine_decimals() {
        assert_eq!(scientific(1, -6), "0.000001");
        assert_eq!(scientific(123, -9), "0.000000123");
        assert_eq!(scientific(123, -12), "1.23E-10");
        assert_eq!(scientific(1, -130), "1E-130");
    }

    #[test]
    fn generated_numbers_are_valid_dynamodb_numbers_in_their_ranges() {
        let mut rng = rng();
        for _ in 0..2000 {
            let huge = huge_integer(&mut rng);
            let parsed = Number::parse(&huge).unwrap_or_else(|e| panic!("{huge}: {e:?}"));
            assert_eq!(huge.trim_start_matches('-').len(), 38, "{huge}");
            assert_eq!(parsed.fraction_digits(), 0);
            let tiny = tiny(&mut rng);
            let parsed = Number::parse(&tiny).unwrap_or_else(|e| panic!("{tiny}: {e:?}"));
            assert!(parsed.to_f64() >= 1e-130 && parsed.to_f64() <= 1e-6, "{tiny}");
            let money = money(&mut rng, 1_000_000_000);
            let parsed = Number::parse(&money).unwrap();
            assert!(parsed.fraction_digits() <= 2 && parsed.integer_digits() <= 9, "{money}");
            let ratio = ratio(&mut rng);
            assert!(Number::parse(&ratio).unwrap().to_f64() < 1.0, "{ratio}");
        }
    }

    #[test]
    fn sets_are_distinct_and_never_empty() {
        let mut rng = rng();
        for _ in 0..500 {
            let words = word_set(&mut rng, &["a", "b", "c"], 3);
            let binaries = binary_set(&mut rng);
            let numbers = distinct_integers(&mut rng, 3, 5);
            for set in [&words, &binaries, &numbers] {
                let mut unique = set.clone();
                unique.sort();
                unique.dedup();
                assert!(!set.is_empty() && unique.len() == set.len(), "{set:?}");
            }
        }
    }

    #[test]
    fn binaries_are_base64_of_the_asked_length() {
        let mut rng = rng();
        let text = binary(&mut rng, 16..=16);
        let bytes = base64::engine::general_purpose::STANDARD.decode(&text).unwrap();
        assert_eq!(bytes.len(), 16);
    }

    #[test]
    fn timestamps_and_dates_have_the_documented_shapes() {
        assert_eq!(timestamp(1_795_975_200_123_456), "2026-11-29T18:00:00.123456Z");
        let date = date(&mut rng());
        assert!(NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_ok(), "{date}");
    }
}
