//! Why a load statement did not finish: cancelled (reported Aborted) or failed (reported
//! Failed with SQLite's or the COPY's own message).

use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    Cancelled,
    Failed(String),
}

impl StepError {
    /// A SQLite error; a statement interrupted because the load was cancelled is a cancellation.
    pub fn sqlite(error: &rusqlite::Error, cancel: &CancellationToken) -> StepError {
        let interrupted = error.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted);
        if interrupted && cancel.is_cancelled() {
            StepError::Cancelled
        } else {
            StepError::Failed(error.to_string())
        }
    }

    /// Prefixes a failure's message with where it happened (a file and line).
    pub fn at(self, location: &str) -> StepError {
        match self {
            StepError::Failed(message) => StepError::Failed(format!("{location}: {message}")),
            cancelled => cancelled,
        }
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
    fn locations_prefix_failures_only() {
        assert_eq!(StepError::Failed("bad".into()).at("f line 2"), StepError::Failed("f line 2: bad".into()));
        assert_eq!(StepError::Cancelled.at("f"), StepError::Cancelled);
    }
}
