//! The whole pipeline into PostgreSQL: a full sync of both demo tables, then rounds of (random
//! workload + incremental sync); after every round the PostgreSQL table must equal the demo
//! table's state at the committed watermark — every row, column and type. Then the binary,
//! configured with `kind = "postgres"` in its `tables.toml`, over TLS with the test server's CA.
//!
//! Needs the throwaway server `scripts/test.sh` starts (its URL in `DYNASHIFT_PG_URL`); without
//! it these tests fail, saying so. Each test has its own database.

mod common;
mod postgres_support;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

use common::{committed, demo_config, events_named, fast_demo_config};
use dynashift::config::{self, Config, Mode, PostgresTls, StoreLocation, WarehouseConfig};
use dynashift::pipeline::events::{EventKind, RunEvent, RunOutcome};
use dynashift::pipeline::stage::map_item;
use dynashift::pipeline::{Adapters, Engine, RunFailure, RunRequest, TableAdapters};
use dynashift::source::ExportSource;
use dynashift::source::demo::DemoSource;
use dynashift::store::{LocalStore, ObjectStore};
use dynashift::warehouse::Warehouse;
use dynashift::warehouse::postgres::{PgValue, PostgresWarehouse, TlsMode};
use postgres_support::{expected_rows, fresh_database, server_ca_file};

const TABLES: [&str; 2] = ["orders", "customers"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_then_incremental_rounds_keep_postgres_equal_to_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database("e2e_pg_rounds").await;
    let mut harness = PgHarness::new(postgres_demo_config(dir.path(), &url)).await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);

    for table in TABLES {
        let (outcome, events) = harness.sync(table, Mode::Full).await;
        let (_, upserts, deletes, target_rows) = committed(&outcome);
        assert_eq!((deletes, upserts), (0, target_rows), "{table}: a full load stages every item once");
        assert!(target_rows > 200, "{table}: the demo starts with its initial items");
        assert_eq!(events_named(&events, "watermark_advanced").len(), 1);
        harness.assert_in_sync(table).await;
    }

    let mut changes = 0;
    for round in 0..4 {
        // From 20 minutes (one window) to 30 hours (a catch-up of two windows).
        let minutes = if round == 2 { 30 * 60 } else { rng.random_range(20..=300) };
        for demo in harness.demos.values() {
            demo.advance(Duration::minutes(minutes)).await.expect("advance the demo clock");
        }
        for table in TABLES {
            let before = harness.watermark(table).await.expect("a watermark after the full sync");
            let (outcome, events) = harness.sync(table, Mode::Incremental).await;
            let (watermark, upserts, deletes, _) = committed(&outcome);
            assert!(watermark > before, "round {round}: the watermark of {table} moves forward");
            changes += upserts + deletes;
            let EventKind::Planned { exports, .. } = events_named(&events, "planned")[0] else {
                unreachable!()
            };
            if minutes > 24 * 60 {
                assert!(exports.len() >= 2, "a gap over 24 h is cut into several windows");
            }
            harness.assert_in_sync(table).await;
        }
    }
    assert!(changes > 50, "the workload produced changes ({changes})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_loads_into_postgres_from_tables_toml_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database("e2e_pg_binary").await;
    let ca_file = server_ca_file().await;
    let warehouse = format!(
        "kind = \"postgres\"\nurl = \"{url}\"\npassword_env = \"E2E_PG_PASSWORD\"\ntls = \"require\"\n\
         ca_file = \"{}\"",
        ca_file.display()
    );
    let config_path = with_warehouse_section(&fast_demo_config(dir.path()), &warehouse);

    // The server trusts loopback, so any password does; what matters is that the variable is read.
    let full = dynashift(&config_path, &["--headless", "--all", "--mode", "full"], Some("not-checked"));
    assert_eq!(full.status.code(), Some(0), "{}", output_text(&full));
    assert!(output_text(&full).contains("OK      orders: committed"), "{}", output_text(&full));

    let config = config::load(&config_path).expect("the written tables.toml is valid");
    let warehouse = PostgresWarehouse::connect(&url, TlsMode::Disable).await.unwrap();
    for table in &config.tables {
        let commit = warehouse.last_commit(&table.name).await.unwrap();
        assert!(commit.is_some(), "{}: dynashift_runs records the full sync", table.name);
        let rows = warehouse.query_rows(&table.target).await.unwrap().expect("the target exists").rows;
        assert!(rows.len() >= 100, "{}: {} rows loaded", table.name, rows.len());
    }

    let unset = dynashift(&config_path, &["--headless", "--all", "--mode", "incremental"], None);
    assert_eq!(unset.status.code(), Some(2), "{}", output_text(&unset));
    assert!(output_text(&unset).contains("E2E_PG_PASSWORD"), "{}", output_text(&unset));
}

#[test]
fn check_refuses_a_password_in_the_url_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = "kind = \"postgres\"\nurl = \"postgres://loader:hunter2@127.0.0.1:5432/analytics\"";
    let config_path = with_warehouse_section(&fast_demo_config(dir.path()), warehouse);
    let check = dynashift(&config_path, &["--check"], None);
    let text = output_text(&check);
    assert_eq!(check.status.code(), Some(2), "{text}");
    assert!(text.contains("contains a password") && text.contains("password_env"), "{text}");
    assert!(!text.contains("hunter2"), "the password is never printed: {text}");
}

