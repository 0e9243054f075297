//! Which server process serves a session, and how to make sure it has ended.
//!
//! A load whose connection dropped as its COMMIT was sent leaves a server process that may
//! still be committing, may have committed, or may sit in its open transaction waiting for a
//! COMMIT that never came (until TCP keepalives notice, hours later). `dynashift_runs` tells
//! whether the load committed only once that transaction is over, so the process is ended first:
//! `pg_terminate_backend` lets a COMMIT in progress finish (it runs with interrupts held off) and
//! rolls back an open transaction. Process ids are reused, so a backend is named by its pid AND
//! its start time.

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use super::failure::describe;
use super::transient::PgFailure;

/// How long `pg_terminate_backend` waits for the process to exit (milliseconds).
const EXIT_WAIT_MS: i64 = 10_000;

/// One server process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Backend {
    pub pid: i32,
    pub started: DateTime<Utc>,
}

/// The server process of the session `client` is connected to.
pub(super) async fn identify(client: &Client) -> Result<Backend, PgFailure> {
    let sql = "SELECT pid, backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()";
    let row = client.query_one(sql, &[]).await.map_err(|e| {
        PgFailure::statement(&e, format!("identifying the session's server process: {}", describe(&e)))
    })?;
    Ok(Backend { pid: row.get(0), started: row.get(1) })
}

/// Ends `backend` (through another session's client `on`) and waits until it has exited; done at
/// once when it is already gone. Takes the bare client so this module stays below `session`.
pub(super) async fn end(on: &Client, backend: Backend) -> Result<(), PgFailure> {
    let sql =
        "SELECT pg_terminate_backend(pid, $3) FROM pg_stat_activity WHERE pid = $1 AND backend_start = $2";
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
        [&backend.pid, &backend.started, &EXIT_WAIT_MS];
    let ended = on.query_opt(sql, &params).await.map_err(|e| {
        PgFailure::statement(&e, format!("ending server process {}: {}", backend.pid, describe(&e)))
    })?;
    match ended.map(|row| row.get::<_, bool>(0)) {
        None | Some(true) => Ok(()),
        // Also answered at once, with a warning that the PID "is not a PostgreSQL backend
        // process", when the process exited between the scan of pg_stat_activity and the
        // signal: ended all the same. Only a process still listed has not ended.
        Some(false) if !is_listed(on, backend).await? => Ok(()),
        Some(false) => Err(PgFailure::permanent(format!(
            "server process {} did not end within {} s of pg_terminate_backend",
            backend.pid,
            EXIT_WAIT_MS / 1000
        ))),
    }
}

/// `backend` is still among the server's processes.
async fn is_listed(on: &Client, backend: Backend) -> Result<bool, PgFailure> {
    let sql = "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND backend_start = $2";
    let listed = on.query_opt(sql, &[&backend.pid, &backend.started]).await.map_err(|e| {
        PgFailure::statement(&e, format!("looking for server process {}: {}", backend.pid, describe(&e)))
    })?;
    Ok(listed.is_some())
}
