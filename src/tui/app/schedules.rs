//! The console runs the tables' schedules (`every`) while it is open, as `--watch` does: each
//! tick starts the tables that are due, a never-synced table's first run is a full sync, and `p`
//! pauses or resumes them all. The tables pane shows when each is next due.
//!
//! A table joins the schedule only once its state is loaded (so a table whose watermark is not
//! known yet is never taken for a never-synced one), and every run of it — scheduled, started by
//! a key, or seen in its journal from another process — counts as its slot.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::App;
use crate::config::{Config, Mode};
use crate::pipeline::events::{EventKind, RunOutcome};
use crate::pipeline::{RunEvent, RunRequest, TableStatus};
use crate::schedule::Schedule;
use crate::tui::command::{Command, StartRun};
use crate::tui::theme::Tone;

/// The console's schedules: the tables' intervals, the shared scheduling core, and the pause.
#[derive(Debug, Clone, Default)]
pub(crate) struct Schedules {
    every: Vec<(String, Duration)>,
    core: Schedule,
    paused: bool,
}

impl Schedules {
    pub(crate) fn new(config: &Config) -> Schedules {
        let every = config.tables.iter().filter_map(|t| Some((t.name.clone(), t.every?))).collect();
        Schedules { every, core: Schedule::new(), paused: false }
    }

    fn every(&self, table: &str) -> Option<Duration> {
        self.every.iter().find(|(name, _)| name == table).map(|(_, every)| *every)
    }

    /// Whether any table has `every` (the tables pane then shows its "Next" column).
    pub(crate) fn any(&self) -> bool {
        !self.every.is_empty()
    }

    pub(crate) fn paused(&self) -> bool {
        self.paused
    }
}

/// What the tables pane shows of a table's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NextRun {
    /// No `every`.
    Unscheduled,
    /// Its state is not loaded yet.
    Unknown,
    Paused,
    Running,
    Due,
    In(Duration),
}

impl NextRun {
    /// The cell's text: "in 12m", "due", "paused".
    pub(crate) fn label(&self) -> String {
        match self {
            NextRun::Unscheduled => "—".into(),
            NextRun::Unknown => "…".into(),
            NextRun::Paused => "paused".into(),
            NextRun::Running => "running".into(),
            NextRun::Due => "due".into(),
            NextRun::In(wait) => format!("in {}", compact(*wait)),
        }
    }
}

/// `45s`, `12m`, `1h05m`, `2d03h`: a wait, to the minute once it is a minute or more.
fn compact(wait: Duration) -> String {
    let secs = wait.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs.div_ceil(60)),
        3600..86_400 => format!("{}h{:02}m", secs / 3600, secs / 60 % 60),
        _ => format!("{}d{:02}h", secs / 86_400, secs / 3600 % 24),
    }
}

impl App {
    /// `p`: pauses every schedule, or resumes them. Runs going on are left alone.
    pub(super) fn toggle_schedules(&mut self) {
        if !self.schedules.any() {
            self.notify(Tone::Warn, "no table has a schedule: add every = \"1h\" to a table in tables.toml");
            return;
        }
        self.schedules.paused = !self.schedules.paused;
        let text = if self.schedules.paused {
            "schedules paused: no table starts on its own until p resumes them"
        } else {
            "schedules resumed: due tables start now"
        };
        self.notify(Tone::Accent, text);
    }

    /// The tables due at the tick's `now`, started (unless paused).
    pub(super) fn start_due(&mut self, now: DateTime<Utc>) -> Option<Command> {
        if self.schedules.paused || self.quitting {
            return None;
        }
        let due = self.schedules.core.due(now);
        let mut runs = Vec::new();
        for due in due {
            let Some(entry) = self.table(&due.table) else { continue };
            if entry.active_run().is_some() {
                // Started by a key meanwhile: that run is this slot.
                self.schedules.core.started(&due.table, now);
                continue;
            }
            let mode = if due.first_sync { Mode::Full } else { entry.mode };
            self.schedules.core.started(&due.table, now);
            runs.push(StartRun { table: due.table, request: RunRequest { mode, dry_run: false } });
        }
        if runs.is_empty() {
            return None;
        }
        let names: Vec<String> = runs
            .iter()
            .map(|run| match run.request.mode {
                Mode::Full if self.table(&run.table).is_some_and(|t| t.watermark.is_none()) => {
                    format!("{} (never synced: a first full sync)", run.table)
                }
                mode => format!("{} ({mode})", run.table),
            })
            .collect();
        self.notify(Tone::Accent, format!("scheduled: starting {}", names.join(", ")));
        Some(Command::Start(runs))
    }

    /// A table's state was loaded: it joins the schedule, or what other processes did is noted.
    pub(super) fn schedule_status(&mut self, table: &str, status: &TableStatus) {
        let Some(every) = self.schedules.every(table) else { return };
        let synced = status.watermark.is_some();
        let last_start = status.last_run.as_ref().map(|run| run.started_at);
        if self.schedules.core.contains(table) {
            self.schedules.core.observed(table, synced, last_start);
        } else {
            self.schedules.core.add(table, every, synced, last_start);
        }
    }

    /// A run started here (by a key or the schedule) uses the table's slot.
    pub(super) fn schedule_run_started(&mut self, table: &str, dry_run: bool) {
        if !dry_run {
            self.schedules.core.started(table, self.now);
        }
    }

    /// A run's last event: the table is idle again, and synced once a run committed.
    pub(super) fn schedule_run_ended(&mut self, event: &RunEvent) {
        let committed = matches!(event.kind, EventKind::RunFinished { result: RunOutcome::Committed { .. } });
        if event.is_terminal() {
            self.schedules.core.finished(&event.table, committed);
        }
    }

