//! The `exports` source: applies DynamoDB exports that already exist under a store prefix — made
//! by another tool, a schedule in AWS, or a colleague — instead of requesting new ones.
//!
//! Planning lists `<prefix>/AWSDynamoDB/*/manifest-summary.json` (DynamoDB writes the summary
//! last, so a listed export is complete) and picks: for a full sync the newest full export; for
//! an incremental sync every incremental export past the watermark, oldest first, which must
//! chain without gaps from the watermark. Applying them is idempotent: exports ending at or before
//! the watermark are skipped, so running again applies nothing twice.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::layout::export_id_of;
use super::{
    ExportDescription, ExportPlan, ExportSource, ExportSpec, ExportStatus, ExportTarget, PlanRequest,
    PlannedExport, SourceError,
};
use crate::config::{Mode, SourceConfig, TableConfig, ViewType};
use crate::ddb::ManifestSummary;
use crate::store::ObjectStore;

/// Exports already in the store under one prefix.
pub struct ExistingExports {
    table: String,
    /// Store prefix under which `AWSDynamoDB/` lies, without surrounding slashes (may be empty).
    prefix: String,
    store: Arc<dyn ObjectStore>,
}

/// One export found under the prefix.
#[derive(Debug, Clone, PartialEq)]
struct FoundExport {
    summary_key: String,
    description: ExportDescription,
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
                "table `{}` has source `{}`, not `exports`; an exports source needs `prefix = \"folder/in/bucket\"`",
                table.name,
                table.source.kind()
            )));
        };
        Ok(ExistingExports { table: table.name.clone(), prefix: prefix.trim_matches('/').to_owned(), store })
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
        let spec = spec_of(&summary).map_err(|problem| {
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
        Ok(FoundExport { summary_key: summary_key.to_owned(), description })
    }

    fn plan_full(&self, found: Vec<FoundExport>) -> Result<ExportPlan, SourceError> {
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
        let note =
            format!("the newest full export under {}: {}", self.location(), newest.description.export_arn);
        Ok(ExportPlan { exports: vec![newest.planned()], notes: vec![note], accepted_gaps: Vec::new() })
    }

    fn plan_incremental(
        &self,
        found: Vec<FoundExport>,
        watermark: DateTime<Utc>,
    ) -> Result<ExportPlan, SourceError> {
        let mut incremental: Vec<FoundExport> =
            found.into_iter().filter(|e| e.description.spec.mode() == Mode::Incremental).collect();
        incremental.sort_by(|a, b| window_order(a).cmp(&window_order(b)));
        let chain = chain_from(watermark, incremental)?;
        let mut notes = Vec::new();
        if chain.skipped > 0 {
            notes.push(format!(
                "{} exports under {} end at or before what is applied already, and are skipped",
                chain.skipped,
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
            accepted_gaps: Vec::new(),
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
        let (found, in_progress) = self.find_all().await?;
        let mut plan = match request.mode {
            Mode::Full => self.plan_full(found)?,
            Mode::Incremental => {
                let watermark = request
                    .watermark
                    .ok_or_else(|| SourceError::NeedsFullSync { table: self.table.clone() })?;
                self.plan_incremental(found, watermark)?
            }
        };
        if in_progress > 0 {
            plan.notes.push(format!(
                "{in_progress} exports under {} have begun but have no manifest yet; they are left for a later run",
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

/// Exports to apply from `watermark`, and how many were skipped as covered by others.
struct Chain {
    exports: Vec<FoundExport>,
    skipped: usize,
}

/// Walks exports sorted by [`window_order`] from `watermark`: each must start at or before the
/// point reached (a later start leaves changes unexported: an error naming the gap), and one
/// ending at or before it adds nothing and is skipped. Starting earlier is harmless: a line holds
/// the item's state at the window's end, so re-applying already-applied changes is idempotent.
fn chain_from(watermark: DateTime<Utc>, sorted: Vec<FoundExport>) -> Result<Chain, SourceError> {
    let mut chain = Chain { exports: Vec::new(), skipped: 0 };
    let mut reached = watermark;
    for export in sorted {
        let ExportSpec::Incremental { from, to, .. } = export.description.spec else { continue };
        if to <= reached {
            chain.skipped += 1;
            continue;
        }
        if from > reached {
            let after = match chain.exports.last() {
                Some(previous) => {
                    format!("export {} ends at {}", previous.description.export_arn, stamp(reached))
                }
                None => format!("the watermark is {}", stamp(reached)),
            };
            return Err(SourceError::Invalid(format!(
                "the incremental exports have a gap from {} to {}: {after}, but the next, {}, starts at {}; \
                 export the missing window (ExportFromTime {}, ExportToTime {}) into the same prefix, or run a full sync",
                stamp(reached),
                stamp(from),
                export.description.export_arn,
                stamp(from),
                stamp(reached),
                stamp(from)
            )));
        }
        reached = to;
        chain.exports.push(export);
    }
    Ok(chain)
}

/// The export a summary describes; a message saying what is missing otherwise.
fn spec_of(summary: &ManifestSummary) -> Result<ExportSpec, String> {
    let incremental =
        summary.export_type.as_deref() == Some("INCREMENTAL_EXPORT") || summary.export_from_time.is_some();
    if !incremental {
        return Ok(ExportSpec::Full { export_time: time(&summary.export_time, "exportTime")? });
    }
    let view_type = match summary.output_view.as_deref() {
        None | Some("NEW_AND_OLD_IMAGES") => ViewType::NewAndOldImages,
        Some("NEW_IMAGE") => ViewType::NewImage,
        Some(other) => return Err(format!("unknown outputView `{other}`")),
    };
    let from = time(&summary.export_from_time, "exportFromTime")?;
    let to = time(&summary.export_to_time, "exportToTime")?;
    if to <= from {
        return Err(format!("exportToTime {} is not after exportFromTime {}", stamp(to), stamp(from)));
    }
    Ok(ExportSpec::Incremental { from, to, view_type })
}

fn time(field: &Option<String>, name: &str) -> Result<DateTime<Utc>, String> {
    let text = field.as_deref().ok_or_else(|| format!("`{name}` is missing"))?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{name}` {text:?} is not an ISO-8601 time: {e}"))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use std::time::Duration as StdDuration;

    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::config::{StoreLocation, TargetTable, TypeErrorPolicy, UnmappedPolicy};
    use crate::source::layout::{LayoutExport, write_export};
    use crate::store::LocalStore;

    const PREFIX: &str = "incoming/ddb";
    const TABLE_ARN: &str = "arn:aws:dynamodb:eu-north-1:123456789012:table/events";

    fn table(source: SourceConfig) -> TableConfig {
        TableConfig {
            name: "events".into(),
            arn: None,
            source,
            store: StoreLocation::Local { root: "/unused".into() },
            target: TargetTable { schema: None, table: "events".into() },
            mode: Mode::Incremental,
            key: vec!["id".into()],
            columns: Vec::new(),
            unmapped: UnmappedPolicy::Drop,
            on_type_error: TypeErrorPolicy::Fail,
            view_type: ViewType::NewAndOldImages,
            safety_lag: StdDuration::from_secs(300),
            max_window: StdDuration::from_secs(86_400),
            staged_file_bytes: 64 << 20,
            full_load: crate::config::FullLoad::Staged,
        }
    }

    fn w() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0).unwrap()
    }

    fn minutes(m: i64) -> DateTime<Utc> {
        w() + Duration::minutes(m)
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Arc<LocalStore>,
        source: ExistingExports,
    }

    impl Fixture {
        fn new() -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let store = Arc::new(LocalStore::new(dir.path()));
            let config = table(SourceConfig::Exports { prefix: format!("/{PREFIX}/") });
            let source = ExistingExports::new(&config, store.clone()).unwrap();
            Fixture { _dir: dir, store, source }
        }

        /// Writes an export with id `0000000000000n-0000000n` in the AWS layout; returns its ARN.
        async fn write(&self, n: u32, spec: ExportSpec) -> String {
            let export_id = format!("{n:014}-{n:08x}");
            let files = vec![vec![r#"{"Item":{"id":{"S":"1"}}}"#.to_owned()], Vec::new()];
            let layout = LayoutExport {
                prefix: PREFIX,
                export_id: &export_id,
                table_arn: TABLE_ARN,
                table_id: "cf263806-6bf1-4e51-a242-7067dcdecc72",
                bucket: "acme",
                spec: &spec,
                start_time: w(),
                end_time: w(),
                files: &files,
                billed_size_bytes: 10_000_000,
            };
            write_export(self.store.as_ref(), &layout).await.unwrap().export_arn
        }

        async fn incremental(&self, n: u32, from: i64, to: i64) -> String {
            let spec = ExportSpec::Incremental {
                from: minutes(from),
                to: minutes(to),
                view_type: ViewType::NewImage,
            };
            self.write(n, spec).await
        }

        async fn plan(
            &self,
            mode: Mode,
            watermark: Option<DateTime<Utc>>,
        ) -> Result<ExportPlan, SourceError> {
            self.source.plan(PlanRequest { mode, watermark }).await
        }
    }

    fn arns(plan: &ExportPlan) -> Vec<String> {
        plan.exports.iter().map(|p| p.existing.as_ref().unwrap().export_arn.clone()).collect()
    }

    #[tokio::test]
    async fn a_full_sync_takes_the_newest_full_export() {
        let fixture = Fixture::new();
        fixture.write(1, ExportSpec::Full { export_time: minutes(-60) }).await;
        let newest = fixture.write(2, ExportSpec::Full { export_time: minutes(0) }).await;
        fixture.write(3, ExportSpec::Full { export_time: minutes(-30) }).await;
        fixture.incremental(4, 0, 30).await;
        let plan = fixture.plan(Mode::Full, None).await.unwrap();
        assert_eq!(arns(&plan), vec![newest.clone()]);
        let existing = plan.exports[0].existing.as_ref().unwrap();
        assert_eq!(existing.status, ExportStatus::Completed);
        assert_eq!(existing.spec, ExportSpec::Full { export_time: minutes(0) });
        assert_eq!(existing.item_count, Some(1));
        let summary_key = format!("{PREFIX}/AWSDynamoDB/00000000000002-00000002/manifest-summary.json");
        assert_eq!(existing.manifest_summary_key.as_deref(), Some(summary_key.as_str()));
    }

    #[tokio::test]
    async fn a_full_sync_without_a_full_export_says_what_to_do() {
        let fixture = Fixture::new();
        fixture.incremental(1, 0, 30).await;
        let err = fixture.plan(Mode::Full, None).await.unwrap_err().to_string();
        assert!(
            err.contains("no full export under file://") && err.contains("incoming/ddb/AWSDynamoDB/"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn incremental_exports_apply_oldest_first_skipping_what_is_applied() {
        let fixture = Fixture::new();
        let third = fixture.incremental(1, 15, 60).await;
        fixture.incremental(2, -30, -15).await;
        let second = fixture.incremental(3, 0, 15).await;
        fixture.incremental(4, -15, 0).await;
        fixture.write(5, ExportSpec::Full { export_time: minutes(30) }).await;
        let plan = fixture.plan(Mode::Incremental, Some(w())).await.unwrap();
        assert_eq!(arns(&plan), vec![second, third]);
        assert!(plan.notes.iter().any(|n| n.starts_with("2 exports under")), "{:?}", plan.notes);
        assert!(matches!(
            plan.exports[0].spec,
            ExportSpec::Incremental { view_type: ViewType::NewImage, .. }
        ));

        let applied = fixture.plan(Mode::Incremental, Some(minutes(60))).await.unwrap();
        assert!(applied.exports.is_empty());
        assert!(
            applied.notes.iter().any(|n| n.starts_with("no new exports under file://")),
            "{:?}",
            applied.notes
        );
    }

    #[tokio::test]
    async fn a_chain_may_start_before_the_watermark_and_overlap() {
        let fixture = Fixture::new();
        let straddling = fixture.incremental(1, -10, 20).await;
        let next = fixture.incremental(2, 20, 40).await;
        let covered = fixture.incremental(3, 25, 40).await;
        let plan = fixture.plan(Mode::Incremental, Some(w())).await.unwrap();
        assert_eq!(arns(&plan), vec![straddling, next], "{covered} adds nothing once [20, 40) is applied");
        assert!(plan.notes.iter().any(|n| n.starts_with("1 exports under")), "{:?}", plan.notes);
    }

    #[tokio::test]
    async fn a_gap_in_the_chain_names_both_exports_and_the_missing_window() {
        let fixture = Fixture::new();
        let before = fixture.incremental(1, 0, 15).await;
        let after = fixture.incremental(2, 30, 45).await;
        let err = fixture.plan(Mode::Incremental, Some(w())).await.unwrap_err().to_string();
        assert!(err.contains(&before) && err.contains(&after), "{err}");
        assert!(err.contains("gap from 2026-01-14 10:15:00.000Z to 2026-01-14 10:30:00.000Z"), "{err}");
    }

    #[tokio::test]
    async fn a_gap_after_the_watermark_names_the_watermark() {
        let fixture = Fixture::new();
        fixture.incremental(1, 5, 20).await;
        let err = fixture.plan(Mode::Incremental, Some(w())).await.unwrap_err().to_string();
        assert!(err.contains("the watermark is 2026-01-14 10:00:00.000Z"), "{err}");
    }

    #[tokio::test]
    async fn an_incremental_sync_needs_a_watermark() {
        let fixture = Fixture::new();
        let err = fixture.plan(Mode::Incremental, None).await.unwrap_err();
        assert!(matches!(err, SourceError::NeedsFullSync { ref table } if table == "events"));
    }

    #[tokio::test]
    async fn begun_exports_without_a_summary_are_noted_not_used() {
        let fixture = Fixture::new();
        let full = fixture.write(1, ExportSpec::Full { export_time: w() }).await;
        fixture
            .store
            .put(&format!("{PREFIX}/AWSDynamoDB/00000000000009-00000009/_started"), Vec::new())
            .await
            .unwrap();
        let plan = fixture.plan(Mode::Full, None).await.unwrap();
        assert_eq!(arns(&plan), vec![full]);
        assert!(plan.notes.iter().any(|n| n.starts_with("1 exports under") && n.contains("no manifest yet")));
    }

    #[tokio::test]
    async fn summaries_are_read_leniently_but_must_say_when() {
        let fixture = Fixture::new();
        let key = format!("{PREFIX}/AWSDynamoDB/01768385930622-efd1a093/manifest-summary.json");
        let lenient = r#"{"version":"2020-06-30","exportTime":"2026-01-14T10:18:50.622Z","s3Prefix":null,
            "itemCount":3,"somethingNew":{"a":1}}"#;
        fixture.store.put(&key, lenient.as_bytes().to_vec()).await.unwrap();
        let plan = fixture.plan(Mode::Full, None).await.unwrap();
        let existing = plan.exports[0].existing.as_ref().unwrap();
        assert_eq!(existing.export_arn, "arn:aws:dynamodb:::table/events/export/01768385930622-efd1a093");
        assert_eq!(
            existing.spec.watermark(),
            Utc.with_ymd_and_hms(2026, 1, 14, 10, 18, 50).unwrap() + Duration::milliseconds(622)
        );

        let broken = r#"{"exportType":"INCREMENTAL_EXPORT","exportFromTime":"2026-01-14T10:00:00.000Z"}"#;
        fixture.store.put(&key, broken.as_bytes().to_vec()).await.unwrap();
        let err = fixture.plan(Mode::Incremental, Some(w())).await.unwrap_err().to_string();
        assert!(
            err.contains("01768385930622-efd1a093/manifest-summary.json")
                && err.contains("`exportToTime` is missing"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn describe_export_reads_the_manifest_again() {
        let fixture = Fixture::new();
        let arn = fixture.incremental(1, 0, 15).await;
        let description = fixture.source.describe_export(&arn).await.unwrap();
        assert_eq!(description.status, ExportStatus::Completed);
        assert_eq!(description.export_arn, arn);
        assert_eq!(description.billed_size_bytes, Some(10_000_000));
        let missing = format!("{TABLE_ARN}/export/01768386924000-d339e52d");
        let err = fixture.source.describe_export(&missing).await.unwrap_err().to_string();
        assert!(err.contains("no export") && err.contains("moved or deleted"), "{err}");
    }

    #[tokio::test]
    async fn it_never_starts_exports_and_describes_where_it_looks() {
        let fixture = Fixture::new();
        let spec = ExportSpec::Full { export_time: w() };
        let target = ExportTarget { prefix: "x".into() };
        let err = fixture.source.start_export(&spec, &target, "t").await.unwrap_err();
        assert_eq!(err.to_string(), "the exports source never starts exports");
        assert!(fixture.source.describe().starts_with("exports under file://"));
        assert!(fixture.source.describe().ends_with("/incoming/ddb"), "{}", fixture.source.describe());
        assert!(fixture.source.supports(Mode::Full) && fixture.source.supports(Mode::Incremental));
    }

    #[test]
    fn only_tables_with_an_exports_source_build_one() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()));
        let err = ExistingExports::new(&table(SourceConfig::Demo), store).err().unwrap().to_string();
        assert!(err.contains("has source `demo`, not `exports`"), "{err}");
    }
}
