//! What the user's intents do, by where focus is: navigation, popups, starting and cancelling
//! runs, sorting and filtering, quitting.

use super::App;
use crate::config::Mode;
use crate::human;
use crate::pipeline::RunRequest;
use crate::tui::action::Intent;
use crate::tui::command::{Command, StartRun};
use crate::tui::pane::Pane;
use crate::tui::popup::{Popup, PopupKind, Question};
use crate::tui::run_view::RunView;
use crate::tui::table_entry::TableEntry;
use crate::tui::theme::Tone;

/// Rows the mouse wheel moves a list by.
const WHEEL_ROWS: isize = 3;

impl App {
    pub(super) fn on_intent(&mut self, intent: Intent) -> Option<Command> {
        if self.popup.is_some() {
            return self.on_popup_intent(intent);
        }
        if self.rows.is_some() {
            return self.on_rows_intent(intent);
        }
        if self.list.editing {
            return self.on_filter_intent(intent);
        }
        if !self.connection.is_connected() && Self::needs_connection(intent) {
            return self.not_connected(intent);
        }
        match intent {
            Intent::Up => self.move_focused(-1),
            Intent::Down => self.move_focused(1),
            Intent::PageUp => self.move_focused(-(self.visible_rows(self.focus) as isize)),
            Intent::PageDown => self.move_focused(self.visible_rows(self.focus) as isize),
            Intent::Top => self.move_focused(isize::MIN / 2),
            Intent::Bottom => self.move_focused(isize::MAX / 2),
            Intent::NextPane => self.focus = self.focus.next(),
            Intent::PrevPane => self.focus = self.focus.prev(),
            Intent::Open => self.open_selected(),
            Intent::SyncIncremental => return self.start_selected(Mode::Incremental, false),
            Intent::SyncFull => self.ask_full_sync(),
            Intent::SyncAll => return self.start_all(),
            Intent::Cancel => return self.cancel_selected(),
            Intent::DryRun => return self.start_dry_run(),
            Intent::Refresh => return self.refresh_all(),
            Intent::ShowLog => self.open_log(),
            Intent::ViewRows => return self.open_rows(),
            Intent::ShowTable => self.open_table_detail(),
            Intent::ShowDrift => self.open_drift(),
            Intent::ToggleSchedules => self.toggle_schedules(),
            Intent::CycleSort => {
                self.list.sort = self.list.sort.next();
                self.reorder();
                self.notify(Tone::Dim, format!("sorted by {}", self.list.sort.label()));
            }
            Intent::StartFilter => {
                self.list.editing = true;
                self.focus = Pane::Tables;
            }
            Intent::ClearFilter => self.set_filter(String::new()),
            Intent::Help => self.popup = Some(Popup::new(PopupKind::Help)),
            Intent::Quit => return self.request_quit(),
            Intent::Confirm | Intent::Deny | Intent::Close => {}
            Intent::FilterBackspace | Intent::FilterAccept => {}
            Intent::ScrollLeft | Intent::ScrollRight | Intent::NextPage | Intent::PrevPage => {}
        }
        None
    }

    fn on_popup_intent(&mut self, intent: Intent) -> Option<Command> {
        let is_question = self.popup.as_ref().is_some_and(Popup::is_question);
        match intent {
            Intent::Quit => return self.request_quit(),
            Intent::Confirm if is_question => return self.answer_yes(),
            Intent::Deny | Intent::Close => self.popup = None,
            Intent::Up => self.scroll_popup(-1),
            Intent::Down => self.scroll_popup(1),
            Intent::PageUp => self.scroll_popup(-self.popup_page()),
            Intent::PageDown => self.scroll_popup(self.popup_page()),
            Intent::Top => self.scroll_popup(isize::MIN / 2),
            Intent::Bottom => self.scroll_popup(isize::MAX / 2),
            _ => {}
        }
        None
    }

