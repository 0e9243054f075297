//! Staged lines (JSON objects of staged columns) → checked values, for every warehouse that
//! reads the staged files itself.
//!
//! Values are borrowed from the line as raw JSON text (no `serde_json::Value`, so numbers are
//! never routed through `f64`) and checked by [`staged_value`]. A line must hold exactly the
//! staged columns: a missing, unknown or repeated column means the files were staged for
//! another column spec, and loading them would put values in the wrong columns.
//!
//! Lines in the exact form the stage writes are read by [`super::staged_scan`] in one pass; any
//! other line, and every line with a problem, goes through serde_json, whose errors are the ones
//! reported.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::config::ColumnType;
use crate::contract::staged::{OP_COLUMN, TS_COLUMN};

use super::shape::TableShape;
use super::staged_scan::{FieldScanner, writes_as_is};
use super::staged_value::{JsonText, StagedValue, staged_value};

/// The staged op of rows that insert or update.
pub const OP_UPSERT: &str = "U";
/// The staged op of rows that delete by key.
pub const OP_DELETE: &str = "D";

/// What a staged row does to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Upsert,
    Delete,
}

impl Op {
    /// The op as staged files and stage tables spell it.
    pub fn staged_text(self) -> &'static str {
        match self {
            Op::Upsert => OP_UPSERT,
            Op::Delete => OP_DELETE,
        }
    }
}

/// One decoded line.
#[derive(Debug, Clone, PartialEq)]
pub struct StagedLine<'l> {
    pub op: Op,
    /// The change's `WriteTimestampMicros` (`None` in full loads).
    pub ts: Option<i64>,
    /// The target's columns, in [`TableShape`] order.
    pub values: Vec<StagedValue<'l>>,
}

/// Decodes the lines of one table's staged files.
#[derive(Debug)]
pub struct LineDecoder {
    /// The staged column names: op, timestamp, then the target's columns.
    names: Vec<String>,
    /// The target's column types, in shape order.
    types: Vec<ColumnType>,
    index: HashMap<String, usize>,
    /// Every staged name is written as is in JSON, so lines can be scanned (see
    /// [`LineDecoder::decode_as_staged`]).
    scannable: bool,
}

/// Positions of the op and timestamp columns among the staged columns.
const OP_POSITION: usize = 0;
const TS_POSITION: usize = 1;
const FIRST_TARGET_COLUMN: usize = 2;

impl LineDecoder {
    pub fn new(shape: &TableShape) -> LineDecoder {
        let names = shape.staged_column_names();
        let types = shape.columns.iter().map(|c| c.ty).collect();
        let index = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let scannable = names.iter().all(|name| writes_as_is(name));
        LineDecoder { names, types, index, scannable }
    }

    /// Decodes one line; the error says which column is wrong and how.
    pub fn decode<'l>(&self, line: &'l str) -> Result<StagedLine<'l>, String> {
        if let Some(decoded) = self.decode_as_staged(line) {
            return Ok(decoded);
        }
        self.decode_any(line)
    }

    /// The line, when it is in the stage's own form (the staged columns in order, no
    /// whitespace) and every value fits its column; `None` otherwise. Whatever it decodes,
    /// [`LineDecoder::decode_any`] decodes the same: the same values under the same names,
    /// through the same checks.
    pub fn decode_as_staged<'l>(&self, line: &'l str) -> Option<StagedLine<'l>> {
        if !self.scannable {
            return None;
        }
        let mut scanner = FieldScanner::new(line)?;
        // Any problem is left to `decode_any`, which words it.
        let decoded =
            self.assemble(|position| scanner.field(&self.names[position]).ok_or_else(String::new)).ok()?;
        scanner.end()?;
        Some(decoded)
    }

    /// Decodes any JSON object of the staged columns, in any order and spacing.
    pub fn decode_any<'l>(&self, line: &'l str) -> Result<StagedLine<'l>, String> {
        let mut json = serde_json::Deserializer::from_str(line);
        let slots = FieldsSeed { decoder: self }.deserialize(&mut json).map_err(|e| e.to_string())?;
        json.end().map_err(|e| e.to_string())?;
        self.assemble(|position| {
            slots[position]
                .map(JsonText::of)
                .ok_or_else(|| format!("column \"{}\" is missing", self.names[position]))
        })
    }

    /// The line whose staged columns' values `slot` gives, asked for in staged order, each checked
    /// against its column.
    fn assemble<'l>(
        &self,
        mut slot: impl FnMut(usize) -> Result<JsonText<'l>, String>,
    ) -> Result<StagedLine<'l>, String> {
        let op = read_op(slot(OP_POSITION)?)?;
        let ts = match staged_value(ColumnType::BigInt, slot(TS_POSITION)?) {
            Ok(StagedValue::Integer(micros)) => Some(micros),
            Ok(_) => None,
            Err(e) => return Err(format!("column \"{TS_COLUMN}\": {e}")),
        };
        let mut values = Vec::with_capacity(self.types.len());
        for (offset, ty) in self.types.iter().enumerate() {
            let position = FIRST_TARGET_COLUMN + offset;
            let value = staged_value(*ty, slot(position)?)
                .map_err(|e| format!("column \"{}\": {e}", self.names[position]))?;
            values.push(value);
        }
        Ok(StagedLine { op, ts, values })
    }
}

