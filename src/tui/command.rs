//! What [`crate::tui::app::App::update`] asks the event loop to do: the side effects, kept out of
//! the state so the state stays a pure function of its inputs. The event loop runs each command
//! against the [`crate::pipeline::Engine`] without blocking and reports back as actions.

use crate::contract::PageRequest;
use crate::pipeline::RunRequest;

/// A run to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StartRun {
    pub table: String,
    pub request: RunRequest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Command {
    /// Start these runs (the engine bounds how many go at once).
    Start(Vec<StartRun>),
    /// Cancel a run through its cancellation token.
    Cancel { run_id: String },
    /// Load the watermark, last run and history of these tables in the background.
    Load { tables: Vec<String> },
    /// Read a page of a table's target rows in the background (answered by
    /// [`super::action::Action::RowsRead`] with the same `request` number).
    ReadRows { table: String, request: u64, page: PageRequest },
    /// Cancel every active run, wait briefly for them to stop, and leave.
    Quit,
    /// Connect to the warehouse and AWS in the background (again, after a failure).
    Connect,
    /// Read these tables' leases, and their watermarks when `watermarks`: cheap reads that
    /// notice runs of other processes.
    Peek { tables: Vec<String>, watermarks: bool },
}
