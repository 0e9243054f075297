//! Scripted faults: what a test makes the stand-in do wrong, on purpose.
//!
//! Faults are kept in the order added; the first pending fault that matches applies and is
//! used up (a `Throttle` after `times` calls). A statement can meet one `SlowStatement` (its
//! wait comes first) and one `FailStatement`.

use std::time::Duration;

/// A scripted fault; each fires once unless stated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The first statement whose SQL contains `sql_contains` FAILS with this error text (e.g.
    /// "ERROR: permission denied for relation orders") instead of running; in a batch the
    /// transaction rolls back.
    FailStatement { sql_contains: String, error: String },
    /// The next `times` calls of `operation` (e.g. "DescribeStatement") answer
    /// ThrottlingException. (The SDK's standard retry retries throttling: up to 3 attempts.)
    Throttle { operation: String, times: u32 },
    /// The next `times` calls of `operation` (e.g. "BatchExecuteStatement") answer
    /// ActiveStatementsExceededException, as Redshift does while too many statements run at
    /// once. The SDK does not retry it; the client must.
    TooManyActiveStatements { operation: String, times: u32 },
    /// The first statement whose SQL contains `sql_contains` waits `delay` before it runs
    /// (status STARTED meanwhile); CancelStatement ends the wait at once.
    SlowStatement { sql_contains: String, delay: Duration },
}

/// How a call is refused for load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallFault {
    Throttled,
    TooManyActiveStatements,
}

/// What the faults do to one statement.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StatementFaults {
    pub delay: Option<Duration>,
    pub failure: Option<String>,
}

/// The pending faults.
#[derive(Debug, Default)]
pub struct FaultBook {
    pending: Vec<Fault>,
}

impl FaultBook {
    pub fn add(&mut self, fault: Fault) {
        if !matches!(
            fault,
            Fault::Throttle { times: 0, .. } | Fault::TooManyActiveStatements { times: 0, .. }
        ) {
            self.pending.push(fault);
        }
    }

    /// The load fault this call of `operation` meets, if any (using up one call of it): a
    /// `Throttle` or a `TooManyActiveStatements`.
    pub fn take_call_fault(&mut self, operation: &str) -> Option<CallFault> {
        let found = self.pending.iter().position(|f| match f {
            Fault::Throttle { operation: o, .. } | Fault::TooManyActiveStatements { operation: o, .. } => {
                o == operation
            }
            _ => false,
        })?;
        let (times, fault) = match &mut self.pending[found] {
            Fault::Throttle { times, .. } => (times, CallFault::Throttled),
            Fault::TooManyActiveStatements { times, .. } => (times, CallFault::TooManyActiveStatements),
            _ => return None,
        };
        *times = times.saturating_sub(1);
        if *times == 0 {
            self.pending.remove(found);
        }
        Some(fault)
    }

    /// The faults that apply to a statement of `sql` (using them up).
    pub fn take_for_statement(&mut self, sql: &str) -> StatementFaults {
        let slow = self.take_first(
            |f| matches!(f, Fault::SlowStatement { sql_contains, .. } if sql.contains(sql_contains.as_str())),
        );
        let failing = self.take_first(
            |f| matches!(f, Fault::FailStatement { sql_contains, .. } if sql.contains(sql_contains.as_str())),
        );
        StatementFaults {
            delay: match slow {
                Some(Fault::SlowStatement { delay, .. }) => Some(delay),
                _ => None,
            },
            failure: match failing {
                Some(Fault::FailStatement { error, .. }) => Some(error),
                _ => None,
            },
        }
    }

    fn take_first(&mut self, matches: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let index = self.pending.iter().position(matches)?;
        Some(self.pending.remove(index))
    }
}
