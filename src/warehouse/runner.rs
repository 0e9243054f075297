//! The statement loop every warehouse that runs a load statement by statement shares (SQLite,
//! PostgreSQL): it reports each step as the statement events (submitted → started → finished /
//! failed / aborted, 1-based index), times it, stops before a step once the load is cancelled,
//! classifies how a step ended, and rolls back on the first stop. What a step *does* is the
//! backend's: [`StepBackend`] performs one step and rolls the transaction back.
//!
//! Every statement is reported through a [`StatementReporter`], which emits the event and
//! records the statement for the load's return value in the same call. Redshift's batch follower
//! reports its sub-statements through it too, so every warehouse emits the same events and
//! returns the same records the same way.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::contract::StatementRecord;
use crate::contract::events::{EventKind, EventSink, StatementStatus};
use crate::warehouse::staged_files::CopyCounts;
use crate::warehouse::step::{Step, StepError};
use crate::warehouse::{LoadOutcome, LoadReport, LoadRequest, WarehouseError};

/// Everything an async load needs besides its connection (a PostgreSQL session, the Redshift
/// Data API): what to load, where to report (and record) its statements, and what stops it.
pub struct LoadJob<'a> {
    pub request: &'a LoadRequest,
    pub reporter: &'a StatementReporter,
    pub cancel: &'a CancellationToken,
}

/// What the steps measured, for the load's report: the rows copied into the stage and the
/// target's row count after the load.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub copied: CopyCounts,
    pub target_rows: u64,
    /// What an incremental load counted before its change, for the reconciliation check.
    pub before: Option<crate::warehouse::reconcile::BeforeCounts>,
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
    reporter: &StatementReporter,
    cancel: &CancellationToken,
) -> Result<LoadReport, Stop> {
    let mut tally = Tally::default();
    for (position, step) in steps.iter().enumerate() {
        let index = position + 1;
        reporter.submitted(index, steps.len(), step);
        let clock = Instant::now();
        let result = if cancel.is_cancelled() {
            Err(StepError::Cancelled)
        } else {
            reporter.started(index, None);
            backend.perform(step, &mut tally).await
        };
        reporter.finished(index, &result, clock.elapsed(), None);
        if let Err(error) = result {
            backend.roll_back().await;
            return Err(Stop { index, error });
        }
        if B::reconciles(&step.action) {
            reporter.reconciled(&tally.report());
        }
    }
    Ok(tally.report())
}

/// Runs `load` with a fresh [`StatementReporter`] on `events`, and returns how it ended with
/// every statement it reported: what each warehouse's [`crate::warehouse::Warehouse::load`] is.
pub async fn recorded<Load, Running>(events: &EventSink, load: Load) -> LoadOutcome
where
    Load: FnOnce(StatementReporter) -> Running,
    Running: Future<Output = Result<LoadReport, WarehouseError>>,
{
    let reporter = StatementReporter::new(events);
    let result = load(reporter.clone()).await;
    reporter.outcome(result)
}

/// Reports a load's statements as the statement events and records each one as it ran: the one
/// place where both the events the front ends render and the [`StatementRecord`]s the load
/// returns are made, so the two cannot disagree. Clones share one record, so a load retried on
/// another thread or attempt keeps appending to it.
#[derive(Clone)]
pub struct StatementReporter {
    events: EventSink,
    ran: Arc<Mutex<Vec<Ran>>>,
}

/// A recorded statement and its 1-based index in its attempt (a retried load's attempts number
/// their statements from 1 again).
struct Ran {
    index: usize,
    record: StatementRecord,
}

impl StatementReporter {
    pub fn new(events: &EventSink) -> StatementReporter {
        StatementReporter { events: events.clone(), ran: Arc::default() }
    }

    /// Where the load reports what is not a statement (warnings, retries).
    pub fn events(&self) -> &EventSink {
        &self.events
    }

    /// Every statement reported so far, in the order submitted (every attempt's, when retried).
    pub fn statements(&self) -> Vec<StatementRecord> {
        self.ran().iter().map(|ran| ran.record.clone()).collect()
    }

    /// What the load returns once it ended with `result`: the result and its statements.
    pub fn outcome(&self, result: Result<LoadReport, WarehouseError>) -> LoadOutcome {
        LoadOutcome { result, statements: self.statements() }
    }

    fn ran(&self) -> std::sync::MutexGuard<'_, Vec<Ran>> {
        self.ran.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reports that statement `index` of `total` is about to run.
    pub fn submitted<A>(&self, index: usize, total: usize, step: &Step<A>) {
        self.ran().push(Ran { index, record: StatementRecord::submitted(&step.label, &step.sql) });
        self.events.emit(EventKind::StatementSubmitted {
            index,
            total,
            label: step.label.clone(),
            sql: step.sql.clone(),
        });
    }

    /// Reports that statement `index` is running (with the warehouse's query id, if it has one).
    pub fn started(&self, index: usize, query_id: Option<String>) {
        self.events.emit(EventKind::StatementStarted { index, query_id });
    }

    /// Reports how statement `index` ended: finished with its row count, aborted by a cancel,
    /// or failed with the warehouse's message.
    pub fn finished(
        &self,
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
        self.ended(index, status, duration, rows, error, query_id);
    }

