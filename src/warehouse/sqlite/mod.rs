//! The embedded SQLite warehouse: one local database file that tables are loaded into with the
//! same guarantees as Redshift — each load is one transaction (`BEGIN IMMEDIATE … COMMIT`) that
//! also records the run and its watermark in `dynashift_runs`.
//!
//! - Targets: see [`names`] (`schema.table` becomes one table named `schema.table`).
//! - Types: see [`sql::sqlite_type`] and [`values`] (decimals and super values stay exact text).
//! - Statements: see the `plan` module; `plan()` and `load()` build them from the same function.
//!
//! rusqlite is blocking, so every database call runs on tokio's blocking pool. Loads share one
//! writer connection (SQLite has one writer at a time anyway); reads of commit records use a
//! second connection so the console never waits for a running load. A load that found the
//! database busy past the busy timeout is run again (see the `load` module).

mod connection;
mod copy;
mod exec;
mod failure;
#[cfg(test)]
mod history_tests;
mod inspect;
mod interrupt;
mod line;
mod load;
pub mod names;
mod plan;
mod preview;
mod runs;
#[cfg(test)]
mod soft_tests;
pub mod sql;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
pub mod values;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::runtime::Handle;

use crate::config::{TableConfig, TargetTable};
use crate::contract::{PageRequest, RowPage};
use crate::retry::RetryPolicy;
use crate::warehouse::runner;
use crate::warehouse::{
    CommitRecord, LoadCall, LoadOutcome, LoadRequest, PlannedStatement, Warehouse, WarehouseError,
};

pub use crate::warehouse::staged_value::ValueError;
pub use inspect::TableRows;
pub use values::sqlite_value;

use exec::LoadJob;

/// A SQLite database file as a warehouse.
#[derive(Debug, Clone)]
pub struct SqliteWarehouse {
    path: PathBuf,
    /// The connection loads run on, one at a time.
    writer: Arc<Mutex<Connection>>,
    /// The connection commit records and inspections are read on.
    reader: Arc<Mutex<Connection>>,
    /// How a load that found the database busy is run again.
    load_retry: RetryPolicy,
}

impl SqliteWarehouse {
    /// Opens (creating when missing, with its folders, mode 0600) the database file at `path`.
    pub fn open(path: &Path) -> Result<SqliteWarehouse, WarehouseError> {
        let writer = connection::open_writer(path)?;
        let reader = connection::open_reader(path)?;
        Ok(SqliteWarehouse {
            path: path.to_owned(),
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
            load_retry: RetryPolicy::WAREHOUSE_LOAD,
        })
    }

    /// How a load that found the database busy is run again ([`RetryPolicy::WAREHOUSE_LOAD`]
    /// unless set).
    pub fn with_load_retry(mut self, policy: RetryPolicy) -> SqliteWarehouse {
        self.load_retry = policy;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every row of a target, ordered by primary key, with its column names; `None` when the
    /// table does not exist. Blocking: for tests and inspection tools, not for async paths.
    pub fn query_rows(&self, target: &TargetTable) -> Result<Option<TableRows>, WarehouseError> {
        inspect::query_rows(&lock(&self.reader), target)
    }

    /// Runs `read` on the reader connection on the blocking pool.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> Result<T, WarehouseError> + Send + 'static,
    ) -> Result<T, WarehouseError> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || read(&lock(&reader))).await.map_err(task_failed)?
    }
}

/// Takes a connection. A load that panicked poisons the mutex but leaves a usable connection
/// (the next load rolls back whatever it left open), so poisoning is not an error here.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

fn task_failed(error: tokio::task::JoinError) -> WarehouseError {
    WarehouseError::Other(format!("the sqlite task stopped unexpectedly: {error}"))
}

#[async_trait]
impl Warehouse for SqliteWarehouse {
    fn describe(&self) -> String {
        format!("sqlite {}", self.path.display())
    }

    fn plan(&self, request: &LoadRequest) -> Vec<PlannedStatement> {
        plan::steps(request).iter().map(plan::Step::planned).collect()
    }

    async fn last_commit(&self, table_name: &str) -> Result<Option<CommitRecord>, WarehouseError> {
        let table_name = table_name.to_owned();
        self.read(move |conn| runs::last_commit(conn, &table_name)).await
    }

    async fn find_run(&self, run_id: &str) -> Result<Option<CommitRecord>, WarehouseError> {
        let run_id = run_id.to_owned();
        self.read(move |conn| runs::find_run(conn, &run_id)).await
    }

    async fn load(&self, call: LoadCall<'_>) -> LoadOutcome {
        let LoadCall { request, events, cancel } = call;
        runner::recorded(events, |reporter| async move {
            request.staged.require_folded("SQLite").map_err(WarehouseError::Other)?;
            let job = LoadJob {
                request: request.clone(),
                reporter,
                cancel: cancel.clone(),
                runtime: Handle::current(),
            };
            load::run(self, plan::steps(request), job).await
        })
        .await
    }

    async fn target_columns(&self, table: &TableConfig) -> Result<Option<Vec<String>>, WarehouseError> {
        let target = table.target.clone();
        self.read(move |conn| inspect::column_names(conn, &target)).await
    }

    fn add_column_sql(&self, table: &TableConfig, column: &crate::warehouse::shape::TargetColumn) -> String {
        crate::warehouse::target_columns::add_column(
            names::quoted_target(&table.target),
            sql::column_definition(column),
        )
    }

    /// Read on a connection of its own (not the shared reader): a page never queues behind a
    /// commit-record read, nor one behind it.
    async fn preview(
        &self,
        table: &TableConfig,
        page: &PageRequest,
    ) -> Result<Option<RowPage>, WarehouseError> {
        let (path, table, page) = (self.path.clone(), table.clone(), page.clone());
        tokio::task::spawn_blocking(move || preview::read_page(&path, &table, &page))
            .await
            .map_err(task_failed)?
    }
}
