//! Each table's trend over its last runs (the journals the history pane loaded): rows changed,
//! how long each run took and how far behind the table was when it started, as sparklines.
//! [`SERIES`] lists the charts; a new one is one more line there.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Sparkline, Widget};

use super::format;
use crate::pipeline::RunJournal;

/// What reading a value needs beyond the journal.
#[derive(Debug, Clone, Copy)]
pub(super) struct TrendContext {
    /// The demo's times run on its simulated clock, not the wall clock.
    pub demo: bool,
    /// How far behind the source's "now" an export ends (`safety_lag`).
    pub safety_lag: Duration,
}

/// One chart: its label, its value for a run (`None`: the run has none), and how a value reads.
pub(super) struct Series {
    pub label: &'static str,
    pub value: fn(&RunJournal, &TrendContext) -> Option<u64>,
    pub show: fn(u64) -> String,
}

/// The charts, top to bottom.
pub(super) const SERIES: &[Series] = &[
    Series { label: "rows", value: rows_changed, show: crate::human::count },
    Series { label: "took", value: took_seconds, show: seconds },
    Series { label: "lag", value: lag_at_start_seconds, show: seconds },
    Series { label: "cost", value: cost_microdollars, show: dollars },
];

/// One series over the runs, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Trend {
    pub label: &'static str,
    pub values: Vec<Option<u64>>,
    /// The newest run's value and the largest, as they read.
    pub last: Option<String>,
    pub max: Option<String>,
}

/// Every series over `history` (newest first, as loaded), oldest run first.
pub(super) fn trends(history: &[RunJournal], context: &TrendContext) -> Vec<Trend> {
    SERIES
        .iter()
        .map(|series| {
            let values: Vec<Option<u64>> =
                history.iter().rev().map(|journal| (series.value)(journal, context)).collect();
            Trend {
                label: series.label,
                last: values.last().copied().flatten().map(series.show),
                max: values.iter().flatten().max().copied().map(series.show),
                values,
            }
        })
        .collect()
}

impl Trend {
    /// The newest values that fit `width` cells.
    pub(super) fn newest(&self, width: usize) -> &[Option<u64>] {
        &self.values[self.values.len().saturating_sub(width)..]
    }

    /// The sparkline of the newest values as `width` cells of text (for popups, which are text):
    /// drawn by ratatui's own [`Sparkline`], so it reads like the history pane's charts. A run
    /// without a value is `·`.
    pub(super) fn sparkline_text(&self, width: usize) -> String {
        let data = self.newest(width);
        let Ok(cells) = u16::try_from(data.len()) else { return String::new() };
        let area = Rect::new(0, 0, cells, 1);
        let mut buffer = Buffer::empty(area);
        sparkline(data).render(area, &mut buffer);
        buffer.content.iter().map(|cell| cell.symbol()).collect()
    }
}

/// The sparkline widget of `data`, as both the pane and the popups draw it.
pub(super) fn sparkline(data: &[Option<u64>]) -> Sparkline<'static> {
    Sparkline::default().data(data.iter().copied()).absent_value_symbol("·")
}

/// Upserts plus deletes of a run that loaded; `None` for one that never got that far.
fn rows_changed(journal: &RunJournal, _: &TrendContext) -> Option<u64> {
    let counts = journal.stage_counts?;
    Some(counts.upserts + counts.deletes)
}

/// Wall time from start to end; `None` while running.
fn took_seconds(journal: &RunJournal, _: &TrendContext) -> Option<u64> {
    let end = journal.finished_at?;
    Some(format::between(journal.started_at, end).as_secs())
}

/// How old the watermark was when the run started: start minus the watermark it continued
/// from. The demo's watermarks are on its simulated clock, so there the source's "now" at the
/// start is the run's own export end plus `safety_lag` (every export ends that far behind
/// "now"). `None` for a first sync (no watermark) or a demo run that planned no export.
fn lag_at_start_seconds(journal: &RunJournal, context: &TrendContext) -> Option<u64> {
    let previous = journal.previous_watermark?;
    let start: DateTime<Utc> = match context.demo {
        false => journal.started_at,
        // Full and incremental exports alike end at "now" less the lag.
        true => {
            journal.target_watermark? + chrono::Duration::from_std(context.safety_lag).unwrap_or_default()
        }
    };
    Some(format::between(previous, start).as_secs())
}

