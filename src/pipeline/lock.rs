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

impl LeaseHolder {
    /// Whether the holder is a process of this host that no longer exists (it crashed): its
    /// lease can be taken over at once instead of after expiry. Only decidable on Linux.
    fn is_dead_local_process(&self) -> bool {
        let this_host = gethostname::gethostname().to_string_lossy().into_owned();
        cfg!(target_os = "linux")
            && self.host == this_host
            && self.pid != std::process::id()
            && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
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
            if current.expires_at > Utc::now() && !current.is_dead_local_process() {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::LocalStore;

    fn table() -> TableConfig {
        let text = "[[table]]\nname = \"customers\"\nkey = [\"customer_id\"]\n";
        crate::config::load_str(text, std::path::Path::new("/tmp/tables.toml")).unwrap().tables.remove(0)
    }

    #[tokio::test]
    async fn a_second_run_is_refused_with_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let table = table();
        let lease = Lease::acquire(&store, &table, "run-a").await.unwrap();
        let err = Lease::acquire(&store, &table, "run-b").await.unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, PipelineError::Locked { .. }));
        assert!(message.contains("run-a") && message.contains(&std::process::id().to_string()), "{message}");
        lease.release(&store).await.unwrap();
        Lease::acquire(&store, &table, "run-b").await.unwrap();
    }

    #[tokio::test]
    async fn a_live_lease_of_a_dead_local_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let table = table();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = child.id();
        child.wait().unwrap();
        let crashed = LeaseHolder {
            run_id: "crashed".into(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            pid: dead_pid,
            acquired_at: Utc::now(),
            expires_at: Utc::now() + LEASE_TTL,
        };
        store.create_new(&lock_key(&table), serde_json::to_vec(&crashed).unwrap()).await.unwrap();
        let lease = Lease::acquire(&store, &table, "fresh").await.unwrap();
        assert_eq!(lease.holder().run_id, "fresh");
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let table = table();
        let stale = LeaseHolder {
            run_id: "crashed".into(),
            host: "elsewhere".into(),
            pid: 1,
            acquired_at: Utc::now() - LEASE_TTL * 3,
            expires_at: Utc::now() - LEASE_TTL,
        };
        store.create_new(&lock_key(&table), serde_json::to_vec(&stale).unwrap()).await.unwrap();
        let lease = Lease::acquire(&store, &table, "fresh").await.unwrap();
        assert_eq!(lease.holder().run_id, "fresh");
    }

    #[tokio::test]
    async fn a_lease_taken_over_is_neither_renewed_nor_released_by_its_old_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let table = table();
        let mut old = Lease::acquire(&store, &table, "old").await.unwrap();
        store.delete(&lock_key(&table)).await.unwrap();
        let new = Lease::acquire(&store, &table, "new").await.unwrap();
        assert!(old.renew(&store).await.is_err());
        old.release(&store).await.unwrap();
        let holder: LeaseHolder =
            serde_json::from_slice(&store.get(&lock_key(&table)).await.unwrap()).unwrap();
        assert_eq!(holder.run_id, "new");
        new.release(&store).await.unwrap();
        assert!(store.head(&lock_key(&table)).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn concurrent_acquirers_never_both_win() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::new(dir.path()));
        let table = Arc::new(table());
        let attempts = (0..6).map(|i| {
            let (store, table) = (store.clone(), table.clone());
            tokio::spawn(
                async move { Lease::acquire(store.as_ref(), &table, &format!("run-{i}")).await.is_ok() },
            )
        });
        let winners =
            futures::future::join_all(attempts).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
        assert_eq!(winners, 1);
    }

    #[tokio::test]
    async fn an_unreadable_lock_names_its_location() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let table = table();
        store.create_new(&lock_key(&table), b"garbage".to_vec()).await.unwrap();
        let message = Lease::acquire(&store, &table, "x").await.unwrap_err().to_string();
        assert!(message.contains("_state/lock") && message.contains("delete it"), "{message}");
    }
}
