//! Harness of the hostile-input corpus: a table on the `exports` source whose full export is
//! already committed into SQLite, so each case adds one broken incremental export, runs an
//! incremental sync and checks that the run failed cleanly and that nothing moved.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use tokio::sync::mpsc::UnboundedReceiver;

use async_trait::async_trait;

use dynashift::config::{self, Mode, TableConfig};
use dynashift::contract::{PageRequest, RowPage, StageRules};
use dynashift::pipeline::events::{EventKind, RunEvent, RunOutcome, StageCounts};
use dynashift::pipeline::{Engine, RunFailure, RunRequest};
use dynashift::store::{LocalStore, ObjectStore};
use dynashift::warehouse::sqlite::SqliteWarehouse;
use dynashift::warehouse::{
    CommitRecord, LoadCall, LoadOutcome, LoadRequest, PlannedStatement, Warehouse, WarehouseError,
};

use crate::people_exports::exports_engine;
pub use crate::people_exports::{
    DataEntry, PREFIX, TABLE, export_dir, md5_base64, people_config, shared_data_key, write_data_file,
    write_manifests, write_raw_file,
};

/// The committed full export's time: every case's starting watermark.
pub const FULL_TIME: &str = "2026-01-14T10:00:00.000Z";
/// The window of the broken incremental export each case adds: the next one after the watermark.
pub const NEXT_FROM: &str = "2026-01-14T10:00:00.000Z";
pub const NEXT_TO: &str = "2026-01-14T10:15:00.000Z";
/// The id of that export (its folder under `AWSDynamoDB/`).
pub const NEXT_ID: &str = "01768385700000-bbbbbbbb";

/// The table: one column per kind of hostile value the corpus throws at it.
fn config_text(on_type_error: &str) -> String {
    let more_columns = r#"
  { name = "balance", type = "decimal(38,0)" },
  { name = "price", type = "decimal(10,2)" },
  { name = "label", path = "tag", type = "varchar(64)" },
  { name = "payload", type = "super" },"#;
    people_config(&format!("on_type_error = \"{on_type_error}\""), more_columns)
}

