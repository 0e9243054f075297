//! The run journal: one JSON document per run under `<table>/_state/runs/<run_id>.json`,
//! rewritten at every stage boundary. It is what the console's history shows and what a later
//! run reads to resume an interrupted one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::events::{Stage, StageCounts};
use super::staged::StagedSet;
use crate::config::{Mode, TableConfig};
use crate::contract::{AcceptedGap, CostEstimate, DriftCheck, StatementRecord};
use crate::source::{ExportDescription, ExportSpec};
use crate::store::{ObjectStore, StoreError};

/// One export of a run, as far as it got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalExport {
    pub spec: ExportSpec,
    /// The ClientToken the export is (or was) requested with, journaled before the request so a
    /// run that resumes this one asks for the same export. Journals from before it: `None`.
    #[serde(default)]
    pub client_token: Option<String>,
    pub export_arn: Option<String>,
    pub description: Option<ExportDescription>,
}

/// One warehouse statement of a run: the record the load returned, journaled as it is (its
/// fields are the journal's `statements[]` entries).
pub type JournalStatement = StatementRecord;

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalFailure {
    pub stage: Stage,
    pub cause: String,
    pub hint: String,
}

/// Everything known about one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunJournal {
    pub run_id: String,
    pub table: String,
    pub mode: Mode,
    pub started_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The last stage reached.
    pub stage: Stage,
    /// Set when the run ended (committed, up to date, or failed).
    pub finished_at: Option<DateTime<Utc>>,
    pub previous_watermark: Option<DateTime<Utc>>,
    /// The watermark the run commits once loaded.
    pub target_watermark: Option<DateTime<Utc>>,
    pub exports: Vec<JournalExport>,
    pub stage_counts: Option<StageCounts>,
    pub staged: Option<StagedSet>,
    pub statements: Vec<JournalStatement>,
    pub target_rows: Option<u64>,
    pub failure: Option<JournalFailure>,
    /// A note for runs that ended without loading (e.g. "up to date").
    pub note: Option<String>,
    /// A cancelled run whose exports (which DynamoDB cannot cancel) and staged files the next
    /// run picks up, as it does an interrupted run's. Cleared once it is resumed or closed.
    #[serde(default)]
    pub resumable: bool,
    /// [`super::staged::config_fingerprint`] of the table's config when the run started: its
    /// staged files are reused by a resume only under the same one. `None` in older journals.
    #[serde(default)]
    pub config_fingerprint: Option<String>,
    /// Gaps between the applied exports that the user accepted (`--accept-gap`); absent from
    /// journals written before gaps could be accepted.
    #[serde(default)]
    pub accepted_gaps: Vec<AcceptedGap>,
    /// What the run's exports cost (docs/cost.md), once they completed; absent from journals
    /// written before estimates, from runs that exported nothing, and from an interrupted run
    /// whose exports the run resuming it took over (so a 30-day total counts them once).
    #[serde(default)]
    pub cost: Option<CostEstimate>,
    /// The schema drift the stage counted (or why it could not); absent from journals written
    /// before drift was counted, and before a run staged.
    #[serde(default)]
    pub drift: Option<DriftCheck>,
}

impl RunJournal {
    pub fn new(
        run_id: &str,
        table: &str,
        mode: Mode,
        previous_watermark: Option<DateTime<Utc>>,
    ) -> RunJournal {
        let now = Utc::now();
        RunJournal {
            run_id: run_id.to_owned(),
            table: table.to_owned(),
            mode,
            started_at: now,
            updated_at: now,
            stage: Stage::Planned,
            finished_at: None,
            previous_watermark,
            target_watermark: None,
            exports: Vec::new(),
            stage_counts: None,
            staged: None,
            statements: Vec::new(),
            target_rows: None,
            failure: None,
            note: None,
            resumable: false,
            config_fingerprint: None,
            accepted_gaps: Vec::new(),
            cost: None,
            drift: None,
        }
    }

    /// Whether the run ended (in any way).
    pub fn is_finished(&self) -> bool {
        self.finished_at.is_some()
    }

    /// Whether a later run continues this one: it was interrupted (never finished) or cancelled.
    pub fn awaits_resume(&self) -> bool {
        !self.is_finished() || self.resumable
    }

    /// Store key of a run's journal.
    pub fn key(table: &TableConfig, run_id: &str) -> String {
        format!("{}_state/runs/{run_id}.json", table.state_prefix())
    }

    /// Writes the journal (atomically replacing the previous version).
    pub async fn save(&mut self, table: &TableConfig, store: &dyn ObjectStore) -> Result<(), StoreError> {
        self.updated_at = Utc::now();
        let bytes = serde_json::to_vec_pretty(self).expect("journals always serialize");
        store.put(&Self::key(table, &self.run_id), bytes).await
    }