    fn on_filter_intent(&mut self, intent: Intent) -> Option<Command> {
        match intent {
            Intent::FilterBackspace => {
                let mut text = self.list.filter.clone();
                text.pop();
                self.set_filter(text);
            }
            Intent::FilterAccept => self.list.editing = false,
            Intent::ClearFilter => {
                self.list.editing = false;
                self.set_filter(String::new());
            }
            Intent::Quit => return self.request_quit(),
            _ => {}
        }
        None
    }

    pub(super) fn on_filter_input(&mut self, ch: char) -> Option<Command> {
        if let Some(finding) = self.rows.as_mut().and_then(|rows| rows.finding.as_mut()) {
            if !ch.is_control() {
                finding.push(ch);
            }
            return None;
        }
        if self.list.editing && !ch.is_control() {
            let mut text = self.list.filter.clone();
            text.push(ch);
            self.set_filter(text);
        }
        None
    }

    fn set_filter(&mut self, text: String) {
        self.list.filter = text;
        self.reorder();
    }

    pub(super) fn on_scroll(&mut self, column: u16, row: u16, down: bool) -> Option<Command> {
        let sign = if down { 1 } else { -1 };
        if self.popup.is_some() {
            self.scroll_popup(sign * WHEEL_ROWS);
            return None;
        }
        if self.rows.is_some() {
            self.move_rows_cursor(sign * WHEEL_ROWS);
            return None;
        }
        let pane = self.layout()?.pane_at(column, row)?;
        let rows = if pane == Pane::Tables { 1 } else { WHEEL_ROWS };
        self.move_pane(pane, sign * rows);
        None
    }

    pub(super) fn on_click(&mut self, column: u16, row: u16) -> Option<Command> {
        if self.popup.is_some() || self.rows.is_some() {
            return None;
        }
        let layout = self.layout()?;
        let pane = layout.pane_at(column, row)?;
        self.focus = pane;
        // Data rows start below the top border and the column header.
        let area = layout.pane_area(pane);
        if let Some(clicked) = usize::from(row).checked_sub(usize::from(area.y) + 2) {
            let (offset, len) = self.pane_offset_and_len(pane);
            let target = offset + clicked;
            if target < len {
                let current = self.pane_selected(pane) as isize;
                self.move_pane(pane, target as isize - current);
            }
        }
        None
    }

    fn pane_offset_and_len(&self, pane: Pane) -> (usize, usize) {
        let visible = self.visible_rows(pane);
        let (cursor, len) = match pane {
            Pane::Tables => (&self.list.cursor, self.list.order().len()),
            Pane::Statements => (&self.statements, self.statement_count()),
            Pane::History => (&self.history, self.history_count()),
        };
        (cursor.visible_range(len, visible).start, len)
    }

    fn pane_selected(&self, pane: Pane) -> usize {
        match pane {
            Pane::Tables => self.list.cursor.selected(),
            Pane::Statements => self.statements.selected(),
            Pane::History => self.history.selected(),
        }
    }

    fn move_focused(&mut self, delta: isize) {
        self.move_pane(self.focus, delta);
    }

    fn move_pane(&mut self, pane: Pane, delta: isize) {
        let visible = self.visible_rows(pane);
        match pane {
            Pane::Tables => {
                let before = self.list.selected();
                self.list.cursor.move_by(delta, self.list.order().len(), visible);
                if self.list.selected() != before {
                    self.reset_run_cursors();
                }
            }
            Pane::Statements => {
                let len = self.statement_count();
                if delta > 0 && self.statements.selected() as isize + delta >= len as isize {
                    self.statements.follow_last(len, visible);
                } else {
                    self.statements.move_by(delta, len, visible);
                }
            }
            Pane::History => self.history.move_by(delta, self.history_count(), visible),
        }
    }

    fn popup_page(&self) -> isize {
        self.popup_extent().map_or(1, |(_, visible)| visible as isize)
    }

    fn scroll_popup(&mut self, delta: isize) {
        let Some((lines, visible)) = self.popup_extent() else { return };
        if let Some(popup) = self.popup.as_mut() {
            let max = lines.saturating_sub(visible);
            popup.scroll = popup.scroll.saturating_add_signed(delta).min(max);
        }
    }

