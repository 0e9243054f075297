//! `dynashift --headless --watch`: runs each selected table whenever its `every` says it is due,
//! until stopped. One line per run start and per run outcome (text or JSON Lines), a held lease
//! is a skip (logged, never a failure), `max_concurrent_runs` bounds the runs (the engine's
//! semaphore), and SIGTERM / SIGINT / SIGHUP cancel the running runs — which end resumable, as
//! any cancelled run does — and exit 0.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, Mode};
use crate::contract::exit::EXIT_OK;
use crate::human;
use crate::pipeline::events::{EventKind, RunEvent, RunOutcome};
use crate::pipeline::{Engine, RunFailure, RunRequest};
use crate::schedule::{DueRun, Schedule};
use crate::signals::Signals;
use crate::source::PlanOptions;

/// What `--watch` was asked to do.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    /// Tables to keep in sync; each has `every` (checked by [`unscheduled`] first).
    pub tables: Vec<String>,
    /// `--mode`: the mode of every run after a table's first sync; `None`: its configured mode.
    pub mode: Option<Mode>,
    pub json: bool,
    pub options: PlanOptions,
}

/// Longest sleep between checks: runs made by other processes (cron, a console) are noticed
/// at least this often, before a table's slot comes.
const LONGEST_NAP: Duration = Duration::from_secs(60);

/// Exit code of a process ended by a second stop signal (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: i32 = 130;

/// The usage error for `--watch` over tables without `every`, naming them; `None` when every
/// selected table is scheduled.
pub fn unscheduled(config: &Config, tables: &[String]) -> Option<String> {
    let missing: Vec<&str> = tables
        .iter()
        .filter(|name| config.table(name).is_some_and(|t| t.every.is_none()))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return None;
    }
    Some(format!(
        "{}: --watch runs tables on their schedule, but {} no `every`: {}; add every = \"1h\" to each \
         (or to [defaults]), or leave them out with --table",
        config.path.display(),
        if missing.len() == 1 { "this table has" } else { "these tables have" },
        missing.join(", ")
    ))
}

/// A run that ended, from its join handle.
struct Ended {
    table: String,
    run_id: String,
    result: Result<RunOutcome, RunFailure>,
}

/// Watches until a stop signal; returns the exit code (0 after a clean stop).
pub async fn run(
    engine: Engine,
    mut events: mpsc::UnboundedReceiver<RunEvent>,
    request: WatchRequest,
    out: &mut (dyn Write + Send),
) -> u8 {
    let mut signals = match Signals::new() {
        Ok(signals) => Some(signals),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for stop signals; a stop will end the process at once");
            None
        }
    };
    let mut log = WatchLog { json: request.json, out };
    let mut schedule = initial_schedule(&engine, &request.tables).await;
    log.line(
        None,
        "watching",
        &format!("{} on their schedules", human::counted(request.tables.len() as u64, "table")),
        None,
    );
    let (ended_tx, mut ended_rx) = mpsc::unbounded_channel::<Ended>();
    let mut running: BTreeMap<String, CancellationToken> = BTreeMap::new();
    loop {
        let now = Utc::now();
        for due in schedule.due(now) {
            if let Some(cancel) = start_due(&engine, &request, &mut schedule, &mut log, &ended_tx, due).await
            {
                running.insert(cancel.0, cancel.1);
            }
        }
        let nap = nap_until(schedule.next_wakeup(Utc::now()));
        tokio::select! {
            Some(ended) = ended_rx.recv() => {
                running.remove(&ended.table);
                report_end(&mut schedule, &mut log, ended, false);
            }
            Some(event) = events.recv() => log.event(&event),
            () = tokio::time::sleep(nap) => {}
            () = stop_signal(&mut signals) => break,
        }
    }
    log.line(
        None,
        "stopping",
        &format!("stop requested: cancelling {}", human::counted(running.len() as u64, "running run")),
        None,
    );
    running.values().for_each(CancellationToken::cancel);
    while !running.is_empty() {
        tokio::select! {
            Some(ended) = ended_rx.recv() => {
                running.remove(&ended.table);
                report_end(&mut schedule, &mut log, ended, true);
            }
            Some(event) = events.recv() => log.event(&event),
            () = stop_signal(&mut signals) => {
                eprintln!("dynashift: second stop signal: exiting; the next run resumes the interrupted ones");
                std::process::exit(EXIT_INTERRUPTED);
            }
        }
    }
    log.line(None, "stopped", "every run ended; the next start resumes any cancelled one", None);
    EXIT_OK
}

