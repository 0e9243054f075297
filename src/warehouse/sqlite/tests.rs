//! Loads end to end: hand-written staged files in a local store, loaded into a temporary
//! SQLite file, checked through the target's rows, `dynashift_runs` and the statement events.

use pretty_assertions::assert_eq;
use rusqlite::types::Value;

use super::SqliteWarehouse;
use super::testkit::{self, Fixture, finished_statements, line, submitted_label};
use crate::config::Mode;
use crate::contract::events::{EventKind, StatementStatus};
use crate::testkit::warnings;
use crate::warehouse::{Warehouse, WarehouseError};

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn customer(id: &str, name: &str, visits: i64) -> String {
    let table = testkit::customers_table();
    let name = serde_json::to_string(name).unwrap();
    line(
        &table,
        "U",
        &[("customer_id", &format!("\"{id}\"")), ("name", &name), ("visits", &visits.to_string())],
    )
}

fn delete_customer(id: &str) -> String {
    line(&testkit::customers_table(), "D", &[("customer_id", &format!("\"{id}\""))])
}

/// `(customer_id, name, visits)` of every row, in key order.
fn customer_rows(fixture: &Fixture) -> Vec<(Value, Value, Value)> {
    fixture
        .rows(&testkit::customers_table())
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect()
}

fn row(id: &str, name: &str, visits: i64) -> (Value, Value, Value) {
    (text(id), text(name), Value::Integer(visits))
}

async fn seed_customers(fixture: &Fixture) {
    let table = testkit::customers_table();
    let parts = vec![vec![customer("C1", "Ada", 1), customer("C2", "Bo", 2), customer("C3", "Cy", 3)]];
    fixture.sync(&table, Mode::Full, "seed", &parts).await.result.unwrap();
}

#[tokio::test]
async fn a_first_full_load_creates_the_target_and_records_the_run() {
    let fixture = Fixture::new();
    let table = testkit::customers_table();
    assert_eq!(fixture.warehouse.query_rows(&table.target).unwrap(), None);
    let parts = vec![vec![customer("C2", "Bo", 2)], vec![customer("C1", "Ada", 1)]];
    let outcome = fixture.sync(&table, Mode::Full, "r1", &parts).await;
    let report = outcome.result.unwrap();
    assert_eq!((report.target_rows, report.upserts, report.deletes), (2, 2, 0));
    assert_eq!(customer_rows(&fixture), [row("C1", "Ada", 1), row("C2", "Bo", 2)]);
    let commit = fixture.warehouse.find_run("r1").await.unwrap().expect("committed");
    assert_eq!((commit.mode, commit.upserts, commit.target_rows), (Mode::Full, 2, 2));
    assert_eq!(commit.watermark, testkit::at("2024-05-01T00:00:00Z"));
}

/// Rows pass from the COPY's reader to its inserts in batches that are given back and filled
/// again: loads of several batches, full and incremental, hold exactly the rows staged, each
/// with its own values.
#[tokio::test]
async fn loads_of_many_batches_hold_every_row_once_with_its_own_values() {
    let fixture = Fixture::new();
    let table = testkit::customers_table();
    let id = |n: usize| format!("C{n:05}");
    let name = |n: usize, round: usize| format!("name {n} of round {round} {}", "x".repeat(n % 40));
    let lines = |round: usize| -> Vec<String> {
        (0..3_500).map(|n| customer(&id(n), &name(n, round), (n * round) as i64)).collect()
    };
    let expected = |round: usize| -> Vec<_> {
        (0..3_500).map(|n| row(&id(n), &name(n, round), (n * round) as i64)).collect()
    };
    let mut first = lines(1);
    let second = first.split_off(1_700);
    let parts = vec![first, second];
    fixture.sync(&table, Mode::Full, "full", &parts).await.result.unwrap();
    assert_eq!(customer_rows(&fixture), expected(1));
    let report = fixture.sync(&table, Mode::Incremental, "incremental", &[lines(2)]).await.result.unwrap();
    assert_eq!((report.upserts, report.target_rows), (3_500, 3_500));
    assert_eq!(customer_rows(&fixture), expected(2));
}