impl LineDecoder {
    /// The position of the staged column `name`. The stage writes every line's columns in
    /// staged order, so `expected` (the position after the previous column) is tried first;
    /// the lookup by name serves lines written in any other order.
    fn position(&self, name: &str, expected: usize) -> Option<usize> {
        if self.names.get(expected).is_some_and(|staged| staged == name) {
            return Some(expected);
        }
        self.index.get(name).copied()
    }
}

fn read_op(raw: JsonText<'_>) -> Result<Op, String> {
    // Spelled as the stage writes it, or any other way serde_json reads as the same string.
    let op = match raw.get().strip_prefix('"').and_then(|text| text.strip_suffix('"')) {
        Some(plain) if plain == OP_UPSERT || plain == OP_DELETE => Some(Cow::Borrowed(plain)),
        _ => serde_json::from_str::<Cow<'_, str>>(raw.get()).ok(),
    };
    match op.as_deref() {
        Some(OP_UPSERT) => Ok(Op::Upsert),
        Some(OP_DELETE) => Ok(Op::Delete),
        _ => Err(format!(
            "column \"{OP_COLUMN}\" must be \"{OP_UPSERT}\" or \"{OP_DELETE}\", found {}",
            raw.get()
        )),
    }
}

/// A JSON object key, borrowed from the line unless it holds escapes.
struct FieldName<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for FieldName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl<'de> Visitor<'de> for NameVisitor {
            type Value = FieldName<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a column name")
            }
            fn visit_borrowed_str<E: de::Error>(self, name: &'de str) -> Result<Self::Value, E> {
                Ok(FieldName(Cow::Borrowed(name)))
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
                Ok(FieldName(Cow::Owned(name.to_owned())))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// Reads a line's object into one raw-value slot per staged column.
struct FieldsSeed<'d> {
    decoder: &'d LineDecoder,
}

