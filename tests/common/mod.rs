//! Shared harness of the end-to-end tests: the shipped demo configuration pointed at a temporary
//! folder, the real adapters, and a way to run one sync and collect its events.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use tokio::sync::mpsc;

use dynashift::config::{
    self, ColumnType, Config, Mode, StoreLocation, TableConfig, UnmappedPolicy, WarehouseConfig,
};
use dynashift::ddb::Item;
use dynashift::pipeline::events::{EventKind, RunEvent, RunOutcome};
use dynashift::pipeline::{Adapters, Engine, RunFailure, RunRequest, TableAdapters};
use dynashift::source::ExportSource;
use dynashift::source::demo::DemoSource;
use dynashift::store::{LocalStore, ObjectStore};
use dynashift::warehouse::Warehouse;
use dynashift::warehouse::sqlite::{SqliteWarehouse, sqlite_value};

/// The repository's own `tables.toml` with every path moved under `dir`, the demo clock manual
/// (tests advance it) and exports completing at once.
pub fn demo_config(dir: &Path, initial_items: usize, writes_per_hour: u32) -> Config {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("tables.toml");
    let mut config = config::load(&shipped).expect("the shipped tables.toml is valid");
    config.demo.state_dir = dir.join("demo");
    config.demo.speed = 0.0;
    config.demo.initial_items = initial_items;
    config.demo.writes_per_hour = writes_per_hour;
    config.demo.export_duration = std::time::Duration::ZERO;
    config.warehouse = WarehouseConfig::Sqlite { path: dir.join("warehouse.sqlite") };
    config.log_file = dir.join("dynashift.log");
    for table in &mut config.tables {
        table.store = StoreLocation::Local { root: dir.join("bucket") };
    }
    config
}

