//! The SQL text of each Redshift load statement. Every identifier goes through
//! [`quote_identifier`] and every value through [`literal`]; the only secret-like value, the COPY
//! role, is an ARN (never an access key), so no statement ever carries a credential.
//!
//! Redshift's rules shape the statements (aws-facts §4–§5):
//! - MERGE takes one `WHEN MATCHED` and one `WHEN NOT MATCHED`, no extra conditions, no target
//!   alias, and fails on duplicate source keys: the stage holds each key once (the stage step
//!   folds), deletes are applied by `DELETE … USING` first and then removed from the stage, so
//!   the MERGE sees only upserts.
//! - TRUNCATE commits the transaction, so a full load deletes and inserts instead.
//! - Temp tables live only in the batch's session; the batch is one transaction.
//!
//! The same text runs on the test stand-in's PostgreSQL 15, so the statements keep to what both
//! accept (`varchar(65535)` rather than `varchar(max)`, `GETDATE()` defined there).

pub use crate::config::quote_identifier_list as column_list;
use crate::config::{ColumnType, TargetTable, quote_identifier};
use crate::contract::staged::{OP_COLUMN, TS_COLUMN};
use chrono::{DateTime, SecondsFormat, Utc};

use crate::warehouse::history::{self, HistorySql};
use crate::warehouse::shape::{TableShape, TargetColumn};
use crate::warehouse::soft_deletes::{self, TimeSql};
use crate::warehouse::staged_lines::{OP_DELETE, OP_UPSERT};

/// The session-private table the staged files are copied into.
pub const STAGE_TABLE: &str = "dynashift_stage";

/// The Redshift type of a column; `super` holds maps, lists, sets and the whole item.
pub fn redshift_type(ty: ColumnType) -> String {
    match ty {
        ColumnType::Varchar(n) => format!("varchar({n})"),
        ColumnType::SmallInt => "smallint".into(),
        ColumnType::Integer => "integer".into(),
        ColumnType::BigInt => "bigint".into(),
        ColumnType::Decimal { precision, scale } => format!("decimal({precision},{scale})"),
        ColumnType::Double => "double precision".into(),
        ColumnType::Boolean => "boolean".into(),
        ColumnType::Timestamp => "timestamp".into(),
        ColumnType::TimestampTz => "timestamptz".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Super => "super".into(),
    }
}

/// A SQL string literal: `'text'` with every `'` doubled. Values holding a backslash or a
/// control character are refused before any statement is built ([`unsafe_literal`]), because
/// Redshift and PostgreSQL disagree on backslash escapes.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Why `text` cannot be written as a literal both dialects read the same; `None` when it can.
pub fn unsafe_literal(text: &str) -> Option<&'static str> {
    if text.contains('\\') {
        Some("holds a backslash")
    } else if text.chars().any(char::is_control) {
        Some("holds a control character")
    } else {
        None
    }
}

/// `"schema"."table"` or `"table"`.
pub fn quoted_target(target: &TargetTable) -> String {
    match &target.schema {
        Some(schema) => format!("{}.{}", quote_identifier(schema), quote_identifier(&target.table)),
        None => quote_identifier(&target.table),
    }
}

pub fn column_definition(column: &TargetColumn) -> String {
    crate::warehouse::target_columns::column_definition(column, &redshift_type(column.ty))
}

fn key_list(shape: &TableShape) -> String {
    column_list(shape.key.iter().map(String::as_str))
}

/// The target, created when missing: the primary key (informational in Redshift) is the
/// DynamoDB key, distributed on the partition key so a MERGE joins on one slice, and sorted by
/// the whole key.
pub fn create_target(target: &str, shape: &TableShape) -> String {
    let mut lines: Vec<String> = shape.columns.iter().map(column_definition).collect();
    if shape.soft_deletes {
        lines.push(soft_deletes::column_definition(&RedshiftTime));
    }
    lines.push(format!("PRIMARY KEY ({})", key_list(shape)));
    let distkey = shape.key.first().map(|k| quote_identifier(k)).unwrap_or_default();
    format!(
        "CREATE TABLE IF NOT EXISTS {target} (\n  {}\n)\nDISTSTYLE KEY DISTKEY ({distkey})\nCOMPOUND SORTKEY ({})",
        lines.join(",\n  "),
        key_list(shape)
    )
}

