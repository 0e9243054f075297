//! What the outside world reports: run events from the engine, runs accepted or ended, and the
//! state loaded in the background.

use super::App;
use crate::pipeline::events::EventKind;
use crate::pipeline::{RunEvent, RunJournal, TableStatus};
use crate::tui::command::Command;
use crate::tui::popup::{Popup, PopupKind};
use crate::tui::run_view::{Origin, RunView};
use crate::tui::theme::Tone;

impl App {
    pub(super) fn on_run_started(&mut self, table: String, run_id: String, dry_run: bool) -> Option<Command> {
        self.active.insert(run_id.clone(), table.clone());
        self.schedule_run_started(&table, dry_run);
        let view = RunView::new(&run_id, &table, Origin::Live, self.now);
        if dry_run {
            self.dry_run = Some(RunView { dry_run: true, ..view });
            self.popup = Some(Popup::new(PopupKind::DryRun));
            return None;
        }
        let selected = self.selected_name().as_deref() == Some(table.as_str());
        if let Some(entry) = self.entry_mut(&table) {
            entry.live = Some(view);
        }
        if selected {
            self.reset_run_cursors();
        }
        self.reorder();
        None
    }

    pub(super) fn on_run_event(&mut self, event: RunEvent) -> Option<Command> {
        let terminal = event.is_terminal();
        if let Some(plan) = self.dry_run.as_mut().filter(|plan| plan.run_id == event.run_id) {
            plan.apply(&event);
            if terminal {
                self.active.remove(&event.run_id);
                self.drop_run_notice();
            }
            self.clamp_popup_scroll();
            return None;
        }
        self.schedule_run_ended(&event);
        let table = event.table.clone();
        let entry = self.entry_mut(&table)?;
        match entry.live.as_mut().filter(|run| run.run_id == event.run_id) {
            Some(run) => run.apply(&event),
            None => entry.live = Some(RunView::from_first_event(&event)),
        }
        if let EventKind::WatermarkAdvanced { to, .. } = &event.kind {
            entry.watermark = Some(*to);
        }
        if self.selected_name().as_deref() == Some(table.as_str()) {
            self.clamp_cursors();
            self.clamp_popup_scroll();
        }
        if !(terminal
            || matches!(event.kind, EventKind::StageChanged { .. } | EventKind::WatermarkAdvanced { .. }))
        {
            return None;
        }
        self.reorder();
        if !terminal {
            return None;
        }
        self.active.remove(&event.run_id);
        self.drop_run_notice();
        if let EventKind::RunFailed { stage, .. } = &event.kind {
            self.notify(
                Tone::Bad,
                format!("{table} failed at {stage}; Enter on it shows why and what to do"),
            );
        }
        self.request_load(vec![table])
    }

    pub(super) fn on_run_joined(
        &mut self,
        table: &str,
        run_id: &str,
        panic: Option<String>,
    ) -> Option<Command> {
        self.active.remove(run_id);
        let panic = panic?;
        let now = self.now;
        if let Some(plan) = self.dry_run.as_mut().filter(|plan| plan.run_id == run_id) {
            plan.mark_lost(now, &panic);
            return None;
        }
        let entry = self.entry_mut(table)?;
        entry.live.as_mut().filter(|run| run.run_id == run_id)?.mark_lost(now, &panic);
        self.notify(Tone::Bad, format!("the run of {table} stopped unexpectedly; see the log file"));
        self.reorder();
        self.request_load(vec![table.to_owned()])
    }

    pub(super) fn on_status_loaded(
        &mut self,
        table: &str,
        result: Result<Box<TableStatus>, String>,
    ) -> Option<Command> {
        if let Ok(status) = &result {
            self.schedule_status(table, status);
        }
        let entry = self.entry_mut(table)?;
        match result {
            Ok(status) => {
                // A commit seen live may be newer than a load that started before it.
                entry.watermark = entry.watermark.max(status.watermark);
                entry.last_journal = status.last_run.as_ref().map(|journal| entry.journal_view(journal));
                entry.load_error = None;
                entry.loaded_once = true;
                entry.source_clock = status.source_clock;
            }
            Err(message) => {
                entry.load_error = Some(message.clone());
                self.notify(Tone::Warn, format!("could not read the state of {table}: {message}"));
            }
        }
        self.reorder();
        self.clamp_cursors();
        None
    }

