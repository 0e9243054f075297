//! One run per table: a lease object (`<table>/_state/lock`) created with a conditional put, so
//! two consoles, a console and cron, or two hosts never run the same table at once.
//!
//! Taking over a lease does not trust any clock but the taker's own monotonic one. The lease
//! carries a generation its holder bumps at every renewal (every [`RENEW_EVERY`]); a taker must
//! watch the lease stay at one version for a whole [`LEASE_TTL`] of its own `Instant` time
//! before it replaces it, and the replacement is a compare-and-swap on that version (S3
//! `If-Match` on the ETag; a `flock`ed check-and-rename locally), so of several racing takers
//! exactly one wins, and the old holder learns it at its next renewal, which is a swap too. The
//! lease's wall-clock expiry is only ever used to refuse at once (a lease that looks live is
//! left alone, whatever the clocks say); a lease whose holder is a dead process of this host is
//! taken over at once.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::PipelineError;
use super::fault;
use crate::config::TableConfig;
use crate::store::{ObjectStore, ObjectVersion, StoreError};

/// How long a lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(120);
/// How often a running run renews its lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(30);

/// The lease period and the wall clock a lease is judged with.
#[derive(Debug, Clone, Copy)]
pub struct LeaseTiming {
    pub ttl: Duration,
    /// Added to this host's wall clock (non-zero only in the clock-skew tests).
    pub clock_offset: chrono::Duration,
}

impl LeaseTiming {
    /// The real timing (debug builds let the lease tests shorten and skew it; see `fault`).
    pub fn configured() -> LeaseTiming {
        LeaseTiming { ttl: fault::lease_ttl().unwrap_or(LEASE_TTL), clock_offset: fault::clock_offset() }
    }

    /// How often the holder renews: a quarter of the period, so three renewals may fail in a row.
    pub fn renew_every(&self) -> Duration {
        if self.ttl == LEASE_TTL { RENEW_EVERY } else { self.ttl / 4 }
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// How often a taker looks at a lease it watches.
    fn poll_every(&self) -> Duration {
        (self.ttl / 10).clamp(Duration::from_millis(10), Duration::from_secs(5))
    }
}

/// Who holds a table's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseHolder {
    pub run_id: String,
    pub host: String,
    pub pid: u32,
    pub acquired_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Bumped at every renewal and takeover. Leases written before generations existed read
    /// as generation 0.
    #[serde(default)]
    pub generation: u64,
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
    /// lease can be taken over at once instead of after a lease period.
    fn is_dead_local_process(&self) -> bool {
        let this_host = gethostname::gethostname().to_string_lossy().into_owned();
        self.host == this_host && crate::store::is_dead_process_of_this_host(self.pid)
    }

    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("leases always serialize")
    }
}

/// A held lease. Release it with [`Lease::release`]; a lease never released expires.
#[derive(Debug)]
pub struct Lease {
    key: String,
    table: String,
    holder: LeaseHolder,
    /// The version of the lease object as we last wrote it.
    version: ObjectVersion,
    timing: LeaseTiming,
}

fn lock_key(table: &TableConfig) -> String {
    format!("{}_state/lock", table.state_prefix())
}

fn holder_for(run_id: &str, generation: u64, timing: &LeaseTiming) -> LeaseHolder {
    let now = timing.now();
    LeaseHolder {
        run_id: run_id.to_owned(),
        host: gethostname::gethostname().to_string_lossy().into_owned(),
        pid: std::process::id(),
        acquired_at: now,
        expires_at: now + timing.ttl,
        generation,
    }
}

/// The lease as found in the store.
struct Found {
    version: ObjectVersion,
    /// `None` when unreadable (empty or truncated by an older version's crash).
    holder: Option<LeaseHolder>,
}

impl Found {
    fn describe(&self, store: &dyn ObjectStore, key: &str) -> String {
        match &self.holder {
            Some(holder) => holder.to_string(),
            None => format!("an unreadable lease {} being rewritten by its holder", store.url_of(key)),
        }
    }
}

/// What a taker does about a lease it found.
enum Verdict {
    TakeOver,
    Watch,
    Refuse,
}