/// How Redshift writes soft deletes' times: `timestamptz`, from the epoch by interval arithmetic
/// ("Datetime types" and "Interval literals", Redshift Database Developer Guide: an interval may
/// be given in microseconds, and a number times an interval is an interval).
pub struct RedshiftTime;

impl TimeSql for RedshiftTime {
    fn column_type(&self) -> &'static str {
        "timestamptz"
    }

    fn instant_of_micros(&self, micros: &str) -> String {
        format!("(TIMESTAMPTZ 'epoch' + {micros} * INTERVAL '1 microsecond')")
    }

    fn literal(&self, at: DateTime<Utc>) -> String {
        format!("CAST({} AS timestamptz)", literal(&at.to_rfc3339_opts(SecondsFormat::Micros, true)))
    }
}

/// How Redshift writes a history table: the target's types, a `SUPER` image from `OBJECT`
/// ("OBJECT function", Redshift Database Developer Guide: keys are VARCHAR expressions, values
/// any type except the datetime types, which Redshift does not cast to SUPER — so those go in as
/// their VARCHAR text).
impl HistorySql for RedshiftTime {
    fn key_type(&self, ty: ColumnType) -> String {
        redshift_type(ty)
    }

    /// `run_id` as `dynashift_runs` keeps it.
    fn text_type(&self) -> &'static str {
        "varchar(128)"
    }

    fn image_type(&self) -> &'static str {
        "super"
    }

    fn text_literal(&self, text: &str) -> String {
        literal(text)
    }

    fn image(&self, columns: &[TargetColumn]) -> String {
        let pairs = columns.iter().map(|c| {
            let value = history::staged(c);
            let value = match c.ty {
                ColumnType::Timestamp | ColumnType::TimestampTz | ColumnType::Date => {
                    format!("CAST({value} AS varchar)")
                }
                _ => value,
            };
            format!("{}, {value}", literal(&c.name))
        });
        format!("OBJECT({})", pairs.collect::<Vec<_>>().join(", "))
    }
}

/// What a history table adds after its columns: distributed and sorted like the target.
pub fn history_attributes(shape: &TableShape) -> String {
    let distkey = shape.key.first().map(|k| quote_identifier(k)).unwrap_or_default();
    format!("\nDISTSTYLE KEY DISTKEY ({distkey})\nCOMPOUND SORTKEY ({})", key_list(shape))
}

/// Reads the history table's columns (the result's column metadata); fails with "relation …
/// does not exist" when there is none yet (the load creates it).
pub fn probe_columns(table: &str) -> String {
    format!("SELECT * FROM {table} WHERE 1 = 0")
}

/// Probes whether `target` has `dynashift_deleted_at`: fails with "column … does not exist"
/// when it lacks it ([`is_missing_column`]), with "relation … does not exist" when there is no
/// target yet (the load creates it with the column).
pub fn probe_deleted_at(target: &str) -> String {
    format!("SELECT {} FROM {target} WHERE 1 = 0", quote_identifier(soft_deletes::DELETED_AT_COLUMN))
}

/// Whether a failed probe means the target lacks `dynashift_deleted_at`.
pub fn is_missing_column(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.contains("column")
        && lower.contains(soft_deletes::DELETED_AT_COLUMN)
        && lower.contains("does not exist")
}

pub fn create_schema(schema: &str) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS {}", quote_identifier(schema))
}

/// The stage: the op and write-timestamp columns, then the target's columns.
pub fn create_stage(shape: &TableShape) -> String {
    let mut lines = vec![
        format!("{} char(1) NOT NULL", quote_identifier(OP_COLUMN)),
        format!("{} bigint", quote_identifier(TS_COLUMN)),
    ];
    lines.extend(shape.columns.iter().map(column_definition));
    format!("CREATE TEMP TABLE {} (\n  {}\n)", quote_identifier(STAGE_TABLE), lines.join(",\n  "))
}

/// The stage of a pushdown load: the target's columns only, since an export's items are all
/// upserts and carry no op or write timestamp.
pub fn create_export_item_stage(shape: &TableShape) -> String {
    let lines: Vec<String> = shape.columns.iter().map(column_definition).collect();
    format!("CREATE TEMP TABLE {} (\n  {}\n)", quote_identifier(STAGE_TABLE), lines.join(",\n  "))
}

