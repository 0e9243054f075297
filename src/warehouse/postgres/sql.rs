//! The SQL text of each load statement. Every identifier goes through [`quote_identifier`] and
//! every literal through [`quote_literal`], so no configured name or value can change a
//! statement's meaning.

pub use crate::config::quote_identifier_list as column_list;
use crate::config::{ColumnType, quote_identifier};
use crate::contract::staged::{OP_COLUMN, TS_COLUMN};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::warehouse::history::{self, HistorySql};
use crate::warehouse::shape::{TableShape, TargetColumn};
use crate::warehouse::soft_deletes::{self, TimeSql};
use crate::warehouse::staged_lines::{OP_DELETE, OP_UPSERT};

use super::names::{STAGE_TABLE, qualified_stage};

/// The PostgreSQL type of a column. `super` becomes `jsonb`: any JSON value, numbers kept
/// exactly (jsonb stores them as `numeric`). `varchar(n)` counts characters in PostgreSQL and
/// bytes in the staged format, so every staged value fits (`varchar(max)` is `varchar(65535)`).
pub fn postgres_type(ty: ColumnType) -> String {
    match ty {
        ColumnType::Varchar(n) => format!("varchar({n})"),
        ColumnType::SmallInt => "smallint".into(),
        ColumnType::Integer => "integer".into(),
        ColumnType::BigInt => "bigint".into(),
        ColumnType::Decimal { precision, scale } => format!("numeric({precision},{scale})"),
        ColumnType::Double => "double precision".into(),
        ColumnType::Boolean => "boolean".into(),
        ColumnType::Timestamp => "timestamp".into(),
        ColumnType::TimestampTz => "timestamptz".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Super => "jsonb".into(),
    }
}

/// How PostgreSQL writes soft deletes' times: `timestamptz`, exact to the microsecond.
pub struct PostgresTime;

impl TimeSql for PostgresTime {
    fn column_type(&self) -> &'static str {
        "timestamptz"
    }

    /// Interval arithmetic, which is exact (`to_timestamp` goes through a double).
    fn instant_of_micros(&self, micros: &str) -> String {
        format!("(timestamptz 'epoch' + {micros} * interval '1 microsecond')")
    }

    fn literal(&self, at: DateTime<Utc>) -> String {
        format!("timestamptz {}", quote_literal(&at.to_rfc3339_opts(SecondsFormat::Micros, true)))
    }
}

/// `jsonb_build_object` takes at most 100 arguments (PostgreSQL's FUNC_MAX_ARGS, "Function
/// arguments", PostgreSQL docs "Appendix K. PostgreSQL Limits"): a wider image is built in
/// parts of this many pairs joined by `||` (jsonb concatenation).
const IMAGE_PAIRS_PER_CALL: usize = 50;

/// How PostgreSQL writes a history table: the target's types, a `jsonb` image from
/// `jsonb_build_object` (each value as `to_jsonb` renders its type).
impl HistorySql for PostgresTime {
    fn key_type(&self, ty: ColumnType) -> String {
        postgres_type(ty)
    }

    fn text_type(&self) -> &'static str {
        "text"
    }

    fn image_type(&self) -> &'static str {
        "jsonb"
    }

    fn text_literal(&self, text: &str) -> String {
        quote_literal(text)
    }

    fn image(&self, columns: &[TargetColumn]) -> String {
        let parts: Vec<String> = columns
            .chunks(IMAGE_PAIRS_PER_CALL)
            .map(|chunk| {
                let pairs =
                    chunk.iter().map(|c| format!("{}, {}", quote_literal(&c.name), history::staged(c)));
                format!("jsonb_build_object({})", pairs.collect::<Vec<_>>().join(", "))
            })
            .collect();
        match parts.as_slice() {
            [] => "jsonb_build_object()".into(),
            [one] => one.clone(),
            _ => format!("({})", parts.join(" || ")),
        }
    }
}

/// The names of `table`'s (quoted) columns, comma-separated; NULL when it does not exist.
pub fn column_names(table: &str) -> String {
    format!(
        "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = to_regclass({}) AND attnum > 0 AND NOT attisdropped",
        quote_literal(table)
    )
}

/// Whether the target (quoted) has the column `name` (one boolean).
pub fn column_exists(table: &str, name: &str) -> String {
    format!(
        "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass({}) AND attname = {} AND NOT attisdropped)",
        quote_literal(table),
        quote_literal(name)
    )
}

