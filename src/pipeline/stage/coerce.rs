//! Converting one DynamoDB value to one column type, exactly, as the staged JSON value.
//!
//! The rule: a value converts when its meaning in the column is unambiguous and nothing is lost;
//! otherwise the reason is returned and the caller applies the table's type-error policy.
//! `NULL` converts to null in every column. Conversions by column type:
//! - varchar(n): S as is; N as canonical plain text; B as its base64 text; BOOL as `true`/`false`;
//!   M, L and sets as their plain JSON text. Longer than n UTF-8 bytes is an error.
//! - smallint/integer/bigint: an integral N (or S holding a number) within the type's range.
//! - decimal(p,s): an N (or numeric S) with at most s fractional and p−s integer digits, written
//!   as a canonical plain-notation string.
//! - double precision: any N (or numeric S), rounded to the nearest double.
//! - boolean: BOOL; N 0 / 1; S "true" / "false" (any case).
//! - timestamp, timestamptz, date: see [`super::datetime`].
//! - super: the plain JSON of any value (as [`crate::ddb::json`] writes it).

use std::borrow::Cow;

use crate::config::ColumnType;
use crate::ddb::json;
use crate::ddb::number::Number;

use super::datetime;
use super::image::Value;

/// Appends `value` converted to `ty`, as a JSON value; `Err` says why it does not fit.
pub(super) fn write_coerced(out: &mut Vec<u8>, value: &Value<'_>, ty: ColumnType) -> Result<(), String> {
    if let Value::Null(_) = value {
        out.extend_from_slice(b"null");
        return Ok(());
    }
    match ty {
        ColumnType::Varchar(limit) => write_varchar(out, value, limit),
        ColumnType::SmallInt => write_integer(out, value, i16::MIN.into(), i16::MAX.into(), ty),
        ColumnType::Integer => write_integer(out, value, i32::MIN.into(), i32::MAX.into(), ty),
        ColumnType::BigInt => write_integer(out, value, i64::MIN, i64::MAX, ty),
        ColumnType::Decimal { precision, scale } => write_decimal(out, value, precision, scale),
        ColumnType::Double => write_double(out, value),
        ColumnType::Boolean => write_boolean(out, value),
        ColumnType::Timestamp => write_timestamp(out, value, ""),
        ColumnType::TimestampTz => write_timestamp(out, value, "+00"),
        ColumnType::Date => {
            datetime::write_date(out, &datetime::date_of(value)?);
            Ok(())
        }
        ColumnType::Super => value.write_plain_json(out).map_err(|e| e.to_string()),
    }
}

fn write_varchar(out: &mut Vec<u8>, value: &Value<'_>, limit: u32) -> Result<(), String> {
    let text = varchar_text(value)?;
    if text.len() > limit as usize {
        return Err(format!("its text is {} bytes long and the column holds {limit}", text.len()));
    }
    json::write_string(out, &text);
    Ok(())
}

fn varchar_text<'v>(value: &'v Value<'_>) -> Result<Cow<'v, str>, String> {
    Ok(match value {
        Value::S(text) | Value::B(text) => Cow::Borrowed(text.as_ref()),
        Value::N(text) => Cow::Owned(parse_number(text)?.to_plain()),
        Value::Bool(flag) => Cow::Borrowed(if *flag { "true" } else { "false" }),
        Value::Null(_) => Cow::Borrowed(""),
        Value::M(_) | Value::L(_) | Value::Ss(_) | Value::Ns(_) | Value::Bs(_) => {
            let mut text = Vec::new();
            value.write_plain_json(&mut text).map_err(|e| e.to_string())?;
            // Plain JSON is UTF-8: strings are copied from `&str`s, everything else is ASCII.
            Cow::Owned(String::from_utf8(text).map_err(|e| e.to_string())?)
        }
    })
}

fn write_integer(
    out: &mut Vec<u8>,
    value: &Value<'_>,
    min: i64,
    max: i64,
    ty: ColumnType,
) -> Result<(), String> {
    let text = number_text(value)?;
    // Fast path: plain integer text (what DynamoDB writes for integers) parses exactly as is.
    let integer = match text.parse::<i64>() {
        Ok(integer) => integer,
        Err(_) => {
            let number = parse_number(text)?;
            number.to_i64().ok_or_else(|| {
                if number.fraction_digits() > 0 {
                    "it is not a whole number".to_owned()
                } else {
                    format!("it is outside the range of {ty}")
                }
            })?
        }
    };
    if integer < min || integer > max {
        return Err(format!("it is outside the range of {ty} ({min} to {max})"));
    }
    write_i64(out, integer);
    Ok(())
}

