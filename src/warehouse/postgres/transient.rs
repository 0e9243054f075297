//! Which PostgreSQL failures pass by themselves, for the retry loop ([`crate::retry`]).
//!
//! Transient: the network (connection refused, reset or closed, a timeout), the server going
//! away or not taking connections yet (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03
//! cannot_connect_now, 53300 too_many_connections, class 08 connection exceptions), and the
//! conflicts between transactions PostgreSQL resolves by aborting one of them (40001
//! serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available under a
//! `lock_timeout`). Everything else — bad SQL, a constraint, a type, a permission, a wrong
//! password or certificate — fails the same way on every attempt: permanent.

use std::error::Error as _;
use std::io::ErrorKind;

use tokio_postgres::error::SqlState;

use crate::retry::{RetryAccount, Retryable};
use crate::warehouse::WarehouseError;

/// Why another attempt may succeed, in a few words; `None` for a permanent failure.
pub(super) fn transient_cause(error: &tokio_postgres::Error) -> Option<String> {
    if let Some(code) = error.code() {
        return sqlstate_cause(code);
    }
    if error.is_closed() {
        return Some("connection closed".into());
    }
    io_cause(error)
}

/// The cause of a server error, when its SQLSTATE is one of the transient ones.
fn sqlstate_cause(code: &SqlState) -> Option<String> {
    let cause = match code.code() {
        "40001" => "serialization failure",
        "40P01" => "deadlock",
        "55P03" => "lock not available",
        "57P01" => "server shutting down",
        "57P02" => "server crashed",
        "57P03" => "server not accepting connections yet",
        "53300" => "too many connections",
        other if other.starts_with("08") => "connection failure",
        _ => return None,
    };
    Some(format!("{cause} ({})", code.code()))
}

/// The cause of a network failure: the first I/O error in the chain, when its kind is one a
/// later attempt may not meet. (A TLS or certificate failure is I/O too, of other kinds.)
fn io_cause(error: &tokio_postgres::Error) -> Option<String> {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return io_kind_cause(io.kind()).map(str::to_owned);
        }
        source = cause.source();
    }
    None
}

fn io_kind_cause(kind: ErrorKind) -> Option<&'static str> {
    match kind {
        ErrorKind::ConnectionRefused => Some("connection refused"),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => Some("connection reset"),
        ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof | ErrorKind::NotConnected => Some("connection lost"),
        ErrorKind::TimedOut => Some("timed out"),
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable | ErrorKind::NetworkDown => {
            Some("network unreachable")
        }
        _ => None,
    }
}

/// A failed connect or read, judged for the retry loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgFailure {
    /// Says what failed, where, and what to check.
    pub message: String,
    pub cause: Option<String>,
    /// Connecting failed (a [`WarehouseError::Connection`]), rather than a statement.
    pub connecting: bool,
}

impl PgFailure {
    /// A failure of a statement on an open session; `message` already describes it.
    pub fn statement(error: &tokio_postgres::Error, message: String) -> PgFailure {
        PgFailure { message, cause: transient_cause(error), connecting: false }
    }

    /// A failure that no retry fixes (a malformed row, a bad setting).
    pub fn permanent(message: String) -> PgFailure {
        PgFailure { message, cause: None, connecting: false }
    }
}

impl std::fmt::Display for PgFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Retryable for PgFailure {
    fn transient_cause(&self) -> Option<String> {
        self.cause.clone()
    }

    fn with_retry_account(mut self, account: &RetryAccount) -> PgFailure {
        self.message = format!("{} ({account})", self.message);
        self
    }
}

impl From<PgFailure> for WarehouseError {
    fn from(failure: PgFailure) -> WarehouseError {
        if failure.connecting {
            WarehouseError::Connection(failure.message)
        } else {
            WarehouseError::Other(failure.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_and_a_server_going_away_are_transient() {
        let transient = [
            (SqlState::T_R_SERIALIZATION_FAILURE, "serialization failure (40001)"),
            (SqlState::T_R_DEADLOCK_DETECTED, "deadlock (40P01)"),
            (SqlState::LOCK_NOT_AVAILABLE, "lock not available (55P03)"),
            (SqlState::ADMIN_SHUTDOWN, "server shutting down (57P01)"),
            (SqlState::CRASH_SHUTDOWN, "server crashed (57P02)"),
            (SqlState::CANNOT_CONNECT_NOW, "server not accepting connections yet (57P03)"),
            (SqlState::TOO_MANY_CONNECTIONS, "too many connections (53300)"),
            (SqlState::CONNECTION_FAILURE, "connection failure (08006)"),
            (SqlState::CONNECTION_EXCEPTION, "connection failure (08000)"),
        ];
        for (code, cause) in transient {
            assert_eq!(sqlstate_cause(&code).as_deref(), Some(cause));
        }
    }

    #[test]
    fn what_the_load_itself_got_wrong_is_permanent() {
        let permanent = [
            SqlState::UNIQUE_VIOLATION,
            SqlState::SYNTAX_ERROR,
            SqlState::UNDEFINED_TABLE,
            SqlState::INSUFFICIENT_PRIVILEGE,
            SqlState::INVALID_PASSWORD,
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            SqlState::QUERY_CANCELED,
            SqlState::DEPENDENT_OBJECTS_STILL_EXIST,
        ];
        for code in permanent {
            assert_eq!(sqlstate_cause(&code), None, "{}", code.code());
        }
    }

    #[test]
    fn network_failures_are_transient_and_tls_failures_are_not() {
        assert_eq!(io_kind_cause(ErrorKind::ConnectionRefused), Some("connection refused"));
        assert_eq!(io_kind_cause(ErrorKind::ConnectionReset), Some("connection reset"));
        assert_eq!(io_kind_cause(ErrorKind::UnexpectedEof), Some("connection lost"));
        assert_eq!(io_kind_cause(ErrorKind::TimedOut), Some("timed out"));
        assert_eq!(io_kind_cause(ErrorKind::InvalidData), None, "a certificate rustls refused");
        assert_eq!(io_kind_cause(ErrorKind::NotFound), None, "no such socket file");
    }

    #[test]
    fn failures_become_the_warehouse_error_of_their_kind_with_the_account() {
        let failure =
            PgFailure { message: "cannot connect".into(), cause: Some("x".into()), connecting: true };
        assert!(
            matches!(WarehouseError::from(failure), WarehouseError::Connection(m) if m == "cannot connect")
        );
        let read = PgFailure::permanent("reading dynashift_runs: bad".into());
        assert!(matches!(WarehouseError::from(read), WarehouseError::Other(_)));
    }
}
