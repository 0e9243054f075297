//! The statement loop every warehouse that runs a load statement by statement shares (SQLite,
//! PostgreSQL): it reports each step as the statement events (submitted → started → finished /
//! failed / aborted, 1-based index), times it, stops before a step once the load is cancelled,
//! classifies how a step ended, and rolls back on the first stop. What a step *does* is the
//! backend's: [`StepBackend`] performs one step and rolls the transaction back.
//!
//! The event helpers ([`report_submitted`], [`report_started`], [`report_finished`]) are also
//! what Redshift's batch follower reports its sub-statements with, so every warehouse emits the
//! same events the same way.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::contract::events::{EventKind, EventSink, StatementStatus};
use crate::warehouse::staged_files::CopyCounts;
use crate::warehouse::step::{Step, StepError};
use crate::warehouse::{LoadReport, LoadRequest};

/// Everything an async load needs besides its connection (a PostgreSQL session, the Redshift
/// Data API): what to load, where to report, and what stops it.
pub struct LoadJob<'a> {
    pub request: &'a LoadRequest,
    pub events: &'a EventSink,
    pub cancel: &'a CancellationToken,
}

/// What the steps measured, for the load's report: the rows copied into the stage and the
/// target's row count after the load.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub copied: CopyCounts,
    pub target_rows: u64,
}

impl Tally {
    fn report(&self) -> LoadReport {
        LoadReport {
            target_rows: self.target_rows,
            upserts: self.copied.upserts,
            deletes: self.copied.deletes,
        }
    }
}

/// One warehouse's way of running a step. Async so one loop serves both the async PostgreSQL
/// session and SQLite's blocking connection (whose steps simply never wait).
pub(crate) trait StepBackend {
    type Action;

    /// Runs one step; returns the row count it reports. A cancel during the step (when the
    /// backend can interrupt one) ends it with [`StepError::Cancelled`].
    async fn perform(
        &mut self,
        step: &Step<Self::Action>,
        tally: &mut Tally,
    ) -> Result<Option<i64>, StepError>;

    /// Ends the load's transaction after a stop; a failure here is the backend's to log.
    async fn roll_back(&mut self);

    /// Whether `action` counts the target's rows (the load reports `Reconciled` after it).
    fn reconciles(action: &Self::Action) -> bool;
}

/// The step that stopped a load (its transaction rolled back), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    /// 1-based, as in the statement events.
    pub index: usize,
    pub error: StepError,
}

/// Runs `steps` in order through `backend`; on any stop, rolls back and says which step stopped.
pub(crate) async fn run_steps<B: StepBackend>(
    backend: &mut B,
    steps: &[Step<B::Action>],
    events: &EventSink,
    cancel: &CancellationToken,
) -> Result<LoadReport, Stop> {
    let mut tally = Tally::default();
    for (position, step) in steps.iter().enumerate() {
        let index = position + 1;
        report_submitted(events, index, steps.len(), step);
        let clock = Instant::now();
        let result = if cancel.is_cancelled() {
            Err(StepError::Cancelled)
        } else {
            report_started(events, index, None);
            backend.perform(step, &mut tally).await
        };
        report_finished(events, index, &result, clock.elapsed(), None);
        if let Err(error) = result {
            backend.roll_back().await;
            return Err(Stop { index, error });
        }
        if B::reconciles(&step.action) {
            report_reconciled(events, &tally.report());
        }
    }
    Ok(tally.report())
}

/// Reports that statement `index` of `total` is about to run.
pub fn report_submitted<A>(events: &EventSink, index: usize, total: usize, step: &Step<A>) {
    events.emit(EventKind::StatementSubmitted {
        index,
        total,
        label: step.label.clone(),
        sql: step.sql.clone(),
    });
}

/// Reports that statement `index` is running (with the warehouse's query id, if it has one).
pub fn report_started(events: &EventSink, index: usize, query_id: Option<String>) {
    events.emit(EventKind::StatementStarted { index, query_id });
}

/// Reports how statement `index` ended: finished with its row count, aborted by a cancel, or
/// failed with the warehouse's message.
pub fn report_finished(
    events: &EventSink,
    index: usize,
    result: &Result<Option<i64>, StepError>,
    duration: Duration,
    query_id: Option<String>,
) {
    let (status, rows, error) = match result {
        Ok(rows) => (StatementStatus::Finished, *rows, None),
        Err(StepError::Cancelled) => (StatementStatus::Aborted, None, Some("cancelled".to_owned())),
        Err(StepError::Failed(message) | StepError::Transient { message, .. }) => {
            (StatementStatus::Failed, None, Some(message.clone()))
        }
    };
    report_ended(events, index, status, duration, rows, error, query_id);
}

/// Reports how statement `index` ended, when the warehouse already says which way (Redshift's
/// batch reports each sub-statement's status itself).
pub fn report_ended(
    events: &EventSink,
    index: usize,
    status: StatementStatus,
    duration: Duration,
    rows: Option<i64>,
    error: Option<String>,
    query_id: Option<String>,
) {
    let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    events.emit(EventKind::StatementFinished { index, status, duration_ms, rows, error, query_id });
}

