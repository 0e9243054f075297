//! The demo source through its public face: planning, exports written in the AWS layout, and the
//! key property that a full export plus the incremental exports after it equal a later full
//! export.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use flate2::read::MultiGzDecoder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::*;
use crate::config::ViewType;
use crate::ddb::line::LineMetadata;
use crate::ddb::{AttributeValue, ItemKey, ManifestFileEntry, ManifestSummary};
use crate::source::ExportStatus;
use crate::store::LocalStore;
use crate::testkit::TableBuilder;

struct Fixture {
    _dir: tempfile::TempDir,
    settings: DemoSettings,
    store: Arc<LocalStore>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with_duration(StdDuration::ZERO)
    }

    fn with_duration(export_duration: StdDuration) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let settings = DemoSettings {
            state_dir: dir.path().join("demo"),
            seed: 42,
            speed: 0.0,
            initial_items: 40,
            writes_per_hour: 240,
            export_duration,
        };
        let store = Arc::new(LocalStore::new(dir.path().join("bucket")));
        Fixture { _dir: dir, settings, store }
    }

    fn open(&self, name: &str) -> DemoSource {
        DemoSource::open(&self.settings, Arc::new(table(name)), self.store.clone()).unwrap()
    }
}

fn table(name: &str) -> TableConfig {
    catalog_key(name)
        .unwrap_or(&["id"])
        .iter()
        .fold(TableBuilder::new(name), |b, k| b.key_attribute(k))
        .build()
}

fn target() -> ExportTarget {
    ExportTarget { prefix: "orders/exports".into() }
}

/// A data line of either kind, with every part that may appear.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnyLine {
    #[serde(rename = "Item")]
    item: Option<Item>,
    #[serde(rename = "Metadata")]
    metadata: Option<LineMetadata>,
    #[serde(rename = "Keys")]
    keys: Option<Item>,
    #[serde(rename = "OldImage")]
    old_image: Option<Item>,
    #[serde(rename = "NewImage")]
    new_image: Option<Item>,
}

/// What a completed export holds, read back from the store through its manifests.
struct ReadExport {
    summary: ManifestSummary,
    entries: Vec<ManifestFileEntry>,
    lines: Vec<AnyLine>,
}

async fn read_export(store: &LocalStore, description: &ExportDescription) -> ReadExport {
    let summary_key = description.manifest_summary_key.as_deref().expect("a completed export has a summary");
    let summary: ManifestSummary = serde_json::from_slice(&store.get(summary_key).await.unwrap()).unwrap();
    let files = store.get(summary.manifest_files_s3_key.as_deref().unwrap()).await.unwrap();
    let entries: Vec<ManifestFileEntry> =
        String::from_utf8(files).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut lines = Vec::new();
    for entry in &entries {
        let gz = store.get(entry.data_file_s3_key.as_deref().unwrap()).await.unwrap();
        let mut text = String::new();
        MultiGzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
        assert_eq!(text.lines().count() as u64, entry.item_count.unwrap());
        lines.extend(text.lines().map(|l| serde_json::from_str::<AnyLine>(l).unwrap()));
    }
    ReadExport { summary, entries, lines }
}

/// Starts an export and polls it to completion.
async fn export(source: &DemoSource, spec: ExportSpec, token: &str) -> ExportDescription {
    let arn = source.start_export(&spec, &target(), token).await.unwrap();
    let description = source.describe_export(&arn).await.unwrap();
    assert_eq!(description.status, ExportStatus::Completed, "export_duration is zero");
    description
}

fn orders_key() -> Vec<String> {
    vec!["pk".into(), "sk".into()]
}

fn by_key(items: impl IntoIterator<Item = Item>) -> BTreeMap<ItemKey, Item> {
    items.into_iter().map(|item| (ItemKey::of(&item, &orders_key()).unwrap(), item)).collect()
}

/// Applies incremental lines to `state`, checking each line against the AWS rules on the way.
fn apply(
    state: &mut BTreeMap<ItemKey, Item>,
    lines: Vec<AnyLine>,
    window: (DateTime<Utc>, DateTime<Utc>),
    view: ViewType,
) {
    let mut seen = std::collections::BTreeSet::new();
    for line in lines {
        assert!(line.item.is_none(), "incremental lines carry no Item");
        let keys = line.keys.expect("every incremental line has Keys");
        let key = ItemKey::of(&keys, &orders_key()).unwrap();
        assert!(seen.insert(key.clone()), "one line per key per export: {key}");
        let AttributeValue::N(micros) =
            line.metadata.expect("every line has Metadata").write_timestamp_micros
        else {
            panic!("WriteTimestampMicros is a number")
        };
        let micros: i64 = micros.parse().unwrap();
        assert!((window.0.timestamp_micros()..window.1.timestamp_micros()).contains(&micros));
        match view {
            ViewType::NewAndOldImages => {
                assert_eq!(line.old_image.as_ref(), state.get(&key), "OldImage of {key}")
            }
            ViewType::NewImage => assert!(line.old_image.is_none(), "NEW_IMAGE never carries OldImage"),
        }
        match line.new_image {
            Some(image) => state.insert(key, image),
            None => state.remove(&key),
        };
    }
}

