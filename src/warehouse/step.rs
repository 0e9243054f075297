//! One statement of a load as a warehouse plans it. Each warehouse's plan builds its statements
//! from its own dialect and tells its executor, through `A`, what a statement's outcome means
//! (a row count to report, a COPY to feed, a guard to explain); the label and SQL are what the
//! dry run prints and the events carry, the same for every warehouse.

use super::PlannedStatement;

/// A statement: what it does (for humans), its SQL, and how the executor treats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<A> {
    pub label: String,
    pub sql: String,
    pub action: A,
}

impl<A> Step<A> {
    pub fn new(label: impl Into<String>, sql: impl Into<String>, action: A) -> Step<A> {
        Step { label: label.into(), sql: sql.into(), action }
    }

    pub fn planned(&self) -> PlannedStatement {
        PlannedStatement { label: self.label.clone(), sql: self.sql.clone() }
    }
}
