//! The one event stream every front end renders.
//!
//! A run reports everything it does as [`RunEvent`]s on a channel: the console draws them, the
//! headless printer prints them (as text or JSON Lines, where the serde names below are the
//! documented, stable field names), and tests assert on them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::export::{ExportSpec, ExportStatus};
use super::mode::Mode;
use super::pricing::CostEstimate;

/// The stages of a run, in order. The run journal records the last one reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Planned,
    Exporting,
    Exported,
    Staging,
    Staged,
    Loading,
    Loaded,
    Committed,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Planned => "planned",
            Stage::Exporting => "exporting",
            Stage::Exported => "exported",
            Stage::Staging => "staging",
            Stage::Staged => "staged",
            Stage::Loading => "loading",
            Stage::Loaded => "loaded",
            Stage::Committed => "committed",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counters of the stage step (manifest generation), cumulative for the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageCounts {
    pub files_done: u64,
    pub files_total: u64,
    /// Export lines read.
    pub items_read: u64,
    /// Rows staged for insert/update.
    pub upserts: u64,
    /// Keys staged for delete.
    pub deletes: u64,
    /// Lines dropped because a newer window changed the same key.
    pub superseded: u64,
    /// Values loaded as NULL because they did not fit their column (`on_type_error = "null"`).
    pub nulled_values: u64,
    /// Compressed bytes read from export data files.
    pub bytes_in: u64,
    /// Compressed bytes of staged files written.
    pub bytes_out: u64,
    pub elapsed_ms: u64,
    /// Partitions the fold by key spilled into, its keys being too many for `stage_memory_mb`
    /// (0: folded in memory). Absent from journals and `--json` of earlier versions.
    #[serde(default)]
    pub spill_partitions: u64,
}

/// Status of one warehouse statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementStatus {
    Finished,
    Failed,
    Aborted,
}

/// How a run ended well.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RunOutcome {
    /// The load committed and the watermark moved to `watermark`.
    Committed { watermark: DateTime<Utc>, upserts: u64, deletes: u64, target_rows: u64 },
    /// Nothing to do yet (e.g. less than one minimum window since the watermark).
    UpToDate { watermark: Option<DateTime<Utc>>, reason: String },
    /// A dry run: the plan was reported, nothing changed.
    DryRun,
}

/// What happened. Serialized with an `"event"` tag; every field name is part of the JSON Lines
/// interface documented in docs/output.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    RunStarted {
        mode: Mode,
        dry_run: bool,
        source: String,
        store: String,
        warehouse: String,
        target: String,
    },
    /// A run interrupted earlier is being continued.
    Resuming {
        resumed_run_id: String,
        stage: Stage,
    },
    /// The run moved to a new stage.
    StageChanged {
        stage: Stage,
    },
    /// The exports this run applies, oldest first (several when catching up).
    Planned {
        exports: Vec<ExportSpec>,
        notes: Vec<String>,
    },
    /// The run applies exports with changes in `[from, to)` in none of them, as the user
    /// allowed (`--accept-gap`); recorded with the commit.
    GapAccepted {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    ExportRequested {
        index: usize,
        total: usize,
        export_arn: String,
        spec: ExportSpec,
    },
    /// An export already in the store is used as is (the `exports` source).
    ExportFound {
        index: usize,
        total: usize,
        export_arn: String,
        spec: ExportSpec,
    },
    ExportPolled {
        index: usize,
        export_arn: String,
        status: ExportStatus,
        elapsed_ms: u64,
        polls: u32,
        item_count: Option<u64>,
        billed_size_bytes: Option<u64>,
    },
    ExportCompleted {
        index: usize,
        export_arn: String,
        item_count: u64,
        billed_size_bytes: u64,
        data_files: usize,
    },
    /// What the run's exports cost, estimated from their billed bytes and AWS's list price
    /// ([`super::pricing`]); once the exports completed. `usd` is absent when no price is known
    /// for the region, and `assumption` then says which key to set.
    CostEstimated {
        usd: Option<f64>,
        billed_bytes: u64,
        assumption: String,
    },
    StagingStarted {
        files_total: u64,
        exports: usize,
    },
    /// A data file matched its manifest entry (item count, and MD5 when the manifest has one).
    FileVerified {
        key: String,
        items: u64,
        md5_checked: bool,
    },
    StagingProgress {
        counts: StageCounts,
    },
    StagingFinished {
        counts: StageCounts,
        staged_files: usize,
        manifest_url: String,
    },
    /// A dry run's statement: what would run.
    StatementPlanned {
        index: usize,
        total: usize,
        label: String,
        sql: String,
    },
    StatementSubmitted {
        index: usize,
        total: usize,
        label: String,
        sql: String,
    },
    StatementStarted {
        index: usize,
        query_id: Option<String>,
    },
    StatementFinished {
        index: usize,
        status: StatementStatus,
        duration_ms: u64,
        rows: Option<i64>,
        error: Option<String>,
        query_id: Option<String>,
    },
    /// After staging, unless the table says `on_drift = "ignore"`: the export holds attributes
    /// no column maps, or mapped attributes of a type their column does not expect (`counted`);
    /// or the run could not count them (`not_counted`: a pushdown load never shows dynashift its
    /// items). Not emitted when nothing drifted.
    Drift {
        check: super::drift::DriftCheck,
    },
    /// Counts checked after the load.
    Reconciled {
        target_rows: u64,
        upserts: u64,
        deletes: u64,
    },
    WatermarkAdvanced {
        from: Option<DateTime<Utc>>,
        to: DateTime<Utc>,
    },
    Warning {
        message: String,
    },
    RunFinished {
        result: RunOutcome,
    },
    /// The run failed at `stage`; `cause` is the whole error chain, `hint` what to do.
    RunFailed {
        stage: Stage,
        cause: String,
        hint: String,
    },
}

