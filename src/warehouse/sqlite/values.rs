//! Staged JSON values → SQLite values.
//!
//! SQLite stores what it is given (column affinity only nudges), so the conversion here decides
//! what a loaded row holds. Each value is first checked against its column type by
//! [`staged_value`] (shared by every warehouse; see its table), then stored as:
//!
//! | column type                              | SQLite value              |
//! |------------------------------------------|---------------------------|
//! | varchar, timestamp, timestamptz, date    | TEXT, as is               |
//! | decimal(p,s)                             | TEXT, as is (exact)       |
//! | smallint, integer, bigint                | INTEGER                   |
//! | double precision                         | REAL                      |
//! | boolean                                  | INTEGER 1 / 0             |
//! | super (and the whole-item column)        | TEXT: the JSON as written |
//! | any (JSON null)                          | NULL                      |
//!
//! Decimals stay text because SQLite has no exact decimal type: a NUMERIC or REAL column would
//! turn `12345678901234567890.123` into a 64-bit float. Super values are kept as their raw JSON
//! text for the same reason: numbers inside them keep every digit.

use rusqlite::types::{Value, ValueRef};
use serde_json::value::RawValue;

use crate::config::ColumnType;
use crate::warehouse::staged_value::{JsonText, StagedValue, ValueError, staged_value};

/// Converts one staged JSON value (its raw text) into the SQLite value a load stores for a
/// column of type `ty`; see the module docs for the mapping.
pub fn sqlite_value(ty: ColumnType, raw: &RawValue) -> Result<Value, ValueError> {
    staged_value(ty, JsonText::of(raw)).map(stored_value)
}

/// The SQLite form of a checked staged value, owned.
fn stored_value(value: StagedValue<'_>) -> Value {
    match stored_value_ref(&value) {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(n) => Value::Integer(n),
        ValueRef::Real(x) => Value::Real(x),
        // The bytes of a `&str` (see below): nothing is ever replaced.
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            Value::Text(String::from_utf8_lossy(bytes).into_owned())
        }
    }
}

/// The SQLite form of a checked staged value, borrowing its text (the COPY copies it once, into
/// its batch).
pub(super) fn stored_value_ref<'a>(value: &'a StagedValue<'_>) -> ValueRef<'a> {
    match value {
        StagedValue::Null => ValueRef::Null,
        StagedValue::Text(text) | StagedValue::Decimal(text) => ValueRef::Text(text.as_bytes()),
        StagedValue::Integer(n) => ValueRef::Integer(*n),
        StagedValue::Double(x) => ValueRef::Real(*x),
        StagedValue::Boolean(b) => ValueRef::Integer(i64::from(*b)),
        StagedValue::Json(raw) => ValueRef::Text(raw.get().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::staged_value::FOUND_PREVIEW_CHARS;

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