    /// Enter: what it opens depends on the focused pane.
    fn open_selected(&mut self) {
        let Some(table) = self.selected() else { return };
        let name = table.name.clone();
        let kind = match self.focus {
            Pane::Tables => match table.shown_run() {
                Some(run) if run.failure().is_some() => Some(PopupKind::Failure { table: name }),
                Some(run) => Some(PopupKind::RunDetail(Box::new(run.clone()))),
                None => {
                    self.notify(Tone::Dim, format!("{name} has no run yet: i syncs it"));
                    None
                }
            },
            Pane::Statements => {
                table.shown_run().filter(|run| !run.statements.is_empty()).map(|run| PopupKind::Statement {
                    table: name,
                    run_id: run.run_id.clone(),
                    position: self.statements.selected(),
                })
            }
            Pane::History => table
                .history
                .get(self.history.selected())
                .map(|journal| PopupKind::RunDetail(Box::new(table.journal_view(journal)))),
        };
        self.popup = kind.map(Popup::new);
    }

    fn open_drift(&mut self) {
        match self.selected() {
            Some(table) if table.drift().is_some() => {
                self.popup = Some(Popup::new(PopupKind::Drift { table: table.name.clone() }));
            }
            Some(table) => {
                let text = format!("{}: no schema drift in its last run", table.name);
                self.notify(Tone::Dim, text);
            }
            None => {}
        }
    }

    fn open_log(&mut self) {
        match self.selected() {
            Some(table) if table.shown_run().is_some() => {
                let table = table.name.clone();
                let mut popup = Popup::new(PopupKind::Log { table });
                popup.scroll = usize::MAX;
                self.popup = Some(popup);
                self.clamp_popup_scroll();
            }
            Some(table) => {
                let text = format!("{} has no run to show the log of", table.name);
                self.notify(Tone::Dim, text);
            }
            None => {}
        }
    }

    /// A run of the selected table, unless one is going already.
    fn start_selected(&mut self, mode: Mode, dry_run: bool) -> Option<Command> {
        let name = self.selected_name()?;
        let never_synced = self.table(&name).is_some_and(|t| t.loaded_once && t.watermark.is_none());
        if mode == Mode::Incremental && !dry_run && never_synced && self.table(&name)?.active_run().is_none()
        {
            self.popup = Some(Popup::new(PopupKind::Confirm(Question::FirstSync { table: name })));
            return None;
        }
        self.start(&[name], mode, dry_run)
    }

    fn start(&mut self, tables: &[String], mode: Mode, dry_run: bool) -> Option<Command> {
        let (busy, free): (Vec<&String>, Vec<&String>) =
            tables.iter().partition(|name| self.table(name).and_then(TableEntry::active_run).is_some());
        if !busy.is_empty() {
            let names: Vec<&str> = busy.iter().map(|s| s.as_str()).collect();
            self.notify(Tone::Warn, format!("{} already syncing (c cancels)", names.join(", ")));
        }
        if free.is_empty() {
            return None;
        }
        let kind = if dry_run { "dry run" } else { mode.as_str() };
        let names: Vec<&str> = free.iter().map(|s| s.as_str()).collect();
        if busy.is_empty() {
            self.notify_until_run_end(Tone::Accent, format!("starting {kind} of {}", names.join(", ")));
        }
        let request = RunRequest { mode, dry_run };
        Some(Command::Start(
            free.into_iter().map(|table| StartRun { table: table.clone(), request }).collect(),
        ))
    }

    fn start_all(&mut self) -> Option<Command> {
        let names: Vec<String> = self.tables.iter().map(|t| t.name.clone()).collect();
        self.start(&names, Mode::Incremental, false)
    }

    fn start_dry_run(&mut self) -> Option<Command> {
        if self.dry_run.as_ref().is_some_and(RunView::is_active) {
            self.popup = Some(Popup::new(PopupKind::DryRun));
            return None;
        }
        let table = self.selected()?;
        let mode = table.mode;
        let name = table.name.clone();
        self.notify_until_run_end(
            Tone::Accent,
            format!("planning {} dry run of {name}", human::with_article(&mode.to_string())),
        );
        Some(Command::Start(vec![StartRun { table: name, request: RunRequest { mode, dry_run: true } }]))
    }