/// Where COPY reads from and how.
pub struct CopySource<'a> {
    /// `s3://…/copy.manifest`
    pub manifest_url: &'a str,
    /// `s3://…/jsonpaths.json`
    pub jsonpaths_url: &'a str,
    /// An IAM role ARN, or `default`.
    pub iam_role: &'a str,
    pub region: Option<&'a str>,
}

/// COPY of every file the manifest lists (so no stray object under a prefix is loaded) into the
/// stage's `columns`, in jsonpaths order. MAXERROR 0: one bad row fails the load, and its reason
/// is read from SYS_LOAD_ERROR_DETAIL. Timestamps are ISO text (staged, or DynamoDB's own S
/// values in a pushdown load), which 'auto' reads.
pub fn copy_into_stage(columns: &[String], source: &CopySource<'_>) -> String {
    copy_into(STAGE_TABLE, columns, source)
}

/// [`copy_into_stage`] into another session table (an incremental pushdown's change table).
pub fn copy_into(table: &str, columns: &[String], source: &CopySource<'_>) -> String {
    let role = if source.iam_role == "default" { "default".to_owned() } else { literal(source.iam_role) };
    let region = source.region.map(|r| format!("\nREGION {}", literal(r))).unwrap_or_default();
    format!(
        "COPY {} ({})\nFROM {}\nIAM_ROLE {role}{region}\nMANIFEST\nFORMAT AS JSON {}\nGZIP\n\
         TIMEFORMAT 'auto' DATEFORMAT 'auto'\nMAXERROR 0\nSTATUPDATE OFF COMPUPDATE OFF",
        quote_identifier(table),
        column_list(columns.iter().map(String::as_str)),
        literal(source.manifest_url),
        literal(source.jsonpaths_url),
    )
}

/// `<target>."k1" = "dynashift_stage"."k1" AND …`.
fn key_match(target: &str, source: &str, shape: &TableShape) -> String {
    shape
        .key
        .iter()
        .map(|k| {
            let k = quote_identifier(k);
            format!("{target}.{k} = {source}.{k}")
        })
        .collect::<Vec<_>>()
        .join(" AND ")
}

fn stage_op_is(op: &str) -> String {
    format!("{}.{} = '{op}'", quote_identifier(STAGE_TABLE), quote_identifier(OP_COLUMN))
}

/// Deletes every target row whose key is staged as a delete.
pub fn delete_staged_deletes(target: &str, shape: &TableShape) -> String {
    let stage = quote_identifier(STAGE_TABLE);
    format!(
        "DELETE FROM {target}\nUSING {stage}\nWHERE {} AND {}",
        stage_op_is(OP_DELETE),
        key_match(target, &stage, shape)
    )
}

/// Leaves only upserts in the stage, so the MERGE needs no condition on the op.
pub fn drop_deletes_from_stage() -> String {
    format!(
        "DELETE FROM {}\nWHERE {} = '{OP_DELETE}'",
        quote_identifier(STAGE_TABLE),
        quote_identifier(OP_COLUMN)
    )
}

/// Merges the staged upserts: every non-key column overwritten where the key exists, the row
/// inserted otherwise. A table of key columns only has nothing to update, and Redshift's MERGE
/// needs both clauses, so it inserts the keys not yet there instead.
pub fn merge_staged_upserts(target: &str, shape: &TableShape) -> String {
    let stage = quote_identifier(STAGE_TABLE);
    let columns = column_list(shape.column_names());
    let values: Vec<String> =
        shape.column_names().map(|c| format!("{stage}.{}", quote_identifier(c))).collect();
    let assignments: Vec<String> = shape
        .non_key_columns()
        .map(|c| {
            let column = quote_identifier(&c.name);
            format!("{column} = {stage}.{column}")
        })
        .collect();
    if assignments.is_empty() {
        return format!(
            "INSERT INTO {target} ({columns})\nSELECT {}\nFROM {stage}\nWHERE NOT EXISTS (SELECT 1 FROM {target} WHERE {})",
            values.join(", "),
            key_match(target, &stage, shape)
        );
    }
    format!(
        "MERGE INTO {target}\nUSING {stage}\nON {}\nWHEN MATCHED THEN UPDATE SET\n  {}\n\
         WHEN NOT MATCHED THEN INSERT ({columns})\n  VALUES ({})",
        key_match(target, &stage, shape),
        assignments.join(",\n  "),
        values.join(", ")
    )
}

