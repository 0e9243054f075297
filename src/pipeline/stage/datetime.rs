//! Dates and timestamps from DynamoDB values.
//!
//! DynamoDB has no time type; tables store instants as ISO-8601 strings or as epoch seconds in a
//! number (the TTL convention). Both convert exactly to the warehouse's microsecond timestamps;
//! anything that would need rounding (sub-microsecond digits) or guessing is refused.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::ddb::number::Number;

use super::image::Value;

/// The instant (UTC) a timestamp column gets from `value`:
/// - S: RFC 3339 with an offset (`2024-05-01T12:00:00.5+02:00`, converted to UTC), or without one
///   (`2024-05-01T12:00:00`, `2024-05-01 12:00:00`, taken as UTC), or a date (midnight UTC);
/// - N: seconds since the Unix epoch, with at most 6 fractional digits.
pub(super) fn timestamp_of(value: &Value<'_>) -> Result<NaiveDateTime, String> {
    let instant = match value {
        Value::S(text) => parse_timestamp_text(text)?,
        Value::N(text) => epoch_seconds(text)?,
        other => {
            return Err(format!(
                "{} is not a timestamp (use a string or epoch seconds)",
                other.type_phrase()
            ));
        }
    };
    if instant.nanosecond() % 1_000 != 0 || instant.nanosecond() >= 1_000_000_000 {
        return Err("it has sub-microsecond digits or a leap second, which the column cannot hold".into());
    }
    if !(1..=9999).contains(&instant.year()) {
        return Err("its year is outside 0001–9999".into());
    }
    Ok(instant)
}

/// The date a date column gets from `value`: an S in `YYYY-MM-DD` form.
pub(super) fn date_of(value: &Value<'_>) -> Result<NaiveDate, String> {
    match value {
        Value::S(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|date| (1..=9999).contains(&date.year()))
            .ok_or_else(|| "the string is not a date in YYYY-MM-DD form".into()),
        other => Err(format!("{} is not a date (use a YYYY-MM-DD string)", other.type_phrase())),
    }
}

/// Appends `"YYYY-MM-DD HH:MM:SS.ffffff<suffix>"` (a JSON string; `suffix` is `+00` for
/// timestamptz, empty for timestamp). Written digit by digit: this runs for every timestamp
/// value, and chrono's formatter re-reads its format string each time.
pub(super) fn write_timestamp(out: &mut Vec<u8>, instant: &NaiveDateTime, suffix: &str) {
    out.push(b'"');
    write_date_digits(out, &instant.date());
    out.push(b' ');
    write_digits(out, instant.hour(), 2);
    out.push(b':');
    write_digits(out, instant.minute(), 2);
    out.push(b':');
    write_digits(out, instant.second(), 2);
    out.push(b'.');
    write_digits(out, instant.nanosecond() / 1_000, 6);
    out.extend_from_slice(suffix.as_bytes());
    out.push(b'"');
}

/// Appends `"YYYY-MM-DD"`.
pub(super) fn write_date(out: &mut Vec<u8>, date: &NaiveDate) {
    out.push(b'"');
    write_date_digits(out, date);
    out.push(b'"');
}

/// Years are 1..=9999 (checked when the value is read), so four digits always suffice.
fn write_date_digits(out: &mut Vec<u8>, date: &NaiveDate) {
    write_digits(out, date.year().unsigned_abs(), 4);
    out.push(b'-');
    write_digits(out, date.month(), 2);
    out.push(b'-');
    write_digits(out, date.day(), 2);
}

/// Appends the last `width` (at most 10) decimal digits of `value`, zero-padded. Filled from the
/// last digit, one division each: every timestamp writes twenty digits.
fn write_digits(out: &mut Vec<u8>, value: u32, width: u32) {
    let mut digits = [b'0'; 10];
    let width = (width as usize).min(digits.len());
    let mut rest = value;
    for slot in digits[..width].iter_mut().rev() {
        *slot = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits[..width]);
}

fn parse_timestamp_text(text: &str) -> Result<NaiveDateTime, String> {
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        return Ok(with_offset.naive_utc());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(naive);
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_time(chrono::NaiveTime::MIN));
    }
    Err("the string is not an ISO-8601 timestamp (like 2024-05-01T12:00:00Z)".into())
}

