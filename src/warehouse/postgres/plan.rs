//! The statements of one load, in order. [`steps`] is the single source of both
//! `Warehouse::plan` (what a dry run prints) and `Warehouse::load` (what runs), so the two can
//! never disagree. The order of the phases is the shared [`plan_frame`]'s; this file holds
//! PostgreSQL's hooks (its SQL and how its executor treats each statement).
//!
//! Incremental: BEGIN → lock the table's loads → create `dynashift_runs` if missing → check the
//! committed watermark → create the schema and the target if missing → create the stage → COPY
//! → delete staged deletes → MERGE staged upserts → record the run → count target rows → COMMIT.
//!
//! Full: the same frame, but the staged rows fill a new table that then replaces the target
//! (DROP + RENAME, and its primary key renamed to the target's). PostgreSQL's DDL is
//! transactional, so readers see the old table until COMMIT and a failed load leaves it
//! untouched; the new table is built from the current column spec, so a full load is also how a
//! changed spec reaches the warehouse. The swap drops what the old table carried beyond its
//! spec (indexes, grants, triggers); PostgreSQL refuses to drop a table a view depends on, so a
//! full load of a target with views fails (and rolls back) naming them.
//!
//! The stage is a TEMP table dropped at COMMIT (`ON COMMIT DROP`), so the frame needs no drop.

use chrono::{DateTime, Utc};

use crate::config::{Mode, TargetTable};
use crate::warehouse::plan_frame::{self, Dialect, GuardPlacement, Load, Statement, Transaction};
use crate::warehouse::{LoadRequest, RUNS_TABLE};

use crate::warehouse::history;
use crate::warehouse::reconcile::Check;
use crate::warehouse::soft_deletes::{self, DELETED_AT_COLUMN};

use super::names::{primary_key_name, qualified_stage, quoted_replacement, quoted_target, replacement_name};
use super::runs;
use super::sql::{self, PostgresTime};

/// How the executor runs a step and what it reports as the step's row count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    /// Transaction control, locks and DDL: no row count.
    Execute,
    /// `CREATE … IF NOT EXISTS` of an object other loads may create too. Runs only when
    /// `exists` (a query of one boolean) says the object is missing — PostgreSQL checks the
    /// CREATE privilege even when the object exists, and a load needs none for what is there —
    /// and then under a lock shared by every load, so two loads never create it at once.
    CreateIfMissing { exists: String },
    /// INSERT / UPDATE / DELETE / MERGE: reports the rows changed.
    Modify,
    /// Streams every staged file into the stage with the statement's `COPY … FROM STDIN`.
    Copy,
    /// Fails unless the table's committed watermark is this one (incremental loads continue
    /// exactly where the last commit ended; anything else means a concurrent or stale run).
    ExpectWatermark(Option<DateTime<Utc>>),
    /// Reads `before`, `new_keys`, `deleted_present` for the reconciliation check.
    CountBefore,
    /// Fails unless the target's row count (the statement's one value) is what the check expects.
    CheckReconciled(Check),
    /// Commits. Not interrupted by a cancel: once sent, the commit's outcome is the load's.
    Commit,
    /// Fails unless the history table (the statement lists its columns) has exactly these.
    ExpectColumns { table: String, expected: Vec<String> },
}

/// One statement of a load.
pub(super) type Step = crate::warehouse::step::Step<Action>;

/// Every statement of the load `request` asks for, in execution order.
pub(super) fn steps(request: &LoadRequest) -> Vec<Step> {
    plan_frame::plan(&Postgres, request)
}

/// PostgreSQL's hooks of the plan frame.
struct Postgres;

impl Dialect for Postgres {
    type Action = Action;

    const GUARDS: GuardPlacement = GuardPlacement::BeforeTarget;

    fn quoted_target(&self, target: &TargetTable) -> String {
        quoted_target(target)
    }

