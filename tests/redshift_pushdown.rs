//! The pushdown strategy end to end, through the real aws-sdk-redshiftdata client against the
//! Data API stand-in: a full sync of the demo `customers` table with `full_load = "pushdown"`
//! (Redshift's COPY reads the export's own data files through jsonpaths over `$.Item`; dynashift
//! reads only the manifests), then incremental syncs, which stay staged. After each, the target
//! must equal the demo table's state at the committed watermark. The whole-item column of a
//! pushdown load holds DynamoDB JSON (typed), by design. Incremental pushdown
//! (`incremental_load = "pushdown"`: COPY reads the incremental exports' change lines, Redshift
//! folds them by key) runs beside a staged twin on the same demo workload, compared row for row.
//!
//! Needs the stand-ins `scripts/test.sh` starts (PostgreSQL and moto); fails without them.

mod common;
mod dataapi_support;
mod moto_support;
mod postgres_support;
mod redshift_stack;
mod sync_harness;

use std::sync::Arc;

use chrono::{Duration, DurationRound as _};

use common::{committed, demo_config, events_named};
use dynashift::config::{
    Config, FullLoad, IncrementalLoad, Mode, RedshiftConfig, StoreLocation, TableConfig, UnmappedPolicy,
    WarehouseConfig,
};
use dynashift::contract::DriftCheck;
use dynashift::pipeline::RunJournal;
use dynashift::pipeline::events::{EventKind, RunEvent};
use dynashift::pipeline::stage::map_item;
use dynashift::store::ObjectStore;
use dynashift::warehouse::postgres::{CanonicalJson, PgValue};
use dynashift::warehouse::{LoadCall, Warehouse};
use postgres_support::expected_rows;
use redshift_stack::{PREFIX, RedshiftStack};
use sync_harness::SyncHarness;

const TABLE: &str = "customers";

/// The demo's `customers` table alone, as a pushdown table, its store in a fresh moto bucket and
/// its warehouse the stand-in over a fresh database.
struct Stack {
    _stack: RedshiftStack,
    _dir: tempfile::TempDir,
    store: Arc<dyn ObjectStore>,
    harness: SyncHarness,
}

impl Stack {
    async fn start(database: &str, unmapped: UnmappedPolicy) -> Stack {
        Stack::start_with(database, tempfile::tempdir().unwrap(), |table| {
            table.full_load = FullLoad::Pushdown;
            table.unmapped = unmapped;
        })
        .await
    }

    /// The stack over `dir` (whose demo state a test may have prepared), the table as
    /// `configure` leaves it.
    async fn start_with(
        database: &str,
        dir: tempfile::TempDir,
        configure: impl FnOnce(&mut TableConfig),
    ) -> Stack {
        let stack = RedshiftStack::start(database, "pushdown").await;
        let redshift = stack.config();
        let mut config = pushdown_config(demo_config(dir.path(), 250, 400), &stack.bucket, &redshift);
        configure(&mut config.tables[0]);
        let warehouse: Arc<dyn Warehouse> = Arc::new(stack.warehouse(&redshift).await);
        let reader = Arc::new(stack.reader().await);
        let store: Arc<dyn ObjectStore> = Arc::new(stack.store());
        let harness = SyncHarness::new(config, warehouse, reader, store.clone());
        Stack { _stack: stack, _dir: dir, store, harness }
    }
}

fn pushdown_config(mut config: Config, bucket: &str, redshift: &RedshiftConfig) -> Config {
    config.tables.retain(|t| t.name == TABLE);
    let table = &mut config.tables[0];
    table.store = StoreLocation::S3 { bucket: bucket.into(), prefix: PREFIX.into() };
    config.warehouse = WarehouseConfig::Redshift(redshift.clone());
    config
}

