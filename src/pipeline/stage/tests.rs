//! End-to-end tests of the stage step: exports written in the AWS layout into a local store,
//! staged, and the staged output read back.

use std::sync::Arc;

use pretty_assertions::assert_eq;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::testing::{
    ExportFixture, PrefixedStore, delete_line, full_line, order, orders_table, staged_text, store_in,
    table_with, upsert_line,
};
use super::*;
use crate::config::{Mode, TypeErrorPolicy};
use crate::ddb::Item;
use crate::pipeline::RunEvent;
use crate::source::exports::ExistingExports;
use crate::source::layout::{LayoutExport, write_export};
use crate::source::{ExportSource as _, PlanRequest};
use crate::store::LocalStore;

mod drift;
mod spill;

struct Staged {
    set: StagedSet,
    counts: StageCounts,
    drift: DriftReport,
    events: Vec<EventKind>,
}

async fn run_stage(
    store: Arc<dyn ObjectStore>,
    table: TableConfig,
    exports: Vec<ExportDescription>,
) -> Result<Staged, StageError> {
    run_stage_with(store, table, exports, CancellationToken::new()).await
}

async fn run_stage_with(
    store: Arc<dyn ObjectStore>,
    table: TableConfig,
    exports: Vec<ExportDescription>,
    cancel: CancellationToken,
) -> Result<Staged, StageError> {
    run_stage_as("run-1", store, table, exports, StageRules::EXACT, cancel).await
}

async fn run_stage_as(
    run_id: &str,
    store: Arc<dyn ObjectStore>,
    table: TableConfig,
    exports: Vec<ExportDescription>,
    rules: StageRules,
    cancel: CancellationToken,
) -> Result<Staged, StageError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<RunEvent>();
    let input = StageInput {
        run_id: run_id.into(),
        table: Arc::new(table),
        exports,
        store,
        events: EventSink::new(run_id, "orders", tx),
        cancel,
        rules,
    };
    let super::Staged { set, counts, drift } = stage_counting_drift(input).await?;
    let events = std::iter::from_fn(|| rx.try_recv().ok()).map(|e| e.kind).collect();
    Ok(Staged { set, counts, drift, events })
}

/// Every staged row, sorted by (order_id, line).
async fn rows(store: &LocalStore, set: &StagedSet) -> Vec<Value> {
    let mut rows = Vec::new();
    for file in &set.files {
        let text = staged_text(&file.key, &store.get(&file.key).await.unwrap());
        assert_eq!(text.lines().count() as u64, file.rows, "{}", file.key);
        rows.extend(text.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()));
    }
    rows.sort_by_key(|row| (row["order_id"].as_str().unwrap_or_default().to_owned(), row["line"].as_i64()));
    rows
}

fn ops(rows: &[Value]) -> Vec<(String, String, Value)> {
    rows.iter()
        .map(|r| {
            (
                r["order_id"].as_str().unwrap().to_owned(),
                r["dynashift_op"].as_str().unwrap().to_owned(),
                r["total"].clone(),
            )
        })
        .collect()
}

fn op(id: &str, op: &str, total: Option<&str>) -> (String, String, Value) {
    (id.into(), op.into(), total.map_or(Value::Null, |t| Value::String(t.into())))
}

