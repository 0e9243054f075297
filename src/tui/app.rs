//! The console's whole state and its one entry point, [`App::update`]: every key, mouse event,
//! run event, tick and background result goes through it, and it answers with the side effect to
//! run, if any. Drawing only reads this state; nothing here touches the terminal, the clock or
//! the engine, so it is tested by feeding it actions.

mod intents;
mod messages;
mod rows;
mod schedules;
mod watch;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use ratatui::layout::Rect;

use super::action::Action;
use super::command::Command;
use super::connection::{self, Connection};
use super::keymap::Context;
use super::layout::{self, ScreenLayout};
use super::list_cursor::ListCursor;
use super::pane::Pane;
use super::popup::Popup;
use super::popup_content::{self, PopupState};
use super::rows_view::RowsView;
use super::run_view::RunView;
use super::table_entry::TableEntry;
use super::table_list::TableList;
use super::theme::Tone;
use crate::config::{Config, LagThresholds};

pub(super) use schedules::{NextRun, Schedules};

/// How long a notice stays in the status line.
const NOTICE_SECONDS: i64 = 30;

/// A one-line message for the status line ("started…", "nothing to cancel").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Notice {
    pub at: DateTime<Utc>,
    pub tone: Tone,
    pub text: String,
    /// Says what a run is about to do ("starting …", "cancelling …"): dropped when a run ends,
    /// so it never outlives what it announced.
    pub until_run_end: bool,
}

#[derive(Debug, Clone)]
pub(super) struct App {
    now: DateTime<Utc>,
    screen: Rect,
    lag: LagThresholds,
    log_file: PathBuf,
    tables: Vec<TableEntry>,
    list: TableList,
    focus: Pane,
    statements: ListCursor,
    history: ListCursor,
    popup: Option<Popup>,
    /// The rows view of a table's target, while open (under any popup).
    rows: Option<RowsView>,
    /// The newest read number of a rows view now closed (see [`RowsView::open`]).
    rows_numbered: u64,
    /// The console's newest dry run (shown in its popup).
    dry_run: Option<RunView>,
    notice: Option<Notice>,
    /// Runs started here and not ended yet: run id → table.
    active: BTreeMap<String, String>,
    quitting: bool,
    /// The tables' `every`, run while the console is open.
    schedules: Schedules,
    /// The warehouse and AWS connections, made in the background.
    connection: Connection,
    /// What is being connected to, in words.
    targets: String,
    /// How often watching re-reads watermarks (lease files are read at every watch tick).
    watermark_every: chrono::Duration,
    /// When watching last read watermarks.
    watermarks_read_at: Option<DateTime<Utc>>,
}

impl App {
    /// The state for `config`'s tables at `now` on a `width`×`height` terminal.
    pub(super) fn new(config: &Config, now: DateTime<Utc>, width: u16, height: u16) -> App {
        let tables: Vec<TableEntry> = config.tables.iter().map(TableEntry::new).collect();
        let list = TableList::new(&tables);
        App {
            now,
            screen: Rect::new(0, 0, width, height),
            lag: config.lag,
            log_file: config.log_file.clone(),
            tables,
            list,
            focus: Pane::Tables,
            statements: ListCursor::following(),
            history: ListCursor::default(),
            popup: None,
            rows: None,
            rows_numbered: 0,
            dry_run: None,
            notice: None,
            active: BTreeMap::new(),
            quitting: false,
            schedules: Schedules::new(config),
            connection: Connection::Connecting { since: now, retry: None },
            targets: connection::targets(config),
            watermark_every: watch::watermark_every(config),
            watermarks_read_at: None,
        }
    }

    /// Applies one action; returns the side effect the event loop should run.
    pub(super) fn update(&mut self, action: Action) -> Option<Command> {
        match action {
            Action::Intent(intent) => self.on_intent(intent),
            Action::FilterInput(ch) => self.on_filter_input(ch),
            Action::Scroll { column, row, down } => self.on_scroll(column, row, down),
            Action::Click { column, row } => self.on_click(column, row),
            Action::Resize { width, height } => {
                self.screen = Rect::new(0, 0, width, height);
                self.clamp_cursors();
                self.clamp_popup_scroll();
                None
            }
            Action::Shutdown => self.quit_now(),
            Action::Tick(now) => {
                self.now = now;
                self.start_due(now)
            }
            Action::Run(event) => self.on_run_event(*event),
            Action::RunStarted { table, run_id, dry_run } => self.on_run_started(table, run_id, dry_run),
            Action::StartFailed { table, message } => {
                self.schedule_start_failed(&table);
                self.drop_run_notice();
                self.notify(Tone::Bad, format!("could not start a run of {table}: {message}"));
                None
            }
            Action::RunJoined { table, run_id, panic } => self.on_run_joined(&table, &run_id, panic),
            Action::StatusLoaded { table, result } => self.on_status_loaded(&table, result),
            Action::HistoryLoaded { table, result } => self.on_history_loaded(&table, result),
            Action::RowsRead { table, request, result } => self.on_rows_read(&table, request, result),
            Action::ConnectRetrying(note) => self.on_connect_retrying(*note),
            Action::Connected { tables } => self.on_connected(tables),
            Action::ConnectFailed { message, exit_code } => self.on_connect_failed(message, exit_code),
            Action::Watch => self.on_watch(),
            Action::Peeked { table, watermark, lease } => self.on_peeked(&table, watermark, lease),
        }
    }

