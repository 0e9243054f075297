//! The statements of one load, in order. [`steps`] is the single source of both
//! `Warehouse::plan` (what a dry run prints) and `Warehouse::load` (what runs), so the two can
//! never disagree. The order of the phases is the shared [`plan_frame`]'s; this file holds
//! SQLite's hooks (its SQL and how its executor treats each statement).
//!
//! Incremental: BEGIN IMMEDIATE → create `dynashift_runs` if missing (or upgrade it) → check the committed
//! watermark → create the target if missing → create the stage → COPY → delete staged deletes →
//! upsert staged rows → record the run → count target rows → drop the stage → COMMIT.
//!
//! Full: the same frame, but the staged rows fill a new table that then replaces the target
//! (DROP + RENAME). SQLite's DDL is transactional, so readers see the old table until COMMIT and
//! a failed load leaves it untouched; the new table is built from the current column spec, so a
//! full load is also how a changed spec reaches the warehouse. The swap drops what the table
//! carried beyond its spec (extra indexes, triggers); views on it keep working.
//!
//! A full load that deletes hard has no use for a stage: the new table *is* its stage. The COPY
//! fills it straight from the staged files (upserts only), so every row is inserted and indexed
//! once instead of twice; its primary key refuses a key staged twice as the stage's would. Only
//! a soft-deleting full load (which compares the stage with the kept target) and incremental
//! loads (which apply staged deletes and upserts) copy into the stage table.

use chrono::{DateTime, Utc};

use crate::config::{Mode, TargetTable};
use crate::warehouse::plan_frame::{self, Dialect, GuardPlacement, Load, Statement, Transaction};
use crate::warehouse::{LoadRequest, RUNS_TABLE};

use crate::warehouse::reconcile::Check;

use crate::warehouse::soft_deletes::{self, DELETED_AT_COLUMN};

use super::line::Bound;
use super::names::{qualified_stage, quoted_replacement, quoted_target, table_name};
use super::runs;
use super::sql::{self, SqliteTime, quote_literal};

/// How the executor runs a step and what it reports as the step's row count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// Transaction control and DDL: no row count.
    Execute,
    /// INSERT / UPDATE / DELETE: reports the rows changed.
    Modify,
    /// Reads every staged file with the statement's prepared INSERT, binding what [`Bound`]
    /// says: every row into the stage table, or only the upserts, straight into a full load's
    /// new table ([`fills_replacement`]).
    Copy(Bound),
    /// Fails unless the table's committed watermark is this one (incremental loads continue
    /// exactly where the last commit ended; anything else means a concurrent or stale run).
    ExpectWatermark(Option<DateTime<Utc>>),
    /// Reads `before`, `new_keys`, `deleted_present` for the reconciliation check.
    CountBefore,
    /// Fails unless the target's row count (the statement's one value) is what the check expects.
    CheckReconciled(Check),
    /// Runs the statement's SQL (several statements) only when `needed`, a query of one
    /// boolean, says so: the in-place upgrade of a `dynashift_runs` written by an older version.
    Upgrade { needed: String },
    /// Fails unless the history table (the statement lists its columns) has exactly these.
    ExpectColumns { table: String, expected: Vec<String> },
}

/// One statement of a load.
pub(super) type Step = crate::warehouse::step::Step<Action>;

/// Every statement of the load `request` asks for, in execution order.
pub(super) fn steps(request: &LoadRequest) -> Vec<Step> {
    plan_frame::plan(&Sqlite, request)
}

/// SQLite's hooks of the plan frame.
struct Sqlite;

impl Dialect for Sqlite {
    type Action = Action;

    const GUARDS: GuardPlacement = GuardPlacement::BeforeTarget;

    fn quoted_target(&self, target: &TargetTable) -> String {
        quoted_target(target)
    }

    /// BEGIN IMMEDIATE takes the database's write lock at once, so no other lock is needed.
    fn transaction(&self, _load: &Load) -> Option<Transaction<Action>> {
        Some(Transaction {
            begin: Statement::new("BEGIN IMMEDIATE", Action::Execute),
            locks: Vec::new(),
            commit: Statement::new("COMMIT", Action::Execute),
        })
    }

    fn create_runs_table(&self, _load: &Load) -> Statement<Action> {
        Statement::new(runs::create_runs_table(), Action::Execute)
    }

    fn upgrade_runs_table(&self, _load: &Load) -> Vec<Step> {
        vec![
            Step::new(
                format!("add commit order columns to {RUNS_TABLE} if missing"),
                runs::upgrade_runs_table(),
                Action::Upgrade { needed: runs::needs_upgrade() },
            ),
            Step::new(
                format!("index {RUNS_TABLE} by commit order"),
                runs::create_seq_index(),
                Action::Execute,
            ),
        ]
    }

