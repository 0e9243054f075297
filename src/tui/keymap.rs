//! The one table of key bindings. Key handling, the footer and the `?` help popup (and the key
//! table in docs/console.md, through `assets/keys.md`) are all generated from [`KEYMAP`], so what the
//! console says a key does is what it does.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{Action, Intent};

/// Where a binding applies. Several are active at once, searched in order (see
/// [`crate::tui::app::App::key_contexts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Context {
    /// The tables pane has focus.
    Tables,
    /// The statements pane has focus.
    Statements,
    /// The history pane has focus.
    History,
    /// Any pane has focus and no popup is open.
    Global,
    /// The table filter is being typed.
    Filter,
    /// A scrollable popup is open (help, SQL, plan, failure, log, run details).
    Viewer,
    /// A yes/no question is open.
    Confirm,
    /// The rows view of a table's target is open.
    Rows,
    /// A key to find is being typed in the rows view.
    RowsFind,
    /// Everywhere, whatever is open.
    Always,
}

impl Context {
    pub(super) fn title(self) -> &'static str {
        match self {
            Context::Tables => "Tables pane",
            Context::Statements => "Statements pane",
            Context::History => "History pane",
            Context::Global => "Any pane",
            Context::Filter => "Typing a filter",
            Context::Viewer => "In a popup",
            Context::Confirm => "Answering a question",
            Context::Rows => "Viewing rows",
            Context::RowsFind => "Typing a key to find",
            Context::Always => "Everywhere",
        }
    }

    /// Every context, in the order the help lists them.
    pub(super) const ALL: [Context; 10] = [
        Context::Global,
        Context::Tables,
        Context::Statements,
        Context::History,
        Context::Filter,
        Context::Viewer,
        Context::Rows,
        Context::RowsFind,
        Context::Confirm,
        Context::Always,
    ];
}

/// A key as bindings name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Key {
    Char(char),
    Ctrl(char),
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    /// Any printable character (typing into the filter).
    Typed,
}

impl Key {
    pub(super) fn matches(self, event: &KeyEvent) -> bool {
        let plain = !event.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match (self, event.code) {
            (Key::Char(want), KeyCode::Char(got)) => plain && want == got,
            (Key::Ctrl(want), KeyCode::Char(got)) => {
                event.modifiers.contains(KeyModifiers::CONTROL) && want.eq_ignore_ascii_case(&got)
            }
            (Key::Typed, KeyCode::Char(_)) => plain,
            (Key::Up, KeyCode::Up)
            | (Key::Down, KeyCode::Down)
            | (Key::Left, KeyCode::Left)
            | (Key::Right, KeyCode::Right)
            | (Key::PageUp, KeyCode::PageUp)
            | (Key::PageDown, KeyCode::PageDown)
            | (Key::Home, KeyCode::Home)
            | (Key::End, KeyCode::End)
            | (Key::Enter, KeyCode::Enter)
            | (Key::Esc, KeyCode::Esc)
            | (Key::Backspace, KeyCode::Backspace)
            | (Key::BackTab, KeyCode::BackTab) => true,
            (Key::Tab, KeyCode::Tab) => !event.modifiers.contains(KeyModifiers::SHIFT),
            _ => false,
        }
    }

    pub(super) fn label(self) -> String {
        match self {
            Key::Char(c) => c.to_string(),
            Key::Ctrl(c) => format!("Ctrl-{}", c.to_ascii_uppercase()),
            Key::Up => "↑".into(),
            Key::Down => "↓".into(),
            Key::Left => "←".into(),
            Key::Right => "→".into(),
            Key::PageUp => "PgUp".into(),
            Key::PageDown => "PgDn".into(),
            Key::Home => "Home".into(),
            Key::End => "End".into(),
            Key::Enter => "Enter".into(),
            Key::Esc => "Esc".into(),
            Key::Tab => "Tab".into(),
            Key::BackTab => "Shift-Tab".into(),
            Key::Backspace => "Backspace".into(),
            Key::Typed => "any character".into(),
        }
    }
}

