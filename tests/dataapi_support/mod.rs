//! A stand-in for the Redshift Data API, for tests: an HTTP server on loopback that speaks the
//! awsJson 1.1 `RedshiftData.*` protocol well enough for the real aws-sdk-redshiftdata client,
//! and runs the statements on a PostgreSQL 15 database (moto's redshift-data answers cannot be
//! parsed by the Rust SDK and it has no batch, so this exists).
//!
//! Implemented: ExecuteStatement, BatchExecuteStatement (1..=40 SQL, one transaction),
//! DescribeStatement (with SubStatements), GetStatementResult (one page), CancelStatement;
//! Redshift's COPY from S3 (manifest + JSONPaths + GZIP, read from moto) with
//! `sys_load_error_detail`; `super` as a jsonb domain; scripted faults ([`Fault`]).
//! `Parameters` (named `:name` placeholders, filled as literals: see `parameters`).
//! Not implemented, and refused with a ValidationException rather than ignored:
//! sessions (SessionId / SessionKeepAliveSeconds), CSV results, AUTO_COMMIT batches. Other
//! operations answer UnknownOperationException. Signatures are not verified.
//!
//! See `statements` for the status sequences and `dialect` for what is translated.
//!
//! ```ignore
//! let standin = DataApiStandIn::start(&pg_url, S3Access { endpoint: moto, region: "us-east-1".into() }).await;
//! let client = aws_sdk_redshiftdata::Client::from_conf(/* endpoint_url = standin.endpoint() */);
//! ```

#![allow(dead_code, reason = "each test binary uses a part of the support")]

mod copy;
pub mod copy_command;
mod copy_row;
pub mod dialect;
mod faults;
pub mod jsonpath;
mod load_errors;
mod operations;
pub mod parameters;
mod protocol;
mod results;
mod runner;
mod server;
mod statements;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;

pub use faults::Fault;
pub use protocol::CallRecord;

use faults::FaultBook;
use statements::Registry;

/// Where COPY reads S3 (moto); the credentials are moto's fixed `testing` / `testing`.
#[derive(Debug, Clone)]
pub struct S3Access {
    pub endpoint: String,
    pub region: String,
}

/// A running stand-in; stops when dropped.
pub struct DataApiStandIn {
    endpoint: String,
    shared: Arc<Shared>,
    server: Option<JoinHandle<()>>,
}

/// What the server, the operations and the statement tasks share.
struct Shared {
    pg_url: String,
    s3: aws_sdk_s3::Client,
    /// Every bucket's Region (moto's).
    bucket_region: String,
    /// The Region of the warehouse the stand-in plays: the buckets' unless a test sets another.
    warehouse_region: Mutex<Option<String>>,
    statements: Mutex<Registry>,
    faults: Mutex<FaultBook>,
    calls: Mutex<Vec<CallRecord>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    shutdown: CancellationToken,
}

impl Shared {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.statements.lock().expect("registry lock")
    }

    fn faults(&self) -> MutexGuard<'_, FaultBook> {
        self.faults.lock().expect("faults lock")
    }

    fn warehouse_region(&self) -> String {
        let set = self.warehouse_region.lock().expect("region lock").clone();
        set.unwrap_or_else(|| self.bucket_region.clone())
    }
}

/// How long `stop` waits for cancelled statements to roll back.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

impl DataApiStandIn {
    /// Starts the server; prepares the database at `pg_url` (`super`, `getdate()`,
    /// `sys_load_error_detail`). Panics, saying why, when it cannot.
    pub async fn start(pg_url: &str, s3: S3Access) -> DataApiStandIn {
        prepare_database(pg_url).await;
        let listener =
            TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port for the Data API stand-in");
        let endpoint = format!("http://{}", listener.local_addr().expect("the stand-in's address"));
        let shared = Arc::new(Shared {
            pg_url: pg_url.to_owned(),
            s3: s3_client(&s3),
            bucket_region: s3.region.clone(),
            warehouse_region: Mutex::default(),
            statements: Mutex::default(),
            faults: Mutex::default(),
            calls: Mutex::default(),
            tasks: Mutex::default(),
            shutdown: CancellationToken::new(),
        });
        let server = tokio::spawn(server::serve(listener, shared.clone()));
        DataApiStandIn { endpoint, shared, server: Some(server) }
    }

    /// "http://127.0.0.1:<port>"
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Plays a warehouse in `region` (the buckets' by default): COPY must then name the
    /// buckets' Region exactly when it differs.
    pub fn set_warehouse_region(&self, region: &str) {
        *self.shared.warehouse_region.lock().expect("region lock") = Some(region.to_owned());
    }

    /// Adds a scripted fault; faults apply in the order added.
    pub fn inject(&self, fault: Fault) {
        self.shared.faults().add(fault);
    }

    /// Every call received so far, oldest first.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared.calls.lock().expect("calls lock").clone()
    }

    /// Stops the server and cancels the statements still running (they roll back).
    pub async fn stop(mut self) {
        self.shut_down();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        let tasks = std::mem::take(&mut *self.shared.tasks.lock().expect("tasks lock"));
        let _ = tokio::time::timeout(STOP_TIMEOUT, futures::future::join_all(tasks)).await;
    }

    fn shut_down(&self) {
        self.shared.shutdown.cancel();
        self.shared.registry().cancel_all();
    }
}

impl Drop for DataApiStandIn {
    fn drop(&mut self) {
        self.shut_down();
    }
}

async fn prepare_database(pg_url: &str) {
    let (client, connection) = tokio_postgres::connect(pg_url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("the Data API stand-in cannot connect to its PostgreSQL database: {e}"));
    let connection = tokio::spawn(connection);
    client
        .batch_execute(dialect::SETUP_SQL)
        .await
        .unwrap_or_else(|e| panic!("preparing the database for the Data API stand-in: {e}"));
    drop(client);
    let _ = connection.await;
}

fn s3_client(s3: &S3Access) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(s3.region.clone()))
        .endpoint_url(&s3.endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "data-api-stand-in"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
