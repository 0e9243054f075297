//! The statements an incremental pushdown load (a [`StagedFormat::ExportChanges`] set) adds to
//! a Redshift load: COPY reads the incremental exports' own change lines into
//! [`CHANGES_TABLE`], and the windows are folded by key in SQL into the ordinary stage, which
//! the incremental statements of [`super::sql`] then apply as for a staged load (`DELETE …
//! USING` for the keys whose newest change is a delete, drop those from the stage, `MERGE` the
//! rest), in the same batch. No change passes through dynashift.
//!
//! What the SQL relies on (Redshift Database Developer Guide):
//! - "ROW_NUMBER window function": `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)` numbers
//!   the rows of each partition from 1 in the ORDER BY order; rows with equal ORDER BY values
//!   get their numbers nondeterministically. The order is the write time, which differs
//!   between an item's changes in different windows (each window holds one line per changed
//!   item, its last write in the window — aws-facts §2.6 — and windows do not overlap), so the
//!   newest change per key is row 1.
//! - "MERGE": the source is a temporary or permanent table (not a query), and a target row
//!   must not match several source rows, so the fold writes a table with one row per key.
//! - "COPY from JSON format" / "JSONPaths file": bracket-notation paths name one element
//!   each; a path whose element is missing loads NULL (the new image of a delete), and COPY
//!   fails when it loads NULL into a NOT NULL column (the keys, present on every line).
//! - "Using COPY to load data into SUPER columns": a JSON object may be at most 4 MB before it
//!   is parsed. A change line holds at most two item images (NEW_AND_OLD_IMAGES) of at most
//!   400 KB each, plus the keys and the write time, so every line fits.
//! - "Scalar subqueries": a parenthesized SELECT returning one row of one column is valid in
//!   most expressions (not GROUP BY, HAVING or defaults), so the runs record's INSERT … SELECT
//!   counts the folded upserts and deletes with them ([`folded_counts`]).
//! - "Examples with character types": trailing blanks are insignificant in VARCHAR
//!   comparisons, so keys `a` and `a ` fall into one partition here (as they would match one
//!   target row in any Redshift load); the staged strategy refuses such keys while staging.

use crate::config::{ColumnType, Mode, quote_identifier};
use crate::contract::staged::{NEW_KEY_COLUMN, OP_COLUMN, StagedFormat, TS_COLUMN};
use crate::ddb::item_paths;
use crate::warehouse::LoadRequest;
use crate::warehouse::shape::TableShape;
use crate::warehouse::staged_lines::{OP_DELETE, OP_UPSERT};

use super::sql::{self, STAGE_TABLE, column_list, redshift_type};

/// The session-private table COPY reads the change lines into, one row per line.
pub(super) const CHANGES_TABLE: &str = "dynashift_changes";

/// The change table: the write time, the first key as read from the new image (NULL for a
/// delete), then the target's columns. Distributed on the partition key, so the fold's
/// `PARTITION BY` key finds each key's changes on one slice.
pub(super) fn create_change_table(shape: &TableShape) -> String {
    // The partition key in key-schema order, as `item_paths::change_jsonpaths` reads it.
    let partition_key = shape.key.first();
    let first_key = shape.columns.iter().find(|c| Some(&c.name) == partition_key);
    let first_key = first_key.map_or(ColumnType::Varchar(256), |c| c.ty);
    let mut lines = vec![
        format!("{} bigint NOT NULL", quote_identifier(TS_COLUMN)),
        format!("{} {}", quote_identifier(NEW_KEY_COLUMN), redshift_type(first_key)),
    ];
    lines.extend(shape.columns.iter().map(|c| {
        let not_null = if c.is_key { " NOT NULL" } else { "" };
        format!("{} {}{not_null}", quote_identifier(&c.name), redshift_type(c.ty))
    }));
    let distkey = shape.key.first().map(|k| quote_identifier(k)).unwrap_or_default();
    format!(
        "CREATE TEMP TABLE {} (\n  {}\n)\nDISTSTYLE KEY DISTKEY ({distkey})",
        quote_identifier(CHANGES_TABLE),
        lines.join(",\n  ")
    )
}

/// The statements (label, SQL) between the COPY and the lock: create the ordinary stage, and
/// fill it with each key's newest change — an upsert of its new image, or a delete when it has
/// none. They touch only the session's temporary tables, so they run before `dynashift_runs`
/// is locked. None unless `request` loads export changes.
pub(super) fn fold_statements(request: &LoadRequest, shape: &TableShape) -> Vec<(&'static str, String)> {
    if request.staged.format != StagedFormat::ExportChanges {
        return Vec::new();
    }
    vec![
        ("create the folded stage", sql::create_stage(shape)),
        ("fold the changes: the newest per key", fold_newest_change_per_key(shape)),
    ]
}

/// `INSERT INTO` the stage the newest change of every key, marked `U` when it has a new image
/// and `D` when it has none.
pub(super) fn fold_newest_change_per_key(shape: &TableShape) -> String {
    let columns = column_list(shape.column_names());
    let (ts, new_key) = (quote_identifier(TS_COLUMN), quote_identifier(NEW_KEY_COLUMN));
    let rank = quote_identifier("dynashift_newest");
    format!(
        "INSERT INTO {stage} ({op}, {ts}, {columns})\n\
         SELECT CASE WHEN {new_key} IS NULL THEN '{OP_DELETE}' ELSE '{OP_UPSERT}' END, {ts}, {columns}\n\
         FROM (\n  SELECT {ts}, {new_key}, {columns},\n    \
         ROW_NUMBER() OVER (PARTITION BY {keys} ORDER BY {ts} DESC) AS {rank}\n  \
         FROM {changes}\n) AS {alias}\nWHERE {rank} = 1",
        stage = quote_identifier(STAGE_TABLE),
        op = quote_identifier(OP_COLUMN),
        keys = column_list(shape.key.iter().map(String::as_str)),
        changes = quote_identifier(CHANGES_TABLE),
        alias = quote_identifier("dynashift_newest_changes"),
    )
}

