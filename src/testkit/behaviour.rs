//! Warehouse behaviour written once and run against every backend: each function takes the
//! warehouse under test and the store its staged files go to, and asserts what every warehouse
//! must do. The SQLite unit tests, `tests/postgres_warehouse.rs` and `tests/redshift_warehouse.rs`
//! call the same functions, so a backend cannot drift from the others unnoticed.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    CancelOnOpen, assert_returned_statements_match_events, customers_table, finished_statements, line,
    request_for, stage_files, submitted_label, write_staged_parts,
};
use crate::config::Mode;
use crate::contract::events::{EventKind, EventSink, RunEvent, StatementStatus};
use crate::store::{LocalStore, ObjectStore};
use crate::warehouse::{LoadCall, LoadReport, LoadRequest, Warehouse, WarehouseError};

/// What one load returned and reported.
pub struct Outcome {
    pub result: Result<LoadReport, WarehouseError>,
    pub events: Vec<EventKind>,
}

/// Loads `request` into `warehouse`, returning how the load ended and every event it sent, after
/// checking that the statements it returned are the ones its events reported.
pub async fn load_collecting(
    warehouse: &dyn Warehouse,
    request: &LoadRequest,
    cancel: &CancellationToken,
) -> Outcome {
    load_watching(warehouse, request, cancel, |_| {}).await
}

/// [`load_collecting`], showing `watch` each event as it is sent (a test that acts mid-load).
pub async fn load_watching(
    warehouse: &dyn Warehouse,
    request: &LoadRequest,
    cancel: &CancellationToken,
    watch: impl Fn(&RunEvent) + Send + 'static,
) -> Outcome {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let sink = EventSink::new(&request.run_id, &request.table.name, tx);
    let watcher = tokio::spawn(async move {
        let mut events = Vec::new();
        while let Some(event) = rx.recv().await {
            watch(&event);
            events.push(event.kind);
        }
        events
    });
    let outcome = warehouse.load(LoadCall { request, events: &sink, cancel }).await;
    drop(sink);
    let events = watcher.await.expect("the event watcher does not panic");
    assert_returned_statements_match_events(&outcome.statements, &events);
    Outcome { result: outcome.result, events }
}

/// A full load of `customers` staged in `store`, on a first run.
async fn first_customers_load(store: Arc<dyn ObjectStore>, run_id: &str) -> LoadRequest {
    let table = customers_table();
    let upsert = line(&table, "U", &[("customer_id", "\"C1\""), ("name", "\"Ada\""), ("visits", "1")]);
    let staged = stage_files(store.as_ref(), &table, run_id, &[vec![upsert]]).await;
    let mut request = request_for(table, Mode::Full, run_id);
    request.staged = staged;
    request.store = store;
    request
}

/// A load whose cancel token fired before it began fails as cancelled, starts no statement,
/// reports every statement it did report as aborted, and commits nothing. Returns the finished
/// statements `(index, status, error)` for the backend's own expectation (SQLite and PostgreSQL
/// abort the first statement; Redshift sends its plan as one batch and aborts all of it).
pub async fn a_load_cancelled_before_it_starts_runs_nothing(
    warehouse: &dyn Warehouse,
    store: Arc<dyn ObjectStore>,
) -> Vec<(usize, StatementStatus, Option<String>)> {
    let request = first_customers_load(store, "r1").await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let Outcome { result, events } = load_collecting(warehouse, &request, &cancel).await;
    assert!(matches!(result, Err(WarehouseError::Cancelled)), "{result:?}");
    assert!(!events.iter().any(|e| matches!(e, EventKind::StatementStarted { .. })), "{events:?}");
    assert_eq!(warehouse.last_commit("customers").await.unwrap(), None);
    let finished = finished_statements(&events);
    assert!(!finished.is_empty(), "the cancelled load reports its statements aborted: {events:?}");
    assert!(finished.iter().all(|(_, status, _)| *status == StatementStatus::Aborted), "{finished:?}");
    finished
}

/// The first loads of `tables` tables at once into a new warehouse (tables `people_<i>` in one
/// new schema, a row each) all commit: each creates `dynashift_runs` and the schema if missing,
/// and none may fail because another created them at the same moment.
pub async fn first_loads_of_several_tables_at_once_all_commit(
    warehouse: &dyn Warehouse,
    store: Arc<dyn ObjectStore>,
    tables: usize,
) {
    let mut requests = Vec::new();
    for i in 0..tables {
        let mut table = customers_table();
        table.name = format!("people_{i}");
        table.target = crate::config::TargetTable { schema: Some("crm".into()), table: table.name.clone() };
        let run_id = format!("r{i}");
        let lines = vec![line(&table, "U", &[("customer_id", "\"P1\"")])];
        let staged = stage_files(store.as_ref(), &table, &run_id, &[lines]).await;
        let mut request = request_for(table, Mode::Full, &run_id);
        request.staged = staged;
        request.store = store.clone();
        requests.push(request);
    }
    let cancel = CancellationToken::new();
    let loads = requests.iter().map(|request| load_collecting(warehouse, request, &cancel));
    for (i, outcome) in futures::future::join_all(loads).await.into_iter().enumerate() {
        assert_eq!(outcome.result.map(|report| report.target_rows).ok(), Some(1), "people_{i}");
        assert!(warehouse.last_commit(&format!("people_{i}")).await.unwrap().is_some());
    }
}