impl Lease {
    /// Takes the table's lease for `run_id`; refuses with the holder when someone else's lease
    /// is live. A lease that looks expired (or is unreadable) is watched for a lease period
    /// before it is taken over; a dead local holder's lease is taken at once.
    pub async fn acquire(
        store: &dyn ObjectStore,
        table: &TableConfig,
        run_id: &str,
    ) -> Result<Lease, PipelineError> {
        let timing = LeaseTiming::configured();
        let lease = Lease::acquire_with(store, table, run_id, timing).await?;
        // Holding the lease, no other run of this table writes: temporaries of a killed
        // writer can go (the store removes only those provably abandoned).
        if let Err(err) = store.remove_abandoned_temporaries(&table.state_prefix(), timing.ttl).await {
            tracing::warn!(table = %table.name, %err, "could not remove temporary files killed runs left");
        }
        Ok(lease)
    }

    pub async fn acquire_with(
        store: &dyn ObjectStore,
        table: &TableConfig,
        run_id: &str,
        timing: LeaseTiming,
    ) -> Result<Lease, PipelineError> {
        let key = lock_key(table);
        let mut watched: Option<(ObjectVersion, Instant)> = None;
        // A lease that vanishes between our create and our read, again and again, is a crowd
        // of runs starting and ending; give up after a few rounds.
        for _ in 0..5 {
            let holder = holder_for(run_id, 1, &timing);
            match store.create_new(&key, holder.to_bytes()).await {
                Ok(()) => return Lease::created(store, table, key, holder, timing).await,
                Err(StoreError::AlreadyExists { .. }) => {}
                Err(err) => return Err(err.into()),
            }
            loop {
                let Some(found) = read(store, &key).await? else { break };
                match verdict(&found, &mut watched, &timing) {
                    Verdict::Refuse => {
                        let holder = found.describe(store, &key);
                        return Err(PipelineError::Locked { table: table.name.clone(), holder });
                    }
                    Verdict::Watch => tokio::time::sleep(timing.poll_every()).await,
                    Verdict::TakeOver => {
                        let generation = found.holder.as_ref().map_or(0, |h| h.generation) + 1;
                        let holder = holder_for(run_id, generation, &timing);
                        match store.replace_if(&key, holder.to_bytes(), &found.version).await {
                            Ok(version) => {
                                let previous = found.describe(store, &key);
                                tracing::warn!(table = %table.name, %previous, "took over a stale lease");
                                let lease = Lease { key, table: table.name.clone(), holder, version, timing };
                                return Ok(lease);
                            }
                            // Another taker won, or the holder renewed: look again.
                            Err(StoreError::Changed { .. }) => watched = None,
                            Err(err) => return Err(err.into()),
                        }
                    }
                }
            }
        }
        Err(PipelineError::Locked {
            table: table.name.clone(),
            holder: "another run that just started".into(),
        })
    }

    /// The lease we just created, with the version the store gave it.
    async fn created(
        store: &dyn ObjectStore,
        table: &TableConfig,
        key: String,
        holder: LeaseHolder,
        timing: LeaseTiming,
    ) -> Result<Lease, PipelineError> {
        let (bytes, version) = store.get_versioned(&key).await?;
        if bytes != holder.to_bytes() {
            return Err(PipelineError::Locked {
                table: table.name.clone(),
                holder: "another run, which took over the lease just created".into(),
            });
        }
        Ok(Lease { key, table: table.name.clone(), holder, version, timing })
    }

    pub fn holder(&self) -> &LeaseHolder {
        &self.holder
    }

    /// How often this lease must be renewed.
    pub fn renew_every(&self) -> Duration {
        self.timing.renew_every()
    }

    /// Extends the lease with a compare-and-swap on the version we wrote last; fails with the
    /// new holder if the lease was taken over in the meantime (the run must stop).
    pub async fn renew(&mut self, store: &dyn ObjectStore) -> Result<(), PipelineError> {
        let mut renewed = self.holder.clone();
        renewed.generation += 1;
        renewed.expires_at = self.timing.now() + self.timing.ttl;
        match store.replace_if(&self.key, renewed.to_bytes(), &self.version).await {
            Ok(version) => {
                (self.holder, self.version) = (renewed, version);
                Ok(())
            }
            Err(StoreError::Changed { .. }) => Err(self.lost(store).await),
            Err(err) => Err(err.into()),
        }
    }