#[tokio::test]
async fn a_column_added_to_tables_toml_is_found_missing_with_its_alter_table() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    let missing =
        crate::testkit::behaviour::columns_added_to_tables_toml_are_found_missing(&fixture.warehouse).await;
    let added: Vec<(&str, &str)> = missing.iter().map(|c| (c.name.as_str(), c.add.as_str())).collect();
    assert_eq!(added, [("nickname", "ALTER TABLE \"customers\" ADD COLUMN \"nickname\" TEXT")]);
}

#[tokio::test]
async fn a_first_incremental_load_creates_the_target_too() {
    let fixture = Fixture::new();
    let table = testkit::customers_table();
    let outcome = fixture.sync(&table, Mode::Incremental, "r1", &[vec![customer("C1", "Ada", 1)]]).await;
    assert_eq!(outcome.result.unwrap().target_rows, 1);
    assert_eq!(customer_rows(&fixture), [row("C1", "Ada", 1)]);
}

#[tokio::test]
async fn incremental_loads_delete_then_upsert() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    let table = testkit::customers_table();
    let parts = vec![
        vec![customer("C1", "Ada Lovelace", 10), delete_customer("C2")],
        vec![customer("C4", "Dee", 4), delete_customer("C9")],
    ];
    let report = fixture.sync(&table, Mode::Incremental, "r2", &parts).await.result.unwrap();
    assert_eq!((report.target_rows, report.upserts, report.deletes), (3, 2, 2));
    assert_eq!(
        customer_rows(&fixture),
        [row("C1", "Ada Lovelace", 10), row("C3", "Cy", 3), row("C4", "Dee", 4)]
    );
    let last = fixture.warehouse.last_commit("customers").await.unwrap().unwrap();
    assert_eq!((last.run_id.as_str(), last.mode, last.deletes), ("r2", Mode::Incremental, 2));
    assert_eq!(last.watermark, testkit::at("2024-05-01T01:00:00Z"));
}

#[tokio::test]
async fn an_upsert_overwrites_every_column_including_with_nulls() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    let table = testkit::customers_table();
    let cleared = line(&table, "U", &[("customer_id", "\"C1\""), ("active", "true")]);
    fixture.sync(&table, Mode::Incremental, "r2", &[vec![cleared]]).await.result.unwrap();
    let c1 = fixture.rows(&table).remove(0);
    assert_eq!(c1[..4], [text("C1"), Value::Null, Value::Null, Value::Integer(1)]);
}

#[tokio::test]
async fn a_full_load_keeps_nothing_old_and_views_keep_working() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    {
        let writer = super::lock(&fixture.warehouse.writer);
        writer
            .execute_batch("CREATE VIEW busy AS SELECT customer_id FROM customers WHERE visits > 3")
            .unwrap();
    }
    let table = testkit::customers_table();
    let parts = vec![vec![customer("C7", "Gus", 7)]];
    let report = fixture.sync(&table, Mode::Full, "r2", &parts).await.result.unwrap();
    assert_eq!(report.target_rows, 1);
    assert_eq!(customer_rows(&fixture), [row("C7", "Gus", 7)]);
    let reader = super::lock(&fixture.warehouse.reader);
    let busy: String = reader.query_row("SELECT customer_id FROM busy", [], |r| r.get(0)).unwrap();
    assert_eq!(busy, "C7");
    let leftovers: i64 = reader
        .query_row("SELECT count(*) FROM sqlite_schema WHERE name LIKE '%dynashift_new%'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(leftovers, 0);
}

#[tokio::test]
async fn a_full_load_of_nothing_empties_the_target() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    let report = fixture.sync(&testkit::customers_table(), Mode::Full, "r2", &[vec![]]).await.result.unwrap();
    assert_eq!(report.target_rows, 0);
    assert_eq!(customer_rows(&fixture), []);
}

/// The target's rows and the table's newest commit, to prove a failed load changed neither.
async fn snapshot(fixture: &Fixture) -> (Vec<(Value, Value, Value)>, Option<String>) {
    let last = fixture.warehouse.last_commit("customers").await.unwrap().map(|c| c.run_id);
    (customer_rows(fixture), last)
}

