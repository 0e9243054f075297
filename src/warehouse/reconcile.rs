//! Reconciliation that can fail: inside the load's own transaction, the target's row count after
//! the change must be the one the change implies, or the load rolls back (target and watermark
//! untouched) and fails naming the numbers.
//!
//! - A full load: the target holds exactly as many rows as the export folded to (the staged
//!   upserts).
//! - An incremental load: `after = before + new keys − deleted keys present`, where `before` is
//!   the target's row count before the change, `new keys` the staged upserts whose key the
//!   target does not hold, and `deleted keys present` the staged deletes whose key it does. All
//!   three are counted in SQL right before the change, against the stage (so an incremental
//!   pushdown load, whose stage Redshift folds in SQL, is counted the same way).
//!
//! A mismatch means something besides this load changed the target's rows inside the load's
//! transaction (a trigger, a rule), or the staged set does not hold what its counts say.
//!
//! How a dialect fails the statement is its own: SQLite and PostgreSQL check in the executor
//! ([`mismatch`]) as they check the watermark; Redshift, whose batch carries no values between
//! statements, keeps the counts in a session table and fails a guard statement.

use crate::config::quote_identifier;
use crate::contract::staged::OP_COLUMN;
use crate::warehouse::shape::TableShape;
use crate::warehouse::staged_lines::{OP_DELETE, OP_UPSERT};
use crate::warehouse::step::StepError;

/// The label of the statement(s) that count the target and the stage before the change.
pub const COUNT_BEFORE_LABEL: &str = "count the target and the staged keys before the change";

/// The label of the statement that fails the load on a mismatch.
pub const CHECK_LABEL: &str = "check the target's row count (reconciliation)";

/// What an incremental load counted before its change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BeforeCounts {
    /// The target's rows before the change.
    pub before: u64,
    /// Staged upserts whose key the target does not hold.
    pub new_keys: u64,
    /// Staged deletes whose key the target holds.
    pub deleted_present: u64,
}

impl BeforeCounts {
    /// `before + new keys − deleted keys present` (never below zero: the deletes present are
    /// among the rows before).
    pub fn expected(&self) -> u64 {
        (self.before + self.new_keys).saturating_sub(self.deleted_present)
    }
}

/// What the target must hold after the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expectation {
    /// A full load: the staged upserts, one row per item the export folded to.
    Rows(u64),
    /// An incremental load: what [`BeforeCounts::expected`] says.
    Change(BeforeCounts),
}

/// What a load's check compares the target's rows after the change with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A full load: this many rows.
    Rows(u64),
    /// An incremental load: what the statement before the change counted.
    CountedBefore,
}

impl Check {
    /// The expectation, given what was counted before the change (`None`: nothing was).
    pub fn expectation(self, before: Option<BeforeCounts>) -> Result<Expectation, String> {
        match (self, before) {
            (Check::Rows(rows), _) => Ok(Expectation::Rows(rows)),
            (Check::CountedBefore, Some(counts)) => Ok(Expectation::Change(counts)),
            (Check::CountedBefore, None) => {
                Err("the reconciliation found no counts from before the change; nothing was committed".into())
            }
        }
    }
}

/// The failure message when `after` is not what `expectation` says; `None` when it is.
pub fn mismatch(table: &str, expectation: Expectation, after: u64) -> Option<String> {
    const HINT: &str = "the load was rolled back: the target and the watermark are as they were. Something \
        besides dynashift changed the target's rows inside the load (a trigger or rule on the target), or the \
        staged files do not hold what the run staged; find it and run the table again";
    match expectation {
        Expectation::Rows(expected) if expected != after => Some(format!(
            "reconciliation failed for table {table}: the export folded to {expected} items, but the target \
             holds {after} rows after the full load; {HINT}"
        )),
        Expectation::Change(counts) if counts.expected() != after => Some(format!(
            "reconciliation failed for table {table}: before {} + new keys {} − deleted keys present {} = \
             expected {}, but after the change the target holds {after} rows; {HINT}",
            counts.before,
            counts.new_keys,
            counts.deleted_present,
            counts.expected(),
        )),
        _ => None,
    }
}

/// The counts a `count_before` row holds, in its column order.
pub fn before_counts([before, new_keys, deleted_present]: [i64; 3]) -> BeforeCounts {
    let count = |n: i64| u64::try_from(n).unwrap_or_default();
    BeforeCounts { before: count(before), new_keys: count(new_keys), deleted_present: count(deleted_present) }
}

/// Fails the load when the target's `after` rows are not what `check` expects.
pub fn check_reconciled(
    table: &str,
    check: Check,
    before: Option<BeforeCounts>,
    after: i64,
) -> Result<(), StepError> {
    let expectation = check.expectation(before).map_err(StepError::Failed)?;
    match mismatch(table, expectation, u64::try_from(after).unwrap_or_default()) {
        Some(message) => Err(StepError::Failed(message)),
        None => Ok(()),
    }
}

/// `t."k1" = s."k1" AND t."k2" = s."k2"`.
fn key_match(shape: &TableShape) -> String {
    let pairs = shape.key.iter().map(|k| {
        let k = quote_identifier(k);
        format!("t.{k} = s.{k}")
    });
    pairs.collect::<Vec<_>>().join(" AND ")
}

