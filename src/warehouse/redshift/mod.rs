//! Amazon Redshift as a warehouse, through the Redshift Data API (aws-sdk-redshiftdata), so
//! dynashift needs no network path to the cluster and no database password: the Data API
//! authenticates with IAM (a Serverless workgroup, a cluster with temporary credentials, or a
//! Secrets Manager secret the service reads itself).
//!
//! - Statements: see the `plan` module; one load is one BatchExecuteStatement, one transaction
//!   that also records the run and its watermark in `dynashift_runs`.
//! - Data: Redshift reads the staged files itself (COPY with the stage step's manifest and
//!   jsonpaths, as the configured IAM role), so no row passes through dynashift on the way in.
//! - Following a batch: see the `batch` module (statuses, cancel, load errors, reconcile).

mod batch;
mod data_api;
mod load_errors;
mod plan;
mod preview;
mod pushdown_sql;
mod reconcile_sql;
mod runs;
pub mod sql;

use std::collections::HashMap;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::aws::AwsConnection;
use crate::config::{RedshiftConfig, TableConfig};
use crate::contract::events::EventKind;
use crate::contract::{PageRequest, RowPage};
use crate::retry::{RetryAccount, RetryLoop, RetryPolicy, Retryable};
use crate::warehouse::runner::{self, StatementReporter};
use crate::warehouse::{
    CommitRecord, LoadCall, LoadOutcome, LoadReport, LoadRequest, PlannedStatement, RUNS_TABLE, Warehouse,
    WarehouseError,
};

use data_api::{DataApi, QueryError};
use plan::CopySettings;
use runs::RunsShape;

use batch::LoadJob;

/// A Redshift database as a warehouse.
#[derive(Debug)]
pub struct RedshiftWarehouse {
    api: DataApi,
    copy: CopySettings,
}

impl RedshiftWarehouse {
    /// A warehouse reached through `connection`'s Data API client. Nothing is called yet: the
    /// first read of `dynashift_runs` (before every run) shows a wrong setting.
    pub fn new(connection: &AwsConnection, config: &RedshiftConfig) -> RedshiftWarehouse {
        let api =
            DataApi::new(connection.redshift_data(), config.connection.clone(), config.database.clone());
        let copy = CopySettings {
            iam_role: config.iam_role.clone(),
            warehouse_region: connection.region().to_owned(),
            bucket_regions: HashMap::new(),
            region_override: config.copy_region.clone(),
        };
        RedshiftWarehouse { api, copy }
    }

    /// The Region of each table's bucket, by table name, so each COPY names its bucket's Region
    /// when it is not the warehouse's. A table left out is taken to share the warehouse's.
    pub fn with_bucket_regions(mut self, regions: HashMap<String, String>) -> RedshiftWarehouse {
        self.copy.bucket_regions = regions;
        self
    }
}

#[async_trait]
impl Warehouse for RedshiftWarehouse {
    fn describe(&self) -> String {
        self.api.describe()
    }

    fn stage_rules(&self) -> crate::contract::StageRules {
        crate::contract::StageRules::REDSHIFT
    }

    /// The statements for an upgraded runs table (a dry run reads nothing from Redshift); a load
    /// that finds an old one adds the upgrade after the lock.
    fn plan(&self, request: &LoadRequest) -> Vec<PlannedStatement> {
        plan::steps(request, &self.copy, RunsShape::Current).iter().map(plan::Step::planned).collect()
    }

    async fn last_commit(&self, table_name: &str) -> Result<Option<CommitRecord>, WarehouseError> {
        read_last_commit(&self.api, table_name).await
    }

    async fn find_run(&self, run_id: &str) -> Result<Option<CommitRecord>, WarehouseError> {
        read_run(&self.api, run_id).await
    }

    async fn load(&self, call: LoadCall<'_>) -> LoadOutcome {
        let LoadCall { request, events, cancel } = call;
        // Boxed: the batch's future nests deep enough to overflow the compiler's layout limit.
        runner::recorded(events, |reporter| Box::pin(self.load_batch(request, reporter, cancel))).await
    }

    async fn target_columns(&self, table: &TableConfig) -> Result<Option<Vec<String>>, WarehouseError> {
        preview::read_columns(&self.api, table).await
    }

    fn add_column_sql(&self, table: &TableConfig, column: &crate::warehouse::shape::TargetColumn) -> String {
        crate::warehouse::target_columns::add_column(
            sql::quoted_target(&table.target),
            sql::column_definition(column),
        )
    }

