//! One decoded staged line → the values of one stage row, as the prepared INSERT binds them:
//! op, timestamp, then the target's columns (the staged column order).

use rusqlite::types::Value;

use crate::warehouse::staged_lines::{Op, StagedLine};

use super::values::stored_value;

/// One stage row: its op and its values in staged column order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct StagedRow {
    pub op: Op,
    pub values: Vec<Value>,
}

impl StagedRow {
    pub(super) fn of(line: StagedLine<'_>) -> StagedRow {
        let mut values = Vec::with_capacity(line.values.len() + 2);
        values.push(Value::Text(line.op.staged_text().to_owned()));
        values.push(line.ts.map_or(Value::Null, Value::Integer));
        values.extend(line.values.into_iter().map(stored_value));
        StagedRow { op: line.op, values }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::shape::TableShape;
    use crate::warehouse::staged_lines::LineDecoder;
    use crate::warehouse::testkit;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn binds_op_timestamp_then_columns_in_staged_order() {
        let decoder = LineDecoder::new(&TableShape::of(&testkit::customers_table()));
        let line = r#"{"visits":3,"name":"Zoë","dynashift_ts":1714557600000000,"customer_id":"C1",
            "active":true,"signup_date":"2024-01-02","last_seen":null,"dynashift_op":"U"}"#;
        let row = StagedRow::of(decoder.decode(line).unwrap());
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
    fn a_delete_has_a_null_timestamp_in_full_loads() {
        let table = testkit::customers_table();
        let decoder = LineDecoder::new(&TableShape::of(&table));
        let line = testkit::line(&table, "D", &[("customer_id", "\"C1\"")]);
        let row = StagedRow::of(decoder.decode(&line).unwrap());
        assert_eq!(row.values[..3], [text("D"), Value::Null, text("C1")]);
    }
}
