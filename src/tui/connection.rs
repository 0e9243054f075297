//! Connecting to the warehouse and AWS, as the console shows it: it draws at once and connects
//! in the background, so the user sees "connecting", "retry 3 of about 9 after connection
//! refused" or "could not connect, and what to do" instead of a blank screen.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::format;
use super::theme::Tone;
use crate::config::{Config, SourceConfig, StoreLocation, WarehouseConfig};
use crate::retry::{Retrying, spoken};

/// Where the console is with its connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Connection {
    /// Connecting since `since`; `retry` is the newest retry announced, if any.
    Connecting {
        since: DateTime<Utc>,
        retry: Option<RetryNote>,
    },
    /// Gave up: `message` says why (and often what to check); `exit_code` is what quitting now
    /// returns.
    Failed {
        message: String,
        exit_code: u8,
    },
    Connected,
}

impl Connection {
    pub(super) fn is_connected(&self) -> bool {
        matches!(self, Connection::Connected)
    }
}

/// A retry made while connecting, noted when it was announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RetryNote {
    pub operation: String,
    pub retry: u32,
    pub planned: u32,
    pub cause: String,
    pub error: String,
    pub wait: Duration,
    /// Until the retry loop gives up, counted from the announcement.
    pub left: Duration,
    /// When the console heard of it (set by the state, from its clock).
    pub at: DateTime<Utc>,
}

impl RetryNote {
    pub(super) fn new(retrying: &Retrying<'_>) -> RetryNote {
        RetryNote {
            operation: retrying.operation.to_owned(),
            retry: retrying.retry,
            planned: retrying.planned,
            cause: retrying.cause.to_owned(),
            error: retrying.error.clone(),
            wait: retrying.wait,
            left: retrying.left,
            at: DateTime::<Utc>::MIN_UTC,
        }
    }

    /// "retry 3 of about 9 after connection refused, next in 4s, gives up in 48s".
    fn summary(&self, now: DateTime<Utc>) -> String {
        let passed = format::between(self.at, now);
        let of =
            if self.planned >= self.retry { format!(" of about {}", self.planned) } else { String::new() };
        let next = match self.wait.checked_sub(passed).filter(|left| !left.is_zero()) {
            Some(left) => format!("next in {}", spoken(whole_seconds(left))),
            None => "trying again now".to_owned(),
        };
        let gives_up = spoken(whole_seconds(self.left.saturating_sub(passed)));
        format!("retry {}{of} after {}, {next}, gives up in {gives_up}", self.retry, self.cause)
    }
}

/// Rounds up to whole seconds, so a countdown reads 4s, 3s, 2s, 1s and never "0ms" early.
fn whole_seconds(duration: Duration) -> Duration {
    Duration::from_secs(duration.as_secs() + u64::from(duration.subsec_nanos() > 0))
}

/// What the console connects to, in words: "postgres loader@db:5432/analytics and AWS".
/// Never shows a password.
pub(super) fn targets(config: &Config) -> String {
    let warehouse = match &config.warehouse {
        WarehouseConfig::Sqlite { path } => format!("the SQLite warehouse {}", path.display()),
        WarehouseConfig::Postgres { url, .. } => postgres_target(url),
        WarehouseConfig::Redshift(_) => "Redshift (Data API)".to_owned(),
    };
    let aws = config.tables.iter().any(|table| {
        matches!(table.source, SourceConfig::Aws(_)) || matches!(table.store, StoreLocation::S3 { .. })
    });
    if aws { format!("{warehouse} and AWS") } else { warehouse }
}

/// `postgres user@host:port/db` from a URL or key-value connection string, without its
/// password.
fn postgres_target(url: &str) -> String {
    let Ok(parsed) = url.parse::<tokio_postgres::Config>() else { return "PostgreSQL".to_owned() };
    let host = match parsed.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let port = parsed.get_ports().first().copied().unwrap_or(5432);
    let user = parsed.get_user().map(|user| format!("{user}@")).unwrap_or_default();
    let db = parsed.get_dbname().map(|db| format!("/{db}")).unwrap_or_default();
    format!("postgres {user}{host}:{port}{db}")
}