#[tokio::test]
async fn a_failing_statement_rolls_back_everything_before_it() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    let before = snapshot(&fixture).await;
    let table = testkit::customers_table();
    // Reusing a committed run id: the delete and upsert run, then recording the run fails.
    let parts = vec![vec![delete_customer("C1"), customer("C2", "changed", 99)]];
    let outcome = fixture.sync(&table, Mode::Incremental, "seed", &parts).await;
    let Err(WarehouseError::Statement { index, label, message }) = outcome.result else {
        panic!("the load must fail: {:?}", outcome.result);
    };
    assert_eq!(label, "record run in dynashift_runs");
    assert!(message.contains("UNIQUE constraint failed: dynashift_runs.run_id"), "{message}");
    let finished = finished_statements(&outcome.events);
    let (last_index, status, error) = finished.last().cloned().unwrap();
    assert_eq!((last_index, status, error), (index, StatementStatus::Failed, Some(message)));
    assert!(finished[..finished.len() - 1].iter().all(|(_, s, _)| *s == StatementStatus::Finished));
    assert_eq!(snapshot(&fixture).await, before);
}

#[tokio::test]
async fn a_key_staged_twice_fails_the_copy_and_changes_nothing() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    let before = snapshot(&fixture).await;
    let parts = vec![vec![customer("C5", "Eve", 5)], vec![delete_customer("C5")]];
    let outcome = fixture.sync(&testkit::customers_table(), Mode::Incremental, "r2", &parts).await;
    let Err(WarehouseError::Statement { index, message, .. }) = outcome.result else {
        panic!("the load must fail: {:?}", outcome.result);
    };
    assert_eq!(submitted_label(&outcome.events, index), "COPY 2 staged files into stage");
    assert!(message.starts_with("customers/staged/r2/part-00001.json.lz4 line 1: "), "{message}");
    assert!(message.contains("UNIQUE constraint failed: dynashift_stage.customer_id"), "{message}");
    assert_eq!(snapshot(&fixture).await, before);
    assert_eq!(fixture.warehouse.find_run("r2").await.unwrap(), None);
}

#[tokio::test]
async fn a_key_staged_twice_in_a_full_load_fails_the_copy_into_the_new_table_and_changes_nothing() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    let before = snapshot(&fixture).await;
    let parts =
        vec![vec![customer("C5", "Eve", 5)], vec![customer("C6", "Fay", 6), customer("C5", "Eve", 7)]];
    let outcome = fixture.sync(&testkit::customers_table(), Mode::Full, "r2", &parts).await;
    let Err(WarehouseError::Statement { index, message, .. }) = outcome.result else {
        panic!("the load must fail: {:?}", outcome.result);
    };
    assert_eq!(
        submitted_label(&outcome.events, index),
        "COPY 2 staged files into \"customers__dynashift_new\""
    );
    assert!(message.starts_with("customers/staged/r2/part-00001.json.lz4 line 2: "), "{message}");
    assert!(message.contains("UNIQUE constraint failed: customers__dynashift_new.customer_id"), "{message}");
    assert_eq!(snapshot(&fixture).await, before);
    assert_eq!(fixture.warehouse.find_run("r2").await.unwrap(), None);
}

#[tokio::test]
async fn a_value_of_the_wrong_type_names_file_line_and_column() {
    let fixture = Fixture::new();
    let table = testkit::customers_table();
    let bad = line(&table, "U", &[("customer_id", "\"C1\""), ("visits", "\"many\"")]);
    let outcome = fixture.sync(&table, Mode::Full, "r1", &[vec![customer("C0", "ok", 0), bad]]).await;
    let Err(WarehouseError::Statement { message, .. }) = outcome.result else {
        panic!("the load must fail: {:?}", outcome.result);
    };
    assert_eq!(
        message,
        "customers/staged/r1/part-00000.json.lz4 line 2: column \"visits\": expected a JSON integer in the \
         64-bit range for a bigint column, found \"many\""
    );
    assert_eq!(fixture.warehouse.query_rows(&table.target).unwrap(), None);
}

