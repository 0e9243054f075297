//! The statements of one load, in order. [`steps`] is the single source of both
//! `Warehouse::plan` (what a dry run prints) and `Warehouse::load` (what runs), so the two can
//! never disagree.
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

use chrono::{DateTime, Utc};

use crate::config::Mode;
use crate::warehouse::shape::TableShape;
use crate::warehouse::{LoadRequest, RUNS_TABLE};

use super::names::{quoted_replacement, quoted_target};
use super::runs;
use super::sql;

/// How the executor runs a step and what it reports as the step's row count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Transaction control and DDL: no row count.
    Execute,
    /// INSERT / UPDATE / DELETE: reports the rows changed.
    Modify,
    /// Reads every staged file into the stage with the statement's prepared INSERT.
    Copy,
    /// Fails unless the table's committed watermark is this one (incremental loads continue
    /// exactly where the last commit ended; anything else means a concurrent or stale run).
    ExpectWatermark(Option<DateTime<Utc>>),
    /// Counts the target's rows (the reconciliation the load reports).
    Reconcile,
    /// Runs the statement's SQL (several statements) only when `needed`, a query of one
    /// boolean, says so: the in-place upgrade of a `dynashift_runs` written by an older version.
    Upgrade { needed: String },
}

/// One statement of a load.
pub type Step = crate::warehouse::step::Step<Action>;

/// Every statement of the load `request` asks for, in execution order.
pub fn steps(request: &LoadRequest) -> Vec<Step> {
    let shape = TableShape::of(&request.table);
    let target = quoted_target(&request.table.target);
    let mut steps = vec![
        Step::new("begin transaction", "BEGIN IMMEDIATE", Action::Execute),
        Step::new(format!("create {RUNS_TABLE} if missing"), runs::create_runs_table(), Action::Execute),
        Step::new(
            format!("add commit order columns to {RUNS_TABLE} if missing"),
            runs::upgrade_runs_table(),
            Action::Upgrade { needed: runs::needs_upgrade() },
        ),
        Step::new(format!("index {RUNS_TABLE} by commit order"), runs::create_seq_index(), Action::Execute),
    ];
    match request.mode {
        Mode::Incremental => {
            steps.push(check_watermark(request));
            steps.push(Step::new(
                format!("create {target} if missing"),
                sql::create_table(&target, &shape, true),
                Action::Execute,
            ));
            steps.extend(stage_steps(request, &shape));
            steps.extend(apply_changes(&target, &shape));
        }
        Mode::Full => {
            steps.extend(stage_steps(request, &shape));
            steps.extend(replace_target(request, &target, &shape));
        }
    }
    steps.extend(finish(request, &target));
    steps
}

fn check_watermark(request: &LoadRequest) -> Step {
    Step::new(
        "check the committed watermark",
        runs::latest_watermark(&request.table.name),
        Action::ExpectWatermark(request.previous_watermark),
    )
}

fn stage_steps(request: &LoadRequest, shape: &TableShape) -> [Step; 2] {
    let files = request.staged.files.len();
    let noun = if files == 1 { "file" } else { "files" };
    [
        Step::new("create stage table", sql::create_stage(shape), Action::Execute),
        Step::new(
            format!("COPY {files} staged {noun} into stage"),
            sql::insert_into_stage(shape),
            Action::Copy,
        ),
    ]
}

fn apply_changes(target: &str, shape: &TableShape) -> [Step; 2] {
    [
        Step::new("delete keys staged as deletes", sql::delete_staged_deletes(target, shape), Action::Modify),
        Step::new("upsert staged rows", sql::upsert_staged_rows(target, shape), Action::Modify),
    ]
}

