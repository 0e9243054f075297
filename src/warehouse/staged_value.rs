//! One staged JSON value, checked against its column type: what every warehouse that reads the
//! staged files itself (SQLite, PostgreSQL) stores, before it is put in the warehouse's own form.
//!
//! The checks follow the staged file format (`notes/staged-format.md`):
//!
//! | column type                              | staged JSON          | [`StagedValue`]        |
//! |------------------------------------------|----------------------|------------------------|
//! | varchar, timestamp, timestamptz, date    | string               | `Text`, as is          |
//! | decimal(p,s)                             | string, plain digits | `Decimal`, exact text  |
//! | smallint, integer, bigint                | integer, in range    | `Integer`              |
//! | double precision                         | number               | `Double`               |
//! | boolean                                  | true / false         | `Boolean`              |
//! | super (and the whole-item column)        | any JSON             | `Json`: the raw text   |
//! | any                                      | null                 | `Null`                 |
//!
//! Values are read from the raw JSON text ([`JsonText`]), never through `serde_json::Value`, so
//! decimals and numbers inside super values keep every digit.

use std::borrow::Cow;

use serde_json::value::RawValue;

use crate::config::ColumnType;

/// A staged value that does not fit its column: the stage step and the column spec disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} for {} column, found {found}", crate::human::with_article(column_type))]
pub struct ValueError {
    /// The column type, as `tables.toml` spells it.
    pub column_type: String,
    /// What the staged format requires for it.
    pub expected: &'static str,
    /// The offending JSON text (shortened).
    pub found: String,
}

impl ValueError {
    /// `text` (the offending JSON) is not `expected` for a column of type `ty`.
    pub fn new(ty: ColumnType, expected: &'static str, text: &str) -> ValueError {
        ValueError { column_type: ty.to_string(), expected, found: preview(text) }
    }
}

/// Longest piece of an offending value quoted in a [`ValueError`].
pub const FOUND_PREVIEW_CHARS: usize = 60;

/// The text of one JSON value, valid and with no whitespace around it: a [`RawValue`]'s, or a
/// value [`super::staged_lines`] read from a line in the form the stage writes. The checks
/// below rely on it (a string without a backslash is its text between the quotes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonText<'a>(&'a str);