fn write_decimal(out: &mut Vec<u8>, value: &Value<'_>, precision: u8, scale: u8) -> Result<(), String> {
    let number = parse_number(number_text(value)?)?;
    number.fits_decimal(precision, scale).map_err(|e| e.to_string())?;
    out.push(b'"');
    number.write_plain(out);
    out.push(b'"');
    Ok(())
}

fn write_double(out: &mut Vec<u8>, value: &Value<'_>) -> Result<(), String> {
    let double = parse_number(number_text(value)?)?.to_f64();
    serde_json::to_writer(&mut *out, &double).map_err(|e| e.to_string())
}

fn write_boolean(out: &mut Vec<u8>, value: &Value<'_>) -> Result<(), String> {
    let flag = match value {
        Value::Bool(flag) => *flag,
        Value::N(text) => match parse_number(text)?.to_i64() {
            Some(0) => false,
            Some(1) => true,
            _ => return Err("only the numbers 0 and 1 are booleans".into()),
        },
        Value::S(text) if text.eq_ignore_ascii_case("true") => true,
        Value::S(text) if text.eq_ignore_ascii_case("false") => false,
        Value::S(_) => return Err("only the strings \"true\" and \"false\" are booleans".into()),
        other => return Err(format!("{} is not a boolean", other.type_phrase())),
    };
    out.extend_from_slice(if flag { b"true" } else { b"false" });
    Ok(())
}

fn write_timestamp(out: &mut Vec<u8>, value: &Value<'_>, suffix: &str) -> Result<(), String> {
    datetime::write_timestamp(out, &datetime::timestamp_of(value)?, suffix);
    Ok(())
}

/// The number text of an N, or of an S meant as a number.
fn number_text<'v>(value: &'v Value<'_>) -> Result<&'v str, String> {
    match value {
        Value::N(text) | Value::S(text) => Ok(text),
        other => Err(format!("{} is not a number", other.type_phrase())),
    }
}

fn parse_number(text: &str) -> Result<Number, String> {
    Number::parse(text).map_err(|e| e.to_string())
}

