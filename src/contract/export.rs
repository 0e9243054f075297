//! What an export is, as the run events and the journal carry it: its spec, its status as
//! DescribeExport reports it, and the source's clock the console measures lag against.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::mode::{Mode, ViewType};

/// What one export covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExportSpec {
    /// `FULL_EXPORT` of the table as of `export_time`.
    Full { export_time: DateTime<Utc> },
    /// `INCREMENTAL_EXPORT` of the changes in `[from, to)`.
    Incremental { from: DateTime<Utc>, to: DateTime<Utc>, view_type: ViewType },
}

impl ExportSpec {
    /// The instant the target reflects once this export is applied: the watermark it yields.
    pub fn watermark(&self) -> DateTime<Utc> {
        match self {
            ExportSpec::Full { export_time } => *export_time,
            ExportSpec::Incremental { to, .. } => *to,
        }
    }

    pub fn mode(&self) -> Mode {
        match self {
            ExportSpec::Full { .. } => Mode::Full,
            ExportSpec::Incremental { .. } => Mode::Incremental,
        }
    }
}

impl std::fmt::Display for ExportSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%SZ").to_string();
        match self {
            ExportSpec::Full { export_time } => write!(f, "full at {}", t(export_time)),
            ExportSpec::Incremental { from, to, .. } => write!(f, "incremental [{}, {})", t(from), t(to)),
        }
    }
}

/// `ExportStatus` of DescribeExport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExportStatus {
    InProgress,
    Completed,
    Failed,
}

impl ExportStatus {
    /// The API's own spelling (`IN_PROGRESS`…).
    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::InProgress => "IN_PROGRESS",
            ExportStatus::Completed => "COMPLETED",
            ExportStatus::Failed => "FAILED",
        }
    }
}

/// What DescribeExport says of one export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportDescription {
    pub export_arn: String,
    pub status: ExportStatus,
    pub spec: ExportSpec,
    /// Store key of `manifest-summary.json` (relative to the store root), once known.
    pub manifest_summary_key: Option<String>,
    pub item_count: Option<u64>,
    pub billed_size_bytes: Option<u64>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
}

/// What the user allowed a run's plan to do beyond the safe default (headless flags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// `--accept-gap`: apply a chain of existing exports with gaps between them, recording the gaps.
    pub accept_gap: bool,
    /// `--force`: apply a full export older than the committed watermark (moves the table back).
    pub force: bool,
}

/// A source's clock as read at one wall-clock instant. Real DynamoDB runs on the wall clock; the
/// demo's simulated clock runs `rate` times faster, and the console measures lag against it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceClock {
    pub now: DateTime<Utc>,
    /// The wall-clock time `now` was read.
    pub read_at: DateTime<Utc>,
    /// Source seconds per wall-clock second.
    pub rate: f64,
}

impl SourceClock {
    /// The source's time at wall-clock instant `wall`, extrapolated from the reading.
    pub fn at(&self, wall: DateTime<Utc>) -> DateTime<Utc> {
        let elapsed_ms = (wall - self.read_at).num_milliseconds() as f64;
        self.now + chrono::Duration::milliseconds((elapsed_ms * self.rate) as i64)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_faster_clock_is_extrapolated_at_its_rate() {
        let read_at = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let clock = SourceClock { now: read_at + chrono::Duration::hours(1), read_at, rate: 600.0 };
        assert_eq!(clock.at(read_at), read_at + chrono::Duration::hours(1));
        assert_eq!(
            clock.at(read_at + chrono::Duration::seconds(6)),
            read_at + chrono::Duration::minutes(120)
        );
    }
}
