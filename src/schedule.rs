//! When each scheduled table (`every = "1h"`) is next due: a pure core, driven by the clock its
//! caller passes in, shared by `--headless --watch` and the console.
//!
//! The rules:
//! - a table never synced (no committed watermark) is due at once, and its run is a full sync;
//! - otherwise a table is due `every` after its last run started (ours or another process's,
//!   as its journal shows), on the wall clock — never on the source's clock, which for the demo
//!   is simulated;
//! - a table that missed several slots (the watcher was stopped, the machine slept) is due once:
//!   the run it gets starts the next interval, so catching up is one run, not a burst;
//! - a running table is never due (a run covers everything up to its end anyway).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A table that is due now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRun {
    pub table: String,
    /// The table was never synced: the run must be a full sync.
    pub first_sync: bool,
    /// Whole intervals missed since the last run (0 on time, 2 when two slots went by): reported
    /// so a catch-up says what it replaces.
    pub missed: u32,
}

/// One scheduled table.
#[derive(Debug, Clone)]
struct Entry {
    every: chrono::Duration,
    last_start: Option<DateTime<Utc>>,
    synced: bool,
    running: bool,
}

impl Entry {
    fn next_due(&self) -> Option<DateTime<Utc>> {
        self.last_start.map(|start| start + self.every)
    }
}

/// Every scheduled table's state; tables without `every` are simply not in it.
#[derive(Debug, Clone, Default)]
pub struct Schedule {
    entries: BTreeMap<String, Entry>,
}

impl Schedule {
    pub fn new() -> Schedule {
        Schedule::default()
    }