fn replace_target(request: &LoadRequest, target: &str, shape: &TableShape) -> [Step; 5] {
    let replacement = quoted_replacement(&request.table.target);
    [
        Step::new(
            format!("create {replacement}"),
            sql::create_table(&replacement, shape, false),
            Action::Execute,
        ),
        Step::new(
            format!("fill {replacement} with staged rows"),
            sql::insert_staged_rows(&replacement, shape),
            Action::Modify,
        ),
        Step::new("keep views across the swap", sql::KEEP_VIEWS_ACROSS_RENAME, Action::Execute),
        Step::new(format!("drop the old {target}"), sql::drop_table_if_exists(target), Action::Execute),
        Step::new(
            format!("rename {replacement} to {target}"),
            sql::rename_table(&replacement, target),
            Action::Execute,
        ),
    ]
}

fn finish(request: &LoadRequest, target: &str) -> [Step; 4] {
    [
        Step::new(format!("record run in {RUNS_TABLE}"), runs::record_run(request, target), Action::Modify),
        Step::new(format!("count rows of {target}"), sql::count_rows(target), Action::Reconcile),
        Step::new("drop stage table", sql::drop_stage(), Action::Execute),
        Step::new("commit", "COMMIT", Action::Execute),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::warehouse::sqlite::testkit;
    use crate::warehouse::step::{render_steps as render, stage_two_files};

    /// A request as the stage step would hand it over: two files, some upserts and deletes.
    fn staged_request(table: crate::config::TableConfig, mode: Mode, run_id: &str) -> LoadRequest {
        let mut request = testkit::request_for(table, mode, run_id);
        stage_two_files(&mut request, run_id);
        request
    }

    #[test]
    fn incremental_with_a_composite_key() {
        let request = staged_request(testkit::line_items_table(), Mode::Incremental, "run-7");
        insta::assert_snapshot!(render(&steps(&request)));
    }

    #[test]
    fn full_replace() {
        let request = staged_request(testkit::customers_table(), Mode::Full, "run-8");
        insta::assert_snapshot!(render(&steps(&request)));
    }

    #[test]
    fn super_columns_and_the_whole_item_column() {
        let request = staged_request(testkit::orders_table(), Mode::Incremental, "run-9");
        insta::assert_snapshot!(render(&steps(&request)));
    }

    #[test]
    fn the_watermark_check_expects_the_previous_watermark_and_full_loads_skip_it() {
        let mut request = testkit::request_for(testkit::orders_table(), Mode::Incremental, "r");
        request.previous_watermark = Some(request.watermark - chrono::Duration::hours(1));
        let expected = Action::ExpectWatermark(request.previous_watermark);
        assert!(steps(&request).iter().any(|s| s.action == expected));
        request.mode = Mode::Full;
        assert!(!steps(&request).iter().any(|s| matches!(s.action, Action::ExpectWatermark(_))));
    }

    #[test]
    fn every_load_is_one_transaction_that_cleans_up_its_stage() {
        for mode in [Mode::Incremental, Mode::Full] {
            let steps = steps(&testkit::request_for(testkit::orders_table(), mode, "r"));
            assert_eq!(steps.first().map(|s| s.sql.as_str()), Some("BEGIN IMMEDIATE"));
            assert_eq!(steps.last().map(|s| s.sql.as_str()), Some("COMMIT"));
            assert_eq!(steps.iter().filter(|s| s.action == Action::Copy).count(), 1);
            assert_eq!(steps[steps.len() - 2].sql, sql::drop_stage());
        }
    }

    #[test]
    fn the_copy_label_counts_the_staged_files() {
        let mut request = testkit::request_for(testkit::orders_table(), Mode::Full, "r");
        let file = crate::contract::staged::StagedFile { key: "k".into(), rows: 0, bytes: 0 };
        request.staged.files = vec![file.clone()];
        assert!(steps(&request).iter().any(|s| s.label == "COPY 1 staged file into stage"));
        request.staged.files = vec![file.clone(), file.clone(), file];
        assert!(steps(&request).iter().any(|s| s.label == "COPY 3 staged files into stage"));
    }
}
