//! Monitoring: `dynashift status` (how every table stands, as text or one JSON document, with an
//! exit code for checks), and what dynashift tells the outside world after each run — the
//! `[metrics]` file and the `[notify]` command. All three report one reading of each table's
//! health ([`health`]), made without taking a lease or writing anything of dynashift's.

pub mod health;
pub mod metrics;
pub mod notify;
pub mod observer;
pub mod status;

use std::sync::Arc;

use crate::config::Config;
use crate::pipeline::Engine;

pub use observer::AfterRun;

/// `dynashift status [--json]`: connects read-only, prints every table's health to stdout and
/// returns the exit code (0 all healthy, 1 otherwise; connection problems as `wiring` decides).
pub async fn run_status(mut config: Config, json: bool) -> u8 {
    let adapters = match crate::wiring::connect(&mut config).await {
        Ok(adapters) => adapters,
        Err(err) => {
            eprintln!("{err}");
            return err.exit_code();
        }
    };
    // No observer: reading status never triggers notifications or metrics writes.
    let (engine, _events) = Engine::new(Arc::new(config), adapters);
    let tables = health::read_all(&engine).await;
    let mut stdout = std::io::stdout().lock();
    match status::print(&tables, json, &mut stdout) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("dynashift: could not print the status: {err}");
            crate::contract::exit::EXIT_RUN_FAILED
        }
    }
}
