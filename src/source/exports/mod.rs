//! The `exports` source: applies DynamoDB exports that already exist under a store prefix — made
//! by another tool, a schedule in AWS, or a colleague — instead of requesting new ones.
//!
//! Planning lists `<prefix>/AWSDynamoDB/*/manifest-summary.json` (DynamoDB writes the summary
//! last, so a listed export is complete) and picks: for a full sync the newest full export; for
//! an incremental sync every incremental export past the watermark, oldest first, which must
//! chain without gaps from the watermark (see [`chain`]). Applying them is idempotent: exports
//! ending at or before the watermark are skipped, so running again applies nothing twice.
//! Every summary is checked for sense before it is used (see [`summary`]).

mod chain;
mod summary;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::layout::export_id_of;
use super::{
    ExportDescription, ExportPlan, ExportSource, ExportSpec, ExportStatus, ExportTarget, PlanOptions,
    PlanRequest, PlannedExport, SourceError,
};
use crate::config::{Mode, SourceConfig, TableConfig};
use crate::ddb::ManifestSummary;
use crate::store::ObjectStore;
use summary::{ExpectedTable, Origin, stamp};

/// Exports already in the store under one prefix.
pub struct ExistingExports {
    table: String,
    /// The configured table ARN, which summaries must name when set.
    table_arn: Option<String>,
    /// Store prefix under which `AWSDynamoDB/` lies, without surrounding slashes (empty: the
    /// store's root, where AWS's default export without `S3Prefix` puts it).
    prefix: String,
    store: Arc<dyn ObjectStore>,
}

/// One export found under the prefix.
#[derive(Debug, Clone, PartialEq)]
struct FoundExport {
    summary_key: String,
    description: ExportDescription,
    /// Where its summary says it was written: what a command exporting a gap needs.
    origin: Origin,
}

impl FoundExport {
    /// The folder name under `root` (`<prefix>/AWSDynamoDB/`).
    fn export_id<'a>(&'a self, root: &str) -> Option<&'a str> {
        self.summary_key.strip_prefix(root)?.split_once('/').map(|(id, _)| id)
    }

    fn planned(self) -> PlannedExport {
        PlannedExport { spec: self.description.spec.clone(), existing: Some(self.description) }
    }
}

impl ExistingExports {
    /// The source of `table`, whose configuration must say `source = "exports"`.
    pub fn new(table: &TableConfig, store: Arc<dyn ObjectStore>) -> Result<ExistingExports, SourceError> {
        let SourceConfig::Exports { prefix } = &table.source else {
            return Err(SourceError::Invalid(format!(
                "table `{}` has source `{}`, not `exports`",
                table.name,
                table.source.kind()
            )));
        };
        Ok(ExistingExports {
            table: table.name.clone(),
            table_arn: table.arn.clone(),
            prefix: prefix.trim_matches('/').to_owned(),
            store,
        })
    }

    /// `<prefix>/AWSDynamoDB/`.
    fn exports_root(&self) -> String {
        if self.prefix.is_empty() { "AWSDynamoDB/".into() } else { format!("{}/AWSDynamoDB/", self.prefix) }
    }

    fn location(&self) -> String {
        self.store.url_of(&self.exports_root())
    }

    /// Every complete export under the prefix, and how many were begun but have no summary yet.
    async fn find_all(&self) -> Result<(Vec<FoundExport>, usize), SourceError> {
        let root = self.exports_root();
        let mut found = Vec::new();
        let mut started = BTreeSet::new();
        for object in self.store.list(&root).await? {
            let Some((export_id, file)) = object.key[root.len()..].split_once('/') else { continue };
            match file {
                "manifest-summary.json" => found.push(self.read_export(&object.key, export_id).await?),
                "_started" => {
                    started.insert(export_id.to_owned());
                }
                _ => {}
            }
        }
        let summarized: BTreeSet<&str> = found.iter().filter_map(|e| e.export_id(&root)).collect();
        let in_progress = started.iter().filter(|id| !summarized.contains(id.as_str())).count();
        Ok((found, in_progress))
    }

    /// Reads and interprets one `manifest-summary.json`.
    async fn read_export(&self, summary_key: &str, export_id: &str) -> Result<FoundExport, SourceError> {
        let bytes = self.store.get(summary_key).await?;
        let summary: ManifestSummary = serde_json::from_slice(&bytes).map_err(|e| {
            SourceError::Invalid(format!(
                "{} is not a DynamoDB export summary: {e}",
                self.store.url_of(summary_key)
            ))
        })?;
        let expected = ExpectedTable { name: &self.table, arn: self.table_arn.as_deref() };
        let spec = summary::checked_spec(&summary, &expected, Utc::now()).map_err(|problem| {
            SourceError::Invalid(format!("{}: {problem}", self.store.url_of(summary_key)))
        })?;
        let export_arn = summary
            .export_arn
            .clone()
            .unwrap_or_else(|| format!("arn:aws:dynamodb:::table/{}/export/{export_id}", self.table));
        let description = ExportDescription {
            export_arn,
            status: ExportStatus::Completed,
            spec,
            manifest_summary_key: Some(summary_key.to_owned()),
            item_count: summary.item_count,
            billed_size_bytes: summary.billed_size_bytes,
            failure_code: None,
            failure_message: None,
        };
        Ok(FoundExport { summary_key: summary_key.to_owned(), description, origin: Origin::of(&summary) })
    }

