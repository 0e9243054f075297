//! One configured table as the console tracks it: its committed watermark, the run this console
//! started (live), the newest run journal and the history, plus whether a background load of its
//! state is going.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::format;
use super::run_view::{Phase, RunView};
use crate::config::{Mode, TableConfig};
use crate::contract::{DriftReport, SourceClock};
use crate::pipeline::RunJournal;
use crate::pipeline::lock::LeaseHolder;

/// Background loads of one table's state: at most one going and one queued, so pressing `r`
/// repeatedly (or runs ending back to back) never piles up loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum LoadState {
    #[default]
    Idle,
    Loading,
    /// Loading, and another load was asked for meanwhile.
    LoadingThenAgain,
}

impl LoadState {
    /// Records a request; returns whether a load should start now.
    pub(super) fn request(&mut self) -> bool {
        match self {
            LoadState::Idle => {
                *self = LoadState::Loading;
                true
            }
            LoadState::Loading | LoadState::LoadingThenAgain => {
                *self = LoadState::LoadingThenAgain;
                false
            }
        }
    }

    /// Records that a load ended; returns whether the queued one should start now.
    pub(super) fn finish(&mut self) -> bool {
        let again = *self == LoadState::LoadingThenAgain;
        *self = if again { LoadState::Loading } else { LoadState::Idle };
        again
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct TableEntry {
    pub name: String,
    pub target: String,
    /// What a plain sync does (the configured mode).
    pub mode: Mode,
    /// The committed watermark.
    pub watermark: Option<DateTime<Utc>>,
    /// The newest run this console started (kept after it ends, with its log).
    pub live: Option<RunView>,
    /// The newest run journal (a run of an earlier session, or of another process).
    pub last_journal: Option<RunView>,
    /// Past runs, newest first.
    pub history: Vec<RunJournal>,
    /// Why the last state load failed.
    pub load_error: Option<String>,
    pub load: LoadState,
    /// Whether any state load finished yet (before that, "never synced" would be a guess).
    pub loaded_once: bool,
    /// The source's own clock when it is not the wall clock (the demo's runs faster).
    pub source_clock: Option<SourceClock>,
    /// The holder of the table's lease when it is a run of another process (cron, another
    /// console, another host).
    pub foreign: Option<LeaseHolder>,
    /// Whether a watch read of this table is under way.
    pub peeking: bool,
    /// The watermark the last watch read found (`Some(None)`: none committed yet).
    pub peeked_watermark: Option<Option<DateTime<Utc>>>,
    /// The demo source: its times (watermark, export windows) are on its simulated clock, not
    /// the wall clock, and the console says so wherever they stand beside real times.
    pub demo: bool,
    /// The table's settings as configured (the details popup shows them).
    pub config: Arc<TableConfig>,
}

impl TableEntry {
    pub(super) fn new(config: &TableConfig) -> TableEntry {
        TableEntry {
            name: config.name.clone(),
            target: config.target.to_string(),
            mode: config.mode,
            watermark: None,
            live: None,
            last_journal: None,
            history: Vec::new(),
            load_error: None,
            load: LoadState::Idle,
            loaded_once: false,
            source_clock: None,
            foreign: None,
            peeking: false,
            peeked_watermark: None,
            demo: matches!(config.source, crate::config::SourceConfig::Demo),
            config: Arc::new(config.clone()),
        }
    }

    /// What 30 days of this table's schedule would cost, from its cadence and the estimates of
    /// its recent runs (docs/cost.md); `None` without `every` or a priced run.
    pub(super) fn projected_cost(&self, now: DateTime<Utc>) -> Option<crate::cost::Projection> {
        let runs: Vec<crate::cost::RunCost> = self
            .history
            .iter()
            .filter_map(|j| {
                let usd = j.cost.as_ref()?.usd;
                Some(crate::cost::RunCost { started_at: j.started_at, mode: j.mode, usd })
            })
            .collect();
        crate::cost::projection(self.config.every, self.mode, &runs, now)
    }

    /// A journal read as a run model, with this table's target filled in (journals do not
    /// record it).
    pub(super) fn journal_view(&self, journal: &RunJournal) -> RunView {
        let mut view = RunView::from_journal(journal);
        view.target.get_or_insert_with(|| self.target.clone());
        view
    }

    /// The run the panes show: the live one, else the newest journal.
    pub(super) fn shown_run(&self) -> Option<&RunView> {
        self.live.as_ref().or(self.last_journal.as_ref())
    }

    pub(super) fn phase(&self) -> Option<Phase> {
        self.shown_run().map(RunView::phase)
    }

    /// The run of another process going on now, when this console runs none of the table.
    pub(super) fn foreign_run(&self) -> Option<&LeaseHolder> {
        self.foreign.as_ref().filter(|_| self.active_run().is_none())
    }

    /// The live run this console is waiting for, if any.
    pub(super) fn active_run(&self) -> Option<&RunView> {
        self.live.as_ref().filter(|run| run.is_active())
    }

    /// How far the target trails the source at wall-clock `now`, on the source's clock.
    pub(super) fn lag(&self, now: DateTime<Utc>) -> Option<Duration> {
        let source_now = self.source_clock.map_or(now, |clock| clock.at(now));
        self.watermark.map(|w| format::between(w, source_now))
    }

    /// The schema drift of the shown run, unless the table ignores drift.
    pub(super) fn drift(&self) -> Option<&DriftReport> {
        self.shown_run()
            .and_then(|run| run.drift.as_ref())
            .filter(|_| self.config.on_drift != crate::config::DriftPolicy::Ignore)
    }

    /// Upserts and deletes of the shown run.
    pub(super) fn loaded(&self) -> Option<(u64, u64)> {
        self.shown_run().and_then(RunView::loaded)
    }

    /// Whether `needle` (lowercase) occurs in the table's name or target.
    pub(super) fn matches(&self, needle: &str) -> bool {
        needle.is_empty()
            || self.name.to_lowercase().contains(needle)
            || self.target.to_lowercase().contains(needle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::{self, Script, committed_journal, t};

    fn orders() -> TableEntry {
        TableEntry::new(&fixtures::config().tables[0])
    }

    #[test]
    fn loads_queue_at_most_one_more() {
        let mut load = LoadState::default();
        assert!(load.request());
        assert!(!load.request());
        assert!(!load.request());
        assert!(load.finish(), "the queued load starts");
        assert!(!load.finish());
        assert_eq!(load, LoadState::Idle);
    }

    #[test]
    fn the_live_run_wins_over_the_journal() {
        let mut entry = orders();
        entry.last_journal = Some(RunView::from_journal(&committed_journal("old", t(10, 0, 0))));
        assert_eq!(entry.shown_run().unwrap().run_id, "old");
        entry.live =
            Some(RunView::from_first_event(&Script::new("orders", "new").started(Mode::Full, false)));
        assert_eq!(entry.shown_run().unwrap().run_id, "new");
        assert!(entry.active_run().is_some());
    }

    #[test]
    fn lag_follows_a_source_clock_that_runs_faster_than_the_wall() {
        let mut entry = orders();
        entry.watermark = Some(t(17, 0, 0));
        entry.source_clock = Some(SourceClock { now: t(17, 30, 0), read_at: t(17, 0, 0), rate: 600.0 });
        assert_eq!(entry.lag(t(17, 0, 0)), Some(Duration::from_secs(1800)));
        assert_eq!(entry.lag(t(17, 0, 6)), Some(Duration::from_secs(1800 + 3600)));
    }

    #[test]
    fn lag_is_measured_from_the_watermark() {
        let mut entry = orders();
        assert_eq!(entry.lag(t(18, 0, 0)), None);
        entry.watermark = Some(t(17, 0, 0));
        assert_eq!(entry.lag(t(18, 0, 0)), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn a_live_drift_event_marks_the_table_unless_it_ignores_drift() {
        use crate::contract::{DriftCheck, DriftReport, EventKind, RunEvent};
        let mut entry = orders();
        let mut live = RunView::from_first_event(&Script::new("orders", "r").started(Mode::Full, false));
        let report = DriftReport { items_checked: 1, untracked_paths: 1, ..DriftReport::default() };
        let kind = EventKind::Drift { check: DriftCheck::Counted { report: report.clone() } };
        live.apply(&RunEvent { run_id: "r".into(), table: "orders".into(), at: t(18, 0, 0), kind });
        entry.live = Some(live);
        assert_eq!(entry.drift(), Some(&report));
        Arc::make_mut(&mut entry.config).on_drift = crate::config::DriftPolicy::Ignore;
        assert_eq!(entry.drift(), None);
    }

    #[test]
    fn filters_match_name_or_target() {
        let entry = orders();
        assert!(entry.matches(""));
        assert!(entry.matches("ord"));
        assert!(entry.matches("analytics."));
        assert!(!entry.matches("cust"));
    }
}