/// The reader thread decodes ahead of the inserts: an insert that fails on an earlier line is
/// still the problem reported, not a line after it that does not decode.
#[tokio::test]
async fn the_first_problem_in_file_order_is_the_one_reported() {
    let fixture = Fixture::new();
    let table = testkit::customers_table();
    let bad = line(&table, "U", &[("customer_id", "\"C9\""), ("visits", "\"many\"")]);
    let lines = vec![customer("C1", "Ada", 1), customer("C1", "Ada", 2), bad];
    let outcome = fixture.sync(&table, Mode::Incremental, "r1", &[lines]).await;
    let Err(WarehouseError::Statement { message, .. }) = outcome.result else {
        panic!("the load must fail: {:?}", outcome.result);
    };
    assert!(message.starts_with("customers/staged/r1/part-00000.json.lz4 line 2: "), "{message}");
    assert!(message.contains("UNIQUE constraint failed"), "{message}");
}

#[tokio::test]
async fn staged_files_that_disagree_with_the_staged_set_are_refused() {
    let fixture = Fixture::new();
    let table = testkit::customers_table();
    let mut staged = fixture.stage(&table, "r1", &[vec![customer("C1", "Ada", 1)]]).await;
    staged.files[0].rows = 2;
    let outcome = fixture.load(&fixture.request(&table, Mode::Full, "r1", staged)).await;
    let message = outcome.result.unwrap_err().to_string();
    assert!(message.contains("holds 1 rows but the staged set lists 2"), "{message}");
}

#[tokio::test]
async fn an_incremental_load_must_continue_from_the_committed_watermark() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    let before = snapshot(&fixture).await;
    let message = testkit::behaviour::an_incremental_load_from_a_stale_watermark_is_refused(
        &fixture.warehouse,
        fixture.store.clone(),
        testkit::at("2024-04-30T00:00:00Z"),
    )
    .await;
    assert!(message.contains("another run committed in between"), "{message}");
    assert_eq!(snapshot(&fixture).await, before);
}

#[tokio::test]
async fn an_incremental_load_whose_rows_do_not_add_up_rolls_back_naming_the_numbers() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    fixture.execute(testkit::behaviour::SQLITE_GHOST_TRIGGER);
    let before = snapshot(&fixture).await;
    testkit::behaviour::an_incremental_load_whose_rows_do_not_add_up_is_rolled_back(
        &fixture.warehouse,
        fixture.store.clone(),
    )
    .await;
    assert_eq!(snapshot(&fixture).await, before, "the target and the watermark are as they were");
}

#[tokio::test]
async fn a_load_cancelled_before_it_starts_runs_nothing() {
    let fixture = Fixture::new();
    let finished = testkit::behaviour::a_load_cancelled_before_it_starts_runs_nothing(
        &fixture.warehouse,
        fixture.store.clone(),
    )
    .await;
    assert_eq!(finished, [(1, StatementStatus::Aborted, Some("cancelled".into()))]);
}

#[tokio::test]
async fn a_load_cancelled_during_the_copy_rolls_back_and_reports_the_copy_aborted() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    let before = snapshot(&fixture).await;
    testkit::behaviour::a_load_cancelled_during_the_copy_reports_the_copy_aborted(
        &fixture.warehouse,
        &fixture.store,
    )
    .await;
    assert_eq!(snapshot(&fixture).await, before);
    let table = testkit::customers_table();
    let parts = testkit::behaviour::three_customer_parts();
    // The connection is usable again: the next load commits.
    let report = fixture.sync(&table, Mode::Incremental, "r3", &parts).await.result.unwrap();
    assert_eq!(report.target_rows, 4);
}

#[tokio::test]
async fn every_planned_statement_is_reported_in_order() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    let table = testkit::customers_table();
    let parts = vec![vec![customer("C1", "Ada", 5), delete_customer("C3")]];
    let staged = fixture.stage(&table, "r2", &parts).await;
    let mut request = fixture.request(&table, Mode::Incremental, "r2", staged);
    request.previous_watermark = Some(testkit::at("2024-05-01T00:00:00Z"));
    let planned = fixture.warehouse.plan(&request);
    let outcome = fixture.load(&request).await;
    outcome.result.unwrap();
    testkit::assert_statements_follow_the_plan(
        &planned,
        &outcome.events,
        &[
            ("COPY 1 staged file into stage", Some(Some(2))),
            ("delete keys staged as deletes", Some(Some(1))),
            ("upsert staged rows", Some(Some(1))),
            ("check the target's row count (reconciliation)", Some(Some(2))),
            ("commit", Some(None)),
        ],
    );
    assert!(outcome.events.contains(&EventKind::Reconciled { target_rows: 2, upserts: 1, deletes: 1 }));
}