    /// Reports how statement `index` ended, when the warehouse already says which way
    /// (Redshift's batch reports each sub-statement's status itself). The record updated is
    /// the newest one submitted with `index`: the current attempt's.
    pub fn ended(
        &self,
        index: usize,
        status: StatementStatus,
        duration: Duration,
        rows: Option<i64>,
        error: Option<String>,
        query_id: Option<String>,
    ) {
        let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        if let Some(ran) = self.ran().iter_mut().rev().find(|ran| ran.index == index) {
            let record = &mut ran.record;
            record.status = Some(status);
            record.duration_ms = Some(duration_ms);
            record.rows = rows;
            record.error.clone_from(&error);
            record.query_id.clone_from(&query_id);
        }
        self.events.emit(EventKind::StatementFinished { index, status, duration_ms, rows, error, query_id });
    }

    /// Reports the counts a load reconciled: the target's rows after it, the upserts and deletes.
    pub fn reconciled(&self, report: &LoadReport) {
        self.events.emit(EventKind::Reconciled {
            target_rows: report.target_rows,
            upserts: report.upserts,
            deletes: report.deletes,
        });
    }
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

    fn steps_of(actions: &[Act]) -> Vec<Step<Act>> {
        actions
            .iter()
            .enumerate()
            .map(|(i, a)| Step::new(format!("s{}", i + 1), format!("SQL {}", i + 1), a.clone()))
            .collect()
    }

    /// Runs `attempts` one after another through one reporter (as a retried load does); returns
    /// the last attempt's result and backend, every event, and the statements the reporter recorded.
    fn run_attempts(
        attempts: &[&[Act]],
    ) -> (Result<LoadReport, Stop>, Scripted, Vec<EventKind>, Vec<StatementRecord>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<RunEvent>();
        let reporter = StatementReporter::new(&EventSink::new("r1", "orders", tx));
        let cancel = CancellationToken::new();
        let mut last = None;
        for actions in attempts {
            let mut backend = Scripted { cancel: cancel.clone(), performed: Vec::new(), rolled_back: false };
            let steps = steps_of(actions);
            let result = futures::executor::block_on(run_steps(&mut backend, &steps, &reporter, &cancel));
            last = Some((result, backend));
        }
        let statements = reporter.statements();
        drop(reporter);
        let mut kinds = Vec::new();
        while let Ok(event) = rx.try_recv() {
            kinds.push(event.kind);
        }
        let (result, backend) = last.expect("at least one attempt");
        (result, backend, kinds, statements)
    }

    fn run(actions: &[Act]) -> (Result<LoadReport, Stop>, Scripted, Vec<EventKind>) {
        let (result, backend, kinds, statements) = run_attempts(&[actions]);
        crate::testkit::assert_returned_statements_match_events(&statements, &kinds);
        (result, backend, kinds)
    }

    /// `(label, sql, status, rows, error)` of each record.
    type Brief = (String, String, Option<StatementStatus>, Option<i64>, Option<String>);

    fn brief(statements: &[StatementRecord]) -> Vec<Brief> {
        statements
            .iter()
            .map(|s| (s.label.clone(), s.sql.clone(), s.status, s.rows, s.error.clone()))
            .collect()
    }

    fn ran(label: &str, status: StatementStatus, rows: Option<i64>, error: Option<&str>) -> Brief {
        let sql = format!("SQL {}", &label[1..]);
        (label.to_owned(), sql, Some(status), rows, error.map(str::to_owned))
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

    #[test]
    fn the_records_say_what_ran_and_how_each_statement_ended() {
        let (_, _, _, statements) = run_attempts(&[&[Act::Count(3), Act::Fail, Act::Count(2)]]);
        assert_eq!(
            brief(&statements),
            vec![
                ran("s1", StatementStatus::Finished, Some(3), None),
                ran("s2", StatementStatus::Failed, None, Some("no such table")),
            ]
        );
        assert!(statements.iter().all(|s| s.duration_ms.is_some() && s.query_id.is_none()));

        let (_, _, _, statements) = run_attempts(&[&[Act::CancelLoad, Act::Count(2)]]);
        assert_eq!(
            brief(&statements),
            vec![
                ran("s1", StatementStatus::Finished, None, None),
                ran("s2", StatementStatus::Aborted, None, Some("cancelled")),
            ]
        );
    }

    /// A retried load numbers its statements from 1 again: each end belongs to its own
    /// attempt's statement, never to an earlier attempt's of the same number.
    #[test]
    fn a_retried_load_records_every_attempt_each_ending_its_own_statement() {
        let (result, _, kinds, statements) =
            run_attempts(&[&[Act::Count(1), Act::Fail], &[Act::Count(4), Act::Count(5), Act::Reconcile]]);
        assert!(result.is_ok());
        assert_eq!(
            brief(&statements),
            vec![
                ran("s1", StatementStatus::Finished, Some(1), None),
                ran("s2", StatementStatus::Failed, None, Some("no such table")),
                ran("s1", StatementStatus::Finished, Some(4), None),
                ran("s2", StatementStatus::Finished, Some(5), None),
                ran("s3", StatementStatus::Finished, Some(7), None),
            ]
        );
        crate::testkit::assert_returned_statements_match_events(&statements, &kinds);
    }
}
