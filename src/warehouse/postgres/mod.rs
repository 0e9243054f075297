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

mod canonical_json;
mod copy;
mod copy_text;
mod exec;
mod failure;
mod inspect;
mod names;
mod plan;
mod runs;
mod session;
pub mod settings;
pub mod sql;
pub mod tls;
pub mod values;

use async_trait::async_trait;
use tokio::sync::{Mutex, MutexGuard};
use tokio_util::sync::CancellationToken;

use crate::config::TargetTable;
use crate::pipeline::events::EventSink;
use crate::warehouse::{CommitRecord, LoadReport, LoadRequest, PlannedStatement, Warehouse, WarehouseError};

pub use canonical_json::CanonicalJson;
pub use inspect::TableRows;
pub use settings::ConnectSettings;
pub use tls::TlsMode;
pub use values::{PgValue, expected_value};

use exec::LoadJob;
use session::{Connector, Session};

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

    /// Like [`PostgresWarehouse::connect`], from prepared settings.
    pub async fn connect_with(settings: ConnectSettings) -> Result<PostgresWarehouse, WarehouseError> {
        let connector = Connector::new(settings)?;
        let reader = connector.open().await?;
        Ok(PostgresWarehouse { connector, reader: Mutex::new(reader) })
    }

    /// Every row of a target, ordered by primary key, with its column names; `None` when the
    /// table does not exist. Compare with [`expected_value`] of the staged values.
    pub async fn query_rows(&self, target: &TargetTable) -> Result<Option<TableRows>, WarehouseError> {
        inspect::query_rows(&*self.reader().await?, target).await
    }

    /// The reader session, reopened when its connection has closed (a restart, a timeout).
    async fn reader(&self) -> Result<MutexGuard<'_, Session>, WarehouseError> {
        let mut reader = self.reader.lock().await;
        if reader.client.is_closed() {
            *reader = self.connector.open().await?;
        }
        Ok(reader)
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
        runs::last_commit(&*self.reader().await?, table_name).await
    }

    async fn find_run(&self, run_id: &str) -> Result<Option<CommitRecord>, WarehouseError> {
        runs::find_run(&*self.reader().await?, run_id).await
    }

    async fn load(
        &self,
        request: &LoadRequest,
        events: &EventSink,
        cancel: &CancellationToken,
    ) -> Result<LoadReport, WarehouseError> {
        let steps = plan::steps(request);
        let session = self.connector.open().await?;
        exec::run_steps(&session, &steps, &LoadJob { request, events, cancel }).await
    }
}