    /// The table's load lock is taken first, so two loads of one table run one after the other.
    fn transaction(&self, load: &Load) -> Option<Transaction<Action>> {
        let table = &load.request.table.name;
        Some(Transaction {
            begin: Statement::new("BEGIN", Action::Execute),
            locks: vec![Step::new(
                format!("wait for other loads of {table}"),
                sql::lock_table_loads(table),
                Action::Execute,
            )],
            commit: Statement::new("COMMIT", Action::Commit),
        })
    }

    fn create_runs_table(&self, _load: &Load) -> Statement<Action> {
        let exists = sql::table_exists(&crate::config::quote_identifier(RUNS_TABLE));
        Statement::new(runs::create_runs_table(), Action::CreateIfMissing { exists })
    }

    fn upgrade_runs_table(&self, _load: &Load) -> Vec<Step> {
        vec![Step::new(
            format!("add commit order columns to {RUNS_TABLE} if missing"),
            runs::upgrade_runs_table(),
            Action::CreateIfMissing { exists: runs::upgraded() },
        )]
    }

    fn create_schema(&self, _load: &Load, schema: &str) -> Option<Statement<Action>> {
        let exists = sql::schema_exists(schema);
        Some(Statement::new(sql::create_schema(schema), Action::CreateIfMissing { exists }))
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
        let primary_key = primary_key_name(&load.request.table.target.table);
        let create = sql::create_table(&load.target, &load.shape, &primary_key, true);
        Some(Statement::new(create, Action::CreateIfMissing { exists: sql::table_exists(&load.target) }))
    }

    /// A soft-deleting target created before gets `dynashift_deleted_at` (under the shared DDL
    /// lock, and only when missing: ALTER needs the table's ownership even with IF NOT EXISTS).
    fn upgrade_target(&self, load: &Load) -> Vec<Step> {
        if !load.soft_deletes() {
            return Vec::new();
        }
        let exists = sql::column_exists(&load.target, DELETED_AT_COLUMN);
        vec![Step::new(
            format!("add {DELETED_AT_COLUMN} to {} if missing", load.target),
            soft_deletes::add_column(&load.target, &PostgresTime),
            Action::CreateIfMissing { exists },
        )]
    }

    fn create_stage(&self, load: &Load) -> Statement<Action> {
        Statement::new(sql::create_stage(&load.shape), Action::Execute)
    }

    fn copy(&self, load: &Load) -> Step {
        let label = plan_frame::copy_staged_files_label(load.request.staged.files.len());
        Step::new(label, sql::copy_into_stage(&load.shape), Action::Copy)
    }