/// A SQL string literal: `'text'` with every `'` doubled. Text holding a backslash is written
/// as an escape string (`E'…'`, backslashes doubled), which reads the same whatever the
/// server's `standard_conforming_strings`.
pub fn quote_literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if text.contains('\\') { format!("E'{}'", quoted.replace('\\', "\\\\")) } else { format!("'{quoted}'") }
}

pub fn column_definition(column: &TargetColumn) -> String {
    crate::warehouse::target_columns::column_definition(column, &postgres_type(column.ty))
}

fn key_list(shape: &TableShape) -> String {
    column_list(shape.key.iter().map(String::as_str))
}

/// `CREATE TABLE`, one column per line, primary key = the key columns in key order, under the
/// constraint name `primary_key` (unquoted). `table` is already quoted.
pub fn create_table(table: &str, shape: &TableShape, primary_key: &str, if_missing: bool) -> String {
    let if_not_exists = if if_missing { "IF NOT EXISTS " } else { "" };
    let mut lines: Vec<String> = shape.columns.iter().map(column_definition).collect();
    if shape.soft_deletes {
        lines.push(soft_deletes::column_definition(&PostgresTime));
    }
    lines.push(format!("CONSTRAINT {} PRIMARY KEY ({})", quote_identifier(primary_key), key_list(shape)));
    format!("CREATE TABLE {if_not_exists}{table} (\n  {}\n)", lines.join(",\n  "))
}

/// The session-private table staged files are copied into, dropped at COMMIT. Its primary key
/// makes a staged set that repeats a key (which the stage step must never write) fail the COPY
/// instead of being applied in an arbitrary order.
pub fn create_stage(shape: &TableShape) -> String {
    let op = quote_identifier(OP_COLUMN);
    let mut lines = vec![
        format!("{op} char(1) NOT NULL CHECK ({op} IN ('{OP_UPSERT}', '{OP_DELETE}'))"),
        format!("{} bigint", quote_identifier(TS_COLUMN)),
    ];
    lines.extend(shape.columns.iter().map(column_definition));
    lines.push(format!("PRIMARY KEY ({})", key_list(shape)));
    format!(
        "CREATE TEMP TABLE {} (\n  {}\n) ON COMMIT DROP",
        quote_identifier(STAGE_TABLE),
        lines.join(",\n  ")
    )
}

/// The COPY the staged rows are streamed into, in staged column order (text format).
pub fn copy_into_stage(shape: &TableShape) -> String {
    let names = shape.staged_column_names();
    format!(
        "COPY {} ({}) FROM STDIN (FORMAT text)",
        qualified_stage(),
        column_list(names.iter().map(String::as_str))
    )
}