/// Appends the decimal digits of `value` without going through `fmt`.
pub(super) fn write_i64(out: &mut Vec<u8>, value: i64) {
    let mut buffer = [0u8; 20];
    let mut at = buffer.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        buffer[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buffer[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coerce(json: &str, ty: &str) -> Result<String, String> {
        let value: Value<'_> = serde_json::from_str(json).unwrap();
        let mut out = Vec::new();
        write_coerced(&mut out, &value, ty.parse().unwrap()).map(|()| String::from_utf8(out).unwrap())
    }

    fn ok(json: &str, ty: &str) -> String {
        coerce(json, ty).unwrap_or_else(|e| panic!("{json} as {ty}: {e}"))
    }

    fn err(json: &str, ty: &str) -> String {
        coerce(json, ty).expect_err(&format!("{json} as {ty} should fail"))
    }

    /// One value of each DynamoDB type.
    const ALL_TYPES: [&str; 10] = [
        r#"{"S":"x"}"#,
        r#"{"N":"1"}"#,
        r#"{"B":"AAE="}"#,
        r#"{"BOOL":true}"#,
        r#"{"NULL":true}"#,
        r#"{"M":{"a":{"N":"1"}}}"#,
        r#"{"L":[{"S":"a"}]}"#,
        r#"{"SS":["a"]}"#,
        r#"{"NS":["1"]}"#,
        r#"{"BS":["AA=="]}"#,
    ];

    /// Every DynamoDB type against every column type: the accepted ones convert, the others fail
    /// naming the type.
    #[test]
    fn every_dynamodb_type_in_every_column_type() {
        const ALL: &[&str] = &["S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"];
        let numeric: &[&str] = &["S", "N", "NULL"];
        // (column type, DynamoDB types it accepts, an S text it accepts)
        let cases: [(&str, &[&str], &str); 12] = [
            ("varchar(100)", ALL, "x"),
            ("smallint", numeric, "1"),
            ("integer", numeric, "1"),
            ("bigint", numeric, "1"),
            ("decimal(5,2)", numeric, "1.5"),
            ("double precision", numeric, "1.5"),
            ("boolean", &["S", "N", "BOOL", "NULL"], "true"),
            ("timestamp", numeric, "2024-05-01T00:00:00Z"),
            ("timestamptz", numeric, "2024-05-01T00:00:00Z"),
            ("date", &["S", "NULL"], "2024-05-01"),
            ("super", ALL, "x"),
            ("varchar(max)", ALL, "x"),
        ];
        for (ty, accepted, text) in cases {
            for (tag, json) in ALL.iter().zip(ALL_TYPES) {
                let json = if *tag == "S" { format!(r#"{{"S":"{text}"}}"#) } else { json.to_owned() };
                match coerce(&json, ty) {
                    Ok(_) => assert!(accepted.contains(tag), "{tag} into {ty} should fail"),
                    Err(message) => {
                        assert!(!accepted.contains(tag), "{tag} into {ty}: {message}");
                        let article = if ["S", "N", "M", "L", "SS", "NS"].contains(tag) { "an" } else { "a" };
                        assert!(
                            message.contains(&format!("{article} {tag} value is not")),
                            "{tag} into {ty}: {message}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn null_is_null_in_every_column() {
        for ty in [
            "varchar(1)",
            "smallint",
            "integer",
            "bigint",
            "decimal(1,0)",
            "double precision",
            "boolean",
            "timestamp",
            "timestamptz",
            "date",
            "super",
        ] {
            assert_eq!(ok(r#"{"NULL":true}"#, ty), "null", "{ty}");
        }
    }

    #[test]
    fn varchar_takes_every_type_as_text() {
        let expected = [
            r#""x""#,
            r#""1""#,
            r#""AAE=""#,
            r#""true""#,
            "null",
            r#""{\"a\":1}""#,
            r#""[\"a\"]""#,
            r#""[\"a\"]""#,
            r#""[1]""#,
            r#""[\"AA==\"]""#,
        ];
        for (json, want) in ALL_TYPES.iter().zip(expected) {
            assert_eq!(ok(json, "varchar(max)"), want, "{json}");
        }
        assert_eq!(ok(r#"{"N":"1.50E1"}"#, "varchar(8)"), r#""15""#);
    }

    #[test]
    fn varchar_limits_count_utf8_bytes() {
        assert_eq!(ok(r#"{"S":"héé"}"#, "varchar(5)"), r#""héé""#);
        let message = err(r#"{"S":"héé"}"#, "varchar(4)");
        assert!(message.contains("5 bytes") && message.contains("holds 4"), "{message}");
        assert!(err(r#"{"M":{"a":{"N":"1"}}}"#, "varchar(5)").contains("7 bytes"));
    }

    #[test]
    fn integers_are_exact_and_in_range() {
        assert_eq!(ok(r#"{"N":"42"}"#, "integer"), "42");
        assert_eq!(ok(r#"{"N":"-4.2E1"}"#, "smallint"), "-42");
        assert_eq!(ok(r#"{"N":"1.0"}"#, "bigint"), "1");
        assert_eq!(ok(r#"{"S":"7"}"#, "integer"), "7");
        assert_eq!(ok(r#"{"N":"-9223372036854775808"}"#, "bigint"), "-9223372036854775808");
        assert_eq!(ok(r#"{"N":"32767"}"#, "smallint"), "32767");
        assert!(err(r#"{"N":"32768"}"#, "smallint").contains("range of smallint"));
        assert!(err(r#"{"N":"2147483648"}"#, "integer").contains("range of integer"));
        assert!(err(r#"{"N":"9223372036854775808"}"#, "bigint").contains("range of bigint"));
        assert!(err(r#"{"N":"1.5"}"#, "integer").contains("whole number"));
        assert!(err(r#"{"S":"seven"}"#, "integer").contains("not a number"));
        for json in [
            r#"{"B":"AAE="}"#,
            r#"{"BOOL":true}"#,
            r#"{"M":{}}"#,
            r#"{"L":[]}"#,
            r#"{"SS":["1"]}"#,
            r#"{"NS":["1"]}"#,
            r#"{"BS":["AA=="]}"#,
        ] {
            assert!(err(json, "bigint").contains("is not a number"), "{json}");
        }
    }

    #[test]
    fn decimals_are_canonical_strings_that_fit() {
        assert_eq!(ok(r#"{"N":"12.50"}"#, "decimal(12,2)"), r#""12.5""#);
        assert_eq!(ok(r#"{"N":"-0.001"}"#, "decimal(5,3)"), r#""-0.001""#);
        assert_eq!(ok(r#"{"N":"1E2"}"#, "decimal(3,0)"), r#""100""#);
        assert_eq!(ok(r#"{"N":"-0"}"#, "decimal(3,1)"), r#""0""#);
        assert_eq!(ok(r#"{"S":"9.99"}"#, "decimal(3,2)"), r#""9.99""#);
        assert!(err(r#"{"N":"12.345"}"#, "decimal(12,2)").contains("fractional digits"));
        assert!(err(r#"{"N":"1000"}"#, "decimal(5,2)").contains("integer digits"));
        assert!(err(r#"{"N":"1E+100"}"#, "decimal(38,0)").contains("integer digits"));
        assert!(err(r#"{"BOOL":false}"#, "decimal(5,2)").contains("BOOL value is not a number"));
        assert!(err(r#"{"N":"1E+200"}"#, "decimal(5,2)").contains("range"));
    }

    #[test]
    fn doubles_accept_any_number() {
        assert_eq!(ok(r#"{"N":"0.1"}"#, "double precision"), "0.1");
        assert_eq!(ok(r#"{"N":"1E+125"}"#, "double precision"), "1e+125");
        assert_eq!(ok(r#"{"S":"-2.5"}"#, "double precision"), "-2.5");
        assert!(err(r#"{"L":[]}"#, "double precision").contains("L value"));
    }

    #[test]
    fn booleans_accept_bool_zero_one_and_words() {
        assert_eq!(ok(r#"{"BOOL":true}"#, "boolean"), "true");
        assert_eq!(ok(r#"{"N":"0"}"#, "boolean"), "false");
        assert_eq!(ok(r#"{"N":"1.0"}"#, "boolean"), "true");
        assert_eq!(ok(r#"{"S":"FALSE"}"#, "boolean"), "false");
        assert!(err(r#"{"N":"2"}"#, "boolean").contains("0 and 1"));
        assert!(err(r#"{"S":"yes"}"#, "boolean").contains("\"true\""));
        assert!(err(r#"{"B":"AAE="}"#, "boolean").contains("B value"));
    }

    #[test]
    fn timestamps_and_dates() {
        assert_eq!(ok(r#"{"S":"2024-05-01T12:00:00Z"}"#, "timestamp"), r#""2024-05-01 12:00:00.000000""#);
        assert_eq!(ok(r#"{"N":"0"}"#, "timestamptz"), r#""1970-01-01 00:00:00.000000+00""#);
        assert_eq!(ok(r#"{"S":"2024-05-01"}"#, "date"), r#""2024-05-01""#);
        assert!(err(r#"{"M":{}}"#, "timestamp").contains("M value"));
        assert!(err(r#"{"S":"soon"}"#, "date").contains("YYYY-MM-DD"));
    }

    #[test]
    fn super_keeps_every_type_as_plain_json() {
        let expected = [
            r#""x""#,
            "1",
            r#""AAE=""#,
            "true",
            "null",
            r#"{"a":1}"#,
            r#"["a"]"#,
            r#"["a"]"#,
            "[1]",
            r#"["AA=="]"#,
        ];
        for (json, want) in ALL_TYPES.iter().zip(expected) {
            assert_eq!(ok(json, "super"), want, "{json}");
        }
        assert!(err(r#"{"M":{"n":{"N":"1E+999"}}}"#, "super").contains("range"));
    }

    #[test]
    fn integer_writer_handles_extremes() {
        for value in [0, 7, -7, i64::MIN, i64::MAX, 1_000_000] {
            let mut out = Vec::new();
            write_i64(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), value.to_string());
        }
    }
}
