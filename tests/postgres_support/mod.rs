//! Test support for everything that loads into PostgreSQL: the throwaway server started by
//! `scripts/pg.sh` (its URL comes in `DYNASHIFT_PG_URL`, which `scripts/test.sh` exports), one
//! fresh database per test so tests run in parallel, and a fixture that stages hand-written
//! files in a local store and loads them.
//!
//! Checking a loaded table (e.g. in an end-to-end test): read it with
//! [`PostgresWarehouse::query_rows`] (rows ordered by key, one [`PgValue`] per column) and build
//! the expected rows from the staged values with [`expected_rows`] (each value through
//! `postgres::expected_value`, the value a correct load stores for it). The two compare with
//! `==`: numerics as PostgreSQL prints them at the column's scale, timestamps as instants,
//! super values as canonical JSON with exact numbers.

#![allow(dead_code, reason = "each test binary uses a part of the support")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::value::RawValue;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;

use dynashift::config::{ColumnType, Mode, TableConfig, UnmappedPolicy};
use dynashift::pipeline::events::RunEvent;
use dynashift::pipeline::staged::{StagedSet, staged_columns};
use dynashift::store::{LocalStore, ObjectStore};
use dynashift::testkit::{TableBuilder, WarehouseFixture, at, customers_table, line, stage_files};
use dynashift::warehouse::postgres::{PgValue, PostgresWarehouse, TlsMode, expected_value};
use dynashift::warehouse::{LoadRequest, Warehouse};

/// The variable `scripts/test.sh` sets to the throwaway server's URL.
pub const URL_VARIABLE: &str = "DYNASHIFT_PG_URL";

/// The throwaway server's URL. Fails (never skips) when it is not set: these tests need the
/// server `scripts/test.sh` starts.
pub fn server_url() -> String {
    std::env::var(URL_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{URL_VARIABLE} is not set: the PostgreSQL tests need the throwaway server. Run scripts/test.sh, \
             or start one yourself: export {URL_VARIABLE}=\"$(scripts/pg.sh start)\""
        )
    })
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").expect("a postgresql:// URL");
    let authority = rest.split_once('/').map_or(rest, |(authority, _)| authority);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{authority}/{database}{query}")
}

/// A new, empty database named `name` on the throwaway server (dropped first when a previous
/// run left it); returns its URL.
pub async fn fresh_database(name: &str) -> String {
    let admin = server_url();
    let (client, connection) =
        tokio_postgres::connect(&admin, NoTls).await.expect("connect to the test server");
    tokio::spawn(connection);
    let quoted = dynashift::config::quote_identifier(name);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))
        .await
        .expect("drop database");
    client.batch_execute(&format!("CREATE DATABASE {quoted}")).await.expect("create database");
    with_database(&admin, name)
}

/// The CA that signed the throwaway server's certificate (`scripts/pg.sh` writes `ca.pem`
/// beside it).
pub async fn server_ca_file() -> PathBuf {
    let client = admin_client(&server_url()).await;
    let certificate: String = client.query_one("SHOW ssl_cert_file", &[]).await.unwrap().get(0);
    let ca = Path::new(&certificate).with_file_name("ca.pem");
    assert!(ca.is_file(), "{} is missing: start the server with scripts/pg.sh", ca.display());
    ca
}

/// A plain session on `url`, for arranging and inspecting what a test needs.
pub async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(url, NoTls).await.expect("connect to the test database");
    tokio::spawn(connection);
    client
}

