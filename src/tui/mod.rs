//! The interactive console: a table list and live panes for the selected table's run, driven
//! by the pipeline's [`RunEvent`]s.
//!
//! Shaped like the Elm architecture: one state ([`app::App`]), one input type
//! ([`action::Action`]), one `update` that returns the side effect to run
//! ([`command::Command`]), and drawing ([`ui`]) that only reads the state. The event loop
//! ([`event_loop`]) is the only part that touches the terminal, the clock and the engine.

mod action;
mod app;
mod bounded;
mod command;
mod connection;
mod doc;
mod event_loop;
mod format;
mod journal_view;
mod keymap;
mod labels;
mod layout;
mod list_cursor;
mod pane;
mod popup;
mod popup_content;
mod rows_view;
mod run_log;
mod run_view;
mod runner;
mod table_detail;
mod table_entry;
mod table_list;
mod terminal;
mod theme;
mod trends;
mod ui;
mod wrap;

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod snapshot_tests;

use std::sync::Arc;

use crate::config::Config;
use crate::pipeline::RunObserver;

/// Runs the console until the user quits; returns the process's exit code. It draws at once and
/// connects to the warehouse and AWS in the background. It owns the terminal from entry to exit
/// and restores it on every path: normal exit, error and panic.
/// `observer` hears of every run's end (notifications and metrics).
pub async fn run(config: Config, observer: Option<Arc<dyn RunObserver>>) -> color_eyre::Result<u8> {
    event_loop::run(config, observer).await
}