/// Reports the counts a load reconciled: the target's rows after it, the upserts and deletes.
pub fn report_reconciled(events: &EventSink, report: &LoadReport) {
    events.emit(EventKind::Reconciled {
        target_rows: report.target_rows,
        upserts: report.upserts,
        deletes: report.deletes,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::events::RunEvent;
    use tokio::sync::mpsc;

    #[derive(Debug, Clone, PartialEq)]
    enum Act {
        Count(i64),
        Fail,
        CancelLoad,
        Reconcile,
    }

    /// Performs scripted steps, noting what ran and whether it rolled back.
    struct Scripted {
        cancel: CancellationToken,
        performed: Vec<String>,
        rolled_back: bool,
    }

    impl StepBackend for Scripted {
        type Action = Act;

        async fn perform(&mut self, step: &Step<Act>, tally: &mut Tally) -> Result<Option<i64>, StepError> {
            self.performed.push(step.label.clone());
            match step.action {
                Act::Count(rows) => Ok(Some(rows)),
                Act::Fail => Err(StepError::Failed("no such table".into())),
                Act::CancelLoad => {
                    self.cancel.cancel();
                    Ok(None)
                }
                Act::Reconcile => {
                    tally.target_rows = 7;
                    Ok(Some(7))
                }
            }
        }

        async fn roll_back(&mut self) {
            self.rolled_back = true;
        }

        fn reconciles(action: &Act) -> bool {
            *action == Act::Reconcile
        }
    }

    fn run(actions: &[Act]) -> (Result<LoadReport, Stop>, Scripted, Vec<EventKind>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<RunEvent>();
        let events = EventSink::new("r1", "orders", tx);
        let cancel = CancellationToken::new();
        let mut backend = Scripted { cancel: cancel.clone(), performed: Vec::new(), rolled_back: false };
        let steps: Vec<Step<Act>> = actions
            .iter()
            .enumerate()
            .map(|(i, a)| Step::new(format!("s{}", i + 1), "SQL", a.clone()))
            .collect();
        let result = futures::executor::block_on(run_steps(&mut backend, &steps, &events, &cancel));
        drop(events);
        let mut kinds = Vec::new();
        while let Ok(event) = rx.try_recv() {
            kinds.push(event.kind);
        }
        (result, backend, kinds)
    }

    fn finished(kinds: &[EventKind]) -> Vec<(usize, StatementStatus, Option<i64>, Option<String>)> {
        kinds
            .iter()
            .filter_map(|k| match k {
                EventKind::StatementFinished { index, status, rows, error, .. } => {
                    Some((*index, *status, *rows, error.clone()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_step_is_submitted_started_and_finished_and_reconciliation_is_reported() {
        let (result, backend, kinds) = run(&[Act::Count(3), Act::Reconcile]);
        assert_eq!(result.unwrap(), LoadReport { target_rows: 7, upserts: 0, deletes: 0 });
        assert!(!backend.rolled_back);
        assert!(
            matches!(&kinds[0], EventKind::StatementSubmitted { index: 1, total: 2, label, .. } if label == "s1")
        );
        assert!(matches!(&kinds[1], EventKind::StatementStarted { index: 1, query_id: None }));
        assert!(matches!(kinds.last(), Some(EventKind::Reconciled { target_rows: 7, .. })));
        assert_eq!(
            finished(&kinds),
            vec![
                (1, StatementStatus::Finished, Some(3), None),
                (2, StatementStatus::Finished, Some(7), None)
            ]
        );
    }

    #[test]
    fn a_failure_stops_the_load_and_rolls_back() {
        let (result, backend, kinds) = run(&[Act::Count(1), Act::Fail, Act::Count(2)]);
        assert_eq!(result.unwrap_err(), Stop { index: 2, error: StepError::Failed("no such table".into()) });
        assert!(backend.rolled_back);
        assert_eq!(backend.performed, ["s1", "s2"]);
        assert_eq!(finished(&kinds)[1], (2, StatementStatus::Failed, None, Some("no such table".into())));
        assert!(!kinds.iter().any(|k| matches!(k, EventKind::StatementSubmitted { index: 3, .. })));
    }

    #[test]
    fn a_cancel_stops_before_the_next_step_which_is_reported_aborted() {
        let (result, backend, kinds) = run(&[Act::CancelLoad, Act::Count(2)]);
        assert_eq!(result.unwrap_err(), Stop { index: 2, error: StepError::Cancelled });
        assert!(backend.rolled_back);
        assert_eq!(backend.performed, ["s1"]);
        assert!(!kinds.iter().any(|k| matches!(k, EventKind::StatementStarted { index: 2, .. })));
        assert_eq!(finished(&kinds)[1], (2, StatementStatus::Aborted, None, Some("cancelled".into())));
    }
}