    /// The engine refused a run the schedule asked for: it waits for its next slot.
    pub(super) fn schedule_start_failed(&mut self, table: &str) {
        self.schedules.core.finished(table, false);
    }

    /// When `table` runs next, for the tables pane.
    pub(crate) fn next_run(&self, table: &str) -> NextRun {
        if self.schedules.every(table).is_none() {
            return NextRun::Unscheduled;
        }
        if !self.schedules.core.contains(table) {
            return NextRun::Unknown;
        }
        if self.schedules.paused {
            return NextRun::Paused;
        }
        match self.schedules.core.next_due(table, self.now) {
            None => NextRun::Running,
            Some(at) if at <= self.now => NextRun::Due,
            Some(at) => NextRun::In((at - self.now).to_std().unwrap_or_default()),
        }
    }

    pub(crate) fn schedules(&self) -> &Schedules {
        &self.schedules
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::action::{Action, Intent};
    use crate::tui::app::test_support::app_with;
    use crate::tui::fixtures::{Script, committed_journal, t};

    /// The fixtures' tables, orders every 15 minutes, customers every hour.
    fn scheduled_app() -> App {
        app_with(|config| {
            config.tables[0].every = Some(Duration::from_secs(15 * 60));
            config.tables[1].every = Some(Duration::from_secs(3600));
        })
    }

    fn loaded(table: &str, watermark: Option<DateTime<Utc>>, started: Option<DateTime<Utc>>) -> Action {
        let last_run = started.map(|at| committed_journal("r0", at));
        Action::StatusLoaded {
            table: table.into(),
            result: Ok(Box::new(TableStatus { watermark, last_run, source_clock: None })),
        }
    }

    fn started_tables(command: Option<Command>) -> Vec<(String, Mode)> {
        match command {
            Some(Command::Start(runs)) => runs.into_iter().map(|r| (r.table, r.request.mode)).collect(),
            other => panic!("expected runs to start, got {other:?}"),
        }
    }

    #[test]
    fn compact_waits_read_like_next_in_12m() {
        assert_eq!(compact(Duration::from_secs(45)), "45s");
        assert_eq!(compact(Duration::from_secs(11 * 60 + 20)), "12m");
        assert_eq!(compact(Duration::from_secs(3900)), "1h05m");
        assert_eq!(compact(Duration::from_secs(2 * 86_400 + 3 * 3600)), "2d03h");
    }

    #[test]
    fn due_tables_start_on_the_tick_and_a_never_synced_one_gets_a_full_sync() {
        let mut app = scheduled_app();
        assert_eq!(
            app.update(Action::Tick(t(18, 0, 0))),
            None,
            "nothing is scheduled before its state is known"
        );
        assert_eq!(app.next_run("orders"), NextRun::Unknown);
        app.apply([loaded("orders", Some(t(17, 0, 0)), Some(t(17, 50, 0))), loaded("customers", None, None)]);
        assert_eq!(app.next_run("orders"), NextRun::In(Duration::from_secs(5 * 60)));
        assert_eq!(app.next_run("invoices"), NextRun::Unscheduled);
        let command = app.update(Action::Tick(t(18, 0, 1)));
        assert_eq!(started_tables(command), [("customers".to_owned(), Mode::Full)]);
        assert!(app.notice().unwrap().text.contains("customers (never synced: a first full sync)"));
        assert_eq!(app.next_run("customers"), NextRun::Running);
        assert_eq!(app.update(Action::Tick(t(18, 0, 2))), None, "a running table is not started twice");
        let command = app.update(Action::Tick(t(18, 5, 0)));
        assert_eq!(started_tables(command), [("orders".to_owned(), Mode::Incremental)]);
    }

    #[test]
    fn p_pauses_and_resumes_the_schedules() {
        let mut app = scheduled_app();
        app.apply([loaded("orders", Some(t(17, 0, 0)), Some(t(17, 0, 0)))]);
        app.intent(Intent::ToggleSchedules);
        assert!(app.schedules().paused());
        assert!(app.notice().unwrap().text.starts_with("schedules paused"));
        assert_eq!(app.next_run("orders"), NextRun::Paused);
        assert_eq!(app.update(Action::Tick(t(18, 0, 0))), None);
        app.intent(Intent::ToggleSchedules);
        assert_eq!(
            started_tables(app.update(Action::Tick(t(18, 0, 1)))),
            [("orders".to_owned(), Mode::Incremental)]
        );
    }

    #[test]
    fn a_run_started_by_a_key_uses_the_slot_and_its_end_frees_the_table() {
        let mut app = scheduled_app();
        app.apply([loaded("orders", Some(t(17, 0, 0)), Some(t(17, 0, 0)))]);
        app.update(Action::Tick(t(17, 50, 0)));
        app.update(Action::RunStarted { table: "orders".into(), run_id: "r1".into(), dry_run: false });
        assert_eq!(app.next_run("orders"), NextRun::Running);
        let mut script = Script::new("orders", "r1");
        app.feed([script.started(Mode::Incremental, false)]);
        app.feed(script.committed_run());
        assert_eq!(app.next_run("orders"), NextRun::In(Duration::from_secs(15 * 60)));
        assert_eq!(app.update(Action::Tick(t(18, 0, 0))), None);
    }

    #[test]
    fn p_without_schedules_says_how_to_add_one() {
        let mut app = crate::tui::app::test_support::app(120, 40);
        app.intent(Intent::ToggleSchedules);
        assert!(!app.schedules().paused());
        assert!(app.notice().unwrap().text.contains("every = \"1h\""));
    }
}