/// The run's estimated export cost in millionths of a dollar; none when it was not priced (a run
/// before estimates existed, or a region without a price).
fn cost_microdollars(journal: &RunJournal, _: &TrendContext) -> Option<u64> {
    let usd = journal.cost.as_ref()?.usd?;
    Some((usd * 1e6).round() as u64)
}

/// `$0.0010`, `$1.41`: as the cost estimates read.
fn dollars(micros: u64) -> String {
    crate::contract::pricing::usd(micros as f64 / 1e6)
}

/// `42.0s`, `3m00s`, `2h05m`: as the console writes durations.
fn seconds(secs: u64) -> String {
    format::duration(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::contract::StageCounts;
    use crate::tui::fixtures::t;

    fn run(minute: u32, rows: Option<u64>, took: i64, previous: Option<DateTime<Utc>>) -> RunJournal {
        let mut journal = RunJournal::new(&format!("r{minute}"), "orders", Mode::Incremental, previous);
        journal.started_at = t(17, minute, 0);
        journal.finished_at = Some(journal.started_at + chrono::Duration::seconds(took));
        journal.stage_counts = rows.map(|n| StageCounts { upserts: n, deletes: 1, ..StageCounts::default() });
        journal.target_watermark = Some(t(16, minute, 0));
        journal
    }

    const WALL: TrendContext = TrendContext { demo: false, safety_lag: Duration::from_secs(300) };

    #[test]
    fn series_run_oldest_first_from_the_journals() {
        // Newest first, as the history loads them.
        let history = [
            run(30, Some(9), 60, Some(t(17, 0, 0))),
            run(10, None, 5, None),
            run(0, Some(0), 20, Some(t(16, 0, 0))),
        ];
        let trends = trends(&history, &WALL);
        let labels: Vec<&str> = trends.iter().map(|t| t.label).collect();
        assert_eq!(labels, ["rows", "took", "lag", "cost"]);
        assert_eq!(trends[0].values, [Some(1), None, Some(10)]);
        assert_eq!(trends[1].values, [Some(20), Some(5), Some(60)]);
        assert_eq!(trends[2].values, [Some(3600), None, Some(1800)]);
        assert_eq!((trends[1].last.as_deref(), trends[1].max.as_deref()), (Some("1m00s"), Some("1m00s")));
    }

    #[test]
    fn cost_is_charted_where_the_run_was_priced() {
        let estimate =
            |usd| crate::contract::CostEstimate { usd, billed_bytes: 1, assumption: String::new() };
        let mut history = [run(20, Some(1), 5, None), run(10, Some(1), 5, None), run(0, Some(1), 5, None)];
        history[0].cost = Some(estimate(Some(0.0029)));
        history[1].cost = Some(estimate(None));
        let trends = trends(&history, &WALL);
        let cost = trends.iter().find(|t| t.label == "cost").unwrap();
        assert_eq!(cost.values, [None, None, Some(2900)]);
        assert_eq!(cost.last.as_deref(), Some("$0.0029"));
    }

    #[test]
    fn demo_lag_is_measured_on_the_simulated_clock() {
        let journal = run(0, Some(1), 5, Some(t(15, 0, 0)));
        let demo = TrendContext { demo: true, ..WALL };
        // Export end 16:00 + 5 min safety lag, from a 15:00 watermark.
        assert_eq!(lag_at_start_seconds(&journal, &demo), Some(65 * 60));
        assert_eq!(lag_at_start_seconds(&journal, &WALL), Some(2 * 3600));
    }

    #[test]
    fn a_text_sparkline_keeps_the_newest_values_that_fit() {
        let trend = Trend {
            label: "rows",
            values: vec![Some(8), Some(0), None, Some(4), Some(8)],
            last: None,
            max: None,
        };
        assert_eq!(trend.sparkline_text(4), " ·▄█");
        assert_eq!(trend.sparkline_text(10).chars().count(), 5);
    }
}
