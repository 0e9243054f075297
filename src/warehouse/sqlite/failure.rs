//! Why a load statement did not finish: cancelled (reported Aborted) or failed (reported
//! Failed with SQLite's or the COPY's own message) — transiently when another writer held the
//! database (SQLITE_BUSY, SQLITE_LOCKED) past the busy timeout, which passes once it is done.

use rusqlite::ErrorCode;
use tokio_util::sync::CancellationToken;

pub(super) use crate::warehouse::step::StepError;

impl StepError {
    /// A SQLite error; a statement interrupted because the load was cancelled is a cancellation.
    pub fn sqlite(error: &rusqlite::Error, cancel: &CancellationToken) -> StepError {
        let code = error.sqlite_error_code();
        if code == Some(ErrorCode::OperationInterrupted) && cancel.is_cancelled() {
            return StepError::Cancelled;
        }
        match code.and_then(transient_cause) {
            Some(cause) => StepError::Transient { message: error.to_string(), cause: cause.into() },
            None => StepError::Failed(error.to_string()),
        }
    }
}

/// The busy and locked codes: another connection (another dynashift loading another table into
/// the same file, a `sqlite3` session) holds the lock for longer than the busy timeout.
fn transient_cause(code: ErrorCode) -> Option<&'static str> {
    match code {
        ErrorCode::DatabaseBusy => Some("database busy (SQLITE_BUSY)"),
        ErrorCode::DatabaseLocked => Some("table locked (SQLITE_LOCKED)"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_error(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some("boom".into()))
    }

    #[test]
    fn an_interrupt_is_a_cancellation_only_when_the_load_was_cancelled() {
        let cancel = CancellationToken::new();
        let interrupt = sqlite_error(rusqlite::ffi::SQLITE_INTERRUPT);
        assert!(matches!(StepError::sqlite(&interrupt, &cancel), StepError::Failed(_)));
        cancel.cancel();
        assert_eq!(StepError::sqlite(&interrupt, &cancel), StepError::Cancelled);
        let constraint = sqlite_error(rusqlite::ffi::SQLITE_CONSTRAINT);
        assert_eq!(StepError::sqlite(&constraint, &cancel), StepError::Failed("boom".into()));
    }

    #[test]
    fn busy_and_locked_are_transient_and_other_failures_are_not() {
        let cancel = CancellationToken::new();
        let transient = |code| match StepError::sqlite(&sqlite_error(code), &cancel) {
            StepError::Transient { cause, .. } => Some(cause),
            _ => None,
        };
        assert_eq!(transient(rusqlite::ffi::SQLITE_BUSY).as_deref(), Some("database busy (SQLITE_BUSY)"));
        assert_eq!(transient(rusqlite::ffi::SQLITE_LOCKED).as_deref(), Some("table locked (SQLITE_LOCKED)"));
        for permanent in
            [rusqlite::ffi::SQLITE_CONSTRAINT, rusqlite::ffi::SQLITE_FULL, rusqlite::ffi::SQLITE_READONLY]
        {
            assert_eq!(transient(permanent), None);
        }
    }

    #[test]
    fn locations_prefix_failures_only() {
        assert_eq!(StepError::Failed("bad".into()).at("f line 2"), StepError::Failed("f line 2: bad".into()));
        assert_eq!(StepError::Cancelled.at("f"), StepError::Cancelled);
        let busy = StepError::Transient { message: "busy".into(), cause: "c".into() };
        assert_eq!(busy.at("f"), StepError::Transient { message: "f: busy".into(), cause: "c".into() });
    }
}
