//! One decoded staged line → one row of COPY's text format: fields in staged column order
//! separated by tabs, `\N` for NULL, a newline at the end.
//!
//! | staged value               | field                                              |
//! |----------------------------|----------------------------------------------------|
//! | text (varchar, dates…)     | the text, escaped                                  |
//! | decimal                    | its plain digits (exact)                           |
//! | integer                    | decimal digits                                     |
//! | double                     | shortest round-trip notation (`8.731e-1`)          |
//! | boolean                    | `t` / `f`                                          |
//! | super                      | the staged JSON text, escaped: jsonb keeps numbers exact |
//!
//! Escaping doubles backslashes and writes tab, newline and carriage return as `\t`, `\n`, `\r`
//! — the characters COPY would otherwise read as structure. PostgreSQL text cannot hold U+0000;
//! such a value fails the load here, naming its column, rather than being altered.

use std::io::Write;

use crate::warehouse::staged_lines::StagedLine;
use crate::warehouse::staged_value::StagedValue;

const NULL_FIELD: &[u8] = b"\\N";

/// Appends `line` as one COPY row; `columns` are the target's column names (for errors).
pub(super) fn write_row(out: &mut Vec<u8>, line: &StagedLine<'_>, columns: &[String]) -> Result<(), String> {
    out.extend_from_slice(line.op.staged_text().as_bytes());
    out.push(b'\t');
    match line.ts {
        Some(micros) => write!(out, "{micros}").expect("writing to a Vec"),
        None => out.extend_from_slice(NULL_FIELD),
    }
    for (value, column) in line.values.iter().zip(columns) {
        out.push(b'\t');
        write_field(out, value).map_err(|problem| format!("column \"{column}\": {problem}"))?;
    }
    out.push(b'\n');
    Ok(())
}

fn write_field(out: &mut Vec<u8>, value: &StagedValue<'_>) -> Result<(), String> {
    match value {
        StagedValue::Null => out.extend_from_slice(NULL_FIELD),
        StagedValue::Text(text) => {
            if text.contains('\0') {
                return Err("PostgreSQL text cannot hold the NUL character (U+0000)".into());
            }
            escape_into(out, text);
        }
        StagedValue::Decimal(digits) => out.extend_from_slice(digits.as_bytes()),
        StagedValue::Integer(n) => write!(out, "{n}").expect("writing to a Vec"),
        StagedValue::Double(x) => write!(out, "{x:e}").expect("writing to a Vec"),
        StagedValue::Boolean(b) => out.push(if *b { b't' } else { b'f' }),
        StagedValue::Json(raw) => escape_into(out, raw.get()),
    }
    Ok(())
}

/// Appends `text` with COPY's text-format escapes (also how the Data API stand-in's tests write
/// COPY rows, through the testkit).
pub fn escape_into(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|b| matches!(b, b'\\' | b'\t' | b'\n' | b'\r')) {
        out.extend_from_slice(bytes);
        return;
    }
    for &byte in bytes {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::shape::TableShape;
    use crate::warehouse::staged_lines::LineDecoder;
    use crate::warehouse::testkit;

    fn row(table: &crate::config::TableConfig, op: &str, fields: &[(&str, &str)]) -> Result<String, String> {
        let shape = TableShape::of(table);
        let columns: Vec<String> = shape.column_names().map(str::to_owned).collect();
        let text = testkit::line(table, op, fields);
        let line = LineDecoder::new(&shape).decode(&text)?;
        let mut out = Vec::new();
        write_row(&mut out, &line, &columns)?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[test]
    fn writes_every_type_in_staged_order() {
        let table = testkit::customers_table();
        let text = row(
            &table,
            "U",
            &[
                ("customer_id", r#""C1""#),
                ("name", r#""Zoë""#),
                ("visits", "-42"),
                ("active", "true"),
                ("signup_date", r#""2024-02-29""#),
            ],
        )
        .unwrap();
        assert_eq!(text, "U\t\\N\tC1\tZoë\t-42\tt\t2024-02-29\t\\N\n");
    }

    #[test]
    fn decimals_doubles_and_super_values_keep_their_digits() {
        let table = testkit::orders_table();
        let lines = r#"[{"q":12345678901234567890123456789012345678,"t":"a\tb"}]"#;
        let text = row(
            &table,
            "U",
            &[
                ("customer_id", r#""C""#),
                ("order_id", r#""O""#),
                ("total", r#""-123456789012345678901234567890123456.78""#),
                ("ratio", "0.8731"),
                ("is_priority", "false"),
                ("lines", lines),
            ],
        )
        .unwrap();
        let fields: Vec<&str> = text.trim_end_matches('\n').split('\t').collect();
        assert_eq!(fields[4], "-123456789012345678901234567890123456.78");
        assert_eq!(fields[6], "8.731e-1");
        assert_eq!(fields[7], "f");
        assert_eq!(fields[8], r#"[{"q":12345678901234567890123456789012345678,"t":"a\\tb"}]"#);
        assert_eq!("8.731e-1".parse::<f64>().unwrap(), 0.8731);
    }

    #[test]
    fn escapes_copy_structure_characters() {
        let mut out = Vec::new();
        escape_into(&mut out, "a\\b\tc\nd\re\\.");
        assert_eq!(out, b"a\\\\b\\tc\\nd\\re\\\\.");
    }

    #[test]
    fn a_nul_character_fails_naming_the_column() {
        let table = testkit::customers_table();
        let err = row(&table, "U", &[("customer_id", r#""C1""#), ("name", r#""a\u0000b""#)]).unwrap_err();
        assert_eq!(err, "column \"name\": PostgreSQL text cannot hold the NUL character (U+0000)");
    }

    #[test]
    fn a_delete_row_has_nulls_beyond_the_key() {
        let table = testkit::customers_table();
        let text = row(&table, "D", &[("customer_id", r#""C1""#)]).unwrap();
        assert_eq!(text, "D\t\\N\tC1\t\\N\t\\N\t\\N\t\\N\t\\N\n");
    }
}
