//! Sizes, counts and words as people read them, in one style for every front end: the console,
//! the headless lines and messages alike. A leaf module: it imports nothing of the crate.
//!
//! Sizes are binary (`1.5 MiB`, as the console always showed them, and as AWS means its "GB"),
//! from `humansize`; counts group thousands with commas (`12,345`), from `num-format`, so a
//! log line and the console never disagree on how a number looks.

use humansize::{BINARY, FormatSizeOptions};
use num_format::{Locale, ToFormattedString};

/// Binary units with one decimal where the value has a fraction: `0 B`, `1023 B`, `1.5 KiB`,
/// `15 MiB`.
fn size_style() -> FormatSizeOptions {
    FormatSizeOptions::from(BINARY).decimal_places(1)
}

/// `12,345,678`: thousands separated so counts are readable at a glance.
pub fn count(n: u64) -> String {
    n.to_formatted_string(&Locale::en)
}

/// `1.5 MiB`: a size in bytes, in binary units.
pub fn bytes(n: u64) -> String {
    humansize::format_size(n, size_style())
}

/// `1 row`, `2 rows`, `1,204 rows`: a count with its noun, singular for exactly one. `plural` is
/// the noun's plural form, for the nouns that do not just add an `s`; most callers pass
/// [`counted`] instead.
pub fn counted_as(n: u64, singular: &str, plural: &str) -> String {
    format!("{} {}", count(n), if n == 1 { singular } else { plural })
}

/// [`counted_as`] for a noun whose plural adds an `s`: `counted(1, "export")` is `1 export`.
pub fn counted(n: u64, singular: &str) -> String {
    counted_as(n, singular, &format!("{singular}s"))
}

/// `a full`, `an incremental`: the indefinite article a word takes, by its first letter (the
/// words dynashift puts after it are plain English: modes, stages, table names).
pub fn with_article(word: &str) -> String {
    let vowel = word.chars().next().is_some_and(|c| "aeiouAEIOU".contains(c));
    format!("{} {word}", if vowel { "an" } else { "a" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(12_345_678), "12,345,678");
    }

    #[test]
    fn sizes_use_binary_units_with_one_decimal() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(100_000), "97.7 KiB");
        assert_eq!(bytes(15 * 1024 * 1024), "15 MiB");
        assert_eq!(bytes(10_000_000), "9.5 MiB");
        assert_eq!(bytes(3 * 1024_u64.pow(4)), "3 TiB");
    }

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(counted(1, "row"), "1 row");
        assert_eq!(counted(0, "row"), "0 rows");
        assert_eq!(counted(1204, "export"), "1,204 exports");
        assert_eq!(counted_as(1, "entry", "entries"), "1 entry");
        assert_eq!(counted_as(2, "entry", "entries"), "2 entries");
    }

    #[test]
    fn articles_follow_the_sound_of_the_first_letter() {
        assert_eq!(with_article("incremental"), "an incremental");
        assert_eq!(with_article("full"), "a full");
        assert_eq!(with_article("export"), "an export");
    }
}
