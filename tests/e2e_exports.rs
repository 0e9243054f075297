//! The `exports` source on a hand-made export set in the exact AWS layout: a full export, then two
//! incremental exports whose data files share one `AWSDynamoDB/data/` folder, covering an insert,
//! an update that removes an attribute, a delete (with and without images), a re-insert and empty
//! data files. The manifests below are written by hand, the way DynamoDB writes them.

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use md5::{Digest, Md5};
use rusqlite::types::Value;

use dynashift::config::{self, Mode, TableConfig};
use dynashift::pipeline::events::RunOutcome;
use dynashift::pipeline::{Adapters, Engine, RunRequest, TableAdapters};
use dynashift::source::exports::ExistingExports;
use dynashift::source::layout::gzip_lines;
use dynashift::store::{LocalStore, ObjectStore};
use dynashift::warehouse::Warehouse;
use dynashift::warehouse::sqlite::SqliteWarehouse;

const PREFIX: &str = "incoming/people";
const TABLE_ARN: &str = "arn:aws:dynamodb:eu-north-1:123456789123:table/people";

const CONFIG: &str = r#"
[defaults]
bucket = "file://bucket"

[warehouse]
kind = "sqlite"
path = "warehouse.sqlite"

[[table]]
name = "people"
source = "exports"
prefix = "incoming/people"
mode = "incremental"
key = ["id"]
columns = [
  { name = "id", type = "varchar(16)" },
  { name = "name", type = "varchar(64)" },
  { name = "nickname", type = "varchar(64)" },
  { name = "age", type = "integer" },
]
"#;

/// Writes one gzip data file and returns its `manifest-files.json` line.
async fn data_file(store: &LocalStore, key: &str, lines: &[&str]) -> String {
    let bytes = gzip_lines(&lines.iter().map(|l| l.to_string()).collect::<Vec<_>>());
    let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&bytes).as_slice());
    store.put(key, bytes).await.unwrap();
    format!(r#"{{"itemCount":{},"md5Checksum":"{md5}","etag":"0-1","dataFileS3Key":"{key}"}}"#, lines.len())
}

/// Writes an export's manifests by hand; `times` is the summary's time fields.
async fn manifests(store: &LocalStore, id: &str, times: &str, extra: &str, files: &[String], items: usize) {
    let dir = format!("{PREFIX}/AWSDynamoDB/{id}");
    store.put(&format!("{dir}/_started"), Vec::new()).await.unwrap();
    store.put(&format!("{dir}/manifest-files.json"), (files.join("\n") + "\n").into_bytes()).await.unwrap();
    // Full exports carry version 2020-06-30, incremental ones 2023-08-01 (aws-facts §2.2).
    let version = if extra.contains("INCREMENTAL_EXPORT") { "2023-08-01" } else { "2020-06-30" };
    let summary = format!(
        r#"{{"version":"{version}","exportArn":"{TABLE_ARN}/export/{id}","startTime":"2026-01-14T10:40:00.000Z","endTime":"2026-01-14T10:45:00.000Z","tableArn":"{TABLE_ARN}","tableId":"cf263806-6bf1-4e51-a242-7067dcdecc72",{times},"s3Bucket":"test-bucket","s3Prefix":"{PREFIX}","s3SseAlgorithm":"AES256","s3SseKmsKeyId":null,"manifestFilesS3Key":"{dir}/manifest-files.json","billedSizeBytes":10000000,"itemCount":{items},"outputFormat":"DYNAMODB_JSON"{extra}}}"#
    );
    store.put(&format!("{dir}/manifest-summary.json"), summary.into_bytes()).await.unwrap();
}