#[tokio::test]
async fn only_catalog_tables_with_their_key_open() {
    let fixture = Fixture::new();
    let open =
        |config: TableConfig| DemoSource::open(&fixture.settings, Arc::new(config), fixture.store.clone());
    let err = open(table("invoices")).err().expect("invoices is not in the catalog");
    assert!(err.to_string().contains("it simulates orders, customers"), "{err}");
    let mut wrong_key = table("orders");
    wrong_key.key = vec!["pk".into()];
    let err = open(wrong_key).err().expect("orders has a composite key");
    assert!(err.to_string().contains(r#"set key = ["pk", "sk"]"#), "{err}");
    assert!(open(table("customers")).is_ok());
    assert_eq!(CATALOG, &["orders", "customers"]);
}

#[tokio::test]
async fn plans_a_full_sync_then_incremental_windows_as_the_clock_moves() {
    let fixture = Fixture::new();
    let source = fixture.open("orders");
    assert!(source.supports(Mode::Full) && source.supports(Mode::Incremental));
    let now = source.now().await.unwrap();
    let full = source.plan(PlanRequest { mode: Mode::Full, watermark: None }).await.unwrap();
    let watermark = now - Duration::minutes(5);
    assert_eq!(full.exports[0].spec, ExportSpec::Full { export_time: watermark });

    let err = source.plan(PlanRequest { mode: Mode::Incremental, watermark: None }).await.unwrap_err();
    assert!(matches!(err, SourceError::NeedsFullSync { .. }));

    let request = PlanRequest { mode: Mode::Incremental, watermark: Some(watermark) };
    let early = source.plan(request).await.unwrap();
    assert!(early.exports.is_empty() && early.notes.iter().any(|n| n.contains("up to date")), "{early:?}");

    source.advance(Duration::hours(30)).await.unwrap();
    let later = source.plan(request).await.unwrap();
    let windows: Vec<_> = later.exports.iter().map(|p| p.spec.clone()).collect();
    assert_eq!(
        windows,
        vec![
            ExportSpec::Incremental {
                from: watermark,
                to: watermark + Duration::hours(24),
                view_type: ViewType::NewAndOldImages
            },
            ExportSpec::Incremental {
                from: watermark + Duration::hours(24),
                to: watermark + Duration::hours(30),
                view_type: ViewType::NewAndOldImages
            },
        ]
    );
}

#[tokio::test]
async fn a_watermark_out_of_the_recovery_window_needs_a_full_sync() {
    let fixture = Fixture::new();
    let source = fixture.open("customers");
    let start = source.now().await.unwrap();
    source.advance(Duration::days(36)).await.unwrap();
    let request = PlanRequest { mode: Mode::Incremental, watermark: Some(start) };
    let err = source.plan(request).await.unwrap_err();
    assert!(matches!(err, SourceError::OutsideRecoveryWindow { .. }), "{err}");
}

#[tokio::test]
async fn the_same_client_token_returns_the_same_export() {
    let fixture = Fixture::with_duration(StdDuration::from_secs(3600));
    let source = fixture.open("orders");
    let at = source.now().await.unwrap() - Duration::minutes(10);
    let spec = ExportSpec::Full { export_time: at };
    let first = source.start_export(&spec, &target(), "token-1").await.unwrap();
    assert_eq!(source.start_export(&spec, &target(), "token-1").await.unwrap(), first);
    let other = source.start_export(&spec, &target(), "token-2").await.unwrap();
    assert_ne!(other, first);
    let (prefix, id) = first.rsplit_once("/export/").unwrap();
    assert_eq!(prefix, "arn:aws:dynamodb:us-east-1:000000000000:table/orders");
    assert_eq!(id.len(), 23);
    assert_eq!(&id[..14], &format!("{:014}", source.now().await.unwrap().timestamp_millis()));

    let different = ExportSpec::Full { export_time: at - Duration::minutes(1) };
    let err = source.start_export(&different, &target(), "token-1").await.unwrap_err();
    assert!(err.to_string().starts_with("ExportConflictException"), "{err}");
}

#[tokio::test]
async fn exports_outside_the_restorable_range_are_refused() {
    let fixture = Fixture::new();
    let source = fixture.open("orders");
    let now = source.now().await.unwrap();
    for spec in [
        ExportSpec::Full { export_time: now - Duration::minutes(4) },
        // The demo's recovery window is the last 35 days (as if PITR had been on all along).
        ExportSpec::Full { export_time: now - Duration::days(35) - Duration::minutes(1) },
    ] {
        let err = source.start_export(&spec, &target(), "t").await.unwrap_err();
        assert!(err.to_string().starts_with("InvalidExportTimeException"), "{spec}: {err}");
    }
}

#[tokio::test]
async fn an_export_completes_lazily_once_its_duration_has_passed() {
    let fixture = Fixture::with_duration(StdDuration::from_millis(400));
    let source = fixture.open("orders");
    let spec = ExportSpec::Full { export_time: source.now().await.unwrap() - Duration::minutes(5) };
    let arn = source.start_export(&spec, &target(), "lazy").await.unwrap();
    let pending = source.describe_export(&arn).await.unwrap();
    assert_eq!(pending.status, ExportStatus::InProgress);
    assert_eq!((pending.manifest_summary_key, pending.item_count), (None, None));
    assert!(
        fixture.store.list("orders/exports/").await.unwrap().is_empty(),
        "nothing is written while in progress"
    );

    tokio::time::sleep(StdDuration::from_millis(450)).await;
    // Another instance (as after a restart) finds the request on disk and completes it.
    let restarted = fixture.open("orders");
    let done = restarted.describe_export(&arn).await.unwrap();
    assert_eq!(done.status, ExportStatus::Completed);
    assert_eq!(done.item_count, Some(source.items_at(spec.watermark()).await.unwrap().len() as u64));
    let objects = fixture.store.list("orders/exports/").await.unwrap();
    let again = source.describe_export(&arn).await.unwrap();
    assert_eq!(again, done);
    assert_eq!(fixture.store.list("orders/exports/").await.unwrap(), objects, "completed exactly once");
}

#[tokio::test]
async fn unknown_export_arns_are_not_found() {
    let fixture = Fixture::new();
    let source = fixture.open("orders");
    for arn in [
        "arn:aws:dynamodb:us-east-1:000000000000:table/orders/export/01768386924000-d339e52d",
        "arn:aws:dynamodb:us-east-1:000000000000:table/customers/export/01768386924000-d339e52d",
        "not an arn",
    ] {
        let err = source.describe_export(arn).await.unwrap_err();
        assert!(err.to_string().starts_with("ExportNotFoundException"), "{arn}: {err}");
    }
}

#[tokio::test]
async fn a_full_export_has_the_aws_layout_and_every_item_at_its_time() {
    let fixture = Fixture::new();
    let source = fixture.open("orders");
    let export_time = source.now().await.unwrap() - Duration::minutes(7);
    let description = export(&source, ExportSpec::Full { export_time }, "full").await;
    let export_id = description.export_arn.rsplit_once("/export/").unwrap().1.to_owned();
    let base = format!("orders/exports/AWSDynamoDB/{export_id}");
    assert_eq!(description.manifest_summary_key.as_deref(), Some(&*format!("{base}/manifest-summary.json")));
    assert!(fixture.store.head(&format!("{base}/_started")).await.unwrap().is_some());

    let read = read_export(&fixture.store, &description).await;
    assert!((2..=4).contains(&read.entries.len()), "{} data files", read.entries.len());
    for entry in &read.entries {
        assert!(entry.data_file_s3_key.as_deref().unwrap().starts_with(&format!("{base}/data/")));
    }
    assert_eq!(
        read.summary.export_time.as_deref(),
        Some(&*crate::source::layout::manifest_time(export_time))
    );
    assert_eq!(
        read.summary.table_arn.as_deref(),
        Some("arn:aws:dynamodb:us-east-1:000000000000:table/orders")
    );
    assert_eq!(read.summary.s3_bucket.as_deref(), Some("bucket"));
    let items: Vec<Item> = read.lines.into_iter().map(|l| l.item.expect("full lines carry Item")).collect();
    let expected = source.items_at(export_time).await.unwrap();
    assert_eq!(description.item_count, Some(expected.len() as u64));
    assert!(description.billed_size_bytes.unwrap() > 0);
    assert_eq!(by_key(items), by_key(expected));
    let exports_dir = fixture.settings.state_dir.join("orders/exports");
    let leftovers: Vec<String> = std::fs::read_dir(&exports_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".json"))
        .collect();
    assert!(leftovers.is_empty(), "the data files are written aside, then removed: {leftovers:?}");
}

#[tokio::test]
async fn incremental_exports_write_their_data_into_the_shared_folder() {
    let fixture = Fixture::new();
    let source = fixture.open("orders");
    let from = source.now().await.unwrap() - Duration::minutes(5);
    source.advance(Duration::minutes(40)).await.unwrap();
    let spec =
        ExportSpec::Incremental { from, to: from + Duration::minutes(30), view_type: ViewType::NewImage };
    let description = export(&source, spec, "incremental").await;
    assert!(description.billed_size_bytes.unwrap() >= 10_000_000);
    let read = read_export(&fixture.store, &description).await;
    assert!(read.entries.len() >= 2);
    for entry in &read.entries {
        assert!(entry.data_file_s3_key.as_deref().unwrap().starts_with("orders/exports/AWSDynamoDB/data/"));
    }
    assert_eq!(read.summary.export_type.as_deref(), Some("INCREMENTAL_EXPORT"));
    assert_eq!(read.summary.output_view.as_deref(), Some("NEW_IMAGE"));
    assert!(!read.lines.is_empty(), "30 minutes at 240 writes an hour change something");
}

/// The key property: full(T0) + the incrementals of T0..T1, folded, equal full(T1), for random
/// instants and windows, in both view types.
#[tokio::test]
async fn a_full_export_plus_later_incrementals_equals_a_later_full_export() {
    let fixture = Fixture::new();
    let source = fixture.open("orders");
    let start = source.now().await.unwrap();
    source.advance(Duration::hours(12)).await.unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    for round in 0..4 {
        let view = if round % 2 == 0 { ViewType::NewAndOldImages } else { ViewType::NewImage };
        let t0 = start - Duration::minutes(50) + Duration::seconds(rng.random_range(0..4 * 3600));
        let full = export(&source, ExportSpec::Full { export_time: t0 }, &format!("full-{round}")).await;
        let mut state =
            by_key(read_export(&fixture.store, &full).await.lines.into_iter().map(|l| l.item.unwrap()));
        let mut from = t0;
        for window in 0..rng.random_range(1..4) {
            let to = from + Duration::seconds(rng.random_range(15 * 60..5 * 3600));
            let spec = ExportSpec::Incremental { from, to, view_type: view };
            let description = export(&source, spec, &format!("inc-{round}-{window}")).await;
            apply(&mut state, read_export(&fixture.store, &description).await.lines, (from, to), view);
            from = to;
        }
        let full_later =
            export(&source, ExportSpec::Full { export_time: from }, &format!("full-later-{round}")).await;
        let expected =
            by_key(read_export(&fixture.store, &full_later).await.lines.into_iter().map(|l| l.item.unwrap()));
        assert_eq!(state.len(), expected.len(), "round {round}");
        assert!(
            state == expected,
            "round {round}: folded incrementals differ from the full export at {from}"
        );
    }
}

#[tokio::test]
async fn describe_names_the_table_and_state_folder() {
    let fixture = Fixture::new();
    let source = fixture.open("customers");
    let text = source.describe();
    assert!(
        text.starts_with("demo table customers")
            && text.contains(&*fixture.settings.state_dir.to_string_lossy())
    );
    assert!(Path::new(&fixture.settings.state_dir).join("clock.json").exists());
}

#[test]
fn table_ids_are_stable_and_shaped_like_uuids() {
    let id = table_id(42, "orders");
    assert_eq!(id, table_id(42, "orders"));
    assert_ne!(id, table_id(42, "customers"));
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, vec![8, 4, 4, 4, 12]);
}