    /// Gives the lease up (only if it is still ours, at the version we wrote last).
    pub async fn release(self, store: &dyn ObjectStore) -> Result<(), PipelineError> {
        match store.get_versioned(&self.key).await {
            Ok((_, version)) if version == self.version => Ok(store.delete(&self.key).await?),
            Ok(_) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// The error of a run that lost its lease, naming who holds it now.
    async fn lost(&self, store: &dyn ObjectStore) -> PipelineError {
        match read(store, &self.key).await {
            Ok(Some(found)) => {
                PipelineError::Locked { table: self.table.clone(), holder: found.describe(store, &self.key) }
            }
            Ok(None) => PipelineError::Inconsistent(format!("the lease {} disappeared", self.key)),
            Err(err) => err,
        }
    }
}

/// Who holds `table`'s lease now, as an onlooker sees it: `None` when there is no lease, when
/// it expired by this host's clock, when its holder is a dead process of this host, or while it
/// is unreadable (being rewritten). One read of the lease object; nothing is written.
pub async fn live_holder(
    store: &dyn ObjectStore,
    table: &TableConfig,
) -> Result<Option<LeaseHolder>, PipelineError> {
    let timing = LeaseTiming::configured();
    let Some(found) = read(store, &lock_key(table)).await? else { return Ok(None) };
    Ok(found.holder.filter(|holder| holder.expires_at > timing.now() && !holder.is_dead_local_process()))
}

/// The lease in the store, or `None` when there is none.
/// Who holds `table`'s lease now, read without taking or touching it (for `status`); `None`
/// when nobody does. An unreadable lease (being rewritten) reads as `None`: nobody to name.
pub async fn current_holder(
    store: &dyn ObjectStore,
    table: &TableConfig,
) -> Result<Option<LeaseHolder>, PipelineError> {
    Ok(read(store, &lock_key(table)).await?.and_then(|found| found.holder))
}

async fn read(store: &dyn ObjectStore, key: &str) -> Result<Option<Found>, PipelineError> {
    match store.get_versioned(key).await {
        Ok((bytes, version)) => Ok(Some(Found { version, holder: serde_json::from_slice(&bytes).ok() })),
        Err(StoreError::NotFound { .. }) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Judges a found lease. Refusing is always safe, so this host's wall clock may refuse at once
/// (for at most one lease period past the lease's real expiry, when our clock is behind);
/// taking over needs proof: a dead local holder, or the same version watched for a whole lease
/// period on our monotonic clock. A version that changed while watched was renewed: refuse.
fn verdict(found: &Found, watched: &mut Option<(ObjectVersion, Instant)>, timing: &LeaseTiming) -> Verdict {
    if let Some(holder) = &found.holder {
        if holder.is_dead_local_process() {
            return Verdict::TakeOver;
        }
        // Live by our clock: refuse. An expiry further ahead than a whole period cannot come
        // from a clock agreeing with ours (ours is behind); judge that lease by watching it.
        let remaining = holder.expires_at - timing.now();
        let period = chrono::Duration::from_std(timing.ttl).unwrap_or(chrono::Duration::MAX);
        if remaining > chrono::Duration::zero() && remaining <= period {
            return Verdict::Refuse;
        }
    }
    match watched {
        Some((version, since)) if *version == found.version => {
            if since.elapsed() >= timing.ttl {
                Verdict::TakeOver
            } else {
                Verdict::Watch
            }
        }
        Some(_) => Verdict::Refuse,
        None => {
            tracing::warn!(
                ttl_s = timing.ttl.as_secs_f64(),
                "the lease looks stale; watching it for a lease period before taking it over"
            );
            *watched = Some((found.version.clone(), Instant::now()));
            Verdict::Watch
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
    async fn the_holder_is_read_without_touching_the_lease() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let table = table();
        assert_eq!(current_holder(&store, &table).await.unwrap(), None);
        let lease = Lease::acquire(&store, &table, "run-a").await.unwrap();
        let before = store.get_versioned(&lock_key(&table)).await.unwrap();
        let holder = current_holder(&store, &table).await.unwrap().expect("a holder");
        assert_eq!((holder.run_id.as_str(), holder.pid), ("run-a", std::process::id()));
        assert_eq!(store.get_versioned(&lock_key(&table)).await.unwrap(), before, "left as it was");
        lease.release(&store).await.unwrap();
        assert_eq!(current_holder(&store, &table).await.unwrap(), None);
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
            generation: 3,
        };
        store.create_new(&lock_key(&table), serde_json::to_vec(&crashed).unwrap()).await.unwrap();
        let lease = Lease::acquire(&store, &table, "fresh").await.unwrap();
        assert_eq!(lease.holder().run_id, "fresh");
    }

    /// A lease period short enough for tests, with this host's clock shifted by `offset_s`.
    fn quick(offset_s: i64) -> LeaseTiming {
        LeaseTiming { ttl: Duration::from_millis(400), clock_offset: chrono::Duration::seconds(offset_s) }
    }

    fn elsewhere(expires_in: chrono::Duration) -> LeaseHolder {
        LeaseHolder {
            run_id: "crashed".into(),
            host: "elsewhere".into(),
            pid: 1,
            acquired_at: Utc::now() - LEASE_TTL * 3,
            expires_at: Utc::now() + expires_in,
            generation: 7,
        }
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over_after_a_lease_period_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let table = table();
        let stale = elsewhere(-chrono::Duration::minutes(2));
        store.create_new(&lock_key(&table), stale.to_bytes()).await.unwrap();
        let started = Instant::now();
        let lease = Lease::acquire_with(&store, &table, "fresh", quick(0)).await.unwrap();
        assert!(started.elapsed() >= quick(0).ttl, "taken over after {:?}", started.elapsed());
        assert_eq!((lease.holder().run_id.as_str(), lease.holder().generation), ("fresh", 8));
    }

    #[tokio::test]
    async fn a_live_lease_is_never_taken_over_whatever_this_hosts_clock_says() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::new(dir.path()));
        let table = table();
        // The holder's clock is right; it renews every quarter period (long enough that a busy
        // machine still renews in time).
        let timing = |offset_s| LeaseTiming { ttl: Duration::from_secs(2), ..quick(offset_s) };
        let mut holder = Lease::acquire_with(store.as_ref(), &table, "live", timing(0)).await.unwrap();
        let renewing = {
            let store = store.clone();
            tokio::spawn(async move {
                for _ in 0..6 {
                    tokio::time::sleep(holder.renew_every()).await;
                    holder.renew(store.as_ref()).await.unwrap();
                }
                holder
            })
        };
        // Ten minutes ahead, the lease looks long expired; an hour behind, its expiry looks too
        // far away to be judged by the clock: either way the taker watches it, sees it renewed
        // and refuses. A second behind, it looks live: refused at once.
        for offset_s in [600, -3600, 7200, -1] {
            let err =
                Lease::acquire_with(store.as_ref(), &table, "taker", timing(offset_s)).await.unwrap_err();
            assert!(err.to_string().contains("run live"), "offset {offset_s}: {err}");
        }
        let holder = renewing.await.unwrap();
        assert!(holder.holder().generation > 1);
        holder.release(store.as_ref()).await.unwrap();
        assert!(store.head(&lock_key(&table)).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_host_whose_clock_is_behind_takes_over_a_crashed_lease_after_one_period() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let table = table();
        // Crashed elsewhere a moment ago: an hour behind, its expiry looks an hour away.
        store
            .create_new(&lock_key(&table), elsewhere(chrono::Duration::seconds(1)).to_bytes())
            .await
            .unwrap();
        let started = Instant::now();
        let lease = Lease::acquire_with(&store, &table, "behind", quick(-3600)).await.unwrap();
        assert!(started.elapsed() >= quick(0).ttl, "taken over after {:?}", started.elapsed());
        assert_eq!(lease.holder().generation, 8);
    }

    #[tokio::test]
    async fn an_old_format_lease_without_a_generation_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let table = table();
        let old = |expires: chrono::Duration| {
            let holder = elsewhere(expires);
            let text = format!(
                r#"{{"run_id":"old","host":"elsewhere","pid":1,"acquired_at":"{}","expires_at":"{}"}}"#,
                holder.acquired_at.to_rfc3339(),
                holder.expires_at.to_rfc3339()
            );
            text.into_bytes()
        };
        store.create_new(&lock_key(&table), old(chrono::Duration::minutes(1))).await.unwrap();
        let real = LeaseTiming { ttl: LEASE_TTL, clock_offset: chrono::Duration::zero() };
        let err = Lease::acquire_with(&store, &table, "new", real).await.unwrap_err().to_string();
        assert!(err.contains("run old on elsewhere (pid 1)"), "{err}");
        store.put(&lock_key(&table), old(-chrono::Duration::minutes(1))).await.unwrap();
        let lease = Lease::acquire_with(&store, &table, "new", quick(0)).await.unwrap();
        assert_eq!(lease.holder().generation, 1);
    }

    #[tokio::test]
    async fn an_unreadable_lease_is_taken_over_once_stale_and_refused_while_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::new(dir.path()));
        let table = table();
        let key = lock_key(&table);
        // Rewritten while watched: someone holds it.
        store.put(&key, Vec::new()).await.unwrap();
        let rewrite = {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(150)).await;
                store.put(&key, b"{\"run_id\": \"li".to_vec()).await.unwrap();
            })
        };
        let err = Lease::acquire_with(store.as_ref(), &table, "x", quick(0)).await.unwrap_err().to_string();
        assert!(err.contains("unreadable lease") && err.contains("_state/lock"), "{err}");
        rewrite.await.unwrap();
        // Left alone for a lease period: stale, taken over.
        for stale in [Vec::new(), b"{\"run_id\": \"tr".to_vec()] {
            store.put(&key, stale).await.unwrap();
            let lease = Lease::acquire_with(store.as_ref(), &table, "x", quick(0)).await.unwrap();
            assert_eq!(lease.holder().generation, 1);
            lease.release(store.as_ref()).await.unwrap();
        }
    }

    #[tokio::test]
    async fn renewals_bump_the_generation_and_fail_once_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let table = table();
        let mut lease = Lease::acquire_with(&store, &table, "old", quick(0)).await.unwrap();
        lease.renew(&store).await.unwrap();
        lease.renew(&store).await.unwrap();
        let stored: LeaseHolder =
            serde_json::from_slice(&store.get(&lock_key(&table)).await.unwrap()).unwrap();
        assert_eq!(stored.generation, 3);
        // Stopped (as by SIGSTOP) past a lease period: a taker watching it takes it over.
        let taker = Lease::acquire_with(&store, &table, "taker", quick(3600)).await.unwrap();
        assert_eq!(taker.holder().generation, 4);
        let err = lease.renew(&store).await.unwrap_err().to_string();
        assert!(err.contains("run taker"), "{err}");
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
    async fn racing_takers_of_a_dead_holders_lease_never_both_win() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::new(dir.path()));
        let table = Arc::new(table());
        for round in 0..20 {
            let mut child = std::process::Command::new("true").spawn().unwrap();
            let dead_pid = child.id();
            child.wait().unwrap();
            let mut crashed = holder_for("crashed", round, &quick(0));
            crashed.pid = dead_pid;
            store.put(&lock_key(&table), crashed.to_bytes()).await.unwrap();
            let attempts = (0..6).map(|i| {
                let (store, table) = (store.clone(), table.clone());
                tokio::spawn(async move {
                    Lease::acquire_with(store.as_ref(), &table, &format!("run-{i}"), quick(0)).await.is_ok()
                })
            });
            let results = futures::future::join_all(attempts).await;
            let winners = results.into_iter().filter(|r| *r.as_ref().unwrap()).count();
            assert_eq!(winners, 1, "round {round}");
        }
    }

    #[tokio::test]
    async fn onlookers_see_only_a_live_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let table = table();
        assert_eq!(live_holder(&store, &table).await.unwrap(), None, "no lease");
        let lease = Lease::acquire(&store, &table, "run-a").await.unwrap();
        let seen = live_holder(&store, &table).await.unwrap().expect("the holder");
        assert_eq!((seen.run_id.as_str(), seen.pid), ("run-a", std::process::id()));
        lease.release(&store).await.unwrap();
        assert_eq!(live_holder(&store, &table).await.unwrap(), None, "released");
        let expired = elsewhere(-chrono::Duration::minutes(2));
        store.create_new(&lock_key(&table), expired.to_bytes()).await.unwrap();
        assert_eq!(live_holder(&store, &table).await.unwrap(), None, "expired");
    }
}
