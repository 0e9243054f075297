//! dynashift keeps warehouse tables in sync with DynamoDB tables through point-in-time exports.
//!
//! Data flows one way: [`config`] → [`pipeline`] → [`contract::events`] → front ends
//! ([`headless`], [`tui`]). The pipeline talks to the outside world only through three traits:
//! [`source::ExportSource`], [`store::ObjectStore`] and [`warehouse::Warehouse`]; [`wiring`] picks
//! the concrete adapters from the configuration.

// Items are `pub(crate)` unless another target (the binary, tests, benches) uses them, so the
// compiler, not review, keeps a module's internals inside the crate.
#![warn(unreachable_pub)]

pub mod aws;
pub mod cli;
pub mod completions;
pub mod config;
pub mod contract;
pub mod cost;
pub mod ddb;
pub mod headless;
pub mod human;
pub mod init;
pub mod logging;
pub mod monitor;
pub mod pipeline;
pub mod retry;
pub mod schedule;
pub mod signals;
pub mod source;
pub mod store;
#[doc(hidden)]
pub mod testkit;
pub mod tui;
pub mod warehouse;
pub mod watch;
pub mod wiring;