/// The one-line state for the status line.
pub(super) fn status_line(connection: &Connection, now: DateTime<Utc>) -> (Tone, String) {
    match connection {
        Connection::Connecting { since, retry: None } => {
            (Tone::Accent, format!("connecting… ({})", spoken(whole_seconds(format::between(*since, now)))))
        }
        Connection::Connecting { retry: Some(note), .. } => {
            (Tone::Warn, format!("connecting: {}", note.summary(now)))
        }
        Connection::Failed { .. } => (Tone::Bad, "could not connect: r tries again, q quits".to_owned()),
        Connection::Connected => (Tone::Ok, "connected".to_owned()),
    }
}

/// The text of the connection pane (shown in place of the run panes until connected), as
/// toned paragraphs.
pub(super) fn pane_text(
    connection: &Connection,
    target: &str,
    log_file: &str,
    now: DateTime<Utc>,
) -> Vec<(Tone, String)> {
    match connection {
        Connection::Connecting { since, retry } => {
            let waited = spoken(whole_seconds(format::between(*since, now)));
            let mut text = vec![(Tone::Accent, format!("▶ Connecting to {target}… ({waited} so far)"))];
            if let Some(note) = retry {
                text.push((Tone::Warn, format!("{}: {}", note.operation, note.summary(now))));
                text.push((Tone::Dim, format!("last error: {}", note.error)));
            }
            text.push((
                Tone::Dim,
                "The tables' state loads once connected; until then runs cannot start. q quits.".to_owned(),
            ));
            text
        }
        Connection::Failed { message, .. } => vec![
            (Tone::Bad, format!("✗ Could not connect to {target}.")),
            (Tone::Plain, message.clone()),
            (
                Tone::Accent,
                format!(
                    "What to do: fix the cause above (the [warehouse] section of tables.toml, the \
                     network, the credentials), then press r to try again. q quits. The log is in \
                     {log_file}."
                ),
            ),
        ],
        Connection::Connected => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixtures::{self, t};

    fn note(at: DateTime<Utc>) -> RetryNote {
        RetryNote {
            operation: "connecting to the warehouse".into(),
            retry: 3,
            planned: 9,
            cause: "connection refused".into(),
            error: "error connecting to server: Connection refused (os error 111)".into(),
            wait: Duration::from_secs(4),
            left: Duration::from_secs(50),
            at,
        }
    }

    #[test]
    fn a_retry_counts_down_to_its_next_try() {
        let retrying = Connection::Connecting { since: t(18, 0, 0), retry: Some(note(t(18, 0, 10))) };
        assert_eq!(
            status_line(&retrying, t(18, 0, 11)),
            (
                Tone::Warn,
                "connecting: retry 3 of about 9 after connection refused, next in 3s, gives up in 49s".into()
            )
        );
        let (_, late) = status_line(&retrying, t(18, 0, 30));
        assert!(late.contains("trying again now"), "{late}");
        let first = Connection::Connecting { since: t(18, 0, 0), retry: None };
        assert_eq!(status_line(&first, t(18, 0, 2)).1, "connecting… (2s)");
    }

    #[test]
    fn a_failure_says_what_to_do() {
        let failed = Connection::Failed { message: "cannot connect".into(), exit_code: 1 };
        let text = pane_text(&failed, "postgres a@b:1/c", "dynashift.log", t(18, 0, 0));
        assert_eq!(text[1].1, "cannot connect");
        assert!(text[2].1.starts_with("What to do:") && text[2].1.contains("press r to try again"));
        assert!(status_line(&failed, t(18, 0, 0)).1.contains("r tries again"));
    }

    #[test]
    fn targets_name_the_warehouse_without_its_password() {
        assert_eq!(
            postgres_target("postgres://loader:s3cret@db.example.com:6432/analytics"),
            "postgres loader@db.example.com:6432/analytics"
        );
        assert_eq!(postgres_target("host=db user=etl dbname=dw password=s3cret"), "postgres etl@db:5432/dw");
        let config = fixtures::config();
        assert!(targets(&config).starts_with("the SQLite warehouse"), "{}", targets(&config));
    }
}
