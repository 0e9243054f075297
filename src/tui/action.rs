//! Everything that can change the console's state, as data: what the user asked for (through the
//! keymap or the mouse) and what the outside world reported (run events, loaded state, ticks).
//! [`crate::tui::app::App::update`] is the only consumer, which keeps the state testable
//! without a terminal.

use chrono::{DateTime, Utc};

use super::connection::RetryNote;
use crate::contract::RowPage;
use crate::pipeline::lock::LeaseHolder;
use crate::pipeline::{RunEvent, RunJournal, TableStatus};

/// What a key means, independent of which key it was. The keymap maps keys to intents; what an
/// intent does depends on where focus is (e.g. `Down` moves the selection of the focused pane).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Intent {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    /// Open what is selected: a failure, a statement's SQL, a past run.
    Open,
    SyncIncremental,
    /// Asks for confirmation first: a full sync replaces the target.
    SyncFull,
    SyncAll,
    Cancel,
    DryRun,
    Refresh,
    ShowLog,
    /// Open the rows view of the selected table's target.
    ViewRows,
    /// Open the selected table's details.
    ShowTable,
    /// The rows view: show the columns to the left / right.
    ScrollLeft,
    ScrollRight,
    /// The rows view: the next / previous page by key.
    NextPage,
    PrevPage,
    /// The selected table's schema drift, with `columns` entries to paste.
    ShowDrift,
    /// Pause every table's schedule (`every`), or resume them.
    ToggleSchedules,
    CycleSort,
    StartFilter,
    ClearFilter,
    FilterBackspace,
    FilterAccept,
    Help,
    /// Asks for confirmation when runs are active.
    Quit,
    Confirm,
    Deny,
    Close,
}

/// One input to [`crate::tui::app::App::update`].
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Action {
    Intent(Intent),
    /// A character typed while the filter is being edited.
    FilterInput(char),
    /// The mouse wheel turned over the cell (`column`, `row`).
    Scroll {
        column: u16,
        row: u16,
        down: bool,
    },
    /// A left click on the cell (`column`, `row`): focuses the pane there.
    Click {
        column: u16,
        row: u16,
    },
    Resize {
        width: u16,
        height: u16,
    },
    /// The process was told to stop (SIGTERM, SIGHUP, SIGINT): quit without asking.
    Shutdown,
    /// The clock, injected so rendering never reads it (and snapshots stay deterministic).
    Tick(DateTime<Utc>),
    /// An event of a run, from the engine's channel.
    Run(Box<RunEvent>),
    /// The engine accepted a run the console asked for.
    RunStarted {
        table: String,
        run_id: String,
        dry_run: bool,
    },
    /// The engine refused to start a run.
    StartFailed {
        table: String,
        message: String,
    },
    /// A run's task ended; `panic` is set when it died without reporting its end.
    RunJoined {
        table: String,
        run_id: String,
        panic: Option<String>,
    },
    /// The result of [`crate::pipeline::Engine::status`] for one table.
    StatusLoaded {
        table: String,
        result: Result<Box<TableStatus>, String>,
    },
    /// The result of [`crate::pipeline::Engine::history`] for one table.
    HistoryLoaded {
        table: String,
        result: Result<Vec<RunJournal>, String>,
    },
    /// A page of a table's rows, read for the rows view's request number `request`;
    /// `Ok(None)` when the target does not exist yet.
    RowsRead {
        table: String,
        request: u64,
        result: Result<Option<RowPage>, String>,
    },
    /// Connecting met a transient failure and retries.
    ConnectRetrying(Box<RetryNote>),
    /// The warehouse and AWS are connected: the engine is ready. `tables` are the tables as
    /// connecting completed them (an aws table's key, from DescribeTable, when tables.toml
    /// leaves it out).
    Connected {
        tables: Vec<crate::config::TableConfig>,
    },
    /// Connecting gave up; quitting now exits with `exit_code`.
    ConnectFailed {
        message: String,
        exit_code: u8,
    },
    /// Time to look for runs of other processes (the watch timer).
    Watch,
    /// What watching read of one table: its watermark (when read this time) and its lease.
    Peeked {
        table: String,
        watermark: Option<Result<Option<DateTime<Utc>>, String>>,
        lease: Result<Option<LeaseHolder>, String>,
    },
}

impl From<Intent> for Action {
    fn from(intent: Intent) -> Action {
        Action::Intent(intent)
    }
}
