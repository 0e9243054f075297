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
mod redshift_stack;
mod sync_harness;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;

use common::{demo_config, fast_demo_config};
use dynashift::config::{self, StoreLocation, WarehouseConfig};
use dynashift::pipeline::events::EventKind;
use dynashift::store::ObjectStore;
use dynashift::warehouse::Warehouse;
use redshift_stack::{PREFIX, RedshiftStack};
use sync_harness::SyncHarness;

const TABLES: [&str; 2] = ["orders", "customers"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_then_incremental_rounds_keep_redshift_equal_to_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let stack = RedshiftStack::start("e2e_rs_rounds", "e2e-redshift").await;
    let mut config = demo_config(dir.path(), 300, 400);
    for table in &mut config.tables {
        table.store = StoreLocation::S3 { bucket: stack.bucket.clone(), prefix: PREFIX.into() };
    }
    let redshift = stack.config();
    config.warehouse = WarehouseConfig::Redshift(redshift.clone());
    let warehouse: Arc<dyn Warehouse> = Arc::new(stack.warehouse(&redshift).await);
    let reader = Arc::new(stack.reader().await);
    let store: Arc<dyn ObjectStore> = Arc::new(stack.store());
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
    let stack = RedshiftStack::start("e2e_rs_binary", "e2e-redshift").await;
    let config_path = stack.write_tables_toml(&fast_demo_config(dir.path()));

    let full = dynashift(&config_path, &["--headless", "--all", "--mode", "full"]);
    assert_eq!(full.status.code(), Some(0), "{}", output_text(&full));
    assert!(output_text(&full).contains("OK      orders: committed"), "{}", output_text(&full));
    let incremental = dynashift(&config_path, &["--headless", "--all", "--mode", "incremental", "--json"]);
    assert_eq!(incremental.status.code(), Some(0), "{}", output_text(&incremental));

    let config = config::load(&config_path).expect("the written tables.toml is valid");
    let reader = stack.reader().await;
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

/// Runs the binary with moto's fixed credentials (the SDK's default chain reads them).
fn dynashift(config: &Path, args: &[&str]) -> Output {
    common::with_stand_in_credentials(&mut common::binary(config)).args(args).output().expect("run dynashift")
}

fn output_text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
