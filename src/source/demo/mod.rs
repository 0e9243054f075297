//! The demo source: simulated DynamoDB tables with point-in-time history, writing exports in the
//! exact AWS layout. It is the embedded default, so dynashift can be tried (and tested end to
//! end) without AWS.
//!
//! Each catalog table ([`CATALOG`]) has a seeded workload of inserts, updates and deletes,
//! generated lazily as a simulated clock advances and kept as a write history in
//! `state_dir/<table>/`. Because every write inside the restorable range is kept (older ones are
//! compacted into a snapshot), a full export at any instant and an incremental export of any
//! window are exact — which is what the end-to-end tests compare the warehouse against
//! ([`DemoSource::items_at`]). Exports are written item by item into data files aside, never
//! held in memory.
//!
//! Layout of `state_dir`: `clock.json` (the simulated clock, see [`clock`]); per table
//! `writes*.jsonl` + `meta.json` (the history) and `exports/<id>.json` (requested exports).

mod catalog;
mod clock;
mod customers;
mod error;
mod exporter;
mod files;
mod history;
mod index;
mod lines;
mod log;
mod orders;
mod record;
mod seed;
mod shared;
mod simulation;
mod values;
mod workload;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

pub use catalog::{CATALOG, catalog_key};

use self::catalog::DemoTable;
use self::exporter::{Exporter, TableIdentity};
use self::history::WorkloadSettings;
use self::record::ExportRecords;
use self::seed::stable_hash;
use self::simulation::SimulatedTable;
use super::windows::{WindowPolicy, plan_windows};
use super::{
    ExportDescription, ExportPlan, ExportSource, ExportSpec, ExportTarget, PlanRequest, SourceClock,
    SourceError,
};
use crate::config::{DemoSettings, Mode, TableConfig};
use crate::ddb::Item;
use crate::store::ObjectStore;

/// The region and account the simulated tables pretend to live in.
const ARN_PREFIX: &str = "arn:aws:dynamodb:us-east-1:000000000000:table/";

/// One simulated DynamoDB table as an export source.
pub struct DemoSource {
    config: Arc<TableConfig>,
    /// Simulated seconds per real second.
    speed: f64,
    table: SimulatedTable,
    exporter: Exporter,
    state_description: String,
}

impl DemoSource {
    /// The demo table `table.name` (which must be in [`CATALOG`], with its key), keeping its
    /// state under `settings.state_dir` and writing exports into `store`.
    pub fn open(
        settings: &DemoSettings,
        table: Arc<TableConfig>,
        store: Arc<dyn ObjectStore>,
    ) -> Result<DemoSource, SourceError> {
        let demo = catalog_table(&table)?;
        let workload = WorkloadSettings {
            seed: settings.seed,
            initial_items: settings.initial_items,
            writes_per_hour: settings.writes_per_hour,
        };
        let simulated = SimulatedTable::open(&settings.state_dir, settings.speed, demo, workload)?;
        let identity = TableIdentity {
            name: demo.name().into(),
            arn: format!("{ARN_PREFIX}{}", demo.name()),
            table_id: table_id(settings.seed, demo.name()),
            key_attributes: table.key.clone(),
        };
        let exporter = Exporter {
            identity,
            table: simulated.clone(),
            records: ExportRecords::new(&settings.state_dir.join(demo.name())),
            store,
            export_duration: settings.export_duration,
        };
        let state_description =
            format!("demo table {} (state in {})", demo.name(), settings.state_dir.display());
        Ok(DemoSource { config: table, speed: settings.speed, table: simulated, exporter, state_description })
    }

    /// Test API: the current simulated time.
    pub async fn now(&self) -> Result<DateTime<Utc>, SourceError> {
        self.table.now().await
    }

    /// Test API: moves the simulated clock forward (the only way it moves when `speed = 0`).
    pub async fn advance(&self, by: Duration) -> Result<DateTime<Utc>, SourceError> {
        self.table.advance(by).await
    }

    /// Test API: every item of the table at `t` (writes before `t`), sorted by key — what a
    /// warehouse synced to watermark `t` must hold.
    pub async fn items_at(&self, t: DateTime<Utc>) -> Result<Vec<Item>, SourceError> {
        self.table.items_at(t).await
    }
}

#[async_trait]
impl ExportSource for DemoSource {
    fn describe(&self) -> String {
        self.state_description.clone()
    }

    fn supports(&self, _mode: Mode) -> bool {
        true
    }

    async fn clock(&self) -> Result<Option<SourceClock>, SourceError> {
        let now = self.table.now().await?;
        Ok(Some(SourceClock { now, read_at: Utc::now(), rate: self.speed }))
    }

    async fn plan(&self, request: PlanRequest) -> Result<ExportPlan, SourceError> {
        let (now, range) = self.table.restorable_range().await?;
        plan_windows(&self.config.name, request, range, now, &WindowPolicy::of(&self.config))
    }

    async fn start_export(
        &self,
        spec: &ExportSpec,
        target: &ExportTarget,
        client_token: &str,
    ) -> Result<String, SourceError> {
        self.exporter.start(spec, target, client_token).await
    }

    async fn describe_export(&self, export_arn: &str) -> Result<ExportDescription, SourceError> {
        self.exporter.describe(export_arn).await
    }

    /// The simulated table's size now: exact, where DynamoDB's is refreshed every few hours.
    async fn table_item_count(&self) -> Result<Option<u64>, SourceError> {
        let now = self.table.now().await?;
        Ok(Some(self.table.items_at(now).await?.len() as u64))
    }
}

/// The catalog table `table` configures, checking its key matches.
fn catalog_table(table: &TableConfig) -> Result<DemoTable, SourceError> {
    let names = CATALOG.join(", ");
    let demo = DemoTable::named(&table.name).ok_or_else(|| {
        SourceError::Invalid(format!(
            "the demo source has no table `{}`; it simulates {names}: rename the table or use another source",
            table.name
        ))
    })?;
    if table.key.iter().map(String::as_str).ne(demo.key().iter().copied()) {
        return Err(SourceError::Invalid(format!(
            "demo table `{}` has key {:?}, but tables.toml says {:?}; set key = {:?}",
            demo.name(),
            demo.key(),
            table.key,
            demo.key()
        )));
    }
    Ok(demo)
}

/// A stable, UUID-shaped table id (manifests carry one).
fn table_id(seed: u64, name: &str) -> String {
    let a = stable_hash(format!("{seed}/{name}/a").as_bytes());
    let b = stable_hash(format!("{seed}/{name}/b").as_bytes());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    )
}