    /// The keymap contexts that apply now, most specific first.
    pub(super) fn key_contexts(&self) -> Vec<Context> {
        match &self.popup {
            Some(popup) if popup.is_question() => vec![Context::Confirm, Context::Always],
            Some(_) => vec![Context::Viewer, Context::Always],
            None if self.rows.as_ref().is_some_and(|rows| rows.finding.is_some()) => {
                vec![Context::RowsFind, Context::Always]
            }
            None if self.rows.is_some() => vec![Context::Rows, Context::Always],
            None if self.list.editing => vec![Context::Filter, Context::Always],
            None => vec![self.focus.context(), Context::Global, Context::Always],
        }
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The pane layout, `None` when the terminal is too small.
    pub(super) fn layout(&self) -> Option<ScreenLayout> {
        ScreenLayout::new(self.screen, self.tables.len())
    }

    pub(super) fn lag_thresholds(&self) -> LagThresholds {
        self.lag
    }

    pub(super) fn log_file(&self) -> &std::path::Path {
        &self.log_file
    }

    pub(super) fn tables(&self) -> &[TableEntry] {
        &self.tables
    }

    pub(super) fn table(&self, name: &str) -> Option<&TableEntry> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub(super) fn list(&self) -> &TableList {
        &self.list
    }

    pub(super) fn focus(&self) -> Pane {
        self.focus
    }

    pub(super) fn statements_cursor(&self) -> &ListCursor {
        &self.statements
    }

    pub(super) fn history_cursor(&self) -> &ListCursor {
        &self.history
    }

    pub(super) fn popup(&self) -> Option<&Popup> {
        self.popup.as_ref()
    }

    pub(super) fn dry_run(&self) -> Option<&RunView> {
        self.dry_run.as_ref()
    }

    /// The rows view, while open.
    pub(super) fn rows(&self) -> Option<&RowsView> {
        self.rows.as_ref()
    }

    /// The notice, while it is fresh.
    pub(super) fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref().filter(|n| (self.now - n.at).num_seconds() < NOTICE_SECONDS)
    }

    /// How many runs started here have not ended.
    pub(super) fn active_runs(&self) -> usize {
        self.active.len()
    }

    /// The connections' state.
    pub(super) fn connection(&self) -> &Connection {
        &self.connection
    }

    /// What the console connects to, in words.
    pub(super) fn targets(&self) -> &str {
        &self.targets
    }

    /// Set once quitting was decided: the event loop cancels runs and leaves.
    pub(super) fn is_quitting(&self) -> bool {
        self.quitting
    }

    /// Whether `table`'s times are on the demo's simulated clock.
    pub(super) fn demo_clock(&self, table: &str) -> bool {
        self.table(table).is_some_and(|t| t.demo)
    }

    /// The selected table, if the filter leaves any.
    pub(super) fn selected(&self) -> Option<&TableEntry> {
        self.list.selected().map(|i| &self.tables[i])
    }

    fn selected_name(&self) -> Option<String> {
        self.selected().map(|t| t.name.clone())
    }

    fn entry_mut(&mut self, name: &str) -> Option<&mut TableEntry> {
        self.tables.iter_mut().find(|t| t.name == name)
    }

    fn notify(&mut self, tone: Tone, text: impl Into<String>) {
        self.notice = Some(Notice { at: self.now, tone, text: text.into(), until_run_end: false });
    }

    /// A notice about runs about to start or stop, dropped when a run ends.
    fn notify_until_run_end(&mut self, tone: Tone, text: impl Into<String>) {
        self.notice = Some(Notice { at: self.now, tone, text: text.into(), until_run_end: true });
    }

    /// A run ended (or never started): a notice announcing it is out of date.
    fn drop_run_notice(&mut self) {
        if self.notice.as_ref().is_some_and(|notice| notice.until_run_end) {
            self.notice = None;
        }
    }

    /// Rows a list pane shows (1 while the terminal is too small to lay out).
    fn visible_rows(&self, pane: Pane) -> usize {
        self.layout().map_or(1, |l| l.visible_rows(pane))
    }

    fn statement_count(&self) -> usize {
        self.selected().and_then(TableEntry::shown_run).map_or(0, |run| run.statements.len())
    }

    fn history_count(&self) -> usize {
        self.selected().map_or(0, |t| t.history.len())
    }

