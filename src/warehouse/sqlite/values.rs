//! Staged JSON values → SQLite values.
//!
//! SQLite stores what it is given (column affinity only nudges), so the conversion here decides
//! what a loaded row holds. It follows the staged file format (`notes/staged-format.md`):
//!
//! | column type                              | staged JSON          | SQLite value              |
//! |------------------------------------------|----------------------|---------------------------|
//! | varchar, timestamp, timestamptz, date    | string               | TEXT, as is               |
//! | decimal(p,s)                             | string, plain digits | TEXT, as is (exact)       |
//! | smallint, integer, bigint                | integer              | INTEGER                   |
//! | double precision                         | number               | REAL                      |
//! | boolean                                  | true / false         | INTEGER 1 / 0             |
//! | super (and the whole-item column)        | any JSON             | TEXT: the JSON as written |
//! | any                                      | null                 | NULL                      |
//!
//! Decimals stay text because SQLite has no exact decimal type: a NUMERIC or REAL column would
//! turn `12345678901234567890.123` into a 64-bit float. Super values are kept as their raw JSON
//! text (read through [`RawValue`]) for the same reason: numbers inside them keep every digit.

use rusqlite::types::Value;
use serde_json::value::RawValue;

use crate::config::ColumnType;

/// A staged value that does not fit its column: the stage step and the column spec disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} for a {column_type} column, found {found}")]
pub struct ValueError {
    /// The column type, as `tables.toml` spells it.
    pub column_type: String,
    /// What the staged format requires for it.
    pub expected: &'static str,
    /// The offending JSON text (shortened).
    pub found: String,
}

/// Longest piece of an offending value quoted in a [`ValueError`].
const FOUND_PREVIEW_CHARS: usize = 60;

/// Converts one staged JSON value (its raw text) into the SQLite value a load stores for a
/// column of type `ty`; see the module docs for the mapping. JSON `null` is NULL for every type.
pub fn sqlite_value(ty: ColumnType, raw: &RawValue) -> Result<Value, ValueError> {
    let text = raw.get();
    if text == "null" {
        return Ok(Value::Null);
    }
    let mismatch =
        |expected: &'static str| ValueError { column_type: ty.to_string(), expected, found: preview(text) };
    match ty {
        ColumnType::Varchar(_) | ColumnType::Timestamp | ColumnType::TimestampTz | ColumnType::Date => {
            json_string(text).map(Value::Text).ok_or_else(|| mismatch("a JSON string"))
        }
        ColumnType::Decimal { .. } => json_string(text)
            .filter(|digits| is_plain_decimal(digits))
            .map(Value::Text)
            .ok_or_else(|| mismatch("a JSON string holding a plain decimal like \"-12.5\"")),
        ColumnType::SmallInt => integer_in(text, i16::MIN.into(), i16::MAX.into())
            .ok_or_else(|| mismatch("a JSON integer in -32768..=32767")),
        ColumnType::Integer => integer_in(text, i32::MIN.into(), i32::MAX.into())
            .ok_or_else(|| mismatch("a JSON integer in the 32-bit range")),
        ColumnType::BigInt => {
            integer_in(text, i64::MIN, i64::MAX).ok_or_else(|| mismatch("a JSON integer in the 64-bit range"))
        }
        ColumnType::Double => {
            serde_json::from_str::<f64>(text).map(Value::Real).map_err(|_| mismatch("a JSON number"))
        }
        ColumnType::Boolean => serde_json::from_str::<bool>(text)
            .map(|b| Value::Integer(i64::from(b)))
            .map_err(|_| mismatch("true or false")),
        ColumnType::Super => Ok(Value::Text(text.to_owned())),
    }
}

fn json_string(text: &str) -> Option<String> {
    serde_json::from_str::<String>(text).ok()
}

fn integer_in(text: &str, min: i64, max: i64) -> Option<Value> {
    let n = serde_json::from_str::<i64>(text).ok()?;
    (min..=max).contains(&n).then_some(Value::Integer(n))
}

/// `-?digits(.digits)?`: the plain notation the stage step writes (no exponent, no sign `+`).
fn is_plain_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && fraction.is_none_or(all_digits)
}