fn pushdown_notes(events: &[RunEvent]) -> usize {
    events_named(events, "warning")
        .into_iter()
        .filter(|e| matches!(e, EventKind::Warning { message } if message.starts_with("pushdown: Redshift reads")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushdown_full_load_then_staged_increments_keep_the_table_equal_to_the_source() {
    let mut stack = Stack::start("pushdown_rounds", UnmappedPolicy::Drop).await;
    let harness = &mut stack.harness;

    let (outcome, events) = harness.sync(TABLE, Mode::Full).await;
    let (_, upserts, deletes, target_rows) = committed(&outcome);
    assert_eq!((upserts, deletes), (target_rows, 0), "every exported item is an upsert");
    assert_eq!(pushdown_notes(&events), 1, "the run says no data passed through dynashift");
    let drift = events_named(&events, "drift");
    assert!(
        matches!(drift.as_slice(), [EventKind::Drift { check: DriftCheck::NotCounted { .. } }]),
        "a pushdown run says it could not count drift: {drift:?}"
    );
    let copy = events_named(&events, "statement_submitted")
        .into_iter()
        .find_map(|e| match e {
            EventKind::StatementSubmitted { label, sql, .. } if sql.starts_with("COPY") => Some((label, sql)),
            _ => None,
        })
        .expect("a COPY statement");
    assert!(copy.0.contains("export file") && copy.0.contains("pushdown"), "{}", copy.0);
    assert!(!copy.1.contains("dynashift_op"), "export items carry no op column: {}", copy.1);
    harness.assert_in_sync(TABLE).await;

    let objects = stack.store.list(&format!("{TABLE}/")).await.unwrap();
    assert!(
        objects.iter().any(|o| o.key.contains("/AWSDynamoDB/") && o.key.ends_with(".json.gz")),
        "the export's data files, which COPY read, are kept"
    );
    assert!(
        !objects.iter().any(|o| o.key.contains("/staged/")),
        "the run's manifest and jsonpaths are removed once committed"
    );

    for minutes in [90, 30 * 60] {
        for demo in harness.demos.values() {
            demo.advance(Duration::minutes(minutes)).await.expect("advance the demo clock");
        }
        let (outcome, events) = harness.sync(TABLE, Mode::Incremental).await;
        let (_, upserts, deletes, _) = committed(&outcome);
        assert!(upserts + deletes > 0, "the workload changed customers");
        assert_eq!(pushdown_notes(&events), 0, "incremental syncs stay staged");
        harness.assert_in_sync(TABLE).await;
    }
}

/// A demo folder whose simulated clock starts at `start`: two stacks given the same start (and
/// the same seed) generate the same workload, item for item.
fn demo_dir_starting_at(start: chrono::DateTime<chrono::Utc>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("demo")).unwrap();
    let clock = serde_json::json!({ "started": start, "now": start });
    std::fs::write(dir.path().join("demo/clock.json"), clock.to_string()).unwrap();
    dir
}

/// The target's rows, sorted, as the stand-in's PostgreSQL holds them.
async fn target_rows(harness: &SyncHarness) -> Vec<Vec<PgValue>> {
    let config = harness.config.table(TABLE).unwrap();
    let mut rows = harness.reader.query_rows(&config.target).await.unwrap().expect("the target exists").rows;
    rows.sort_by_cached_key(|row| format!("{row:?}"));
    rows
}

/// The history table both twins keep (`history_target`).
fn history_table() -> dynashift::config::TargetTable {
    dynashift::config::TargetTable { schema: Some("audit".into()), table: "customers_history".into() }
}

/// The history rows without their `run_id` (the twins' runs have their own ids), sorted.
async fn history_rows(harness: &SyncHarness) -> Vec<Vec<PgValue>> {
    let history = harness.reader.query_rows(&history_table()).await.unwrap().expect("the history table");
    let run_id = history.columns.iter().position(|c| c == "run_id").expect("a run_id column");
    let mut rows: Vec<Vec<PgValue>> = history
        .rows
        .into_iter()
        .map(|mut row| {
            row.remove(run_id);
            row
        })
        .collect();
    rows.sort_by_cached_key(|row| format!("{row:?}"));
    rows
}

/// The two targets hold the same rows, compared one by one (a short message on a difference).
async fn assert_same_rows(pushdown: &SyncHarness, staged: &SyncHarness, when: &str) {
    let (got, want) = (target_rows(pushdown).await, target_rows(staged).await);
    assert_eq!(got.len(), want.len(), "{when}: pushdown and staged targets hold different row counts");
    for (got, want) in got.iter().zip(&want) {
        assert_eq!(got, want, "{when}: the pushdown row differs from the staged one");
    }
}

/// The upserts and deletes the run's journal keeps (what the console's history and `status` show).
async fn journal_counts(harness: &SyncHarness, events: &[RunEvent]) -> (u64, u64) {
    let run_id = &events.first().expect("the run's events").run_id;
    let table = harness.config.tables.iter().find(|t| t.name == TABLE).unwrap();
    let journals = RunJournal::list(table, harness.store.as_ref()).await.unwrap();
    let journal = journals.into_iter().find(|j| &j.run_id == run_id).expect("the run's journal");
    let counts = journal.stage_counts.expect("stage counts");
    (counts.upserts, counts.deletes)
}

/// The upserts and deletes of the table's newest commit, as `dynashift_runs` holds them.
async fn committed_counts(harness: &SyncHarness) -> (u64, u64) {
    let record = harness.warehouse.last_commit(TABLE).await.unwrap().expect("a commit");
    (record.upserts, record.deletes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_pushdown_matches_the_staged_twin_row_for_row_through_deletes_and_catch_up() {
    let start = chrono::Utc::now().duration_trunc(Duration::seconds(1)).unwrap() - Duration::days(1);
    let staged = Stack::start_with("incr_staged_twin", demo_dir_starting_at(start), |table| {
        table.history_target = Some(history_table());
    })
    .await;
    let pushdown = Stack::start_with("incr_pushdown", demo_dir_starting_at(start), |table| {
        table.incremental_load = IncrementalLoad::Pushdown;
        table.history_target = Some(history_table());
    })
    .await;
    let (mut staged, mut pushdown) = (staged.harness, pushdown.harness);
    for harness in [&mut staged, &mut pushdown] {
        let (outcome, events) = harness.sync(TABLE, Mode::Full).await;
        committed(&outcome);
        assert_eq!(pushdown_notes(&events), 0, "full syncs stay staged");
    }
    assert_same_rows(&pushdown, &staged, "after the full load").await;

    let (mut deletes, mut windows) = (0, Vec::new());
    // One window, a catch-up of two windows (over 24 h), then one window again.
    for minutes in [90, 30 * 60, 200] {
        for harness in [&staged, &pushdown] {
            harness.demos[TABLE].advance(Duration::minutes(minutes)).await.expect("advance the demo clock");
        }
        let (outcome, _) = staged.sync(TABLE, Mode::Incremental).await;
        let (staged_watermark, staged_upserts, staged_deletes, _) = committed(&outcome);
        deletes += staged_deletes;
        let (outcome, events) = pushdown.sync(TABLE, Mode::Incremental).await;
        let (watermark, upserts, pushdown_deletes, _) = committed(&outcome);
        assert_eq!(watermark, staged_watermark, "both twins sync to the same watermark");
        assert!(upserts + pushdown_deletes > 0, "the workload changed customers");
        let counts = (upserts, pushdown_deletes);
        assert_eq!(
            counts,
            (staged_upserts, staged_deletes),
            "after {minutes} minutes: the run reports the folded counts"
        );
        assert_eq!(
            committed_counts(&pushdown).await,
            committed_counts(&staged).await,
            "after {minutes} minutes: dynashift_runs records the staged twin's upserts and deletes"
        );
        assert_eq!(committed_counts(&pushdown).await, counts, "the report is the commit record's");
        assert_eq!(journal_counts(&pushdown, &events).await, counts, "history shows the folded counts");
        let EventKind::Planned { exports, .. } = events_named(&events, "planned")[0] else { unreachable!() };
        windows.push(exports.len());
        let copy = events_named(&events, "statement_submitted")
            .into_iter()
            .find_map(|e| match e {
                EventKind::StatementSubmitted { sql, .. } if sql.starts_with("COPY") => Some(sql.clone()),
                _ => None,
            })
            .expect("a COPY statement");
        assert!(copy.starts_with("COPY \"dynashift_changes\""), "the change lines are COPYed: {copy}");
        assert!(
            events_named(&events, "warning").into_iter().any(
                |e| matches!(e, EventKind::Warning { message } if message.contains("change lines from"))
            ),
            "the run says the changes were folded in Redshift"
        );
        assert_same_rows(&pushdown, &staged, &format!("after {minutes} minutes")).await;
        let history = history_rows(&pushdown).await;
        assert_eq!(history, history_rows(&staged).await, "after {minutes} minutes: the same history");
        assert!(!history.is_empty(), "the incremental loads appended history");
        pushdown.assert_in_sync(TABLE).await;
    }
    assert!(deletes > 0, "the workload deleted customers, so deletes were compared too");
    assert!(windows[1] >= 2, "the 30-hour gap is caught up in several windows: {windows:?}");
    let runs_table = dynashift::config::TargetTable { schema: None, table: "dynashift_runs".into() };
    let runs = pushdown.reader.query_rows(&runs_table).await.unwrap().expect("the runs table").rows;
    assert_eq!(runs.len(), 4, "one full and three incremental commits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_item_column_of_a_pushdown_load_holds_dynamodb_json() {
    let stack = Stack::start("pushdown_item", UnmappedPolicy::KeepItem { column: "item".into() }).await;
    let mut harness = stack.harness;
    let (outcome, _) = harness.sync(TABLE, Mode::Full).await;
    committed(&outcome);

    let config = harness.config.table(TABLE).unwrap().clone();
    let watermark = harness.watermark(TABLE).await.unwrap();
    let items = harness.demos[TABLE].items_at(watermark).await.unwrap();
    let staged: Vec<_> = items.iter().map(|item| map_item(&config, item).unwrap()).collect();
    let mut expected: Vec<(Vec<PgValue>, PgValue)> = expected_rows(&config, &staged)
        .into_iter()
        .zip(&items)
        .map(|(mut row, item)| {
            row.pop(); // the staged strategy's plain JSON of the item
            let typed = CanonicalJson::parse(&serde_json::to_string(item).unwrap()).unwrap();
            (row, PgValue::Json(typed))
        })
        .collect();
    let loaded = harness.reader.query_rows(&config.target).await.unwrap().expect("the target exists");
    assert_eq!(loaded.columns.last().map(String::as_str), Some("item"));
    let mut actual: Vec<(Vec<PgValue>, PgValue)> = loaded
        .rows
        .into_iter()
        .map(|mut row| {
            let item = row.pop().unwrap();
            (row, item)
        })
        .collect();
    expected.sort_by_cached_key(|row| format!("{row:?}"));
    actual.sort_by_cached_key(|row| format!("{row:?}"));
    assert_eq!(actual.len(), expected.len());
    for (got, want) in actual.iter().zip(&expected) {
        assert_eq!(got, want, "columns equal the source, the item column is its DynamoDB JSON");
    }
}

/// Config validation allows pushdown only with Redshift; the warehouses that read staged files
/// through dynashift still refuse an export-items set rather than misread it.
#[tokio::test]
async fn warehouses_reading_staged_files_refuse_a_pushdown_set() {
    use dynashift::pipeline::staged::{StagedFile, StagedFormat, StagedSet, target_columns};
    use dynashift::warehouse::LoadRequest;
    use dynashift::warehouse::sqlite::SqliteWarehouse;

    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path(), 10, 0);
    let table = Arc::new(config.table(TABLE).unwrap().clone());
    let staged = StagedSet {
        manifest_key: "customers/staged/r/copy.manifest".into(),
        jsonpaths_key: "customers/staged/r/jsonpaths.json".into(),
        columns: target_columns(&table),
        files: vec![StagedFile {
            key: "customers/exports/AWSDynamoDB/e/data/a.json.gz".into(),
            rows: 1,
            bytes: 0,
        }],
        upserts: 1,
        deletes: 0,
        format: StagedFormat::ExportItems,
    };
    let request = LoadRequest {
        run_id: "r".into(),
        table,
        mode: Mode::Full,
        staged,
        watermark: chrono::Utc::now(),
        previous_watermark: None,
        store: Arc::new(dynashift::store::LocalStore::new(dir.path())),
        accepted_gaps: Vec::new(),
    };
    let sqlite = SqliteWarehouse::open(&dir.path().join("w.sqlite")).unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let events = dynashift::pipeline::EventSink::discard();
    let error = sqlite
        .load(LoadCall { request: &request, events: &events, cancel: &cancel })
        .await
        .result
        .unwrap_err();
    assert!(error.to_string().starts_with("SQLite cannot load a pushdown staged set"), "{error}");
}