    fn reorder(&mut self) {
        let before = self.list.selected();
        let visible = self.visible_rows(Pane::Tables);
        self.list.reorder(&self.tables, visible);
        if self.list.selected() != before {
            self.reset_run_cursors();
        }
    }

    /// A different table was selected: its lists start from the top (statements follow).
    fn reset_run_cursors(&mut self) {
        self.statements = ListCursor::following();
        self.history = ListCursor::default();
        self.clamp_cursors();
    }

    fn clamp_cursors(&mut self) {
        let (tables, statements, history) =
            (self.list.order().len(), self.statement_count(), self.history_count());
        let tables_visible = self.visible_rows(Pane::Tables);
        self.list.cursor.clamp(tables, tables_visible);
        self.statements.clamp(statements, self.visible_rows(Pane::Statements));
        self.history.clamp(history, self.visible_rows(Pane::History));
    }

    /// Lines the open popup can scroll through, and how many it shows at once.
    fn popup_extent(&self) -> Option<(usize, usize)> {
        let popup = self.popup.as_ref()?;
        let width = layout::popup_text_width(self.screen, popup.size());
        let lines = popup_content::build(self, popup, width).len();
        let area = layout::popup_text_area(layout::popup_area(self.screen, popup.size(), lines));
        Some((lines, usize::from(area.height).max(1)))
    }

    fn clamp_popup_scroll(&mut self) {
        if let Some((lines, visible)) = self.popup_extent()
            && let Some(popup) = self.popup.as_mut()
        {
            popup.scroll = popup.scroll.min(lines.saturating_sub(visible));
        }
    }
}

/// The popups' text is built from the state through this narrow view (see `popup_content`).
impl PopupState for App {
    fn now(&self) -> DateTime<Utc> {
        App::now(self)
    }

    fn log_file(&self) -> &std::path::Path {
        App::log_file(self)
    }

    fn table(&self, name: &str) -> Option<&TableEntry> {
        App::table(self, name)
    }

    fn dry_run(&self) -> Option<&RunView> {
        App::dry_run(self)
    }

    fn demo_clock(&self, table: &str) -> bool {
        App::demo_clock(self, table)
    }

    fn rows(&self) -> Option<&RowsView> {
        App::rows(self)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builders for app-level tests and snapshots.
    use crossterm::event::KeyEvent;

    use super::*;
    use crate::pipeline::RunEvent;
    use crate::tui::action::Intent;
    use crate::tui::fixtures;

    /// A fresh app on a terminal of `width`×`height`, at the fixtures' "now", connected.
    pub(crate) fn app(width: u16, height: u16) -> App {
        App { connection: Connection::Connected, ..connecting_app(width, height, "the warehouse") }
    }

    /// A fresh app still connecting to `targets`, as the console starts.
    pub(crate) fn connecting_app(width: u16, height: u16, targets: &str) -> App {
        App { targets: targets.to_owned(), ..App::new(&fixtures::config(), fixtures::now(), width, height) }
    }

    /// A 120×40 app on the fixtures' config as `change` leaves it, connected.
    pub(crate) fn app_with(change: impl FnOnce(&mut crate::config::Config)) -> App {
        let mut config = fixtures::config();
        change(&mut config);
        app_on(&config, 120, 40)
    }

    /// A fresh app on `config` and a terminal of `width`×`height`, connected.
    pub(crate) fn app_on(config: &crate::config::Config, width: u16, height: u16) -> App {
        App { connection: Connection::Connected, ..App::new(config, fixtures::now(), width, height) }
    }

    impl App {
        /// Applies actions, ignoring the commands.
        pub(crate) fn apply(&mut self, actions: impl IntoIterator<Item = Action>) -> &mut App {
            for action in actions {
                self.update(action);
            }
            self
        }

        /// Maps a key press through the keymap for where focus is, then applies it (as the
        /// event loop does).
        pub(crate) fn on_key(&mut self, key: &KeyEvent) -> Option<Command> {
            let action = crate::tui::keymap::action_for(&self.key_contexts(), key)?;
            self.update(action)
        }

        /// Replaces the configured settings of the table of the same name (for the details).
        pub(crate) fn set_table_config(&mut self, config: crate::config::TableConfig) {
            if let Some(entry) = self.entry_mut(&config.name.clone()) {
                entry.config = std::sync::Arc::new(config);
            }
        }

        pub(crate) fn screen(&self) -> Rect {
            self.screen
        }

        pub(crate) fn intent(&mut self, intent: Intent) -> Option<Command> {
            self.update(Action::Intent(intent))
        }

        /// Feeds run events as the engine's channel would.
        pub(crate) fn feed(&mut self, events: impl IntoIterator<Item = RunEvent>) -> &mut App {
            self.apply(events.into_iter().map(|e| Action::Run(Box::new(e))))
        }
    }
}