/// An incremental change line: `new_image` is the item's DynamoDB JSON, `None` for a delete.
pub fn change(id: &str, new_image: Option<&str>) -> String {
    let image = new_image.map(|i| format!(r#","NewImage":{i}"#)).unwrap_or_default();
    format!(
        r#"{{"Metadata":{{"WriteTimestampMicros":{{"N":"1768385100000000"}}}},"Keys":{{"id":{{"S":"{id}"}}}}{image}}}"#
    )
}

/// An upsert of `id` whose new image also holds `attributes` (DynamoDB JSON members, e.g.
/// `"age":{"N":"3"}`).
pub fn upsert(id: &str, attributes: &str) -> String {
    let comma = if attributes.is_empty() { "" } else { "," };
    change(id, Some(&format!(r#"{{"id":{{"S":"{id}"}}{comma}{attributes}}}"#)))
}

/// What must not change when a run fails.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub rows: Vec<Vec<Value>>,
    pub runs: Vec<Vec<Value>>,
    pub watermark: Option<DateTime<Utc>>,
    pub watermark_copy: Option<Vec<u8>>,
}

/// A committed full sync of `people` and the means to break its next incremental sync.
pub struct Hostile {
    pub dir: tempfile::TempDir,
    pub table: TableConfig,
    pub store: Arc<LocalStore>,
    pub warehouse: Arc<SqliteWarehouse>,
    engine: Engine,
    events: UnboundedReceiver<RunEvent>,
}

impl Hostile {
    /// The table with `on_type_error = "fail"`, its full export committed.
    pub async fn committed() -> Hostile {
        Hostile::committed_with("fail").await
    }

    pub async fn committed_with(on_type_error: &str) -> Hostile {
        Hostile::committed_under(on_type_error, StageRules::EXACT).await
    }

    /// The table loaded into SQLite, but staged under Redshift's rules (trailing blanks, SUPER
    /// string limit): what staging refuses for Redshift without needing a cluster.
    pub async fn committed_for_redshift(on_type_error: &str) -> Hostile {
        Hostile::committed_under(on_type_error, StageRules::REDSHIFT).await
    }

    async fn committed_under(on_type_error: &str, rules: StageRules) -> Hostile {
        let dir = tempfile::tempdir().unwrap();
        let config = config::load_str(&config_text(on_type_error), &dir.path().join("tables.toml"))
            .expect("valid config");
        let table = config.tables[0].clone();
        let store = Arc::new(LocalStore::new(dir.path().join("bucket")));
        let warehouse = Arc::new(SqliteWarehouse::open(&dir.path().join("warehouse.sqlite")).unwrap());
        let with_rules = Arc::new(WithRules { inner: warehouse.clone(), rules });
        let (engine, events) = exports_engine(config, store.clone(), with_rules);
        let mut hostile = Hostile { dir, table, store, warehouse, engine, events };
        hostile.write_full_export().await;
        let (outcome, _) = hostile.sync(Mode::Full).await;
        assert!(
            matches!(outcome, Ok(RunOutcome::Committed { upserts: 2, target_rows: 2, .. })),
            "the starting full sync commits: {outcome:?}"
        );
        hostile
    }

    async fn write_full_export(&self) {
        let id = "01768384800000-aaaaaaaa";
        let entry = self
            .data_file(
                &format!("{PREFIX}/AWSDynamoDB/{id}/data/full1aaaaaaaaaaaaaaaaaaaaa.json.gz"),
                &[
                    r#"{"Item":{"id":{"S":"1"},"name":{"S":"Ann"},"age":{"N":"30"},"price":{"N":"9.50"}}}"#,
                    r#"{"Item":{"id":{"S":"2"},"name":{"S":"Bob"},"balance":{"N":"-12"}}}"#,
                ],
            )
            .await;
        let times = format!(r#""exportTime":"{FULL_TIME}""#);
        self.manifests(id, &times, r#","exportType":"FULL_EXPORT""#, &[entry], |_| {}).await;
    }

    /// Writes a gzip data file of `lines` at `key`; returns its (true) manifest entry.
    pub async fn data_file(&self, key: &str, lines: &[&str]) -> DataEntry {
        write_data_file(self.store.as_ref(), key, lines).await
    }

    /// A data file in the shared incremental `data/` folder.
    pub async fn shared_data_file(&self, name: &str, lines: &[&str]) -> DataEntry {
        self.data_file(&shared_data_key(name), lines).await
    }

    /// Writes `bytes` at `key` as they are; the entry claims `items` items and their true MD5.
    pub async fn raw_file(&self, key: &str, bytes: Vec<u8>, items: u64) -> DataEntry {
        write_raw_file(self.store.as_ref(), key, bytes, items).await
    }

    /// The next incremental export (`NEXT_ID`, `NEXT_FROM`..`NEXT_TO`) listing `entries`.
    pub async fn incremental(&self, entries: &[DataEntry]) {
        self.incremental_with(entries, |_| {}).await;
    }

    /// The next incremental export, its summary edited by `edit` before it is written.
    pub async fn incremental_with(&self, entries: &[DataEntry], edit: impl FnOnce(&mut serde_json::Value)) {
        let times = format!(r#""exportFromTime":"{NEXT_FROM}","exportToTime":"{NEXT_TO}""#);
        let extra = r#","outputView":"NEW_AND_OLD_IMAGES","exportType":"INCREMENTAL_EXPORT""#;
        self.manifests(NEXT_ID, &times, extra, entries, edit).await;
    }

    /// Writes `_started`, `manifest-files.json` and `manifest-summary.json` of export `id`.
    pub async fn manifests(
        &self,
        id: &str,
        times: &str,
        extra: &str,
        entries: &[DataEntry],
        edit: impl FnOnce(&mut serde_json::Value),
    ) {
        write_manifests(self.store.as_ref(), id, (times, extra), entries, edit).await;
    }

    /// Overwrites one object of the store.
    pub async fn put(&self, key: &str, bytes: impl Into<Vec<u8>>) {
        self.store.put(key, bytes.into()).await.unwrap();
    }

    /// Runs one sync to its end; returns the outcome and every event of the run.
    pub async fn sync(&mut self, mode: Mode) -> (Result<RunOutcome, RunFailure>, Vec<RunEvent>) {
        let handle = self.engine.start(TABLE, RunRequest { mode, dry_run: false }).expect("start the run");
        let mut events = Vec::new();
        while let Some(event) = self.events.recv().await {
            let done = event.run_id == handle.run_id && event.is_terminal();
            if event.run_id == handle.run_id {
                events.push(event);
            }
            if done {
                break;
            }
        }
        (handle.join.await.expect("the run task"), events)
    }

    /// Everything a failed run must leave as it was.
    pub async fn snapshot(&self) -> Snapshot {
        let rows = self.warehouse.query_rows(&self.table.target).unwrap().expect("the target exists").rows;
        let conn = rusqlite::Connection::open(self.dir.path().join("warehouse.sqlite")).unwrap();
        let mut statement = conn.prepare("SELECT * FROM dynashift_runs ORDER BY run_id").unwrap();
        let width = statement.column_count();
        let runs = statement
            .query_map([], |row| (0..width).map(|i| row.get::<_, Value>(i)).collect())
            .unwrap()
            .collect::<Result<Vec<Vec<Value>>, _>>()
            .unwrap();
        let watermark = self.warehouse.last_commit(TABLE).await.unwrap().map(|c| c.watermark);
        let watermark_copy = self.store.get(&format!("{TABLE}/_state/watermark.json")).await.ok();
        Snapshot { rows, runs, watermark, watermark_copy }
    }

    /// Runs an incremental sync that must fail, checks that nothing moved, and returns the
    /// failure after checking it has a cause and a hint.
    pub async fn fails(&mut self) -> RunFailure {
        self.fails_in(Mode::Incremental).await
    }

    /// As [`Hostile::fails`], for a sync of `mode`.
    pub async fn fails_in(&mut self, mode: Mode) -> RunFailure {
        let before = self.snapshot().await;
        assert_eq!(before.watermark.map(|w| w.to_rfc3339()).as_deref(), Some("2026-01-14T10:00:00+00:00"));
        let (outcome, events) = self.sync(mode).await;
        let failure = match outcome {
            Err(failure) => failure,
            Ok(outcome) => panic!("the run should fail, it ended with {outcome:?}"),
        };
        assert!(
            events.iter().any(|e| matches!(&e.kind, EventKind::RunFailed { .. })),
            "a run_failed event is sent"
        );
        assert!(!failure.hint.trim().is_empty(), "every failure says what to do: {failure:?}");
        eprintln!("{failure}\n  hint: {}", failure.hint);
        let after = self.snapshot().await;
        assert_eq!(after, before, "a failed run changes nothing ({failure})");
        failure
    }

    /// The rows of the target, as SQLite holds them.
    pub fn rows(&self) -> Vec<Vec<Value>> {
        self.warehouse.query_rows(&self.table.target).unwrap().expect("the target exists").rows
    }

    /// The row of `id`.
    pub fn row(&self, id: &str) -> Vec<Value> {
        self.rows()
            .into_iter()
            .find(|row| row[0] == Value::Text(id.to_owned()))
            .unwrap_or_else(|| panic!("no row with id {id}"))
    }
}

/// A warehouse that stages under other rules than its own (SQLite under Redshift's).
struct WithRules {
    inner: Arc<SqliteWarehouse>,
    rules: StageRules,
}

#[async_trait]
impl Warehouse for WithRules {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn stage_rules(&self) -> StageRules {
        self.rules
    }

    fn plan(&self, request: &LoadRequest) -> Vec<PlannedStatement> {
        self.inner.plan(request)
    }

    async fn last_commit(&self, table_name: &str) -> Result<Option<CommitRecord>, WarehouseError> {
        self.inner.last_commit(table_name).await
    }

    async fn find_run(&self, run_id: &str) -> Result<Option<CommitRecord>, WarehouseError> {
        self.inner.find_run(run_id).await
    }

    async fn target_columns(&self, table: &TableConfig) -> Result<Option<Vec<String>>, WarehouseError> {
        self.inner.target_columns(table).await
    }

    fn add_column_sql(
        &self,
        table: &TableConfig,
        column: &dynashift::warehouse::shape::TargetColumn,
    ) -> String {
        self.inner.add_column_sql(table, column)
    }

    fn full_load_adds_columns(&self, table: &TableConfig) -> bool {
        self.inner.full_load_adds_columns(table)
    }

    async fn load(&self, call: LoadCall<'_>) -> LoadOutcome {
        self.inner.load(call).await
    }

    async fn preview(
        &self,
        table: &TableConfig,
        page: &PageRequest,
    ) -> Result<Option<RowPage>, WarehouseError> {
        self.inner.preview(table, page).await
    }
}

/// Asserts that `text` contains every one of `needles`.
#[track_caller]
pub fn assert_mentions(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "expected {needle:?} in: {text}");
    }
}

/// The counts of the run's `staging_finished` event.
pub fn staging_counts(events: &[RunEvent]) -> StageCounts {
    events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::StagingFinished { counts, .. } => Some(*counts),
            _ => None,
        })
        .expect("a staging_finished event")
}

pub fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}
