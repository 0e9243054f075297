//! How each table stands, read without changing anything: the committed watermark (from the
//! warehouse), the lag on the source's clock, the PITR headroom of aws tables, the lease holder
//! (read, never taken), and the last run and the failure count from the run journals the
//! console's history pane reads. `status`, the metrics file and the notify command all report
//! this one reading.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::config::{Config, DriftPolicy, SourceConfig, TableConfig};
use crate::contract::{CostEstimate, DriftCheck};
use crate::cost::{self, Projection, RunCost, WindowTotal};
use crate::pipeline::journal::RunJournal;
use crate::pipeline::lock::{self, LeaseHolder};
use crate::pipeline::{Engine, PipelineError, Stage};
use crate::schedule::Schedule;
use crate::warehouse::CommitRecord;

/// DynamoDB keeps point-in-time recovery data for 35 days unless the table sets a shorter
/// `RecoveryPeriodInDays` (1 to 35, default 35: DynamoDB API Reference,
/// "PointInTimeRecoverySpecification" and "PointInTimeRecoveryDescription"). An incremental sync
/// needs its watermark inside that window, so the headroom is how long until it leaves; a table
/// with a shorter period has less (the run's own plan, which reads the real earliest restorable
/// time, still warns and refuses exactly).
pub const PITR_WINDOW: Duration = Duration::days(35);

/// One table's health at one instant. Serialized as a table of `status --json` (schema in
/// docs/monitoring.md: every field name is a promise).
#[derive(Debug, Clone, Serialize)]
pub struct TableHealth {
    pub table: String,
    pub target: String,
    /// `demo`, `exports` or `aws`.
    pub source: &'static str,
    /// The committed watermark (the warehouse's `dynashift_runs`); `None`: never synced.
    pub watermark: Option<DateTime<Utc>>,
    /// The source's time when read (the demo runs a simulated clock; real DynamoDB the wall clock).
    pub source_now: DateTime<Utc>,
    pub source_clock_simulated: bool,
    /// `source_now - watermark`, whole seconds.
    pub lag_seconds: Option<i64>,
    /// Seconds until the watermark leaves the 35-day PITR window (aws tables only); negative
    /// once it left (only a full sync recovers then).
    pub pitr_headroom_seconds: Option<i64>,
    /// The run holding the table's lease now, if any.
    pub lease: Option<LeaseView>,
    /// The newest run that is not running now.
    pub last_run: Option<LastRun>,
    /// When the newest successful run (committed or up to date) ended, or the last commit.
    pub last_success_at: Option<DateTime<Utc>>,
    /// When the table's `every` makes it due next (at or before now: due already); absent for a
    /// table without `every` and while a run holds its lease.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_due_at: Option<DateTime<Utc>>,
    /// Runs that failed, over the journals kept in the store.
    pub failures_total: u64,
    /// What the runs that started in the last 30 days cost (estimates from their journals).
    pub cost_30d: WindowTotal,
    /// What 30 days of the table's `every` would cost at the mean of its recent runs; absent
    /// without `every` or a priced run to average.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projected_30d: Option<Projection>,
    /// Why the table is unhealthy; empty when healthy.
    pub problems: Vec<String>,
    /// Why its state could not be read (then the fields above say nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
}

impl TableHealth {
    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }

    /// Whether its state was read (a warehouse or store that could not be reached: not).
    pub fn readable(&self) -> bool {
        self.read_error.is_none()
    }
}