    fn ask_full_sync(&mut self) {
        let Some(table) = self.selected() else { return };
        if table.active_run().is_some() {
            let text = format!("{} already syncing (c cancels)", table.name);
            self.notify(Tone::Warn, text);
            return;
        }
        let table = table.name.clone();
        self.popup = Some(Popup::new(PopupKind::Confirm(Question::FullSync { table })));
    }

    fn answer_yes(&mut self) -> Option<Command> {
        let popup = self.popup.take()?;
        match popup.kind {
            PopupKind::Confirm(Question::FullSync { table } | Question::FirstSync { table }) => {
                self.start(&[table], Mode::Full, false)
            }
            PopupKind::Confirm(Question::Quit { .. }) => self.quit_now(),
            _ => None,
        }
    }

    fn cancel_selected(&mut self) -> Option<Command> {
        let table = self.selected()?;
        let Some(run) = table.active_run() else {
            let text = format!("{} has no run going", table.name);
            self.notify(Tone::Dim, text);
            return None;
        };
        let run_id = run.run_id.clone();
        let text = format!("cancelling {} run {run_id}…", table.name);
        self.notify_until_run_end(Tone::Warn, text);
        Some(Command::Cancel { run_id })
    }

    pub(super) fn refresh_all(&mut self) -> Option<Command> {
        let names: Vec<String> = self.tables.iter().map(|t| t.name.clone()).collect();
        self.request_load(names)
    }

    /// A background load of these tables' state, skipping (and queueing) tables already loading.
    pub(super) fn request_load(&mut self, names: Vec<String>) -> Option<Command> {
        let tables: Vec<String> = names
            .into_iter()
            .filter(|name| self.entry_mut(name).is_some_and(|entry| entry.load.request()))
            .collect();
        (!tables.is_empty()).then_some(Command::Load { tables })
    }

    /// `q` / Ctrl-C: leave at once when nothing runs (or when asked twice), else ask.
    pub(super) fn request_quit(&mut self) -> Option<Command> {
        let already_asked =
            matches!(self.popup.as_ref().map(|p| &p.kind), Some(PopupKind::Confirm(Question::Quit { .. })));
        if self.active.is_empty() || already_asked {
            return self.quit_now();
        }
        let active = self.active.len();
        self.popup = Some(Popup::new(PopupKind::Confirm(Question::Quit { active })));
        None
    }

