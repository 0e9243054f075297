//! The statements the stand-in accepted and their lifecycle, as DescribeStatement shows it.
//!
//! - A statement (ExecuteStatement) or batch (BatchExecuteStatement) starts SUBMITTED, is
//!   PICKED when its task starts, STARTED when its first SQL runs, and ends FINISHED, FAILED
//!   or ABORTED (cancelled).
//! - Each SQL is a sub-statement (`<id>:<n>`, n from 1): SUBMITTED → STARTED → FINISHED |
//!   FAILED | ABORTED. When one fails, the later ones end ABORTED and the batch FAILED with the
//!   same error; when the batch is cancelled, every sub not yet FINISHED ends ABORTED.
//! - RedshiftQueryId: a counter, given at submission to the statement and to each
//!   sub-statement (a single statement and its one SQL share theirs).
//! - Duration (nanoseconds): from start to end; while running, so far; 0 before it starts.
//! - A repeated ClientToken returns the statement first submitted with it (idempotency).

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;

use super::protocol::{ApiError, Connection};
use super::results::ResultSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Submitted,
    Picked,
    Started,
    Finished,
    Failed,
    Aborted,
}

impl Status {
    pub fn wire_name(self) -> &'static str {
        match self {
            Status::Submitted => "SUBMITTED",
            Status::Picked => "PICKED",
            Status::Started => "STARTED",
            Status::Finished => "FINISHED",
            Status::Failed => "FAILED",
            Status::Aborted => "ABORTED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Finished | Status::Failed | Status::Aborted)
    }
}

/// When something ran.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunClock {
    started: Option<Instant>,
    ended: Option<Instant>,
}

impl RunClock {
    fn start(&mut self) {
        self.started.get_or_insert_with(Instant::now);
    }

    fn stop(&mut self) {
        if self.started.is_some() {
            self.ended.get_or_insert_with(Instant::now);
        }
    }

    pub fn nanos(&self) -> i64 {
        let Some(started) = self.started else { return 0 };
        let elapsed = self.ended.unwrap_or_else(Instant::now) - started;
        i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)
    }
}

/// What a finished SQL produced.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlOutcome {
    /// Rows returned, affected or loaded; -1 when none apply (DDL).
    pub result_rows: i64,
    pub result_set: Option<ResultSet>,
}

/// One SQL of a statement.
#[derive(Debug)]
pub struct Sub {
    pub sql: String,
    pub status: Status,
    pub error: Option<String>,
    pub created_at: f64,
    pub updated_at: f64,
    pub query_id: i64,
    pub clock: RunClock,
    pub outcome: Option<SqlOutcome>,
}

/// One ExecuteStatement or BatchExecuteStatement.
#[derive(Debug)]
pub struct Statement {
    pub id: String,
    pub connection: Connection,
    pub is_batch: bool,
    pub query_id: i64,
    pub status: Status,
    pub error: Option<String>,
    pub created_at: f64,
    pub updated_at: f64,
    pub clock: RunClock,
    pub subs: Vec<Sub>,
    /// Cancelled by CancelStatement (or when the stand-in stops).
    pub cancel: CancellationToken,
    /// Set once COMMIT is under way: too late to cancel.
    committing: bool,
}

impl Statement {
    fn touch(&mut self, now: f64) {
        self.updated_at = now;
    }
}

/// What ExecuteStatement / BatchExecuteStatement asks for.
pub struct NewStatement {
    pub sqls: Vec<String>,
    pub is_batch: bool,
    pub connection: Connection,
    pub client_token: Option<String>,
}

pub enum Submission {
    /// A new statement, to be run.
    New { id: String, cancel: CancellationToken },
    /// The ClientToken was seen before: its statement.
    Repeat { id: String },
}

/// Every statement accepted since the stand-in started.
#[derive(Default)]
pub struct Registry {
    statements: HashMap<String, Statement>,
    by_client_token: HashMap<String, String>,
    last_query_id: i64,
}

/// Seconds since the Unix epoch, as the Data API's timestamps.
pub fn epoch_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("the clock is after 1970").as_secs_f64()
}

impl Registry {
    pub fn submit(&mut self, new: NewStatement) -> Submission {
        if let Some(id) = new.client_token.as_ref().and_then(|token| self.by_client_token.get(token)) {
            return Submission::Repeat { id: id.clone() };
        }
        let id = new_uuid();
        let now = epoch_now();
        let query_id = self.next_query_id();
        let subs = new
            .sqls
            .into_iter()
            .map(|sql| Sub {
                sql,
                status: Status::Submitted,
                error: None,
                created_at: now,
                updated_at: now,
                query_id: if new.is_batch { self.next_query_id() } else { query_id },
                clock: RunClock::default(),
                outcome: None,
            })
            .collect();
        let cancel = CancellationToken::new();
        let statement = Statement {
            id: id.clone(),
            connection: new.connection,
            is_batch: new.is_batch,
            query_id,
            status: Status::Submitted,
            error: None,
            created_at: now,
            updated_at: now,
            clock: RunClock::default(),
            subs,
            cancel: cancel.clone(),
            committing: false,
        };
        self.statements.insert(id.clone(), statement);
        if let Some(token) = new.client_token {
            self.by_client_token.insert(token, id.clone());
        }
        Submission::New { id, cancel }
    }

