//! `dynashift_runs` in Redshift: one row per committed load, inserted by the load's own batch
//! (one transaction), so the data and its watermark commit or roll back together.
//!
//! Redshift does not enforce primary keys, so the batch guards itself: a statement fails the
//! transaction when the run already committed, and (incremental) when the table's committed
//! watermark is not the one the load continues from. The watermark is stored as fixed-width
//! RFC 3339 text ([`watermark_text`]), so text order is time order and equality is exact.
//!
//! `seq` numbers a table's commits: the batch assigns `max(seq) + 1` after `LOCK
//! dynashift_runs`, which serialises loads, so the newest commit is the highest `seq` whatever
//! `committed_at` says. `from_watermark` and `accepted_gaps` came with it. A table written
//! before them ([`RunsShape::Old`]) is upgraded by the next load's own batch
//! ([`upgrade_runs_table`]); until then reads use the old columns and the old order.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::config::{Mode, quote_identifier};
use crate::warehouse::watermark::{RunLiterals, parse_accepted_gaps, watermark_text};
use crate::warehouse::{CommitRecord, LoadRequest, RUNS_TABLE, WarehouseError};

use super::sql::{guard, literal};

/// The columns every shape has, in [`record_of`]'s order.
const OLD_COLUMNS: &str = "\"table_name\", \"run_id\", \"mode\", \"watermark\", \"committed_at\", \"upserts\", \"deletes\", \"target_rows\"";

/// The columns the upgrade added, read after [`OLD_COLUMNS`].
const NEW_COLUMNS: &str = "\"seq\", \"from_watermark\", \"accepted_gaps\"";

/// Newest first once upgraded. A row without `seq` (inserted by an older dynashift after the
/// upgrade) never counts as newest.
const NEWEST_FIRST: &str = "ORDER BY \"seq\" DESC NULLS LAST";

/// Newest first before the upgrade: watermarks only grew per table; `committed_at` broke a tie.
/// The upgrade numbers existing commits in this order, so the committed watermark stays.
const OLD_NEWEST_FIRST: &str = "ORDER BY \"watermark\" DESC, \"committed_at\" DESC";

/// Which columns `dynashift_runs` has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RunsShape {
    /// Has `seq`, `from_watermark` and `accepted_gaps` (or does not exist yet: the load creates
    /// it so).
    Current,
    /// Written by a dynashift before `seq`: the next load upgrades it first.
    Old,
}

fn runs() -> String {
    quote_identifier(RUNS_TABLE)
}

pub(super) fn create_runs_table() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (\n  \
           \"table_name\" varchar(255) NOT NULL,\n  \
           \"run_id\" varchar(128) NOT NULL,\n  \
           \"mode\" varchar(16) NOT NULL,\n  \
           \"watermark\" varchar(32) NOT NULL,\n  \
           \"committed_at\" timestamp NOT NULL,\n  \
           \"upserts\" bigint NOT NULL,\n  \
           \"deletes\" bigint NOT NULL,\n  \
           \"target_rows\" bigint NOT NULL,\n  \
           \"seq\" bigint,\n  \
           \"from_watermark\" varchar(32),\n  \
           \"accepted_gaps\" varchar(65535),\n  \
           PRIMARY KEY (\"run_id\")\n\
         )",
        runs()
    )
}

/// Probes the shape: fails with "column … does not exist" ([`is_missing_new_column`]) on an old
/// table, and with "relation … does not exist" when there is none yet.
pub(super) fn probe_shape() -> String {
    format!("SELECT {NEW_COLUMNS} FROM {} WHERE 1 = 0", runs())
}

/// Whether a failed statement means the runs table lacks the upgrade's columns. Checked before
/// [`is_missing_runs_table`]: Redshift's text (`column "seq" does not exist in dynashift_runs`)
/// names the table too.
pub(super) fn is_missing_new_column(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.contains("does not exist")
        && ["column \"seq\"", "column \"from_watermark\"", "column \"accepted_gaps\""]
            .iter()
            .any(|column| lower.contains(column))
}

/// Whether a failed batch means another load upgraded the runs table between this load's probe
/// and its batch (its ADD COLUMN found the column): the batch rolled back, and probing again
/// plans it without the upgrade.
pub(super) fn is_concurrent_upgrade(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.contains("column") && lower.contains(RUNS_TABLE) && lower.contains("already exists")
}

