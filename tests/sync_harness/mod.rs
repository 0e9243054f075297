//! The end-to-end harness the PostgreSQL and Redshift workload tests share: the demo tables as
//! the source, a real store and warehouse, the engine between them, and a check that a target
//! equals the demo table's state at the committed watermark — every row, column and type.
//!
//! The loaded rows are read back from PostgreSQL (the warehouse itself, or the database the
//! Redshift Data API stand-in runs its statements on), so both tests compare the same way.

#![allow(dead_code, reason = "each test binary uses a part of the support")]

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;

use dynashift::config::{Config, Mode};
use dynashift::pipeline::events::{EventKind, RunEvent, RunOutcome};
use dynashift::pipeline::stage::map_item;
use dynashift::pipeline::{Adapters, Engine, RunFailure, RunRequest, TableAdapters};
use dynashift::source::ExportSource;
use dynashift::source::demo::DemoSource;
use dynashift::store::ObjectStore;
use dynashift::warehouse::Warehouse;
use dynashift::warehouse::postgres::{PgValue, PostgresWarehouse};

use crate::common::{committed, events_named, run_to_end};
use crate::postgres_support::expected_rows;

/// A demo configuration wired to a real store and warehouse, keeping the concrete demo sources
/// so the test can move the simulated clock and compute the expected tables.
pub struct SyncHarness {
    pub config: Arc<Config>,
    pub demos: HashMap<String, Arc<DemoSource>>,
    pub warehouse: Arc<dyn Warehouse>,
    /// Where the loaded rows are read back.
    pub reader: Arc<PostgresWarehouse>,
    /// Where exports, staged files and run journals are kept.
    pub store: Arc<dyn ObjectStore>,
    engine: Engine,
    events: mpsc::UnboundedReceiver<RunEvent>,
}

impl SyncHarness {
    pub fn new(
        config: Config,
        warehouse: Arc<dyn Warehouse>,
        reader: Arc<PostgresWarehouse>,
        store: Arc<dyn ObjectStore>,
    ) -> SyncHarness {
        let config = Arc::new(config);
        let mut demos = HashMap::new();
        let mut tables = HashMap::new();
        for table in &config.tables {
            let demo = DemoSource::open(&config.demo, Arc::new(table.clone()), store.clone());
            let demo = Arc::new(demo.expect("open the demo table"));
            demos.insert(table.name.clone(), demo.clone());
            let adapters = TableAdapters { source: demo as Arc<dyn ExportSource>, store: store.clone() };
            tables.insert(table.name.clone(), adapters);
        }
        let adapters = Adapters { warehouse: warehouse.clone(), tables };
        let (engine, events) = Engine::new(config.clone(), adapters);
        SyncHarness { config, demos, warehouse, reader, store, engine, events }
    }

    /// Runs one sync to its end; returns the outcome and every event of the run.
    pub async fn sync(&mut self, table: &str, mode: Mode) -> (Result<RunOutcome, RunFailure>, Vec<RunEvent>) {
        run_to_end(&self.engine, &mut self.events, table, RunRequest { mode, dry_run: false }).await
    }

    pub async fn watermark(&self, table: &str) -> Option<DateTime<Utc>> {
        self.warehouse.last_commit(table).await.expect("read dynashift_runs").map(|c| c.watermark)
    }

    /// The workload every warehouse's end-to-end test runs: a full sync of each table, then
    /// `rounds` rounds of (random workload + incremental sync) — from 20 minutes (one window) to
    /// 30 hours (round 2: a catch-up of two windows) — checking each target against the source
    /// after every sync. Returns the changes applied and every incremental run's events.
    pub async fn full_then_incremental_rounds(
        &mut self,
        tables: &[&str],
        rounds: usize,
        seed: u64,
    ) -> (u64, Vec<RunEvent>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for table in tables {
            let (outcome, events) = self.sync(table, Mode::Full).await;
            let (_, upserts, deletes, target_rows) = committed(&outcome);
            assert_eq!((deletes, upserts), (0, target_rows), "{table}: a full load stages every item once");
            assert!(target_rows > 200, "{table}: the demo starts with its initial items");
            assert_eq!(events_named(&events, "watermark_advanced").len(), 1);
            assert_eq!(
                events_named(&events, "reconciled").len(),
                1,
                "{table}: the load reconciles its counts"
            );
            self.assert_in_sync(table).await;
        }
        let (mut changes, mut incremental_events) = (0, Vec::new());
        for round in 0..rounds {
            let minutes = if round == 2 { 30 * 60 } else { rng.random_range(20..=300) };
            for demo in self.demos.values() {
                demo.advance(Duration::minutes(minutes)).await.expect("advance the demo clock");
            }
            for table in tables {
                let before = self.watermark(table).await.expect("a watermark after the full sync");
                let (outcome, events) = self.sync(table, Mode::Incremental).await;
                let (watermark, upserts, deletes, _) = committed(&outcome);
                assert!(watermark > before, "round {round}: the watermark of {table} moves forward");
                changes += upserts + deletes;
                let EventKind::Planned { exports, .. } = events_named(&events, "planned")[0] else {
                    unreachable!()
                };
                if minutes > 24 * 60 {
                    assert!(exports.len() >= 2, "a gap over 24 h is cut into several windows");
                }
                self.assert_in_sync(table).await;
                incremental_events.extend(events);
            }
        }
        (changes, incremental_events)
    }

    /// Asserts that the loaded table equals the demo table's state at the committed watermark:
    /// each item mapped to its staged values, each value to what a correct load stores for it
    /// (`expected_value`), compared with the rows read back.
    pub async fn assert_in_sync(&self, table: &str) {
        let config = self.config.table(table).expect("a configured table");
        let watermark = self.watermark(table).await.expect("a committed watermark");
        let items = self.demos[table].items_at(watermark).await.expect("the demo state at the watermark");
        let staged: Vec<_> =
            items.iter().map(|item| map_item(config, item).expect("demo items fit their columns")).collect();
        let mut expected = expected_rows(config, &staged);
        let loaded = self.reader.query_rows(&config.target).await.expect("read the target");
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