#[tokio::test]
async fn commit_records_survive_reopening_the_file() {
    let fixture = Fixture::new();
    seed_customers(&fixture).await;
    let table = testkit::customers_table();
    fixture.sync(&table, Mode::Incremental, "r2", &[vec![delete_customer("C2")]]).await.result.unwrap();
    let reopened = SqliteWarehouse::open(fixture.warehouse.path()).unwrap();
    assert_eq!(reopened.last_commit("customers").await.unwrap().map(|c| c.run_id), Some("r2".into()));
    let seed = reopened.find_run("seed").await.unwrap().unwrap();
    assert_eq!((seed.mode, seed.upserts, seed.target_rows), (Mode::Full, 3, 3));
    assert_eq!(reopened.find_run("never").await.unwrap(), None);
    assert_eq!(reopened.last_commit("orders").await.unwrap(), None);
}

#[tokio::test]
async fn decimals_and_numbers_inside_super_values_keep_every_digit() {
    let fixture = Fixture::new();
    let table = testkit::orders_table();
    let total = "\"123456789012345678901234567890123456.78\"";
    let lines = r#"[{"qty":12345678901234567890123456789012345678,"price":0.1000000000000000000000000000000000001,"e":1E+400}]"#;
    let item =
        r#"{"pk":"C1","sk":"O1","amount":{"total":123456789012345678901234567890123456.78},"lines":[]}"#;
    let order = line(
        &table,
        "U",
        &[
            ("customer_id", "\"C1\""),
            ("order_id", "\"O1\""),
            ("total", total),
            ("placed_at", "\"2024-05-01 10:00:00.000001\""),
            ("ratio", "0.25"),
            ("is_priority", "false"),
            ("lines", lines),
            ("item", item),
        ],
    );
    fixture.sync(&table, Mode::Full, "r1", &[vec![order]]).await.result.unwrap();
    let loaded = fixture.rows(&table).remove(0);
    assert_eq!(
        loaded,
        [
            text("C1"),
            text("O1"),
            text("123456789012345678901234567890123456.78"),
            text("2024-05-01 10:00:00.000001"),
            Value::Real(0.25),
            Value::Integer(0),
            text(lines),
            text(item),
        ]
    );
}

#[tokio::test]
async fn unicode_text_round_trips() {
    let fixture = Fixture::new();
    let table = testkit::customers_table();
    let names = ["Zoë Ångström", "李小龍", "مرحبا", "🦀 \"crab\" 'quoted'\nnew line", "e\u{301}\u{200d}"];
    let lines: Vec<String> =
        names.iter().enumerate().map(|(i, n)| customer(&format!("C{i}✓"), n, 0)).collect();
    fixture.sync(&table, Mode::Full, "r1", &[lines]).await.result.unwrap();
    let loaded: Vec<Value> = customer_rows(&fixture).into_iter().map(|(_, name, _)| name).collect();
    assert_eq!(loaded, names.map(text));
}

#[tokio::test]
async fn odd_identifiers_are_quoted_everywhere() {
    let fixture = Fixture::new();
    let target = testkit::odd_names_target();
    let table = testkit::odd_names_table("odd");
    let upsert = |sk: i64, v: &str| testkit::odd_names_upsert(&table, sk, v);
    fixture
        .sync(&table, Mode::Full, "r1", &[vec![upsert(1, "\"one\""), upsert(2, "\"two\"")]])
        .await
        .result
        .unwrap();
    let delete = testkit::odd_names_delete(&table, 1);
    fixture
        .sync(&table, Mode::Incremental, "r2", &[vec![delete, upsert(2, "\"TWO\"")]])
        .await
        .result
        .unwrap();
    let loaded = fixture.warehouse.query_rows(&target).unwrap().unwrap();
    assert_eq!(loaded.columns, ["order", "a \"quoted\" col", "x;y", "ünï"]);
    assert_eq!(loaded.rows, [vec![text("k"), Value::Integer(2), text("TWO"), Value::Integer(1)]]);
}

