//! The lease keeper: renews the table's lease in the background while a run holds it, cancels
//! the run should the lease be lost, and releases it when the run ends.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::pipeline::lock::Lease;
use crate::store::ObjectStore;

/// The background lease renewal of a run.
pub(super) struct Renewal {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Lease>,
}

pub(super) fn spawn_renewal(
    mut lease: Lease,
    store: Arc<dyn ObjectStore>,
    run_cancel: CancellationToken,
) -> Renewal {
    let stop = CancellationToken::new();
    let stop_signal = stop.clone();
    let task = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop_signal.cancelled() => return lease,
                _ = tokio::time::sleep(lease.renew_every()) => {}
            }
            if let Err(err) = lease.renew(store.as_ref()).await {
                tracing::error!(%err, "lost the table lease; cancelling the run");
                run_cancel.cancel();
                return lease;
            }
        }
    });
    Renewal { stop, task }
}

impl Renewal {
    pub(super) async fn stop_and_release(self, store: &dyn ObjectStore) {
        self.stop.cancel();
        match self.task.await {
            Ok(lease) => {
                if let Err(err) = lease.release(store).await {
                    tracing::warn!(%err, "could not release the table lease; it will expire");
                }
            }
            Err(err) => tracing::warn!(%err, "lease renewal task ended abnormally; the lease will expire"),
        }
    }
}