/// An incremental load of `customers` that claims to continue from `stale` while the table is
/// committed further fails at the watermark check and leaves the committed run in place.
/// Returns the check's message for the backend's own wording. `customers` must have a commit.
pub async fn an_incremental_load_from_a_stale_watermark_is_refused(
    warehouse: &dyn Warehouse,
    store: Arc<dyn ObjectStore>,
    stale: DateTime<Utc>,
) -> String {
    let committed = warehouse.last_commit("customers").await.unwrap().expect("customers has a commit");
    let table = customers_table();
    let delete = line(&table, "D", &[("customer_id", "\"C1\"")]);
    let staged = stage_files(store.as_ref(), &table, "stale", &[vec![delete]]).await;
    let mut request = request_for(table, Mode::Incremental, "stale");
    request.staged = staged;
    request.store = store;
    request.previous_watermark = Some(stale);
    request.watermark = committed.watermark + chrono::Duration::hours(1);
    let result = load_collecting(warehouse, &request, &CancellationToken::new()).await.result;
    let Err(WarehouseError::Statement { label, message, .. }) = result else {
        panic!("a stale load must fail at a statement: {result:?}");
    };
    assert_eq!(label, "check the committed watermark");
    assert_eq!(warehouse.last_commit("customers").await.unwrap(), Some(committed), "the commit stays");
    message
}

/// The staged parts of [`a_load_cancelled_during_the_copy_reports_the_copy_aborted`]: a delete
/// of `C1` and two new customers, one per file.
pub fn three_customer_parts() -> Vec<Vec<String>> {
    let table = customers_table();
    let upsert = |id: &str, name: &str, visits: &str| {
        line(
            &table,
            "U",
            &[("customer_id", &format!("\"{id}\"")), ("name", &format!("\"{name}\"")), ("visits", visits)],
        )
    };
    vec![
        vec![line(&table, "D", &[("customer_id", "\"C1\"")])],
        vec![upsert("C8", "Hal", "8")],
        vec![upsert("C9", "Ivy", "9")],
    ]
}

/// An incremental load of `customers` (which must have a commit) cancelled while its COPY opens
/// the second of three staged files fails as cancelled, reports the COPY as the aborted
/// statement, and leaves the committed run in place. For warehouses that read the staged files
/// through dynashift's store (not Redshift, whose COPY reads S3 itself).
pub async fn a_load_cancelled_during_the_copy_reports_the_copy_aborted(
    warehouse: &dyn Warehouse,
    store: &LocalStore,
) {
    let committed = warehouse.last_commit("customers").await.unwrap().expect("customers has a commit");
    let table = customers_table();
    let staged = write_staged_parts(store, &table, "r2", &three_customer_parts()).await;
    let cancel = CancellationToken::new();
    let mut request = request_for(table, Mode::Incremental, "r2");
    request.store = Arc::new(CancelOnOpen {
        inner: store.clone(),
        trigger_key: staged.files[1].key.clone(),
        cancel: cancel.clone(),
    });
    request.staged = staged;
    request.previous_watermark = Some(committed.watermark);
    request.watermark = committed.watermark + chrono::Duration::hours(1);
    let Outcome { result, events } = load_collecting(warehouse, &request, &cancel).await;
    assert!(matches!(result, Err(WarehouseError::Cancelled)), "{result:?}");
    let (index, status, _) = finished_statements(&events).pop().unwrap();
    assert_eq!(
        (submitted_label(&events, index).as_str(), status),
        ("COPY 3 staged files into stage", StatementStatus::Aborted)
    );
    assert_eq!(warehouse.last_commit("customers").await.unwrap(), Some(committed), "the commit stays");
}

/// SQLite: a trigger on `customers` that adds a row `ghost` whenever `C8` is inserted — a
/// change to the target besides the load's own, which the reconciliation must catch.
pub const SQLITE_GHOST_TRIGGER: &str = "CREATE TRIGGER \"ghost\" AFTER INSERT ON \"customers\" \
    WHEN NEW.\"customer_id\" = 'C8' BEGIN INSERT INTO \"customers\" (\"customer_id\") VALUES ('ghost'); END";

