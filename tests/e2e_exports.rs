//! The `exports` source on a hand-made export set in the exact AWS layout: a full export, then two
//! incremental exports whose data files share one `AWSDynamoDB/data/` folder, covering an insert,
//! an update that removes an attribute, a delete (with and without images), a re-insert and empty
//! data files. The manifests below are written by hand, the way DynamoDB writes them.

use std::path::Path;
use std::sync::Arc;

use rusqlite::types::Value;

use dynashift::config::{self, Mode, TableConfig};
use dynashift::pipeline::events::RunOutcome;
use dynashift::pipeline::{Engine, RunRequest};
use dynashift::store::LocalStore;
use dynashift::warehouse::sqlite::SqliteWarehouse;

mod common;
mod moto_support;
mod people_exports;

use people_exports::{
    PREFIX, exports_engine, people_config, shared_data_key, write_data_file, write_manifests,
};

async fn write_export_set(store: &LocalStore) {
    let full = "01768384800000-aaaaaaaa";
    let files = vec![
        write_data_file(
            store,
            &format!("{PREFIX}/AWSDynamoDB/{full}/data/full1aaaaaaaaaaaaaaaaaaaaa.json.gz"),
            &[
                r#"{"Item":{"id":{"S":"1"},"name":{"S":"Ann"},"nickname":{"S":"Annie"},"age":{"N":"30"}}}"#,
                r#"{"Item":{"age":{"N":"40"},"name":{"S":"Bob"},"id":{"S":"2"}}}"#,
            ],
        )
        .await,
        write_data_file(
            store,
            &format!("{PREFIX}/AWSDynamoDB/{full}/data/full2aaaaaaaaaaaaaaaaaaaaa.json.gz"),
            &[r#"{"Item":{"id":{"S":"3"},"name":{"S":"Cy"}}}"#],
        )
        .await,
        write_data_file(
            store,
            &format!("{PREFIX}/AWSDynamoDB/{full}/data/full3aaaaaaaaaaaaaaaaaaaaa.json.gz"),
            &[],
        )
        .await,
    ];
    let times = r#""exportTime":"2026-01-14T10:00:00.000Z""#;
    write_manifests(store, full, (times, ""), &files, |_| {}).await;

    // Incremental 1, NEW_AND_OLD_IMAGES: insert 4, update 1 removing its nickname, delete 2.
    let first = "01768387500000-bbbbbbbb";
    let files = vec![
        write_data_file(store, &shared_data_key("inc1aaaaaaaaaaaaaaaaaaaaaa"), &[
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768385100000000"}},"Keys":{"id":{"S":"4"}},"NewImage":{"id":{"S":"4"},"name":{"S":"Dee"},"age":{"N":"21"}}}"#,
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768385200000000"}},"Keys":{"id":{"S":"1"}},"OldImage":{"id":{"S":"1"},"name":{"S":"Ann"},"nickname":{"S":"Annie"},"age":{"N":"30"}},"NewImage":{"id":{"S":"1"},"name":{"S":"Ann"},"age":{"N":"30"}}}"#,
        ])
        .await,
        write_data_file(store, &shared_data_key("inc1bbbbbbbbbbbbbbbbbbbbbb"), &[
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768385300000000"}},"Keys":{"id":{"S":"2"}},"OldImage":{"id":{"S":"2"},"name":{"S":"Bob"},"age":{"N":"40"}}}"#,
        ])
        .await,
        write_data_file(store, &shared_data_key("inc1cccccccccccccccccccccc"), &[]).await,
    ];
    let times = r#""exportFromTime":"2026-01-14T10:00:00.000Z","exportToTime":"2026-01-14T10:15:00.000Z""#;
    let extra = r#","outputView":"NEW_AND_OLD_IMAGES","exportType":"INCREMENTAL_EXPORT""#;
    write_manifests(store, first, (times, extra), &files, |_| {}).await;

    // Incremental 2, NEW_IMAGE: 4 ages, 3 is deleted (keys only), 2 comes back.
    let second = "01768388400000-cccccccc";
    let files = vec![
        write_data_file(store, &shared_data_key("inc2aaaaaaaaaaaaaaaaaaaaaa"), &[
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768386000000000"}},"Keys":{"id":{"S":"4"}},"NewImage":{"id":{"S":"4"},"name":{"S":"Dee"},"age":{"N":"22"}}}"#,
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768386100000000"}},"Keys":{"id":{"S":"3"}}}"#,
        ])
        .await,
        write_data_file(store, &shared_data_key("inc2bbbbbbbbbbbbbbbbbbbbbb"), &[
            r#"{"Metadata":{"WriteTimestampMicros":{"N":"1768386200000000"}},"Keys":{"id":{"S":"2"}},"NewImage":{"id":{"S":"2"},"name":{"S":"Bob"},"age":{"N":"41"}}}"#,
        ])
        .await,
    ];
    let times = r#""exportFromTime":"2026-01-14T10:15:00.000Z","exportToTime":"2026-01-14T10:30:00.000Z""#;
    let extra = r#","outputView":"NEW_IMAGE","exportType":"INCREMENTAL_EXPORT""#;
    write_manifests(store, second, (times, extra), &files, |_| {}).await;
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
    sync_noting_spill(engine, events, mode).await.0
}

/// [`sync`], and the partitions its stage spilled into (0: none, or no stage).
async fn sync_noting_spill(
    engine: &Engine,
    events: &mut tokio::sync::mpsc::UnboundedReceiver<dynashift::pipeline::RunEvent>,
    mode: Mode,
) -> (RunOutcome, u64) {
    let handle = engine.start("people", RunRequest { mode, dry_run: false }).unwrap();
    let mut spilled = 0;
    while let Some(event) = events.recv().await {
        if let dynashift::pipeline::EventKind::StagingFinished { counts, .. } = &event.kind {
            spilled = counts.spill_partitions;
        }
        if event.is_terminal() {
            break;
        }
    }
    (handle.join.await.unwrap().expect("the run succeeds"), spilled)
}

type Events = tokio::sync::mpsc::UnboundedReceiver<dynashift::pipeline::RunEvent>;

/// The hand-made export set in a fresh folder, behind an engine with the exports source.
async fn engine_over_the_export_set(dir: &Path) -> (Engine, Events, Arc<SqliteWarehouse>, TableConfig) {
    engine_with_stage_memory(dir, None).await
}

/// [`engine_over_the_export_set`], with the stage's memory budget set in bytes (`Some(1)`: every
/// incremental stage spills its fold to disk).
async fn engine_with_stage_memory(
    dir: &Path,
    stage_memory_bytes: Option<u64>,
) -> (Engine, Events, Arc<SqliteWarehouse>, TableConfig) {
    let text = people_config("", "");
    let mut config = config::load_str(&text, &dir.join("tables.toml")).expect("a valid config");
    if let Some(bytes) = stage_memory_bytes {
        config.tables[0].stage_memory_bytes = bytes;
    }
    let table: TableConfig = config.tables[0].clone();
    let store = Arc::new(LocalStore::new(dir.join("bucket")));
    write_export_set(&store).await;
    let warehouse = Arc::new(SqliteWarehouse::open(&dir.join("warehouse.sqlite")).unwrap());
    let (engine, events) = exports_engine(config, store.clone(), warehouse.clone());
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
    apply_the_hand_made_export_set(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_set_applies_the_same_when_the_incremental_fold_spills_to_disk() {
    apply_the_hand_made_export_set(Some(1)).await;
}

async fn apply_the_hand_made_export_set(stage_memory_bytes: Option<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let (engine, mut events, warehouse, table) =
        engine_with_stage_memory(dir.path(), stage_memory_bytes).await;
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

    let (incremental, spilled) = sync_noting_spill(&engine, &mut events, Mode::Incremental).await;
    assert_eq!(spilled > 0, stage_memory_bytes.is_some(), "spilled into {spilled} partitions");
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

// ---- a real-looking export set at the bucket root, driven through the binary ---------------------

mod bucket_root {
    use std::path::{Path, PathBuf};
    use std::process::Output;

    use crate::common::{exits, stdout};

    use chrono::{DateTime, Duration, TimeZone, Utc};
    use rusqlite::types::Value;

    use dynashift::config::{TargetTable, ViewType};
    use dynashift::source::ExportSpec;
    use dynashift::source::layout::{LayoutExport, write_export};
    use dynashift::store::{LocalStore, ObjectStore};
    use dynashift::warehouse::sqlite::SqliteWarehouse;

    const TABLE_ARN: &str = "arn:aws:dynamodb:eu-north-1:123456789123:table/test";
    const BUCKET: &str = "test-1231x1x";

    /// No `prefix`: AWS's default export, `AWSDynamoDB/` right under the bucket.
    const CONFIG: &str = r#"
[defaults]
source = "exports"
bucket = "file://bucket"

[warehouse]
kind = "sqlite"
path = "warehouse.sqlite"

[[table]]
name = "test"
mode = "incremental"
key = ["pk"]
columns = [
  { name = "pk", type = "varchar(16)" },
  { name = "name", type = "varchar(64)" },
  { name = "age", type = "integer" },
]
"#;

    fn at(h: u32, m: u32, s: u32, ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 14, h, m, s).unwrap() + Duration::milliseconds(ms)
    }

    fn micros(t: DateTime<Utc>) -> i64 {
        t.timestamp_micros()
    }

    fn upsert(t: DateTime<Utc>, pk: &str, name: &str, age: i64) -> String {
        format!(
            r#"{{"Metadata":{{"WriteTimestampMicros":{{"N":"{}"}}}},"Keys":{{"pk":{{"S":"{pk}"}}}},"NewImage":{{"pk":{{"S":"{pk}"}},"name":{{"S":"{name}"}},"age":{{"N":"{age}"}}}}}}"#,
            micros(t)
        )
    }

    fn delete(t: DateTime<Utc>, pk: &str) -> String {
        format!(
            r#"{{"Metadata":{{"WriteTimestampMicros":{{"N":"{}"}}}},"Keys":{{"pk":{{"S":"{pk}"}}}},"OldImage":{{"pk":{{"S":"{pk}"}},"name":{{"S":"x"}}}}}}"#,
            micros(t)
        )
    }

    /// Writes one export at the bucket root as AWS does (`s3Prefix: null`, bucket-relative keys,
    /// versions 2020-06-30 / 2023-08-01, an empty 20-byte gzip file in every export).
    async fn export(
        store: &dyn ObjectStore,
        id: &str,
        spec: ExportSpec,
        started: DateTime<Utc>,
        lines: Vec<String>,
    ) {
        let files = vec![lines, Vec::new()];
        let layout = LayoutExport {
            prefix: "",
            export_id: id,
            table_arn: TABLE_ARN,
            table_id: "cf263806-6bf1-4e51-a242-7067dcdecc72",
            bucket: BUCKET,
            spec: &spec,
            start_time: started,
            end_time: started + Duration::minutes(5),
            files: &files,
            billed_size_bytes: 10_000_000,
        };
        write_export(store, &layout).await.unwrap();
    }

    /// A full export at a sub-second time, then two incremental exports made by hand at whole
    /// minutes: the 69 s from 10:18:50.622 to 10:20:00 are in no export.
    async fn export_set(dir: &Path) -> (PathBuf, LocalStore) {
        let config = dir.join("tables.toml");
        std::fs::write(&config, CONFIG).unwrap();
        let store = LocalStore::new(dir.join("bucket"));
        write_set(&store).await;
        (config, store)
    }

    /// [`export_set`] in a fresh folder, its full export loaded through the binary.
    async fn fully_loaded() -> (tempfile::TempDir, PathBuf, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let (config, store) = export_set(dir.path()).await;
        exits(&dynashift(&config, &["--mode", "full"]), 0);
        (dir, config, store)
    }

    /// The export set of [`export_set`], into any store.
    pub async fn write_set(store: &dyn ObjectStore) {
        let full = ExportSpec::Full { export_time: at(10, 18, 50, 622) };
        let items = vec![
            r#"{"Item":{"pk":{"S":"1"},"name":{"S":"Ann"},"age":{"N":"30"}}}"#.to_owned(),
            r#"{"Item":{"age":{"N":"40"},"name":{"S":"Bob"},"pk":{"S":"2"}}}"#.to_owned(),
        ];
        export(store, "01768385930622-efd1a093", full, at(10, 18, 50, 622), items).await;
        let view_type = ViewType::NewAndOldImages;
        let first = ExportSpec::Incremental { from: at(10, 20, 0, 0), to: at(10, 35, 0, 0), view_type };
        let lines = vec![upsert(at(10, 25, 0, 0), "1", "Ann", 31), delete(at(10, 30, 0, 0), "2")];
        export(store, "01768387224000-d339e52d", first, at(10, 35, 24, 0), lines).await;
        let second = ExportSpec::Incremental { from: at(10, 35, 0, 0), to: at(10, 50, 0, 0), view_type };
        let lines = vec![upsert(at(10, 40, 0, 0), "3", "Cy", 50)];
        export(store, "01768388124000-a1b2c3d4", second, at(10, 50, 24, 0), lines).await;
    }

    fn dynashift(config: &Path, args: &[&str]) -> Output {
        let headless = ["--headless", "--table", "test"];
        crate::common::binary(config).args(headless).args(args).output().expect("run dynashift")
    }

    fn rows(dir: &Path) -> Vec<Vec<Value>> {
        let warehouse = SqliteWarehouse::open(&dir.join("warehouse.sqlite")).unwrap();
        let target = TargetTable { schema: None, table: "test".into() };
        warehouse.query_rows(&target).unwrap().unwrap().rows
    }

    fn row(pk: &str, name: &str, age: i64) -> Vec<Value> {
        vec![Value::Text(pk.into()), Value::Text(name.into()), Value::Integer(age)]
    }

    const COMMAND: &str = "aws dynamodb export-table-to-point-in-time --table-arn arn:aws:dynamodb:eu-north-1:123456789123:table/test \
        --s3-bucket test-1231x1x --export-format DYNAMODB_JSON --export-type INCREMENTAL_EXPORT \
        --incremental-export-specification ExportFromTime=2026-01-14T10:18:50Z,ExportToTime=2026-01-14T10:33:50Z,\
        ExportViewType=NEW_AND_OLD_IMAGES";

    #[tokio::test]
    async fn a_bucket_root_set_loads_refuses_the_gap_and_applies_it_when_accepted() {
        let (dir, config, _store) = fully_loaded().await;
        assert_eq!(rows(dir.path()), vec![row("1", "Ann", 30), row("2", "Bob", 40)]);

        let refused = exits(&dynashift(&config, &[]), 1);
        assert!(
            refused.contains("gap from 2026-01-14 10:18:50.622Z to 2026-01-14 10:20:00.000Z"),
            "{refused}"
        );
        assert!(refused.contains(COMMAND), "{refused}");
        assert!(refused.contains("--accept-gap") && !refused.contains("request a new export"), "{refused}");
        assert_eq!(rows(dir.path()), vec![row("1", "Ann", 30), row("2", "Bob", 40)], "nothing changed");

        let accepted = exits(&dynashift(&config, &["--accept-gap", "--json"]), 0);
        let gap = r#""event":"gap_accepted","from":"2026-01-14T10:18:50.622Z","to":"2026-01-14T10:20:00Z""#;
        assert!(accepted.contains(gap), "{accepted}");
        let summary = accepted.lines().last().unwrap();
        assert!(
            summary.contains(
                r#""accepted_gaps":[{"from":"2026-01-14T10:18:50.622Z","to":"2026-01-14T10:20:00Z"}]"#
            ),
            "{summary}"
        );
        assert_eq!(rows(dir.path()), vec![row("1", "Ann", 31), row("3", "Cy", 50)]);
        let journals = std::fs::read_dir(dir.path().join("bucket/test/_state/runs")).unwrap();
        let recorded =
            journals.map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap()).any(|journal| {
                journal.contains(r#""accepted_gaps": ["#) && journal.contains("2026-01-14T10:18:50.622Z")
            });
        assert!(recorded, "the journal records the accepted gap");

        let again = exits(&dynashift(&config, &[]), 0);
        assert!(again.contains("up to date"), "{again}");
        assert_eq!(rows(dir.path()), vec![row("1", "Ann", 31), row("3", "Cy", 50)]);

        // The only full export is older than the watermark (10:50): no silent time travel.
        let back = exits(&dynashift(&config, &["--mode", "full"]), 1);
        assert!(
            back.contains("2026-01-14 10:18:50.622Z") && back.contains("2026-01-14 10:50:00.000Z"),
            "{back}"
        );
        assert!(back.contains("back in time") && back.contains("--force"), "{back}");
        assert_eq!(rows(dir.path()), vec![row("1", "Ann", 31), row("3", "Cy", 50)], "nothing changed");
        exits(&dynashift(&config, &["--mode", "full", "--force"]), 0);
        assert_eq!(rows(dir.path()), vec![row("1", "Ann", 30), row("2", "Bob", 40)]);
    }

    /// A run that accepted a gap and was killed before it committed is resumed by the next run,
    /// which applies the same exports and records the same gap, without being told again.
    #[tokio::test]
    async fn a_resumed_run_keeps_the_gap_it_accepted() {
        let (dir, config, _store) = fully_loaded().await;
        let crashed = crate::common::binary(&config)
            .args(["--headless", "--table", "test", "--accept-gap"])
            .env("DYNASHIFT_FAULT", "crash-after:staged")
            .output()
            .expect("run dynashift");
        assert!(!crashed.status.success(), "{}", stdout(&crashed));
        assert_eq!(rows(dir.path()), vec![row("1", "Ann", 30), row("2", "Bob", 40)]);

        let resumed = exits(&dynashift(&config, &["--json"]), 0);
        assert!(resumed.contains(r#""event":"resuming""#), "{resumed}");
        assert!(resumed.contains(r#""event":"gap_accepted","from":"2026-01-14T10:18:50.622Z""#), "{resumed}");
        assert!(resumed.lines().last().unwrap().contains(r#""accepted_gaps":[{"#), "{resumed}");
        assert_eq!(rows(dir.path()), vec![row("1", "Ann", 31), row("3", "Cy", 50)]);
    }

    /// Following the refusal's command: an export covering the gap overlaps the next one, and the
    /// two disagree on keys; the newest write per key wins, a delete included.
    #[tokio::test]
    async fn the_covering_export_the_refusal_asks_for_folds_with_the_overlapping_one() {
        let (dir, config, store) = fully_loaded().await;
        exits(&dynashift(&config, &[]), 1);

        // The window the command asks for: [10:18:50, 10:33:50).
        let view_type = ViewType::NewAndOldImages;
        let covering = ExportSpec::Incremental { from: at(10, 18, 50, 0), to: at(10, 33, 50, 0), view_type };
        let lines = vec![
            upsert(at(10, 19, 0, 0), "4", "Dee", 20), // only in the gap
            upsert(at(10, 22, 0, 0), "1", "Ann", 99), // the later export has a newer write
            upsert(at(10, 21, 0, 0), "2", "Bob", 41), // updated here, deleted later there
        ];
        export(&store, "01768387990000-cafecafe", covering, at(10, 48, 10, 0), lines).await;

        let applied = exits(&dynashift(&config, &[]), 0);
        assert!(!applied.contains("gap accepted"), "{applied}");
        assert_eq!(rows(dir.path()), vec![row("1", "Ann", 31), row("3", "Cy", 50), row("4", "Dee", 20)]);
        let again = exits(&dynashift(&config, &[]), 0);
        assert!(again.contains("up to date"), "{again}");
    }
}

// ---- the same set at the root of an S3 bucket (moto) ------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_root_export_set_in_s3_loads_and_its_gap_is_accepted_knowingly() {
    use dynashift::source::PlanOptions;
    use dynashift::store::S3Store;

    let connection = moto_support::connection().await;
    let bucket = moto_support::new_bucket(&connection, "dynashift-exports").await;
    let store = Arc::new(S3Store::new(&connection, &bucket, ""));
    bucket_root::write_set(store.as_ref()).await;

    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[defaults]\nsource = \"exports\"\nbucket = \"s3://{bucket}/\"\n[warehouse]\nkind = \"sqlite\"\n\
         path = \"w.sqlite\"\n[[table]]\nname = \"test\"\nkey = [\"pk\"]\ncolumns = [{{ name = \"pk\", type = \"varchar(16)\" }}, \
         {{ name = \"age\", type = \"integer\" }}]\n"
    );
    let config = config::load_str(&text, &dir.path().join("tables.toml")).expect("a valid config");
    let table = config.tables[0].clone();
    let warehouse = Arc::new(SqliteWarehouse::open(&dir.path().join("w.sqlite")).unwrap());
    let (engine, mut events) = exports_engine(config, store, warehouse.clone());
    let mut run = async |mode, options| {
        let handle = engine.start_with("test", RunRequest { mode, dry_run: false }, options).unwrap();
        while let Some(event) = events.recv().await {
            if event.is_terminal() {
                break;
            }
        }
        handle.join.await.unwrap()
    };
    let ages = || {
        let rows = warehouse.query_rows(&table.target).unwrap().unwrap().rows;
        rows.into_iter().map(|r| r[1].clone()).collect::<Vec<_>>()
    };

    assert!(matches!(run(Mode::Full, PlanOptions::default()).await, Ok(RunOutcome::Committed { .. })));
    assert_eq!(ages(), vec![Value::Integer(30), Value::Integer(40)]);
    let refused = run(Mode::Incremental, PlanOptions::default()).await.unwrap_err();
    assert!(refused.cause.contains("--s3-bucket test-1231x1x --export-format"), "{}", refused.cause);
    let accepting = PlanOptions { accept_gap: true, force: false };
    assert!(matches!(run(Mode::Incremental, accepting).await, Ok(RunOutcome::Committed { .. })));
    assert_eq!(ages(), vec![Value::Integer(31), Value::Integer(50)]);
}
