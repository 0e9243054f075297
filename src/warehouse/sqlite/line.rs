//! One decoded staged line → the values the COPY's prepared INSERT binds for it, as
//! [`Bound`] says: op, timestamp, then the target's columns (the staged column order) into the
//! stage table, or the target's columns alone into a full load's new table.

use rusqlite::types::ValueRef;

use crate::warehouse::shape::TableShape;
use crate::warehouse::staged_lines::StagedLine;

use super::values::stored_value_ref;

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

/// The bound values of decoded rows, back to back, every text in one shared buffer.
///
/// Rows cross from the COPY's reading thread to its inserting thread. As one `String` per text
/// value, every value was allocated on one thread and freed on the other, which glibc's
/// allocator does slowly (a lock on the other thread's arena, and no thread cache): a sixth of a
/// 200k-row SQLite sync's CPU went to `malloc` and `free`. Here a batch of rows is a few buffers,
/// reused batch after batch.
#[derive(Debug, Default)]
pub(super) struct BoundValues {
    /// The text values' bytes (each one valid UTF-8, copied from a `&str`).
    text: Vec<u8>,
    values: Vec<Bind>,
}

/// One bound value; a text is a range of [`BoundValues::text`].
#[derive(Debug, Clone, Copy)]
enum Bind {
    Null,
    Integer(i64),
    Real(f64),
    Text { start: usize, end: usize },
}

impl BoundValues {
    /// Appends the values `bound` binds for `line`.
    pub(super) fn push_row(&mut self, line: StagedLine<'_>, bound: Bound) {
        if bound == Bound::StagedColumns {
            self.push(ValueRef::Text(line.op.staged_text().as_bytes()));
            self.push(line.ts.map_or(ValueRef::Null, ValueRef::Integer));
        }
        for value in &line.values {
            self.push(stored_value_ref(value));
        }
    }

    fn push(&mut self, value: ValueRef<'_>) {
        let bind = match value {
            ValueRef::Null => Bind::Null,
            ValueRef::Integer(n) => Bind::Integer(n),
            ValueRef::Real(x) => Bind::Real(x),
            // Staged values are never blobs; both are bytes to copy.
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
                let start = self.text.len();
                self.text.extend_from_slice(bytes);
                Bind::Text { start, end: self.text.len() }
            }
        };
        self.values.push(bind);
    }

    /// Each row's values, `per_row` at a time, in the order they were pushed.
    pub(super) fn rows(&self, per_row: usize) -> impl Iterator<Item = impl Iterator<Item = ValueRef<'_>>> {
        self.values.chunks_exact(per_row.max(1)).map(|row| row.iter().map(|bind| self.value(*bind)))
    }

    fn value(&self, bind: Bind) -> ValueRef<'_> {
        match bind {
            Bind::Null => ValueRef::Null,
            Bind::Integer(n) => ValueRef::Integer(n),
            Bind::Real(x) => ValueRef::Real(x),
            Bind::Text { start, end } => ValueRef::Text(&self.text[start..end]),
        }
    }

    /// Empties the buffers, keeping their capacity.
    pub(super) fn clear(&mut self) {
        self.text.clear();
        self.values.clear();
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::types::Value;

    use super::*;
    use crate::warehouse::staged_lines::LineDecoder;
    use crate::warehouse::testkit;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    /// The values `bound` binds for `line`, pushed after an earlier row (whose text must not
    /// leak into this one's).
    fn bound_values(bound: Bound, line: &str) -> Vec<Value> {
        let shape = TableShape::of(&testkit::customers_table());
        let decoder = LineDecoder::new(&shape);
        let mut values = BoundValues::default();
        values.push_row(decoder.decode(UPSERT).unwrap(), bound);
        values.push_row(decoder.decode(line).unwrap(), bound);
        let rows: Vec<Vec<Value>> = values
            .rows(bound.values_per_row(&shape))
            .map(|row| row.map(|v| Value::try_from(v).unwrap()).collect())
            .collect();
        assert_eq!(rows.len(), 2);
        rows[1].clone()
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
    fn cleared_values_hold_no_rows() {
        let shape = TableShape::of(&testkit::customers_table());
        let mut values = BoundValues::default();
        values.push_row(LineDecoder::new(&shape).decode(UPSERT).unwrap(), Bound::TargetColumns);
        values.clear();
        assert_eq!(values.rows(shape.columns.len()).count(), 0);
        assert!(values.text.is_empty());
    }

    #[test]
    fn a_delete_has_a_null_timestamp_in_full_loads() {
        let table = testkit::customers_table();
        let line = testkit::line(&table, "D", &[("customer_id", "\"C1\"")]);
        assert_eq!(bound_values(Bound::StagedColumns, &line)[..3], [text("D"), Value::Null, text("C1")]);
    }
}