async fn write_export_set(store: &LocalStore) {
    let full = "01768384800000-aaaaaaaa";
    let files = vec![
        data_file(
            store,
            &format!("{PREFIX}/AWSDynamoDB/{full}/data/full1aaaaaaaaaaaaaaaaaaaaa.json.gz"),
            &[
                r#"{"Item":{"id":{"S":"1"},"name":{"S":"Ann"},"nickname":{"S":"Annie"},"age":{"N":"30"}}}"#,
                r#"{"Item":{"age":{"N":"40"},"name":{"S":"Bob"},"id":{"S":"2"}}}"#,
            ],
        )
        .await,
        data_file(
            store,
            &format!("{PREFIX}/AWSDynamoDB/{full}/data/full2aaaaaaaaaaaaaaaaaaaaa.json.gz"),
            &[r#"{"Item":{"id":{"S":"3"},"name":{"S":"Cy"}}}"#],
        )
        .await,
        data_file(
            store,
            &format!("{PREFIX}/AWSDynamoDB/{full}/data/full3aaaaaaaaaaaaaaaaaaaaa.json.gz"),
            &[],
        )
        .await,
    ];
    manifests(store, full, r#""exportTime":"2026-01-14T10:00:00.000Z""#, "", &files, 3).await;

    // Incremental 1, NEW_AND_OLD_IMAGES: insert 4, update 1 removing its nickname, delete 2.
    let first = "01768387500000-bbbbbbbb";
    let files = vec![
        data_file(store, &format!("{PREFIX}/AWSDynamoDB/data/inc1aaaaaaaaaaaaaaaaaaaaaa.json.gz"), &[
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768385100000000"}},"Keys":{"id":{"S":"4"}},"NewImage":{"id":{"S":"4"},"name":{"S":"Dee"},"age":{"N":"21"}}}"#,
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768385200000000"}},"Keys":{"id":{"S":"1"}},"OldImage":{"id":{"S":"1"},"name":{"S":"Ann"},"nickname":{"S":"Annie"},"age":{"N":"30"}},"NewImage":{"id":{"S":"1"},"name":{"S":"Ann"},"age":{"N":"30"}}}"#,
        ])
        .await,
        data_file(store, &format!("{PREFIX}/AWSDynamoDB/data/inc1bbbbbbbbbbbbbbbbbbbbbb.json.gz"), &[
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768385300000000"}},"Keys":{"id":{"S":"2"}},"OldImage":{"id":{"S":"2"},"name":{"S":"Bob"},"age":{"N":"40"}}}"#,
        ])
        .await,
        data_file(store, &format!("{PREFIX}/AWSDynamoDB/data/inc1cccccccccccccccccccccc.json.gz"), &[]).await,
    ];
    let times = r#""exportFromTime":"2026-01-14T10:00:00.000Z","exportToTime":"2026-01-14T10:15:00.000Z""#;
    let extra = r#","outputView":"NEW_AND_OLD_IMAGES","exportType":"INCREMENTAL_EXPORT""#;
    manifests(store, first, times, extra, &files, 3).await;

    // Incremental 2, NEW_IMAGE: 4 ages, 3 is deleted (keys only), 2 comes back.
    let second = "01768388400000-cccccccc";
    let files = vec![
        data_file(store, &format!("{PREFIX}/AWSDynamoDB/data/inc2aaaaaaaaaaaaaaaaaaaaaa.json.gz"), &[
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768386000000000"}},"Keys":{"id":{"S":"4"}},"NewImage":{"id":{"S":"4"},"name":{"S":"Dee"},"age":{"N":"22"}}}"#,
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768386100000000"}},"Keys":{"id":{"S":"3"}}}"#,
        ])
        .await,
        data_file(store, &format!("{PREFIX}/AWSDynamoDB/data/inc2bbbbbbbbbbbbbbbbbbbbbb.json.gz"), &[
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768386200000000"}},"Keys":{"id":{"S":"2"}},"NewImage":{"id":{"S":"2"},"name":{"S":"Bob"},"age":{"N":"41"}}}"#,
        ])
        .await,
    ];
    let times = r#""exportFromTime":"2026-01-14T10:15:00.000Z","exportToTime":"2026-01-14T10:30:00.000Z""#;
    let extra = r#","outputView":"NEW_IMAGE","exportType":"INCREMENTAL_EXPORT""#;
    manifests(store, second, times, extra, &files, 3).await;
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn person(id: &str, name: &str, nickname: Option<&str>, age: Option<i64>) -> Vec<Value> {
    vec![text(id), text(name), nickname.map_or(Value::Null, text), age.map_or(Value::Null, Value::Integer)]
}

async fn sync(
    engine: &Engine,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<dynashift::pipeline::RunEvent>,
    mode: Mode,
) -> RunOutcome {
    let handle = engine.start("people", RunRequest { mode, dry_run: false }).unwrap();
    while let Some(event) = events.recv().await {
        if event.is_terminal() {
            break;
        }
    }
    handle.join.await.unwrap().expect("the run succeeds")
}

type Events = tokio::sync::mpsc::UnboundedReceiver<dynashift::pipeline::RunEvent>;

/// The hand-made export set in a fresh folder, behind an engine with the exports source.
async fn engine_over_the_export_set(dir: &Path) -> (Engine, Events, Arc<SqliteWarehouse>, TableConfig) {
    let config = config::load_str(CONFIG, &dir.join("tables.toml")).expect("a valid config");
    let table: TableConfig = config.tables[0].clone();
    let store = Arc::new(LocalStore::new(dir.join("bucket")));
    write_export_set(&store).await;
    let warehouse = Arc::new(SqliteWarehouse::open(&dir.join("warehouse.sqlite")).unwrap());
    let source = ExistingExports::new(&table, store.clone() as Arc<dyn ObjectStore>).unwrap();
    let adapters = Adapters {
        warehouse: warehouse.clone() as Arc<dyn Warehouse>,
        tables: [(
            "people".to_owned(),
            TableAdapters { source: Arc::new(source), store: store.clone() as Arc<dyn ObjectStore> },
        )]
        .into(),
    };
    let (engine, events) = Engine::new(Arc::new(config), adapters);
    (engine, events, warehouse, table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_lists_the_data_files_of_existing_exports() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, mut events, _, _) = engine_over_the_export_set(dir.path()).await;
    let handle = engine.start("people", RunRequest { mode: Mode::Full, dry_run: true }).unwrap();
    let mut notes = Vec::new();
    while let Some(event) = events.recv().await {
        if let dynashift::pipeline::EventKind::Planned { notes: planned, .. } = &event.kind {
            notes.extend(planned.clone());
        }
        if event.is_terminal() {
            break;
        }
    }
    assert_eq!(handle.join.await.unwrap(), Ok(RunOutcome::DryRun));
    let files = notes.iter().find(|n| n.contains("data files")).expect("a note listing the files");
    assert!(files.contains("3 data files, 3 items"), "{files}");
    assert!(files.contains("full1aaaaaaaaaaaaaaaaaaaaa.json.gz (2 items)"), "{files}");
    assert!(notes.iter().any(|n| n.contains("people/staged/")), "{notes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hand_made_export_set_is_applied_in_order_and_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, mut events, warehouse, table) = engine_over_the_export_set(dir.path()).await;
    let rows = || warehouse.query_rows(&table.target).unwrap().unwrap().rows;

    let full = sync(&engine, &mut events, Mode::Full).await;
    assert!(matches!(full, RunOutcome::Committed { upserts: 3, deletes: 0, target_rows: 3, .. }), "{full:?}");
    assert_eq!(
        rows(),
        vec![
            person("1", "Ann", Some("Annie"), Some(30)),
            person("2", "Bob", None, Some(40)),
            person("3", "Cy", None, None),
        ]
    );

    let incremental = sync(&engine, &mut events, Mode::Incremental).await;
    let RunOutcome::Committed { watermark, target_rows, .. } = incremental else { panic!("{incremental:?}") };
    assert_eq!(watermark.to_rfc3339(), "2026-01-14T10:30:00+00:00");
    assert_eq!(target_rows, 3);
    assert_eq!(
        rows(),
        vec![
            person("1", "Ann", None, Some(30)),
            person("2", "Bob", None, Some(41)),
            person("4", "Dee", None, Some(22)),
        ]
    );

    let again = sync(&engine, &mut events, Mode::Incremental).await;
    assert!(matches!(again, RunOutcome::UpToDate { .. }), "applied exports are skipped: {again:?}");
    assert_eq!(rows().len(), 3);
    assert!(Path::new(&dir.path().join("bucket/people/_state/watermark.json")).exists());
}