    fn check_watermark(&self, load: &Load) -> Statement<Action> {
        let latest = runs::latest_watermark(&load.request.table.name);
        Statement::new(latest, Action::ExpectWatermark(load.request.previous_watermark))
    }

    /// A full load builds a replacement table instead, unless it deletes softly (it keeps the
    /// target and its deleted rows).
    fn create_target(&self, load: &Load) -> Option<Statement<Action>> {
        if load.request.mode != Mode::Incremental && !load.soft_deletes() {
            return None;
        }
        Some(Statement::new(sql::create_table(&load.target, &load.shape, true), Action::Execute))
    }

    /// A soft-deleting target created before gets `dynashift_deleted_at`.
    fn upgrade_target(&self, load: &Load) -> Vec<Step> {
        if !load.soft_deletes() {
            return Vec::new();
        }
        let table = quote_literal(&table_name(&load.request.table.target));
        let needed = format!(
            "SELECT count(*) = 0 FROM pragma_table_info({table}) WHERE name = {}",
            quote_literal(DELETED_AT_COLUMN)
        );
        vec![Step::new(
            format!("add {DELETED_AT_COLUMN} to {} if missing", load.target),
            soft_deletes::add_column(&load.target, &SqliteTime),
            Action::Upgrade { needed },
        )]
    }

    /// A full load that deletes hard stages into its new table ([`fills_replacement`]).
    fn create_stage(&self, load: &Load) -> Statement<Action> {
        if fills_replacement(load) {
            let replacement = quoted_replacement(&load.request.table.target);
            return Statement::new(sql::create_table(&replacement, &load.shape, false), Action::Execute);
        }
        Statement::new(sql::create_stage(&load.shape), Action::Execute)
    }

    fn copy(&self, load: &Load) -> Step {
        let files = load.request.staged.files.len();
        if fills_replacement(load) {
            let replacement = quoted_replacement(&load.request.table.target);
            let label = copy_staged_files_into(files, &replacement);
            let insert = sql::insert_target_columns(&replacement, &load.shape);
            return Step::new(label, insert, Action::Copy(Bound::TargetColumns));
        }
        let label = plan_frame::copy_staged_files_label(files);
        Step::new(label, sql::insert_into_stage(&load.shape), Action::Copy(Bound::StagedColumns))
    }

    fn append_history(&self, load: &Load, history: &TargetTable) -> Vec<Step> {
        let quoted = quoted_target(history);
        vec![
            Step::new(
                format!("create {quoted} if missing"),
                crate::warehouse::history::create_table(&quoted, &load.shape, &SqliteTime, ""),
                Action::Execute,
            ),
            Step::new(
                format!("check the columns of {quoted}"),
                sql::column_names(&table_name(history)),
                Action::ExpectColumns {
                    table: quoted.clone(),
                    expected: crate::warehouse::history::expected_columns(&load.request.table),
                },
            ),
            Step::new(
                crate::warehouse::history::append_label(&quoted),
                crate::warehouse::history::append(load, &quoted, &qualified_stage(), &SqliteTime),
                Action::Modify,
            ),
        ]
    }

    fn change_target(&self, load: &Load) -> Vec<Step> {
        let (target, shape) = (load.target.as_str(), &load.shape);
        if load.soft_deletes() {
            return soft_change(load);
        }
        match load.request.mode {
            Mode::Incremental => vec![
                Step::new(
                    "delete keys staged as deletes",
                    sql::delete_staged_deletes(target, shape),
                    Action::Modify,
                ),
                Step::new("upsert staged rows", sql::upsert_staged_rows(target, shape), Action::Modify),
            ],
            Mode::Full => replace_target(load),
        }
    }

    fn count_before_change(&self, load: &Load) -> Vec<Step> {
        load.count_before_step(&qualified_stage(), Action::CountBefore)
    }

    fn check_reconciled(&self, load: &Load) -> Vec<Step> {
        load.check_step(sql::quote_literal, Action::CheckReconciled)
    }

    fn record_run(&self, load: &Load) -> Statement<Action> {
        Statement::new(runs::record_run(load.request, &load.counted_rows()), Action::Modify)
    }

    /// Nothing to drop where the COPY filled the new table, which became the target.
    fn drop_stage(&self, load: &Load) -> Option<Statement<Action>> {
        (!fills_replacement(load)).then(|| Statement::new(sql::drop_stage(), Action::Execute))
    }
}

