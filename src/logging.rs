//! Logging through `tracing`: to a file while the console owns the terminal (never onto the
//! screen behind it), to stderr in headless mode (stdout carries the progress lines / JSON).
//! The filter comes from `DYNASHIFT_LOG` (e.g. `debug`, `dynashift=trace`), default `info`
//! for the file and `warn` for stderr.

use std::io::IsTerminal;
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

/// Logs warnings and errors to stderr, in color only when stderr is a terminal.
pub fn init_stderr() -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter("warn"))
        .with_ansi(stderr_wants_color())
        .with_writer(writer)
        .try_init();
    guard
}

/// Whether escape codes may go to stderr: it is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>). Redirected output (cron mail, journald, files) stays plain.
pub fn stderr_wants_color() -> bool {
    color_allowed(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR"))
}

fn color_allowed(is_terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Whether the console can run: it draws on stdout and reads keys from stdin.
pub fn console_possible() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// color-eyre's report handler for this process: plain text (no escape codes) unless stderr is a
/// terminal that wants color, and without the source-location and environment sections, which
/// speak to developers rather than to the person running dynashift.
pub fn error_report_hook() -> color_eyre::config::HookBuilder {
    let builder =
        color_eyre::config::HookBuilder::default().display_location_section(false).display_env_section(false);
    if stderr_wants_color() { builder } else { builder.theme(color_eyre::config::Theme::new()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn color_needs_a_terminal_and_no_no_color() {
        assert!(color_allowed(true, None));
        assert!(color_allowed(true, Some("".into())));
        assert!(!color_allowed(true, Some("1".into())));
        assert!(!color_allowed(false, None));
    }
}