    /// Schedules `table` every `every`. `synced`: it has a committed watermark; `last_start`:
    /// when its newest run started. A table never synced is due at once whatever its last
    /// (failed) run was, so starting the watcher retries a first sync immediately.
    pub fn add(&mut self, table: &str, every: Duration, synced: bool, last_start: Option<DateTime<Utc>>) {
        let every = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX);
        let last_start = last_start.filter(|_| synced);
        self.entries.insert(table.to_owned(), Entry { every, last_start, synced, running: false });
    }

    pub fn contains(&self, table: &str) -> bool {
        self.entries.contains_key(table)
    }

    /// The tables due at `now`, in name order, each once.
    pub fn due(&self, now: DateTime<Utc>) -> Vec<DueRun> {
        self.entries
            .iter()
            .filter(|(_, entry)| !entry.running)
            .filter_map(|(table, entry)| {
                let missed = match entry.last_start {
                    None => 0,
                    Some(start) if start + entry.every <= now => {
                        let elapsed = (now - start).num_milliseconds();
                        let intervals = elapsed / entry.every.num_milliseconds().max(1);
                        u32::try_from(intervals - 1).unwrap_or(u32::MAX)
                    }
                    Some(_) => return None,
                };
                Some(DueRun { table: table.clone(), first_sync: !entry.synced, missed })
            })
            .collect()
    }

    /// When `table` is next due: `None` while it runs or when it is not scheduled; a time at or
    /// before `now` when it is due already.
    pub fn next_due(&self, table: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let entry = self.entries.get(table).filter(|entry| !entry.running)?;
        Some(entry.next_due().unwrap_or(now))
    }

    /// The earliest time any idle table is due (for the watcher's sleep), `None` when every
    /// scheduled table is running or none is scheduled.
    pub fn next_wakeup(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.entries.keys().filter_map(|table| self.next_due(table, now)).min()
    }

    /// A run of `table` started at `at`: the next interval counts from here.
    pub fn started(&mut self, table: &str, at: DateTime<Utc>) {
        if let Some(entry) = self.entries.get_mut(table) {
            entry.running = true;
            entry.last_start = Some(at);
        }
    }

    /// A run of `table` ended; `synced`: the table now has a committed watermark. A run that did
    /// not start (another process holds the table) still used its slot: the table is due again
    /// `every` after that attempt, not at once.
    pub fn finished(&mut self, table: &str, synced: bool) {
        if let Some(entry) = self.entries.get_mut(table) {
            entry.running = false;
            entry.synced |= synced;
        }
    }

    /// What another process did, seen in the table's journals and the warehouse: a newer run
    /// start moves the next slot later (a cron run an hour ago counts), a watermark marks the
    /// table synced. Never moves a slot earlier.
    pub fn observed(&mut self, table: &str, synced: bool, last_start: Option<DateTime<Utc>>) {
        if let Some(entry) = self.entries.get_mut(table) {
            entry.synced |= synced;
            if entry.synced {
                entry.last_start = entry.last_start.max(last_start);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    /// A fake clock: minutes after a fixed instant.
    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(minutes)
    }

    fn due_tables(schedule: &Schedule, now: DateTime<Utc>) -> Vec<String> {
        schedule.due(now).into_iter().map(|d| d.table).collect()
    }

    #[test]
    fn a_never_synced_table_is_due_at_once_as_a_first_full_sync() {
        let mut schedule = Schedule::new();
        // Its last run (a failed first sync) does not delay the retry when the watcher starts.
        schedule.add("orders", HOUR, false, Some(at(-5)));
        assert_eq!(schedule.due(at(0)), [DueRun { table: "orders".into(), first_sync: true, missed: 0 }]);
        assert_eq!(schedule.next_due("orders", at(0)), Some(at(0)));
        schedule.started("orders", at(0));
        schedule.finished("orders", true);
        assert!(schedule.due(at(59)).is_empty());
        assert_eq!(schedule.due(at(60)), [DueRun { table: "orders".into(), first_sync: false, missed: 0 }]);
    }

    #[test]
    fn a_failed_first_sync_waits_one_interval_inside_the_watcher() {
        let mut schedule = Schedule::new();
        schedule.add("orders", HOUR, false, None);
        schedule.started("orders", at(0));
        schedule.finished("orders", false);
        assert!(schedule.due(at(30)).is_empty(), "no hammering of a failing first sync");
        assert!(schedule.due(at(60))[0].first_sync);
    }

    #[test]
    fn a_synced_table_is_due_every_interval_after_its_last_start() {
        let mut schedule = Schedule::new();
        schedule.add("orders", HOUR, true, Some(at(-20)));
        assert!(schedule.due(at(0)).is_empty());
        assert_eq!(schedule.next_due("orders", at(0)), Some(at(40)));
        assert_eq!(schedule.next_wakeup(at(0)), Some(at(40)));
        assert_eq!(due_tables(&schedule, at(40)), ["orders"]);
    }

    #[test]
    fn catching_up_after_downtime_is_one_run_not_a_burst() {
        let mut schedule = Schedule::new();
        schedule.add("orders", HOUR, true, Some(at(0)));
        // Five hours later (the watcher was stopped): due once, saying four slots were missed.
        let now = at(5 * 60 + 10);
        assert_eq!(schedule.due(now), [DueRun { table: "orders".into(), first_sync: false, missed: 4 }]);
        schedule.started("orders", now);
        schedule.finished("orders", true);
        assert!(schedule.due(now + chrono::Duration::minutes(1)).is_empty());
        assert!(schedule.due(now + chrono::Duration::minutes(59)).is_empty());
        assert_eq!(schedule.next_due("orders", now), Some(now + chrono::Duration::hours(1)));
    }

    #[test]
    fn a_running_table_is_never_due() {
        let mut schedule = Schedule::new();
        schedule.add("orders", HOUR, true, Some(at(0)));
        schedule.started("orders", at(60));
        assert!(schedule.due(at(200)).is_empty());
        assert_eq!(schedule.next_due("orders", at(200)), None);
        assert_eq!(schedule.next_wakeup(at(200)), None);
        schedule.finished("orders", true);
        assert_eq!(due_tables(&schedule, at(200)), ["orders"]);
    }

    #[test]
    fn each_table_keeps_its_own_interval() {
        let mut schedule = Schedule::new();
        schedule.add("orders", HOUR, true, Some(at(0)));
        schedule.add("customers", Duration::from_secs(15 * 60), true, Some(at(0)));
        assert_eq!(due_tables(&schedule, at(15)), ["customers"]);
        assert_eq!(schedule.next_wakeup(at(0)), Some(at(15)));
        assert_eq!(due_tables(&schedule, at(60)), ["customers", "orders"]);
        assert!(!schedule.contains("invoices"));
        assert_eq!(schedule.next_due("invoices", at(0)), None);
    }

    #[test]
    fn a_run_by_another_process_moves_the_next_slot_later_never_earlier() {
        let mut schedule = Schedule::new();
        schedule.add("orders", HOUR, true, Some(at(0)));
        schedule.observed("orders", true, Some(at(50)));
        assert!(schedule.due(at(60)).is_empty(), "cron synced it ten minutes ago");
        assert_eq!(schedule.next_due("orders", at(60)), Some(at(110)));
        schedule.observed("orders", true, Some(at(10)));
        assert_eq!(schedule.next_due("orders", at(60)), Some(at(110)));
        // A first sync made elsewhere turns the next run incremental.
        let mut schedule = Schedule::new();
        schedule.add("customers", HOUR, false, None);
        schedule.observed("customers", true, Some(at(0)));
        assert!(schedule.due(at(1)).is_empty());
        assert!(!schedule.due(at(60))[0].first_sync);
    }

    #[test]
    fn a_skipped_attempt_uses_its_slot() {
        let mut schedule = Schedule::new();
        schedule.add("orders", HOUR, true, Some(at(0)));
        schedule.started("orders", at(60));
        schedule.finished("orders", false);
        assert!(schedule.due(at(61)).is_empty());
        assert_eq!(due_tables(&schedule, at(120)), ["orders"]);
    }
}