/// The statements that upgrade an old runs table, run in the load's batch right after the LOCK
/// (so two loads serialise, and a failure rolls the upgrade back with the load). Redshift's
/// ALTER TABLE adds one column per statement and has no `IF NOT EXISTS`; it may run inside a
/// transaction block except on an external table, and holds the table until the transaction
/// ends ("ALTER TABLE", Amazon Redshift Database Developer Guide, r_ALTER_TABLE.html). Existing
/// commits are numbered in the old read order and each gets the watermark before it.
pub(super) fn upgrade_runs_table() -> Vec<(String, String)> {
    let runs = runs();
    let add = |column: &str, ty: &str| {
        (
            format!("upgrade {RUNS_TABLE}: add {column}"),
            format!("ALTER TABLE {runs} ADD COLUMN \"{column}\" {ty}"),
        )
    };
    let order = "PARTITION BY \"table_name\" ORDER BY \"watermark\", \"committed_at\", \"run_id\"";
    vec![
        add("seq", "bigint"),
        add("from_watermark", "varchar(32)"),
        add("accepted_gaps", "varchar(65535)"),
        (
            format!("upgrade {RUNS_TABLE}: number existing commits"),
            format!(
                "UPDATE {runs} SET \"seq\" = n.\"seq\", \"from_watermark\" = n.\"before\"\n\
                 FROM (SELECT \"run_id\", ROW_NUMBER() OVER ({order}) AS \"seq\", \
                 LAG(\"watermark\") OVER ({order}) AS \"before\" FROM {runs}) AS n\n\
                 WHERE {runs}.\"run_id\" = n.\"run_id\""
            ),
        ),
    ]
}

/// Holds every other load until this one commits: Redshift's serializable isolation would
/// otherwise abort one of two loads that both read and write the runs table.
pub(super) fn lock_runs_table() -> String {
    format!("LOCK {}", runs())
}

/// Fails unless `run_id` has no commit yet (a resumed run whose first attempt committed).
pub(super) fn guard_run_not_committed(run_id: &str) -> String {
    guard(&format!("NOT EXISTS (SELECT 1 FROM {} WHERE \"run_id\" = {})", runs(), literal(run_id)))
}

/// Fails unless the table's committed watermark — the one of its highest `seq` — is `expected`
/// (none: never committed). Runs after the upgrade steps, so `seq` exists.
pub(super) fn guard_watermark(table_name: &str, expected: Option<DateTime<Utc>>) -> String {
    let of_table = format!("FROM {} WHERE \"table_name\" = {}", runs(), literal(table_name));
    match expected {
        None => guard(&format!("NOT EXISTS (SELECT 1 {of_table})")),
        Some(watermark) => guard(&format!(
            "(SELECT max(\"watermark\") {of_table} AND \"seq\" = (SELECT max(\"seq\") {of_table})) = {}",
            literal(&watermark_text(watermark))
        )),
    }
}

/// Records the load; `target_rows` counted after the changes, and `seq` one past the table's
/// highest, in the same transaction (after the LOCK, so no other load numbers in between).
/// The upserts and deletes are the staged set's, unless `counted` gives the SQL expressions
/// that count them in the batch (an incremental pushdown load, whose lines dynashift never
/// reads: see `pushdown_sql::folded_counts`).
pub(super) fn record_run(request: &LoadRequest, target: &str, counted: Option<(String, String)>) -> String {
    let table = literal(&request.table.name);
    let RunLiterals { run_id, mode, watermark, upserts, deletes, from_watermark, accepted_gaps } =
        RunLiterals::of(request, literal);
    let (upserts, deletes) = counted.unwrap_or_else(|| (upserts.to_string(), deletes.to_string()));
    format!(
        "INSERT INTO {runs} ({OLD_COLUMNS}, {NEW_COLUMNS})\nSELECT {table}, {run_id}, {mode}, {watermark}, GETDATE(), {upserts}, {deletes}, count(*), \
         (SELECT coalesce(max(\"seq\"), 0) + 1 FROM {runs} WHERE \"table_name\" = {table}), {from_watermark}, {accepted_gaps} FROM {target}",
        runs = runs(),
    )
}

/// The newest commit of a table, read from a table of `shape`.
pub(super) fn select_last_commit(table_name: &str, shape: RunsShape) -> String {
    let (columns, order) = match shape {
        RunsShape::Current => (format!("{OLD_COLUMNS}, {NEW_COLUMNS}"), NEWEST_FIRST),
        RunsShape::Old => (OLD_COLUMNS.to_owned(), OLD_NEWEST_FIRST),
    };
    format!("SELECT {columns} FROM {} WHERE \"table_name\" = {} {order} LIMIT 1", runs(), literal(table_name))
}

/// The commit of one run, read from a table of `shape`.
pub(super) fn select_run(run_id: &str, shape: RunsShape) -> String {
    let columns = match shape {
        RunsShape::Current => format!("{OLD_COLUMNS}, {NEW_COLUMNS}"),
        RunsShape::Old => OLD_COLUMNS.to_owned(),
    };
    format!("SELECT {columns} FROM {} WHERE \"run_id\" = {}", runs(), literal(run_id))
}