/// PostgreSQL (and the Redshift stand-in, which runs on it): [`SQLITE_GHOST_TRIGGER`]'s trigger.
pub const POSTGRES_GHOST_TRIGGER: &str = "CREATE FUNCTION ghost() RETURNS trigger LANGUAGE plpgsql AS $$ \
    BEGIN IF NEW.customer_id = 'C8' THEN INSERT INTO customers (customer_id) VALUES ('ghost'); END IF; \
    RETURN NULL; END $$; \
    CREATE TRIGGER ghost AFTER INSERT ON customers FOR EACH ROW EXECUTE FUNCTION ghost();";

/// An incremental load of [`three_customer_parts`] (delete `C1`, insert `C8` and `C9`) into a
/// `customers` that holds `C1`, `C2` and `C3` and carries the ghost trigger (the caller arranges
/// both, with [`SQLITE_GHOST_TRIGGER`] or [`POSTGRES_GHOST_TRIGGER`]): the target ends one row
/// over `before + new keys − deleted keys present`, so the load fails at the reconciliation
/// check naming every number (Redshift reads them back from the failed batch), and its commit
/// record is not written. The caller proves the target unchanged.
pub async fn an_incremental_load_whose_rows_do_not_add_up_is_rolled_back(
    warehouse: &dyn Warehouse,
    store: Arc<dyn ObjectStore>,
) {
    let committed = warehouse.last_commit("customers").await.unwrap().expect("customers has a commit");
    let table = customers_table();
    let staged = stage_files(store.as_ref(), &table, "ghostly", &three_customer_parts()).await;
    let mut request = request_for(table, Mode::Incremental, "ghostly");
    request.staged = staged;
    request.store = store;
    request.previous_watermark = Some(committed.watermark);
    request.watermark = committed.watermark + chrono::Duration::hours(1);
    let message = failed_reconciliation(warehouse, &request).await;
    let numbers = "before 3 + new keys 2 − deleted keys present 1 = expected 4, but after the change the \
                   target holds 5 rows";
    assert!(message.contains(numbers), "every number of the check is named: {message}");
    assert_eq!(warehouse.last_commit("customers").await.unwrap(), Some(committed), "the commit stays");
}

/// A full load of `customers` (which must have a commit) whose staged set claims 3 upserts while
/// its files hold 2: the target would hold 2 rows, not the 3 the export folded to, so the load
/// fails at the reconciliation check and leaves the committed run in place. Returns the message.
/// For warehouses whose COPY reads the staged files itself (Redshift): SQLite and PostgreSQL
/// read them through dynashift, which refuses such a set at the COPY already.
pub async fn a_full_load_short_of_the_exports_items_is_rolled_back(
    warehouse: &dyn Warehouse,
    store: Arc<dyn ObjectStore>,
) -> String {
    let committed = warehouse.last_commit("customers").await.unwrap().expect("customers has a commit");
    let table = customers_table();
    let parts = three_customer_parts()[1..].to_vec();
    let mut staged = stage_files(store.as_ref(), &table, "short", &parts).await;
    staged.upserts += 1;
    let mut request = request_for(table, Mode::Full, "short");
    request.staged = staged;
    request.store = store;
    request.previous_watermark = Some(committed.watermark);
    request.watermark = committed.watermark + chrono::Duration::hours(1);
    let message = failed_reconciliation(warehouse, &request).await;
    assert!(message.contains("the export folded to 3 items, but the target holds 2 rows"), "{message}");
    assert_eq!(warehouse.last_commit("customers").await.unwrap(), Some(committed), "the commit stays");
    message
}

/// Loads `request`, which must fail at the reconciliation check; returns the check's message.
async fn failed_reconciliation(warehouse: &dyn Warehouse, request: &LoadRequest) -> String {
    let result = load_collecting(warehouse, request, &CancellationToken::new()).await.result;
    let Err(WarehouseError::Statement { label, message, .. }) = result else {
        panic!("a load whose counts do not add up must fail at a statement: {result:?}");
    };
    assert_eq!(label, crate::warehouse::reconcile::CHECK_LABEL, "{message}");
    assert!(message.contains("rolled back"), "{message}");
    message
}

/// `customers` with `deletes = "soft"`.
pub fn soft_customers_table() -> crate::config::TableConfig {
    crate::config::TableConfig { deletes: crate::config::Deletes::Soft, ..customers_table() }
}