/// Whether the COPY fills a full load's new table itself, with no stage table: a full load that
/// deletes hard only ever inserts the staged upserts into a new table, so a stage in between
/// would insert (and index) every row twice. See the module docs.
fn fills_replacement(load: &Load) -> bool {
    load.request.mode == Mode::Full && !load.soft_deletes()
}

/// "COPY 2 staged files into "orders__dynashift_new"".
fn copy_staged_files_into(files: usize, table: &str) -> String {
    let noun = if files == 1 { "file" } else { "files" };
    format!("COPY {files} staged {noun} into {table}")
}

/// `deletes = "soft"` ([`soft_deletes`]): mark the deleted (or, full, the missing) rows, upsert,
/// clear the mark of the upserted keys.
fn soft_change(load: &Load) -> Vec<Step> {
    let (target, shape, stage) = (load.target.as_str(), &load.shape, qualified_stage());
    let mark = match load.request.mode {
        Mode::Incremental => Step::new(
            "mark keys staged as deletes deleted",
            soft_deletes::mark_staged_deletes(target, &stage, shape, load.request.watermark, &SqliteTime),
            Action::Modify,
        ),
        Mode::Full => Step::new(
            "mark rows missing from the export deleted",
            soft_deletes::mark_missing_rows(target, &stage, shape, load.request.watermark, &SqliteTime),
            Action::Modify,
        ),
    };
    vec![
        mark,
        Step::new("upsert staged rows", sql::upsert_staged_rows(target, shape), Action::Modify),
        Step::new(
            "clear the deletion mark of upserted keys",
            soft_deletes::clear_upserted(target, &stage, shape, true),
            Action::Modify,
        ),
    ]
}

/// A full load: the new table the COPY filled replaces the target.
fn replace_target(load: &Load) -> Vec<Step> {
    let target = load.target.as_str();
    let replacement = quoted_replacement(&load.request.table.target);
    vec![
        Step::new("keep views across the swap", sql::KEEP_VIEWS_ACROSS_RENAME, Action::Execute),
        Step::new(format!("drop the old {target}"), sql::drop_table_if_exists(target), Action::Execute),
        Step::new(
            format!("rename {replacement} to {target}"),
            sql::rename_table(&replacement, target),
            Action::Execute,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::sqlite::names::STAGE_TABLE;
    use crate::warehouse::sqlite::testkit;
    use crate::warehouse::step::{render_steps as render, shared_plan_tests, stage_two_files};

    shared_plan_tests!();

    #[test]
    fn incremental_with_a_composite_key() {
        let request = staged_request(testkit::line_items_table(), Mode::Incremental, "run-7");
        insta::assert_snapshot!(render(&steps(&request)));
    }

    #[test]
    fn every_load_is_one_transaction_that_cleans_up_its_stage() {
        for mode in [Mode::Incremental, Mode::Full] {
            let steps = steps(&testkit::request_for(testkit::orders_table(), mode, "r"));
            assert_eq!(steps.first().map(|s| s.sql.as_str()), Some("BEGIN IMMEDIATE"));
            assert_eq!(steps.last().map(|s| s.sql.as_str()), Some("COMMIT"));
            let copies = steps.iter().filter(|s| matches!(s.action, Action::Copy(_)));
            assert_eq!(copies.count(), 1);
        }
    }

    #[test]
    fn only_loads_that_copy_into_the_stage_create_and_drop_it() {
        let request = |mode| testkit::request_for(testkit::orders_table(), mode, "r");
        let incremental = steps(&request(Mode::Incremental));
        assert_eq!(incremental[incremental.len() - 2].sql, sql::drop_stage());
        assert!(incremental.iter().any(|s| s.action == Action::Copy(Bound::StagedColumns)));
        let full = steps(&request(Mode::Full));
        assert!(!full.iter().any(|s| s.sql.contains(STAGE_TABLE)), "no stage table: {full:#?}");
        assert!(full.iter().any(|s| s.action == Action::Copy(Bound::TargetColumns)));
    }

    #[test]
    fn the_copy_label_counts_the_staged_files() {
        let mut request = testkit::request_for(testkit::orders_table(), Mode::Incremental, "r");
        let file = crate::contract::staged::StagedFile { key: "k".into(), rows: 0, bytes: 0 };
        request.staged.files = vec![file.clone()];
        assert!(steps(&request).iter().any(|s| s.label == "COPY 1 staged file into stage"));
        request.staged.files = vec![file.clone(), file.clone(), file];
        assert!(steps(&request).iter().any(|s| s.label == "COPY 3 staged files into stage"));
        request.mode = Mode::Full;
        let label = "COPY 3 staged files into \"orders__dynashift_new\"";
        assert!(steps(&request).iter().any(|s| s.label == label), "{:#?}", steps(&request));
    }
}