    /// The newest full export. One older than the committed watermark would move the table back
    /// in time: refused unless `force`.
    fn plan_full(
        &self,
        found: Vec<FoundExport>,
        watermark: Option<DateTime<Utc>>,
        force: bool,
    ) -> Result<ExportPlan, SourceError> {
        let newest = found.into_iter().filter(|e| e.description.spec.mode() == Mode::Full).max_by(|a, b| {
            (a.description.spec.watermark(), &a.summary_key)
                .cmp(&(b.description.spec.watermark(), &b.summary_key))
        });
        let Some(newest) = newest else {
            return Err(SourceError::Invalid(format!(
                "no full export under {}: put one there (ExportTableToPointInTime with ExportType FULL_EXPORT and \
                 this S3 prefix), or point `prefix` at the folder that holds it",
                self.location()
            )));
        };
        let export_time = newest.description.spec.watermark();
        let mut notes = vec![format!(
            "the newest full export under {}: {}",
            self.location(),
            newest.description.export_arn
        )];
        if let Some(watermark) = watermark.filter(|w| export_time < *w) {
            if !force {
                return Err(SourceError::OlderThanWatermark {
                    export_arn: newest.description.export_arn,
                    export_time,
                    watermark,
                });
            }
            notes.push(format!(
                "--force: the table goes back from {} to {}, the time of this export",
                stamp(watermark),
                stamp(export_time)
            ));
        }
        Ok(ExportPlan { exports: vec![newest.planned()], notes, accepted_gaps: Vec::new() })
    }

    fn plan_incremental(
        &self,
        found: Vec<FoundExport>,
        watermark: DateTime<Utc>,
        accept_gap: bool,
    ) -> Result<ExportPlan, SourceError> {
        let mut incremental: Vec<FoundExport> =
            found.into_iter().filter(|e| e.description.spec.mode() == Mode::Incremental).collect();
        incremental.sort_by(|a, b| window_order(a).cmp(&window_order(b)));
        let chain = chain::chain_from(watermark, incremental, accept_gap)?;
        let mut notes = Vec::new();
        for gap in &chain.gaps {
            notes.push(format!(
                "--accept-gap: changes in {gap} ({}s) are in no export and are not applied",
                gap.duration().num_milliseconds() as f64 / 1000.0
            ));
        }
        if chain.skipped > 0 {
            let (end, are) = if chain.skipped == 1 { ("ends", "is") } else { ("end", "are") };
            notes.push(format!(
                "{} under {} {end} at or before what is applied already, and {are} skipped",
                crate::human::counted(chain.skipped as u64, "export"),
                self.location()
            ));
        }
        if chain.exports.is_empty() {
            notes.push(format!(
                "no new exports under {} (applied up to {})",
                self.location(),
                watermark.format("%Y-%m-%d %H:%M:%SZ")
            ));
        }
        Ok(ExportPlan {
            exports: chain.exports.into_iter().map(FoundExport::planned).collect(),
            notes,
            accepted_gaps: chain.gaps,
        })
    }
}

#[async_trait::async_trait]
impl ExportSource for ExistingExports {
    fn describe(&self) -> String {
        format!("exports under {}", self.store.url_of(&self.prefix))
    }

    fn supports(&self, _mode: Mode) -> bool {
        true
    }

    async fn plan(&self, request: PlanRequest) -> Result<ExportPlan, SourceError> {
        self.plan_with(request, PlanOptions::default()).await
    }

    async fn plan_with(&self, request: PlanRequest, options: PlanOptions) -> Result<ExportPlan, SourceError> {
        let (found, in_progress) = self.find_all().await?;
        let mut plan = match request.mode {
            Mode::Full => self.plan_full(found, request.watermark, options.force)?,
            Mode::Incremental => {
                let watermark = request
                    .watermark
                    .ok_or_else(|| SourceError::NeedsFullSync { table: self.table.clone() })?;
                self.plan_incremental(found, watermark, options.accept_gap)?
            }
        };
        if in_progress > 0 {
            let (have, they_are) = if in_progress == 1 { ("has", "it is") } else { ("have", "they are") };
            plan.notes.push(format!(
                "{} under {} {have} begun but {have} no manifest yet; {they_are} left for a later run",
                crate::human::counted(in_progress as u64, "export"),
                self.location()
            ));
        }
        Ok(plan)
    }

    async fn start_export(&self, _: &ExportSpec, _: &ExportTarget, _: &str) -> Result<String, SourceError> {
        Err(SourceError::Invalid("the exports source never starts exports".into()))
    }

    async fn describe_export(&self, export_arn: &str) -> Result<ExportDescription, SourceError> {
        if let Some(export_id) = export_id_of(export_arn) {
            let key = format!("{}{export_id}/manifest-summary.json", self.exports_root());
            if self.store.head(&key).await?.is_some() {
                let found = self.read_export(&key, export_id).await?;
                if found.description.export_arn == export_arn {
                    return Ok(found.description);
                }
            }
        }
        // The folder need not be named after the ARN's id (copied exports): search by ARN.
        let (found, _) = self.find_all().await?;
        found.into_iter().find(|e| e.description.export_arn == export_arn).map(|e| e.description).ok_or_else(
            || {
                SourceError::Invalid(format!(
                    "no export {export_arn} under {}; was it moved or deleted?",
                    self.location()
                ))
            },
        )
    }
}

/// Chain order: by window end, then start (a wider window first), then key.
fn window_order(export: &FoundExport) -> (DateTime<Utc>, DateTime<Utc>, &str) {
    match export.description.spec {
        ExportSpec::Incremental { from, to, .. } => (to, from, &export.summary_key),
        ExportSpec::Full { export_time } => (export_time, export_time, &export.summary_key),
    }
}
