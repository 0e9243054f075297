//! Stage counters shared by the workers, and the events that report them.
//!
//! Workers add to atomic counters in batches; `StagingProgress` events go out at most every
//! [`PROGRESS_INTERVAL`] (plus one after each finished file), so a fast stage step cannot flood
//! the front ends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::pipeline::events::{EventKind, EventSink, StageCounts};

/// Shortest gap between two throttled progress events (≤ 10 per second).
pub(super) const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// The run's stage counters.
#[derive(Debug)]
pub(super) struct Progress {
    events: EventSink,
    started: Instant,
    files_total: u64,
    files_done: AtomicU64,
    items_read: AtomicU64,
    upserts: AtomicU64,
    deletes: AtomicU64,
    superseded: AtomicU64,
    nulled_values: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    spill_partitions: AtomicU64,
    /// Milliseconds after `started` of the last progress event.
    last_event_ms: AtomicU64,
}

/// Counts a worker collects between two flushes into [`Progress`]: the stage's own counters, of
/// which a worker adds to `items_read`, `upserts`, `deletes`, `superseded`, `nulled_values` and
/// `bytes_in` (the files, bytes out, time and spill are counted by [`Progress`] itself).
pub(super) type CountsDelta = StageCounts;

impl Progress {
    pub(super) fn new(events: EventSink, files_total: u64, started: Instant) -> Progress {
        Progress {
            events,
            started,
            files_total,
            files_done: AtomicU64::new(0),
            items_read: AtomicU64::new(0),
            upserts: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
            superseded: AtomicU64::new(0),
            nulled_values: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            spill_partitions: AtomicU64::new(0),
            last_event_ms: AtomicU64::new(0),
        }
    }

    /// Adds a worker's counts and resets them.
    pub(super) fn add(&self, delta: &mut CountsDelta) {
        let add = |counter: &AtomicU64, value: u64| {
            if value > 0 {
                counter.fetch_add(value, Ordering::Relaxed);
            }
        };
        add(&self.items_read, delta.items_read);
        add(&self.upserts, delta.upserts);
        add(&self.deletes, delta.deletes);
        add(&self.superseded, delta.superseded);
        add(&self.nulled_values, delta.nulled_values);
        add(&self.bytes_in, delta.bytes_in);
        *delta = CountsDelta::default();
    }

    /// Counts a staged part's compressed bytes.
    pub(super) fn add_bytes_out(&self, bytes: u64) {
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records that the fold by key spilled into `partitions` partitions.
    pub(super) fn spilled(&self, partitions: usize) {
        self.spill_partitions.store(partitions as u64, Ordering::Relaxed);
    }

    /// Reports a verified data file, then progress.
    pub(super) fn file_verified(&self, key: &str, items: u64, md5_checked: bool) {
        self.files_done.fetch_add(1, Ordering::Relaxed);
        self.events.emit(EventKind::FileVerified { key: key.into(), items, md5_checked });
        self.emit_progress();
    }

    /// Emits a progress event unless one went out less than [`PROGRESS_INTERVAL`] ago.
    pub(super) fn tick(&self) {
        let now = self.elapsed_ms();
        let last = self.last_event_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < PROGRESS_INTERVAL.as_millis() as u64 {
            return;
        }
        // Only the worker that moves the mark reports, so two workers never report together.
        if self.last_event_ms.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            self.events.emit(EventKind::StagingProgress { counts: self.counts() });
        }
    }

    fn emit_progress(&self) {
        self.last_event_ms.store(self.elapsed_ms(), Ordering::Relaxed);
        self.events.emit(EventKind::StagingProgress { counts: self.counts() });
    }

    /// A snapshot of the counters.
    pub(super) fn counts(&self) -> StageCounts {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StageCounts {
            files_done: get(&self.files_done),
            files_total: self.files_total,
            items_read: get(&self.items_read),
            upserts: get(&self.upserts),
            deletes: get(&self.deletes),
            superseded: get(&self.superseded),
            nulled_values: get(&self.nulled_values),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            elapsed_ms: self.elapsed_ms(),
            spill_partitions: get(&self.spill_partitions),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn progress() -> (Progress, mpsc::UnboundedReceiver<crate::pipeline::RunEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Progress::new(EventSink::new("r", "t", tx), 3, Instant::now()), rx)
    }

    #[test]
    fn deltas_add_up_and_reset() {
        let (progress, _rx) = progress();
        let mut delta = CountsDelta {
            items_read: 5,
            upserts: 3,
            deletes: 1,
            superseded: 1,
            nulled_values: 2,
            bytes_in: 100,
            ..CountsDelta::default()
        };
        progress.add(&mut delta);
        assert_eq!(delta, CountsDelta::default());
        progress.add(&mut CountsDelta { items_read: 1, ..CountsDelta::default() });
        progress.add_bytes_out(40);
        let counts = progress.counts();
        assert_eq!(
            (counts.items_read, counts.upserts, counts.deletes, counts.superseded, counts.nulled_values),
            (6, 3, 1, 1, 2)
        );
        assert_eq!((counts.bytes_in, counts.bytes_out, counts.files_total), (100, 40, 3));
    }

    #[test]
    fn ticks_are_throttled() {
        let (progress, mut rx) = progress();
        for _ in 0..1000 {
            progress.tick();
        }
        std::thread::sleep(PROGRESS_INTERVAL + Duration::from_millis(20));
        for _ in 0..1000 {
            progress.tick();
        }
        let mut events = 0;
        while rx.try_recv().is_ok() {
            events += 1;
        }
        assert!((1..=2).contains(&events), "{events} progress events");
    }

    #[test]
    fn every_verified_file_is_reported() {
        let (progress, mut rx) = progress();
        progress.file_verified("a", 3, true);
        progress.file_verified("b", 0, false);
        let kinds: Vec<EventKind> = std::iter::from_fn(|| rx.try_recv().ok()).map(|e| e.kind).collect();
        assert_eq!(kinds.len(), 4);
        assert_eq!(kinds[0], EventKind::FileVerified { key: "a".into(), items: 3, md5_checked: true });
        assert!(matches!(&kinds[3], EventKind::StagingProgress { counts } if counts.files_done == 2));
    }
}