/// Whether a failed read means the runs table does not exist yet (no load ever committed).
pub(super) fn is_missing_runs_table(message: &str) -> bool {
    message.contains(RUNS_TABLE) && message.contains("does not exist")
}

/// A commit record from one result row (text values, as the Data API returns them), of either
/// shape: the upgrade's columns follow the old ones when read.
pub(super) fn record_of(row: &[Option<String>]) -> Result<CommitRecord, WarehouseError> {
    let bad = |what: String| {
        WarehouseError::Other(format!("reading {RUNS_TABLE}: {what}; was the table edited by hand?"))
    };
    let text = |index: usize| -> Result<&str, WarehouseError> {
        row.get(index).and_then(|v| v.as_deref()).ok_or_else(|| bad(format!("column {} is empty", index + 1)))
    };
    // The upgrade's columns: absent from an old table's rows, NULL in rows from before it.
    let optional = |index: usize| row.get(index).and_then(|v| v.as_deref());
    let count = |index: usize| -> Result<u64, WarehouseError> {
        let value = text(index)?;
        value.parse().map_err(|_| bad(format!("`{value}` is not a count")))
    };
    let mode = match text(2)? {
        "full" => Mode::Full,
        "incremental" => Mode::Incremental,
        other => return Err(bad(format!("unknown mode `{other}`"))),
    };
    let watermark = DateTime::parse_from_rfc3339(text(3)?)
        .map_err(|e| bad(format!("watermark `{}`: {e}", text(3).unwrap_or_default())))?
        .with_timezone(&Utc);
    Ok(CommitRecord {
        table_name: text(0)?.to_owned(),
        run_id: text(1)?.to_owned(),
        mode,
        watermark,
        committed_at: parse_timestamp(text(4)?)
            .ok_or_else(|| bad(format!("committed_at `{}`", text(4).unwrap_or_default())))?,
        upserts: count(5)?,
        deletes: count(6)?,
        target_rows: count(7)?,
        seq: optional(8)
            .map(|v| v.parse().map_err(|_| bad(format!("seq `{v}` is not a count"))))
            .transpose()?
            .unwrap_or(0),
        from_watermark: optional(9)
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| bad(format!("from_watermark `{v}`: {e}")))
            })
            .transpose()?,
        accepted_gaps: parse_accepted_gaps(optional(10)).map_err(&bad)?,
    })
}