    /// A full load deletes the target's rows and inserts the export's, in the table that is
    /// there (its DDL, grants and dependent views stay), after adding the columns it lacks.
    fn full_load_adds_columns(&self, _table: &TableConfig) -> bool {
        true
    }

    async fn preview(
        &self,
        table: &TableConfig,
        page: &PageRequest,
    ) -> Result<Option<RowPage>, WarehouseError> {
        preview::read_page(&self.api, table, page).await
    }
}

impl RedshiftWarehouse {
    /// Runs the load as one batch, again (planned afresh) when it failed in a way that passes.
    async fn load_batch(
        &self,
        request: &LoadRequest,
        reporter: StatementReporter,
        cancel: &CancellationToken,
    ) -> Result<LoadReport, WarehouseError> {
        let events = reporter.events();
        // Refused before anything is sent, whatever the runs table's shape.
        let planned = plan::steps(request, &self.copy, RunsShape::Current);
        if let Some(problem) = plan::unloadable(request, &planned) {
            return Err(WarehouseError::Other(problem));
        }
        let job = LoadJob { request, reporter: &reporter, cancel };
        RetryLoop::new(RetryPolicy::WAREHOUSE_LOAD, "Redshift load")
            .cancelled_by(cancel)
            .on_retry(|retrying| {
                events.emit(EventKind::Warning { message: format!("retrying the load: {retrying}") });
            })
            .run(|| async {
                // Probed at every attempt: a load that lost the upgrade race to another one
                // (see `batch::transient_cause`) plans again without the upgrade.
                let shape = read_runs_shape(&self.api).await.map_err(Attempt)?;
                let upgrades = self.target_upgrades(request).await.map_err(Attempt)?;
                check_history_columns(&self.api, request).await.map_err(Attempt)?;
                let steps = plan::steps_upgrading(request, &self.copy, shape, &upgrades);
                if let Some(problem) = plan::unloadable(request, &steps) {
                    return Err(Attempt(WarehouseError::Other(problem)));
                }
                batch::run_batch(&self.api, &steps, &job).await.map_err(Attempt)
            })
            .await
            .map_err(|attempt| attempt.0)
    }
}

impl RedshiftWarehouse {
    /// What the existing target lacks that this load adds first: `dynashift_deleted_at` for a
    /// soft-deleting table, and for a full load the columns tables.toml maps (a full load keeps
    /// the target, its grants and views, and fills every row, so it can add them).
    async fn target_upgrades(&self, request: &LoadRequest) -> Result<plan::TargetUpgrades, WarehouseError> {
        let deleted_at = lacks_deleted_at(&self.api, request).await?;
        let columns = match request.mode {
            crate::config::Mode::Full => {
                crate::warehouse::target_columns::missing_columns(self, &request.table).await?
            }
            crate::config::Mode::Incremental => Vec::new(),
        };
        Ok(plan::TargetUpgrades { deleted_at, columns })
    }
}

/// One batch's failure, judged for a retry: only a statement that failed for a reason that
/// passes (Redshift's serializable-isolation conflicts, a concurrent CREATE of the same
/// object) is retried — the batch rolled back, so running it again is safe. A batch whose
/// outcome is unknown (lost track, cancel not confirmed) is never re-run.
struct Attempt(WarehouseError);

impl std::fmt::Display for Attempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Retryable for Attempt {
    fn transient_cause(&self) -> Option<String> {
        match &self.0 {
            WarehouseError::Statement { message, .. } => batch::transient_cause(message),
            _ => None,
        }
    }

    fn with_retry_account(self, account: &RetryAccount) -> Self {
        match self.0 {
            WarehouseError::Statement { index, label, message } => {
                Attempt(WarehouseError::Statement { index, label, message: format!("{message} ({account})") })
            }
            other => Attempt(other),
        }
    }
}

/// The newest commit of a table; `None` when it never committed or the runs table is missing.
async fn read_last_commit(api: &DataApi, table_name: &str) -> Result<Option<CommitRecord>, WarehouseError> {
    read_record(api, |shape| runs::select_last_commit(table_name, shape)).await
}

/// The commit of one run; `None` when it never committed or the runs table is missing.
async fn read_run(api: &DataApi, run_id: &str) -> Result<Option<CommitRecord>, WarehouseError> {
    read_record(api, |shape| runs::select_run(run_id, shape)).await
}

