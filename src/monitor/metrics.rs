//! The `[metrics]` file: every table's health in Prometheus text exposition format (0.0.4), for
//! node_exporter's textfile collector, rewritten whole after each run. The format: one
//! `# HELP` and one `# TYPE` line per metric family, then its samples `name{label="value"} number`;
//! label values escape `\`, `"` and newlines (Prometheus docs, "Exposition formats").
//!
//! The failure counter survives restarts because it is not kept in this process: it is counted
//! from the run journals in the store, which outlive every process.

use std::fmt::Write as _;
use std::path::Path;

use super::health::TableHealth;

/// One metric family: its name, type, help text and how a table's value is read.
struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: fn(&TableHealth) -> Option<f64>,
}

const FAMILIES: &[Family] = &[
    Family {
        name: "dynashift_healthy",
        kind: "gauge",
        help: "1 when the table is healthy as `dynashift status` judges it (last run did not fail, lag within lag_critical), else 0.",
        value: |h| Some(if h.healthy() { 1.0 } else { 0.0 }),
    },
    Family {
        name: "dynashift_lag_seconds",
        kind: "gauge",
        help: "Seconds from the committed watermark to the source's clock when the file was written (absent: never synced).",
        value: |h| h.lag_seconds.map(|s| s as f64),
    },
    Family {
        name: "dynashift_pitr_headroom_seconds",
        kind: "gauge",
        help: "Seconds until the watermark leaves the 35-day point-in-time recovery window (aws tables).",
        value: |h| h.pitr_headroom_seconds.map(|s| s as f64),
    },
    Family {
        name: "dynashift_last_success_timestamp_seconds",
        kind: "gauge",
        help: "Unix time the newest successful run (committed or up to date) ended.",
        value: |h| h.last_success_at.map(|t| t.timestamp_millis() as f64 / 1000.0),
    },
    Family {
        name: "dynashift_last_run_duration_seconds",
        kind: "gauge",
        help: "Wall-clock seconds the last run took.",
        value: |h| h.last_run.as_ref().map(|r| r.duration_seconds),
    },
    Family {
        name: "dynashift_last_run_upserted_rows",
        kind: "gauge",
        help: "Rows the last run inserted or updated in the target (0 unless it committed).",
        value: |h| h.last_run.as_ref().map(|r| r.upserts as f64),
    },
    Family {
        name: "dynashift_last_run_deleted_rows",
        kind: "gauge",
        help: "Rows the last run deleted from the target (0 unless it committed).",
        value: |h| h.last_run.as_ref().map(|r| r.deletes as f64),
    },
    Family {
        name: "dynashift_last_run_billed_bytes",
        kind: "gauge",
        help: "Bytes DynamoDB billed for the last run's exports (BilledSizeBytes).",
        value: |h| h.last_run.as_ref().map(|r| r.billed_bytes as f64),
    },
    Family {
        name: "dynashift_last_run_export_cost_usd",
        kind: "gauge",
        help: "Estimated US dollars of the last run's exports at list price (absent: no estimate or no price; docs/cost.md).",
        value: |h| h.last_run.as_ref().and_then(|r| r.cost.as_ref()).and_then(|c| c.usd),
    },
    Family {
        name: "dynashift_export_cost_30d_usd",
        kind: "gauge",
        help: "Estimated US dollars of the exports of the runs started in the last 30 days (priced runs only).",
        value: |h| Some(h.cost_30d.usd),
    },
    Family {
        name: "dynashift_projected_export_cost_30d_usd",
        kind: "gauge",
        help: "What 30 days of the table's every would cost at the mean estimate of its recent runs (scheduled tables).",
        value: |h| h.projected_30d.map(|p| p.usd),
    },
    Family {
        name: "dynashift_failures_total",
        kind: "counter",
        help: "Runs of the table that failed, counted from the run journals kept in the store.",
        value: |h| h.readable().then_some(h.failures_total as f64),
    },
];

