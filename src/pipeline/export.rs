//! The export step: request every planned export (or take the existing ones), then poll them
//! until all are complete. Polling backs off because real exports take minutes.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::error::PipelineError;
use super::events::{EventKind, EventSink};
use crate::config::TableConfig;
use crate::ddb::ManifestSummary;
use crate::source::{
    ExportDescription, ExportSource, ExportSpec, ExportStatus, ExportTarget, PlannedExport, SourceError,
};
use crate::store::ObjectStore;

/// First poll delay; each next one is 1.5× longer, up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(500);
const POLL_MAX: Duration = Duration::from_secs(15);

/// The store prefix a table's exports are written under.
pub fn export_target(table: &TableConfig) -> ExportTarget {
    ExportTarget { prefix: format!("{}exports", table.state_prefix()) }
}

/// The ClientToken of export `index` of the run that planned it, for the window `spec` covers.
///
/// It is journaled before the request and reused by every run that resumes this one (never the
/// resuming process's own run id), so a run killed right after its request — or cancelled while
/// the export runs — finds the same export again instead of starting (and paying for) a second
/// one. DynamoDB treats a repeated token as the same request for 8 hours after the first one
/// completes, and answers a repeated token with other parameters with ExportConflictException,
/// hence the window in the token (ExportTableToPointInTime, `ClientToken`:
/// <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ExportTableToPointInTime.html>).
pub fn client_token(run_id: &str, index: usize, spec: &ExportSpec) -> String {
    let micros = |t: chrono::DateTime<chrono::Utc>| t.timestamp_micros();
    let window = match spec {
        ExportSpec::Full { export_time } => format!("full{}", micros(*export_time)),
        ExportSpec::Incremental { from, to, .. } => format!("{}-{}", micros(*from), micros(*to)),
    };
    format!("dynashift-{run_id}-{index}-{window}")
}

/// The token a journal written before tokens were journaled used: its run's id and the index.
pub fn legacy_client_token(run_id: &str, index: usize) -> String {
    format!("dynashift-{run_id}-{index}")
}

/// Requests one planned export with `client_token`, or reports the existing one; returns its ARN.
pub async fn request(
    source: &dyn ExportSource,
    table: &TableConfig,
    client_token: &str,
    (index, total): (usize, usize),
    planned: &PlannedExport,
    events: &EventSink,
) -> Result<String, PipelineError> {
    if let Some(existing) = &planned.existing {
        events.emit(EventKind::ExportFound {
            index,
            total,
            export_arn: existing.export_arn.clone(),
            spec: planned.spec.clone(),
        });
        return Ok(existing.export_arn.clone());
    }
    let arn = source.start_export(&planned.spec, &export_target(table), client_token).await?;
    events.emit(EventKind::ExportRequested {
        index,
        total,
        export_arn: arn.clone(),
        spec: planned.spec.clone(),
    });
    Ok(arn)
}

/// Polls every export until all are `COMPLETED`; fails on the first `FAILED` one.
pub async fn wait_all(
    source: &dyn ExportSource,
    store: &dyn ObjectStore,
    plan: &[PlannedExport],
    arns: &[String],
    events: &EventSink,
    cancel: &CancellationToken,
) -> Result<Vec<ExportDescription>, PipelineError> {
    let started = Instant::now();
    let mut done: Vec<Option<ExportDescription>> =
        plan.iter().map(|p| p.existing.clone().filter(|e| e.status == ExportStatus::Completed)).collect();
    for (index, description) in done.iter().enumerate() {
        if let Some(description) = description {
            report_completed(store, index, description, events).await;
        }
    }
    let mut polls = 0u32;
    let mut delay = POLL_FIRST;
    while done.iter().any(Option::is_none) {
        tokio::select! {
            _ = cancel.cancelled() => return Err(PipelineError::Cancelled),
            _ = tokio::time::sleep(delay) => {}
        }
        polls += 1;
        for (index, slot) in done.iter_mut().enumerate().filter(|(_, slot)| slot.is_none()) {
            let description = source.describe_export(&arns[index]).await?;
            events.emit(EventKind::ExportPolled {
                index,
                export_arn: arns[index].clone(),
                status: description.status,
                elapsed_ms: started.elapsed().as_millis() as u64,
                polls,
                item_count: description.item_count,
                billed_size_bytes: description.billed_size_bytes,
            });
            match description.status {
                ExportStatus::InProgress => {}
                ExportStatus::Failed => {
                    return Err(SourceError::ExportFailed {
                        export_arn: description.export_arn,
                        code: description.failure_code.unwrap_or_else(|| "UNKNOWN".into()),
                        message: description.failure_message.unwrap_or_else(|| "no message given".into()),
                    }
                    .into());
                }
                ExportStatus::Completed => {
                    report_completed(store, index, &description, events).await;
                    *slot = Some(description);
                }
            }
        }
        delay = (delay.mul_f32(1.5)).min(POLL_MAX);
    }
    Ok(done.into_iter().map(|d| d.expect("the loop ends when every export is done")).collect())
}

/// Emits `ExportCompleted`, counting data files from the manifest when it can be read (the stage
/// step reads and verifies it properly; this count is only for display).
async fn report_completed(
    store: &dyn ObjectStore,
    index: usize,
    description: &ExportDescription,
    events: &EventSink,
) {
    let data_files = count_data_files(store, description).await.unwrap_or(0);
    events.emit(EventKind::ExportCompleted {
        index,
        export_arn: description.export_arn.clone(),
        item_count: description.item_count.unwrap_or(0),
        billed_size_bytes: description.billed_size_bytes.unwrap_or(0),
        data_files,
    });
}

async fn count_data_files(store: &dyn ObjectStore, description: &ExportDescription) -> Option<usize> {
    let summary_key = description.manifest_summary_key.as_deref()?;
    let summary: ManifestSummary = serde_json::from_slice(&store.get(summary_key).await.ok()?).ok()?;
    let files = store.get(summary.manifest_files_s3_key.as_deref()?).await.ok()?;
    Some(files.split(|b| *b == b'\n').filter(|line| !line.is_empty()).count())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ViewType;

    #[test]
    fn the_token_names_the_planning_run_the_export_and_its_window() {
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().to_utc();
        let from = at("2026-11-24T10:00:00Z");
        let to = at("2026-11-24T10:15:00Z");
        let spec = ExportSpec::Incremental { from, to, view_type: ViewType::NewAndOldImages };
        let token = client_token("r1", 2, &spec);
        assert_eq!(token, format!("dynashift-r1-2-{}-{}", from.timestamp_micros(), to.timestamp_micros()));
        let other = ExportSpec::Incremental {
            from,
            to: at("2026-11-24T10:20:00Z"),
            view_type: ViewType::NewAndOldImages,
        };
        assert_ne!(client_token("r1", 2, &other), token, "another window is another request");
        assert_ne!(client_token("r1", 2, &ExportSpec::Full { export_time: to }), token);
        assert!(!token.contains('$'), "ClientToken pattern ^[^$]+$");
    }
}