#[tokio::test]
async fn a_schema_qualified_target_is_one_table_named_schema_dot_table() {
    let fixture = Fixture::new();
    let table = testkit::line_items_table();
    let item =
        line(&table, "U", &[("order_id", "\"O1\""), ("line_no", "1"), ("price", "\"9.99\""), ("qty", "2")]);
    fixture.sync(&table, Mode::Incremental, "r1", &[vec![item]]).await.result.unwrap();
    let reader = super::lock(&fixture.warehouse.reader);
    let price: String = reader.query_row("SELECT price FROM \"sales.line_items\"", [], |r| r.get(0)).unwrap();
    assert_eq!(price, "9.99");
}

/// Retries some tens of milliseconds apart, and a writer that waits only 20 ms for the lock.
fn impatient(fixture: &mut Fixture, deadline: std::time::Duration) {
    let policy = crate::retry::RetryPolicy {
        first_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_millis(50),
        jitter: 0.25,
        deadline,
    };
    fixture.warehouse = fixture.warehouse.clone().with_load_retry(policy);
    super::lock(&fixture.warehouse.writer).busy_timeout(std::time::Duration::from_millis(20)).unwrap();
}

/// Another connection holding the database's write lock until dropped.
fn hold_write_lock(fixture: &Fixture) -> rusqlite::Connection {
    let holder = rusqlite::Connection::open(fixture.warehouse.path()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    holder
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_that_finds_the_database_busy_runs_again_once_it_is_free() {
    let mut fixture = Fixture::new();
    impatient(&mut fixture, std::time::Duration::from_secs(10));
    let holder = hold_write_lock(&fixture);
    let release = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        holder.execute_batch("COMMIT").unwrap();
    });
    let parts = vec![vec![customer("C1", "Ada", 1)]];
    let outcome = fixture.sync(&testkit::customers_table(), Mode::Full, "r1", &parts).await;
    release.join().unwrap();
    assert_eq!(outcome.result.unwrap().target_rows, 1);
    let notices = warnings(&outcome.events);
    assert!(!notices.is_empty(), "the busy load was retried");
    assert!(
        notices[0].starts_with(
            "retrying the load after database busy (SQLITE_BUSY): statement 1 (begin transaction) failed: "
        ),
        "{}",
        notices[0]
    );
    assert_eq!(customer_rows(&fixture), [row("C1", "Ada", 1)]);
    assert!(fixture.warehouse.find_run("r1").await.unwrap().is_some());
}

#[tokio::test]
async fn a_database_busy_past_the_deadline_fails_saying_what_was_retried() {
    let mut fixture = Fixture::new();
    impatient(&mut fixture, std::time::Duration::from_millis(150));
    let _holder = hold_write_lock(&fixture);
    let parts = vec![vec![customer("C1", "Ada", 1)]];
    let outcome = fixture.sync(&testkit::customers_table(), Mode::Full, "r1", &parts).await;
    let Err(WarehouseError::Statement { index: 1, message, .. }) = outcome.result else {
        panic!("the BEGIN fails: {:?}", outcome.result);
    };
    assert!(message.contains("(retried "), "{message}");
    assert!(
        message.ends_with(": database busy (SQLITE_BUSY); giving up at the 150ms deadline)"),
        "{message}"
    );
    assert_eq!(fixture.warehouse.last_commit("customers").await.unwrap(), None);
}

#[tokio::test]
async fn a_permanent_failure_is_not_run_again() {
    let mut fixture = Fixture::new();
    impatient(&mut fixture, std::time::Duration::from_secs(10));
    seed_customers(&fixture).await;
    let parts = vec![vec![customer("C9", "Zed", 9)]];
    let staged = fixture.stage(&testkit::customers_table(), "r2", &parts).await;
    let mut request = fixture.request(&testkit::customers_table(), Mode::Incremental, "r2", staged);
    request.previous_watermark = Some(testkit::at("2020-01-01T00:00:00Z"));
    let outcome = fixture.load(&request).await;
    assert!(outcome.result.unwrap_err().to_string().contains("check the committed watermark"));
    assert!(warnings(&outcome.events).is_empty());
    let begins = outcome
        .events
        .iter()
        .filter(|e| matches!(e, EventKind::StatementSubmitted { label, .. } if label == "begin transaction"))
        .count();
    assert_eq!(begins, 1);
}
