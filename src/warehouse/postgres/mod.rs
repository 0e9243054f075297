//! PostgreSQL (15+: MERGE) as a warehouse, through tokio-postgres — for Aurora / RDS users who
//! want the same sync as Redshift, with the same guarantees: each load is one transaction
//! (`BEGIN … COMMIT`) that also records the run and its watermark in `dynashift_runs`.
//!
//! - Connecting: see [`settings`] (URL, never shown with its password) and [`tls`].
//! - Types: see [`sql::postgres_type`]; `super` is `jsonb`, decimals are `numeric(p,s)`.
//! - Statements: see the `plan` module; `plan()` and `load()` build them from the same function.
//! - Data: the staged files are read from the store and streamed with `COPY … FROM STDIN`
//!   (the `copy` module), so the server needs no access to the store.
//!
//! Every load runs on a session of its own (its stage table and transaction die with it);
//! commit records and inspections are read on one shared session, reopened when it dropped.
//!
//! Transient failures (see the `transient` module) are retried: connecting and reading commit
//! records under the session policy, and a whole load that failed before its COMMIT under the
//! load policy (see the `load` module, which also settles a COMMIT whose answer was lost).

mod backend;
mod canonical_json;
mod copy;
pub(crate) mod copy_text;
mod exec;
mod failure;
mod inspect;
mod load;
mod names;
mod plan;
mod preview;
mod runs;
mod session;
pub mod settings;
pub mod sql;
pub mod tls;
mod transient;
pub mod values;

use async_trait::async_trait;
use tokio::sync::{Mutex, MutexGuard};

use crate::config::{TableConfig, TargetTable};
use crate::contract::{PageRequest, RowPage};
use crate::retry::retry;
use crate::warehouse::runner;
use crate::warehouse::{
    CommitRecord, LoadCall, LoadOutcome, LoadRequest, PlannedStatement, Warehouse, WarehouseError,
};

pub use canonical_json::CanonicalJson;
pub use inspect::TableRows;
pub use settings::ConnectSettings;
pub use tls::TlsMode;
pub use values::{PgValue, expected_value};

use exec::LoadJob;
use session::{Connector, Session};
use transient::PgFailure;

/// A PostgreSQL database as a warehouse.
pub struct PostgresWarehouse {
    connector: Connector,
    /// The session commit records and inspections are read on.
    reader: Mutex<Session>,
}

impl PostgresWarehouse {
    /// Connects to the database at `url` (`postgresql://user[:password]@host[:port]/database`),
    /// so a wrong URL, password or TLS setting shows at once rather than at the first load.
    pub async fn connect(url: &str, tls: TlsMode) -> Result<PostgresWarehouse, WarehouseError> {
        PostgresWarehouse::connect_with(ConnectSettings::from_url(url, tls)?).await
    }

    /// Like [`PostgresWarehouse::connect`], from prepared settings (which also say how
    /// patiently transient failures are retried).
    pub async fn connect_with(settings: ConnectSettings) -> Result<PostgresWarehouse, WarehouseError> {
        let connector = Connector::new(settings)?;
        let reader =
            retry(connector.session_retry(), "connecting to the warehouse", || connector.open()).await?;
        Ok(PostgresWarehouse { connector, reader: Mutex::new(reader) })
    }

    /// Every row of a target, ordered by primary key, with its column names; `None` when the
    /// table does not exist. Compare with [`expected_value`] of the staged values.
    pub async fn query_rows(&self, target: &TargetTable) -> Result<Option<TableRows>, WarehouseError> {
        inspect::query_rows(&*self.reader().await?, target).await
    }

    /// The reader session, reopened when its connection has closed (a restart, a timeout).
    async fn reader(&self) -> Result<MutexGuard<'_, Session>, PgFailure> {
        let mut reader = self.reader.lock().await;
        if reader.client.is_closed() {
            *reader = self.connector.open().await?;
        }
        Ok(reader)
    }

    /// The commit record of a run, retrying transient failures (each attempt on a live reader).
    async fn read_run(&self, run_id: &str) -> Result<Option<CommitRecord>, PgFailure> {
        retry(self.connector.session_retry(), "reading dynashift_runs", || async {
            runs::find_run(&*self.reader().await?, run_id).await
        })
        .await
    }

    /// Ends a server process a load left behind and waits for it (see the `backend` module).
    async fn end_backend(&self, backend: backend::Backend) -> Result<(), PgFailure> {
        retry(self.connector.session_retry(), "ending an abandoned server process", || async {
            backend::end(&self.reader().await?.client, backend).await
        })
        .await
    }
}

impl std::fmt::Debug for PostgresWarehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresWarehouse").field("server", &self.connector.describe()).finish()
    }
}

#[async_trait]
impl Warehouse for PostgresWarehouse {
    fn describe(&self) -> String {
        self.connector.describe()
    }

    fn plan(&self, request: &LoadRequest) -> Vec<PlannedStatement> {
        plan::steps(request).iter().map(plan::Step::planned).collect()
    }

    async fn last_commit(&self, table_name: &str) -> Result<Option<CommitRecord>, WarehouseError> {
        let read = retry(self.connector.session_retry(), "reading dynashift_runs", || async {
            runs::last_commit(&*self.reader().await?, table_name).await
        });
        Ok(read.await?)
    }

    async fn find_run(&self, run_id: &str) -> Result<Option<CommitRecord>, WarehouseError> {
        Ok(self.read_run(run_id).await?)
    }

    async fn load(&self, call: LoadCall<'_>) -> LoadOutcome {
        let LoadCall { request, events, cancel } = call;
        runner::recorded(events, |reporter| async move {
            request.staged.require_folded("PostgreSQL").map_err(WarehouseError::Other)?;
            let steps = plan::steps(request);
            load::run(self, &steps, &LoadJob { request, reporter: &reporter, cancel }).await
        })
        .await
    }

    async fn target_columns(&self, table: &TableConfig) -> Result<Option<Vec<String>>, WarehouseError> {
        inspect::column_names(&*self.reader().await?, &table.target).await
    }

    fn add_column_sql(&self, table: &TableConfig, column: &crate::warehouse::shape::TargetColumn) -> String {
        crate::warehouse::target_columns::add_column(
            names::quoted_target(&table.target),
            sql::column_definition(column),
        )
    }

    async fn preview(
        &self,
        table: &TableConfig,
        page: &PageRequest,
    ) -> Result<Option<RowPage>, WarehouseError> {
        preview::read_page(&*self.reader().await?, table, page).await
    }
}
