//! Result sets in GetStatementResult's shape: `Records` of `Field`s and `ColumnMetadata`.
//!
//! Values are read as PostgreSQL's text (simple query protocol, session TimeZone UTC, ISO
//! dates), and the column types come from preparing the statement. Field kinds:
//!
//! | PostgreSQL type            | Field                                                       |
//! |----------------------------|-------------------------------------------------------------|
//! | NULL                       | `{"isNull": true}`                                          |
//! | bool                       | `{"booleanValue": …}`                                       |
//! | int2, int4, int8           | `{"longValue": …}`                                          |
//! | float4, float8             | `{"doubleValue": …}` (NaN and ±Infinity as `stringValue`)   |
//! | anything else              | `{"stringValue": "<text>"}`: numeric exact, timestamps `YYYY-MM-DD HH:MM:SS[.ffffff]` (timestamptz with `+00`), super as its JSON text |
//!
//! A domain counts as its base type; `typeName` is the type's name (`int8`, `varchar`, …), with
//! jsonb reported as `super`.

use serde_json::{Value, json};
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::types::{Kind, Type};

/// How a column's values become Fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Boolean,
    Long,
    Double,
    String,
}

impl FieldKind {
    pub fn of(ty: &Type) -> FieldKind {
        if let Kind::Domain(base) = ty.kind() {
            return FieldKind::of(base);
        }
        match *ty {
            Type::BOOL => FieldKind::Boolean,
            Type::INT2 | Type::INT4 | Type::INT8 => FieldKind::Long,
            Type::FLOAT4 | Type::FLOAT8 => FieldKind::Double,
            _ => FieldKind::String,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMeta {
    pub name: String,
    pub type_name: String,
    pub kind: FieldKind,
}

/// A statement's result set, kept until the stand-in stops.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<ColumnMeta>,
    /// Each row's Fields, in wire JSON.
    pub records: Vec<Vec<Value>>,
}

impl ResultSet {
    /// The rows of a simple query's answer, typed by the prepared statement's `columns`.
    pub fn from_messages(columns: &[tokio_postgres::Column], messages: &[SimpleQueryMessage]) -> ResultSet {
        let columns: Vec<ColumnMeta> = columns
            .iter()
            .map(|c| ColumnMeta {
                name: c.name().to_owned(),
                type_name: redshift_type_name(c.type_()).to_owned(),
                kind: FieldKind::of(c.type_()),
            })
            .collect();
        let records = messages
            .iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some(
                    columns.iter().enumerate().map(|(i, column)| field(column.kind, row.get(i))).collect(),
                ),
                _ => None,
            })
            .collect();
        ResultSet { columns, records }
    }

    /// GetStatementResult's answer: every row on one page (never a NextToken).
    pub fn to_wire(&self) -> Value {
        let metadata: Vec<Value> = self
            .columns
            .iter()
            .map(|c| json!({"name": c.name, "label": c.name, "typeName": c.type_name}))
            .collect();
        json!({"Records": self.records, "ColumnMetadata": metadata, "TotalNumRows": self.records.len()})
    }
}

/// The type's name as Redshift reports it. PostgreSQL describes a column of the `super`
/// domain by its base type, and the stand-in's only jsonb values are SUPER values.
fn redshift_type_name(ty: &Type) -> &str {
    match *ty {
        Type::JSONB => "super",
        _ => ty.name(),
    }
}

/// One value as a Field.
pub fn field(kind: FieldKind, text: Option<&str>) -> Value {
    let Some(text) = text else { return json!({"isNull": true}) };
    let typed = match kind {
        FieldKind::Boolean => Some(json!({"booleanValue": text == "t"})),
        FieldKind::Long => text.parse::<i64>().ok().map(|n| json!({"longValue": n})),
        FieldKind::Double => {
            text.parse::<f64>().ok().filter(|x| x.is_finite()).map(|x| json!({"doubleValue": x}))
        }
        FieldKind::String => None,
    };
    typed.unwrap_or_else(|| json!({"stringValue": text}))
}
