//! `history_target` on any warehouse: one scenario every warehouse's tests run, reading the
//! history rows back their own way.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::{Deletes, Mode, TableConfig, TargetTable};
use crate::store::ObjectStore;
use crate::warehouse::Warehouse;

use super::behaviour::load_collecting;
use super::{at, customers_table, line, request_for, stage_files};

/// One history row as a test compares it: key, `op`, `written_at` (ISO-8601 UTC with
/// microseconds), `run_id`, and the image's `name` (`None`: no image, or no name in it).
pub type HistoryRow = (String, String, String, String, Option<String>);

/// `customers` with soft deletes and the history table `audit.customers_history`.
pub fn history_customers_table() -> TableConfig {
    let history = TargetTable { schema: Some("audit".into()), table: "customers_history".into() };
    TableConfig { deletes: Deletes::Soft, history_target: Some(history), ..customers_table() }
}

/// Stages `parts` for `table` and loads them in `mode`, continuing from the committed watermark
/// one hour on (the first load at 2024-05-01T00:00:00Z); panics when the load fails.
async fn sync(
    warehouse: &dyn Warehouse,
    store: &Arc<dyn ObjectStore>,
    table: &TableConfig,
    mode: Mode,
    run_id: &str,
    parts: &[Vec<String>],
) {
    let staged = stage_files(store.as_ref(), table, run_id, parts).await;
    let mut request = request_for(table.clone(), mode, run_id);
    request.staged = staged;
    request.store = store.clone();
    let previous = warehouse.last_commit(&table.name).await.unwrap().map(|c| c.watermark);
    request.previous_watermark = previous;
    request.watermark = previous.map_or(at("2024-05-01T00:00:00Z"), |w| w + chrono::Duration::hours(1));
    let outcome = load_collecting(warehouse, &request, &CancellationToken::new()).await;
    outcome.result.unwrap_or_else(|e| panic!("load {run_id} failed: {e}"));
}

fn row(id: &str, op: &str, written_at: &str, run_id: &str, name: Option<&str>) -> HistoryRow {
    (id.into(), op.into(), written_at.into(), run_id.into(), name.map(str::to_owned))
}

/// A full sync appends nothing; an incremental load appends one row per applied change: an
/// upsert of a key the target lacks (or holds marked deleted) is `insert`, of a live key
/// `modify`; a delete of a live key is `remove` with no image; a delete of an absent or already
/// deleted key appends nothing. `written_at` is the change's write time, or the load's watermark
/// for a change staged without one. `history` reads every row ordered by run and key.
pub async fn history_holds_each_applied_change<F, Fut>(
    warehouse: &dyn Warehouse,
    store: Arc<dyn ObjectStore>,
    history: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<HistoryRow>>,
{
    let table = history_customers_table();
    let upsert = |id: &str, micros: &str| {
        line(
            &table,
            "U",
            &[("customer_id", &format!("\"{id}\"")), ("name", "\"n\""), ("dynashift_ts", micros)],
        )
    };
    let delete = |id: &str, micros: &str| {
        line(&table, "D", &[("customer_id", &format!("\"{id}\"")), ("dynashift_ts", micros)])
    };
    let seed = [vec![upsert("C1", "null"), upsert("C2", "null"), upsert("C3", "null")]];
    sync(warehouse, &store, &table, Mode::Full, "h-seed", &seed).await;

    let changes = [vec![
        upsert("C1", "1714525200000001"),
        upsert("C9", "1714525200000003"),
        delete("C2", "1714525200000002"),
        delete("C7", "1714525200000004"),
    ]];
    sync(warehouse, &store, &table, Mode::Incremental, "h-2", &changes).await;
    let second = [
        row("C1", "modify", "2024-05-01T01:00:00.000001Z", "h-2", Some("n")),
        row("C2", "remove", "2024-05-01T01:00:00.000002Z", "h-2", None),
        row("C9", "insert", "2024-05-01T01:00:00.000003Z", "h-2", Some("n")),
    ];
    assert_eq!(history().await, second, "C7 was never there: its delete changed nothing");

    let changes = [vec![upsert("C2", "1714528800000000"), delete("C3", "1714528800000001")]];
    sync(warehouse, &store, &table, Mode::Incremental, "h-3", &changes).await;
    let changes = [vec![delete("C3", "1714532400000000"), upsert("C1", "null")]];
    sync(warehouse, &store, &table, Mode::Incremental, "h-4", &changes).await;
    sync(warehouse, &store, &table, Mode::Full, "h-5", &[vec![upsert("C1", "null")]]).await;
    let mut expected = second.to_vec();
    expected.extend([
        row("C2", "insert", "2024-05-01T02:00:00.000000Z", "h-3", Some("n")),
        row("C3", "remove", "2024-05-01T02:00:00.000001Z", "h-3", None),
        row("C1", "modify", "2024-05-01T03:00:00.000000Z", "h-4", Some("n")),
    ]);
    assert_eq!(
        history().await,
        expected,
        "a re-insert of a deleted key is an insert, a second delete nothing, a full sync appends nothing"
    );
}