/// What a binding produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bound {
    Intent(Intent),
    /// The typed character itself ([`Action::FilterInput`]).
    TypedChar,
}

/// A short entry for the footer: the keys as shown there, and one or two words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct FooterEntry {
    pub keys: &'static str,
    pub label: &'static str,
    /// Shown only while the selected table's last run found schema drift: the key is worth the
    /// footer's room exactly then (the help lists it always).
    pub when_drifted: bool,
}

/// One row of the keymap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    pub bound: Bound,
    /// `None`: listed in the help only (e.g. `↑` is folded into the footer's `↑↓` entry).
    pub footer: Option<FooterEntry>,
    /// What the help says the keys do.
    pub help: &'static str,
}

impl Binding {
    /// The keys as the help and the README list them: `↑ / k`.
    pub(super) fn keys_label(&self) -> String {
        self.keys.iter().map(|k| k.label()).collect::<Vec<_>>().join(" / ")
    }
}

const fn bind(
    context: Context,
    keys: &'static [Key],
    intent: Intent,
    footer: Option<FooterEntry>,
    help: &'static str,
) -> Binding {
    Binding { context, keys, bound: Bound::Intent(intent), footer, help }
}

const fn short(keys: &'static str, label: &'static str) -> Option<FooterEntry> {
    Some(FooterEntry { keys, label, when_drifted: false })
}

/// A footer entry shown only while the selected table has drift ([`FooterEntry::when_drifted`]).
const fn short_when_drifted(keys: &'static str, label: &'static str) -> Option<FooterEntry> {
    Some(FooterEntry { keys, label, when_drifted: true })
}

use Context::{Always, Confirm, Filter, Global, History, Rows, RowsFind, Statements, Tables, Viewer};