    fn next_query_id(&mut self) -> i64 {
        self.last_query_id += 1;
        self.last_query_id
    }

    /// The statement an Id names, and the sub-statement index for `<id>:<n>`.
    pub fn lookup(&self, id: &str) -> Result<(&Statement, Option<usize>), ApiError> {
        let not_found = || ApiError::not_found(format!("Query {id} does not exist."));
        if let Some(statement) = self.statements.get(id) {
            return Ok((statement, None));
        }
        let (parent, n) = id.rsplit_once(':').ok_or_else(not_found)?;
        let statement = self.statements.get(parent).ok_or_else(not_found)?;
        let index =
            n.parse::<usize>().ok().and_then(|n| n.checked_sub(1)).filter(|i| *i < statement.subs.len());
        Ok((statement, Some(index.ok_or_else(not_found)?)))
    }

    pub fn get(&self, id: &str) -> Option<&Statement> {
        self.statements.get(id)
    }

    /// CancelStatement: only a statement still running (and not committing) can be cancelled.
    pub fn request_cancel(&mut self, id: &str) -> Result<(), ApiError> {
        let statement = self
            .statements
            .get(id)
            .ok_or_else(|| ApiError::not_found(format!("Query {id} does not exist.")))?;
        if statement.status.is_terminal() || statement.committing {
            let state = if statement.committing { "FINISHED" } else { statement.status.wire_name() };
            return Err(ApiError::validation(format!(
                "Could not cancel a query that is already in {state} state."
            )));
        }
        statement.cancel.cancel();
        Ok(())
    }

    /// Cancels everything still running (the stand-in is stopping).
    pub fn cancel_all(&self) {
        self.statements.values().for_each(|s| s.cancel.cancel());
    }

    fn with(&mut self, id: &str, change: impl FnOnce(&mut Statement, f64)) {
        if let Some(statement) = self.statements.get_mut(id) {
            let now = epoch_now();
            change(statement, now);
            statement.touch(now);
        }
    }

    pub fn picked(&mut self, id: &str) {
        self.with(id, |s, _| s.status = Status::Picked);
    }

    /// Sub `index` starts; its RedshiftQueryId.
    pub fn sub_started(&mut self, id: &str, index: usize) -> i64 {
        let mut query_id = 0;
        self.with(id, |s, now| {
            s.status = Status::Started;
            s.clock.start();
            let sub = &mut s.subs[index];
            sub.status = Status::Started;
            sub.clock.start();
            sub.updated_at = now;
            query_id = sub.query_id;
        });
        query_id
    }

    pub fn sub_finished(&mut self, id: &str, index: usize, outcome: SqlOutcome) {
        self.with(id, |s, now| {
            let sub = &mut s.subs[index];
            sub.status = Status::Finished;
            sub.clock.stop();
            sub.updated_at = now;
            sub.outcome = Some(outcome);
        });
    }

    /// Moves to committing unless the statement was cancelled; whether to commit.
    pub fn begin_commit(&mut self, id: &str) -> bool {
        let mut commit = false;
        self.with(id, |s, _| {
            commit = !s.cancel.is_cancelled();
            s.committing = commit;
        });
        commit
    }

    pub fn finished(&mut self, id: &str) {
        self.with(id, |s, _| {
            s.status = Status::Finished;
            s.clock.stop();
        });
    }

    /// The statement failed with `error`, at sub `index` when one ran (later subs ABORTED).
    pub fn failed(&mut self, id: &str, index: Option<usize>, error: &str) {
        self.with(id, |s, now| {
            if let Some(sub) = index.and_then(|i| s.subs.get_mut(i)) {
                sub.status = Status::Failed;
                sub.error = Some(error.to_owned());
                sub.clock.stop();
                sub.updated_at = now;
            }
            abort_unfinished(&mut s.subs, now);
            s.status = Status::Failed;
            s.error = Some(error.to_owned());
            s.clock.stop();
        });
    }

    pub fn aborted(&mut self, id: &str) {
        self.with(id, |s, now| {
            abort_unfinished(&mut s.subs, now);
            s.status = Status::Aborted;
            s.clock.stop();
        });
    }
}

fn abort_unfinished(subs: &mut [Sub], now: f64) {
    for sub in subs.iter_mut().filter(|sub| !sub.status.is_terminal()) {
        sub.status = Status::Aborted;
        sub.clock.stop();
        sub.updated_at = now;
    }
}

/// A random (version 4) UUID, as the Data API's statement ids.
fn new_uuid() -> String {
    let bits = (rand::random::<u128>() & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}
