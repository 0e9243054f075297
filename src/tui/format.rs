//! Numbers, sizes, durations and instants as the console shows them: short, aligned, and the
//! same everywhere (the tables pane, the run panes and the popups all use these).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Counts and sizes come from [`crate::human`], the one style every front end shares.
pub(super) use crate::human::{bytes, count};

/// `+1,204 −17`: what a load applied (upserts, deletes).
pub(super) fn loaded(upserts: u64, deletes: u64) -> String {
    format!("+{} −{}", count(upserts), count(deletes))
}

/// A span of time in at most two units: `850ms`, `12.3s`, `4m05s`, `3h12m`, `2d04h`.
pub(super) fn duration(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    if ms < 60_000 {
        return format!("{:.1}s", ms as f64 / 1000.0);
    }
    let secs = ms / 1000;
    let (days, hours, minutes, seconds) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if days > 0 {
        format!("{days}d{hours:02}h")
    } else if hours > 0 {
        format!("{hours}h{minutes:02}m")
    } else {
        format!("{minutes}m{seconds:02}s")
    }
}

/// [`duration`] of milliseconds.
pub(super) fn millis(ms: u64) -> String {
    duration(Duration::from_millis(ms))
}

/// The time from `earlier` to `later`; zero when the clocks disagree (never negative).
pub(super) fn between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> Duration {
    (later - earlier).to_std().unwrap_or(Duration::ZERO)
}

/// `2026-11-24 18:30:05`: an instant in full (UTC, as every time in dynashift).
pub(super) fn instant(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `11-24 18:30`: an instant where columns are narrow.
pub(super) fn instant_short(t: DateTime<Utc>) -> String {
    t.format("%m-%d %H:%M").to_string()
}

/// `items per second` from a count and the milliseconds it took; `None` before any time passed.
pub(super) fn per_second(amount: u64, elapsed_ms: u64) -> Option<f64> {
    (elapsed_ms > 0).then(|| amount as f64 * 1000.0 / elapsed_ms as f64)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn loads_show_grouped_upserts_and_deletes() {
        assert_eq!(loaded(1204, 17), "+1,204 −17");
    }

    #[test]
    fn durations_keep_two_units() {
        assert_eq!(millis(850), "850ms");
        assert_eq!(millis(12_340), "12.3s");
        assert_eq!(millis(245_000), "4m05s");
        assert_eq!(duration(Duration::from_secs(3 * 3600 + 12 * 60 + 9)), "3h12m");
        assert_eq!(duration(Duration::from_secs(2 * 86_400 + 4 * 3600)), "2d04h");
    }

    #[test]
    fn between_never_goes_negative() {
        let a = Utc.with_ymd_and_hms(2026, 11, 24, 18, 0, 0).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 11, 24, 18, 0, 30).unwrap();
        assert_eq!(between(a, b), Duration::from_secs(30));
        assert_eq!(between(b, a), Duration::ZERO);
    }

    #[test]
    fn instants_are_utc_text() {
        let t = Utc.with_ymd_and_hms(2026, 11, 24, 18, 30, 5).unwrap();
        assert_eq!(instant(t), "2026-11-24 18:30:05");
        assert_eq!(instant_short(t), "11-24 18:30");
    }

    #[test]
    fn rates_need_elapsed_time() {
        assert_eq!(per_second(500, 0), None);
        assert_eq!(per_second(500, 250), Some(2000.0));
    }
}
