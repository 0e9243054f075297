//! One PostgreSQL session: a connected client whose connection runs on its own task, and the
//! means to cancel the statement it is running.
//!
//! Every load opens its own session: its temporary stage table and its transaction live and die
//! with it, and a load that ends badly (a cancel the server did not acknowledge, a lost
//! connection) leaves nothing behind for the next one — the server rolls back a transaction
//! whose session went away.
//!
//! [`Connector::open`] makes one attempt and says whether a failure is transient; the callers
//! retry it (alone when connecting the warehouse, as part of the whole load when loading).

use std::sync::Arc;

use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{CancelToken, Client, NoTls, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::retry::RetryPolicy;
use crate::warehouse::WarehouseError;

use super::backend::{self, Backend};
use super::failure::describe;
use super::settings::ConnectSettings;
use super::tls::{self, TlsMode};
use super::transient::{PgFailure, transient_cause};

/// Opens sessions to one server.
#[derive(Clone)]
pub(super) struct Connector {
    settings: Arc<ConnectSettings>,
    tls: Tls,
}

/// The TLS connector, built once (reading the CA file) when the warehouse is created.
#[derive(Clone)]
enum Tls {
    Plain,
    Rustls(MakeRustlsConnect),
}

/// A connected session.
pub(super) struct Session {
    pub client: Client,
    canceller: Canceller,
    /// The server process serving it.
    pub backend: Backend,
}

/// Sends the server a request to cancel whatever the session is running.
#[derive(Clone)]
pub(super) struct Canceller {
    token: CancelToken,
    tls: Tls,
}

impl Connector {
    pub(super) fn new(settings: ConnectSettings) -> Result<Connector, WarehouseError> {
        let tls = match &settings.tls {
            TlsMode::Disable => Tls::Plain,
            TlsMode::Require { ca_file } => Tls::Rustls(tls::connector(ca_file.as_deref())?),
        };
        Ok(Connector { settings: Arc::new(settings), tls })
    }

    pub(super) fn describe(&self) -> String {
        self.settings.describe()
    }

    /// How connecting and reading commit records are retried.
    pub(super) fn session_retry(&self) -> RetryPolicy {
        self.settings.session_retry
    }

    /// How a load that failed transiently is retried.
    pub(super) fn load_retry(&self) -> RetryPolicy {
        self.settings.load_retry
    }

    /// One attempt to open a session.
    pub(super) async fn open(&self) -> Result<Session, PgFailure> {
        let client = match &self.tls {
            Tls::Plain => self.connect(NoTls).await?,
            Tls::Rustls(tls) => self.connect(tls.clone()).await?,
        };
        let canceller = Canceller { token: client.cancel_token(), tls: self.tls.clone() };
        let backend = backend::identify(&client).await?;
        Ok(Session { client, canceller, backend })
    }

    /// Connects and drives the connection on its own task until the client is dropped.
    async fn connect<T>(&self, tls: T) -> Result<Client, PgFailure>
    where
        T: MakeTlsConnect<Socket>,
        T::Stream: Send + 'static,
    {
        let (client, connection) = self.settings.config.connect(tls).await.map_err(|e| PgFailure {
            message: format!(
                "cannot connect to {}: {}; check the warehouse URL, that the server is up and accepts \
                 this user",
                self.describe(),
                describe(&e)
            ),
            cause: transient_cause(&e),
            connecting: true,
        })?;
        let target = self.describe();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(warehouse = %target, error = %describe(&error), "postgres connection ended");
            }
        });
        Ok(client)
    }
}

impl Session {
    pub(super) fn canceller(&self) -> Canceller {
        self.canceller.clone()
    }
}

impl Canceller {
    /// Asks the server to cancel the running statement. A failure is logged: the caller stops
    /// waiting for the statement anyway, and dropping the session ends it.
    pub(super) async fn cancel_running_statement(&self) {
        let result = match &self.tls {
            Tls::Plain => self.token.cancel_query(NoTls).await,
            Tls::Rustls(tls) => self.token.cancel_query(tls.clone()).await,
        };
        if let Err(error) = result {
            tracing::warn!(error = %describe(&error), "the postgres cancel request failed");
        }
    }
}
