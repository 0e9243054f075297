//! Cutting a sync into exports: one full export, or contiguous incremental windows from the
//! watermark up to what the source can export now.
//!
//! Shared by every source that *requests* exports (the demo, and AWS later), so they all obey
//! DynamoDB's rules the same way: windows of 15 minutes to 24 hours, inside the point-in-time
//! recovery (PITR) window, ending a safety lag behind now. A pure function of its inputs, so
//! every boundary is unit-tested without a clock.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::{ExportPlan, ExportSpec, PlanRequest, PlannedExport, SourceError};
use crate::config::{Mode, TableConfig, ViewType};

/// The shortest incremental export DynamoDB accepts.
pub const MIN_WINDOW: Duration = Duration::minutes(15);
/// The longest incremental export DynamoDB accepts.
pub const MAX_WINDOW: Duration = Duration::hours(24);
/// How close the watermark may come to the earliest restorable time before the plan warns: past
/// that edge only a full sync can recover, so users need days, not minutes, of notice.
pub const PITR_WARNING: Duration = Duration::days(3);

/// The instants the source can export (DescribeContinuousBackups' restorable range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestorableRange {
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
}

/// The table settings that shape windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPolicy {
    /// How far behind now exports end.
    pub safety_lag: StdDuration,
    /// Longest single incremental window.
    pub max_window: StdDuration,
    pub view_type: ViewType,
}

impl WindowPolicy {
    pub fn of(table: &TableConfig) -> WindowPolicy {
        WindowPolicy {
            safety_lag: table.safety_lag,
            max_window: table.max_window,
            view_type: table.view_type,
        }
    }
}

/// Plans the exports a sync of `request.mode` needs.
///
/// Every end is cut to whole seconds: the export API takes epoch seconds, so a sub-second end
/// could not be requested as planned and the watermark would drift from what was exported.
pub fn plan_windows(
    table: &str,
    request: PlanRequest,
    range: RestorableRange,
    now: DateTime<Utc>,
    policy: &WindowPolicy,
) -> Result<ExportPlan, SourceError> {
    let end = export_end(range, now, policy)?;
    match request.mode {
        Mode::Full => plan_full(table, range, end),
        Mode::Incremental => {
            let watermark =
                request.watermark.ok_or_else(|| SourceError::NeedsFullSync { table: table.into() })?;
            plan_incremental(table, watermark, range, end, now, policy)
        }
    }
}

/// The latest instant an export may end at: the source's latest restorable time, or now minus the
/// safety lag when that is earlier, in whole seconds.
fn export_end(
    range: RestorableRange,
    now: DateTime<Utc>,
    policy: &WindowPolicy,
) -> Result<DateTime<Utc>, SourceError> {
    let lag = Duration::from_std(policy.safety_lag)
        .map_err(|_| SourceError::Invalid(format!("safety_lag {:?} is out of range", policy.safety_lag)))?;
    Ok(whole_seconds(range.latest.min(now - lag)))
}

fn plan_full(
    table: &str,
    range: RestorableRange,
    export_time: DateTime<Utc>,
) -> Result<ExportPlan, SourceError> {
    if export_time < range.earliest {
        return Err(SourceError::Invalid(format!(
            "`{table}` has nothing restorable yet: the newest instant to export ({}) is before the \
             earliest restorable time ({}); wait a few minutes and run again",
            stamp(export_time),
            stamp(range.earliest)
        )));
    }
    Ok(ExportPlan {
        exports: vec![PlannedExport { spec: ExportSpec::Full { export_time }, existing: None }],
        notes: vec![format!("a full export of `{table}` as of {}", stamp(export_time))],
        accepted_gaps: Vec::new(),
    })
}

fn plan_incremental(
    table: &str,
    watermark: DateTime<Utc>,
    range: RestorableRange,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: &WindowPolicy,
) -> Result<ExportPlan, SourceError> {
    if watermark < range.earliest {
        return Err(SourceError::OutsideRecoveryWindow { watermark, earliest: range.earliest });
    }
    let max_window = checked_max_window(policy.max_window)?;
    let mut notes = Vec::new();
    if watermark - range.earliest < PITR_WARNING {
        notes.push(recovery_edge_note(table, watermark, range.earliest));
    }
    if end - watermark < MIN_WINDOW {
        notes.push(up_to_date_note(table, watermark, end, now));
        return Ok(ExportPlan { exports: Vec::new(), notes, accepted_gaps: Vec::new() });
    }
    let (exports, covered_to) = cut_windows(watermark, end, max_window, policy.view_type);
    if exports.len() > 1 {
        notes.push(format!(
            "the {} since the watermark is split into {} exports of at most {}",
            human(covered_to - watermark),
            exports.len(),
            human(max_window)
        ));
    }
    if covered_to < end {
        notes.push(format!(
            "the last {} ({} to {}) is shorter than the {} minimum export and is left for the next run",
            human(end - covered_to),
            stamp(covered_to),
            stamp(end),
            human(MIN_WINDOW)
        ));
    }
    Ok(ExportPlan { exports, notes, accepted_gaps: Vec::new() })
}

