//! One run per table: a lease object (`<table>/_state/lock`) created with a conditional put, so
//! two consoles, a console and cron, or two hosts never run the same table at once. The lease
//! names its holder and expires, so a crashed run's lease is taken over after `LEASE_TTL`; a
//! live run renews it long before that.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::PipelineError;
use crate::config::TableConfig;
use crate::store::{ObjectStore, StoreError};

/// How long a lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(120);
/// How often a running run renews its lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(30);

/// Who holds a table's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseHolder {
    pub run_id: String,
    pub host: String,
    pub pid: u32,
    pub acquired_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Display for LeaseHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "run {} on {} (pid {}) since {} (lease expires {})",
            self.run_id,
            self.host,
            self.pid,
            self.acquired_at.format("%Y-%m-%d %H:%M:%SZ"),
            self.expires_at.format("%H:%M:%SZ")
        )
    }
}

/// A held lease. Release it with [`Lease::release`]; a lease never released expires.
#[derive(Debug)]
pub struct Lease {
    key: String,
    table: String,
    holder: LeaseHolder,
}

fn lock_key(table: &TableConfig) -> String {
    format!("{}_state/lock", table.state_prefix())
}

fn holder_for(run_id: &str) -> LeaseHolder {
    let now = Utc::now();
    LeaseHolder {
        run_id: run_id.to_owned(),
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        pid: std::process::id(),
        acquired_at: now,
        expires_at: now + LEASE_TTL,
    }
}

impl Lease {
    /// Takes the table's lease for `run_id`, taking over an expired one; refuses with the holder
    /// when someone else's lease is live.
    pub async fn acquire(
        store: &dyn ObjectStore,
        table: &TableConfig,
        run_id: &str,
    ) -> Result<Lease, PipelineError> {
        let key = lock_key(table);
        // Two attempts: the second follows the removal of an expired lease.
        for _ in 0..2 {
            let holder = holder_for(run_id);
            let bytes = serde_json::to_vec_pretty(&holder).expect("leases always serialize");
            match store.create_new(&key, bytes).await {
                Ok(()) => return Ok(Lease { key, table: table.name.clone(), holder }),
                Err(StoreError::AlreadyExists { .. }) => {}
                Err(err) => return Err(err.into()),
            }
            let current = match store.get(&key).await {
                Ok(bytes) => bytes,
                Err(StoreError::NotFound { .. }) => continue,
                Err(err) => return Err(err.into()),
            };
            let current: LeaseHolder = serde_json::from_slice(&current).map_err(|err| {
                PipelineError::Inconsistent(format!(
                    "the lock {} is unreadable ({err}); if no run of `{}` is going, delete it",
                    store.url_of(&key),
                    table.name
                ))
            })?;
            if current.expires_at > Utc::now() {
                return Err(PipelineError::Locked { table: table.name.clone(), holder: current.to_string() });
            }
            tracing::warn!(table = %table.name, holder = %current, "taking over an expired lease");
            store.delete(&key).await?;
        }
        Err(PipelineError::Locked {
            table: table.name.clone(),
            holder: "another run that just started".into(),
        })
    }

    pub fn holder(&self) -> &LeaseHolder {
        &self.holder
    }

    /// Extends the lease; fails if it was taken over in the meantime (the run must stop).
    pub async fn renew(&mut self, store: &dyn ObjectStore) -> Result<(), PipelineError> {
        self.ensure_still_ours(store).await?;
        self.holder.expires_at = Utc::now() + LEASE_TTL;
        let bytes = serde_json::to_vec_pretty(&self.holder).expect("leases always serialize");
        store.put(&self.key, bytes).await?;
        Ok(())
    }

    /// Gives the lease up (only if it is still ours).
    pub async fn release(self, store: &dyn ObjectStore) -> Result<(), PipelineError> {
        if self.ensure_still_ours(store).await.is_ok() {
            store.delete(&self.key).await?;
        }
        Ok(())
    }

    async fn ensure_still_ours(&self, store: &dyn ObjectStore) -> Result<(), PipelineError> {
        let current: Option<LeaseHolder> = match store.get(&self.key).await {
            Ok(bytes) => serde_json::from_slice(&bytes).ok(),
            Err(StoreError::NotFound { .. }) => None,
            Err(err) => return Err(err.into()),
        };
        match current {
            Some(holder) if holder.run_id == self.holder.run_id => Ok(()),
            Some(holder) => {
                Err(PipelineError::Locked { table: self.table.clone(), holder: holder.to_string() })
            }
            None => Err(PipelineError::Inconsistent(format!("the lease {} disappeared", self.key))),
        }
    }
}
