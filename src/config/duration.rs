//! Durations in `tables.toml`: `"90s"`, `"15m"`, `"2h"`, `"1d"`, or combined like `"1h30m"`.
//!
//! Written with an explicit unit on every part, because a bare `30` is ambiguous (seconds?
//! minutes?) and the values here (export windows, lag thresholds) differ by orders of magnitude.

use std::time::Duration;

/// What a duration looks like, for hints.
pub(super) const DURATION_FORMAT: &str =
    "a number with a unit: \"90s\", \"15m\", \"2h\", \"1d\", or \"1h30m\"";

/// Parses `text` as a sum of `<number><unit>` parts (units `d`, `h`, `m`, `s`).
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Err("the value is empty".into());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (number, after) = rest.split_at(digits);
        let Some(unit) = after.chars().next() else {
            return Err(format!("`{text}` ends in a number without a unit"));
        };
        if number.is_empty() {
            return Err(format!("`{text}` has no number before '{unit}'"));
        }
        let seconds_per_unit =
            unit_seconds(unit).ok_or_else(|| format!("`{text}` uses the unknown unit '{unit}'"))?;
        let number: u64 = number.parse().map_err(|_| format!("`{text}` is too large"))?;
        total = number
            .checked_mul(seconds_per_unit)
            .and_then(|seconds| total.checked_add(seconds))
            .ok_or_else(|| format!("`{text}` is too large"))?;
        rest = &after[1..];
    }
    Ok(Duration::from_secs(total))
}

fn unit_seconds(unit: char) -> Option<u64> {
    match unit {
        's' => Some(1),
        'm' => Some(60),
        'h' => Some(3600),
        'd' => Some(86_400),
        _ => None,
    }
}

/// The shortest way to write `duration` in the same notation (whole seconds).
pub(super) fn format_duration(duration: Duration) -> String {
    let mut seconds = duration.as_secs();
    if seconds == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [('d', 86_400), ('h', 3600), ('m', 60), ('s', 1)] {
        if seconds >= size {
            out.push_str(&format!("{}{unit}", seconds / size));
            seconds %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_combined_units() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn explains_what_is_wrong() {
        assert_eq!(parse_duration(""), Err("the value is empty".into()));
        assert_eq!(parse_duration("30"), Err("`30` ends in a number without a unit".into()));
        assert_eq!(parse_duration("5 m"), Err("`5 m` uses the unknown unit ' '".into()));
        assert_eq!(parse_duration("2w"), Err("`2w` uses the unknown unit 'w'".into()));
        assert_eq!(parse_duration("h"), Err("`h` has no number before 'h'".into()));
        assert_eq!(parse_duration("-5m"), Err("`-5m` has no number before '-'".into()));
        assert!(parse_duration("99999999999999999999s").unwrap_err().contains("too large"));
        assert!(parse_duration("999999999999999999d").unwrap_err().contains("too large"));
    }

    #[test]
    fn non_ascii_units_are_rejected_not_split() {
        assert!(parse_duration("5µs").unwrap_err().contains("unknown unit 'µ'"));
    }

    #[test]
    fn formats_back_to_the_same_notation() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
    }
}