/// How many sessions still run a statement whose text is `LIKE pattern`, once they settle: a
/// cancelled statement's error reaches its client as soon as the server sends it, and the
/// backend marks itself no longer active a moment later, after aborting its transaction. So
/// this asks again (every 100 ms, for up to 5 s) while the count is not 0, instead of sampling
/// the instant the cancel returned.
pub async fn active_statements_like(client: &tokio_postgres::Client, pattern: &str) -> i64 {
    let sql = "SELECT count(*) FROM pg_stat_activity WHERE query LIKE $1 AND state = 'active'";
    let mut active = 0;
    for _ in 0..50 {
        active = client.query_one(sql, &[&pattern]).await.expect("read pg_stat_activity").get::<_, i64>(0);
        if active == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    active
}

/// The rows a correct load leaves for these staged column values (target columns only, in
/// column order — what `map_item` returns for an item, or the values of hand-written lines).
pub fn expected_rows(table: &TableConfig, rows: &[Vec<Box<RawValue>>]) -> Vec<Vec<PgValue>> {
    let mut types: Vec<ColumnType> = table.columns.iter().map(|c| c.ty).collect();
    if let UnmappedPolicy::KeepItem { .. } = table.unmapped {
        types.push(ColumnType::Super);
    }
    rows.iter()
        .map(|values| {
            values
                .iter()
                .zip(&types)
                .map(|(raw, ty)| expected_value(*ty, raw).expect("a storable value"))
                .collect()
        })
        .collect()
}

/// Composite key, every other type, super values and the whole-item column, in a schema.
pub fn orders_table() -> TableConfig {
    TableBuilder::new("orders")
        .in_schema("sales", "orders")
        .key("customer_id", "pk", "varchar(64)")
        .key("order_id", "sk", "varchar(64)")
        .column("total", "amount.total", "decimal(38,2)")
        .column("placed_at", "placed_at", "timestamp")
        .column("ratio", "metrics.ratio", "double precision")
        .column("is_priority", "is_priority", "boolean")
        .column("qty", "qty", "smallint")
        .column("line_count", "line_count", "integer")
        .column("lines", "lines", "super")
        .keep_item("item")
        .build()
}

/// A staged upsert of a customer (the other columns null).
pub fn customer(id: &str, name: &str, visits: i64) -> String {
    let name = serde_json::to_string(name).unwrap();
    line(
        &customers_table(),
        "U",
        &[("customer_id", &format!("\"{id}\"")), ("name", &name), ("visits", &visits.to_string())],
    )
}

/// A staged delete of a customer.
pub fn delete_customer(id: &str) -> String {
    line(&customers_table(), "D", &[("customer_id", &format!("\"{id}\""))])
}

/// The target-column values of a staged line (what [`expected_rows`] takes).
pub fn line_values(table: &TableConfig, line: &str) -> Vec<Box<RawValue>> {
    let mut fields: std::collections::HashMap<String, Box<RawValue>> = serde_json::from_str(line).unwrap();
    staged_columns(table)
        .into_iter()
        .skip(2)
        .map(|name| fields.remove(&name).expect("every column is staged"))
        .collect()
}

/// A warehouse on a fresh database and a store in a temporary folder.
pub struct Fixture {
    /// Owns the folder: dropping the fixture deletes it.
    _dir: tempfile::TempDir,
    pub url: String,
    pub store: Arc<LocalStore>,
    pub warehouse: PostgresWarehouse,
}

pub use dynashift::testkit::behaviour::Outcome;

impl WarehouseFixture for Fixture {
    fn warehouse(&self) -> &dyn Warehouse {
        &self.warehouse
    }

    fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }
}

impl Fixture {
    /// `database` names the test's own database (unique per test).
    pub async fn new(database: &str) -> Fixture {
        Fixture::with_tls(database, TlsMode::Disable).await
    }

    /// Like [`Fixture::new`], connecting the warehouse with `tls`.
    pub async fn with_tls(database: &str, tls: TlsMode) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = fresh_database(database).await;
        let store = Arc::new(LocalStore::new(dir.path().join("bucket")));
        let warehouse = PostgresWarehouse::connect(&url, tls).await.expect("connect the warehouse");
        Fixture { _dir: dir, url, store, warehouse }
    }

    /// Writes `parts` (each a list of lines) as staged files, with the manifest and jsonpaths
    /// file, and describes them (see [`stage_files`]).
    pub async fn stage(&self, table: &TableConfig, run_id: &str, parts: &[Vec<String>]) -> StagedSet {
        stage_files(self.store.as_ref(), table, run_id, parts).await
    }

    pub fn request(&self, table: &TableConfig, mode: Mode, run_id: &str, staged: StagedSet) -> LoadRequest {
        LoadRequest {
            run_id: run_id.into(),
            table: Arc::new(table.clone()),
            mode,
            staged,
            watermark: at("2024-05-01T00:00:00Z"),
            previous_watermark: None,
            store: self.store.clone(),
            accepted_gaps: Vec::new(),
        }
    }

    pub async fn load(&self, request: &LoadRequest) -> Outcome {
        self.load_with(request, &CancellationToken::new(), |_| {}).await
    }

    /// Loads, calling `watch` with every event as it happens (e.g. to cancel at a statement).
    pub async fn load_with(
        &self,
        request: &LoadRequest,
        cancel: &CancellationToken,
        watch: impl Fn(&RunEvent) + Send + 'static,
    ) -> Outcome {
        dynashift::testkit::behaviour::load_watching(&self.warehouse, request, cancel, watch).await
    }

    /// The target's rows, ordered by key (empty when the table does not exist).
    pub async fn rows(&self, table: &TableConfig) -> Vec<Vec<PgValue>> {
        self.warehouse.query_rows(&table.target).await.unwrap().map(|t| t.rows).unwrap_or_default()
    }
}
