//! Reading a load's events the way the warehouse tests assert on them.

use crate::contract::StatementRecord;
use crate::contract::events::{EventKind, StatementStatus};
use crate::warehouse::PlannedStatement;

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

/// Checks the statement events of a successful load against its plan, the same way for every
/// warehouse: each planned statement submitted in order with its index, the plan's length and its
/// SQL, each started once, and the rows each labelled statement reported (`Some(None)`: finished
/// without a row count). Panics with both sides when they differ.
pub fn assert_statements_follow_the_plan(
    planned: &[PlannedStatement],
    events: &[EventKind],
    rows_by_label: &[(&str, Option<Option<i64>>)],
) {
    let submitted: Vec<(usize, usize, String)> = events
        .iter()
        .filter_map(|e| match e {
            EventKind::StatementSubmitted { index, total, sql, .. } => Some((*index, *total, sql.clone())),
            _ => None,
        })
        .collect();
    let expected: Vec<(usize, usize, String)> =
        planned.iter().enumerate().map(|(i, p)| (i + 1, planned.len(), p.sql.clone())).collect();
    assert_eq!(submitted, expected);
    let started = events.iter().filter(|e| matches!(e, EventKind::StatementStarted { .. })).count();
    assert_eq!(started, planned.len());
    for (label, rows) in rows_by_label {
        assert_eq!(finished_rows(planned, events, label), *rows, "rows of {label:?}");
    }
}

/// The rows the planned statement labelled `label` reported when it finished (`None`: it did
/// not finish).
fn finished_rows(planned: &[PlannedStatement], events: &[EventKind], label: &str) -> Option<Option<i64>> {
    let index = planned.iter().position(|p| p.label == label).expect("a planned label") + 1;
    events.iter().find_map(|e| match e {
        EventKind::StatementFinished { index: i, rows, status: StatementStatus::Finished, .. }
            if *i == index =>
        {
            Some(*rows)
        }
        _ => None,
    })
}

/// The statements a load's events describe, rebuilt the way a reader of the events sees them: a
/// record per submitted statement, completed by the next finished event of its index (a retried
/// load numbers its statements from 1 again, so an end belongs to the newest submission).
pub fn statements_of(events: &[EventKind]) -> Vec<StatementRecord> {
    let mut rebuilt: Vec<(usize, StatementRecord)> = Vec::new();
    for event in events {
        match event {
            EventKind::StatementSubmitted { index, label, sql, .. } => {
                rebuilt.push((*index, StatementRecord::submitted(label, sql)));
            }
            EventKind::StatementFinished { index, status, duration_ms, rows, error, query_id } => {
                let (_, record) =
                    rebuilt.iter_mut().rev().find(|(i, _)| i == index).expect("ended after submitted");
                record.status = Some(*status);
                record.duration_ms = Some(*duration_ms);
                record.rows = *rows;
                record.error.clone_from(error);
                record.query_id.clone_from(query_id);
            }
            _ => {}
        }
    }
    rebuilt.into_iter().map(|(_, record)| record).collect()
}

/// Checks that the statements a load returned are exactly the ones its events reported, in
/// order and with how each ended. Panics with both sides when they differ.
pub fn assert_returned_statements_match_events(returned: &[StatementRecord], events: &[EventKind]) {
    assert_eq!(returned, statements_of(events), "the load's statements against its events {events:?}");
}

/// The messages of the warnings among `events`.
pub fn warnings(events: &[EventKind]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            EventKind::Warning { message } => Some(message.as_str()),
            _ => None,
        })
        .collect()
}
