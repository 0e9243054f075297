//! One simulated DynamoDB table: the process-wide clock and the table's history, behind async
//! calls that run their file I/O (and lock waits) on the blocking pool.

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::catalog::DemoTable;
use super::clock::SimClock;
use super::error::DemoError;
use super::history::{History, ItemChange, WorkloadSettings};
use super::shared::ProcessShared;
use crate::ddb::Item;
use crate::source::SourceError;
use crate::source::windows::RestorableRange;

/// How long DynamoDB keeps point-in-time recovery data by default.
pub(super) const RECOVERY_PERIOD: Duration = Duration::days(35);
/// How far PITR's latest restorable time trails the current time.
pub(super) const PITR_TRAIL: Duration = Duration::minutes(5);
/// History kept beyond the recovery period before compaction may drop it: an export whose
/// instants were checked against the range just before a compaction still finds its writes.
pub(super) const COMPACTION_SLACK: Duration = Duration::days(1);

static CLOCKS: ProcessShared<SimClock> = ProcessShared::new();
static HISTORIES: ProcessShared<Mutex<History>> = ProcessShared::new();

#[derive(Clone)]
pub(super) struct SimulatedTable {
    clock: Arc<SimClock>,
    history: Arc<Mutex<History>>,
    /// The simulated time this table was opened: a table used for the first time is created
    /// then (its history is generated lazily, but as of that moment).
    opened_at: DateTime<Utc>,
}

impl SimulatedTable {
    /// The table `table` of the demo in `state_dir`, shared with every other user of it in this
    /// process.
    pub(super) fn open(
        state_dir: &Path,
        speed: f64,
        table: DemoTable,
        workload: WorkloadSettings,
    ) -> Result<SimulatedTable, DemoError> {
        let clock = CLOCKS.get_or_try_insert(state_dir, || SimClock::open(state_dir, speed))?;
        clock.set_speed(speed);
        let folder = state_dir.join(table.name());
        let history = HISTORIES
            .get_or_try_insert(&folder, || History::open(&folder, table, workload).map(Mutex::new))?;
        lock(&history).set_writes_per_hour(workload.writes_per_hour);
        let opened_at = clock.now()?;
        Ok(SimulatedTable { clock, history, opened_at })
    }

    pub(super) async fn now(&self) -> Result<DateTime<Utc>, SourceError> {
        let clock = self.clock.clone();
        blocking(move || clock.now()).await
    }

    pub(super) async fn advance(&self, by: Duration) -> Result<DateTime<Utc>, SourceError> {
        let clock = self.clock.clone();
        blocking(move || clock.advance(by)).await
    }

    /// The current simulated time and the instants an export may cover: the last 35 days up to
    /// 5 minutes ago, like PITR. The demo behaves as if PITR had been on for the whole recovery
    /// period (the table was simply empty before its creation), so the edge of the window moves
    /// from the start and the "watermark near the edge" warning means what it says.
    pub(super) async fn restorable_range(&self) -> Result<(DateTime<Utc>, RestorableRange), SourceError> {
        let (clock, history, opened_at) = (self.clock.clone(), self.history.clone(), self.opened_at);
        blocking(move || {
            let now = clock.now()?;
            lock(&history).prepare(opened_at, DateTime::<Utc>::MIN_UTC)?;
            let range = RestorableRange { earliest: now - RECOVERY_PERIOD, latest: now - PITR_TRAIL };
            Ok((now, range))
        })
        .await
    }

    /// Every item that exists at `t`, in key order.
    pub(super) async fn items_at(&self, t: DateTime<Utc>) -> Result<Vec<Item>, SourceError> {
        self.with_history_through(t, move |history| history.items_at(t)).await
    }

    /// Passes every item that exists at `t`, in key order, one at a time to `each` with `sink`;
    /// returns the sink.
    pub(super) async fn fold_items_at<S: Send + 'static>(
        &self,
        t: DateTime<Utc>,
        mut sink: S,
        each: impl Fn(&mut S, Item) -> Result<(), DemoError> + Send + 'static,
    ) -> Result<S, SourceError> {
        self.with_history_through(t, move |history| {
            history.for_each_item_at(t, |item| each(&mut sink, item))?;
            Ok(sink)
        })
        .await
    }

    /// Passes every key written in `[from, to)` with its images at both ends, in key order, one
    /// at a time to `each` with `sink`; returns the sink.
    pub(super) async fn fold_changes<S: Send + 'static>(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        mut sink: S,
        each: impl Fn(&mut S, ItemChange) -> Result<(), DemoError> + Send + 'static,
    ) -> Result<S, SourceError> {
        self.with_history_through(to, move |history| {
            history.for_each_change(from, to, |change| each(&mut sink, change))?;
            Ok(sink)
        })
        .await
    }

    /// Compacts the history of writes older than the recovery period (plus
    /// [`COMPACTION_SLACK`]) and older than `pending_from`, the earliest instant an export
    /// still in progress covers. Returns whether it compacted.
    pub(super) async fn compact(&self, pending_from: Option<DateTime<Utc>>) -> Result<bool, SourceError> {
        let (clock, history) = (self.clock.clone(), self.history.clone());
        blocking(move || {
            let recoverable = clock.now()? - RECOVERY_PERIOD - COMPACTION_SLACK;
            let keep_from = pending_from.map_or(recoverable, |pending| pending.min(recoverable));
            lock(&history).compact(keep_from)
        })
        .await
    }

    /// Runs `read` on the history once every write before `through` exists.
    async fn with_history_through<T: Send + 'static>(
        &self,
        through: DateTime<Utc>,
        read: impl FnOnce(&mut History) -> Result<T, DemoError> + Send + 'static,
    ) -> Result<T, SourceError> {
        let (history, opened_at) = (self.history.clone(), self.opened_at);
        blocking(move || {
            let mut history = lock(&history);
            history.prepare(opened_at, through)?;
            read(&mut history)
        })
        .await
    }
}

/// Locks the history; after a panic mid-generation its index is rebuilt from the log, which only
/// ever holds committed writes.
fn lock(history: &Mutex<History>) -> std::sync::MutexGuard<'_, History> {
    history.lock().unwrap_or_else(|poisoned| {
        history.clear_poison();
        let mut history = poisoned.into_inner();
        history.forget_index();
        history
    })
}

/// Runs `work` on the blocking pool (file I/O and lock waits must not stall the runtime).
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DemoError> + Send + 'static,
) -> Result<T, SourceError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(SourceError::from),
        Err(join) => Err(SourceError::Other(format!("the demo's state task failed: {join}"))),
    }
}
