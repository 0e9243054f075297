//! One decoded staged line → the values the COPY's prepared INSERT binds for it, as
//! [`Bound`] says: op, timestamp, then the target's columns (the staged column order) into the
//! stage table, or the target's columns alone into a full load's new table.

use rusqlite::types::Value;

use crate::warehouse::shape::TableShape;
use crate::warehouse::staged_lines::StagedLine;

use super::values::stored_value;

/// Which rows a COPY's INSERT takes and which of their values it binds (`?1`, `?2`, … in this
/// order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bound {
    /// Every row, as op, timestamp, then the target's columns: the stage table.
    StagedColumns,
    /// The upserts only, as the target's columns: a full load's new table, which the COPY fills
    /// without a stage (deletes are read, checked and counted all the same).
    TargetColumns,
}

impl Bound {
    /// How many values one row binds.
    pub(super) fn values_per_row(self, shape: &TableShape) -> usize {
        match self {
            Bound::StagedColumns => shape.columns.len() + 2,
            Bound::TargetColumns => shape.columns.len(),
        }
    }
}

/// Appends the values `bound` binds for `line` to `values`.
pub(super) fn push_row(line: StagedLine<'_>, bound: Bound, values: &mut Vec<Value>) {
    if bound == Bound::StagedColumns {
        values.push(Value::Text(line.op.staged_text().to_owned()));
        values.push(line.ts.map_or(Value::Null, Value::Integer));
    }
    values.extend(line.values.into_iter().map(stored_value));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::staged_lines::LineDecoder;
    use crate::warehouse::testkit;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn bound_values(bound: Bound, line: &str) -> Vec<Value> {
        let shape = TableShape::of(&testkit::customers_table());
        let decoder = LineDecoder::new(&shape);
        let mut values = vec![text("earlier row")];
        push_row(decoder.decode(line).unwrap(), bound, &mut values);
        assert_eq!(values.len(), 1 + bound.values_per_row(&shape));
        values.split_off(1)
    }

    const UPSERT: &str = r#"{"visits":3,"name":"Zoë","dynashift_ts":1714557600000000,"customer_id":"C1",
            "active":true,"signup_date":"2024-01-02","last_seen":null,"dynashift_op":"U"}"#;

    #[test]
    fn binds_op_timestamp_then_columns_in_staged_order() {
        assert_eq!(
            bound_values(Bound::StagedColumns, UPSERT),
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
    fn a_new_table_binds_the_target_columns_only() {
        assert_eq!(
            bound_values(Bound::TargetColumns, UPSERT),
            [text("C1"), text("Zoë"), Value::Integer(3), Value::Integer(1), text("2024-01-02"), Value::Null]
        );
    }

    #[test]
    fn a_delete_has_a_null_timestamp_in_full_loads() {
        let table = testkit::customers_table();
        let line = testkit::line(&table, "D", &[("customer_id", "\"C1\"")]);
        assert_eq!(bound_values(Bound::StagedColumns, &line)[..3], [text("D"), Value::Null, text("C1")]);
    }
}