/// Every binding. Earlier rows win within a context.
pub(super) static KEYMAP: &[Binding] = &[
    // Any pane. The footer shows entries in this order until the line is full, so the run
    // actions come first and the obvious navigation last.
    bind(
        Global,
        &[Key::Char('i')],
        Intent::SyncIncremental,
        short("i", "sync"),
        "incremental sync of the selected table",
    ),
    bind(
        Global,
        &[Key::Char('f')],
        Intent::SyncFull,
        short("f", "full"),
        "full sync of the selected table (asks first: it replaces the target)",
    ),
    bind(Global, &[Key::Char('a')], Intent::SyncAll, short("a", "all"), "incremental sync of every table"),
    bind(Global, &[Key::Char('c')], Intent::Cancel, short("c", "cancel"), "cancel the selected table's run"),
    bind(
        Global,
        &[Key::Char('d')],
        Intent::DryRun,
        short("d", "dry run"),
        "dry run: show the plan and its SQL, change nothing",
    ),
    bind(
        Global,
        &[Key::Char('r')],
        Intent::Refresh,
        short("r", "refresh"),
        "reload watermarks, last runs and history",
    ),
    bind(Global, &[Key::Char('l')], Intent::ShowLog, short("l", "log"), "show the selected table's run log"),
    bind(
        Global,
        &[Key::Char('v')],
        Intent::ViewRows,
        short("v", "rows"),
        "view the selected table's target rows, 100 at a time by key (read-only)",
    ),
    bind(
        Global,
        &[Key::Char('t')],
        Intent::ShowTable,
        short("t", "table"),
        "the selected table's details: effective settings, column mapping and trends",
    ),
    bind(
        Global,
        &[Key::Char('p')],
        Intent::ToggleSchedules,
        short("p", "pause"),
        "pause the schedules (`every`), or resume them; runs going on continue",
    ),
    bind(Global, &[Key::Tab], Intent::NextPane, short("Tab", "pane"), "focus the next pane"),
    bind(Global, &[Key::BackTab], Intent::PrevPane, None, "focus the previous pane"),
    bind(Global, &[Key::Up, Key::Char('k')], Intent::Up, None, "move up"),
    bind(Global, &[Key::Down, Key::Char('j')], Intent::Down, short("↑↓", "move"), "move down"),
    bind(Global, &[Key::PageUp], Intent::PageUp, None, "move one page up"),
    bind(Global, &[Key::PageDown], Intent::PageDown, None, "move one page down"),
    bind(Global, &[Key::Home, Key::Char('g')], Intent::Top, None, "go to the first row"),
    bind(Global, &[Key::End, Key::Char('G')], Intent::Bottom, None, "go to the last row"),
    bind(Global, &[Key::Char('?')], Intent::Help, short("?", "help"), "show this help"),
    bind(
        Global,
        &[Key::Char('q')],
        Intent::Quit,
        short("q", "quit"),
        "quit (asks first while runs are active)",
    ),
    // Tables pane.
    bind(
        Tables,
        &[Key::Enter],
        Intent::Open,
        None,
        "open the selected table's run: its failure (stage, cause, what to do) when it failed",
    ),
    bind(
        Tables,
        &[Key::Char('D')],
        Intent::ShowDrift,
        short_when_drifted("D", "drift"),
        "show the selected table's schema drift (marked Δ): new attributes, each with a columns entry to paste",
    ),
    bind(Tables, &[Key::Char('s')], Intent::CycleSort, short("s", "sort"), "sort by the next column"),
    bind(
        Tables,
        &[Key::Char('/')],
        Intent::StartFilter,
        short("/", "filter"),
        "filter tables by name or target",
    ),
    bind(Tables, &[Key::Esc], Intent::ClearFilter, None, "clear the filter"),
    // Statements pane.
    bind(
        Statements,
        &[Key::Enter],
        Intent::Open,
        short("Enter", "SQL"),
        "open the statement's full SQL and error",
    ),
    // History pane.
    bind(History, &[Key::Enter], Intent::Open, short("Enter", "details"), "open the run's details"),
    // Typing a filter.
    Binding {
        context: Filter,
        keys: &[Key::Typed],
        bound: Bound::TypedChar,
        footer: short("type", "filter"),
        help: "narrow the tables to names or targets containing the text",
    },
    bind(Filter, &[Key::Backspace], Intent::FilterBackspace, None, "delete the last character"),
    bind(
        Filter,
        &[Key::Enter],
        Intent::FilterAccept,
        short("Enter", "keep"),
        "keep the filter and go back to the table",
    ),
    bind(Filter, &[Key::Esc], Intent::ClearFilter, short("Esc", "clear"), "clear the filter"),
    // Popups.
    bind(Viewer, &[Key::Up, Key::Char('k')], Intent::Up, None, "scroll up"),
    bind(Viewer, &[Key::Down, Key::Char('j')], Intent::Down, short("↑↓", "scroll"), "scroll down"),
    bind(Viewer, &[Key::PageUp], Intent::PageUp, None, "scroll one page up"),
    bind(Viewer, &[Key::PageDown], Intent::PageDown, short("PgUp/PgDn", "page"), "scroll one page down"),
    bind(Viewer, &[Key::Home, Key::Char('g')], Intent::Top, None, "scroll to the top"),
    bind(Viewer, &[Key::End, Key::Char('G')], Intent::Bottom, None, "scroll to the end"),
    bind(
        Viewer,
        &[Key::Esc, Key::Char('q'), Key::Enter],
        Intent::Close,
        short("Esc", "close"),
        "close the popup",
    ),
    // The rows view.
    bind(Rows, &[Key::Up, Key::Char('k')], Intent::Up, None, "move up a row"),
    bind(Rows, &[Key::Down, Key::Char('j')], Intent::Down, short("↑↓", "row"), "move down a row"),
    bind(
        Rows,
        &[Key::Enter],
        Intent::Open,
        short("Enter", "whole row"),
        "show the selected row whole, a column a line",
    ),
    bind(Rows, &[Key::Left, Key::Char('h')], Intent::ScrollLeft, None, "show the columns to the left"),
    bind(
        Rows,
        &[Key::Right, Key::Char('l')],
        Intent::ScrollRight,
        short("←→", "columns"),
        "show the columns to the right",
    ),
    bind(
        Rows,
        &[Key::Char('n'), Key::PageDown],
        Intent::NextPage,
        short("n", "next"),
        "the next 100 rows by key",
    ),
    bind(
        Rows,
        &[Key::Char('p'), Key::PageUp],
        Intent::PrevPage,
        short("p", "previous"),
        "the previous 100 rows by key",
    ),
    bind(Rows, &[Key::Home, Key::Char('g')], Intent::Top, None, "the first 100 rows by key"),
    bind(Rows, &[Key::End, Key::Char('G')], Intent::Bottom, None, "the last row of this page"),
    bind(
        Rows,
        &[Key::Char('/')],
        Intent::StartFilter,
        short("/", "find"),
        "find a key: the page starting at the first key at or after the typed value",
    ),
    bind(Rows, &[Key::Char('r')], Intent::Refresh, None, "read this page again"),
    bind(Rows, &[Key::Esc, Key::Char('q')], Intent::Close, short("Esc", "close"), "close the rows view"),
    // Typing a key to find.
    Binding {
        context: RowsFind,
        keys: &[Key::Typed],
        bound: Bound::TypedChar,
        footer: short("type", "key"),
        help: "the key to find: its first column, or several key columns separated by commas, each compared as its column's type",
    },
    bind(RowsFind, &[Key::Backspace], Intent::FilterBackspace, None, "delete the last character"),
    bind(RowsFind, &[Key::Enter], Intent::FilterAccept, short("Enter", "find"), "go to the key"),
    bind(RowsFind, &[Key::Esc], Intent::ClearFilter, short("Esc", "cancel"), "stop finding"),
    // Questions.
    bind(Confirm, &[Key::Char('y'), Key::Enter], Intent::Confirm, short("y", "yes"), "yes, go ahead"),
    bind(
        Confirm,
        &[Key::Char('n'), Key::Esc],
        Intent::Deny,
        short("n", "no"),
        "no, leave things as they are",
    ),
    // Everywhere.
    bind(Always, &[Key::Ctrl('c')], Intent::Quit, None, "quit (asks first while runs are active)"),
];