    pub(in crate::tui::app) fn quit_now(&mut self) -> Option<Command> {
        self.popup = None;
        self.quitting = true;
        Some(Command::Quit)
    }
}

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::pipeline::TableStatus;
    use crate::tui::action::Action;
    use crate::tui::app::test_support::app;
    use crate::tui::fixtures::{Script, committed_journal, t};
    use crate::tui::table_list::SortColumn;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ch(c: char) -> KeyEvent {
        key(KeyCode::Char(c))
    }

    fn started(app: &mut App, table: &str, run_id: &str) {
        app.update(Action::RunStarted { table: table.into(), run_id: run_id.into(), dry_run: false });
        app.feed([Script::new(table, run_id).started(Mode::Incremental, false)]);
    }

    fn start_command(tables: &[&str], mode: Mode, dry_run: bool) -> Option<Command> {
        Some(Command::Start(
            tables
                .iter()
                .map(|t| StartRun { table: (*t).into(), request: RunRequest { mode, dry_run } })
                .collect(),
        ))
    }

    #[test]
    fn j_and_k_move_the_table_selection() {
        let mut app = app(120, 40);
        assert_eq!(app.selected().unwrap().name, "orders");
        app.on_key(&ch('j'));
        assert_eq!(app.selected().unwrap().name, "customers");
        app.on_key(&key(KeyCode::Down));
        app.on_key(&key(KeyCode::Down));
        assert_eq!(app.selected().unwrap().name, "invoices", "stops at the end");
        app.on_key(&ch('k'));
        assert_eq!(app.selected().unwrap().name, "customers");
        app.on_key(&ch('g'));
        assert_eq!(app.selected().unwrap().name, "orders");
    }

    #[test]
    fn i_starts_an_incremental_sync_of_the_selected_table() {
        let mut app = app(120, 40);
        app.on_key(&ch('j'));
        assert_eq!(app.on_key(&ch('i')), start_command(&["customers"], Mode::Incremental, false));
        assert!(app.notice().unwrap().text.contains("customers"));
    }

    #[test]
    fn i_on_a_table_never_synced_offers_the_full_sync_it_needs() {
        let mut app = app(120, 40);
        app.update(Action::StatusLoaded {
            table: "orders".into(),
            result: Ok(Box::new(TableStatus { watermark: None, last_run: None, source_clock: None })),
        });
        assert_eq!(app.on_key(&ch('i')), None);
        assert_eq!(
            app.popup().map(|p| &p.kind),
            Some(&PopupKind::Confirm(Question::FirstSync { table: "orders".into() }))
        );
        assert_eq!(app.on_key(&ch('y')), start_command(&["orders"], Mode::Full, false));
        assert!(app.popup().is_none());
    }

    #[test]
    fn i_refuses_a_second_run_of_a_busy_table() {
        let mut app = app(120, 40);
        started(&mut app, "orders", "r1");
        assert_eq!(app.on_key(&ch('i')), None);
        assert!(app.notice().unwrap().text.contains("already syncing"));
    }

    #[test]
    fn f_asks_first_and_y_starts_a_full_sync() {
        let mut app = app(120, 40);
        assert_eq!(app.on_key(&ch('f')), None);
        assert_eq!(
            app.popup().map(|p| &p.kind),
            Some(&PopupKind::Confirm(Question::FullSync { table: "orders".into() }))
        );
        assert_eq!(app.on_key(&ch('i')), None, "other keys do nothing while asking");
        assert_eq!(app.on_key(&ch('y')), start_command(&["orders"], Mode::Full, false));
        assert!(app.popup().is_none());
    }

    #[test]
    fn f_then_n_or_esc_changes_nothing() {
        for answer in [ch('n'), key(KeyCode::Esc)] {
            let mut app = app(120, 40);
            app.on_key(&ch('f'));
            assert_eq!(app.on_key(&answer), None);
            assert!(app.popup().is_none());
        }
    }

    #[test]
    fn enter_confirms_too() {
        let mut app = app(120, 40);
        app.on_key(&ch('f'));
        assert_eq!(app.on_key(&key(KeyCode::Enter)), start_command(&["orders"], Mode::Full, false));
    }

    #[test]
    fn a_syncs_every_table_that_is_not_busy() {
        let mut app = app(120, 40);
        assert_eq!(
            app.on_key(&ch('a')),
            start_command(&["orders", "customers", "invoices"], Mode::Incremental, false)
        );
        started(&mut app, "customers", "r1");
        assert_eq!(app.on_key(&ch('a')), start_command(&["orders", "invoices"], Mode::Incremental, false));
        assert!(app.notice().unwrap().text.contains("customers already syncing"));
    }

    #[test]
    fn c_cancels_the_selected_tables_run() {
        let mut app = app(120, 40);
        assert_eq!(app.on_key(&ch('c')), None);
        assert!(app.notice().unwrap().text.contains("no run going"));
        started(&mut app, "orders", "r1");
        assert_eq!(app.on_key(&ch('c')), Some(Command::Cancel { run_id: "r1".into() }));
    }

    #[test]
    fn d_plans_a_dry_run_in_the_tables_mode() {
        let mut app = app(120, 40);
        app.on_key(&ch('G'));
        assert_eq!(app.on_key(&ch('d')), start_command(&["invoices"], Mode::Full, true));
    }

    #[test]
    fn r_reloads_every_table_once_at_a_time() {
        let mut app = app(120, 40);
        let all = vec!["orders".to_string(), "customers".into(), "invoices".into()];
        assert_eq!(app.on_key(&ch('r')), Some(Command::Load { tables: all }));
        assert_eq!(app.on_key(&ch('r')), None, "already loading: queued, not doubled");
    }

    #[test]
    fn q_quits_at_once_when_idle() {
        let mut app = app(120, 40);
        assert_eq!(app.on_key(&ch('q')), Some(Command::Quit));
        assert!(app.is_quitting());
    }

    #[test]
    fn q_asks_while_runs_are_active_and_y_quits() {
        let mut app = app(120, 40);
        started(&mut app, "orders", "r1");
        assert_eq!(app.on_key(&ch('q')), None);
        assert_eq!(app.popup().map(|p| &p.kind), Some(&PopupKind::Confirm(Question::Quit { active: 1 })));
        assert!(!app.is_quitting());
        assert_eq!(app.on_key(&ch('y')), Some(Command::Quit));
        assert!(app.is_quitting());
    }

    #[test]
    fn q_then_n_stays() {
        let mut app = app(120, 40);
        started(&mut app, "orders", "r1");
        app.on_key(&ch('q'));
        assert_eq!(app.on_key(&ch('n')), None);
        assert!(!app.is_quitting());
        assert!(app.popup().is_none());
    }

    #[test]
    fn ctrl_c_twice_quits_even_with_active_runs() {
        let mut app = app(120, 40);
        started(&mut app, "orders", "r1");
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.on_key(&ctrl_c), None);
        assert_eq!(app.on_key(&ctrl_c), Some(Command::Quit));
    }

    #[test]
    fn typing_filters_and_esc_clears() {
        let mut app = app(120, 40);
        app.on_key(&ch('/'));
        assert_eq!(app.key_contexts()[0], crate::tui::keymap::Context::Filter);
        for c in "cus".chars() {
            app.on_key(&ch(c));
        }
        assert_eq!(app.list().filter, "cus");
        assert_eq!(app.list().order().len(), 1);
        assert_eq!(app.selected().unwrap().name, "customers");
        app.on_key(&key(KeyCode::Backspace));
        assert_eq!(app.list().filter, "cu");
        app.on_key(&ch('q'));
        assert!(!app.is_quitting(), "q is text while filtering");
        assert_eq!(app.list().filter, "cuq");
        app.on_key(&key(KeyCode::Esc));
        assert_eq!(app.list().filter, "");
        assert!(!app.list().editing);
        assert_eq!(app.list().order().len(), 3);
    }

    #[test]
    fn enter_keeps_the_filter_and_esc_in_the_pane_clears_it() {
        let mut app = app(120, 40);
        app.on_key(&ch('/'));
        app.on_key(&ch('i'));
        app.on_key(&ch('n'));
        app.on_key(&key(KeyCode::Enter));
        assert!(!app.list().editing);
        assert_eq!(app.list().filter, "in");
        assert_eq!(app.selected().unwrap().name, "invoices");
        assert_eq!(app.on_key(&ch('i')), start_command(&["invoices"], Mode::Incremental, false));
        app.on_key(&key(KeyCode::Esc));
        assert_eq!(app.list().filter, "");
    }

    #[test]
    fn s_cycles_the_sort_column() {
        let mut app = app(120, 40);
        app.on_key(&ch('s'));
        assert_eq!(app.list().sort, SortColumn::Table);
        assert_eq!(app.selected().unwrap().name, "orders", "the selection stays on its table");
        app.on_key(&ch('s'));
        assert_eq!(app.list().sort, SortColumn::Target);
    }

    #[test]
    fn tab_moves_focus_and_keys_follow_it() {
        let mut app = app(120, 40);
        app.on_key(&key(KeyCode::Tab));
        assert_eq!(app.focus(), Pane::Statements);
        assert_eq!(app.on_key(&ch('s')), None);
        assert_eq!(app.list().sort, SortColumn::Config, "s sorts only in the tables pane");
        app.on_key(&KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT));
        assert_eq!(app.focus(), Pane::Tables);
    }

    #[test]
    fn enter_on_a_statement_opens_its_sql() {
        let mut app = app(120, 40);
        let mut script = Script::new("orders", "r1");
        app.update(Action::RunStarted { table: "orders".into(), run_id: "r1".into(), dry_run: false });
        app.feed([script.started(Mode::Incremental, false)]);
        app.feed(script.loading());
        app.on_key(&key(KeyCode::Tab));
        app.on_key(&ch('g'));
        app.on_key(&ch('j'));
        app.on_key(&key(KeyCode::Enter));
        assert_eq!(
            app.popup().map(|p| &p.kind),
            Some(&PopupKind::Statement { table: "orders".into(), run_id: "r1".into(), position: 1 })
        );
        app.on_key(&key(KeyCode::Esc));
        assert!(app.popup().is_none());
    }

    #[test]
    fn enter_on_history_opens_the_runs_details() {
        let mut app = app(120, 40);
        app.update(Action::HistoryLoaded {
            table: "orders".into(),
            result: Ok(vec![committed_journal("new", t(17, 0, 0)), committed_journal("old", t(16, 0, 0))]),
        });
        app.on_key(&key(KeyCode::Tab));
        app.on_key(&key(KeyCode::Tab));
        app.on_key(&ch('j'));
        app.on_key(&key(KeyCode::Enter));
        match app.popup().map(|p| &p.kind) {
            Some(PopupKind::RunDetail(run)) => assert_eq!(run.run_id, "old"),
            other => panic!("expected run details, got {other:?}"),
        }
    }

    #[test]
    fn popups_scroll_within_their_text() {
        let mut app = app(80, 24);
        app.on_key(&ch('?'));
        assert_eq!(app.popup().unwrap().scroll, 0);
        app.on_key(&ch('j'));
        assert_eq!(app.popup().unwrap().scroll, 1);
        app.on_key(&ch('G'));
        let bottom = app.popup().unwrap().scroll;
        assert!(bottom > 1);
        app.on_key(&ch('j'));
        assert_eq!(app.popup().unwrap().scroll, bottom, "stops at the end");
        app.on_key(&key(KeyCode::PageUp));
        assert!(app.popup().unwrap().scroll < bottom);
        app.on_key(&ch('q'));
        assert!(app.popup().is_none(), "q closes a popup rather than quitting");
        assert!(!app.is_quitting());
    }

    #[test]
    fn the_mouse_wheel_scrolls_the_pane_under_it() {
        let mut app = app(120, 40);
        let tables = app.layout().unwrap().tables;
        app.update(Action::Scroll { column: 3, row: tables.y + 2, down: true });
        assert_eq!(app.selected().unwrap().name, "customers");
        app.update(Action::Scroll { column: 3, row: tables.y + 2, down: false });
        assert_eq!(app.selected().unwrap().name, "orders");
    }

    #[test]
    fn a_click_focuses_the_pane_and_selects_the_row() {
        let mut app = app(120, 40);
        let layout = app.layout().unwrap();
        app.update(Action::Click { column: 4, row: layout.tables.y + 4 });
        assert_eq!(app.selected().unwrap().name, "invoices");
        app.update(Action::Click { column: layout.history.x + 2, row: layout.history.y + 3 });
        assert_eq!(app.focus(), Pane::History);
    }

    #[test]
    fn l_opens_the_log_scrolled_to_its_end() {
        let mut app = app(80, 24);
        app.on_key(&ch('l'));
        assert!(app.popup().is_none(), "no run, no log");
        let mut script = Script::new("orders", "r1");
        app.update(Action::RunStarted { table: "orders".into(), run_id: "r1".into(), dry_run: false });
        app.feed([script.started(Mode::Incremental, false)]);
        app.feed(script.committed_run());
        app.on_key(&ch('l'));
        let popup = app.popup().unwrap();
        assert!(matches!(popup.kind, PopupKind::Log { .. }));
        assert!(popup.scroll > 0 && popup.scroll < usize::MAX);
    }
}