fn shared(store: &LocalStore) -> Arc<dyn ObjectStore> {
    Arc::new(store.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_export_stages_every_item_as_map_item_does() {
    let (_dir, store) = store_in();
    let items = [order("a", 1, "10.5"), order("b", 2, "20"), order("c", 3, "0.01")];
    let export = ExportFixture::full("full1")
        .file(&[full_line(&items[0]), full_line(&items[1])])
        .empty_file()
        .file(&[full_line(&items[2])])
        .write(&store)
        .await;
    let table = orders_table();
    let staged = run_stage(shared(&store), table.clone(), vec![export]).await.unwrap();

    let rows = rows(&store, &staged.set).await;
    assert_eq!(rows.len(), 3);
    let columns = staged_columns(&table);
    for (row, item) in rows.iter().zip(&items) {
        let item: Item = serde_json::from_str(item).unwrap();
        let expected = map_item(&table, &item).unwrap();
        assert_eq!(row["dynashift_op"], "U");
        assert_eq!(row["dynashift_ts"], Value::Null);
        for (column, value) in columns[2..].iter().zip(&expected) {
            assert_eq!(row[column], serde_json::from_str::<Value>(value.get()).unwrap(), "{column}");
        }
    }
    assert_eq!((staged.counts.items_read, staged.counts.upserts, staged.counts.deletes), (3, 3, 0));
    assert_eq!((staged.counts.files_done, staged.counts.files_total), (3, 3));
    assert_eq!((staged.set.upserts, staged.set.deletes), (3, 0));
    assert!(staged.counts.bytes_in > 0 && staged.counts.bytes_out > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_the_copy_manifest_and_jsonpaths_beside_the_parts() {
    let (_dir, store) = store_in();
    let export = ExportFixture::full("full2").file(&[full_line(&order("a", 1, "1"))]).write(&store).await;
    let staged = run_stage(shared(&store), orders_table(), vec![export]).await.unwrap();
    let set = &staged.set;
    assert_eq!(set.manifest_key, "orders/staged/run-1/copy.manifest");
    assert_eq!(set.jsonpaths_key, "orders/staged/run-1/jsonpaths.json");
    assert_eq!(set.columns, staged_columns(&orders_table()));
    assert_eq!(set.files[0].key, "orders/staged/run-1/part-00000.json.lz4");
    let manifest: Value = serde_json::from_slice(&store.get(&set.manifest_key).await.unwrap()).unwrap();
    let entries = manifest["entries"].as_array().unwrap();
    assert_eq!(entries.len(), set.files.len());
    assert_eq!(entries[0]["url"], store.url_of(&set.files[0].key));
    assert_eq!(entries[0]["meta"]["content_length"], store.get(&set.files[0].key).await.unwrap().len());
    let jsonpaths: Value = serde_json::from_slice(&store.get(&set.jsonpaths_key).await.unwrap()).unwrap();
    assert_eq!(jsonpaths["jsonpaths"][0], "$['dynashift_op']");
    assert_eq!(jsonpaths["jsonpaths"].as_array().unwrap().len(), set.columns.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_started_verified_progress_and_finished() {
    let (_dir, store) = store_in();
    let export =
        ExportFixture::full("full3").file(&[full_line(&order("a", 1, "1"))]).empty_file().write(&store).await;
    let staged = run_stage(shared(&store), orders_table(), vec![export]).await.unwrap();
    let events = &staged.events;
    assert_eq!(events[0], EventKind::StagingStarted { files_total: 2, exports: 1 });
    let verified: Vec<(u64, bool)> = events
        .iter()
        .filter_map(|e| match e {
            EventKind::FileVerified { items, md5_checked, .. } => Some((*items, *md5_checked)),
            _ => None,
        })
        .collect();
    assert_eq!(verified.len(), 2);
    assert!(verified.contains(&(1, true)) && verified.contains(&(0, true)));
    assert!(events.iter().any(|e| matches!(e, EventKind::StagingProgress { .. })));
    match events.last().unwrap() {
        EventKind::StagingFinished { counts, staged_files, manifest_url } => {
            assert_eq!(counts.upserts, 1);
            assert_eq!(*staged_files, 1);
            assert!(manifest_url.ends_with("orders/staged/run-1/copy.manifest"));
        }
        other => panic!("last event {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_checksum_mismatch_is_a_warning_and_the_export_stages() {
    let (_dir, store) = store_in();
    let export = ExportFixture::full("full9").file(&[full_line(&order("a", 1, "1"))]).write(&store).await;
    store
        .put("exports/AWSDynamoDB/full9/manifest-summary.md5", b"y+zg5fVeudb3R3DOQ+RKgA==".to_vec())
        .await
        .unwrap();
    let staged = run_stage(shared(&store), orders_table(), vec![export]).await.unwrap();
    assert_eq!(staged.counts.upserts, 1);
    let warning = staged.events.iter().find_map(|e| match e {
        EventKind::Warning { message } => Some(message.clone()),
        _ => None,
    });
    let warning = warning.expect("a warning about the summary's checksum");
    assert!(
        warning.contains("manifest-summary.json") && warning.contains("y+zg5fVeudb3R3DOQ+RKgA=="),
        "{warning}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_window_wins_and_older_changes_are_superseded() {
    let (_dir, store) = store_in();
    let older = ExportFixture::incremental("inc1")
        .file(&[upsert_line(10, "a", 1, &order("a", 1, "1")), upsert_line(11, "b", 1, &order("b", 1, "1"))])
        .file(&[delete_line(12, "c", 1, true), upsert_line(13, "d", 1, &order("d", 1, "4"))])
        .write(&store)
        .await;
    let newer = ExportFixture::incremental("inc2")
        .file(&[upsert_line(20, "a", 1, &order("a", 1, "2")), delete_line(21, "b", 1, true)])
        .write(&store)
        .await;
    let staged = run_stage(shared(&store), orders_table(), vec![older, newer]).await.unwrap();
    let rows = rows(&store, &staged.set).await;
    assert_eq!(
        ops(&rows),
        [op("a", "U", Some("2")), op("b", "D", None), op("c", "D", None), op("d", "U", Some("4"))]
    );
    assert_eq!(rows[0]["dynashift_ts"], 20);
    assert_eq!(rows[1]["dynashift_ts"], 21);
    assert_eq!(rows[2]["dynashift_ts"], 12);
    assert_eq!(staged.counts.superseded, 2);
    assert_eq!((staged.counts.items_read, staged.counts.upserts, staged.counts.deletes), (6, 2, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_then_reinsert_and_insert_then_delete_across_windows() {
    let (_dir, store) = store_in();
    let first = ExportFixture::incremental("w1")
        .file(&[delete_line(1, "x", 1, true), upsert_line(2, "y", 1, &order("y", 1, "5"))])
        .write(&store)
        .await;
    let second = ExportFixture::incremental("w2")
        .file(&[upsert_line(3, "x", 1, &order("x", 1, "7")), delete_line(4, "y", 1, true)])
        .write(&store)
        .await;
    let staged = run_stage(shared(&store), orders_table(), vec![first, second]).await.unwrap();
    assert_eq!(ops(&rows(&store, &staged.set).await), [op("x", "U", Some("7")), op("y", "D", None)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_image_view_deletes_have_only_keys() {
    let (_dir, store) = store_in();
    let export = ExportFixture::incremental("ni")
        .file(&[delete_line(5, "gone", 3, false), upsert_line(6, "kept", 1, &order("kept", 1, "1"))])
        .write(&store)
        .await;
    let staged = run_stage(shared(&store), orders_table(), vec![export]).await.unwrap();
    let rows = rows(&store, &staged.set).await;
    assert_eq!(rows[0]["order_id"], "gone");
    assert_eq!(rows[0]["line"], 3);
    assert_eq!(rows[0]["dynashift_op"], "D");
    assert_eq!(rows[0]["item"], Value::Null);
    assert_eq!(staged.counts.deletes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_twice_in_one_export_fails() {
    let (_dir, store) = store_in();
    let same_file = ExportFixture::incremental("dup1")
        .file(&[upsert_line(1, "a", 1, &order("a", 1, "1")), delete_line(2, "a", 1, true)])
        .write(&store)
        .await;
    let error = run_stage(shared(&store), orders_table(), vec![same_file]).await.err().unwrap();
    assert!(matches!(error, StageError::DuplicateKey { .. }), "{error}");
    let two_files = ExportFixture::incremental("dup2")
        .file(&[upsert_line(1, "a", 1, &order("a", 1, "1"))])
        .file(&[delete_line(2, "a", 1, true)])
        .write(&store)
        .await;
    let error = run_stage(shared(&store), orders_table(), vec![two_files]).await.err().unwrap();
    assert!(matches!(error, StageError::DuplicateKey { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_roll_over_and_hold_every_row_once() {
    let (_dir, store) = store_in();
    let lines: Vec<String> = (0..200).map(|i| full_line(&order(&format!("o{i:03}"), i, "1"))).collect();
    let export = ExportFixture::full("big").file(&lines[..100]).file(&lines[100..]).write(&store).await;
    let table = table_with(|t| t.staged_file_bytes = 8 * 1024);
    let staged = run_stage(shared(&store), table, vec![export]).await.unwrap();
    assert!(staged.set.files.len() > 4, "{} parts", staged.set.files.len());
    let rows = rows(&store, &staged.set).await;
    let ids: Vec<String> = rows.iter().map(|r| r["order_id"].as_str().unwrap().to_owned()).collect();
    let expected: Vec<String> = (0..200).map(|i| format!("o{i:03}")).collect();
    assert_eq!(ids, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_exports_stage_one_empty_part() {
    let (_dir, store) = store_in();
    let export = ExportFixture::incremental("empty").empty_file().empty_file().write(&store).await;
    let staged = run_stage(shared(&store), orders_table(), vec![export]).await.unwrap();
    assert_eq!(staged.set.files.len(), 1);
    assert_eq!(staged.set.files[0].rows, 0);
    assert!(rows(&store, &staged.set).await.is_empty());
    assert_eq!(staged.counts.files_done, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_attempt_of_the_run_is_cleared() {
    let (_dir, store) = store_in();
    store.put("orders/staged/run-1/part-00009.json.gz", b"stale".to_vec()).await.unwrap();
    let export = ExportFixture::full("again").file(&[full_line(&order("a", 1, "1"))]).write(&store).await;
    run_stage(shared(&store), orders_table(), vec![export]).await.unwrap();
    assert_eq!(store.head("orders/staged/run-1/part-00009.json.gz").await.unwrap(), None);
}

/// Rewrites an export's `manifest-files.json` (dropping its `.md5`, which would no longer match).
async fn tamper_manifest(store: &LocalStore, fixture: &ExportFixture, change: impl Fn(&mut Value)) {
    let key = format!("{}manifest-files.json", fixture.folder());
    let text = String::from_utf8(store.get(&key).await.unwrap()).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let mut entry: Value = serde_json::from_str(line).unwrap();
        change(&mut entry);
        out.push_str(&format!("{entry}\n"));
    }
    store.put(&key, out.into_bytes()).await.unwrap();
    store.delete(&format!("{}manifest-files.md5", fixture.folder())).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_count_mismatch_fails_naming_the_file() {
    let (_dir, store) = store_in();
    let fixture = ExportFixture::full("count").file(&[full_line(&order("a", 1, "1"))]);
    let export = fixture.write(&store).await;
    tamper_manifest(&store, &fixture, |e| e["itemCount"] = 2.into()).await;
    // Keep the summary consistent with the tampered entries, so the data file check is reached.
    let summary_key = export.manifest_summary_key.clone().unwrap();
    let mut summary: Value = serde_json::from_slice(&store.get(&summary_key).await.unwrap()).unwrap();
    summary["itemCount"] = 2.into();
    store.put(&summary_key, summary.to_string().into_bytes()).await.unwrap();
    store.delete(&format!("{}manifest-summary.md5", fixture.folder())).await.unwrap();
    let error = run_stage(shared(&store), orders_table(), vec![export]).await.err().unwrap();
    match &error {
        StageError::CountMismatch { key, expected: 2, actual: 1 } => assert_eq!(key, &fixture.data_key(0)),
        other => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_md5_mismatch_fails_naming_the_file() {
    let (_dir, store) = store_in();
    let fixture = ExportFixture::full("md5").file(&[full_line(&order("a", 1, "1"))]);
    let export = fixture.write(&store).await;
    tamper_manifest(&store, &fixture, |e| e["md5Checksum"] = "y+zg5fVeudb3R3DOQ+RKgA==".into()).await;
    let error = run_stage(shared(&store), orders_table(), vec![export]).await.err().unwrap();
    assert!(
        matches!(&error, StageError::Md5Mismatch { key, expected, .. } if key == &fixture.data_key(0) && expected == "y+zg5fVeudb3R3DOQ+RKgA=="),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_without_md5_are_checked_by_count_only() {
    let (_dir, store) = store_in();
    let fixture = ExportFixture::full("nomd5").file(&[full_line(&order("a", 1, "1"))]);
    let export = fixture.write(&store).await;
    tamper_manifest(&store, &fixture, |e| {
        e.as_object_mut().unwrap().remove("md5Checksum");
    })
    .await;
    let staged = run_stage(shared(&store), orders_table(), vec![export]).await.unwrap();
    assert!(staged.events.iter().any(|e| matches!(e, EventKind::FileVerified { md5_checked: false, .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_data_file_fails() {
    let (_dir, store) = store_in();
    let fixture = ExportFixture::full("gone").file(&[full_line(&order("a", 1, "1"))]);
    let export = fixture.write(&store).await;
    store.delete(&fixture.data_key(0)).await.unwrap();
    let error = run_stage(shared(&store), orders_table(), vec![export]).await.err().unwrap();
    assert!(matches!(&error, StageError::MissingDataFile { key } if key == &fixture.data_key(0)), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_gzip_fails() {
    let (_dir, store) = store_in();
    let export =
        ExportFixture::full("corrupt").raw_file(b"\x1f\x8b\x08\x00garbage".to_vec()).write(&store).await;
    let error = run_stage(shared(&store), orders_table(), vec![export]).await.err().unwrap();
    assert!(matches!(error, StageError::CorruptGzip { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_fails_with_its_line_number() {
    let (_dir, store) = store_in();
    let fixture = ExportFixture::full("badjson").file(&[full_line(&order("a", 1, "1")), "{\"Item\":".into()]);
    let export = fixture.write(&store).await;
    let error = run_stage(shared(&store), orders_table(), vec![export]).await.err().unwrap();
    assert!(
        matches!(&error, StageError::InvalidJson { key, line: 2, .. } if key == &fixture.data_key(0)),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_that_are_not_export_lines_fail() {
    let (_dir, store) = store_in();
    let export = ExportFixture::full("shape").file(&[r#"{"Thing":{}}"#]).write(&store).await;
    let error = run_stage(shared(&store), orders_table(), vec![export]).await.err().unwrap();
    assert!(matches!(error, StageError::NotAnItem { line: 1, .. }), "{error}");
    let no_key = ExportFixture::full("nokey").file(&[r#"{"Item":{"pk":{"S":"a"}}}"#]).write(&store).await;
    let error = run_stage(shared(&store), orders_table(), vec![no_key]).await.err().unwrap();
    assert!(error.to_string().contains("no key attribute `sk`"), "{error}");
    let bad_ts = ExportFixture::incremental("badts")
        .file(&[r#"{"Metadata":{"WriteTimestampMicros":{"S":"x"}},"Keys":{"pk":{"S":"a"},"sk":{"N":"1"}}}"#])
        .write(&store)
        .await;
    let error = run_stage(shared(&store), orders_table(), vec![bad_ts]).await.err().unwrap();
    assert!(error.to_string().contains("WriteTimestampMicros"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ion_exports_are_not_supported() {
    let (_dir, store) = store_in();
    let export = ExportFixture::full("ion").format("ION").empty_file().write(&store).await;
    let error = run_stage(shared(&store), orders_table(), vec![export]).await.err().unwrap();
    assert!(matches!(error, StageError::UnsupportedFormat { .. }), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_errors_fail_the_stage_or_load_null_by_policy() {
    let (_dir, store) = store_in();
    let line = full_line(&order("a", 1, "1.005"));
    let export = ExportFixture::full("types").file(&[line]).write(&store).await;
    let error = run_stage(shared(&store), orders_table(), vec![export.clone()]).await.err().unwrap();
    match &error {
        StageError::Type { line: 1, error, .. } => {
            assert_eq!(
                (error.table.as_str(), error.path.as_str(), error.value.as_str()),
                ("orders", "detail.total", r#"{"N":"1.005"}"#)
            );
            assert_eq!(error.column_type, "decimal(12,2)");
            assert!(error.item_key.contains(r#""a""#));
        }
        other => panic!("{other}"),
    }
    let lenient = table_with(|t| t.on_type_error = TypeErrorPolicy::Null);
    let staged = run_stage(shared(&store), lenient, vec![export]).await.unwrap();
    assert_eq!(staged.counts.nulled_values, 1);
    assert_eq!(rows(&store, &staged.set).await[0]["total"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_sets_must_be_one_full_or_only_incrementals() {
    let (_dir, store) = store_in();
    let full = ExportFixture::full("f1").empty_file().write(&store).await;
    let incremental = ExportFixture::incremental("i1").empty_file().write(&store).await;
    for exports in [vec![], vec![full.clone(), incremental.clone()], vec![full.clone(), full.clone()]] {
        let error = run_stage(shared(&store), orders_table(), exports).await.err().unwrap();
        assert!(matches!(error, StageError::InvalidExportSet { .. }), "{error}");
    }
    let mut running = incremental;
    running.status = crate::source::ExportStatus::InProgress;
    let error = run_stage(shared(&store), orders_table(), vec![running]).await.err().unwrap();
    assert!(error.to_string().contains("not completed"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_before_staging_stops_it() {
    let (_dir, store) = store_in();
    let export = ExportFixture::full("c1").file(&[full_line(&order("a", 1, "1"))]).write(&store).await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let error = run_stage_with(shared(&store), orders_table(), vec![export], cancel).await.err().unwrap();
    assert!(matches!(error, StageError::Cancelled), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_is_honoured_inside_a_file() {
    let (_dir, store) = store_in();
    let lines: Vec<String> = (0..5000).map(|i| full_line(&order(&format!("o{i}"), i, "1"))).collect();
    let export = ExportFixture::full("c2").file(&lines).write(&store).await;
    let cancel = CancellationToken::new();
    let cancelling: Arc<dyn ObjectStore> =
        Arc::new(PrefixedStore::cancelling_on_open(store.clone(), cancel.clone()));
    let error = run_stage_with(cancelling, orders_table(), vec![export], cancel).await.err().unwrap();
    assert!(matches!(error, StageError::Cancelled), "{error}");
}

/// The `events` table reading exports from the bucket root (an empty `exports` prefix).
fn events_table_at_the_bucket_root() -> TableConfig {
    table_with(|t| {
        t.name = "events".into();
        t.source = crate::config::SourceConfig::Exports { prefix: String::new() };
    })
}

/// The `exports` source finds exports at the bucket root, and the stage step reads their files
/// (moved here from the source's tests: it drives both sides).
#[tokio::test]
async fn exports_at_the_bucket_root_are_found_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let w = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 1, 14, 10, 0, 0).unwrap();
    let store = Arc::new(LocalStore::new(dir.path()));
    let source = ExistingExports::new(&events_table_at_the_bucket_root(), store.clone()).unwrap();
    let spec = ExportSpec::Full { export_time: w };
    let files = vec![vec![r#"{"Item":{"id":{"S":"1"}}}"#.to_owned()], Vec::new()];
    let layout = LayoutExport {
        prefix: "",
        export_id: "01768385930622-efd1a093",
        table_arn: "arn:aws:dynamodb:eu-north-1:123456789012:table/events",
        table_id: "cf263806-6bf1-4e51-a242-7067dcdecc72",
        bucket: "acme",
        spec: &spec,
        start_time: w,
        end_time: w,
        files: &files,
        billed_size_bytes: 0,
    };
    let written = write_export(store.as_ref(), &layout).await.unwrap();
    let plan = source.plan(PlanRequest { mode: Mode::Full, watermark: None }).await.unwrap();
    let existing = plan.exports[0].existing.clone().unwrap();
    assert_eq!(
        existing.manifest_summary_key.as_deref(),
        Some("AWSDynamoDB/01768385930622-efd1a093/manifest-summary.json")
    );
    assert_eq!(existing.export_arn, written.export_arn);
    let files = manifest::read_export(store.as_ref(), &existing).await.unwrap();
    assert_eq!(files.files.len(), 2);
    assert!(files.files[0].key.starts_with("AWSDynamoDB/01768385930622-efd1a093/data/"));
}
