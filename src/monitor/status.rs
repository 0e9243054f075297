//! `dynashift status [--json]`: how every table stands, for people and for monitoring checks.
//! Exit 0 when every table is healthy, 1 when any is not (its last run failed, its lag is past
//! `lag_critical`, it was never synced, or its state could not be read). Reading takes no lease
//! and writes nothing of dynashift's: no journal, no watermark, no warehouse row.
//!
//! A table with an `every` schedule also shows when it is due next (`next_due_at`), computed as
//! `--watch` and the console compute it; a table without one has no such field.
//!
//! Each table shows its export cost: the last run's estimate, the total of the last 30 days and,
//! with `every`, a 30-day projection (docs/cost.md).

use std::io::Write;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use super::health::{LastRun, RunResult, TableHealth, human};
use crate::contract::exit::{EXIT_OK, EXIT_RUN_FAILED};
use crate::cost;

/// The version of the `--json` document; bumped only when a field changes meaning or goes away.
pub const STATUS_VERSION: u32 = 1;

/// The whole `--json` document.
#[derive(Debug, Serialize)]
pub struct StatusDocument<'a> {
    pub version: u32,
    pub generated_at: DateTime<Utc>,
    pub healthy: bool,
    pub tables: Vec<TableEntry<'a>>,
}

/// One table of the document: its health, and the verdict.
#[derive(Debug, Serialize)]
pub struct TableEntry<'a> {
    #[serde(flatten)]
    pub health: &'a TableHealth,
    pub healthy: bool,
}

/// The exit code of a status check.
pub fn exit_code(tables: &[TableHealth]) -> u8 {
    if tables.iter().all(TableHealth::healthy) { EXIT_OK } else { EXIT_RUN_FAILED }
}

/// Prints the status of `tables` as one JSON document or as text; returns the exit code.
pub fn print(tables: &[TableHealth], json: bool, out: &mut dyn Write) -> std::io::Result<u8> {
    if json {
        let document = StatusDocument {
            version: STATUS_VERSION,
            generated_at: Utc::now(),
            healthy: tables.iter().all(TableHealth::healthy),
            tables: tables.iter().map(|health| TableEntry { health, healthy: health.healthy() }).collect(),
        };
        serde_json::to_writer_pretty(&mut *out, &document)?;
        writeln!(out)?;
    } else {
        for table in tables {
            write_table(table, out)?;
        }
        let unhealthy = tables.iter().filter(|t| !t.healthy()).count();
        let count = |n: usize| if n == 1 { "1 table".to_owned() } else { format!("{n} tables") };
        match unhealthy {
            0 => writeln!(out, "{}: all healthy", count(tables.len()))?,
            n => writeln!(out, "{}: {n} unhealthy", count(tables.len()))?,
        }
    }
    out.flush()?;
    Ok(exit_code(tables))
}

fn write_table(table: &TableHealth, out: &mut dyn Write) -> std::io::Result<()> {
    let verdict = if table.healthy() { "healthy" } else { "UNHEALTHY" };
    writeln!(out, "{} ({} → {}): {verdict}", table.table, table.source, table.target)?;
    for problem in &table.problems {
        writeln!(out, "  problem       {problem}")?;
    }
    if !table.readable() {
        return Ok(());
    }
    let clock = if table.source_clock_simulated { " on the demo's simulated clock" } else { "" };
    match (table.watermark, table.lag_seconds) {
        (Some(watermark), Some(lag)) => writeln!(
            out,
            "  watermark     {} · lag {}{clock}",
            stamp(watermark),
            human(Duration::seconds(lag))
        )?,
        _ => writeln!(out, "  watermark     none: never synced")?,
    }
    if let Some(headroom) = table.pitr_headroom_seconds {
        let text = if headroom >= 0 {
            format!(
                "{} before the watermark leaves the 35-day PITR window",
                human(Duration::seconds(headroom))
            )
        } else {
            "none: the watermark is outside the PITR window".to_owned()
        };
        writeln!(out, "  PITR headroom {text}")?;
    }
    match &table.lease {
        Some(lease) => writeln!(
            out,
            "  running       run {} on {} (pid {}) since {}",
            lease.run_id,
            lease.host,
            lease.pid,
            stamp(lease.since)
        )?,
        None => writeln!(out, "  running       no")?,
    }
    match &table.last_run {
        Some(run) => writeln!(out, "  last run      {}", last_run_text(run))?,
        None => writeln!(out, "  last run      none")?,
    }
    if let Some(drift) = table.last_run.as_ref().and_then(|run| run.drift.as_ref()) {
        writeln!(out, "  drift         {}", drift.summary())?;
        for attribute in drift.report().map(|r| r.unmapped.as_slice()).unwrap_or_default() {
            writeln!(out, "    add to columns: {}", attribute.column_entry)?;
        }
    }
    let success = table.last_success_at.map_or_else(|| "never".to_owned(), stamp);
    let failures = crate::human::counted(table.failures_total, "failed run");
    writeln!(out, "  last success  {success} · {failures} recorded")?;
    writeln!(out, "  export cost   {}", cost_text(table))?;
    if let Some(projection) = &table.projected_30d {
        writeln!(
            out,
            "  projected     {} at every {}",
            cost::projection_text(projection),
            schedule_text(table)
        )?;
    }
    match table.next_due_at {
        Some(due) if due <= Utc::now() => writeln!(out, "  next due      now (due since {})", stamp(due)),
        Some(due) => writeln!(out, "  next due      {}", stamp(due)),
        None => Ok(()),
    }
}

/// `last run $0.0010 · $0.0420 over 30 days (12 runs)`: estimates (docs/cost.md).
fn cost_text(table: &TableHealth) -> String {
    let last = match table.last_run.as_ref().and_then(|run| run.cost.as_ref()) {
        Some(cost) => format!("last run {}", cost.usd_text()),
        None => "last run none".to_owned(),
    };
    format!("{last} · {}", cost::window_text(&table.cost_30d))
}

/// The cadence a projection assumes, as configured.
fn schedule_text(table: &TableHealth) -> String {
    table.projected_30d.map_or_else(String::new, |p| human(Duration::seconds(p.every_seconds as i64)))
}

fn last_run_text(run: &LastRun) -> String {
    let mode = match run.mode {
        crate::config::Mode::Full => "full",
        crate::config::Mode::Incremental => "incremental",
    };
    let took = format!("{:.1}s", run.duration_seconds);
    let result = match run.result {
        RunResult::Committed => {
            format!("committed +{} −{}", crate::human::count(run.upserts), crate::human::count(run.deletes))
        }
        RunResult::UpToDate => "up to date".to_owned(),
        RunResult::Failed | RunResult::Interrupted => {
            let word = if run.result == RunResult::Failed { "failed" } else { "interrupted" };
            match &run.failure {
                Some(f) => format!("{word} at stage {}: {} — what to do: {}", f.stage, f.cause, f.hint),
                None => word.to_owned(),
            }
        }
    };
    format!("{} · {mode} · {} · {took} · {result}", run.run_id, stamp(run.started_at))
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}