/// The schedule as the warehouse and the journals tell it now. A table whose state cannot be
/// read is taken as synced and due at once: its run then says what is wrong, and an unreadable
/// warehouse never triggers a full sync that replaces the target.
async fn initial_schedule(engine: &Engine, tables: &[String]) -> Schedule {
    let mut schedule = Schedule::new();
    for table in tables {
        let Some(every) = engine.config().table(table).and_then(|t| t.every) else { continue };
        match engine.status(table).await {
            Ok(status) => schedule.add(
                table,
                every,
                status.watermark.is_some(),
                status.last_run.map(|run| run.started_at),
            ),
            Err(error) => {
                tracing::warn!(table, %error, "reading the table's state for its schedule");
                schedule.add(table, every, true, None);
            }
        }
    }
    schedule
}

/// Starts a due table's run, after a last look at what other processes did (a cron run may have
/// synced it since). Returns its table and cancel token when it started.
async fn start_due(
    engine: &Engine,
    request: &WatchRequest,
    schedule: &mut Schedule,
    log: &mut WatchLog<'_>,
    ended: &mpsc::UnboundedSender<Ended>,
    due: DueRun,
) -> Option<(String, CancellationToken)> {
    let table = due.table.clone();
    if let Ok(status) = engine.status(&table).await {
        schedule.observed(&table, status.watermark.is_some(), status.last_run.map(|run| run.started_at));
        if !schedule.due(Utc::now()).iter().any(|d| d.table == table) {
            return None;
        }
    }
    let configured = engine.config().table(&table).map_or(Mode::Incremental, |t| t.mode);
    let mode = if due.first_sync { Mode::Full } else { request.mode.unwrap_or(configured) };
    let why = match (due.first_sync, due.missed) {
        (true, _) => "never synced: its first run is a full sync".to_owned(),
        (false, 0) => format!("due: {mode} sync"),
        (false, missed) => format!(
            "due: {mode} sync, catching up ({} passed since the last run; this one run covers them)",
            human::counted_as(u64::from(missed), "more slot", "more slots")
        ),
    };
    let now = Utc::now();
    match engine.start_with(&table, RunRequest { mode, dry_run: false }, request.options) {
        Ok(handle) => {
            schedule.started(&table, now);
            log.line(Some(&table), "started", &format!("{why}; run {}", handle.run_id), None);
            let cancel = handle.cancel.clone();
            let ended = ended.clone();
            tokio::spawn(async move {
                let result = handle.join.await.unwrap_or_else(|join_error| {
                    Err(RunFailure {
                        stage: crate::pipeline::Stage::Planned,
                        cause: format!("the run crashed: {join_error}"),
                        hint: "this is a bug: please report it with the log file".into(),
                        lease_held: false,
                    })
                });
                let _ = ended.send(Ended { table: handle.table, run_id: handle.run_id, result });
            });
            Some((table, cancel))
        }
        Err(error) => {
            schedule.started(&table, now);
            schedule.finished(&table, false);
            log.line(Some(&table), "failed", &format!("could not start: {error} — {}", error.hint()), None);
            None
        }
    }
}

/// One line for a run's outcome, with when the table is due next. `stopping`: the watcher
/// cancelled its runs, so a failure is that cancel.
fn report_end(schedule: &mut Schedule, log: &mut WatchLog<'_>, ended: Ended, stopping: bool) {
    let committed = matches!(ended.result, Ok(RunOutcome::Committed { .. }));
    schedule.finished(&ended.table, committed);
    let next = schedule.next_due(&ended.table, Utc::now()).filter(|_| !stopping);
    let (status, text) = match &ended.result {
        Ok(RunOutcome::Committed { watermark, upserts, deletes, target_rows }) => (
            "ok",
            format!(
                "committed up to {}: {}, {}, target holds {}",
                watermark.format("%Y-%m-%d %H:%M:%SZ"),
                human::counted(*upserts, "upsert"),
                human::counted(*deletes, "delete"),
                human::counted(*target_rows, "row")
            ),
        ),
        Ok(RunOutcome::UpToDate { reason, .. }) => ("ok", format!("up to date ({reason})")),
        Ok(RunOutcome::DryRun) => ("ok", "dry run".to_owned()),
        Err(failure) if failure.lease_held => {
            ("skipped", format!("another run holds the table: {} — not a failure", failure.cause))
        }
        Err(failure) if stopping && failure.cause.contains("cancelled") => {
            ("cancelled", format!("cancelled at stage {}; the next run resumes it", failure.stage))
        }
        Err(failure) => (
            "failed",
            format!("at stage {}: {} — what to do: {}", failure.stage, failure.cause, failure.hint),
        ),
    };
    log.line(Some(&ended.table), status, &format!("{text} (run {})", ended.run_id), next);
}

