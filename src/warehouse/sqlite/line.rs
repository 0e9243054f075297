//! One staged line (a JSON object of staged columns) → the values of one stage row.
//!
//! Values are borrowed from the line as raw JSON text (no `serde_json::Value`, so numbers are
//! never routed through `f64`) and converted by [`sqlite_value`]. A line must hold exactly the
//! staged columns: a missing, unknown or repeated column means the files were staged for
//! another column spec, and loading them would put values in the wrong columns.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use rusqlite::types::Value;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::config::ColumnType;
use crate::pipeline::staged::OP_COLUMN;

use super::shape::TableShape;
use super::sql::{OP_DELETE, OP_UPSERT};
use super::values::sqlite_value;

/// What a staged row does to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Upsert,
    Delete,
}

impl Op {
    /// The op as staged files and the stage table spell it.
    pub fn staged_text(self) -> &'static str {
        match self {
            Op::Upsert => OP_UPSERT,
            Op::Delete => OP_DELETE,
        }
    }
}

/// One decoded line: its op and its values in staged column order (op and timestamp first).
#[derive(Debug, Clone, PartialEq)]
pub struct StagedRow {
    pub op: Op,
    pub values: Vec<Value>,
}

/// How one staged column is read.
#[derive(Debug, Clone, Copy)]
enum Reading {
    Op,
    /// `WriteTimestampMicros`, or null in full loads.
    Timestamp,
    Column(ColumnType),
}

/// Decodes the lines of one table's staged files.
#[derive(Debug)]
pub struct LineDecoder {
    names: Vec<String>,
    readings: Vec<Reading>,
    index: HashMap<String, usize>,
}

impl LineDecoder {
    pub fn new(shape: &TableShape) -> LineDecoder {
        let names = shape.staged_column_names();
        let mut readings = vec![Reading::Op, Reading::Timestamp];
        readings.extend(shape.columns.iter().map(|c| Reading::Column(c.ty)));
        let index = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        LineDecoder { names, readings, index }
    }

    /// Decodes one line; the error says which column is wrong and how.
    pub fn decode(&self, line: &str) -> Result<StagedRow, String> {
        let mut json = serde_json::Deserializer::from_str(line);
        let slots = FieldsSeed { decoder: self }.deserialize(&mut json).map_err(|e| e.to_string())?;
        json.end().map_err(|e| e.to_string())?;
        let mut op = Op::Upsert;
        let mut values = Vec::with_capacity(slots.len());
        for (position, slot) in slots.into_iter().enumerate() {
            let name = &self.names[position];
            let raw = slot.ok_or_else(|| format!("column \"{name}\" is missing"))?;
            let ty = match self.readings[position] {
                Reading::Op => {
                    op = read_op(raw)?;
                    values.push(Value::Text(op.staged_text().to_owned()));
                    continue;
                }
                Reading::Timestamp => ColumnType::BigInt,
                Reading::Column(ty) => ty,
            };
            values.push(sqlite_value(ty, raw).map_err(|e| format!("column \"{name}\": {e}"))?);
        }
        Ok(StagedRow { op, values })
    }
}

fn raw_string(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

fn read_op(raw: &RawValue) -> Result<Op, String> {
    match raw_string(raw).as_deref() {
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
        while let Some(FieldName(name)) = map.next_key()? {
            let Some(&position) = self.decoder.index.get(name.as_ref()) else {
                return Err(de::Error::custom(format!(
                    "column \"{name}\" is not a staged column of this table; the file was staged for \
                     another column spec"
                )));
            };
            if slots[position].is_some() {
                return Err(de::Error::custom(format!("column \"{name}\" appears twice")));
            }
            slots[position] = Some(map.next_value::<&'de RawValue>()?);
        }
        Ok(slots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::sqlite::testkit;

    fn decoder() -> LineDecoder {
        LineDecoder::new(&TableShape::of(&testkit::customers_table()))
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn decodes_an_upsert_in_staged_order_whatever_the_key_order() {
        let line = r#"{"visits":3,"name":"Zoë","dynashift_ts":1714557600000000,"customer_id":"C1",
            "active":true,"signup_date":"2024-01-02","last_seen":null,"dynashift_op":"U"}"#;
        let row = decoder().decode(line).unwrap();
        assert_eq!(row.op, Op::Upsert);
        assert_eq!(
            row.values,
            [
                text("U"),
                Value::Integer(1_714_557_600_000_000),
                text("C1"),
                text("Zoë"),
                Value::Integer(3),
                Value::Integer(1),
                text("2024-01-02"),
                Value::Null
            ]
        );
    }

    #[test]
    fn decodes_a_delete() {
        let table = testkit::customers_table();
        let row = decoder().decode(&testkit::line(&table, "D", &[("customer_id", "\"C\\\"1\"")])).unwrap();
        assert_eq!(row.op, Op::Delete);
        assert_eq!(row.values[2], text("C\"1"));
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
            (format!("{full} {{}}"), "trailing characters"),
            ("[1]".to_owned(), "expected a JSON object of staged columns"),
        ];
        for (line, expected) in cases {
            let err = decoder().decode(&line).unwrap_err();
            assert!(err.contains(expected), "{line}\n→ {err}");
        }
    }
}
