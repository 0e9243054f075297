//! The model test of "nothing lost, nothing doubled": random workloads × a crash (process abort,
//! like kill -9 or a power cut) at every stage boundary and inside the load × several seeds.
//! After each crash the next run must recover — resuming the interrupted run where it can — and
//! the warehouse must equal the demo table at the committed watermark; a crash before the load's
//! commit must leave the watermark where it was.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use dynashift::config;
use dynashift::source::demo::DemoSource;
use dynashift::store::{LocalStore, ObjectStore};
use dynashift::warehouse::Warehouse;
use dynashift::warehouse::sqlite::SqliteWarehouse;

use common::{expected_rows, fast_demo_config};

/// Where a run is made to crash. Statement numbers are those of the SQLite incremental plan:
/// 6 = the COPY into the stage table, 9 = the commit record, 12 = COMMIT (data and watermark
/// are in; only the journal does not know yet).
const CRASH_POINTS: &[&str] = &[
    "crash-after:exporting",
    "crash-after:exported",
    "crash-after:staging",
    "crash-after:staged",
    "crash-after:loading",
    "crash-in-load:6",
    "crash-in-load:9",
    "crash-in-load:12",
    "crash-after:loaded",
    "fail-after:staged",
];

const TABLE: &str = "customers";

fn run(config: &Path, mode: &str, fault: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dynashift"));
    command.arg("--config").arg(config).args(["--headless", "--table", TABLE, "--mode", mode]);
    match fault {
        Some(fault) => command.env("DYNASHIFT_FAULT", fault),
        None => command.env_remove("DYNASHIFT_FAULT"),
    };
    command.output().expect("run dynashift")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// Checks warehouse == source at the committed watermark; returns the watermark.
async fn assert_in_sync(config_path: &Path, scenario: &str) -> chrono::DateTime<chrono::Utc> {
    let config = config::load(config_path).unwrap();
    let table = config.table(TABLE).unwrap().clone();
    let config::WarehouseConfig::Sqlite { path } = &config.warehouse else { unreachable!("a SQLite demo") };
    let warehouse = SqliteWarehouse::open(path).unwrap();
    let watermark = warehouse.last_commit(TABLE).await.unwrap().expect("a commit").watermark;
    let config::StoreLocation::Local { root } = &table.store else { unreachable!() };
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(root));
    let demo = DemoSource::open(&config.demo, Arc::new(table.clone()), store).unwrap();
    let items = demo.items_at(watermark).await.unwrap();
    let mut expected = expected_rows(&table, &items);
    let mut actual = warehouse.query_rows(&table.target).unwrap().unwrap().rows;
    let key = |row: &Vec<rusqlite::types::Value>| format!("{:?}", row[0]);
    expected.sort_by_key(key);
    actual.sort_by_key(key);
    assert_eq!(actual.len(), expected.len(), "{scenario}: row count at watermark {watermark}");
    assert!(actual == expected, "{scenario}: rows differ from the source at watermark {watermark}");
    watermark
}

async fn committed_watermark(config_path: &Path) -> Option<chrono::DateTime<chrono::Utc>> {
    let config = config::load(config_path).unwrap();
    let config::WarehouseConfig::Sqlite { path } = &config.warehouse else { unreachable!("a SQLite demo") };
    SqliteWarehouse::open(path).unwrap().last_commit(TABLE).await.unwrap().map(|c| c.watermark)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_point_loses_and_doubles_nothing() {
    let mut scenarios = 0;
    for seed in [1_u64, 2, 3] {
        let dir = tempfile::tempdir().unwrap();
        let config_path = fast_demo_config(dir.path());
        let text_with_seed =
            std::fs::read_to_string(&config_path).unwrap().replace("seed = 42", &format!("seed = {seed}"));
        std::fs::write(&config_path, text_with_seed).unwrap();

        let full = run(&config_path, "full", None);
        assert_eq!(full.status.code(), Some(0), "seed {seed}: {}", text(&full));
        assert_in_sync(&config_path, &format!("seed {seed} full")).await;

        for point in CRASH_POINTS {
            let scenario = format!("seed {seed}, {point}");
            std::thread::sleep(std::time::Duration::from_millis(300));
            let before = committed_watermark(&config_path).await;
            let crashed = run(&config_path, "incremental", Some(point));
            let output = text(&crashed);
            if output.contains("up to date") {
                continue; // no window yet: nothing ran, nothing to crash
            }
            assert!(crashed.status.code() != Some(0), "{scenario}: the fault must stop the run: {output}");
            let after_crash = committed_watermark(&config_path).await;
            let committed_before_crash = *point == "crash-in-load:12" || *point == "crash-after:loaded";
            if committed_before_crash {
                assert!(after_crash > before, "{scenario}: the commit went through before the crash");
            } else {
                assert_eq!(after_crash, before, "{scenario}: no watermark move without a commit");
            }
            assert_in_sync(&config_path, &format!("{scenario} (after the crash)")).await;

            let recovered = run(&config_path, "incremental", None);
            let output = text(&recovered);
            assert_eq!(recovered.status.code(), Some(0), "{scenario}: recovery run: {output}");
            if !committed_before_crash && !point.starts_with("fail") {
                assert!(
                    output.contains("resuming run"),
                    "{scenario}: the interrupted run is resumed: {output}"
                );
            }
            let watermark = assert_in_sync(&config_path, &format!("{scenario} (recovered)")).await;
            assert!(Some(watermark) >= after_crash, "{scenario}: the watermark never goes back");
            scenarios += 1;
        }
    }
    eprintln!("crash-recovery scenarios run: {scenarios}");
    assert!(scenarios >= 20, "too few scenarios ran ({scenarios}); the demo clock may be too slow");
}