/// How long to sleep: until the next table is due, at most [`LONGEST_NAP`].
fn nap_until(next: Option<DateTime<Utc>>) -> Duration {
    let Some(next) = next else { return LONGEST_NAP };
    (next - Utc::now()).to_std().unwrap_or(Duration::ZERO).min(LONGEST_NAP)
}

/// The next stop signal; never, when signals cannot be listened to.
async fn stop_signal(signals: &mut Option<Signals>) {
    match signals {
        Some(signals) => signals.recv().await,
        None => std::future::pending().await,
    }
}

/// The watcher's output: one line per start and outcome, plus warnings from runs.
struct WatchLog<'a> {
    json: bool,
    out: &'a mut (dyn Write + Send),
}

impl WatchLog<'_> {
    fn line(&mut self, table: Option<&str>, status: &str, text: &str, next: Option<DateTime<Utc>>) {
        let now = Utc::now();
        if self.json {
            let mut line = serde_json::json!({
                "event": "watch", "at": now, "table": table, "status": status, "message": text,
            });
            if let Some(next) = next {
                line["next_due"] = serde_json::json!(next);
            }
            let _ = writeln!(self.out, "{line}");
        } else {
            let next = match next {
                Some(next) if next <= now => "; due again now".to_owned(),
                Some(next) => format!("; next at {}", next.format("%H:%M:%S")),
                None => String::new(),
            };
            let table = table.map(|t| format!("{t}: ")).unwrap_or_default();
            let _ = writeln!(
                self.out,
                "{} {:<9} {table}{text}{next}",
                now.format("%Y-%m-%dT%H:%M:%SZ"),
                status.to_uppercase()
            );
        }
        let _ = self.out.flush();
    }

    /// Runs' warnings (a watermark near the PITR edge, …) and resumes are worth a line; the rest
    /// of a run's events are summed up by its outcome line.
    fn event(&mut self, event: &RunEvent) {
        match &event.kind {
            EventKind::Warning { message } => self.line(Some(&event.table), "warning", message, None),
            EventKind::Resuming { resumed_run_id, stage } => {
                let text = format!("picking up run {resumed_run_id} at stage {stage}");
                self.line(Some(&event.table), "resuming", &text, None);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn outcome_lines_say_when_the_table_runs_next_in_text_and_json() {
        let next = Utc::now() + chrono::Duration::hours(1);
        let mut text = Vec::new();
        WatchLog { json: false, out: &mut text }.line(Some("orders"), "ok", "committed", Some(next));
        WatchLog { json: false, out: &mut text }.line(Some("orders"), "ok", "up to date", Some(Utc::now()));
        let text = String::from_utf8(text).unwrap();
        let expected = format!(" OK        orders: committed; next at {}\n", next.format("%H:%M:%S"));
        assert!(text.lines().next().is_some_and(|l| format!("{l}\n").ends_with(&expected)), "{text}");
        assert!(text.lines().nth(1).is_some_and(|l| l.ends_with("up to date; due again now")), "{text}");
        let mut json = Vec::new();
        WatchLog { json: true, out: &mut json }.line(Some("orders"), "skipped", "held", Some(next));
        let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!((json["event"].as_str(), json["status"].as_str()), (Some("watch"), Some("skipped")));
        assert_eq!(json["table"], "orders");
        assert!(json["next_due"].is_string() && json["at"].is_string(), "{json}");
    }

    #[test]
    fn watching_tables_without_every_is_refused_naming_them() {
        let text = "[[table]]\nname = \"orders\"\nkey = [\"pk\", \"sk\"]\nevery = \"1h\"\n\
                    [[table]]\nname = \"customers\"\nkey = [\"customer_id\"]\n";
        let config = crate::config::load_str(text, Path::new("/c/tables.toml")).unwrap();
        let message = unscheduled(&config, &["orders".into(), "customers".into()]).expect("refused");
        assert!(message.contains("this table has no `every`: customers;"), "{message}");
        assert!(!message.contains("orders"), "{message}");
        assert_eq!(unscheduled(&config, &["orders".into()]), None);
    }
}