/// Reads with the upgraded columns and order, and again the old way when the table has not been
/// upgraded yet (one more call, only until the next load upgrades it).
async fn read_record(
    api: &DataApi,
    sql_for: impl Fn(RunsShape) -> String,
) -> Result<Option<CommitRecord>, WarehouseError> {
    match query_runs(api, &sql_for(RunsShape::Current)).await {
        Err(QueryError::Failed(message)) if runs::is_missing_new_column(&message) => {
            record_from(api, query_runs(api, &sql_for(RunsShape::Old)).await)
        }
        result => record_from(api, result),
    }
}

/// Whether a soft-deleting table's target exists without `dynashift_deleted_at` (created before
/// it deleted softly), so the load must add the column; false for a hard-deleting table and for a
/// target not created yet (the load creates it with the column).
async fn lacks_deleted_at(api: &DataApi, request: &LoadRequest) -> Result<bool, WarehouseError> {
    if request.table.deletes != crate::config::Deletes::Soft {
        return Ok(false);
    }
    let probe = sql::probe_deleted_at(&sql::quoted_target(&request.table.target));
    match api.query(&probe, "dynashift probe target").await {
        Ok(_) => Ok(false),
        Err(QueryError::Failed(message)) if sql::is_missing_column(&message) => Ok(true),
        Err(QueryError::Failed(message)) if message.contains("does not exist") => Ok(false),
        Err(QueryError::Failed(message)) => {
            Err(WarehouseError::Other(format!("probing the target of {}: {message}", request.table.name)))
        }
        Err(QueryError::Call(failure)) => Err(WarehouseError::Connection(format!(
            "reaching Redshift through the Data API ({}): {}",
            api.describe(),
            failure.message
        ))),
    }
}

/// Fails the load, before its batch, when the table's history table exists with other columns
/// than a load writes (a batch cannot fail one statement with a message of its own). Only an
/// incremental load appends to it.
async fn check_history_columns(api: &DataApi, request: &LoadRequest) -> Result<(), WarehouseError> {
    let Some(history) = request.table.history_target.as_ref() else { return Ok(()) };
    if request.mode != crate::config::Mode::Incremental {
        return Ok(());
    }
    let quoted = sql::quoted_target(history);
    match api.query_table(&sql::probe_columns(&quoted), "dynashift probe history", &[]).await {
        Ok((columns, _)) => {
            let expected = crate::warehouse::history::expected_columns(&request.table);
            let checked = crate::warehouse::history::check_columns(&quoted, &columns, &expected);
            checked.map_err(WarehouseError::Other)
        }
        Err(QueryError::Failed(message)) if message.contains("does not exist") => Ok(()),
        Err(QueryError::Failed(message)) => Err(WarehouseError::Other(format!(
            "probing the history table {quoted} of {}: {message}",
            request.table.name
        ))),
        Err(QueryError::Call(failure)) => Err(WarehouseError::Connection(format!(
            "reaching Redshift through the Data API ({}): {}",
            api.describe(),
            failure.message
        ))),
    }
}

/// Which shape the runs table has; a missing one counts as current (the load creates it so).
async fn read_runs_shape(api: &DataApi) -> Result<RunsShape, WarehouseError> {
    match query_runs(api, &runs::probe_shape()).await {
        Ok(_) => Ok(RunsShape::Current),
        Err(QueryError::Failed(message)) if runs::is_missing_new_column(&message) => Ok(RunsShape::Old),
        result => record_from(api, result).map(|_| RunsShape::Current),
    }
}

async fn query_runs(api: &DataApi, sql: &str) -> Result<data_api::Rows, QueryError> {
    if let Some(problem) = sql::unsafe_literal(sql) {
        return Err(QueryError::Failed(format!("a name {problem}")));
    }
    api.query(sql, "dynashift read runs").await
}

fn record_from(
    api: &DataApi,
    result: Result<data_api::Rows, QueryError>,
) -> Result<Option<CommitRecord>, WarehouseError> {
    match result {
        Ok(rows) => rows.first().map(|row| runs::record_of(row)).transpose(),
        Err(QueryError::Failed(message)) if runs::is_missing_runs_table(&message) => Ok(None),
        Err(QueryError::Failed(message)) => {
            Err(WarehouseError::Other(format!("reading {RUNS_TABLE}: {message}")))
        }
        Err(QueryError::Call(failure)) => Err(WarehouseError::Connection(format!(
            "reaching Redshift through the Data API ({}): {}{}",
            api.describe(),
            failure.message,
            failure.general_hint().map(|h| format!("; {h}")).unwrap_or_default()
        ))),
    }
}