/// ` WHERE <live>` / ` AND <live>` when only some rows count (soft deletes), else nothing.
fn and_live(live: Option<&str>, joiner: &str) -> String {
    live.map(|condition| format!(" {joiner} {condition}")).unwrap_or_default()
}

/// The rows a load counts: `<target> AS t [WHERE <live>]`, the FROM of the count its record in
/// `dynashift_runs` makes. `live` is a condition on alias `t` (`None`: every row counts).
pub fn counted_rows(target: &str, live: Option<&str>) -> String {
    format!("{target} AS t{}", and_live(live, "WHERE"))
}

/// The target's rows after the change as the load's own record in `runs` (quoted) counted them,
/// `run_id` a quoted literal. The record counts the target once, in the same transaction, after
/// the change; the check reads that count back instead of scanning the target again.
pub fn recorded_rows(runs: &str, run_id: &str) -> String {
    format!("SELECT \"target_rows\" FROM {runs} WHERE \"run_id\" = {run_id}")
}

/// One row of `before`, `new_keys`, `deleted_present`, counted against `stage` (quoted, with an
/// op column) and `target` (quoted). Standard SQL every warehouse runs: a cross join of three
/// one-row counts, two with a correlated `[NOT] EXISTS` in their WHERE, a pattern Redshift
/// decorrelates ("Correlated subqueries", Redshift Database Developer Guide: unsupported are only
/// skip-level references, references from an ON clause and NULL-sensitive ones on system tables).
pub fn count_before(target: &str, stage: &str, shape: &TableShape, live: Option<&str>) -> String {
    let op = quote_identifier(OP_COLUMN);
    let staged = |op_value: &str, exists: &str, name: &str| {
        format!(
            "(SELECT count(*) AS \"{name}\" FROM {stage} AS s WHERE s.{op} = '{op_value}' AND {exists} \
             (SELECT 1 FROM {target} AS t WHERE {}{}))",
            key_match(shape),
            and_live(live, "AND")
        )
    };
    format!(
        "SELECT b.\"before\", n.\"new_keys\", d.\"deleted_present\"\nFROM (SELECT count(*) AS \"before\" FROM {target} AS t{}) AS b,\n  \
         {} AS n,\n  {} AS d",
        and_live(live, "WHERE"),
        staged(OP_UPSERT, "NOT EXISTS", "new_keys"),
        staged(OP_DELETE, "EXISTS", "deleted_present"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::testkit;

    #[test]
    fn a_matching_count_passes_and_a_mismatch_names_every_number() {
        let counts = BeforeCounts { before: 10, new_keys: 3, deleted_present: 1 };
        assert_eq!(mismatch("orders", Expectation::Change(counts), 12), None);
        let message = mismatch("orders", Expectation::Change(counts), 13).unwrap();
        assert!(
            message.contains(
                "table orders: before 10 + new keys 3 − deleted keys present 1 = expected 12, but after the \
                 change the target holds 13 rows"
            ),
            "{message}"
        );
        assert!(message.contains("rolled back"), "{message}");
        assert_eq!(mismatch("orders", Expectation::Rows(4), 4), None);
        let full = mismatch("orders", Expectation::Rows(5), 3).unwrap();
        assert!(full.contains("the export folded to 5 items, but the target holds 3 rows"), "{full}");
    }

    #[test]
    fn the_executor_check_fails_a_mismatch_and_a_check_without_its_counts() {
        assert_eq!(check_reconciled("t", Check::Rows(3), None, 3), Ok(()));
        let Err(StepError::Failed(message)) = check_reconciled("t", Check::Rows(3), None, 2) else {
            panic!("a full load short of its items must fail");
        };
        assert!(message.contains("folded to 3 items, but the target holds 2 rows"), "{message}");
        let counts = BeforeCounts { before: 1, new_keys: 1, deleted_present: 0 };
        assert_eq!(check_reconciled("t", Check::CountedBefore, Some(counts), 2), Ok(()));
        assert!(check_reconciled("t", Check::CountedBefore, Some(counts), 1).is_err());
        assert!(check_reconciled("t", Check::CountedBefore, None, 0).is_err());
    }

    #[test]
    fn the_counts_run_on_sqlite_against_a_stage_with_new_present_and_absent_keys() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (\"customer_id\" TEXT PRIMARY KEY, gone TEXT);
             INSERT INTO t VALUES ('C1', NULL), ('C2', NULL), ('C3', 'x');
             CREATE TABLE s (\"dynashift_op\" TEXT, \"customer_id\" TEXT);
             INSERT INTO s VALUES ('U', 'C1'), ('U', 'C9'), ('U', 'C3'), ('D', 'C2'), ('D', 'C7'), ('D', 'C3');",
        )
        .unwrap();
        let shape = TableShape::of(&testkit::customers_table());
        let read = |live: Option<&str>| -> (i64, i64, i64) {
            let sql = count_before("t", "s", &shape, live);
            conn.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap()
        };
        assert_eq!(read(None), (3, 1, 2));
        // C3 counts as deleted already: re-inserting it is a new key, deleting it is not present.
        assert_eq!(read(Some("t.gone IS NULL")), (2, 2, 1));
    }
}