impl EventKind {
    /// The `cost_estimated` event of `estimate`.
    pub fn cost_estimated(estimate: &CostEstimate) -> EventKind {
        EventKind::CostEstimated {
            usd: estimate.usd,
            billed_bytes: estimate.billed_bytes,
            assumption: estimate.assumption.clone(),
        }
    }
}

/// One event of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEvent {
    pub run_id: String,
    pub table: String,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl RunEvent {
    /// Whether this event ends its run.
    pub fn is_terminal(&self) -> bool {
        matches!(self.kind, EventKind::RunFinished { .. } | EventKind::RunFailed { .. })
    }
}

/// The sending side handed to a run and its adapters: stamps each event with run, table and time.
/// Sending never blocks and never fails the run (a closed receiver just drops events).
#[derive(Clone)]
pub struct EventSink {
    run_id: String,
    table: String,
    tx: mpsc::UnboundedSender<RunEvent>,
    /// Sees each event as it is emitted, on the emitting thread, before anything else does.
    on_emit: Option<EmitHook>,
}

/// A synchronous look at each emitted event: where the pipeline's `crash-in-load` fault fires, so
/// the process stops right after the statement it names and never after a later one.
pub type EmitHook = std::sync::Arc<dyn Fn(&EventKind) + Send + Sync>;

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink")
            .field("run_id", &self.run_id)
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl EventSink {
    pub fn new(
        run_id: impl Into<String>,
        table: impl Into<String>,
        tx: mpsc::UnboundedSender<RunEvent>,
    ) -> EventSink {
        EventSink { run_id: run_id.into(), table: table.into(), tx, on_emit: None }
    }

    /// A sink whose events go nowhere (for callers that need none).
    pub fn discard() -> EventSink {
        let (tx, _rx) = mpsc::unbounded_channel();
        EventSink::new("", "", tx)
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// This sink, with `hook` seeing each event it emits before the event is sent.
    pub fn with_emit_hook(mut self, hook: EmitHook) -> EventSink {
        self.on_emit = Some(hook);
        self
    }

    pub fn emit(&self, kind: EventKind) {
        if let Some(hook) = &self.on_emit {
            hook(&kind);
        }
        let event = RunEvent { run_id: self.run_id.clone(), table: self.table.clone(), at: Utc::now(), kind };
        tracing::debug!(run_id = %event.run_id, table = %event.table, event = ?event.kind, "event");
        let _ = self.tx.send(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_counts_journaled_before_spilling_existed_read_as_not_spilled() {
        let earlier = r#"{"files_done":2,"files_total":2,"items_read":9,"upserts":5,"deletes":1,"superseded":3,
            "nulled_values":0,"bytes_in":100,"bytes_out":80,"elapsed_ms":7}"#;
        let counts: StageCounts = serde_json::from_str(earlier).unwrap();
        assert_eq!((counts.upserts, counts.superseded, counts.spill_partitions), (5, 3, 0));
        let written = serde_json::to_string(&StageCounts { spill_partitions: 4, ..counts }).unwrap();
        assert!(
            written.contains(r#""superseded":3"#) && written.contains(r#""spill_partitions":4"#),
            "{written}"
        );
    }
}