impl<'a> JsonText<'a> {
    pub fn of(raw: &'a RawValue) -> JsonText<'a> {
        JsonText(raw.get())
    }

    /// `text`, which the caller has checked is one valid JSON value with no whitespace around it.
    pub(super) fn checked(text: &'a str) -> JsonText<'a> {
        JsonText(text)
    }

    pub fn get(self) -> &'a str {
        self.0
    }
}

/// A checked staged value, borrowed from its line where possible.
#[derive(Debug, Clone)]
pub enum StagedValue<'a> {
    Null,
    /// varchar, timestamp, timestamptz and date columns: the JSON string's content.
    Text(Cow<'a, str>),
    /// decimal columns: plain notation (`-?digits(.digits)?`), exact.
    Decimal(Cow<'a, str>),
    Integer(i64),
    Double(f64),
    Boolean(bool),
    /// super columns: the JSON value's text as staged.
    Json(JsonText<'a>),
}

/// Equal when of the same kind with the same content; super values compare by their text.
impl PartialEq for StagedValue<'_> {
    fn eq(&self, other: &Self) -> bool {
        use StagedValue as V;
        match (self, other) {
            (V::Null, V::Null) => true,
            (V::Text(a), V::Text(b)) | (V::Decimal(a), V::Decimal(b)) => a == b,
            (V::Integer(a), V::Integer(b)) => a == b,
            (V::Double(a), V::Double(b)) => a == b,
            (V::Boolean(a), V::Boolean(b)) => a == b,
            (V::Json(a), V::Json(b)) => a.get() == b.get(),
            _ => false,
        }
    }
}

/// Checks one staged JSON value (its raw text) against a column of type `ty`; see the module
/// docs for the mapping. JSON `null` is [`StagedValue::Null`] for every type.
pub fn staged_value(ty: ColumnType, raw: JsonText<'_>) -> Result<StagedValue<'_>, ValueError> {
    let text = raw.get();
    if text == "null" {
        return Ok(StagedValue::Null);
    }
    let mismatch = |expected: &'static str| ValueError::new(ty, expected, text);
    match ty {
        ColumnType::Varchar(_) | ColumnType::Timestamp | ColumnType::TimestampTz | ColumnType::Date => {
            json_string(raw).map(StagedValue::Text).ok_or_else(|| mismatch("a JSON string"))
        }
        ColumnType::Decimal { .. } => json_string(raw)
            .filter(|digits| is_plain_decimal(digits))
            .map(StagedValue::Decimal)
            .ok_or_else(|| mismatch("a JSON string holding a plain decimal like \"-12.5\"")),
        ColumnType::SmallInt => integer_in(text, i16::MIN.into(), i16::MAX.into())
            .ok_or_else(|| mismatch("a JSON integer in -32768..=32767")),
        ColumnType::Integer => integer_in(text, i32::MIN.into(), i32::MAX.into())
            .ok_or_else(|| mismatch("a JSON integer in the 32-bit range")),
        ColumnType::BigInt => {
            integer_in(text, i64::MIN, i64::MAX).ok_or_else(|| mismatch("a JSON integer in the 64-bit range"))
        }
        ColumnType::Double => {
            serde_json::from_str::<f64>(text).map(StagedValue::Double).map_err(|_| mismatch("a JSON number"))
        }
        ColumnType::Boolean => {
            boolean(text).map(StagedValue::Boolean).ok_or_else(|| mismatch("true or false"))
        }
        ColumnType::Super => Ok(StagedValue::Json(raw)),
    }
}

/// A JSON string's content, borrowed unless it holds escapes.
///
/// A [`JsonText`] is valid JSON with no surrounding whitespace, so a string without a backslash
/// is its content between the quotes as is (JSON allows no raw control characters in it): the
/// common case needs no parse. Escapes go through serde_json.
fn json_string(raw: JsonText<'_>) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let quoted = text.strip_prefix('"')?;
    match quoted.strip_suffix('"') {
        Some(content) if !content.contains('\\') => Some(Cow::Borrowed(content)),
        _ => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
    }
}

/// A JSON integer in `min..=max`. Valid JSON number text (a [`RawValue`]'s) parses as an `i64`
/// exactly when serde_json reads it as one (no `+`, no leading zeros, and a fraction or an
/// exponent fails both), except `-0`, which serde_json reads as the float -0.0.
fn integer_in(text: &str, min: i64, max: i64) -> Option<StagedValue<'static>> {
    if text == "-0" {
        return None;
    }
    let n = text.parse::<i64>().ok()?;
    (min..=max).contains(&n).then_some(StagedValue::Integer(n))
}

/// `true` or `false`, the only JSON texts of a boolean.
fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// `-?digits(.digits)?`: the plain notation the stage step writes (no exponent, no sign `+`).
pub fn is_plain_decimal(text: &str) -> bool {
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

    fn check(ty: &str, json: &str) -> Result<StagedValue<'static>, ValueError> {
        let raw: &'static RawValue = Box::leak(RawValue::from_string(json.to_owned()).unwrap());
        staged_value(ty.parse().unwrap(), JsonText::of(raw))
    }

    #[test]
    fn strings_are_borrowed_unless_they_hold_escapes() {
        assert!(matches!(check("varchar(8)", r#""plain""#), Ok(StagedValue::Text(Cow::Borrowed("plain")))));
        let Ok(StagedValue::Text(escaped)) = check("varchar(8)", r#""a\"b""#) else { panic!("a string") };
        assert_eq!(escaped, "a\"b");
    }

    #[test]
    fn each_type_gets_its_variant() {
        assert_eq!(check("decimal(5,2)", r#""-1.5""#), Ok(StagedValue::Decimal("-1.5".into())));
        assert_eq!(check("smallint", "7"), Ok(StagedValue::Integer(7)));
        assert_eq!(check("double precision", "1e3"), Ok(StagedValue::Double(1000.0)));
        assert_eq!(check("boolean", "false"), Ok(StagedValue::Boolean(false)));
        let Ok(StagedValue::Json(raw)) = check("super", r#"{"n":1.10}"#) else { panic!("json") };
        assert_eq!(raw.get(), r#"{"n":1.10}"#);
        assert_eq!(check("date", "null"), Ok(StagedValue::Null));
    }

    /// The shortcuts (strings without escapes, integers, booleans) read every value exactly as
    /// serde_json does.
    #[test]
    fn the_shortcuts_agree_with_serde_json() {
        let texts = [
            r#""""#,
            r#""plain""#,
            r#""a\"b""#,
            r#""\u00e9t\u00e9""#,
            r#""tab\there""#,
            r#""\\""#,
            r#""Zoë 🦀""#,
            "0",
            "-0",
            "7",
            "-12",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "18446744073709551615",
            "1.0",
            "1e3",
            "-1E-2",
            "true",
            "false",
            "[1]",
            "{}",
            "null",
        ];
        for text in texts {
            let raw: &RawValue = serde_json::from_str(text).unwrap();
            let string = serde_json::from_str::<String>(text).ok();
            assert_eq!(json_string(JsonText::of(raw)).map(Cow::into_owned), string, "{text}");
            let integer = serde_json::from_str::<i64>(text).ok().map(StagedValue::Integer);
            assert_eq!(integer_in(raw.get(), i64::MIN, i64::MAX), integer, "{text}");
            assert_eq!(boolean(raw.get()), serde_json::from_str::<bool>(text).ok(), "{text}");
        }
    }

    #[test]
    fn plain_decimals_only() {
        for good in ["0", "-0.5", "12345678901234567890123456789012345678"] {
            assert!(is_plain_decimal(good), "{good}");
        }
        for bad in ["", "-", "1.", ".5", "1e5", "+1", "1,5", " 1"] {
            assert!(!is_plain_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn a_mismatch_names_the_type_and_previews_the_value() {
        let err = check("integer", &format!("\"{}\"", "y".repeat(100))).unwrap_err();
        assert_eq!(err.column_type, "integer");
        assert!(err.to_string().contains(" for an integer column, found "), "{err}");
        assert!(err.found.ends_with('…') && err.found.chars().count() == FOUND_PREVIEW_CHARS + 1);
    }
}