#[tokio::test]
async fn a_retried_start_finds_its_export_even_after_the_instant_has_aged() {
    let fixture = Fixture::with_duration(StdDuration::from_secs(3600));
    let source = fixture.open("orders");
    let spec = ExportSpec::Full { export_time: source.now().await.unwrap() - Duration::minutes(50) };
    let arn = source.start_export(&spec, &target(), "retry").await.unwrap();
    source.advance(Duration::days(40)).await.unwrap();
    assert_eq!(source.start_export(&spec, &target(), "retry").await.unwrap(), arn);
    let err = source.start_export(&spec, &target(), "fresh").await.unwrap_err();
    assert!(err.to_string().starts_with("InvalidExportTimeException"), "{err}");
}

#[tokio::test]
async fn completing_an_export_compacts_history_past_the_recovery_period() {
    let mut fixture = Fixture::new();
    fixture.settings.writes_per_hour = 2;
    let source = fixture.open("orders");
    let created = source.now().await.unwrap();
    source.advance(Duration::days(60)).await.unwrap();
    let export_time = source.now().await.unwrap() - Duration::minutes(7);
    let description = export(&source, ExportSpec::Full { export_time }, "after-60-days").await;

    let folder = fixture.settings.state_dir.join("orders");
    assert!(folder.join("writes-1.jsonl").exists(), "24 days of writes were compacted away");
    assert!(!folder.join("writes.jsonl").exists());
    let read = read_export(&fixture.store, &description).await;
    let items = read.lines.into_iter().map(|l| l.item.unwrap());
    assert_eq!(by_key(items), by_key(source.items_at(export_time).await.unwrap()));
    let err = source.items_at(created).await.unwrap_err().to_string();
    assert!(err.contains("compacted away"), "{err}");
}
