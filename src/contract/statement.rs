//! One warehouse statement of a load as it ran: what `Warehouse::load` returns to the pipeline
//! (on success, failure and cancel alike) and what the run's journal keeps, so the journal never
//! has to rebuild its statements from the events the front ends get.

use serde::{Deserialize, Serialize};

use super::events::StatementStatus;

/// One statement a load ran: its label and SQL as submitted, and how it ended. The field names
/// are the journal's (`statements[]` of `_state/runs/<run_id>.json`): renaming one changes the
/// journal's format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRecord {
    pub label: String,
    pub sql: String,
    /// `None` while it runs, and for good when the load lost track of it (a Redshift batch
    /// whose status could no longer be read).
    pub status: Option<StatementStatus>,
    pub duration_ms: Option<u64>,
    pub rows: Option<i64>,
    pub error: Option<String>,
    /// The warehouse's id of the statement (Redshift's query id), when it has one.
    pub query_id: Option<String>,
}

impl StatementRecord {
    /// A statement just submitted: its end is not known yet.
    pub fn submitted(label: impl Into<String>, sql: impl Into<String>) -> StatementRecord {
        StatementRecord {
            label: label.into(),
            sql: sql.into(),
            status: None,
            duration_ms: None,
            rows: None,
            error: None,
            query_id: None,
        }
    }
}