    /// Reads every journal of a table, newest first. Unreadable journals are skipped with a
    /// warning in the log: history is for display and must not block a sync.
    pub async fn list(table: &TableConfig, store: &dyn ObjectStore) -> Result<Vec<RunJournal>, StoreError> {
        let prefix = format!("{}_state/runs/", table.state_prefix());
        let mut journals = Vec::new();
        for object in store.list(&prefix).await? {
            if !object.key.ends_with(".json") {
                continue;
            }
            let bytes = store.get(&object.key).await?;
            match serde_json::from_slice::<RunJournal>(&bytes) {
                Ok(journal) => journals.push(journal),
                Err(err) => tracing::warn!(key = %object.key, %err, "skipping unreadable run journal"),
            }
        }
        journals.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.run_id.cmp(&a.run_id)));
        Ok(journals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journals_written_before_accepted_gaps_still_read() {
        let mut journal = RunJournal::new("r1", "orders", Mode::Incremental, None);
        let mut old = serde_json::to_value(&journal).unwrap();
        old.as_object_mut().unwrap().remove("accepted_gaps");
        let read: RunJournal = serde_json::from_value(old).unwrap();
        assert!(read.accepted_gaps.is_empty());

        let from = Utc::now();
        journal.accepted_gaps = vec![AcceptedGap { from, to: from + chrono::Duration::seconds(69) }];
        let again: RunJournal = serde_json::from_slice(&serde_json::to_vec(&journal).unwrap()).unwrap();
        assert_eq!(again.accepted_gaps, journal.accepted_gaps);
    }

    /// A journal as written before cost estimates (a literal, not one serialized today) reads with
    /// no cost; a new one keeps its estimate.
    #[test]
    fn journals_written_before_cost_estimates_still_read() {
        let old = r#"{"run_id":"r7","table":"orders","mode":"incremental",
            "started_at":"2026-11-30T10:00:00Z","updated_at":"2026-11-30T10:01:00Z","stage":"committed",
            "finished_at":"2026-11-30T10:01:00Z","previous_watermark":"2026-11-30T09:00:00Z",
            "target_watermark":"2026-11-30T09:55:00Z","exports":[{"spec":{"type":"incremental",
            "from":"2026-11-30T09:00:00Z","to":"2026-11-30T09:55:00Z","view_type":"NEW_AND_OLD_IMAGES"},
            "client_token":"dynashift-r7-0","export_arn":"arn:aws:dynamodb:us-east-1:0:table/orders/export/1",
            "description":null}],"stage_counts":null,"staged":null,"statements":[],"target_rows":12,
            "failure":null,"note":null,"resumable":false,"config_fingerprint":"f","accepted_gaps":[]}"#;
        let read: RunJournal = serde_json::from_str(old).unwrap();
        assert_eq!((read.run_id.as_str(), read.cost.as_ref()), ("r7", None));

        let mut journal = read;
        let estimate = CostEstimate { usd: Some(0.001), billed_bytes: 10 << 20, assumption: "a".into() };
        journal.cost = Some(estimate.clone());
        let written = serde_json::to_value(&journal).unwrap();
        assert_eq!(written["cost"]["billed_bytes"], 10 << 20);
        let again: RunJournal = serde_json::from_value(written).unwrap();
        assert_eq!(again.cost, Some(estimate));
    }

    /// A journal written before drift was counted (a literal one, as that version wrote it)
    /// reads with no drift; one with drift reads it back.
    #[test]
    fn journals_written_before_drift_was_counted_still_read() {
        let old = r#"{"run_id":"r0","table":"orders","mode":"full","started_at":"2026-11-01T10:00:00Z",
            "updated_at":"2026-11-01T10:01:00Z","stage":"committed","finished_at":"2026-11-01T10:01:00Z",
            "previous_watermark":null,"target_watermark":"2026-11-01T09:55:00Z","exports":[],
            "stage_counts":null,"staged":null,"statements":[],"target_rows":12,"failure":null,"note":null,
            "resumable":false,"config_fingerprint":"f","accepted_gaps":[]}"#;
        let read: RunJournal = serde_json::from_str(old).unwrap();
        assert_eq!((read.run_id.as_str(), read.target_rows, read.drift), ("r0", Some(12), None));

        let mut journal = RunJournal::new("r1", "orders", Mode::Full, None);
        let report = crate::contract::DriftReport { items_checked: 3, ..Default::default() };
        journal.drift = Some(DriftCheck::Counted { report });
        let again: RunJournal = serde_json::from_slice(&serde_json::to_vec(&journal).unwrap()).unwrap();
        assert_eq!(again.drift, journal.drift);
    }

    /// The journal's statement entries keep their format now that they are the load's records.
    #[test]
    fn statement_entries_keep_their_journal_format() {
        use crate::contract::StatementStatus;
        let mut journal = RunJournal::new("r1", "orders", Mode::Incremental, None);
        journal.statements = vec![StatementRecord {
            status: Some(StatementStatus::Failed),
            duration_ms: Some(12),
            error: Some("no such table".into()),
            query_id: Some("q7".into()),
            ..StatementRecord::submitted("merge", "INSERT INTO t SELECT 1")
        }];
        let written = serde_json::to_value(&journal).unwrap();
        let expected = serde_json::json!([{
            "label": "merge", "sql": "INSERT INTO t SELECT 1", "status": "failed", "duration_ms": 12,
            "rows": null, "error": "no such table", "query_id": "q7"
        }]);
        assert_eq!(written["statements"], expected);
        let read: RunJournal = serde_json::from_value(written).unwrap();
        assert_eq!(read.statements, journal.statements);
    }
}
