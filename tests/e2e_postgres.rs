//! The whole pipeline into PostgreSQL: a full sync of both demo tables, then rounds of (random
//! workload + incremental sync); after every round the PostgreSQL table must equal the demo
//! table's state at the committed watermark — every row, column and type. Then the binary,
//! configured with `kind = "postgres"` in its `tables.toml`, over TLS with the test server's CA.
//!
//! Needs the throwaway server `scripts/test.sh` starts (its URL in `DYNASHIFT_PG_URL`); without
//! it these tests fail, saying so. Each test has its own database.

mod common;
mod postgres_support;
mod sync_harness;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use common::{demo_config, fast_demo_config, with_warehouse_section};
use dynashift::config::{self, Config, PostgresTls, StoreLocation, WarehouseConfig};
use dynashift::store::{LocalStore, ObjectStore};
use dynashift::warehouse::Warehouse;
use dynashift::warehouse::postgres::{PostgresWarehouse, TlsMode};
use postgres_support::{fresh_database, server_ca_file};
use sync_harness::SyncHarness;

const TABLES: [&str; 2] = ["orders", "customers"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_then_incremental_rounds_keep_postgres_equal_to_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database("e2e_pg_rounds").await;
    let mut harness = pg_harness(postgres_demo_config(dir.path(), &url)).await;
    let (changes, _) = harness.full_then_incremental_rounds(&TABLES, 4, 11).await;
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

/// The harness over PostgreSQL: the demo tables in a local store, loaded into `config`'s
/// PostgreSQL warehouse (loopback, no TLS), read back from the same database.
async fn pg_harness(config: Config) -> SyncHarness {
    let WarehouseConfig::Postgres { url, tls: PostgresTls::Disable, .. } = &config.warehouse else {
        panic!("the harness loads into PostgreSQL over loopback without TLS")
    };
    let warehouse = Arc::new(PostgresWarehouse::connect(url, TlsMode::Disable).await.expect("connect"));
    let StoreLocation::Local { root } = &config.tables[0].store else { panic!("tests use a local store") };
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(root));
    SyncHarness::new(config, warehouse.clone(), warehouse, store)
}

/// Runs the binary; `password` is exported as `E2E_PG_PASSWORD` when given, removed otherwise.
fn dynashift(config: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut command = common::binary(config);
    command.args(args).env_remove("PGPASSWORD");
    match password {
        Some(password) => command.env("E2E_PG_PASSWORD", password),
        None => command.env_remove("E2E_PG_PASSWORD"),
    };
    command.output().expect("run dynashift")
}

fn output_text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
