//! The SQL text of each load statement. Every identifier goes through
//! [`quote_identifier`] and every literal through
//! [`quote_literal`], so no configured name or value can change a statement's meaning.

use crate::config::{ColumnType, quote_identifier, quote_identifier_list as column_list};
use crate::contract::staged::{OP_COLUMN, TS_COLUMN};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::warehouse::history::{self, HistorySql};
use crate::warehouse::shape::{TableShape, TargetColumn};
use crate::warehouse::soft_deletes::{self, TimeSql};

use super::names::{STAGE_TABLE, qualified_stage};

pub use crate::warehouse::staged_lines::{OP_DELETE, OP_UPSERT};

/// The declared SQLite type of a column. Decimals are TEXT because SQLite has no exact decimal:
/// NUMERIC affinity would store `0.1` or a 38-digit value as a rounded 64-bit float. Booleans are
/// INTEGER 0/1, timestamps and dates ISO-8601 TEXT, super values JSON TEXT (usable with
/// SQLite's `->>` and `json_*` functions).
pub fn sqlite_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Varchar(_)
        | ColumnType::Decimal { .. }
        | ColumnType::Timestamp
        | ColumnType::TimestampTz
        | ColumnType::Date
        | ColumnType::Super => "TEXT",
        ColumnType::SmallInt | ColumnType::Integer | ColumnType::BigInt | ColumnType::Boolean => "INTEGER",
        ColumnType::Double => "REAL",
    }
}

/// How SQLite writes soft deletes' times: ISO-8601 UTC text with microseconds, the way
/// `timestamptz` columns are stored.
pub struct SqliteTime;

impl TimeSql for SqliteTime {
    fn column_type(&self) -> &'static str {
        "TEXT"
    }

    /// Whole seconds through `strftime` (`unixepoch`), the microseconds appended exactly.
    fn instant_of_micros(&self, micros: &str) -> String {
        format!(
            "strftime('%Y-%m-%dT%H:%M:%S', {micros} / 1000000, 'unixepoch') || printf('.%06dZ', {micros} % 1000000)"
        )
    }

    fn literal(&self, at: DateTime<Utc>) -> String {
        quote_literal(&at.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

/// How SQLite writes a history table: the target's types, JSON text built by `json_object`
/// (SQLite's JSON1, built in). A `super` column's JSON text goes in as JSON (`json(…)`), a
/// boolean's 0/1 as `false`/`true`; every other value as SQLite holds it (decimals and times are
/// text).
impl HistorySql for SqliteTime {
    fn key_type(&self, ty: ColumnType) -> String {
        sqlite_type(ty).to_owned()
    }

    fn text_type(&self) -> &'static str {
        "TEXT"
    }

    fn image_type(&self) -> &'static str {
        "TEXT"
    }

    fn text_literal(&self, text: &str) -> String {
        quote_literal(text)
    }

    fn image(&self, columns: &[TargetColumn]) -> String {
        let pairs = columns.iter().map(|c| {
            let value = history::staged(c);
            let value = match c.ty {
                ColumnType::Super => format!("json({value})"),
                ColumnType::Boolean => {
                    format!("CASE {value} WHEN 0 THEN json('false') WHEN 1 THEN json('true') END")
                }
                _ => value,
            };
            format!("{}, {value}", quote_literal(&c.name))
        });
        format!("json_object({})", pairs.collect::<Vec<_>>().join(", "))
    }
}

/// The names of `table`'s columns (unquoted name), comma-separated; NULL when it does not exist.
pub fn column_names(table: &str) -> String {
    format!("SELECT group_concat(name, ',') FROM pragma_table_info({})", quote_literal(table))
}

/// A SQL string literal: `'text'` with every `'` doubled.
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub fn column_definition(column: &TargetColumn) -> String {
    crate::warehouse::target_columns::column_definition(column, sqlite_type(column.ty))
}

/// `CREATE TABLE`, one column per line, primary key = the key columns in key order. `table` is
/// already quoted.
pub fn create_table(table: &str, shape: &TableShape, if_missing: bool) -> String {
    let if_not_exists = if if_missing { "IF NOT EXISTS " } else { "" };
    let mut lines: Vec<String> = shape.columns.iter().map(column_definition).collect();
    if shape.soft_deletes {
        lines.push(soft_deletes::column_definition(&SqliteTime));
    }
    lines.push(primary_key(shape));
    format!("CREATE TABLE {if_not_exists}{table} (\n  {}\n)", lines.join(",\n  "))
}

fn primary_key(shape: &TableShape) -> String {
    format!("PRIMARY KEY ({})", column_list(shape.key.iter().map(String::as_str)))
}

/// The connection-private table staged files are copied into. Its primary key makes a staged
/// set that repeats a key (which the stage step must never write) fail the COPY instead of
/// being applied in an arbitrary order.
pub fn create_stage(shape: &TableShape) -> String {
    let op = quote_identifier(OP_COLUMN);
    let mut lines = vec![
        format!("{op} TEXT NOT NULL CHECK ({op} IN ('{OP_UPSERT}', '{OP_DELETE}'))"),
        format!("{} INTEGER", quote_identifier(TS_COLUMN)),
    ];
    lines.extend(shape.columns.iter().map(column_definition));
    lines.push(primary_key(shape));
    format!("CREATE TEMP TABLE {} (\n  {}\n)", quote_identifier(STAGE_TABLE), lines.join(",\n  "))
}

