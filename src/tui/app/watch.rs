//! The console as an on-call screen: connecting in the background (and saying how it goes), and
//! watching every table for runs of other processes, so a sync made by cron or another shell
//! shows up within seconds without a key press.
//!
//! Watching is cheap by design: each watch tick reads every table's lease object (one GET, or
//! one file read), and its watermark (one small query) at most every [`watermark_every`]. Only a
//! change (a lease appeared, went or changed hands; the watermark moved) loads the table's whole
//! state, as `r` does.

use chrono::{DateTime, Utc};

use super::App;
use crate::config::{Config, WarehouseConfig};
use crate::pipeline::lock::LeaseHolder;
use crate::tui::action::Intent;
use crate::tui::command::Command;
use crate::tui::connection::{Connection, RetryNote};
use crate::tui::table_entry::LoadState;
use crate::tui::theme::Tone;

/// How often a watermark is re-read by watching: every tick, except in Redshift, where each
/// read is a Data API statement (billed, and queued behind loads) and once a minute is enough.
pub(super) fn watermark_every(config: &Config) -> chrono::Duration {
    match config.warehouse {
        WarehouseConfig::Redshift(_) => chrono::Duration::seconds(60),
        WarehouseConfig::Sqlite { .. } | WarehouseConfig::Postgres { .. } => chrono::Duration::zero(),
    }
}

impl App {
    /// Intents that need the engine, so wait for the connection.
    pub(super) fn needs_connection(intent: Intent) -> bool {
        matches!(
            intent,
            Intent::SyncIncremental
                | Intent::SyncFull
                | Intent::SyncAll
                | Intent::Cancel
                | Intent::DryRun
                | Intent::Refresh
                | Intent::ViewRows
        )
    }

    /// Such an intent before the connection is up: `r` after a failure connects again, the
    /// others say why nothing happens.
    pub(super) fn not_connected(&mut self, intent: Intent) -> Option<Command> {
        match (&self.connection, intent) {
            (Connection::Failed { .. }, Intent::Refresh) => {
                self.connection = Connection::Connecting { since: self.now, retry: None };
                self.notify(Tone::Accent, format!("connecting to {} again…", self.targets));
                Some(Command::Connect)
            }
            (Connection::Failed { .. }, _) => {
                self.notify(Tone::Warn, "not connected: r tries again");
                None
            }
            _ => {
                self.notify(Tone::Warn, "still connecting: runs can start once connected");
                None
            }
        }
    }

    pub(super) fn on_connect_retrying(&mut self, note: RetryNote) -> Option<Command> {
        if let Connection::Connecting { retry, .. } = &mut self.connection {
            *retry = Some(RetryNote { at: self.now, ..note });
        }
        None
    }

    /// Connected: load every table's state, as `r` does.
    pub(super) fn on_connected(&mut self, tables: Vec<crate::config::TableConfig>) -> Option<Command> {
        self.connection = Connection::Connected;
        for table in tables {
            if let Some(entry) = self.entry_mut(&table.name) {
                entry.config = std::sync::Arc::new(table);
            }
        }
        self.refresh_all()
    }

    pub(super) fn on_connect_failed(&mut self, message: String, exit_code: u8) -> Option<Command> {
        self.connection = Connection::Failed { message, exit_code };
        None
    }

    /// The watch timer: read the leases of every table not being read already (and the
    /// watermarks, when due).
    pub(super) fn on_watch(&mut self) -> Option<Command> {
        if !self.connection.is_connected() {
            return None;
        }
        let mut tables = Vec::new();
        for entry in self.tables.iter_mut().filter(|entry| !entry.peeking && entry.load == LoadState::Idle) {
            entry.peeking = true;
            tables.push(entry.name.clone());
        }
        if tables.is_empty() {
            return None;
        }
        let due = self.watermarks_read_at.is_none_or(|at| self.now - at >= self.watermark_every);
        if due {
            self.watermarks_read_at = Some(self.now);
        }
        Some(Command::Peek { tables, watermarks: due })
    }