    /// The history table's schema when it is not the target's (the frame created that one).
    fn append_history(&self, load: &Load, history: &TargetTable) -> Vec<Step> {
        let quoted = quoted_target(history);
        let mut steps = Vec::new();
        if let Some(schema) = load.history_schema(history) {
            steps.push(Step::new(
                format!("create schema {} if missing", crate::config::quote_identifier(schema)),
                sql::create_schema(schema),
                Action::CreateIfMissing { exists: sql::schema_exists(schema) },
            ));
        }
        let create = history::create_table(&quoted, &load.shape, &PostgresTime, "");
        steps.extend([
            Step::new(
                format!("create {quoted} if missing"),
                create,
                Action::CreateIfMissing { exists: sql::table_exists(&quoted) },
            ),
            Step::new(
                format!("check the columns of {quoted}"),
                sql::column_names(&quoted),
                Action::ExpectColumns {
                    table: quoted.clone(),
                    expected: history::expected_columns(&load.request.table),
                },
            ),
            Step::new(
                history::append_label(&quoted),
                history::append(load, &quoted, &qualified_stage(), &PostgresTime),
                Action::Modify,
            ),
        ]);
        steps
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
                Step::new("merge staged upserts", sql::merge_staged_upserts(target, shape), Action::Modify),
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
}

/// `deletes = "soft"` ([`soft_deletes`]): mark the deleted (or, full, the missing) rows, merge,
/// clear the mark of the merged keys.
fn soft_change(load: &Load) -> Vec<Step> {
    let (target, shape, stage) = (load.target.as_str(), &load.shape, qualified_stage());
    let watermark = load.request.watermark;
    let mark = match load.request.mode {
        Mode::Incremental => Step::new(
            "mark keys staged as deletes deleted",
            soft_deletes::mark_staged_deletes(target, &stage, shape, watermark, &PostgresTime),
            Action::Modify,
        ),
        Mode::Full => Step::new(
            "mark rows missing from the export deleted",
            soft_deletes::mark_missing_rows(target, &stage, shape, watermark, &PostgresTime),
            Action::Modify,
        ),
    };
    vec![
        mark,
        Step::new("merge staged upserts", sql::merge_staged_upserts(target, shape), Action::Modify),
        Step::new(
            "clear the deletion mark of upserted keys",
            soft_deletes::clear_upserted(target, &stage, shape, true),
            Action::Modify,
        ),
    ]
}

/// A full load: a new table filled with the staged rows replaces the target and takes its
/// primary key's name.
fn replace_target(load: &Load) -> Vec<Step> {
    let (target, shape) = (load.target.as_str(), &load.shape);
    let table = &load.request.table.target.table;
    let replacement = quoted_replacement(&load.request.table.target);
    let replacement_key = primary_key_name(&replacement_name(&load.request.table.target));
    let target_key = primary_key_name(table);
    vec![
        Step::new(
            format!("create {replacement}"),
            sql::create_table(&replacement, shape, &replacement_key, false),
            Action::Execute,
        ),
        Step::new(
            format!("fill {replacement} with staged rows"),
            sql::insert_staged_rows(&replacement, shape),
            Action::Modify,
        ),
        Step::new(format!("drop the old {target}"), sql::drop_table_if_exists(target), Action::Execute),
        Step::new(
            format!("rename {replacement} to {target}"),
            sql::rename_table(&replacement, table),
            Action::Execute,
        ),
        Step::new(
            format!("rename its primary key to {}", crate::config::quote_identifier(&target_key)),
            sql::rename_constraint(target, &replacement_key, &target_key),
            Action::Execute,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::step::{render_steps as render, shared_plan_tests, stage_two_files};
    use crate::warehouse::testkit;

    shared_plan_tests!();

    #[test]
    fn incremental_with_a_composite_key_in_a_schema() {
        let request = staged_request(testkit::line_items_table(), Mode::Incremental, "run-7");
        insta::assert_snapshot!(render(&steps(&request)));
    }

    #[test]
    fn every_load_is_one_transaction_that_first_takes_the_table_lock() {
        for mode in [Mode::Incremental, Mode::Full] {
            let steps = steps(&testkit::request_for(testkit::orders_table(), mode, "r"));
            assert_eq!(steps.first().map(|s| s.sql.as_str()), Some("BEGIN"));
            assert!(steps[1].sql.starts_with("SELECT pg_advisory_xact_lock("), "{}", steps[1].sql);
            assert_eq!(steps.last().map(|s| &s.action), Some(&Action::Commit));
            assert_eq!(steps.iter().filter(|s| s.action == Action::Copy).count(), 1);
            assert_eq!(steps.iter().filter(|s| s.sql == "BEGIN" || s.action == Action::Commit).count(), 2);
        }
    }

    #[test]
    fn no_statement_truncates_and_every_statement_names_quoted_identifiers() {
        for mode in [Mode::Incremental, Mode::Full] {
            for step in steps(&testkit::request_for(testkit::line_items_table(), mode, "r")) {
                assert!(!step.sql.to_uppercase().contains("TRUNCATE"), "{}", step.sql);
                assert!(!step.sql.contains(" line_items") && !step.sql.contains(" sales."), "{}", step.sql);
            }
        }
    }

    #[test]
    fn the_schema_step_exists_only_for_schema_qualified_targets() {
        let has_schema_step = |table| {
            steps(&testkit::request_for(table, Mode::Full, "r"))
                .iter()
                .any(|s| s.label.starts_with("create schema"))
        };
        assert!(has_schema_step(testkit::line_items_table()));
        assert!(!has_schema_step(testkit::customers_table()));
    }
}
