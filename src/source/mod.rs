//! Export sources: where DynamoDB exports come from.
//!
//! - `aws`: DynamoDB's own point-in-time exports (ExportTableToPointInTime / DescribeExport);
//! - `demo`: a simulated DynamoDB table that writes exports in the exact AWS layout into the
//!   store (the embedded default);
//! - `exports`: exports that already exist in the store, applied in order.
//!
//! A source plans which exports a run needs (requesting sources cut windows from the watermark;
//! the `exports` source finds existing ones), starts them and reports their status.

pub mod aws;
pub mod demo;
pub mod exports;
pub mod item_count;
pub mod layout;
pub mod windows;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Mode;
pub use crate::contract::AcceptedGap;
use crate::contract::SourceClock;
/// Re-exported where the integration tests name them; the crate itself imports them from
/// [`crate::contract`].
pub use crate::contract::{ExportDescription, ExportSpec, ExportStatus, PlanOptions};

/// One export a run needs: to be requested, or already there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedExport {
    pub spec: ExportSpec,
    /// Set when the export already exists (the `exports` source), so nothing is requested.
    pub existing: Option<ExportDescription>,
}

/// The exports a run needs, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportPlan {
    pub exports: Vec<PlannedExport>,
    /// Why the plan is empty, or anything the user should know (e.g. the PITR edge is near).
    pub notes: Vec<String>,
    /// Gaps between the exports that the user accepted (`--accept-gap`); recorded with the commit.
    #[serde(default)]
    pub accepted_gaps: Vec<AcceptedGap>,
}

/// Where a source writes an export: the store prefix (relative to the store root) under which
/// `AWSDynamoDB/…` appears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTarget {
    pub prefix: String,
}

/// What planning needs to know about the table's sync state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanRequest {
    pub mode: Mode,
    /// The committed watermark, `None` when the table was never synced.
    pub watermark: Option<DateTime<Utc>>,
}

/// Errors from a source, typed where the pipeline branches on them.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// An incremental sync was asked for a table that was never fully synced.
    #[error("`{table}` has never been fully synced, so an incremental sync has nowhere to start")]
    NeedsFullSync { table: String },
    /// The watermark fell out of the point-in-time-recovery window.
    #[error("the watermark {watermark} is older than the earliest restorable time {earliest}")]
    OutsideRecoveryWindow { watermark: DateTime<Utc>, earliest: DateTime<Utc> },
    /// The export failed on the source's side.
    #[error("export {export_arn} failed: {code}: {message}")]
    ExportFailed { export_arn: String, code: String, message: String },
    /// Existing exports leave changes in no export (the message holds commands exporting them).
    #[error("{message}")]
    ExportGap { message: String },
    /// The newest full export is older than the committed watermark: applying it would move the
    /// table back in time.
    #[error(
        "the newest full export, {export_arn}, is of {}, older than the committed watermark {}: \
         applying it would move the table back in time",
        export_time.format("%Y-%m-%d %H:%M:%S%.3fZ"),
        watermark.format("%Y-%m-%d %H:%M:%S%.3fZ")
    )]
    OlderThanWatermark { export_arn: String, export_time: DateTime<Utc>, watermark: DateTime<Utc> },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Other(String),
}

impl SourceError {
    /// What the user should do about it.
    pub fn hint(&self) -> String {
        match self {
            SourceError::NeedsFullSync { table } => {
                format!("run a full sync first: dynashift --headless --table {table} --mode full")
            }
            SourceError::OutsideRecoveryWindow { .. } => {
                "only a full sync can recover: run it with --mode full".into()
            }
            SourceError::ExportFailed { .. } => "check the failure above, then run the sync again".into(),
            SourceError::ExportGap { .. } => "run the command above (it may overlap the next export: applying a \
                change twice is harmless), wait for the export to complete, then sync again; or sync with \
                --accept-gap to apply the exports anyway and record the gap (its changes stay missing until a \
                full sync)"
                .into(),
            SourceError::OlderThanWatermark { .. } => "put a newer full export under the prefix and run again, \
                or run the full sync with --force to move the table back to that export's time"
                .into(),
            SourceError::Invalid(_) => "fix the export files or the source settings, then run again".into(),
            SourceError::Store(_) => "check that the store is reachable and writable".into(),
            SourceError::Other(_) => "run the sync again; if it keeps failing, check the log".into(),
        }
    }
}

/// Where exports come from. Implementations: [`demo::DemoSource`], [`exports::ExistingExports`].
#[async_trait]
pub trait ExportSource: Send + Sync {
    /// One line for humans: "demo table orders", "exports under file:///…/incoming/".
    fn describe(&self) -> String;

    /// Whether this source can serve a sync of this mode.
    fn supports(&self, mode: Mode) -> bool;

    /// The exports a run of `request.mode` needs, given the committed watermark.
    async fn plan(&self, request: PlanRequest) -> Result<ExportPlan, SourceError>;

    /// [`ExportSource::plan`] with what the user allowed; only the `exports` source has gaps to
    /// accept or old exports to force, so the others ignore the options.
    async fn plan_with(
        &self,
        request: PlanRequest,
        _options: PlanOptions,
    ) -> Result<ExportPlan, SourceError> {
        self.plan(request).await
    }

    /// Starts one export into `target` and returns its ARN. `client_token` makes a retried call
    /// return the same export instead of starting a second one.
    async fn start_export(
        &self,
        spec: &ExportSpec,
        target: &ExportTarget,
        client_token: &str,
    ) -> Result<String, SourceError>;

    /// Status of a started export (DescribeExport).
    async fn describe_export(&self, export_arn: &str) -> Result<ExportDescription, SourceError>;

    /// The source's clock when it is not the wall clock (the demo's simulated one).
    async fn clock(&self) -> Result<Option<SourceClock>, SourceError> {
        Ok(None)
    }

    /// How many items the table holds as the source counts them (DescribeTable's `ItemCount`:
    /// approximate, see [`item_count`]), for `item_count_check`; `None` when the source cannot
    /// tell (the `exports` source has no table to ask).
    async fn table_item_count(&self) -> Result<Option<u64>, SourceError> {
        Ok(None)
    }
}