/// A copy of the shipped tables.toml written into `dir`, with a demo fast enough for tests that
/// run the binary: ten simulated hours a second, small tables, exports done in 0.2 s.
pub fn fast_demo_config(dir: &Path) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tables.toml")).unwrap();
    let fast = shipped
        .lines()
        .map(|line| match line.split_whitespace().next() {
            Some("speed") => "speed = 36000.0".to_owned(),
            Some("initial_items") => "initial_items = 150".to_owned(),
            Some("export_seconds") => "export_seconds = 0.2".to_owned(),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("tables.toml");
    std::fs::write(&path, fast).unwrap();
    path
}

/// `config_path` (a copy of the shipped tables.toml) with its `[warehouse]` section's keys
/// replaced by `keys`, e.g. `kind = "postgres"` and a `url`.
pub fn with_warehouse_section(config_path: &Path, keys: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(config_path).unwrap();
    let sqlite = "kind = \"sqlite\"\npath = \".dynashift/warehouse.sqlite\"";
    assert!(text.contains(sqlite), "the shipped tables.toml has the SQLite warehouse section");
    std::fs::write(config_path, text.replacen(sqlite, keys, 1)).unwrap();
    config_path.to_path_buf()
}

/// Starts one run of `table` on `engine` and follows it to its end; returns the outcome and
/// every event of that run (events of other runs on the same channel are skipped).
pub async fn run_to_end(
    engine: &Engine,
    events: &mut mpsc::UnboundedReceiver<RunEvent>,
    table: &str,
    request: RunRequest,
) -> (Result<RunOutcome, RunFailure>, Vec<RunEvent>) {
    let handle = engine.start(table, request).expect("start the run");
    let mut run_events = Vec::new();
    while let Some(event) = events.recv().await {
        if event.run_id != handle.run_id {
            continue;
        }
        let done = event.is_terminal();
        run_events.push(event);
        if done {
            break;
        }
    }
    (handle.join.await.expect("the run task"), run_events)
}

/// A demo configuration wired to real adapters, keeping the concrete demo sources and warehouse
/// so tests can move the simulated clock and read the loaded tables.
pub struct Harness {
    pub config: Arc<Config>,
    pub store: Arc<LocalStore>,
    pub demos: HashMap<String, Arc<DemoSource>>,
    pub warehouse: Arc<SqliteWarehouse>,
    pub engine: Engine,
    events: mpsc::UnboundedReceiver<RunEvent>,
}

impl Harness {
    pub async fn new(config: Config) -> Harness {
        let config = Arc::new(config);
        let WarehouseConfig::Sqlite { path } = &config.warehouse else {
            panic!("the harness reads the loaded tables from SQLite")
        };
        let warehouse = Arc::new(SqliteWarehouse::open(path).expect("open the sqlite warehouse"));
        let StoreLocation::Local { root } = &config.tables[0].store else {
            panic!("tests use a local store")
        };
        let store = Arc::new(LocalStore::new(root));
        let mut demos = HashMap::new();
        let mut tables = HashMap::new();
        for table in &config.tables {
            let demo = Arc::new(
                DemoSource::open(
                    &config.demo,
                    Arc::new(table.clone()),
                    store.clone() as Arc<dyn ObjectStore>,
                )
                .expect("open the demo table"),
            );
            demos.insert(table.name.clone(), demo.clone());
            tables.insert(
                table.name.clone(),
                TableAdapters {
                    source: demo as Arc<dyn ExportSource>,
                    store: store.clone() as Arc<dyn ObjectStore>,
                },
            );
        }
        let adapters = Adapters { warehouse: warehouse.clone() as Arc<dyn Warehouse>, tables };
        let (engine, events) = Engine::new(config.clone(), adapters);
        Harness { config, store, demos, warehouse, engine, events }
    }

    pub fn table(&self, name: &str) -> &TableConfig {
        self.config.table(name).expect("a configured table")
    }

    /// Runs one sync to its end; returns the outcome and every event of the run.
    pub async fn sync(&mut self, table: &str, mode: Mode) -> (Result<RunOutcome, RunFailure>, Vec<RunEvent>) {
        self.run(table, RunRequest { mode, dry_run: false }).await
    }

    pub async fn run(
        &mut self,
        table: &str,
        request: RunRequest,
    ) -> (Result<RunOutcome, RunFailure>, Vec<RunEvent>) {
        run_to_end(&self.engine, &mut self.events, table, request).await
    }

    /// The committed watermark of a table, from the warehouse.
    pub async fn watermark(&self, table: &str) -> Option<DateTime<Utc>> {
        self.warehouse.last_commit(table).await.expect("read dynashift_runs").map(|c| c.watermark)
    }

    /// Asserts that the warehouse table equals the demo table's state at the committed watermark,
    /// every column and type; returns the number of rows compared.
    pub async fn assert_in_sync(&self, table: &str) -> usize {
        let config = self.table(table).clone();
        let watermark = self.watermark(table).await.expect("a committed watermark");
        let items = self.demos[table].items_at(watermark).await.expect("the demo state at the watermark");
        let mut expected = expected_rows(&config, &items);
        let loaded =
            self.warehouse.query_rows(&config.target).expect("read the target").expect("the target exists");
        let mut actual = loaded.rows;
        sort_rows(&mut expected);
        sort_rows(&mut actual);
        assert_eq!(actual.len(), expected.len(), "{table}: row count differs at watermark {watermark}");
        for (got, want) in actual.iter().zip(&expected) {
            assert_eq!(got, want, "{table}: row differs at watermark {watermark}");
        }
        expected.len()
    }
}

/// The rows a correct sync leaves in SQLite for `items`: each item mapped to its staged values
/// and converted the way the SQLite warehouse stores them.
pub fn expected_rows(table: &TableConfig, items: &[Item]) -> Vec<Vec<Value>> {
    let mut types: Vec<ColumnType> = table.columns.iter().map(|c| c.ty).collect();
    if let UnmappedPolicy::KeepItem { .. } = table.unmapped {
        types.push(ColumnType::Super);
    }
    items
        .iter()
        .map(|item| {
            let values =
                dynashift::pipeline::stage::map_item(table, item).expect("demo items fit their columns");
            values
                .iter()
                .zip(&types)
                .map(|(raw, ty)| sqlite_value(*ty, raw).expect("a storable value"))
                .collect()
        })
        .collect()
}

fn sort_rows(rows: &mut [Vec<Value>]) {
    rows.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
}

/// The outcome as `Committed`, or a panic naming what happened instead.
pub fn committed(outcome: &Result<RunOutcome, RunFailure>) -> (DateTime<Utc>, u64, u64, u64) {
    match outcome {
        Ok(RunOutcome::Committed { watermark, upserts, deletes, target_rows }) => {
            (*watermark, *upserts, *deletes, *target_rows)
        }
        other => panic!("expected a committed run, got {other:?}"),
    }
}

/// The events of one kind.
pub fn events_named<'a>(events: &'a [RunEvent], name: &str) -> Vec<&'a EventKind> {
    events
        .iter()
        .filter(|e| serde_json::to_value(&e.kind).unwrap()["event"] == name)
        .map(|e| &e.kind)
        .collect()
}

/// The binary on the tables file `config`, with no log filter from the environment; each test
/// adds its arguments and environment.
pub fn binary(config: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dynashift"));
    command.arg("--config").arg(config).env_remove("DYNASHIFT_LOG");
    command
}

/// `command` with the fixed credentials moto and the Data API stand-in accept, and nothing of the
/// machine's own AWS setup (profile, instance metadata).
pub fn with_stand_in_credentials(command: &mut std::process::Command) -> &mut std::process::Command {
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
}

/// What the process printed on stdout.
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stdout, once the process is known to have exited with `code` (the message shows both streams).
#[track_caller]
pub fn exits(output: &std::process::Output, code: i32) -> String {
    let text = stdout(output);
    assert_eq!(output.status.code(), Some(code), "{text}\n{}", String::from_utf8_lossy(&output.stderr));
    text
}
