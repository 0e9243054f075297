//! The whole pipeline on the embedded default: a full sync of both demo tables, then rounds of
//! (random workload + incremental sync); after every round the SQLite table must equal the demo
//! table's state at the committed watermark — every row, column and type.

mod common;

use chrono::Duration;
use rand::{Rng, SeedableRng};

use common::{Harness, committed, demo_config, events_named};
use dynashift::config::Mode;
use dynashift::pipeline::RunRequest;
use dynashift::pipeline::events::{EventKind, RunOutcome, Stage, StatementStatus};
use dynashift::store::ObjectStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_then_incremental_rounds_keep_the_warehouse_equal_to_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = Harness::new(demo_config(dir.path(), 300, 400)).await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);

    for table in ["orders", "customers"] {
        let (outcome, events) = harness.sync(table, Mode::Full).await;
        let (_, upserts, deletes, target_rows) = committed(&outcome);
        assert_eq!(deletes, 0);
        assert_eq!(upserts, target_rows);
        assert!(target_rows > 200, "{table}: the demo starts with its initial items");
        assert_eq!(events_named(&events, "watermark_advanced").len(), 1);
        harness.assert_in_sync(table).await;
    }

    let mut changes = 0;
    for round in 0..6 {
        // From 20 minutes (one window) to 30 hours (a catch-up of two windows).
        let minutes = if round == 3 { 30 * 60 } else { rng.random_range(20..=300) };
        for demo in harness.demos.values() {
            demo.advance(Duration::minutes(minutes)).await.expect("advance the demo clock");
        }
        for table in ["orders", "customers"] {
            let before = harness.watermark(table).await.unwrap();
            let (outcome, events) = harness.sync(table, Mode::Incremental).await;
            let (watermark, upserts, deletes, _) = committed(&outcome);
            assert!(watermark > before, "round {round}: the watermark moves forward");
            changes += upserts + deletes;
            let planned = events_named(&events, "planned");
            let EventKind::Planned { exports, .. } = planned[0] else { unreachable!() };
            if minutes > 24 * 60 {
                assert!(exports.len() >= 2, "a gap over 24 h is cut into several windows");
            }
            harness.assert_in_sync(table).await;
        }
    }
    assert!(changes > 100, "the workload produced changes ({changes})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_sync_before_any_full_sync_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = Harness::new(demo_config(dir.path(), 50, 100)).await;
    let (outcome, _) = harness.sync("customers", Mode::Incremental).await;
    let failure = outcome.expect_err("no watermark yet");
    assert_eq!(failure.stage, Stage::Planned);
    assert!(failure.hint.contains("--mode full"), "{}", failure.hint);
    assert_eq!(harness.watermark("customers").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn less_than_one_window_since_the_watermark_is_up_to_date() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = Harness::new(demo_config(dir.path(), 50, 100)).await;
    committed(&harness.sync("customers", Mode::Full).await.0);
    let watermark = harness.watermark("customers").await;
    let (outcome, _) = harness.sync("customers", Mode::Incremental).await;
    assert!(matches!(outcome, Ok(RunOutcome::UpToDate { .. })), "{outcome:?}");
    assert_eq!(harness.watermark("customers").await, watermark);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_the_sql_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = Harness::new(demo_config(dir.path(), 50, 100)).await;
    let (outcome, events) = harness.run("orders", RunRequest { mode: Mode::Full, dry_run: true }).await;
    assert_eq!(outcome, Ok(RunOutcome::DryRun));
    let statements = events_named(&events, "statement_planned");
    assert!(statements.len() >= 5);
    assert!(
        statements
            .iter()
            .any(|s| matches!(s, EventKind::StatementPlanned { sql, .. } if sql.contains("dynashift_runs")))
    );
    assert!(events_named(&events, "export_requested").is_empty());
    assert_eq!(harness.watermark("orders").await, None);
    assert!(harness.store.list("orders/").await.unwrap().is_empty(), "a dry run writes nothing");
}

/// The journal keeps the statements the load returned: every one with how it ended, whether the
/// load committed or a statement failed (here `dynashift_runs` refuses the run's record).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_journal_keeps_the_statements_the_load_ran_committed_or_failed() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = Harness::new(demo_config(dir.path(), 50, 100)).await;
    let (outcome, events) = harness.sync("customers", Mode::Full).await;
    committed(&outcome);
    let journal = harness.engine.history("customers", 1).await.unwrap().remove(0);
    let reported: Vec<EventKind> = events.into_iter().map(|e| e.kind).collect();
    assert_eq!(journal.statements, dynashift::testkit::statements_of(&reported));
    assert!(journal.statements.len() >= 5, "{:?}", journal.statements);
    assert!(journal.statements.iter().all(|s| s.status == Some(StatementStatus::Finished)));

    let warehouse = dir.path().join("warehouse.sqlite");
    rusqlite::Connection::open(&warehouse)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse_runs BEFORE INSERT ON dynashift_runs \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
    for demo in harness.demos.values() {
        demo.advance(Duration::minutes(90)).await.expect("advance the demo clock");
    }
    let (outcome, events) = harness.sync("customers", Mode::Incremental).await;
    assert_eq!(outcome.expect_err("the run's record is refused").stage, Stage::Loading);
    let journal = harness.engine.history("customers", 1).await.unwrap().remove(0);
    let reported: Vec<EventKind> = events.into_iter().map(|e| e.kind).collect();
    assert_eq!(journal.statements, dynashift::testkit::statements_of(&reported));
    let last = journal.statements.last().expect("the load ran statements");
    assert_eq!(last.status, Some(StatementStatus::Failed), "{:?}", journal.statements);
    assert!(last.error.as_deref().is_some_and(|e| e.contains("refused by the test")), "{last:?}");
}

/// The console's `v` on the demo: after a full sync, the engine pages the orders target by key
/// (a composite key) — every row once, in order, the next page starting after the last key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rows_of_a_synced_demo_table_page_by_key() {
    use dynashift::contract::{PageRequest, PageStart};
    let dir = tempfile::tempdir().unwrap();
    let mut harness = Harness::new(demo_config(dir.path(), 250, 400)).await;
    assert_eq!(harness.engine.rows("orders", PageRequest::new(PageStart::First)).await.unwrap(), None);
    let (outcome, _) = harness.sync("orders", Mode::Full).await;
    let (_, _, _, target_rows) = committed(&outcome);
    let mut keys = Vec::new();
    let mut start = PageStart::First;
    loop {
        let page = harness.engine.rows("orders", PageRequest::new(start)).await.unwrap().expect("loaded");
        assert_eq!(page.keys.len(), page.rows.len());
        let Some(last) = page.keys.last().cloned() else { break };
        keys.extend(page.keys);
        start = PageStart::After(last);
    }
    assert_eq!(keys.len() as u64, target_rows, "every row once");
    assert_eq!(keys[0].len(), harness.table("orders").key.len(), "the whole key of each row");
    let pages =
        harness.engine.rows("orders", PageRequest::new(PageStart::AtLeast(vec![keys[120][0].clone()]))).await;
    assert_eq!(pages.unwrap().unwrap().keys[0][0], keys[120][0]);
}
