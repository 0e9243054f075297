//! Cost per run and `item_count_check` on the demo: every run that exports reports and journals
//! its estimate; a full export far from the table's item count is a warning, never a failure.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Duration;

use common::{Harness, committed, demo_config, events_named, run_to_end};
use dynashift::config::{Config, Mode};
use dynashift::contract::SourceClock;
use dynashift::pipeline::events::{EventKind, RunEvent};
use dynashift::pipeline::{Adapters, Engine, RunJournal, RunRequest, TableAdapters};
use dynashift::source::demo::DemoSource;
use dynashift::source::{
    ExportDescription, ExportPlan, ExportSource, ExportSpec, ExportTarget, PlanRequest, SourceError,
};
use dynashift::store::ObjectStore;

fn cost_of(events: &[RunEvent]) -> (Option<f64>, u64, String) {
    let estimated = events_named(events, "cost_estimated");
    assert_eq!(estimated.len(), 1, "one estimate per run");
    let EventKind::CostEstimated { usd, billed_bytes, assumption } = estimated[0] else { unreachable!() };
    (*usd, *billed_bytes, assumption.clone())
}

fn warnings(events: &[RunEvent]) -> Vec<String> {
    events_named(events, "warning")
        .into_iter()
        .map(|kind| match kind {
            EventKind::Warning { message } => message.clone(),
            _ => unreachable!(),
        })
        .collect()
}

fn checking(mut config: Config) -> Config {
    for table in &mut config.tables {
        table.accounting.item_count_check = true;
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_reports_and_journals_its_estimated_cost() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = Harness::new(checking(demo_config(dir.path(), 300, 400))).await;

    let (outcome, events) = harness.sync("orders", Mode::Full).await;
    committed(&outcome);
    let (usd, billed, assumption) = cost_of(&events);
    assert!(usd.is_some_and(|usd| usd > 0.0), "{usd:?}");
    assert!(billed > 0);
    assert!(assumption.starts_with("full export, "), "{assumption}");
    assert!(assumption.contains("the demo source has no region and is priced as us-east-1"), "{assumption}");
    assert!(warnings(&events).is_empty(), "the demo's count matches its export: {:?}", warnings(&events));

    for demo in harness.demos.values() {
        demo.advance(Duration::minutes(40)).await.unwrap();
    }
    let (outcome, events) = harness.sync("orders", Mode::Incremental).await;
    committed(&outcome);
    let (usd, billed, assumption) = cost_of(&events);
    assert!(billed >= 10 << 20, "the 10 MB minimum per incremental export: {billed}");
    assert!(assumption.contains("minimum 10 MB per export"), "{assumption}");

    let journals = RunJournal::list(harness.table("orders"), harness.store.as_ref()).await.unwrap();
    let newest = journals[0].cost.as_ref().expect("the journal keeps the estimate");
    assert_eq!(
        (newest.usd, newest.billed_bytes, newest.assumption.as_str()),
        (usd, billed, assumption.as_str())
    );
    assert!(journals[1].cost.as_ref().is_some_and(|c| c.assumption.starts_with("full export")));
}

/// The demo, with a table item count `extra` items off (as DescribeTable's approximate,
/// hours-old `ItemCount` can be).
struct Miscounting {
    demo: Arc<DemoSource>,
    extra: u64,
}

#[async_trait]
impl ExportSource for Miscounting {
    fn describe(&self) -> String {
        self.demo.describe()
    }
    fn supports(&self, mode: Mode) -> bool {
        self.demo.supports(mode)
    }
    async fn plan(&self, request: PlanRequest) -> Result<ExportPlan, SourceError> {
        self.demo.plan(request).await
    }
    async fn start_export(
        &self,
        spec: &ExportSpec,
        target: &ExportTarget,
        token: &str,
    ) -> Result<String, SourceError> {
        self.demo.start_export(spec, target, token).await
    }
    async fn describe_export(&self, export_arn: &str) -> Result<ExportDescription, SourceError> {
        self.demo.describe_export(export_arn).await
    }
    async fn clock(&self) -> Result<Option<SourceClock>, SourceError> {
        self.demo.clock().await
    }
    async fn table_item_count(&self) -> Result<Option<u64>, SourceError> {
        Ok(self.demo.table_item_count().await?.map(|count| count + self.extra))
    }
}

async fn full_sync_miscounted(config: Config, extra: u64) -> Vec<RunEvent> {
    let harness = Harness::new(config).await;
    let mut adapters = Adapters { warehouse: harness.warehouse.clone(), tables: Default::default() };
    let source = Miscounting { demo: harness.demos["orders"].clone(), extra };
    let store = harness.store.clone() as Arc<dyn ObjectStore>;
    adapters.tables.insert("orders".into(), TableAdapters { source: Arc::new(source), store });
    let (engine, mut events) = Engine::new(harness.config.clone(), adapters);
    let request = RunRequest { mode: Mode::Full, dry_run: false };
    let (outcome, events) = run_to_end(&engine, &mut events, "orders", request).await;
    committed(&outcome);
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_export_far_from_the_table_s_item_count_is_a_warning_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let events = full_sync_miscounted(checking(demo_config(dir.path(), 300, 400)), 5_000).await;
    let warned = warnings(&events);
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(warned[0].starts_with("item_count_check: the full export holds "), "{}", warned[0]);
    assert!(warned[0].contains("more than the tolerance of 1,000"), "{}", warned[0]);

    let near = tempfile::tempdir().unwrap();
    let events = full_sync_miscounted(checking(demo_config(near.path(), 300, 400)), 900).await;
    assert!(warnings(&events).is_empty(), "900 items apart is within 1,000: {:?}", warnings(&events));

    let off = tempfile::tempdir().unwrap();
    let events = full_sync_miscounted(demo_config(off.path(), 300, 400), 5_000).await;
    assert!(warnings(&events).is_empty(), "item_count_check is off by default: {:?}", warnings(&events));
}
