//! Warehouses: where staged changes are loaded. Each load is one transaction that also records
//! the run and its watermark in `dynashift_runs`, so data and watermark commit together.

pub mod history;
pub mod plan_frame;
pub mod postgres;
pub(crate) mod preview;
pub mod reconcile;
pub mod redshift;
pub mod runner;
pub mod shape;
pub mod soft_deletes;
pub mod sqlite;
pub mod staged_files;
pub mod staged_lines;
mod staged_scan;
pub mod staged_value;
pub mod step;
pub mod target_columns;
#[cfg(test)]
use crate::testkit;
pub mod watermark;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::config::{Mode, TableConfig};
use crate::contract::events::EventSink;
use crate::contract::staged::StagedSet;
use crate::contract::{AcceptedGap, PageRequest, RowPage, StageRules, StatementRecord};
use crate::store::ObjectStore;

/// The table every warehouse keeps its commit records in.
pub const RUNS_TABLE: &str = "dynashift_runs";

/// Everything a load needs.
#[derive(Clone)]
pub struct LoadRequest {
    pub run_id: String,
    pub table: Arc<TableConfig>,
    pub mode: Mode,
    pub staged: StagedSet,
    /// The watermark this load commits.
    pub watermark: DateTime<Utc>,
    /// The watermark before it (`None` on a first full sync).
    pub previous_watermark: Option<DateTime<Utc>>,
    /// The store the staged files are in (warehouses that read them through dynashift).
    pub store: Arc<dyn ObjectStore>,
    /// Gaps between exports that this load applies knowingly (`--accept-gap`).
    pub accepted_gaps: Vec<AcceptedGap>,
}

/// One statement as planned: what it does and its SQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStatement {
    pub label: String,
    pub sql: String,
}

/// A row of `dynashift_runs`: one committed load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRecord {
    pub table_name: String,
    pub run_id: String,
    pub mode: Mode,
    pub watermark: DateTime<Utc>,
    pub committed_at: DateTime<Utc>,
    pub upserts: u64,
    pub deletes: u64,
    pub target_rows: u64,
    /// The table's commit order, assigned inside the load's transaction: the newest commit is
    /// the one with the highest `seq`, whatever the clocks said (`committed_at` is for humans).
    #[serde(default)]
    pub seq: u64,
    /// The watermark this commit continued from (`None`: a first full sync, or a row written
    /// before dynashift recorded it and with no commit before it).
    #[serde(default)]
    pub from_watermark: Option<DateTime<Utc>>,
    /// Gaps between exports this commit applied knowingly (`--accept-gap`), kept forever.
    #[serde(default)]
    pub accepted_gaps: Vec<AcceptedGap>,
}

/// What a committed load reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Rows in the target after the load.
    pub target_rows: u64,
    pub upserts: u64,
    pub deletes: u64,
}

/// What a load returns: how it ended, and every statement it ran with how each ended — on a
/// failure or a cancel too, so the run's journal shows what the warehouse did either way.
#[derive(Debug)]
pub struct LoadOutcome {
    pub result: Result<LoadReport, WarehouseError>,
    /// In the order submitted; a load that was retried lists every attempt's statements.
    pub statements: Vec<StatementRecord>,
}

/// Load errors; `Statement` carries the warehouse's own message.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    #[error("statement {index} ({label}) failed: {message}")]
    Statement { index: usize, label: String, message: String },
    #[error("the load was cancelled; nothing was committed")]
    Cancelled,
    #[error("{0}")]
    Connection(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Other(String),
}

/// A place tables are loaded into. Implementations: [`sqlite::SqliteWarehouse`],
/// [`postgres::PostgresWarehouse`].
#[async_trait]
pub trait Warehouse: Send + Sync {
    /// One line for humans: "sqlite /path/warehouse.sqlite".
    fn describe(&self) -> String;

    /// What staging must check for this warehouse beyond column types (trailing blanks in keys,
    /// string limits); exact comparison and no limits unless a warehouse says otherwise.
    fn stage_rules(&self) -> StageRules {
        StageRules::EXACT
    }

    /// The statements [`Warehouse::load`] runs for this request, in order.
    fn plan(&self, request: &LoadRequest) -> Vec<PlannedStatement>;

    /// The newest commit record of a table, if any.
    async fn last_commit(&self, table_name: &str) -> Result<Option<CommitRecord>, WarehouseError>;

    /// The commit record of one run, if it committed.
    async fn find_run(&self, run_id: &str) -> Result<Option<CommitRecord>, WarehouseError>;

    /// Runs the load in one transaction, reporting each statement on `events`, and returns
    /// how it ended with the statements it ran; nothing is committed unless every statement
    /// succeeded and `cancel` was not triggered.
    /// Every warehouse reports and records its statements through one
    /// [`runner::StatementReporter`], which makes the outcome.
    async fn load(&self, call: LoadCall<'_>) -> LoadOutcome;

    /// One page of `table`'s target rows in key order, for people to look at (the console's
    /// rows view); `None` when the target does not exist yet. One plain read outside any load's
    /// transaction or lock, cut by key (see [`preview`]), so a load never waits for it.
    async fn preview(
        &self,
        table: &TableConfig,
        page: &PageRequest,
    ) -> Result<Option<RowPage>, WarehouseError>;

    /// The column names of `table`'s existing target, as the warehouse stores them; `None` when
    /// it does not exist yet, or its columns cannot be read (then nothing is checked). A plain
    /// read outside any load. See [`target_columns`].
    async fn target_columns(&self, table: &TableConfig) -> Result<Option<Vec<String>>, WarehouseError>;

    /// `ALTER TABLE <target> ADD COLUMN <column>` in this warehouse's SQL: what a user runs to
    /// give `table`'s existing target a column tables.toml maps (see [`target_columns`]).
    fn add_column_sql(&self, table: &TableConfig, column: &shape::TargetColumn) -> String;

    /// Whether a full load of `table` gives its target every column tables.toml maps and fills
    /// them in every row (building the target anew, or adding the columns it lacks). By default
    /// (SQLite, PostgreSQL) a hard-deleting full load builds a new table and swaps it in, and a
    /// soft-deleting one keeps the target as it is and upserts.
    fn full_load_adds_columns(&self, table: &TableConfig) -> bool {
        table.deletes == crate::config::Deletes::Hard
    }
}

/// One call of [`Warehouse::load`]: what to load, where its statements are reported, and what
/// stops it. They always travel together.
#[derive(Clone, Copy)]
pub struct LoadCall<'a> {
    pub request: &'a LoadRequest,
    pub events: &'a EventSink,
    pub cancel: &'a CancellationToken,
}