/// The SQL expressions that count an incremental pushdown load's upserts and deletes for its
/// `dynashift_runs` record, the way a staged load of the same windows counts them: upserts are
/// the folded keys with a new image, deletes the folded keys without one. dynashift never
/// reads the change lines, so the record counts them in the batch. It runs after the stage's
/// deletes were dropped, so the deletes are the change table's distinct keys (one per folded
/// row) less the upserts left in the stage; both read the session's temp tables only. `None`
/// unless `request` loads export changes (the staged set's counts are right then).
pub(super) fn folded_counts(request: &LoadRequest, shape: &TableShape) -> Option<(String, String)> {
    if request.staged.format != StagedFormat::ExportChanges {
        return None;
    }
    let upserts = format!(
        "(SELECT count(*) FROM {} WHERE {} = '{OP_UPSERT}')",
        quote_identifier(STAGE_TABLE),
        quote_identifier(OP_COLUMN)
    );
    // GROUP BY groups keys as the fold's PARTITION BY does (trailing blanks included).
    let folded_keys = format!(
        "(SELECT count(*) FROM (SELECT 1 FROM {} GROUP BY {}) AS {})",
        quote_identifier(CHANGES_TABLE),
        column_list(shape.key.iter().map(String::as_str)),
        quote_identifier("dynashift_folded_keys")
    );
    Some((upserts.clone(), format!("{folded_keys} - {upserts}")))
}

/// Why an export-changes set cannot be loaded as `request` asks; `None` when it can. The
/// pipeline stages export changes only for incremental syncs of tables whose paths jsonpaths
/// can express; this re-checks both, so a hand-edited journal cannot misload.
pub(super) fn changes_problem(request: &LoadRequest) -> Option<String> {
    if request.mode != Mode::Incremental {
        return Some(format!(
            "the staged set of run {} holds incremental exports' change lines, which only an \
             incremental load can apply",
            request.run_id
        ));
    }
    if let Some(column) = request.table.columns.iter().find(|c| c.ty == ColumnType::Timestamp) {
        // Redshift ignores a TIMESTAMP input's offset (aws-facts §9): `--check` refuses it too.
        return Some(format!(
            "column `{}` of table {} is `timestamp`, which a pushdown load would read without its UTC \
             offset: make it timestamptz in tables.toml, or set incremental_load = \"staged\"",
            column.name, request.table.name
        ));
    }
    item_paths::change_jsonpaths(&request.table).err().map(|problem| problem.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::testkit;

    #[test]
    fn the_change_table_holds_the_write_time_the_new_image_marker_and_the_columns() {
        let shape = TableShape::of(&testkit::line_items_table());
        let sql = create_change_table(&shape);
        assert!(
            sql.starts_with(
                "CREATE TEMP TABLE \"dynashift_changes\" (\n  \"dynashift_ts\" bigint NOT NULL,\n  \
                 \"dynashift_new_key\" varchar(64),\n  \"line_no\" integer NOT NULL,"
            ),
            "{sql}"
        );
        assert!(sql.ends_with("DISTSTYLE KEY DISTKEY (\"order_id\")"), "{sql}");
    }

    #[test]
    fn the_fold_keeps_the_newest_change_of_each_key_and_marks_deletes() {
        let shape = TableShape::of(&testkit::line_items_table());
        let sql = fold_newest_change_per_key(&shape);
        assert!(
            sql.contains("PARTITION BY \"order_id\", \"line_no\" ORDER BY \"dynashift_ts\" DESC"),
            "{sql}"
        );
        assert!(sql.contains("CASE WHEN \"dynashift_new_key\" IS NULL THEN 'D' ELSE 'U' END"), "{sql}");
        assert!(sql.ends_with("WHERE \"dynashift_newest\" = 1"), "{sql}");
        assert!(
            sql.starts_with("INSERT INTO \"dynashift_stage\" (\"dynashift_op\", \"dynashift_ts\","),
            "{sql}"
        );
    }

    #[test]
    fn the_record_counts_the_folded_upserts_and_deletes_of_export_changes_only() {
        let table = testkit::line_items_table();
        let shape = TableShape::of(&table);
        let mut request = testkit::request_for(table, Mode::Incremental, "r");
        assert_eq!(folded_counts(&request, &shape), None, "a folded set's own counts are right");
        request.staged.format = StagedFormat::ExportChanges;
        let (upserts, deletes) = folded_counts(&request, &shape).unwrap();
        assert_eq!(upserts, "(SELECT count(*) FROM \"dynashift_stage\" WHERE \"dynashift_op\" = 'U')");
        assert_eq!(
            deletes,
            format!(
                "(SELECT count(*) FROM (SELECT 1 FROM \"dynashift_changes\" GROUP BY \"order_id\", \"line_no\") \
                 AS \"dynashift_folded_keys\") - {upserts}"
            )
        );
    }
}