/// Contiguous windows from `from`, each at most `max_window` and at least [`MIN_WINDOW`] long;
/// returns them and where the last one ends.
fn cut_windows(
    from: DateTime<Utc>,
    end: DateTime<Utc>,
    max_window: Duration,
    view_type: ViewType,
) -> (Vec<PlannedExport>, DateTime<Utc>) {
    let mut exports = Vec::new();
    let mut cursor = from;
    while end - cursor >= MIN_WINDOW {
        let to = (cursor + max_window).min(end);
        exports.push(PlannedExport {
            spec: ExportSpec::Incremental { from: cursor, to, view_type },
            existing: None,
        });
        cursor = to;
    }
    (exports, cursor)
}

fn checked_max_window(max_window: StdDuration) -> Result<Duration, SourceError> {
    Duration::from_std(max_window).ok().filter(|w| (MIN_WINDOW..=MAX_WINDOW).contains(w)).ok_or_else(|| {
        SourceError::Invalid(format!(
            "max_window {max_window:?} is outside what DynamoDB accepts ({} to {}); set it in tables.toml",
            human(MIN_WINDOW),
            human(MAX_WINDOW)
        ))
    })
}

fn recovery_edge_note(table: &str, watermark: DateTime<Utc>, earliest: DateTime<Utc>) -> String {
    format!(
        "warning: `{table}`'s watermark {} is only {} after the earliest restorable time {}; once it \
         falls out of the point-in-time recovery window only a full sync can recover, so sync more often",
        stamp(watermark),
        human(watermark - earliest),
        stamp(earliest)
    )
}

/// Why nothing is exported, and when the next window can be.
fn up_to_date_note(table: &str, watermark: DateTime<Utc>, end: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let next = now + (watermark + MIN_WINDOW - end);
    let skew = if end < watermark {
        format!(
            " (the source can only export up to {}, which is before the watermark: its clock is behind)",
            stamp(end)
        )
    } else {
        String::new()
    };
    format!(
        "`{table}` is up to date: synced to {}{skew}; the next {} window becomes available at about {}",
        stamp(watermark),
        human(MIN_WINDOW),
        stamp(next)
    )
}

fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::seconds(1)).unwrap_or(t)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// `1d 2h 5m`, `14m`, `45s`: durations as people read them in notes.
fn human(d: Duration) -> String {
    let total = d.num_seconds().max(0);
    let (days, hours, minutes, seconds) = (total / 86_400, total / 3600 % 24, total / 60 % 60, total % 60);
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if parts.is_empty() { "0s".into() } else { parts.join(" ") }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use pretty_assertions::assert_eq;

    use super::*;

    const LAG: StdDuration = StdDuration::from_secs(300);

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
    }

    fn policy() -> WindowPolicy {
        WindowPolicy {
            safety_lag: LAG,
            max_window: StdDuration::from_secs(86_400),
            view_type: ViewType::NewImage,
        }
    }

    /// A source whose latest restorable time is 5 minutes behind `now` and whose recovery window
    /// is 35 days.
    fn range_at(now: DateTime<Utc>) -> RestorableRange {
        RestorableRange { earliest: now - Duration::days(35), latest: now - Duration::minutes(5) }
    }

    fn incremental(watermark: DateTime<Utc>, now: DateTime<Utc>) -> Result<ExportPlan, SourceError> {
        let request = PlanRequest { mode: Mode::Incremental, watermark: Some(watermark) };
        plan_windows("orders", request, range_at(now), now, &policy())
    }

    /// `now` such that the exportable end is exactly `gap` after `watermark`.
    fn now_for_gap(watermark: DateTime<Utc>, gap: Duration) -> DateTime<Utc> {
        watermark + gap + Duration::minutes(5)
    }

    fn windows(plan: &ExportPlan) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        plan.exports
            .iter()
            .map(|p| match p.spec {
                ExportSpec::Incremental { from, to, .. } => (from, to),
                ExportSpec::Full { .. } => panic!("unexpected full export"),
            })
            .collect()
    }

    #[test]
    fn full_exports_at_the_latest_instant_the_lag_allows() {
        let now = t0() + Duration::milliseconds(1500);
        let request = PlanRequest { mode: Mode::Full, watermark: None };
        let plan = plan_windows("orders", request, range_at(now), now, &policy()).unwrap();
        assert_eq!(plan.exports.len(), 1);
        // 11:55:01.5 is cut to the whole second.
        let expected = t0() - Duration::minutes(5) + Duration::seconds(1);
        assert_eq!(plan.exports[0].spec, ExportSpec::Full { export_time: expected });
        assert_eq!(plan.exports[0].existing, None);
    }

    #[test]
    fn full_export_time_follows_the_restorable_range_when_it_trails_more_than_the_lag() {
        let now = t0();
        let range =
            RestorableRange { earliest: now - Duration::days(1), latest: now - Duration::minutes(20) };
        let request = PlanRequest { mode: Mode::Full, watermark: Some(now - Duration::hours(1)) };
        let plan = plan_windows("orders", request, range, now, &policy()).unwrap();
        assert_eq!(plan.exports[0].spec, ExportSpec::Full { export_time: now - Duration::minutes(20) });
    }

    #[test]
    fn full_export_before_anything_is_restorable_is_refused() {
        let now = t0();
        let range = RestorableRange { earliest: now - Duration::minutes(1), latest: now };
        let request = PlanRequest { mode: Mode::Full, watermark: None };
        let err = plan_windows("orders", request, range, now, &policy()).unwrap_err();
        assert!(matches!(err, SourceError::Invalid(ref m) if m.contains("nothing restorable yet")), "{err}");
    }

    #[test]
    fn incremental_without_a_watermark_needs_a_full_sync() {
        let request = PlanRequest { mode: Mode::Incremental, watermark: None };
        let err = plan_windows("orders", request, range_at(t0()), t0(), &policy()).unwrap_err();
        assert!(matches!(err, SourceError::NeedsFullSync { ref table } if table == "orders"));
    }

    #[test]
    fn a_watermark_older_than_the_recovery_window_is_refused() {
        let now = t0();
        let watermark = now - Duration::days(35) - Duration::seconds(1);
        let err = incremental(watermark, now).unwrap_err();
        assert!(
            matches!(err, SourceError::OutsideRecoveryWindow { watermark: w, earliest } if w == watermark && earliest == now - Duration::days(35))
        );
    }

    #[test]
    fn exactly_fifteen_minutes_is_one_window() {
        let w = t0();
        let plan = incremental(w, now_for_gap(w, MIN_WINDOW)).unwrap();
        assert_eq!(windows(&plan), vec![(w, w + MIN_WINDOW)]);
        assert!(plan.notes.is_empty(), "{:?}", plan.notes);
        assert!(matches!(
            plan.exports[0].spec,
            ExportSpec::Incremental { view_type: ViewType::NewImage, .. }
        ));
    }

    #[test]
    fn less_than_fifteen_minutes_is_up_to_date_and_says_when_to_come_back() {
        let w = t0();
        let now = now_for_gap(w, Duration::minutes(15) - Duration::seconds(1));
        let plan = incremental(w, now).unwrap();
        assert!(plan.exports.is_empty());
        assert_eq!(plan.notes.len(), 1);
        assert!(plan.notes[0].contains("up to date"), "{}", plan.notes[0]);
        // One more second and the window [w, w + 15m) can be exported.
        assert!(plan.notes[0].contains(&stamp(now + Duration::seconds(1))), "{}", plan.notes[0]);
    }

    #[test]
    fn exactly_twenty_four_hours_is_one_window() {
        let w = t0();
        let plan = incremental(w, now_for_gap(w, Duration::hours(24))).unwrap();
        assert_eq!(windows(&plan), vec![(w, w + Duration::hours(24))]);
    }

    #[test]
    fn a_remainder_under_fifteen_minutes_is_left_for_the_next_run() {
        let w = t0();
        let plan = incremental(w, now_for_gap(w, Duration::hours(24) + Duration::minutes(14))).unwrap();
        assert_eq!(windows(&plan), vec![(w, w + Duration::hours(24))]);
        assert_eq!(plan.notes.len(), 1);
        assert!(plan.notes[0].contains("the last 14m"), "{}", plan.notes[0]);
        assert!(plan.notes[0].contains("left for the next run"), "{}", plan.notes[0]);
    }

    #[test]
    fn a_remainder_of_fifteen_minutes_gets_its_own_window() {
        let w = t0();
        let plan = incremental(w, now_for_gap(w, Duration::hours(24) + Duration::minutes(15))).unwrap();
        let day = w + Duration::hours(24);
        assert_eq!(windows(&plan), vec![(w, day), (day, day + MIN_WINDOW)]);
        assert!(
            plan.notes.iter().any(|n| n.contains("split into 2 exports of at most 1d")),
            "{:?}",
            plan.notes
        );
    }

    #[test]
    fn long_gaps_become_contiguous_windows_no_longer_than_max_window() {
        let w = t0() + Duration::milliseconds(250);
        let mut policy = policy();
        policy.max_window = StdDuration::from_secs(6 * 3600);
        let now = now_for_gap(w, Duration::hours(20));
        let request = PlanRequest { mode: Mode::Incremental, watermark: Some(w) };
        let plan = plan_windows("orders", request, range_at(now), now, &policy).unwrap();
        let cut = windows(&plan);
        assert_eq!(cut.len(), 4);
        assert_eq!(cut[0].0, w);
        for pair in cut.windows(2) {
            assert_eq!(pair[0].1, pair[1].0, "windows must be contiguous");
        }
        for (from, to) in &cut {
            assert!(*to - *from >= MIN_WINDOW && *to - *from <= Duration::hours(6));
        }
        // The end is cut to whole seconds, below the exact gap.
        assert_eq!(cut[3].1, whole_seconds(w + Duration::hours(20)));
    }

    #[test]
    fn the_end_never_passes_the_safety_lag_or_the_latest_restorable_time() {
        let w = t0();
        let now = w + Duration::hours(2);
        let range = RestorableRange { earliest: w - Duration::days(30), latest: now - Duration::minutes(30) };
        let request = PlanRequest { mode: Mode::Incremental, watermark: Some(w) };
        let plan = plan_windows("orders", request, range, now, &policy()).unwrap();
        assert_eq!(windows(&plan), vec![(w, now - Duration::minutes(30))]);
        let mut lagging = policy();
        lagging.safety_lag = StdDuration::from_secs(3600);
        let plan = plan_windows("orders", request, range, now, &lagging).unwrap();
        assert_eq!(windows(&plan), vec![(w, now - Duration::hours(1))]);
    }

    #[test]
    fn clock_skew_with_the_end_before_the_watermark_plans_nothing_and_says_why() {
        let w = t0();
        let now = w - Duration::minutes(2);
        let plan = incremental(w, now).unwrap();
        assert!(plan.exports.is_empty());
        assert!(plan.notes[0].contains("its clock is behind"), "{}", plan.notes[0]);
        assert!(plan.notes[0].contains(&stamp(now + Duration::minutes(22))), "{}", plan.notes[0]);
    }

    #[test]
    fn warns_within_three_days_of_the_earliest_restorable_time() {
        let now = t0();
        let earliest = now - Duration::days(35);
        let at_edge = incremental(earliest + PITR_WARNING, now).unwrap();
        assert!(!at_edge.notes.iter().any(|n| n.starts_with("warning")), "{:?}", at_edge.notes);
        let inside = incremental(earliest + PITR_WARNING - Duration::seconds(1), now).unwrap();
        assert!(inside.notes[0].starts_with("warning"), "{:?}", inside.notes);
        assert!(inside.notes[0].contains("2d 23h 59m 59s"), "{}", inside.notes[0]);
        assert!(!inside.exports.is_empty(), "a warning does not stop the sync");
    }

    #[test]
    fn a_max_window_outside_the_api_limits_is_refused() {
        let w = t0();
        let now = now_for_gap(w, Duration::hours(1));
        let request = PlanRequest { mode: Mode::Incremental, watermark: Some(w) };
        for seconds in [14 * 60, 86_400 + 1] {
            let mut policy = policy();
            policy.max_window = StdDuration::from_secs(seconds);
            let err = plan_windows("orders", request, range_at(now), now, &policy).unwrap_err();
            assert!(matches!(err, SourceError::Invalid(ref m) if m.contains("max_window")), "{err}");
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(Duration::minutes(14)), "14m");
        assert_eq!(human(Duration::hours(26) + Duration::seconds(5)), "1d 2h 5s");
        assert_eq!(human(Duration::zero()), "0s");
    }
}
