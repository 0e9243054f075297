//! The tee between the warehouse's load and the run's events: statement events go on to the
//! front ends and are also rebuilt into the journal's statement rows. It is also where a
//! `crash-in-load` fault fires (see `fault.rs`): synchronously, as the warehouse emits the
//! statement's end, so the load cannot run on (and commit) while the tee catches up.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use crate::contract::events::EmitHook;
use crate::pipeline::events::{EventKind, EventSink, RunEvent};
use crate::pipeline::fault;
use crate::pipeline::journal::JournalStatement;

/// A sink for the warehouse whose statement events are also collected for the journal.
pub(super) fn statement_tee(events: &EventSink) -> (EventSink, StatementLog) {
    let (tx, mut rx) = mpsc::unbounded_channel::<RunEvent>();
    let forward_to = events.clone();
    let collected = Arc::new(Mutex::new(Vec::<JournalStatement>::new()));
    let sink = collected.clone();
    let task = tokio::spawn(async move {
        while let Some(event) = rx.recv().await {
            record_statement(&mut sink.lock().expect("statement log lock"), &event.kind);
            forward_to.forward(event);
        }
    });
    let crash_in_load: EmitHook = Arc::new(|kind: &EventKind| {
        if let EventKind::StatementFinished { index, .. } = kind
            && fault::in_load(*index)
        {
            fault::crash(&format!("load statement {index}"));
        }
    });
    (events.redirected(tx).with_emit_hook(crash_in_load), StatementLog { collected, task })
}

pub(super) struct StatementLog {
    collected: Arc<Mutex<Vec<JournalStatement>>>,
    task: tokio::task::JoinHandle<()>,
}

impl StatementLog {
    /// Waits for the tee to drain (its sender must be dropped first) and returns the statements.
    pub(super) async fn collect(self) -> Vec<JournalStatement> {
        let _ = self.task.await;
        std::mem::take(&mut *self.collected.lock().expect("statement log lock"))
    }
}

fn record_statement(statements: &mut Vec<JournalStatement>, kind: &EventKind) {
    match kind {
        EventKind::StatementSubmitted { label, sql, .. } => statements.push(JournalStatement {
            label: label.clone(),
            sql: sql.clone(),
            status: None,
            duration_ms: None,
            rows: None,
            error: None,
            query_id: None,
        }),
        EventKind::StatementFinished { index, status, duration_ms, rows, error, query_id } => {
            if let Some(statement) = index.checked_sub(1).and_then(|i| statements.get_mut(i)) {
                statement.status = Some(*status);
                statement.duration_ms = Some(*duration_ms);
                statement.rows = *rows;
                statement.error = error.clone();
                statement.query_id = query_id.clone();
            }
        }
        _ => {}
    }
}
