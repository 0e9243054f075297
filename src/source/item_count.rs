//! `item_count_check`: after a full export, its item count against the table's own count
//! (DescribeTable's `ItemCount`). That count is approximate — "DynamoDB updates this value
//! approximately every six hours. Recent changes might not be reflected in this value."
//! (DynamoDB API Reference, TableDescription:
//! <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TableDescription.html>) —
//! so only a difference beyond a generous tolerance is worth a warning, and never a failure: the
//! export is what the table held at its export time, which is what the load applies.

use crate::human::count;

/// A difference within this share of the table's count is noise.
pub const TOLERANCE_SHARE: f64 = 0.10;
/// … as is one within this many items, for small tables.
pub const TOLERANCE_ITEMS: u64 = 1_000;

/// The largest difference not worth a warning for a table of `described` items: 10% of it or
/// 1,000 items, whichever is larger.
pub fn tolerance(described: u64) -> u64 {
    ((described as f64 * TOLERANCE_SHARE).ceil() as u64).max(TOLERANCE_ITEMS)
}

/// The warning for a full export of `exported` items from a table DescribeTable counts
/// `described` items in, when they are further apart than [`tolerance`].
pub fn mismatch(exported: u64, described: u64) -> Option<String> {
    let apart = exported.abs_diff(described);
    let allowed = tolerance(described);
    (apart > allowed).then(|| {
        format!(
            "item_count_check: the full export holds {} items but DescribeTable's ItemCount says {} \
             ({} apart, more than the tolerance of {}: 10% or 1,000 items, whichever is larger). \
             ItemCount is approximate and refreshed about every 6 hours, so a table that changed a lot \
             recently differs; otherwise check that the table exported is the one you expect",
            count(exported),
            count(described),
            count(apart),
            count(allowed)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tolerance_is_ten_percent_or_a_thousand_items_whichever_is_larger() {
        assert_eq!(tolerance(0), 1_000);
        assert_eq!(tolerance(2_000), 1_000);
        assert_eq!(tolerance(50_000), 5_000);
        assert_eq!(tolerance(50_001), 5_001);
    }

    #[test]
    fn counts_within_the_tolerance_pass_and_beyond_it_warn() {
        assert_eq!(mismatch(2_000, 2_900), None);
        assert_eq!(mismatch(100_000, 95_000), None);
        let warning = mismatch(100_000, 80_000).expect("20% apart");
        assert!(
            warning.starts_with(
                "item_count_check: the full export holds 100,000 items but DescribeTable's ItemCount says 80,000 \
                 (20,000 apart, more than the tolerance of 8,000"
            ),
            "{warning}"
        );
        assert!(mismatch(0, 1_001).is_some(), "an empty export of a table with items");
    }
}