/// The exposition text for `tables`. A table whose state could not be read gets only its
/// `dynashift_healthy 0` sample, so no counter ever reads as a reset to zero.
pub fn render(tables: &[TableHealth]) -> String {
    let mut text = String::new();
    for family in FAMILIES {
        let samples: Vec<(String, f64)> = tables
            .iter()
            .filter(|h| h.readable() || family.name == "dynashift_healthy")
            .filter_map(|h| (family.value)(h).map(|v| (h.table.clone(), v)))
            .collect();
        if samples.is_empty() {
            continue;
        }
        let _ = writeln!(text, "# HELP {} {}", family.name, escape_help(family.help));
        let _ = writeln!(text, "# TYPE {} {}", family.name, family.kind);
        for (table, value) in samples {
            let _ = writeln!(text, "{}{{table=\"{}\"}} {value}", family.name, escape_label(&table));
        }
    }
    text
}

/// Writes the file atomically (temporary, fsync, rename), readable by node_exporter's user.
pub fn write(path: &Path, text: &str) -> std::io::Result<()> {
    crate::store::write_readable_file(path, text.as_bytes())
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::monitor::health::{LastRun, RunResult};

    fn health(table: &str) -> TableHealth {
        TableHealth {
            table: table.into(),
            target: table.into(),
            source: "aws",
            watermark: Some(Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()),
            source_now: Utc.with_ymd_and_hms(2026, 12, 1, 11, 0, 0).unwrap(),
            source_clock_simulated: false,
            lag_seconds: Some(3600),
            pitr_headroom_seconds: Some(86_400),
            lease: None,
            last_run: Some(LastRun {
                run_id: "r1".into(),
                mode: crate::config::Mode::Incremental,
                result: RunResult::Committed,
                started_at: Utc.with_ymd_and_hms(2026, 12, 1, 10, 5, 0).unwrap(),
                finished_at: None,
                duration_seconds: 1.5,
                failure: None,
                upserts: 7,
                deletes: 2,
                billed_bytes: 10_000_000,
                cost: Some(crate::contract::CostEstimate {
                    usd: Some(0.25),
                    billed_bytes: 10_000_000,
                    assumption: "a".into(),
                }),
                drift: None,
            }),
            last_success_at: Some(Utc.with_ymd_and_hms(2026, 12, 1, 10, 6, 0).unwrap()),
            next_due_at: None,
            failures_total: 4,
            cost_30d: crate::cost::WindowTotal { usd: 1.5, runs_priced: 6, runs_unpriced: 0 },
            projected_30d: Some(crate::cost::Projection {
                usd: 180.0,
                every_seconds: 3600,
                runs: 720.0,
                mean_run_usd: 0.25,
                sample: 6,
            }),
            problems: Vec::new(),
            read_error: None,
        }
    }

    #[test]
    fn every_family_has_help_and_type_and_one_sample_per_table() {
        let text = render(&[health("orders"), health("cus\"t")]);
        for family in FAMILIES {
            assert!(text.contains(&format!("# HELP {} ", family.name)), "{}", family.name);
            assert!(text.contains(&format!("# TYPE {} {}\n", family.name, family.kind)), "{}", family.name);
        }
        assert!(text.contains("dynashift_failures_total{table=\"orders\"} 4\n"), "{text}");
        assert!(
            text.contains("dynashift_last_success_timestamp_seconds{table=\"orders\"} 1796119560\n"),
            "{text}"
        );
        assert!(text.contains("dynashift_last_run_billed_bytes{table=\"cus\\\"t\"} 10000000\n"), "{text}");
        assert!(text.contains("dynashift_last_run_duration_seconds{table=\"orders\"} 1.5\n"), "{text}");
        assert!(text.contains("dynashift_last_run_export_cost_usd{table=\"orders\"} 0.25\n"), "{text}");
        assert!(text.contains("dynashift_projected_export_cost_30d_usd{table=\"orders\"} 180\n"), "{text}");
    }

    #[test]
    fn an_unreadable_table_reports_only_that_it_is_unhealthy() {
        let mut broken = health("orders");
        broken.read_error = Some("the warehouse is unreachable".into());
        broken.problems = vec!["cannot read".into()];
        let text = render(&[broken]);
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples, ["dynashift_healthy{table=\"orders\"} 0"]);
    }
}
