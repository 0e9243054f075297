//! Running a submitted statement on PostgreSQL, on a task of its own, the way the Data API
//! runs it: a session of its own (TEMP tables vanish with it), a batch in ONE transaction
//! (`BEGIN` … `COMMIT`, statements serially, any failure rolls everything back), a single
//! statement in autocommit.
//!
//! Each SQL: scripted faults first (a wait, a failure), then `dialect::translate`; a COPY runs
//! through `copy`, anything else is prepared (for its column types) and then run with the
//! simple query protocol (for its values as text, see `results`).
//!
//! Cancelling (CancelStatement) drops the work in flight, asks PostgreSQL to cancel the
//! running query, rolls back and closes the session before the statement shows ABORTED.
//! Once COMMIT is under way the statement can no longer be cancelled.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::{Client, NoTls, SimpleQueryMessage};
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::copy::{self, CopyContext};
use super::dialect::{self, Translated};
use super::results::ResultSet;
use super::statements::SqlOutcome;

/// How long closing a session may wait for its connection to end.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A statement's work: its id, SQL, and whether it is a batch (one transaction).
pub struct Job {
    pub id: String,
    pub sqls: Vec<String>,
    pub transactional: bool,
    pub cancel: CancellationToken,
}

/// How the statements ended.
enum Ending {
    Done,
    Failed { index: Option<usize>, error: String },
    Cancelled,
}

/// Runs `job` to its end, recording every step in the registry.
pub async fn run(shared: Arc<Shared>, job: Job) {
    shared.registry().picked(&job.id);
    let session = match Session::open(&shared.pg_url).await {
        Ok(session) => session,
        Err(error) => return shared.registry().failed(&job.id, None, &postgres_error_text(&error)),
    };
    let ending = tokio::select! {
        biased;
        () = job.cancel.cancelled() => Ending::Cancelled,
        ending = run_statements(&shared, &session.client, &job) => ending,
    };
    let ending = match ending {
        Ending::Done if job.transactional => commit(&shared, &session.client, &job.id).await,
        other => other,
    };
    if matches!(ending, Ending::Cancelled) {
        // The dropped work may have left a query running.
        let _ = session.client.cancel_token().cancel_query(NoTls).await;
    }
    if !matches!(ending, Ending::Done) {
        // Errors are irrelevant: closing the session rolls back whatever is left.
        let _ = session.client.batch_execute("ROLLBACK").await;
    }
    session.close().await;
    let mut registry = shared.registry();
    match ending {
        Ending::Done => registry.finished(&job.id),
        Ending::Failed { index, error } => registry.failed(&job.id, index, &error),
        Ending::Cancelled => registry.aborted(&job.id),
    }
}

async fn run_statements(shared: &Shared, client: &Client, job: &Job) -> Ending {
    if job.transactional
        && let Err(error) = client.batch_execute("BEGIN").await
    {
        return Ending::Failed { index: None, error: postgres_error_text(&error) };
    }
    for (index, sql) in job.sqls.iter().enumerate() {
        let query_id = shared.registry().sub_started(&job.id, index);
        match run_one(shared, client, sql, query_id).await {
            Ok(outcome) => shared.registry().sub_finished(&job.id, index, outcome),
            Err(error) => return Ending::Failed { index: Some(index), error },
        }
    }
    Ending::Done
}

async fn commit(shared: &Shared, client: &Client, id: &str) -> Ending {
    if !shared.registry().begin_commit(id) {
        return Ending::Cancelled;
    }
    match client.batch_execute("COMMIT").await {
        Ok(()) => Ending::Done,
        Err(error) => Ending::Failed { index: None, error: postgres_error_text(&error) },
    }
}

/// One SQL: its outcome, or its error text.
async fn run_one(shared: &Shared, client: &Client, sql: &str, query_id: i64) -> Result<SqlOutcome, String> {
    let faults = shared.faults().take_for_statement(sql);
    if let Some(delay) = faults.delay {
        tokio::time::sleep(delay).await;
    }
    if let Some(error) = faults.failure {
        return Err(error);
    }
    match dialect::translate(sql)? {
        Translated::Copy(command) => {
            let warehouse_region = shared.warehouse_region();
            let context = CopyContext {
                s3: &shared.s3,
                pg_url: &shared.pg_url,
                query_id,
                bucket_region: &shared.bucket_region,
                warehouse_region: &warehouse_region,
            };
            let rows = copy::run(&context, client, &command).await?;
            Ok(SqlOutcome { result_rows: i64::try_from(rows).unwrap_or(i64::MAX), result_set: None })
        }
        Translated::Sql(sql) => run_sql(client, &sql).await.map_err(|e| postgres_error_text(&e)),
    }
}

/// Statements whose row count is "rows affected".
const DML: [&str; 4] = ["INSERT", "UPDATE", "DELETE", "MERGE"];

async fn run_sql(client: &Client, sql: &str) -> Result<SqlOutcome, tokio_postgres::Error> {
    let prepared = client.prepare(sql).await?;
    let messages = client.simple_query(sql).await?;
    let count = messages
        .iter()
        .rev()
        .find_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(i64::try_from(*n).unwrap_or(i64::MAX)),
            _ => None,
        })
        .unwrap_or(0);
    if !prepared.columns().is_empty() {
        let result_set = ResultSet::from_messages(prepared.columns(), &messages);
        return Ok(SqlOutcome { result_rows: result_set.records.len() as i64, result_set: Some(result_set) });
    }
    let first_word = sql.split_whitespace().next().unwrap_or_default();
    let is_dml = DML.iter().any(|keyword| first_word.eq_ignore_ascii_case(keyword));
    Ok(SqlOutcome { result_rows: if is_dml { count } else { -1 }, result_set: None })
}

/// A failed statement's error text, as Redshift words it: `ERROR: <message>` (and its detail).
pub fn postgres_error_text(error: &tokio_postgres::Error) -> String {
    let Some(db) = error.as_db_error() else { return format!("ERROR: {error}") };
    match db.detail() {
        Some(detail) => format!("ERROR: {}\nDETAIL: {detail}", db.message()),
        None => format!("ERROR: {}", db.message()),
    }
}

/// A connection of the statement's own.
struct Session {
    client: Client,
    connection: tokio::task::JoinHandle<()>,
}

impl Session {
    async fn open(pg_url: &str) -> Result<Session, tokio_postgres::Error> {
        let (client, connection) = tokio_postgres::connect(pg_url, NoTls).await?;
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        // Redshift sessions are UTC; results print timestamps and dates in ISO form.
        client.batch_execute("SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, MDY'").await?;
        Ok(Session { client, connection })
    }

    /// Ends the session (PostgreSQL rolls back anything uncommitted).
    async fn close(self) {
        drop(self.client);
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.connection).await;
    }
}