/// The prepared INSERT the COPY runs once per staged row (`?1` … in staged column order).
pub fn insert_into_stage(shape: &TableShape) -> String {
    let names = shape.staged_column_names();
    let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        qualified_stage(),
        column_list(names.iter().map(String::as_str)),
        placeholders.join(", ")
    )
}

/// The prepared INSERT a full load's COPY runs once per staged upsert, straight into `table`
/// (quoted; the new table that replaces the target): `?1` … in the target's column order.
pub fn insert_target_columns(table: &str, shape: &TableShape) -> String {
    let placeholders: Vec<String> = (1..=shape.columns.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        column_list(shape.column_names()),
        placeholders.join(", ")
    )
}

/// `SELECT <columns> FROM stage WHERE op = '<op>'`.
fn staged_rows_with_op(columns: &str, op: &str) -> String {
    format!("SELECT {columns} FROM {} WHERE {} = '{op}'", qualified_stage(), quote_identifier(OP_COLUMN))
}

/// Deletes every target row whose key is staged with op `D`.
pub fn delete_staged_deletes(target: &str, shape: &TableShape) -> String {
    let key = column_list(shape.key.iter().map(String::as_str));
    format!("DELETE FROM {target}\nWHERE ({key}) IN ({})", staged_rows_with_op(&key, OP_DELETE))
}

/// Inserts every row staged with op `U`, overwriting every non-key column where the key exists.
pub fn upsert_staged_rows(target: &str, shape: &TableShape) -> String {
    let insert = insert_staged_rows(target, shape);
    let key = column_list(shape.key.iter().map(String::as_str));
    let assignments: Vec<String> = shape
        .non_key_columns()
        .map(|c| {
            let column = quote_identifier(&c.name);
            format!("{column} = excluded.{column}")
        })
        .collect();
    if assignments.is_empty() {
        return format!("{insert}\nON CONFLICT ({key}) DO NOTHING");
    }
    format!("{insert}\nON CONFLICT ({key}) DO UPDATE SET\n  {}", assignments.join(",\n  "))
}

/// Inserts every row staged with op `U` into `table` (quoted).
pub fn insert_staged_rows(table: &str, shape: &TableShape) -> String {
    let columns = column_list(shape.column_names());
    format!("INSERT INTO {table} ({columns})\n{}", staged_rows_with_op(&columns, OP_UPSERT))
}

/// Lets `ALTER TABLE … RENAME` leave views and triggers alone: since SQLite 3.26 a rename
/// re-checks every view, and a view on the target (dropped a statement earlier) would fail the
/// swap with "error in view …: no such table". With the legacy behaviour the view keeps naming
/// the target and reads the new table once it is renamed into place.
pub const KEEP_VIEWS_ACROSS_RENAME: &str = "PRAGMA legacy_alter_table = ON";

pub fn drop_table_if_exists(table: &str) -> String {
    format!("DROP TABLE IF EXISTS {table}")
}

pub fn drop_stage() -> String {
    format!("DROP TABLE {}", qualified_stage())
}

pub fn rename_table(from: &str, to: &str) -> String {
    format!("ALTER TABLE {from} RENAME TO {to}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::sqlite::testkit;

    #[test]
    fn maps_every_column_type() {
        let cases = [
            ("varchar(64)", "TEXT"),
            ("smallint", "INTEGER"),
            ("integer", "INTEGER"),
            ("bigint", "INTEGER"),
            ("decimal(38,2)", "TEXT"),
            ("double precision", "REAL"),
            ("boolean", "INTEGER"),
            ("timestamp", "TEXT"),
            ("timestamptz", "TEXT"),
            ("date", "TEXT"),
            ("super", "TEXT"),
        ];
        for (ty, expected) in cases {
            assert_eq!(sqlite_type(ty.parse().unwrap()), expected, "{ty}");
        }
    }

    #[test]
    fn literals_double_their_quotes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        for text in ["'; DROP TABLE x; --", "''", "Zoë \"🦀\""] {
            let back: String =
                conn.query_row(&format!("SELECT {}", quote_literal(text)), [], |r| r.get(0)).unwrap();
            assert_eq!(back, text);
        }
    }

    #[test]
    fn a_key_only_table_ignores_existing_keys() {
        let mut shape = TableShape::of(&testkit::customers_table());
        shape.columns.retain(|c| c.is_key);
        let sql = upsert_staged_rows("\"t\"", &shape);
        assert!(sql.ends_with("ON CONFLICT (\"customer_id\") DO NOTHING"), "{sql}");
    }

    #[test]
    fn the_new_table_insert_has_one_placeholder_per_target_column() {
        let shape = TableShape::of(&testkit::customers_table());
        let sql = insert_target_columns("\"t\"", &shape);
        assert!(sql.ends_with(&format!("VALUES (?1, ?2, ?3, ?4, ?5, ?{})", shape.columns.len())), "{sql}");
    }

    #[test]
    fn the_stage_insert_has_one_placeholder_per_staged_column() {
        let shape = TableShape::of(&testkit::customers_table());
        let sql = insert_into_stage(&shape);
        let count = shape.staged_column_names().len();
        assert!(sql.ends_with(&format!("?{count})")), "{sql}");
        assert!(!sql.contains(&format!("?{}", count + 1)), "{sql}");
    }
}