/// The shipped demo configuration (see `common::demo_config`) loading into PostgreSQL at `url`.
fn postgres_demo_config(dir: &Path, url: &str) -> Config {
    let mut config = demo_config(dir, 300, 400);
    config.warehouse = WarehouseConfig::Postgres {
        url: url.to_owned(),
        password_env: None,
        tls: PostgresTls::Disable,
        ca_file: None,
    };
    config
}

/// A demo configuration wired to real adapters and PostgreSQL, keeping the concrete demo
/// sources and warehouse so the test can move the simulated clock and read the loaded tables.
struct PgHarness {
    config: Arc<Config>,
    demos: HashMap<String, Arc<DemoSource>>,
    warehouse: Arc<PostgresWarehouse>,
    engine: Engine,
    events: mpsc::UnboundedReceiver<RunEvent>,
}

impl PgHarness {
    async fn new(config: Config) -> PgHarness {
        let config = Arc::new(config);
        let WarehouseConfig::Postgres { url, tls: PostgresTls::Disable, .. } = &config.warehouse else {
            panic!("the harness loads into PostgreSQL over loopback without TLS")
        };
        let warehouse = Arc::new(PostgresWarehouse::connect(url, TlsMode::Disable).await.expect("connect"));
        let StoreLocation::Local { root } = &config.tables[0].store else {
            panic!("tests use a local store")
        };
        let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(root));
        let mut demos = HashMap::new();
        let mut tables = HashMap::new();
        for table in &config.tables {
            let demo = DemoSource::open(&config.demo, Arc::new(table.clone()), store.clone());
            let demo = Arc::new(demo.expect("open the demo table"));
            demos.insert(table.name.clone(), demo.clone());
            let adapters = TableAdapters { source: demo as Arc<dyn ExportSource>, store: store.clone() };
            tables.insert(table.name.clone(), adapters);
        }
        let adapters = Adapters { warehouse: warehouse.clone() as Arc<dyn Warehouse>, tables };
        let (engine, events) = Engine::new(config.clone(), adapters);
        PgHarness { config, demos, warehouse, engine, events }
    }

    /// Runs one sync to its end; returns the outcome and every event of the run.
    async fn sync(&mut self, table: &str, mode: Mode) -> (Result<RunOutcome, RunFailure>, Vec<RunEvent>) {
        let handle = self.engine.start(table, RunRequest { mode, dry_run: false }).expect("start the run");
        let mut events = Vec::new();
        while let Some(event) = self.events.recv().await {
            if event.run_id != handle.run_id {
                continue;
            }
            let done = event.is_terminal();
            events.push(event);
            if done {
                break;
            }
        }
        (handle.join.await.expect("the run task"), events)
    }

    async fn watermark(&self, table: &str) -> Option<DateTime<Utc>> {
        self.warehouse.last_commit(table).await.expect("read dynashift_runs").map(|c| c.watermark)
    }

    /// Asserts that the PostgreSQL table equals the demo table's state at the committed
    /// watermark: each item mapped to its staged values, each value to what a correct load
    /// stores for it (`expected_value`), compared with the rows read back.
    async fn assert_in_sync(&self, table: &str) {
        let config = self.config.table(table).expect("a configured table");
        let watermark = self.watermark(table).await.expect("a committed watermark");
        let items = self.demos[table].items_at(watermark).await.expect("the demo state at the watermark");
        let staged: Vec<_> =
            items.iter().map(|item| map_item(config, item).expect("demo items fit their columns")).collect();
        let mut expected = expected_rows(config, &staged);
        let loaded = self.warehouse.query_rows(&config.target).await.expect("read the target");
        let mut actual = loaded.expect("the target exists").rows;
        sort_rows(&mut expected);
        sort_rows(&mut actual);
        assert_eq!(actual.len(), expected.len(), "{table}: row count differs at watermark {watermark}");
        for (got, want) in actual.iter().zip(&expected) {
            assert_eq!(got, want, "{table}: row differs at watermark {watermark}");
        }
    }
}

/// Rows in one order whatever the key's type (the warehouse orders by key, the demo by item).
fn sort_rows(rows: &mut [Vec<PgValue>]) {
    rows.sort_by_cached_key(|row| format!("{row:?}"));
}

/// `config_path` with its `[warehouse]` section's keys replaced by `keys`.
fn with_warehouse_section(config_path: &Path, keys: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(config_path).unwrap();
    let sqlite = "kind = \"sqlite\"\npath = \".dynashift/warehouse.sqlite\"";
    assert!(text.contains(sqlite), "the shipped tables.toml has the SQLite warehouse section");
    std::fs::write(config_path, text.replacen(sqlite, keys, 1)).unwrap();
    config_path.to_path_buf()
}

/// Runs the binary; `password` is exported as `E2E_PG_PASSWORD` when given, removed otherwise.
fn dynashift(config: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dynashift"));
    command.arg("--config").arg(config).args(args).env_remove("DYNASHIFT_LOG").env_remove("PGPASSWORD");
    match password {
        Some(password) => command.env("E2E_PG_PASSWORD", password),
        None => command.env_remove("E2E_PG_PASSWORD"),
    };
    command.output().expect("run dynashift")
}

fn output_text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