impl<'de> DeserializeSeed<'de> for FieldsSeed<'_> {
    type Value = Vec<Option<&'de RawValue>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed<'_> {
    type Value = Vec<Option<&'de RawValue>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of staged columns")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut slots = vec![None; self.decoder.names.len()];
        let mut next = 0;
        while let Some(FieldName(name)) = map.next_key()? {
            let Some(position) = self.decoder.position(&name, next) else {
                return Err(de::Error::custom(format!(
                    "column \"{name}\" is not a staged column of this table; the file was staged for \
                     another column spec"
                )));
            };
            if slots[position].is_some() {
                return Err(de::Error::custom(format!("column \"{name}\" appears twice")));
            }
            slots[position] = Some(map.next_value::<&'de RawValue>()?);
            next = position + 1;
        }
        Ok(slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::testkit;

    fn decoder() -> LineDecoder {
        LineDecoder::new(&TableShape::of(&testkit::customers_table()))
    }

    fn text(s: &str) -> StagedValue<'_> {
        StagedValue::Text(s.into())
    }

    #[test]
    fn decodes_an_upsert_in_staged_order_whatever_the_key_order() {
        let line = r#"{"visits":3,"name":"Zoë","dynashift_ts":1714557600000000,"customer_id":"C1",
            "active":true,"signup_date":"2024-01-02","last_seen":null,"dynashift_op":"U"}"#;
        let row = decoder().decode(line).unwrap();
        assert_eq!((row.op, row.ts), (Op::Upsert, Some(1_714_557_600_000_000)));
        assert_eq!(
            row.values,
            [
                text("C1"),
                text("Zoë"),
                StagedValue::Integer(3),
                StagedValue::Boolean(true),
                text("2024-01-02"),
                StagedValue::Null
            ]
        );
    }

    /// Lines in the stage's form, with values of every kind the scanner reads itself or hands to
    /// serde_json, take the scanner and decode as any line does; lines a little off that form
    /// decode the same without it.
    #[test]
    fn the_scanner_decodes_what_serde_json_decodes() {
        let table = testkit::customers_table();
        let decoder = decoder();
        let names = ["\"C1\"", "\"Zo\\u00eb \\\"Z\\\"\"", "\"\"", "null"];
        let visits = ["3", "-9223372036854775808", "null"];
        for (name, visits) in names.iter().flat_map(|n| visits.iter().map(move |v| (n, v))) {
            let fields = [
                ("customer_id", "\"C\\u00e9\""),
                ("name", name),
                ("visits", visits),
                ("active", "true"),
                ("last_seen", "\"2024-05-01 12:00:00.000000+00\""),
            ];
            let line = testkit::line(&table, "U", &fields);
            let spaced = line.replace("null", "null ");
            for (line, as_staged) in [(line.clone(), true), (format!("{line}\n"), true), (spaced, false)] {
                let any = decoder.decode_any(&line).unwrap();
                let scanned = decoder.decode_as_staged(&line);
                assert_eq!(scanned.as_ref(), as_staged.then_some(&any), "{line}");
                assert_eq!(decoder.decode(&line), Ok(any), "{line}");
            }
        }
        let wrong = testkit::line(&table, "U", &[("customer_id", "\"C1\""), ("visits", "1.5")]);
        assert_eq!(decoder.decode_as_staged(&wrong), None, "a value that does not fit");
        assert!(decoder.decode(&wrong).unwrap_err().contains("column \"visits\": expected a JSON integer"));
    }

    #[test]
    fn decodes_a_delete() {
        let table = testkit::customers_table();
        let line = testkit::line(&table, "D", &[("customer_id", "\"C\\\"1\"")]);
        let decoder = decoder();
        let row = decoder.decode(&line).unwrap();
        assert_eq!((row.op, row.ts), (Op::Delete, None));
        assert_eq!(row.values[0], text("C\"1"));
    }

    #[test]
    fn keys_with_escapes_are_still_matched() {
        let table = testkit::customers_table();
        let line =
            testkit::line(&table, "U", &[("customer_id", "\"C1\"")]).replace("\"name\"", "\"n\\u0061me\"");
        assert!(decoder().decode(&line).is_ok(), "{line}");
    }

    #[test]
    fn rejects_lines_that_do_not_match_the_staged_columns() {
        let table = testkit::customers_table();
        let full = testkit::line(&table, "U", &[("customer_id", "\"C1\"")]);
        let cases = [
            (full.replace("\"name\":null,", ""), "column \"name\" is missing"),
            (full.replace("\"name\"", "\"nickname\""), "column \"nickname\" is not a staged column"),
            (full.replace("\"name\":null", "\"name\":null,\"name\":null"), "column \"name\" appears twice"),
            (full.replace("\"U\"", "\"X\""), "must be \"U\" or \"D\", found \"X\""),
            (
                full.replace("\"visits\":null", "\"visits\":\"3\""),
                "column \"visits\": expected a JSON integer",
            ),
            (
                full.replace("\"dynashift_ts\":null", "\"dynashift_ts\":1.5"),
                "column \"dynashift_ts\": expected a JSON integer",
            ),
            (format!("{full} {{}}"), "trailing characters"),
            ("[1]".to_owned(), "expected a JSON object of staged columns"),
        ];
        for (line, expected) in cases {
            let err = decoder().decode(&line).unwrap_err();
            assert!(err.contains(expected), "{line}\n→ {err}");
        }
    }
}