/// Who holds a table's lease.
#[derive(Debug, Clone, Serialize)]
pub struct LeaseView {
    pub run_id: String,
    pub host: String,
    pub pid: u32,
    pub since: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<LeaseHolder> for LeaseView {
    fn from(holder: LeaseHolder) -> LeaseView {
        LeaseView {
            run_id: holder.run_id,
            host: holder.host,
            pid: holder.pid,
            since: holder.acquired_at,
            expires_at: holder.expires_at,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunResult {
    Committed,
    UpToDate,
    Failed,
    /// The process ended before the run finished (a crash or a kill); the next run resumes it.
    Interrupted,
}

impl RunResult {
    pub fn is_failure(self) -> bool {
        matches!(self, RunResult::Failed | RunResult::Interrupted)
    }
}

/// The last run, as `status` and the metrics report it.
#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    pub run_id: String,
    pub mode: crate::config::Mode,
    pub result: RunResult,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_seconds: f64,
    /// Where and why it failed (failed and interrupted runs).
    pub failure: Option<RunFailureView>,
    /// Rows the run committed (0 unless it committed).
    pub upserts: u64,
    pub deletes: u64,
    /// What DynamoDB billed for the run's exports (as DescribeExport reports it).
    pub billed_bytes: u64,
    /// The run's estimated export cost (docs/cost.md); absent when it exported nothing or was
    /// journaled before estimates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostEstimate>,
    /// The schema drift the run counted, or why it could not; absent when it did not stage, when
    /// nothing drifted, and for tables with `on_drift = "ignore"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftCheck>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunFailureView {
    pub stage: Stage,
    pub cause: String,
    pub hint: String,
}

/// Reads every table's health; a table that cannot be read is reported with the reason as its
/// problem, never skipped.
pub async fn read_all(engine: &Engine) -> Vec<TableHealth> {
    let mut all = Vec::with_capacity(engine.config().tables.len());
    for table in &engine.config().tables {
        let health = match read(engine, table).await {
            Ok(health) => health,
            Err(err) => unreadable(table, &err),
        };
        all.push(health);
    }
    all
}

/// What a table's reading could gather.
struct Reading {
    commit: Option<CommitRecord>,
    source_now: DateTime<Utc>,
    simulated: bool,
    lease: Option<LeaseHolder>,
    journals: Vec<RunJournal>,
}

async fn read(engine: &Engine, table: &TableConfig) -> Result<TableHealth, PipelineError> {
    let adapters = engine
        .adapters()
        .tables
        .get(&table.name)
        .ok_or_else(|| PipelineError::UnknownTable(table.name.clone()))?;
    let commit = engine.adapters().warehouse.last_commit(&table.name).await?;
    let clock = adapters.source.clock().await?;
    let now = Utc::now();
    let reading = Reading {
        commit,
        source_now: clock.map_or(now, |clock| clock.at(now)),
        simulated: clock.is_some(),
        lease: lock::current_holder(adapters.store.as_ref(), table).await?,
        journals: RunJournal::list(table, adapters.store.as_ref()).await?,
    };
    Ok(assess(engine.config(), table, reading))
}

/// Judges a reading against the configuration: pure, so every rule is unit-tested.
fn assess(config: &Config, table: &TableConfig, reading: Reading) -> TableHealth {
    let watermark = reading.commit.as_ref().map(|c| c.watermark);
    let lag = watermark.map(|w| reading.source_now - w);
    let pitr_headroom = match (&table.source, watermark) {
        (SourceConfig::Aws(_), Some(w)) => Some(w + PITR_WINDOW - reading.source_now),
        _ => None,
    };
    let running = reading.lease.as_ref().map(|holder| holder.run_id.as_str());
    let last_run = reading
        .journals
        .iter()
        .find(|j| j.is_finished() || Some(j.run_id.as_str()) != running)
        .map(|j| last_run(j, reading.commit.as_ref()))
        .map(|mut run| {
            // `on_drift = "ignore"` keeps drift in the journal only.
            if table.on_drift == DriftPolicy::Ignore {
                run.drift = None;
            }
            run
        });
    let last_success_at = reading
        .journals
        .iter()
        .filter(|j| j.is_finished() && j.failure.is_none())
        .filter_map(|j| j.finished_at)
        .chain(reading.commit.as_ref().map(|c| c.committed_at))
        .max();
    let failures_total = reading.journals.iter().filter(|j| j.failure.is_some()).count() as u64;
    let (cost_30d, projected_30d) = costs(table, &reading.journals, Utc::now());
    let newest_start = reading.journals.iter().map(|j| j.started_at).max();
    let next_due_at = next_due(table, watermark.is_some(), newest_start, running.is_some(), Utc::now());
    let mut problems = Vec::new();
    if let Some(run) = last_run.as_ref().filter(|run| run.result.is_failure()) {
        let at =
            run.failure.as_ref().map_or(String::new(), |f| format!(" at stage {}: {}", f.stage, f.cause));
        problems.push(format!("the last run {} failed{at}", run.run_id));
    }
    let critical = Duration::from_std(config.lag.critical).unwrap_or(Duration::MAX);
    match lag {
        None => problems.push("never synced: run a full sync".to_owned()),
        Some(lag) if lag > critical => {
            problems.push(format!("lag {} is past lag_critical ({})", human(lag), human(critical)))
        }
        Some(_) => {}
    }
    if let Some(headroom) = pitr_headroom.filter(|h| *h < Duration::zero()) {
        problems.push(format!(
            "the watermark left the 35-day point-in-time recovery window {} ago: only a full sync recovers",
            human(-headroom)
        ));
    }
    TableHealth {
        table: table.name.clone(),
        target: table.target.to_string(),
        source: table.source.kind(),
        watermark,
        source_now: reading.source_now,
        source_clock_simulated: reading.simulated,
        lag_seconds: lag.map(|l| l.num_seconds()),
        pitr_headroom_seconds: pitr_headroom.map(|h| h.num_seconds()),
        lease: reading.lease.map(LeaseView::from),
        last_run,
        last_success_at,
        next_due_at,
        failures_total,
        cost_30d,
        projected_30d,
        problems,
        read_error: None,
    }
}

/// The 30-day total and projection from the runs' journaled estimates. Runs without one
/// (nothing exported, or journaled before estimates) are not counted.
fn costs(
    table: &TableConfig,
    journals: &[RunJournal],
    now: DateTime<Utc>,
) -> (WindowTotal, Option<Projection>) {
    let runs: Vec<RunCost> = journals
        .iter()
        .filter_map(|j| {
            let estimate = j.cost.as_ref()?;
            Some(RunCost { started_at: j.started_at, mode: j.mode, usd: estimate.usd })
        })
        .collect();
    (cost::last_30_days(&runs, now), cost::projection(table.every, table.mode, &runs, now))
}

/// When `table` is due next by its `every`, as `--watch` and the console schedule it (the same
/// [`Schedule`]): wall-clock time, counted from its newest run's start.
fn next_due(
    table: &TableConfig,
    synced: bool,
    newest_start: Option<DateTime<Utc>>,
    running: bool,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let every = table.every.filter(|_| !running)?;
    let mut schedule = Schedule::new();
    schedule.add(&table.name, every, synced, newest_start);
    schedule.next_due(&table.name, now)
}

fn last_run(journal: &RunJournal, commit: Option<&CommitRecord>) -> LastRun {
    let result = match (&journal.failure, journal.is_finished(), journal.stage) {
        (Some(_), _, _) => RunResult::Failed,
        (None, false, _) => RunResult::Interrupted,
        (None, true, Stage::Committed) => RunResult::Committed,
        (None, true, _) => RunResult::UpToDate,
    };
    let failure = match (&journal.failure, result) {
        (Some(f), _) => Some(RunFailureView { stage: f.stage, cause: f.cause.clone(), hint: f.hint.clone() }),
        (None, RunResult::Interrupted) => Some(RunFailureView {
            stage: journal.stage,
            cause: "the process ended before the run finished (a crash or a kill)".into(),
            hint: "run the sync again: it resumes this run".into(),
        }),
        _ => None,
    };
    let committed = commit.filter(|c| result == RunResult::Committed && c.run_id == journal.run_id);
    let (upserts, deletes) = match (committed, result, journal.stage_counts) {
        (Some(c), _, _) => (c.upserts, c.deletes),
        (None, RunResult::Committed, Some(counts)) => (counts.upserts, counts.deletes),
        _ => (0, 0),
    };
    let ended = journal.finished_at.unwrap_or(journal.updated_at);
    LastRun {
        run_id: journal.run_id.clone(),
        mode: journal.mode,
        result,
        started_at: journal.started_at,
        finished_at: journal.finished_at,
        duration_seconds: (ended - journal.started_at).num_milliseconds().max(0) as f64 / 1000.0,
        failure,
        upserts,
        deletes,
        billed_bytes: journal
            .exports
            .iter()
            .filter_map(|e| e.description.as_ref().and_then(|d| d.billed_size_bytes))
            .sum(),
        cost: journal.cost.clone(),
        drift: journal.drift.clone().filter(|check| !matches!(check.report(), Some(r) if r.is_empty())),
    }
}

fn unreadable(table: &TableConfig, err: &PipelineError) -> TableHealth {
    TableHealth {
        table: table.name.clone(),
        target: table.target.to_string(),
        source: table.source.kind(),
        watermark: None,
        source_now: Utc::now(),
        source_clock_simulated: false,
        lag_seconds: None,
        pitr_headroom_seconds: None,
        lease: None,
        last_run: None,
        last_success_at: None,
        next_due_at: None,
        failures_total: 0,
        cost_30d: WindowTotal::default(),
        projected_30d: None,
        problems: vec![format!("cannot read its state: {err} ({})", err.hint())],
        read_error: Some(err.to_string()),
    }
}

/// `3d4h`, `12m`, `40s`: lag and headroom for people.
pub fn human(duration: Duration) -> String {
    let seconds = duration.num_seconds().max(0);
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h{m:02}m"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Mode;
    use crate::pipeline::journal::JournalFailure;

    const CONFIG: &str = "[defaults]\nregion = \"us-east-1\"\nbucket = \"s3://acme/dynashift/\"\n\
        [console]\nlag_warn = \"1h\"\nlag_critical = \"2h\"\n\
        [[table]]\nname = \"orders\"\nsource = \"aws\"\nkey = [\"pk\"]\n\
        [[table]]\nname = \"customers\"\nsource = \"exports\"\nkey = [\"id\"]\n";

    fn config() -> Config {
        crate::config::load_str(CONFIG, Path::new("/c/tables.toml")).unwrap()
    }

    fn at(hour: u32) -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, hour, 0, 0).unwrap()
    }

    fn commit(run_id: &str, watermark: DateTime<Utc>) -> CommitRecord {
        CommitRecord {
            table_name: "orders".into(),
            run_id: run_id.into(),
            mode: Mode::Incremental,
            watermark,
            committed_at: watermark + Duration::seconds(80),
            upserts: 12,
            deletes: 3,
            target_rows: 100,
            seq: 1,
            from_watermark: None,
            accepted_gaps: Vec::new(),
        }
    }

    fn journal(
        run_id: &str,
        started: DateTime<Utc>,
        stage: Stage,
        failed: bool,
        finished: bool,
    ) -> RunJournal {
        let mut journal = RunJournal::new(run_id, "orders", Mode::Incremental, None);
        journal.started_at = started;
        journal.updated_at = started + Duration::seconds(90);
        journal.stage = stage;
        journal.finished_at = finished.then_some(started + Duration::seconds(90));
        if failed {
            let cause = "statement 4 failed".to_owned();
            journal.failure = Some(JournalFailure { stage, cause, hint: "look".into() });
        }
        journal
    }

    fn reading(commit: Option<CommitRecord>, now: DateTime<Utc>, journals: Vec<RunJournal>) -> Reading {
        Reading { commit, source_now: now, simulated: false, lease: None, journals }
    }

    fn assess_orders(reading: Reading) -> TableHealth {
        let config = config();
        assess(&config, &config.tables[0], reading)
    }

    #[test]
    fn a_committed_table_within_lag_critical_is_healthy() {
        let journals = vec![journal("r2", at(10), Stage::Committed, false, true)];
        let health = assess_orders(reading(Some(commit("r2", at(10))), at(11), journals));
        assert!(health.healthy(), "{:?}", health.problems);
        assert_eq!(health.lag_seconds, Some(3600));
        let run = health.last_run.unwrap();
        assert_eq!(
            (run.result, run.upserts, run.deletes, run.duration_seconds),
            (RunResult::Committed, 12, 3, 90.0)
        );
        assert_eq!(health.last_success_at, Some(at(10) + Duration::seconds(90)));
    }

    #[test]
    fn lag_past_lag_critical_and_never_synced_are_unhealthy() {
        let health = assess_orders(reading(Some(commit("r1", at(1))), at(4), Vec::new()));
        assert_eq!(health.problems, ["lag 3h00m is past lag_critical (2h00m)"]);
        let health = assess_orders(reading(None, at(4), Vec::new()));
        assert_eq!(health.problems, ["never synced: run a full sync"]);
        assert_eq!(health.lag_seconds, None);
    }

    #[test]
    fn a_failed_last_run_is_unhealthy_with_its_stage_and_cause_and_counted() {
        let journals = vec![
            journal("r3", at(10), Stage::Loading, true, true),
            journal("r2", at(9), Stage::Committed, false, true),
            journal("r1", at(8), Stage::Planned, true, true),
        ];
        let health = assess_orders(reading(Some(commit("r2", at(9))), at(10), journals));
        assert_eq!(health.problems, ["the last run r3 failed at stage loading: statement 4 failed"]);
        assert_eq!(health.failures_total, 2);
        let run = health.last_run.unwrap();
        assert_eq!((run.result, run.upserts), (RunResult::Failed, 0));
        assert_eq!(run.failure.unwrap().stage, Stage::Loading);
        assert_eq!(health.last_success_at, Some(at(9) + Duration::seconds(90)));
    }

    #[test]
    fn the_running_run_is_not_the_last_run_but_an_abandoned_one_is_interrupted() {
        let journals = vec![
            journal("r3", at(10), Stage::Staging, false, false),
            journal("r2", at(9), Stage::Committed, false, true),
        ];
        let holder = LeaseHolder {
            run_id: "r3".into(),
            host: "ops-1".into(),
            pid: 1234,
            acquired_at: at(10),
            expires_at: at(10) + Duration::minutes(2),
            generation: 3,
        };
        let mut running = reading(Some(commit("r2", at(9))), at(10), journals.clone());
        running.lease = Some(holder);
        let health = assess_orders(running);
        assert!(health.healthy(), "{:?}", health.problems);
        assert_eq!(health.last_run.unwrap().run_id, "r2");
        assert_eq!(health.lease.unwrap().host, "ops-1");

        let health = assess_orders(reading(Some(commit("r2", at(9))), at(10), journals));
        let run = health.last_run.unwrap();
        assert_eq!((run.run_id.as_str(), run.result), ("r3", RunResult::Interrupted));
        assert!(!health.problems.is_empty());
    }

    #[test]
    fn pitr_headroom_is_given_for_aws_tables_only() {
        let health = assess_orders(reading(Some(commit("r1", at(10))), at(11), Vec::new()));
        assert_eq!(health.pitr_headroom_seconds, Some((PITR_WINDOW - Duration::hours(1)).num_seconds()));
        let config = config();
        let exports =
            assess(&config, &config.tables[1], reading(Some(commit("r1", at(10))), at(11), Vec::new()));
        assert_eq!(exports.pitr_headroom_seconds, None);
    }

    #[test]
    fn a_watermark_out_of_the_pitr_window_is_unhealthy() {
        let mut config = config();
        config.lag.critical = std::time::Duration::from_secs(365 * 86_400);
        let old = commit("r1", at(10) - Duration::days(36));
        let health = assess(&config, &config.tables[0], reading(Some(old), at(10), Vec::new()));
        assert!(
            health.problems[0].contains("left the 35-day point-in-time recovery window 1d0h ago"),
            "{:?}",
            health.problems
        );
    }

    fn priced(mut journal: RunJournal, usd: Option<f64>) -> RunJournal {
        let assumption = if usd.is_some() { "incremental export, …" } else { "price unknown for region x" };
        journal.cost = Some(CostEstimate { usd, billed_bytes: 10 << 20, assumption: assumption.into() });
        journal
    }

    #[test]
    fn status_shows_the_last_run_s_cost_the_30_day_total_and_a_projection_for_a_schedule() {
        let now = Utc::now();
        let journals = vec![
            priced(journal("r4", now - Duration::hours(1), Stage::Committed, false, true), Some(0.002)),
            priced(journal("r3", now - Duration::hours(2), Stage::Committed, false, true), Some(0.004)),
            priced(journal("r2", now - Duration::hours(3), Stage::Exported, true, true), None),
            priced(journal("r1", now - Duration::days(40), Stage::Committed, false, true), Some(5.0)),
            journal("r0", now - Duration::hours(4), Stage::Planned, false, true),
        ];
        let mut config = config();
        let commit = Some(commit("r4", now - Duration::hours(1)));
        let health = assess(&config, &config.tables[0], reading(commit.clone(), now, journals.clone()));
        assert_eq!(health.last_run.as_ref().and_then(|r| r.cost.as_ref()).and_then(|c| c.usd), Some(0.002));
        assert!((health.cost_30d.usd - 0.006).abs() < 1e-12, "{:?}", health.cost_30d);
        assert_eq!((health.cost_30d.runs_priced, health.cost_30d.runs_unpriced), (2, 1));
        assert_eq!(health.projected_30d, None, "no projection without every");

        config.tables[0].every = Some(std::time::Duration::from_secs(3600));
        let health = assess(&config, &config.tables[0], reading(commit, now, journals));
        let projection = health.projected_30d.expect("a projection with every");
        assert!((projection.usd - 0.003 * 720.0).abs() < 1e-9, "{projection:?}");
        let mut text = Vec::new();
        crate::monitor::status::print(std::slice::from_ref(&health), false, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains(
                "  export cost   last run $0.0020 · $0.0060 over 30 days (2 runs, 1 run without a price)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  projected     ~$2.16 per 30 days (720 runs × $0.0030 mean of the last 2 runs) at every 1h00m\n"),
            "{text}"
        );
        let json = serde_json::to_value(&health).unwrap();
        assert_eq!(json["cost_30d"]["runs_priced"], 2);
        assert_eq!(json["projected_30d"]["every_seconds"], 3600);
        assert_eq!(json["last_run"]["cost"]["usd"], 0.002);
    }
}
