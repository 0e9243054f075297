//! Cancelling a statement that is already running. Cancellation is checked between statements
//! (and between files of the COPY); a long DELETE, upsert or table swap would otherwise finish
//! before the cancel took effect. SQLite can interrupt a running statement from another thread,
//! which rolls back the open transaction.

use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Interrupts the connection's running statement when `cancel` fires, for as long as it lives.
/// The connection outlives one load, so the watcher must never interrupt after its load ended:
/// dropping it (before the connection is handed to the next load) disarms it under the same
/// lock the interrupt takes.
pub(super) struct InterruptOnCancel {
    armed: Arc<Mutex<bool>>,
    task: JoinHandle<()>,
}

impl InterruptOnCancel {
    pub(super) fn arm(conn: &Connection, cancel: &CancellationToken, runtime: &Handle) -> InterruptOnCancel {
        let armed = Arc::new(Mutex::new(true));
        let interrupt = conn.get_interrupt_handle();
        let cancel = cancel.clone();
        let watcher_armed = armed.clone();
        let task = runtime.spawn(async move {
            cancel.cancelled().await;
            let armed = watcher_armed.lock().unwrap_or_else(PoisonError::into_inner);
            if *armed {
                interrupt.interrupt();
            }
        });
        InterruptOnCancel { armed, task }
    }
}

impl Drop for InterruptOnCancel {
    fn drop(&mut self) {
        *self.armed.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A statement that runs until interrupted (a recursive CTE with no end).
    const ENDLESS: &str =
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelling_interrupts_the_running_statement() {
        let cancel = CancellationToken::new();
        let runtime = Handle::current();
        let task_cancel = cancel.clone();
        let job = tokio::task::spawn_blocking(move || {
            let conn = Connection::open_in_memory().unwrap();
            let _watch = InterruptOnCancel::arm(&conn, &task_cancel, &runtime);
            conn.query_row(ENDLESS, [], |r| r.get::<_, i64>(0))
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        cancel.cancel();
        let err = tokio::time::timeout(Duration::from_secs(10), job).await.unwrap().unwrap().unwrap_err();
        assert_eq!(err.sqlite_error_code(), Some(rusqlite::ErrorCode::OperationInterrupted));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_watcher_never_interrupts_later_statements() {
        let cancel = CancellationToken::new();
        let runtime = Handle::current();
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let task_cancel = cancel.clone();
        let job = tokio::task::spawn_blocking(move || {
            let conn = Connection::open_in_memory().unwrap();
            drop(InterruptOnCancel::arm(&conn, &task_cancel, &runtime));
            started_tx.send(()).unwrap();
            let bounded = ENDLESS.replace("FROM n)", "FROM n WHERE i < 3000000)");
            conn.query_row(&bounded, [], |r| r.get::<_, i64>(0))
        });
        started_rx.await.unwrap();
        cancel.cancel();
        assert_eq!(job.await.unwrap().unwrap(), 3_000_000);
    }
}
