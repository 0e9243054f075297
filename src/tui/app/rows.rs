//! The rows view's intents and reads: open it on the selected table, page by key, scroll
//! sideways, find a key, close. Every read is a background command; its answer comes back as
//! [`crate::tui::action::Action::RowsRead`].

use super::App;
use crate::contract::{PageStart, RowPage};
use crate::tui::action::Intent;
use crate::tui::command::Command;
use crate::tui::layout;
use crate::tui::popup::{Popup, PopupKind};
use crate::tui::rows_view::{RowsRead, RowsView};
use crate::tui::theme::Tone;

impl App {
    /// Opens the rows view of the selected table and reads its first page.
    pub(super) fn open_rows(&mut self) -> Option<Command> {
        let table = self.selected()?;
        let (view, read) = RowsView::open(&table.name, &table.target, self.rows_numbered);
        self.rows = Some(view);
        self.read_rows(read)
    }

    /// Opens the selected table's details.
    pub(super) fn open_table_detail(&mut self) {
        if let Some(table) = self.selected_name() {
            self.popup = Some(Popup::new(PopupKind::TableDetail { table }));
        }
    }

    pub(super) fn on_rows_intent(&mut self, intent: Intent) -> Option<Command> {
        let finding = self.rows.as_ref().is_some_and(|rows| rows.finding.is_some());
        if finding {
            return self.on_find_intent(intent);
        }
        let page_rows = self.rows_visible() as isize;
        let view = self.rows.as_mut()?;
        let read = match intent {
            Intent::Close => {
                self.rows_numbered = view.numbered();
                self.rows = None;
                return None;
            }
            Intent::Quit => return self.request_quit(),
            Intent::Up => return self.move_rows_cursor(-1),
            Intent::Down => return self.move_rows_cursor(1),
            Intent::PageUp => return self.move_rows_cursor(-page_rows),
            Intent::PageDown => return self.move_rows_cursor(page_rows),
            Intent::Bottom => return self.move_rows_cursor(isize::MAX / 2),
            Intent::ScrollLeft => {
                view.scroll_columns(-1);
                return None;
            }
            Intent::ScrollRight => {
                view.scroll_columns(1);
                return None;
            }
            Intent::StartFilter => {
                view.finding = Some(String::new());
                return None;
            }
            Intent::Open => {
                if view.row_count() > 0 {
                    self.popup = Some(Popup::new(PopupKind::Row));
                }
                return None;
            }
            Intent::Top => view.read(PageStart::First),
            Intent::Refresh => view.reread(),
            Intent::NextPage => match view.next_page() {
                Ok(read) => read,
                Err(why) => {
                    self.notify(Tone::Dim, why);
                    return None;
                }
            },
            Intent::PrevPage => match view.previous_page() {
                Ok(read) => read,
                Err(why) => {
                    self.notify(Tone::Dim, why);
                    return None;
                }
            },
            _ => return None,
        };
        self.read_rows(read)
    }

    fn on_find_intent(&mut self, intent: Intent) -> Option<Command> {
        let view = self.rows.as_mut()?;
        match intent {
            Intent::FilterBackspace => {
                view.finding.as_mut().map(String::pop);
                None
            }
            Intent::ClearFilter => {
                view.finding = None;
                None
            }
            Intent::FilterAccept => {
                let typed = view.finding.take().unwrap_or_default();
                let read = view.read(PageStart::find(&typed));
                self.read_rows(read)
            }
            Intent::Quit => self.request_quit(),
            _ => None,
        }
    }

    pub(super) fn on_rows_read(
        &mut self,
        table: &str,
        number: u64,
        result: Result<Option<RowPage>, String>,
    ) -> Option<Command> {
        let visible = self.rows_visible();
        let view = self.rows.as_mut().filter(|view| view.table == table)?;
        let again = view.on_read(number, result, visible)?;
        self.read_rows(again)
    }

    pub(super) fn move_rows_cursor(&mut self, delta: isize) -> Option<Command> {
        let visible = self.rows_visible();
        if let Some(view) = self.rows.as_mut() {
            let len = view.row_count();
            view.cursor.move_by(delta, len, visible);
        }
        None
    }

    fn read_rows(&self, read: RowsRead) -> Option<Command> {
        let table = self.rows.as_ref()?.table.clone();
        Some(Command::ReadRows { table, request: read.number, page: read.page })
    }

    /// Data rows the rows view shows at once.
    pub(super) fn rows_visible(&self) -> usize {
        layout::rows_table_rows(self.screen)
    }
}