fn preview(text: &str) -> String {
    if text.chars().count() <= FOUND_PREVIEW_CHARS {
        return text.to_owned();
    }
    let head: String = text.chars().take(FOUND_PREVIEW_CHARS).collect();
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(ty: &str, json: &str) -> Result<Value, ValueError> {
        let raw = RawValue::from_string(json.to_owned()).unwrap();
        sqlite_value(ty.parse().unwrap(), &raw)
    }

    fn text(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    #[test]
    fn null_is_null_for_every_type() {
        for ty in ["varchar(3)", "bigint", "decimal(5,2)", "double precision", "boolean", "date", "super"] {
            assert_eq!(convert(ty, "null"), Ok(Value::Null), "{ty}");
        }
    }

    #[test]
    fn strings_become_text_unchanged() {
        assert_eq!(convert("varchar(64)", r#""Zoë \"quoted\" 🦀""#), Ok(text("Zoë \"quoted\" 🦀")));
        assert_eq!(convert("date", r#""2024-02-29""#), Ok(text("2024-02-29")));
        assert_eq!(
            convert("timestamptz", r#""2024-02-29 23:59:59.000001+00""#),
            Ok(text("2024-02-29 23:59:59.000001+00"))
        );
    }

    #[test]
    fn decimals_keep_every_digit() {
        let digits = "-12345678901234567890123456789.123456789";
        assert_eq!(convert("decimal(38,9)", &format!("\"{digits}\"")), Ok(text(digits)));
        assert_eq!(convert("decimal(38,0)", r#""99999999999999999999999999999999999999""#).unwrap(), {
            text("99999999999999999999999999999999999999")
        });
    }

    #[test]
    fn decimals_must_be_plain_strings() {
        for bad in ["12.5", r#""1e5""#, r#""12.""#, r#""abc""#, r#""""#, r#""+1""#] {
            let err = convert("decimal(12,2)", bad).unwrap_err();
            assert_eq!(err.column_type, "decimal(12,2)", "{bad}");
        }
    }

    #[test]
    fn integers_are_range_checked_per_type() {
        assert_eq!(convert("smallint", "-32768"), Ok(Value::Integer(-32768)));
        assert!(convert("smallint", "32768").is_err());
        assert_eq!(convert("integer", "2147483647"), Ok(Value::Integer(2_147_483_647)));
        assert!(convert("integer", "2147483648").is_err());
        assert_eq!(convert("bigint", "9223372036854775807"), Ok(Value::Integer(i64::MAX)));
        assert!(convert("bigint", "9223372036854775808").is_err());
        assert!(convert("bigint", "1.5").is_err());
        assert!(convert("bigint", r#""7""#).is_err());
    }

    #[test]
    fn doubles_and_booleans() {
        assert_eq!(convert("double precision", "0.8731"), Ok(Value::Real(0.8731)));
        assert_eq!(convert("double precision", "3"), Ok(Value::Real(3.0)));
        assert!(convert("double precision", r#""3""#).is_err());
        assert_eq!(convert("boolean", "true"), Ok(Value::Integer(1)));
        assert_eq!(convert("boolean", "false"), Ok(Value::Integer(0)));
        assert!(convert("boolean", "1").is_err());
    }

    #[test]
    fn super_keeps_the_json_text_with_exact_numbers() {
        let json = r#"{"n":12345678901234567890123456789012345678,"f":0.1000000000000000055511151231257827,"s":["a"]}"#;
        assert_eq!(convert("super", json), Ok(text(json)));
        assert_eq!(convert("super", r#""plain""#), Ok(text(r#""plain""#)));
    }

    #[test]
    fn errors_quote_a_short_preview_of_the_value() {
        let long = format!("\"{}\"", "x".repeat(500));
        let err = convert("bigint", &long).unwrap_err();
        assert!(err.found.chars().count() <= FOUND_PREVIEW_CHARS + 1, "{}", err.found);
        assert!(
            err.to_string().starts_with("expected a JSON integer in the 64-bit range for a bigint column")
        );
    }
}
