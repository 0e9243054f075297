//! Logging through `tracing`: to a file while the console owns the terminal (never onto the
//! screen behind it), to stderr in headless mode (stdout carries the progress lines / JSON).
//! The filter comes from `DYNASHIFT_LOG` (e.g. `debug`, `dynashift=trace`), default `info`
//! for the file and `warn` for stderr.
//!
//! The console's log file rotates daily and is bounded: the console may stay open for weeks on
//! an on-call screen, and each run logs its stages and statements. `log_file` itself becomes a
//! symbolic link to today's file, `<log_file>.YYYY-MM-DD`, and only the newest
//! [`KEPT_LOG_FILES`] of those are kept (tracing-appender's rolling appender).

use std::io::IsTerminal;
use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter.
pub const LOG_ENV: &str = "DYNASHIFT_LOG";

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new(default))
}

/// Daily log files kept, today's included.
pub const KEPT_LOG_FILES: usize = 7;

/// Suffix a plain log file written before rotation is kept under (it is pruned with the dated ones).
const PRE_ROTATION_SUFFIX: &str = "old";

/// Logs to daily files beside `path`, which links to today's (the folder is created). Keep the
/// guard alive: dropping it flushes.
pub fn init_file(path: &Path) -> std::io::Result<WorkerGuard> {
    let (writer, guard) = tracing_appender::non_blocking(rolling_appender(path)?);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter("info"))
        .with_ansi(false)
        .with_writer(writer)
        .try_init();
    Ok(guard)
}

/// The appender behind [`init_file`]: `<name>.YYYY-MM-DD` files in `path`'s folder, the newest
/// [`KEPT_LOG_FILES`] kept, and `path` a symbolic link to the current one. A plain file already at
/// `path` (written before logs rotated) is kept as `<name>.old` rather than replaced by the link.
fn rolling_appender(path: &Path) -> std::io::Result<RollingFileAppender> {
    let name = path
        .file_name()
        .and_then(|name| name.to_str())
        .ok_or_else(|| std::io::Error::other(format!("{}: not a file name", path.display())))?;
    let folder = path.parent().filter(|folder| !folder.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)?;
    // Absolute, so the link's target resolves wherever the link is read from.
    let folder = std::fs::canonicalize(folder)?;
    let current = folder.join(name);
    if std::fs::symlink_metadata(&current).is_ok_and(|meta| meta.file_type().is_file()) {
        std::fs::rename(&current, folder.join(format!("{name}.{PRE_ROTATION_SUFFIX}")))?;
    }
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(name)
        .max_log_files(KEPT_LOG_FILES)
        .latest_symlink(name)
        .build(&folder)
        .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))
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

    use std::io::Write;

    fn log_files(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.starts_with("dynashift.log."))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_log_file_links_to_todays_file_and_an_older_plain_log_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/dynashift.log");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "before rotation\n").unwrap();

        let mut appender = rolling_appender(&path).unwrap();
        appender.write_all(b"after rotation\n").unwrap();
        appender.flush().unwrap();

        assert!(std::fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after rotation\n");
        let old = dir.path().join("logs/dynashift.log.old");
        assert_eq!(std::fs::read_to_string(old).unwrap(), "before rotation\n");
        let today = chrono::Utc::now().format("dynashift.log.%Y-%m-%d").to_string();
        assert!(log_files(path.parent().unwrap()).contains(&today));

        // Opened again (the next console session): same link, same file, appended.
        drop(appender);
        let mut again = rolling_appender(&path).unwrap();
        again.write_all(b"next session\n").unwrap();
        again.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after rotation\nnext session\n");
    }

    #[test]
    fn only_the_newest_log_files_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=12 {
            std::fs::write(dir.path().join(format!("dynashift.log.2020-01-{day:02}")), "x").unwrap();
        }
        std::fs::write(dir.path().join("unrelated.log"), "mine").unwrap();
        let _appender = rolling_appender(&dir.path().join("dynashift.log")).unwrap();
        let kept = log_files(dir.path());
        assert_eq!(kept.len(), KEPT_LOG_FILES, "{kept:?}");
        assert!(dir.path().join("unrelated.log").exists());
    }

    #[test]
    fn color_needs_a_terminal_and_no_no_color() {
        assert!(color_allowed(true, None));
        assert!(color_allowed(true, Some("".into())));
        assert!(!color_allowed(true, Some("1".into())));
        assert!(!color_allowed(false, None));
    }
}