fn epoch_seconds(text: &str) -> Result<NaiveDateTime, String> {
    let number = Number::parse(text).map_err(|e| e.to_string())?;
    let micros = number
        .scaled_integer(6)
        .ok_or("as epoch seconds it has more than 6 fractional digits or is out of range")?;
    i64::try_from(micros)
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .map(|instant| instant.naive_utc())
        .ok_or_else(|| "as epoch seconds it is outside the supported dates".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value<'_> {
        Value::S(text.into())
    }

    fn rendered(value: &Value<'_>) -> Result<String, String> {
        let instant = timestamp_of(value)?;
        let mut out = Vec::new();
        write_timestamp(&mut out, &instant, "");
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn accepts_iso_strings_with_and_without_offsets() {
        assert_eq!(rendered(&s("2024-05-01T12:00:00Z")).unwrap(), r#""2024-05-01 12:00:00.000000""#);
        assert_eq!(rendered(&s("2024-05-01T12:00:00.5+02:00")).unwrap(), r#""2024-05-01 10:00:00.500000""#);
        assert_eq!(rendered(&s("2024-05-01 12:00:00.123456")).unwrap(), r#""2024-05-01 12:00:00.123456""#);
        assert_eq!(rendered(&s("2024-05-01T23:59:59")).unwrap(), r#""2024-05-01 23:59:59.000000""#);
        assert_eq!(rendered(&s("2024-05-01")).unwrap(), r#""2024-05-01 00:00:00.000000""#);
    }

    #[test]
    fn accepts_epoch_seconds_exactly() {
        let n = |t: &'static str| Value::N(t.into());
        assert_eq!(rendered(&n("0")).unwrap(), r#""1970-01-01 00:00:00.000000""#);
        assert_eq!(rendered(&n("1714564800.25")).unwrap(), r#""2024-05-01 12:00:00.250000""#);
        assert_eq!(rendered(&n("-1")).unwrap(), r#""1969-12-31 23:59:59.000000""#);
        assert!(rendered(&n("1.0000001")).unwrap_err().contains("6 fractional digits"));
        assert!(rendered(&n("1E+100")).is_err());
    }

    #[test]
    fn refuses_rounding_and_other_types() {
        assert!(rendered(&s("2024-05-01T12:00:00.1234567Z")).unwrap_err().contains("sub-microsecond"));
        assert!(rendered(&s("yesterday")).unwrap_err().contains("ISO-8601"));
        assert!(rendered(&Value::Bool(true)).unwrap_err().contains("BOOL"));
        assert!(rendered(&s("10000-01-01T00:00:00Z")).is_err());
    }

    #[test]
    fn timestamptz_gets_the_utc_suffix() {
        let instant = timestamp_of(&s("2024-05-01T12:00:00-01:00")).unwrap();
        let mut out = Vec::new();
        write_timestamp(&mut out, &instant, "+00");
        assert_eq!(out, br#""2024-05-01 13:00:00.000000+00""#);
    }

    #[test]
    fn digits_are_the_last_ones_zero_padded() {
        for value in [0, 7, 42, 999, 1_000, 123_456, 999_999, 2_024, u32::MAX] {
            for width in 1..=10 {
                let mut out = Vec::new();
                write_digits(&mut out, value, width);
                let expected = format!("{:0w$}", u64::from(value) % 10u64.pow(width), w = width as usize);
                assert_eq!(String::from_utf8(out).unwrap(), expected, "{value} in {width}");
            }
        }
    }

    #[test]
    fn dates_are_strict() {
        let date = date_of(&s("2024-02-29")).unwrap();
        let mut out = Vec::new();
        write_date(&mut out, &date);
        assert_eq!(out, br#""2024-02-29""#);
        assert!(date_of(&s("2023-02-29")).is_err());
        let mut early = Vec::new();
        write_date(&mut early, &date_of(&s("0099-01-02")).unwrap());
        assert_eq!(early, br#""0099-01-02""#);
        assert!(date_of(&s("2024-05-01T00:00:00Z")).is_err());
        assert!(date_of(&Value::N("20240501".into())).unwrap_err().contains("N value"));
    }
}
