//! The simulated clock of the demo, persisted in `state_dir/clock.json`.
//!
//! It starts at the real time (whole seconds) the first time the demo is used. While a process
//! runs it advances `speed` simulated seconds per real second from the persisted value; it does
//! NOT jump over the time no process ran. The demo table sleeps when nobody watches: jumping
//! would make the first sync after a weekend generate days of writes at once, push the watermark
//! out of the 35-day recovery window after a long break, and show a demo nobody saw happen.
//! With `speed = 0` it moves only through [`SimClock::advance`] (tests do that).
//!
//! Several processes may run at once (a console and a cron job): each advances from its own
//! anchor, and every reading merges with the file under a lock, keeping the furthest value, so
//! the clock never goes back and runs at `speed`, not faster, however many processes watch.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use super::error::DemoError;
use super::files::{create_private_dir, lock_exclusive, read_json, write_json};

/// `clock.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct ClockFile {
    /// When the clock first started (for people reading the file).
    started: DateTime<Utc>,
    /// The simulated time last read by any process.
    now: DateTime<Utc>,
}

/// Where this process's clock stands: `sim` at the real instant `real`.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    sim: DateTime<Utc>,
    real: Instant,
    speed: f64,
}

impl Anchor {
    fn sim_now(&self) -> DateTime<Utc> {
        let elapsed = self.real.elapsed().as_secs_f64() * self.speed;
        self.sim + Duration::microseconds((elapsed * 1e6) as i64)
    }
}

#[derive(Debug)]
pub(super) struct SimClock {
    state_dir: PathBuf,
    anchor: Mutex<Anchor>,
}

impl SimClock {
    /// Opens the clock in `state_dir`, starting it at the real time if it never ran. This
    /// process's clock runs from now on.
    pub(super) fn open(state_dir: &Path, speed: f64) -> Result<SimClock, DemoError> {
        create_private_dir(state_dir)?;
        let clock = SimClock {
            state_dir: state_dir.to_owned(),
            anchor: Mutex::new(Anchor { sim: DateTime::<Utc>::MIN_UTC, real: Instant::now(), speed }),
        };
        let persisted = clock.read_or_start()?;
        clock.anchor().sim = persisted.now;
        Ok(clock)
    }

    /// The current simulated time (and records it, so other processes and restarts go on from
    /// here).
    pub(super) fn now(&self) -> Result<DateTime<Utc>, DemoError> {
        self.update(|now| now)
    }

    /// Moves the clock forward by `by` and returns the new time.
    pub(super) fn advance(&self, by: Duration) -> Result<DateTime<Utc>, DemoError> {
        self.update(|now| now + by)
    }

    /// Changes the speed from now on (the configuration was reloaded).
    pub(super) fn set_speed(&self, speed: f64) {
        let mut anchor = self.anchor();
        if anchor.speed != speed {
            *anchor = Anchor { sim: anchor.sim_now(), real: Instant::now(), speed };
        }
    }

    /// Reads the clock, merging with the file, applies `step`, and persists the result.
    fn update(&self, step: impl FnOnce(DateTime<Utc>) -> DateTime<Utc>) -> Result<DateTime<Utc>, DemoError> {
        let _lock = lock_exclusive(&self.state_dir.join("clock.lock"))?;
        let persisted = self.read_or_start_locked()?;
        let mut anchor = self.anchor();
        let now = step(anchor.sim_now().max(persisted.now));
        *anchor = Anchor { sim: now, real: Instant::now(), speed: anchor.speed };
        if now != persisted.now {
            write_json(&self.file_path(), &ClockFile { now, ..persisted })?;
        }
        Ok(now)
    }

    fn read_or_start(&self) -> Result<ClockFile, DemoError> {
        let _lock = lock_exclusive(&self.state_dir.join("clock.lock"))?;
        self.read_or_start_locked()
    }

    fn read_or_start_locked(&self) -> Result<ClockFile, DemoError> {
        if let Some(file) = read_json::<ClockFile>(&self.file_path(), &self.state_dir)? {
            return Ok(file);
        }
        let start = Utc::now().duration_trunc(Duration::seconds(1)).expect("now is in range");
        let file = ClockFile { started: start, now: start };
        write_json(&self.file_path(), &file)?;
        Ok(file)
    }

    fn anchor(&self) -> std::sync::MutexGuard<'_, Anchor> {
        self.anchor.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn file_path(&self) -> PathBuf {
        self.state_dir.join("clock.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_the_real_time_in_whole_seconds_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let before = Utc::now();
        let clock = SimClock::open(dir.path(), 0.0).unwrap();
        let start = clock.now().unwrap();
        assert_eq!(start.timestamp_subsec_micros(), 0);
        assert!(start <= before + Duration::seconds(1) && start >= before - Duration::seconds(1));
        assert_eq!(clock.advance(Duration::hours(1)).unwrap(), start + Duration::hours(1));
        drop(clock);
        let reopened = SimClock::open(dir.path(), 0.0).unwrap();
        assert_eq!(reopened.now().unwrap(), start + Duration::hours(1));
    }

    #[test]
    fn runs_at_speed_while_open_and_does_not_jump_over_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let clock = SimClock::open(dir.path(), 1000.0).unwrap();
        let first = clock.now().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let second = clock.now().unwrap();
        assert!(second - first >= Duration::seconds(30), "{}", second - first);
        drop(clock);
        // 300 simulated seconds pass in real time while no process runs...
        std::thread::sleep(std::time::Duration::from_millis(300));
        let restarted = SimClock::open(dir.path(), 1000.0).unwrap();
        let third = restarted.now().unwrap();
        // ...and are not counted: the clock goes on from where it was read last.
        assert!(third >= second && third - second < Duration::seconds(100), "{}", third - second);
    }

    #[test]
    fn processes_share_the_furthest_time() {
        let dir = tempfile::tempdir().unwrap();
        let a = SimClock::open(dir.path(), 0.0).unwrap();
        let b = SimClock::open(dir.path(), 0.0).unwrap();
        let moved = a.advance(Duration::minutes(90)).unwrap();
        assert_eq!(b.now().unwrap(), moved);
        let moved_again = b.advance(Duration::minutes(1)).unwrap();
        assert_eq!(a.now().unwrap(), moved_again, "a catches up with b");
    }

    #[test]
    fn never_goes_back_across_processes_at_speed() {
        let dir = tempfile::tempdir().unwrap();
        let a = SimClock::open(dir.path(), 500.0).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = SimClock::open(dir.path(), 500.0).unwrap();
        let mut last = a.now().unwrap();
        for i in 0..20 {
            let now = if i % 2 == 0 { b.now().unwrap() } else { a.now().unwrap() };
            assert!(now >= last, "{now} < {last}");
            last = now;
        }
    }

    #[test]
    fn a_speed_change_keeps_the_time_reached() {
        let dir = tempfile::tempdir().unwrap();
        let clock = SimClock::open(dir.path(), 0.0).unwrap();
        let before = clock.now().unwrap();
        clock.set_speed(0.0);
        clock.set_speed(1_000_000.0);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(clock.now().unwrap() > before + Duration::seconds(1000));
    }
}