/// `YYYY-MM-DD HH:MM:SS[.f…]` (a Redshift `timestamp`, UTC), or RFC 3339.
fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| t.and_utc())
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(text).ok().map(|t| t.with_timezone(&Utc)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::testkit;

    fn row(values: &[&str]) -> Vec<Option<String>> {
        values.iter().map(|v| Some((*v).to_owned())).collect()
    }

    #[test]
    fn a_row_reads_back_as_a_commit_record() {
        let record = record_of(&row(&[
            "orders",
            "run-1",
            "incremental",
            "2024-03-01T10:15:00.123456Z",
            "2024-03-01 10:20:01.5",
            "3",
            "1",
            "99",
        ]))
        .unwrap();
        assert_eq!(record.watermark, testkit::at("2024-03-01T10:15:00.123456Z"));
        assert_eq!(record.committed_at, testkit::at("2024-03-01T10:20:01.500Z"));
        assert_eq!(
            (record.mode, record.upserts, record.deletes, record.target_rows),
            (Mode::Incremental, 3, 1, 99)
        );
    }

    #[test]
    fn a_hand_edited_row_is_named() {
        let error = record_of(&row(&["orders", "run-1", "sometimes", "x", "y", "1", "1", "1"])).unwrap_err();
        assert!(error.to_string().contains("unknown mode `sometimes`"), "{error}");
        let error = record_of(&row(&[
            "orders",
            "run-1",
            "full",
            "2024-03-01T10:15:00Z",
            "2024-03-01 10:20:01",
            "-1",
            "0",
            "0",
        ]))
        .unwrap_err();
        assert!(error.to_string().contains("`-1` is not a count"), "{error}");
    }

    #[test]
    fn the_guards_compare_exact_watermark_text() {
        let sql = guard_watermark("o'brien", Some(testkit::at("2024-03-01T10:15:00Z")));
        assert!(
            sql.contains("AND \"seq\" = (SELECT max(\"seq\") FROM \"dynashift_runs\" WHERE \"table_name\" = 'o''brien')) = '2024-03-01T10:15:00.000000Z'"),
            "{sql}"
        );
        assert!(guard_watermark("orders", None).contains("NOT EXISTS (SELECT 1 FROM \"dynashift_runs\""));
    }

    #[test]
    fn the_record_numbers_the_commit_and_keeps_where_it_started_and_its_gaps() {
        let mut request = testkit::request_for(testkit::orders_table(), Mode::Incremental, "r'1");
        let sql = record_run(&request, "\"orders\"", None);
        assert!(
            sql.contains("(SELECT coalesce(max(\"seq\"), 0) + 1 FROM \"dynashift_runs\" WHERE \"table_name\" = 'orders'), NULL, NULL FROM \"orders\""),
            "{sql}"
        );
        request.previous_watermark = Some(testkit::at("2024-03-01T09:00:00Z"));
        let from = testkit::at("2024-03-01T08:00:00Z");
        request.accepted_gaps =
            vec![crate::contract::AcceptedGap { from, to: from + chrono::Duration::minutes(5) }];
        let sql = record_run(&request, "\"orders\"", None);
        let gaps = crate::warehouse::watermark::accepted_gaps_text(&request.accepted_gaps).unwrap();
        assert!(sql.contains(&format!("'2024-03-01T09:00:00.000000Z', {} FROM", literal(&gaps))), "{sql}");
    }

    #[test]
    fn an_upgraded_row_reads_back_with_its_seq_start_and_gaps() {
        let mut values = row(&[
            "orders",
            "run-2",
            "incremental",
            "2024-03-01T10:15:00.000000Z",
            "2024-03-01 10:20:01",
            "3",
            "1",
            "99",
            "7",
            "2024-03-01T09:15:00.000000Z",
        ]);
        values.push(Some(r#"[{"from":"2024-03-01T09:00:00Z","to":"2024-03-01T09:05:00Z"}]"#.into()));
        let record = record_of(&values).unwrap();
        assert_eq!(record.seq, 7);
        assert_eq!(record.from_watermark, Some(testkit::at("2024-03-01T09:15:00Z")));
        assert_eq!(record.accepted_gaps.len(), 1);
        values[8] = None;
        values[9] = None;
        values[10] = None;
        let record = record_of(&values).unwrap();
        assert_eq!((record.seq, record.from_watermark, record.accepted_gaps.len()), (0, None, 0));
        values[10] = Some("nope".into());
        let error = record_of(&values).unwrap_err();
        assert!(error.to_string().contains("accepted_gaps `nope`"), "{error}");
    }

    #[test]
    fn reads_order_by_seq_once_upgraded_and_by_watermark_before() {
        let current = select_last_commit("orders", RunsShape::Current);
        assert!(current.contains("\"accepted_gaps\" FROM"), "{current}");
        assert!(current.ends_with("ORDER BY \"seq\" DESC NULLS LAST LIMIT 1"), "{current}");
        let old = select_last_commit("orders", RunsShape::Old);
        assert!(!old.contains("\"seq\""), "{old}");
        assert!(old.ends_with("ORDER BY \"watermark\" DESC, \"committed_at\" DESC LIMIT 1"), "{old}");
        assert!(!select_run("r", RunsShape::Old).contains("\"seq\""));
    }

    #[test]
    fn the_upgrade_adds_one_column_per_statement_and_numbers_commits_in_the_old_order() {
        let upgrade = upgrade_runs_table();
        let alters: Vec<&str> =
            upgrade.iter().map(|(_, sql)| sql.as_str()).filter(|s| s.starts_with("ALTER")).collect();
        assert_eq!(alters.len(), 3);
        assert!(alters.iter().all(|sql| sql.matches("ADD COLUMN").count() == 1 && !sql.contains("IF NOT")));
        let update = &upgrade.last().unwrap().1;
        assert!(update.contains("ORDER BY \"watermark\", \"committed_at\", \"run_id\""), "{update}");
        assert!(update.contains("LAG(\"watermark\")"), "{update}");
    }

    #[test]
    fn an_old_table_and_a_lost_upgrade_race_are_recognised() {
        let redshift = "ERROR: column \"seq\" does not exist in dynashift_runs";
        assert!(is_missing_new_column(redshift));
        assert!(is_missing_new_column("ERROR: column \"accepted_gaps\" does not exist"));
        assert!(!is_missing_new_column("ERROR: relation \"dynashift_runs\" does not exist"));
        assert!(is_concurrent_upgrade("ERROR: column \"seq\" of relation \"dynashift_runs\" already exists"));
        assert!(!is_concurrent_upgrade("ERROR: relation \"orders\" already exists"));
    }

    #[test]
    fn a_missing_runs_table_is_recognised() {
        assert!(is_missing_runs_table("ERROR: relation \"dynashift_runs\" does not exist"));
        assert!(!is_missing_runs_table("ERROR: permission denied for relation dynashift_runs"));
    }
}
