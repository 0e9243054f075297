//! Logging through `tracing`: to a file while the console owns the terminal (never onto the
//! screen behind it), to stderr in headless mode (stdout carries the progress lines / JSON).
//! The filter comes from `DYNASHIFT_LOG` (e.g. `debug`, `dynashift=trace`), default `info`
//! for the file and `warn` for stderr.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter.
pub const LOG_ENV: &str = "DYNASHIFT_LOG";

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new(default))
}

/// Logs to `path` (appending; the folder is created). Keep the guard alive: dropping it flushes.
pub fn init_file(path: &Path) -> std::io::Result<WorkerGuard> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    let (writer, guard) = tracing_appender::non_blocking(file);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter("info"))
        .with_ansi(false)
        .with_writer(writer)
        .try_init();
    Ok(guard)
}

/// Logs warnings and errors to stderr.
pub fn init_stderr() -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter("warn")).with_writer(writer).try_init();
    guard
}