/// The action `event` triggers in the first of `contexts` that binds it.
pub(super) fn action_for(contexts: &[Context], event: &KeyEvent) -> Option<Action> {
    contexts.iter().find_map(|&context| {
        KEYMAP.iter().filter(|b| b.context == context).find(|b| b.keys.iter().any(|k| k.matches(event))).map(
            |b| match (b.bound, event.code) {
                (Bound::Intent(intent), _) => Action::Intent(intent),
                (Bound::TypedChar, KeyCode::Char(c)) => Action::FilterInput(c),
                (Bound::TypedChar, _) => unreachable!("Key::Typed matches characters only"),
            },
        )
    })
}

/// The bindings of one context, in keymap order.
pub(super) fn bindings(context: Context) -> impl Iterator<Item = &'static Binding> {
    KEYMAP.iter().filter(move |b| b.context == context)
}

/// What the footer shows for `contexts`, in order; `drifted`: whether the selected table's last
/// run found schema drift.
pub(super) fn footer_entries(contexts: &[Context], drifted: bool) -> Vec<FooterEntry> {
    let entries = contexts.iter().flat_map(|&c| bindings(c)).filter_map(|b| b.footer);
    entries.filter(|entry| drifted || !entry.when_drifted).collect()
}

/// The whole keymap as a Markdown table: the README's key table, kept in `assets/keys.md` and
/// compared with this by a test.
#[cfg(test)]
pub(super) fn markdown() -> String {
    let mut out = String::from("| Where | Keys | What it does |\n|---|---|---|\n");
    for context in Context::ALL {
        for binding in bindings(context) {
            let keys =
                binding.keys.iter().map(|k| format!("`{}`", k.label())).collect::<Vec<_>>().join(" / ");
            out.push_str(&format!("| {} | {keys} | {} |\n", context.title(), binding.help));
        }
    }
    out.push_str("\nMouse: the wheel scrolls the pane under the pointer; a click focuses a pane.\n");
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn intent(contexts: &[Context], event: KeyEvent) -> Option<Intent> {
        match action_for(contexts, &event) {
            Some(Action::Intent(i)) => Some(i),
            _ => None,
        }
    }

    #[test]
    fn pane_keys_come_before_global_keys() {
        let tables = [Context::Tables, Context::Global, Context::Always];
        assert_eq!(intent(&tables, press(KeyCode::Enter)), Some(Intent::Open));
        assert_eq!(intent(&tables, press(KeyCode::Char('i'))), Some(Intent::SyncIncremental));
        assert_eq!(intent(&[Context::Statements, Context::Global], press(KeyCode::Char('s'))), None);
    }

    #[test]
    fn vim_keys_and_arrows_are_the_same() {
        let ctx = [Context::Global];
        assert_eq!(intent(&ctx, press(KeyCode::Char('j'))), intent(&ctx, press(KeyCode::Down)));
        assert_eq!(intent(&ctx, press(KeyCode::Char('k'))), Some(Intent::Up));
        let shift_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(intent(&ctx, shift_g), Some(Intent::Bottom));
    }

    #[test]
    fn ctrl_c_quits_but_plain_c_cancels() {
        let ctx = [Context::Global, Context::Always];
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(intent(&ctx, ctrl_c), Some(Intent::Quit));
        assert_eq!(intent(&ctx, press(KeyCode::Char('c'))), Some(Intent::Cancel));
        assert_eq!(intent(&[Context::Confirm, Context::Always], ctrl_c), Some(Intent::Quit));
    }

    #[test]
    fn typing_into_the_filter_yields_the_character() {
        let ctx = [Context::Filter, Context::Always];
        assert_eq!(action_for(&ctx, &press(KeyCode::Char('q'))), Some(Action::FilterInput('q')));
        let upper = KeyEvent::new(KeyCode::Char('O'), KeyModifiers::SHIFT);
        assert_eq!(action_for(&ctx, &upper), Some(Action::FilterInput('O')));
        assert_eq!(intent(&ctx, press(KeyCode::Esc)), Some(Intent::ClearFilter));
        assert_eq!(intent(&ctx, press(KeyCode::Backspace)), Some(Intent::FilterBackspace));
    }

    #[test]
    fn tab_and_shift_tab_differ() {
        let ctx = [Context::Global];
        assert_eq!(intent(&ctx, press(KeyCode::Tab)), Some(Intent::NextPane));
        assert_eq!(
            intent(&ctx, KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Intent::PrevPane)
        );
    }

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        for context in Context::ALL {
            let mut seen = HashSet::new();
            for binding in bindings(context) {
                for key in binding.keys {
                    assert!(seen.insert(format!("{key:?}")), "{key:?} bound twice in {context:?}");
                }
            }
        }
    }

    #[test]
    fn every_context_has_bindings_and_a_way_out() {
        for context in Context::ALL {
            assert!(bindings(context).next().is_some(), "{context:?} has no bindings");
        }
        let closes = |c: Context, i: Intent| bindings(c).any(|b| b.bound == Bound::Intent(i));
        assert!(closes(Context::Viewer, Intent::Close));
        assert!(closes(Context::Confirm, Intent::Deny));
        assert!(closes(Context::Filter, Intent::ClearFilter));
    }

    #[test]
    fn footer_follows_the_context_order() {
        let entries = footer_entries(&[Context::Statements, Context::Global], false);
        assert_eq!(entries[0], short("Enter", "SQL").unwrap());
        assert_eq!(entries[1], short("i", "sync").unwrap());
        assert!(entries.iter().any(|e| e.keys == "?"));
        assert!(!entries.iter().any(|e| e.label == "sort"));
    }

    #[test]
    fn markdown_lists_every_binding() {
        let md = markdown();
        assert_eq!(
            md.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| Where")).count(),
            KEYMAP.len()
        );
        assert!(md.contains("| Any pane | `f` | full sync"));
        assert!(md.contains("`Ctrl-C`"));
    }
}
