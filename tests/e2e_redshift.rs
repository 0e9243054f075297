//! The whole pipeline into Redshift, through the real aws-sdk-redshiftdata client against the
//! Data API stand-in: the demo tables export into moto's S3, the stage step writes its files
//! there, and Redshift's COPY reads them back (the stand-in runs the statements on PostgreSQL).
//! A full sync, then rounds of (random workload + incremental sync); after every round each
//! target must equal the demo table's state at the committed watermark. Then the binary,
//! configured with `kind = "redshift"` in its `tables.toml`.
//!
//! Needs the stand-ins `scripts/test.sh` starts (PostgreSQL and moto); fails without them.

mod common;
mod dataapi_support;
mod moto_support;
mod postgres_support;
mod sync_harness;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use common::{REDSHIFT_COPY_ROLE as ROLE, RedshiftStack, demo_config, fast_demo_config, with_redshift_stack};
use dataapi_support::{DataApiStandIn, S3Access};
use dynashift::aws::AwsConnection;
use dynashift::config::{
    self, AwsSettings, RedshiftConfig, RedshiftConnection, StoreLocation, WarehouseConfig,
};
use dynashift::pipeline::events::EventKind;
use dynashift::store::{ObjectStore, S3Store};
use dynashift::warehouse::Warehouse;
use dynashift::warehouse::postgres::{PostgresWarehouse, TlsMode};
use dynashift::warehouse::redshift::RedshiftWarehouse;
use postgres_support::fresh_database;
use sync_harness::SyncHarness;

const TABLES: [&str; 2] = ["orders", "customers"];
const PREFIX: &str = "dynashift/";

/// The stand-in over a fresh database, and a fresh moto bucket.
struct Stack {
    standin: DataApiStandIn,
    url: String,
    bucket: String,
}

impl Stack {
    async fn start(database: &str) -> Stack {
        let url = fresh_database(database).await;
        let moto = moto_support::connection().await;
        let bucket = moto_support::new_bucket(&moto, "e2e-redshift").await;
        let s3 = S3Access { endpoint: moto_support::endpoint(), region: moto_support::REGION.into() };
        Stack { standin: DataApiStandIn::start(&url, s3).await, url, bucket }
    }

    fn redshift_config(&self) -> RedshiftConfig {
        RedshiftConfig {
            connection: RedshiftConnection::Workgroup { name: "analytics".into() },
            database: "dev".into(),
            iam_role: ROLE.into(),
            copy_region: None,
            client: AwsSettings {
                region: Some(moto_support::REGION.into()),
                profile: None,
                endpoint_url: Some(self.standin.endpoint()),
            },
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_then_incremental_rounds_keep_redshift_equal_to_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start("e2e_rs_rounds").await;
    let mut config = demo_config(dir.path(), 300, 400);
    for table in &mut config.tables {
        table.store = StoreLocation::S3 { bucket: stack.bucket.clone(), prefix: PREFIX.into() };
    }
    let redshift = stack.redshift_config();
    config.warehouse = WarehouseConfig::Redshift(redshift.clone());
    let data_api =
        AwsConnection::with_static_credentials(&redshift.client, "testing", "testing").await.unwrap();
    let warehouse: Arc<dyn Warehouse> = Arc::new(RedshiftWarehouse::new(&data_api, &redshift));
    let reader = Arc::new(PostgresWarehouse::connect(&stack.url, TlsMode::Disable).await.unwrap());
    let store: Arc<dyn ObjectStore> =
        Arc::new(S3Store::new(&moto_support::connection().await, &stack.bucket, PREFIX));
    let mut harness = SyncHarness::new(config, warehouse, reader, store);
    let (changes, events) = harness.full_then_incremental_rounds(&TABLES, 3, 17).await;
    let query_ids =
        events.iter().filter(|e| matches!(&e.kind, EventKind::StatementStarted { query_id: Some(_), .. }));
    assert!(query_ids.count() > 20, "each statement reports Redshift's query id");
    assert!(changes > 30, "the workload produced changes ({changes})");
    let batches =
        stack.standin.calls().into_iter().filter(|c| c.operation == "BatchExecuteStatement").count();
    assert_eq!(batches, TABLES.len() * 4, "one batch per load");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_loads_into_redshift_from_tables_toml() {
    let dir = tempfile::tempdir().unwrap();
    let stack = Stack::start("e2e_rs_binary").await;
    let config_path = redshift_tables_toml(dir.path(), &stack);

    let full = dynashift(&config_path, &["--headless", "--all", "--mode", "full"]);
    assert_eq!(full.status.code(), Some(0), "{}", output_text(&full));
    assert!(output_text(&full).contains("OK      orders: committed"), "{}", output_text(&full));
    let incremental = dynashift(&config_path, &["--headless", "--all", "--mode", "incremental", "--json"]);
    assert_eq!(incremental.status.code(), Some(0), "{}", output_text(&incremental));

    let config = config::load(&config_path).expect("the written tables.toml is valid");
    let reader = PostgresWarehouse::connect(&stack.url, TlsMode::Disable).await.unwrap();
    for table in &config.tables {
        let rows = reader.query_rows(&table.target).await.unwrap().expect("the target exists").rows;
        assert!(rows.len() >= 100, "{}: {} rows loaded", table.name, rows.len());
    }
    let dry =
        dynashift(&config_path, &["--headless", "--table", "orders", "--mode", "incremental", "--dry-run"]);
    let text = output_text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{text}");
    assert!(
        text.contains("MERGE INTO \"orders\"") && text.contains("IAM_ROLE '"),
        "the dry run shows Redshift SQL: {text}"
    );
}

/// The shipped demo tables.toml, its store in moto's S3 and its warehouse the stand-in.
fn redshift_tables_toml(dir: &Path, stack: &Stack) -> std::path::PathBuf {
    let bucket_url = format!("s3://{}/{PREFIX}", stack.bucket);
    let endpoints = (moto_support::endpoint(), stack.standin.endpoint());
    with_redshift_stack(
        &fast_demo_config(dir),
        &RedshiftStack {
            bucket_url: &bucket_url,
            region: moto_support::REGION,
            s3_endpoint: &endpoints.0,
            data_api_endpoint: &endpoints.1,
        },
    )
}

/// Runs the binary with moto's fixed credentials (the SDK's default chain reads them).
fn dynashift(config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dynashift"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("DYNASHIFT_LOG")
        .env_remove("AWS_PROFILE")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("run dynashift")
}

fn output_text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
