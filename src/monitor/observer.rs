//! What happens after each run: the `[metrics]` file is rewritten and the `[notify]` command
//! runs when the outcome asks for it. Hooked into the engine as its [`RunObserver`], so runs from
//! the console and from `--headless` are treated alike.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::health::{self, TableHealth};
use super::{metrics, notify};
use crate::config::{Config, MetricsConfig, Mode, NotifyConfig};
use crate::pipeline::{EndedRun, Engine, RunObserver, RunOutcome};

/// Why a notification is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The run failed (always notified).
    Failed,
    /// The run succeeded but the table still lags past `lag_critical` (`on_lag = true`).
    LagCritical,
    /// The run succeeded (`on_success = true`).
    Succeeded,
}

/// The JSON document the notify command reads on stdin (schema in docs/monitoring.md).
#[derive(Debug, Serialize)]
pub struct Notification<'a> {
    pub version: u32,
    pub reason: Reason,
    pub table: &'a str,
    pub run_id: &'a str,
    pub mode: Mode,
    pub ok: bool,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'a RunOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureView<'a>>,
    pub watermark: Option<DateTime<Utc>>,
    pub lag_seconds: Option<i64>,
    pub lag_critical_seconds: u64,
    pub host: String,
    pub config: String,
}

#[derive(Debug, Serialize)]
pub struct FailureView<'a> {
    pub stage: String,
    pub cause: &'a str,
    pub hint: &'a str,
}

/// The engine's after-run hook for `[notify]` and `[metrics]`.
pub struct AfterRun {
    notify: Option<NotifyConfig>,
    metrics: Option<MetricsConfig>,
    lag_critical: std::time::Duration,
    config_path: String,
    /// Headless: one line on stderr per notification and per metrics write that failed (the
    /// console has no stderr to spare; it logs only).
    print_lines: bool,
    /// One metrics reading and write at a time, so the file ends with the newest state.
    metrics_turn: tokio::sync::Mutex<()>,
}

impl AfterRun {
    /// The hook `config` asks for; `None` when it configures neither section.
    pub fn from_config(config: &Config, print_lines: bool) -> Option<Arc<dyn RunObserver>> {
        if config.notify.is_none() && config.metrics.is_none() {
            return None;
        }
        Some(Arc::new(AfterRun {
            notify: config.notify.clone(),
            metrics: config.metrics.clone(),
            lag_critical: config.lag.critical,
            config_path: config.path.display().to_string(),
            print_lines,
            metrics_turn: tokio::sync::Mutex::new(()),
        }))
    }

    fn say(&self, line: String) {
        if self.print_lines {
            eprintln!("dynashift: {line}");
        }
    }

    async fn write_metrics(&self, metrics: &MetricsConfig, all: &[TableHealth]) {
        let text = metrics::render(all);
        let path = metrics.file.clone();
        let written = tokio::task::spawn_blocking(move || metrics::write(&path, &text)).await;
        match written {
            Ok(Ok(())) => tracing::debug!(file = %metrics.file.display(), "metrics written"),
            Ok(Err(err)) => {
                tracing::warn!(file = %metrics.file.display(), %err, "could not write the metrics file");
                self.say(format!(
                    "metrics: could not write {}: {err} (check `file` in [metrics] and the folder's permissions)",
                    metrics.file.display()
                ));
            }
            Err(err) => tracing::warn!(%err, "the metrics writer stopped"),
        }
    }

    async fn notify(&self, notify: &NotifyConfig, run: &EndedRun<'_>, health: Option<&TableHealth>) {
        let lag_critical = self.lag_critical.as_secs();
        let lagging = health.and_then(|h| h.lag_seconds).is_some_and(|lag| lag > lag_critical as i64);
        let Some(reason) = reason(notify, run, lagging) else { return };
        let failure = run.result.as_ref().err().map(|f| FailureView {
            stage: f.stage.to_string(),
            cause: &f.cause,
            hint: &f.hint,
        });
        let document = Notification {
            version: 1,
            reason,
            table: run.table,
            run_id: run.run_id,
            mode: run.mode,
            ok: run.result.is_ok(),
            started_at: run.started_at,
            finished_at: run.finished_at,
            duration_seconds: (run.finished_at - run.started_at).num_milliseconds().max(0) as f64 / 1000.0,
            outcome: run.result.as_ref().ok(),
            failure,
            watermark: health.and_then(|h| h.watermark),
            lag_seconds: health.and_then(|h| h.lag_seconds),
            lag_critical_seconds: lag_critical,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            config: self.config_path.clone(),
        };
        let payload = serde_json::to_vec(&document).expect("notifications always serialize");
        let delivery = notify::deliver(notify, &payload).await;
        let outcome = delivery.describe(notify);
        let program = &notify.command[0];
        if delivery.succeeded() {
            tracing::info!(table = run.table, run_id = run.run_id, ?reason, %outcome, "notify command ran");
        } else {
            let stderr = match &delivery {
                notify::Delivery::Exited { stderr, .. } => stderr.as_str(),
                _ => "",
            };
            tracing::warn!(table = run.table, run_id = run.run_id, ?reason, %outcome, stderr, "notify command failed");
        }
        let reason_text = serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_owned));
        self.say(format!(
            "notify: `{program}` for {} ({}) {outcome}",
            run.table,
            reason_text.unwrap_or_default()
        ));
    }
}

/// Whether a run's end is notified, and why: failures always; successes when asked, a
/// success that leaves the table past `lag_critical` first. A run skipped because another
/// holds the lease is no failure (overlapping cron runs are normal) and is never notified.
pub fn reason(notify: &NotifyConfig, run: &EndedRun<'_>, lagging: bool) -> Option<Reason> {
    match run.result {
        Err(failure) if failure.lease_held => None,
        Err(_) => Some(Reason::Failed),
        Ok(_) if notify.on_lag && lagging => Some(Reason::LagCritical),
        Ok(_) if notify.on_success => Some(Reason::Succeeded),
        Ok(_) => None,
    }
}

#[async_trait::async_trait]
impl RunObserver for AfterRun {
    async fn run_ended(&self, engine: &Engine, run: EndedRun<'_>) {
        if matches!(run.result, Err(failure) if failure.lease_held) {
            return;
        }
        let all = {
            let _turn = self.metrics_turn.lock().await;
            let all = health::read_all(engine).await;
            if let Some(metrics) = &self.metrics {
                self.write_metrics(metrics, &all).await;
            }
            all
        };
        if let Some(notify) = &self.notify {
            let health = all.iter().find(|h| h.table == run.table && h.readable());
            self.notify(notify, &run, health).await;
        }
    }
}