/// Empties the target inside the load's transaction (never TRUNCATE, which commits).
pub fn delete_all(target: &str) -> String {
    format!("DELETE FROM {target}")
}

/// Inserts every row of a pushdown stage (an export's items, all upserts) into the target.
pub fn insert_all_stage_rows(target: &str, shape: &TableShape) -> String {
    let columns = column_list(shape.column_names());
    format!("INSERT INTO {target} ({columns})\nSELECT {columns}\nFROM {}", quote_identifier(STAGE_TABLE))
}

/// Inserts every staged upsert into the target.
pub fn insert_staged_rows(target: &str, shape: &TableShape) -> String {
    let columns = column_list(shape.column_names());
    format!(
        "INSERT INTO {target} ({columns})\nSELECT {columns}\nFROM {}\nWHERE {} = '{OP_UPSERT}'",
        quote_identifier(STAGE_TABLE),
        quote_identifier(OP_COLUMN)
    )
}

/// A statement that fails (division by zero) unless `condition` holds: the batch has no
/// client-side logic between statements, so a guard must stop the transaction by failing.
pub fn guard(condition: &str) -> String {
    format!("SELECT 1 / (CASE WHEN {condition} THEN 1 ELSE 0 END)")
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
            ("decimal(38,2)", "decimal(38,2)"),
            ("double precision", "double precision"),
            ("boolean", "boolean"),
            ("timestamp", "timestamp"),
            ("timestamptz", "timestamptz"),
            ("date", "date"),
            ("super", "super"),
        ];
        for (ty, expected) in cases {
            assert_eq!(redshift_type(ty.parse().unwrap()), expected, "{ty}");
        }
    }

    #[test]
    fn literals_double_quotes_and_refuse_what_the_dialects_read_differently() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(unsafe_literal("s3://bucket/a b/c"), None);
        assert_eq!(unsafe_literal(r"s3://bucket/a\b"), Some("holds a backslash"));
        assert_eq!(unsafe_literal("line\nbreak"), Some("holds a control character"));
    }

    #[test]
    fn a_key_only_table_inserts_missing_keys_instead_of_merging() {
        let mut shape = TableShape::of(&testkit::customers_table());
        shape.columns.retain(|c| c.is_key);
        let sql = merge_staged_upserts("\"t\"", &shape);
        assert!(sql.starts_with("INSERT INTO \"t\" (\"customer_id\")"), "{sql}");
        assert!(sql.contains("WHERE NOT EXISTS (SELECT 1 FROM \"t\" WHERE \"t\".\"customer_id\" = \"dynashift_stage\".\"customer_id\")"), "{sql}");
    }

    #[test]
    fn the_default_role_is_a_keyword_and_an_arn_a_literal() {
        let shape = TableShape::of(&testkit::customers_table());
        let source = |role| CopySource {
            manifest_url: "s3://b/m",
            jsonpaths_url: "s3://b/j",
            iam_role: role,
            region: None,
        };
        let columns = shape.staged_column_names();
        assert!(copy_into_stage(&columns, &source("default")).contains("\nIAM_ROLE default\n"));
        let arn = "arn:aws:iam::123456789012:role/copy";
        assert!(copy_into_stage(&columns, &source(arn)).contains(&format!("\nIAM_ROLE '{arn}'\n")));
    }

    #[test]
    fn a_pushdown_stage_holds_the_target_columns_only_and_is_inserted_whole() {
        let shape = TableShape::of(&testkit::customers_table());
        let stage = create_export_item_stage(&shape);
        assert!(!stage.contains(OP_COLUMN) && !stage.contains(TS_COLUMN), "{stage}");
        assert!(
            stage.starts_with(
                "CREATE TEMP TABLE \"dynashift_stage\" (\n  \"customer_id\" varchar(64) NOT NULL,"
            )
        );
        let insert = insert_all_stage_rows("\"customers\"", &shape);
        assert!(!insert.contains("WHERE"), "every export item is an upsert: {insert}");
        assert!(insert.ends_with("FROM \"dynashift_stage\""), "{insert}");
    }

    #[test]
    fn guards_fail_by_dividing_by_zero() {
        assert_eq!(guard("1 = 1"), "SELECT 1 / (CASE WHEN 1 = 1 THEN 1 ELSE 0 END)");
    }
}
