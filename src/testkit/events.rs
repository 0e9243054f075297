//! Reading a load's events the way the warehouse tests assert on them.

use crate::contract::events::{EventKind, StatementStatus};

/// `(index, status, error)` of every finished statement, in order.
pub fn finished_statements(events: &[EventKind]) -> Vec<(usize, StatementStatus, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::StatementFinished { index, status, error, .. } => {
                Some((*index, *status, error.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The label the statement numbered `wanted` was submitted with.
pub fn submitted_label(events: &[EventKind], wanted: usize) -> String {
    events
        .iter()
        .find_map(|e| match e {
            EventKind::StatementSubmitted { index, label, .. } if *index == wanted => Some(label.clone()),
            _ => None,
        })
        .expect("the statement was submitted")
}