    /// The history is the last part of a table's load: a queued load starts now.
    pub(super) fn on_history_loaded(
        &mut self,
        table: &str,
        result: Result<Vec<RunJournal>, String>,
    ) -> Option<Command> {
        let entry = self.entry_mut(table)?;
        match result {
            Ok(history) => entry.history = history,
            Err(message) => entry.load_error = Some(message),
        }
        let again = entry.load.finish();
        self.clamp_cursors();
        again.then(|| Command::Load { tables: vec![table.to_owned()] })
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::config::Mode;
    use crate::pipeline::events::Stage;
    use crate::tui::action::{Action, Intent};
    use crate::tui::app::test_support::app;
    use crate::tui::fixtures::{Script, committed_journal, failed_journal, t};
    use crate::tui::run_view::Phase;

    fn status(watermark_hour: u32, journal: Option<RunJournal>) -> Action {
        Action::StatusLoaded {
            table: "orders".into(),
            result: Ok(Box::new(TableStatus {
                watermark: Some(t(watermark_hour, 0, 0)),
                last_run: journal,
                source_clock: None,
            })),
        }
    }

    #[test]
    fn events_build_the_tables_live_run() {
        let mut app = app(120, 40);
        let mut script = Script::new("orders", "r1");
        app.update(Action::RunStarted { table: "orders".into(), run_id: "r1".into(), dry_run: false });
        assert_eq!(app.active_runs(), 1);
        app.feed([script.started(Mode::Incremental, false)]);
        app.feed(script.staging());
        let orders = app.table("orders").unwrap();
        assert_eq!(orders.phase(), Some(Phase::Running(Stage::Staging)));
        assert_eq!(orders.live.as_ref().unwrap().started_at, t(18, 0, 0));
    }

    #[test]
    fn the_end_of_a_run_frees_it_and_reloads_the_table() {
        let mut app = app(120, 40);
        let mut script = Script::new("orders", "r1");
        app.update(Action::RunStarted { table: "orders".into(), run_id: "r1".into(), dry_run: false });
        app.feed([script.started(Mode::Incremental, false)]);
        let mut events = script.committed_run();
        let last = events.pop().unwrap();
        app.feed(events);
        assert_eq!(app.table("orders").unwrap().watermark, Some(t(17, 55, 0)));
        let command = app.update(Action::Run(Box::new(last)));
        assert_eq!(command, Some(Command::Load { tables: vec!["orders".into()] }));
        assert_eq!(app.active_runs(), 0);
        assert_eq!(app.table("orders").unwrap().phase(), Some(Phase::Committed));
    }

    #[test]
    fn a_failed_run_says_so() {
        let mut app = app(120, 40);
        let mut script = Script::new("orders", "r1");
        app.feed([script.started(Mode::Incremental, false)]);
        app.feed(script.failed_while_loading());
        assert_eq!(app.table("orders").unwrap().phase(), Some(Phase::Failed(Stage::Loading)));
        assert!(app.notice().unwrap().text.contains("failed at loading"));
        app.intent(Intent::Open);
        assert_eq!(app.popup().map(|p| &p.kind), Some(&PopupKind::Failure { table: "orders".into() }));
    }

    #[test]
    fn a_dry_run_fills_its_popup_not_the_table() {
        let mut app = app(120, 40);
        let mut script = Script::new("orders", "dry");
        app.update(Action::RunStarted { table: "orders".into(), run_id: "dry".into(), dry_run: true });
        assert_eq!(app.popup().map(|p| &p.kind), Some(&PopupKind::DryRun));
        app.feed([script.started(Mode::Incremental, true)]);
        app.feed(script.dry_run());
        let plan = app.dry_run().unwrap();
        assert_eq!(plan.exports.len(), 2);
        assert_eq!(plan.statements.len(), 4);
        assert_eq!(plan.phase(), Phase::DryRun);
        assert!(app.table("orders").unwrap().live.is_none());
        assert_eq!(app.active_runs(), 0);
    }

    #[test]
    fn status_sets_watermark_and_last_run() {
        let mut app = app(120, 40);
        app.update(status(12, Some(failed_journal("old", t(11, 0, 0)))));
        let orders = app.table("orders").unwrap();
        assert_eq!(orders.watermark, Some(t(12, 0, 0)));
        assert_eq!(orders.phase(), Some(Phase::Failed(Stage::Loading)));
        assert!(orders.loaded_once);
    }

    #[test]
    fn an_older_status_never_moves_the_watermark_back() {
        let mut app = app(120, 40);
        let mut script = Script::new("orders", "r1");
        app.feed([script.started(Mode::Incremental, false)]);
        app.feed(script.committed_run());
        app.update(status(12, Some(committed_journal("r0", t(11, 0, 0)))));
        assert_eq!(app.table("orders").unwrap().watermark, Some(t(17, 55, 0)));
    }

    #[test]
    fn a_failed_load_is_reported_and_kept() {
        let mut app = app(120, 40);
        app.update(Action::StatusLoaded { table: "orders".into(), result: Err("store unreachable".into()) });
        assert_eq!(app.table("orders").unwrap().load_error.as_deref(), Some("store unreachable"));
        assert!(app.notice().unwrap().text.contains("store unreachable"));
    }

    #[test]
    fn a_queued_load_starts_when_the_history_arrives() {
        let mut app = app(120, 40);
        app.intent(Intent::Refresh);
        app.intent(Intent::Refresh);
        let command = app.update(Action::HistoryLoaded { table: "orders".into(), result: Ok(Vec::new()) });
        assert_eq!(command, Some(Command::Load { tables: vec!["orders".into()] }));
        let command = app.update(Action::HistoryLoaded { table: "orders".into(), result: Ok(Vec::new()) });
        assert_eq!(command, None);
    }

    #[test]
    fn a_run_that_dies_silently_becomes_a_failure() {
        let mut app = app(120, 40);
        let mut script = Script::new("orders", "r1");
        app.update(Action::RunStarted { table: "orders".into(), run_id: "r1".into(), dry_run: false });
        app.feed([script.started(Mode::Incremental, false)]);
        app.feed(script.exporting());
        let command = app.update(Action::RunJoined {
            table: "orders".into(),
            run_id: "r1".into(),
            panic: Some("attempt to divide by zero".into()),
        });
        assert_eq!(command, Some(Command::Load { tables: vec!["orders".into()] }));
        assert_eq!(app.table("orders").unwrap().phase(), Some(Phase::Failed(Stage::Exporting)));
        assert_eq!(app.active_runs(), 0);
    }

    #[test]
    fn a_normal_join_only_frees_the_run() {
        let mut app = app(120, 40);
        app.update(Action::RunStarted { table: "orders".into(), run_id: "r1".into(), dry_run: false });
        let command =
            app.update(Action::RunJoined { table: "orders".into(), run_id: "r1".into(), panic: None });
        assert_eq!(command, None);
        assert_eq!(app.active_runs(), 0);
    }

    #[test]
    fn new_statements_are_followed_until_the_user_moves() {
        let mut app = app(120, 40);
        let mut script = Script::new("orders", "r1");
        app.feed([script.started(Mode::Incremental, false)]);
        app.feed(script.loading());
        assert_eq!(app.statements_cursor().selected(), 3);
        app.intent(Intent::NextPane);
        app.intent(Intent::Up);
        app.feed(script.committed_run().into_iter().take(0));
        assert_eq!(app.statements_cursor().selected(), 2);
    }

    #[test]
    fn a_starting_notice_ends_with_the_run() {
        let mut app = app(120, 40);
        app.intent(crate::tui::action::Intent::SyncIncremental);
        assert!(app.notice().unwrap().text.starts_with("starting incremental of orders"));
        let mut script = Script::new("orders", "r1");
        app.update(Action::RunStarted { table: "orders".into(), run_id: "r1".into(), dry_run: false });
        app.feed([script.started(Mode::Incremental, false)]);
        app.feed(script.staging());
        assert!(app.notice().is_some(), "kept while the run goes");
        app.feed(script.committed_run().into_iter().skip(4));
        assert_eq!(app.table("orders").unwrap().phase(), Some(Phase::Committed));
        assert_eq!(app.notice(), None, "the run ended: its notice is gone");
    }

    #[test]
    fn events_of_unknown_tables_are_ignored() {
        let mut app = app(120, 40);
        let before = app.tables().to_vec();
        app.feed([Script::new("nope", "r9").started(Mode::Full, false)]);
        assert_eq!(app.tables(), &before[..]);
    }
}