/// `t."k1" = s."k1" AND t."k2" = s."k2"`.
fn key_match(shape: &TableShape) -> String {
    shape
        .key
        .iter()
        .map(|k| {
            let k = quote_identifier(k);
            format!("t.{k} = s.{k}")
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn op_is(op: &str) -> String {
    format!("{} = '{op}'", quote_identifier(OP_COLUMN))
}

/// Deletes every target row whose key is staged with op `D`.
pub fn delete_staged_deletes(target: &str, shape: &TableShape) -> String {
    format!(
        "DELETE FROM {target} AS t\nUSING {} AS s\nWHERE s.{} AND {}",
        qualified_stage(),
        op_is(OP_DELETE),
        key_match(shape)
    )
}

/// Merges every row staged with op `U`: overwrites every non-key column where the key exists,
/// inserts it otherwise. The stage holds each key once (its primary key), so no target row is
/// matched twice.
pub fn merge_staged_upserts(target: &str, shape: &TableShape) -> String {
    let columns = column_list(shape.column_names());
    let source = format!("SELECT {columns} FROM {} WHERE {}", qualified_stage(), op_is(OP_UPSERT));
    let mut sql = format!("MERGE INTO {target} AS t\nUSING ({source}) AS s\nON {}", key_match(shape));
    let assignments: Vec<String> = shape
        .non_key_columns()
        .map(|c| {
            let column = quote_identifier(&c.name);
            format!("{column} = s.{column}")
        })
        .collect();
    if !assignments.is_empty() {
        sql.push_str(&format!("\nWHEN MATCHED THEN UPDATE SET\n  {}", assignments.join(",\n  ")));
    }
    let values: Vec<String> = shape.column_names().map(|c| format!("s.{}", quote_identifier(c))).collect();
    sql.push_str(&format!("\nWHEN NOT MATCHED THEN INSERT ({columns})\n  VALUES ({})", values.join(", ")));
    sql
}

/// Inserts every row staged with op `U` into `table` (quoted).
pub fn insert_staged_rows(table: &str, shape: &TableShape) -> String {
    let columns = column_list(shape.column_names());
    format!(
        "INSERT INTO {table} ({columns})\nSELECT {columns} FROM {} WHERE {}",
        qualified_stage(),
        op_is(OP_UPSERT)
    )
}

pub fn drop_table_if_exists(table: &str) -> String {
    format!("DROP TABLE IF EXISTS {table}")
}

/// Renames `table` (quoted, qualified) to `new_name` (unquoted, same schema).
pub fn rename_table(table: &str, new_name: &str) -> String {
    format!("ALTER TABLE {table} RENAME TO {}", quote_identifier(new_name))
}

pub fn rename_constraint(table: &str, from: &str, to: &str) -> String {
    format!("ALTER TABLE {table} RENAME CONSTRAINT {} TO {}", quote_identifier(from), quote_identifier(to))
}

pub fn create_schema(schema: &str) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS {}", quote_identifier(schema))
}

/// Whether a schema exists (one boolean).
pub fn schema_exists(schema: &str) -> String {
    format!("SELECT to_regnamespace({}) IS NOT NULL", quote_literal(&quote_identifier(schema)))
}

/// Whether a table exists (one boolean); `table` is quoted (and qualified when it has a
/// schema, else found through the search_path, as the statements that use it are).
pub fn table_exists(table: &str) -> String {
    format!("SELECT to_regclass({}) IS NOT NULL", quote_literal(table))
}

/// The advisory-lock namespace of dynashift's locks (the first key of the two-key form).
const LOCK_NAMESPACE: &str = "dynashift";

/// Waits until no other load of `table_name` holds the lock, then holds it until the
/// transaction ends: loads of one table run one after the other, so the watermark a load checks
/// is still the committed one when it commits.
pub fn lock_table_loads(table_name: &str) -> String {
    format!(
        "SELECT pg_advisory_xact_lock(hashtext({}), hashtext({}))",
        quote_literal(LOCK_NAMESPACE),
        quote_literal(table_name)
    )
}

/// Serialises the creation of objects loads share (`dynashift_runs`, schemas): two sessions
/// creating the same missing table at once would otherwise fail one of them on a catalog
/// unique index, `IF NOT EXISTS` notwithstanding. One-key form: a lock space apart from
/// [`lock_table_loads`].
pub fn lock_shared_ddl() -> String {
    format!("SELECT pg_advisory_xact_lock(hashtext({}))", quote_literal("dynashift shared DDL"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::testkit;

    #[test]
    fn maps_every_column_type() {
        let cases = [
            ("varchar(64)", "varchar(64)"),
            ("varchar(max)", "varchar(65535)"),
            ("smallint", "smallint"),
            ("integer", "integer"),
            ("bigint", "bigint"),
            ("decimal(38,2)", "numeric(38,2)"),
            ("double precision", "double precision"),
            ("boolean", "boolean"),
            ("timestamp", "timestamp"),
            ("timestamptz", "timestamptz"),
            ("date", "date"),
            ("super", "jsonb"),
        ];
        for (ty, expected) in cases {
            assert_eq!(postgres_type(ty.parse().unwrap()), expected, "{ty}");
        }
    }

    #[test]
    fn literals_double_quotes_and_escape_backslashes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(r"a\'b"), r"E'a\\''b'");
    }

    #[test]
    fn a_key_only_table_merges_inserts_only() {
        let mut shape = TableShape::of(&testkit::customers_table());
        shape.columns.retain(|c| c.is_key);
        let sql = merge_staged_upserts("\"t\"", &shape);
        assert!(!sql.contains("WHEN MATCHED"), "{sql}");
        assert!(
            sql.ends_with("WHEN NOT MATCHED THEN INSERT (\"customer_id\")\n  VALUES (s.\"customer_id\")"),
            "{sql}"
        );
    }

    #[test]
    fn the_copy_names_every_staged_column_in_order() {
        let shape = TableShape::of(&testkit::customers_table());
        let sql = copy_into_stage(&shape);
        let expected = column_list(shape.staged_column_names().iter().map(String::as_str));
        assert_eq!(sql, format!("COPY pg_temp.\"dynashift_stage\" ({expected}) FROM STDIN (FORMAT text)"));
    }
}