    /// What watching read of a table: a change loads the table's whole state.
    pub(super) fn on_peeked(
        &mut self,
        table: &str,
        watermark: Option<Result<Option<DateTime<Utc>>, String>>,
        lease: Result<Option<LeaseHolder>, String>,
    ) -> Option<Command> {
        let own_runs: Vec<String> = self.active.keys().cloned().collect();
        let entry = self.entry_mut(table)?;
        entry.peeking = false;
        let mut changed = false;
        if let Ok(holder) = lease {
            let foreign = holder.filter(|holder| !own_runs.contains(&holder.run_id));
            changed |= foreign != entry.foreign;
            entry.foreign = foreign;
        }
        if let Some(Ok(watermark)) = watermark {
            // Compared with the previous read (the loaded watermark the first time), so a
            // watermark the console holds in another precision never reloads at every tick.
            let before = entry.peeked_watermark.unwrap_or(entry.watermark);
            changed |= entry.loaded_once && watermark != before;
            entry.peeked_watermark = Some(watermark);
        }
        // Read errors are left to `r` and the next load to report: a watch tick every few
        // seconds must not flood the status line.
        if !changed || entry.active_run().is_some() {
            return None;
        }
        self.reorder();
        self.request_load(vec![table.to_owned()])
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::config::Mode;
    use crate::tui::action::Action;
    use crate::tui::app::test_support::{app, connecting_app};
    use crate::tui::fixtures::{Script, t};

    fn holder(run_id: &str) -> LeaseHolder {
        LeaseHolder {
            run_id: run_id.into(),
            host: "ops-1".into(),
            pid: 1234,
            acquired_at: t(17, 59, 0),
            expires_at: t(18, 1, 0),
            generation: 1,
        }
    }

    fn peeked(watermark: Option<DateTime<Utc>>, lease: Option<LeaseHolder>) -> Action {
        Action::Peeked { table: "orders".into(), watermark: Some(Ok(watermark)), lease: Ok(lease) }
    }

    fn loaded(app: &mut App) {
        for table in ["orders", "customers", "invoices"] {
            app.update(Action::HistoryLoaded { table: table.into(), result: Ok(Vec::new()) });
        }
    }

    #[test]
    fn runs_wait_for_the_connection_and_r_connects_again_after_a_failure() {
        let mut app = connecting_app(120, 40, "the warehouse");
        assert_eq!(app.intent(Intent::SyncIncremental), None);
        assert!(app.notice().unwrap().text.contains("still connecting"));
        assert_eq!(app.intent(Intent::Refresh), None);
        assert_eq!(app.update(Action::Watch), None, "nothing to watch before connecting");
        app.update(Action::ConnectFailed { message: "refused".into(), exit_code: 1 });
        assert_eq!(app.intent(Intent::SyncAll), None);
        assert_eq!(app.intent(Intent::Refresh), Some(Command::Connect));
        assert!(matches!(app.connection(), Connection::Connecting { retry: None, .. }));
        let all = vec!["orders".to_string(), "customers".into(), "invoices".into()];
        assert_eq!(app.update(Action::Connected { tables: Vec::new() }), Some(Command::Load { tables: all }));
        assert!(app.intent(Intent::SyncIncremental).is_some());
    }

    #[test]
    fn watching_reads_every_idle_table_once_at_a_time() {
        let mut app = app(120, 40);
        let all = vec!["orders".to_string(), "customers".into(), "invoices".into()];
        assert_eq!(app.update(Action::Watch), Some(Command::Peek { tables: all, watermarks: true }));
        assert_eq!(app.update(Action::Watch), None, "every table is being read");
        app.update(peeked(None, None));
        let orders = Some(Command::Peek { tables: vec!["orders".into()], watermarks: true });
        assert_eq!(app.update(Action::Watch), orders);
    }

    #[test]
    fn a_foreign_run_shows_and_its_end_reloads_the_table() {
        let mut app = app(120, 40);
        loaded(&mut app);
        app.update(Action::Watch);
        let command = app.update(peeked(None, Some(holder("cron-run"))));
        assert_eq!(command, Some(Command::Load { tables: vec!["orders".into()] }));
        assert_eq!(app.table("orders").unwrap().foreign_run().map(|h| h.pid), Some(1234));
        app.update(Action::HistoryLoaded { table: "orders".into(), result: Ok(Vec::new()) });
        app.update(Action::Watch);
        assert_eq!(app.update(peeked(None, Some(holder("cron-run")))), None, "unchanged: no load");
        app.update(Action::Watch);
        let command = app.update(peeked(None, None));
        assert_eq!(command, Some(Command::Load { tables: vec!["orders".into()] }), "the run ended");
        assert!(app.table("orders").unwrap().foreign_run().is_none());
    }

    /// A connected app whose orders table loaded with its watermark at 17:00.
    fn orders_at_five_pm() -> App {
        let mut app = app(120, 40);
        app.update(Action::StatusLoaded {
            table: "orders".into(),
            result: Ok(Box::new(crate::pipeline::TableStatus {
                watermark: Some(t(17, 0, 0)),
                last_run: None,
                source_clock: None,
            })),
        });
        loaded(&mut app);
        app
    }

    #[test]
    fn a_moved_watermark_reloads_the_table() {
        let mut app = orders_at_five_pm();
        app.update(Action::Watch);
        assert_eq!(app.update(peeked(Some(t(17, 0, 0)), None)), None);
        app.update(Action::Watch);
        let command = app.update(peeked(Some(t(17, 30, 0)), None));
        assert_eq!(command, Some(Command::Load { tables: vec!["orders".into()] }));
    }

    #[test]
    fn a_watermark_that_differs_from_the_loaded_one_reloads_once_not_at_every_tick() {
        let mut app = orders_at_five_pm();
        let read = t(17, 0, 0) + chrono::Duration::nanoseconds(1);
        app.update(Action::Watch);
        assert!(app.update(peeked(Some(read), None)).is_some(), "differs from the loaded one");
        app.update(Action::HistoryLoaded { table: "orders".into(), result: Ok(Vec::new()) });
        app.update(Action::Watch);
        assert_eq!(app.update(peeked(Some(read), None)), None, "same as the last read");
    }

    #[test]
    fn the_consoles_own_run_is_not_foreign() {
        let mut app = app(120, 40);
        loaded(&mut app);
        app.update(Action::RunStarted { table: "orders".into(), run_id: "mine".into(), dry_run: false });
        app.feed([Script::new("orders", "mine").started(Mode::Incremental, false)]);
        app.update(Action::Watch);
        assert_eq!(app.update(peeked(None, Some(holder("mine")))), None);
        assert!(app.table("orders").unwrap().foreign.is_none());
    }

    #[test]
    fn redshift_watermarks_are_read_less_often() {
        let mut app = app(120, 40);
        app.watermark_every = chrono::Duration::seconds(60);
        assert!(matches!(app.update(Action::Watch), Some(Command::Peek { watermarks: true, .. })));
        loaded(&mut app);
        for table in ["orders", "customers", "invoices"] {
            app.update(Action::Peeked { table: table.into(), watermark: None, lease: Ok(None) });
        }
        app.update(Action::Tick(t(18, 0, 30)));
        assert!(matches!(app.update(Action::Watch), Some(Command::Peek { watermarks: false, .. })));
    }
}
