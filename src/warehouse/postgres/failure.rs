//! Why a load statement did not finish: cancelled (reported Aborted) or failed (reported
//! Failed with PostgreSQL's own message, detail, hint and position) — transiently when another
//! attempt of the load may not meet the failure (see the `transient` module).

use std::error::Error as _;

use tokio_postgres::error::{DbError, ErrorPosition, SqlState};
use tokio_util::sync::CancellationToken;

use super::transient::transient_cause;

pub(super) use crate::warehouse::step::StepError;

impl StepError {
    /// A PostgreSQL error of `sql`; a statement cancelled because the load was cancelled is a
    /// cancellation.
    pub fn postgres(error: &tokio_postgres::Error, sql: &str, cancel: &CancellationToken) -> StepError {
        if error.code() == Some(&SqlState::QUERY_CANCELED) && cancel.is_cancelled() {
            return StepError::Cancelled;
        }
        let message = describe_in(error, sql);
        match transient_cause(error) {
            Some(cause) => StepError::Transient { message, cause },
            None => StepError::Failed(message),
        }
    }

    /// The failure's message; `None` when cancelled.
    pub fn message(&self) -> Option<&str> {
        match self {
            StepError::Failed(message) | StepError::Transient { message, .. } => Some(message),
            StepError::Cancelled => None,
        }
    }
}

/// A PostgreSQL error in one line: `ERROR 23505: message; DETAIL: …; HINT: …; CONTEXT: …`.
/// Errors that are not the server's (a lost connection, a TLS failure) keep their cause chain.
pub(super) fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => describe_db(db, None),
        None => with_causes(error),
    }
}

/// Like [`describe`], with the piece of `sql` the error's position points at.
pub(super) fn describe_in(error: &tokio_postgres::Error, sql: &str) -> String {
    match error.as_db_error() {
        Some(db) => describe_db(db, Some(sql)),
        None => with_causes(error),
    }
}

fn describe_db(db: &DbError, sql: Option<&str>) -> String {
    let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    if let Some(detail) = db.detail() {
        text.push_str(&format!("; DETAIL: {detail}"));
    }
    if let Some(hint) = db.hint() {
        text.push_str(&format!("; HINT: {hint}"));
    }
    if let (Some(ErrorPosition::Original(position)), Some(sql)) = (db.position(), sql) {
        text.push_str(&format!("; at character {position}: {}", excerpt(sql, *position)));
    }
    if let Some(context) = db.where_() {
        text.push_str(&format!("; CONTEXT: {}", context.replace('\n', " / ")));
    }
    text
}

/// Characters of the statement shown around an error position.
const EXCERPT_CHARS: usize = 40;

/// The statement from the 1-based character `position` on, on one line, shortened.
fn excerpt(sql: &str, position: u32) -> String {
    let start = usize::try_from(position).unwrap_or(1).saturating_sub(1);
    let piece: String = sql.chars().skip(start).take(EXCERPT_CHARS).collect();
    let piece = piece.split_whitespace().collect::<Vec<_>>().join(" ");
    if sql.chars().count() > start + EXCERPT_CHARS { format!("`{piece}…`") } else { format!("`{piece}`") }
}

fn with_causes(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(&format!(": {cause_text}"));
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_prefix_failures_only() {
        assert_eq!(StepError::Failed("bad".into()).at("f line 2"), StepError::Failed("f line 2: bad".into()));
        assert_eq!(StepError::Cancelled.at("f"), StepError::Cancelled);
        let reset = StepError::Transient { message: "reset".into(), cause: "connection reset".into() };
        let located = StepError::Transient { message: "f: reset".into(), cause: "connection reset".into() };
        assert_eq!(reset.at("f"), located);
        assert_eq!(located.message(), Some("f: reset"));
        assert_eq!(StepError::Cancelled.message(), None);
    }

    #[test]
    fn excerpts_start_at_the_position_on_one_line() {
        assert_eq!(excerpt("SELECT\n  nope FROM t", 10), "`nope FROM t`");
        let long = format!("SELECT {}", "x".repeat(100));
        assert!(excerpt(&long, 8).ends_with("…`"));
        assert_eq!(excerpt("é x", 3), "`x`");
    }
}