/// Stages `parts` for `customers` (soft) and loads them in `mode`, continuing from the committed
/// watermark one hour on (the first load at 2024-05-01T00:00:00Z).
async fn sync_soft(
    warehouse: &dyn Warehouse,
    store: &Arc<dyn ObjectStore>,
    mode: Mode,
    run_id: &str,
    parts: &[Vec<String>],
) -> Result<LoadReport, WarehouseError> {
    let table = soft_customers_table();
    let staged = stage_files(store.as_ref(), &table, run_id, parts).await;
    let mut request = request_for(table, mode, run_id);
    request.staged = staged;
    request.store = store.clone();
    let previous = warehouse.last_commit("customers").await.unwrap().map(|c| c.watermark);
    request.previous_watermark = previous;
    request.watermark =
        previous.map_or(super::at("2024-05-01T00:00:00Z"), |w| w + chrono::Duration::hours(1));
    load_collecting(warehouse, &request, &CancellationToken::new()).await.result
}

/// `(customer_id, dynashift_deleted_at)` of every row of `customers`, by key, the time as
/// RFC 3339 UTC with microseconds (`2024-05-01T02:00:00.123456Z`); `None` for a live row.
pub type Marks = Vec<(String, Option<String>)>;

/// Soft deletes on an empty warehouse, read back through `marks`: a first full load creates
/// the target with `dynashift_deleted_at`; a delete marks its row with its write time and the row
/// stays; deleting it again keeps the first time; re-inserting it clears the mark; a full sync
/// marks every row missing from the export with the export time (its watermark).
pub async fn soft_deletes_mark_rows_and_reinserts_clear_them<F, Fut>(
    warehouse: &dyn Warehouse,
    store: Arc<dyn ObjectStore>,
    marks: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Marks>,
{
    let table = soft_customers_table();
    let upsert = |id: &str| line(&table, "U", &[("customer_id", &format!("\"{id}\"")), ("name", "\"n\"")]);
    let delete = |id: &str, micros: &str| {
        line(&table, "D", &[("customer_id", &format!("\"{id}\"")), ("dynashift_ts", micros)])
    };
    let live = |id: &str| (id.to_owned(), None);
    let gone = |id: &str, at: &str| (id.to_owned(), Some(at.to_owned()));
    let seed = [vec![upsert("C1"), upsert("C2"), upsert("C3")]];
    sync_soft(warehouse, &store, Mode::Full, "soft-seed", &seed).await.unwrap();
    assert_eq!(marks().await, [live("C1"), live("C2"), live("C3")]);

    let changes = [vec![delete("C1", "1714528800123456"), upsert("C8")]];
    let report = sync_soft(warehouse, &store, Mode::Incremental, "soft-2", &changes).await.unwrap();
    let c1_deleted = gone("C1", "2024-05-01T02:00:00.123456Z");
    assert_eq!(marks().await, [c1_deleted.clone(), live("C2"), live("C3"), live("C8")]);
    assert_eq!(report.target_rows, 3, "the marked row stays, and the load reports live rows");

    sync_soft(warehouse, &store, Mode::Incremental, "soft-3", &[vec![delete("C1", "1714532400000000")]])
        .await
        .unwrap();
    assert_eq!(marks().await[0], c1_deleted, "a second delete keeps the first time");
    sync_soft(warehouse, &store, Mode::Incremental, "soft-4", &[vec![upsert("C1")]]).await.unwrap();
    assert_eq!(marks().await[0], live("C1"), "a re-insert clears the mark");

    sync_soft(warehouse, &store, Mode::Full, "soft-5", &[vec![upsert("C2")]]).await.unwrap();
    let export = "2024-05-01T04:00:00.000000Z";
    assert_eq!(marks().await, [gone("C1", export), live("C2"), gone("C3", export), gone("C8", export)]);
}

/// The columns `customers` plus a `nickname` column lacks in `warehouse`, whose `customers`
/// target the caller loaded (from [`crate::testkit::customers_table`]); before that, checks
/// that a target not created yet lacks nothing (the load creates it whole) and that the loaded
/// target lacks nothing for the table it was loaded from. The caller checks the ALTER TABLE in
/// its warehouse's SQL.
pub async fn columns_added_to_tables_toml_are_found_missing(
    warehouse: &dyn Warehouse,
) -> Vec<crate::warehouse::target_columns::MissingColumn> {
    use crate::warehouse::target_columns::missing_columns;
    let mut absent = customers_table();
    absent.target.table = "never_loaded".into();
    assert_eq!(warehouse.target_columns(&absent).await.unwrap(), None);
    assert!(missing_columns(warehouse, &customers_table()).await.unwrap().is_empty());
    let mut widened = customers_table();
    widened.columns.push(crate::testkit::column("nickname", "nickname", "varchar(32)", false));
    missing_columns(warehouse, &widened).await.unwrap()
}
