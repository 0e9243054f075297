use chrono::{Duration, TimeZone};

use super::*;
use crate::config::ViewType;
use crate::contract::AcceptedGap;
use crate::source::layout::{LayoutExport, write_export};
use crate::store::LocalStore;
use crate::testkit::TableBuilder;

const PREFIX: &str = "incoming/ddb";
const TABLE_ARN: &str = "arn:aws:dynamodb:eu-north-1:123456789012:table/events";

fn table(source: SourceConfig) -> TableConfig {
    TableBuilder::new("events").source(source).key_attribute("id").build()
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
            start_time: spec.watermark() + Duration::seconds(24),
            end_time: spec.watermark() + Duration::minutes(6),
            files: &files,
            billed_size_bytes: 10_000_000,
        };
        write_export(self.store.as_ref(), &layout).await.unwrap().export_arn
    }

    async fn incremental(&self, n: u32, from: i64, to: i64) -> String {
        let spec =
            ExportSpec::Incremental { from: minutes(from), to: minutes(to), view_type: ViewType::NewImage };
        self.write(n, spec).await
    }

    async fn plan(&self, mode: Mode, watermark: Option<DateTime<Utc>>) -> Result<ExportPlan, SourceError> {
        self.source.plan(PlanRequest { mode, watermark }).await
    }

    async fn plan_with(
        &self,
        mode: Mode,
        watermark: Option<DateTime<Utc>>,
        options: PlanOptions,
    ) -> Result<ExportPlan, SourceError> {
        self.source.plan_with(PlanRequest { mode, watermark }, options).await
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
    assert!(matches!(plan.exports[0].spec, ExportSpec::Incremental { view_type: ViewType::NewImage, .. }));

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
    assert!(
        plan.notes.iter().any(|n| n.starts_with("1 export under") && n.ends_with("and is skipped")),
        "{:?}",
        plan.notes
    );
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
async fn a_gap_is_refused_with_a_command_unless_accepted() {
    let fixture = Fixture::new();
    let first = fixture.incremental(1, 0, 15).await;
    let second = fixture.incremental(2, 30, 45).await;
    let err = fixture.plan(Mode::Incremental, Some(w())).await.unwrap_err();
    assert!(matches!(err, SourceError::ExportGap { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(
            "aws dynamodb export-table-to-point-in-time --table-arn {TABLE_ARN}"
                .replace("{TABLE_ARN}", TABLE_ARN)
                .as_str()
        ),
        "{text}"
    );
    assert!(text.contains("--s3-bucket acme --s3-prefix incoming/ddb "), "{text}");
    assert!(
        text.contains(
            "ExportFromTime=2026-01-14T10:15:00Z,ExportToTime=2026-01-14T10:30:00Z,ExportViewType=NEW_IMAGE"
        ),
        "{text}"
    );
    assert!(err.hint().contains("--accept-gap"), "{}", err.hint());

    let accepting = PlanOptions { accept_gap: true, force: false };
    let plan = fixture.plan_with(Mode::Incremental, Some(w()), accepting).await.unwrap();
    assert_eq!(arns(&plan), vec![first, second]);
    assert_eq!(plan.accepted_gaps, vec![AcceptedGap { from: minutes(15), to: minutes(30) }]);
    assert!(
        plan.notes.iter().any(|n| n.starts_with("--accept-gap: changes in [2026-01-14 10:15:00.000Z")),
        "{:?}",
        plan.notes
    );
}

#[tokio::test]
async fn a_full_export_older_than_the_watermark_needs_force() {
    let fixture = Fixture::new();
    let old = fixture.write(1, ExportSpec::Full { export_time: minutes(0) }).await;
    let err = fixture.plan(Mode::Full, Some(minutes(30))).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&old)
            && text.contains("2026-01-14 10:00:00.000Z")
            && text.contains("2026-01-14 10:30:00.000Z"),
        "{text}"
    );
    assert!(text.contains("back in time") && err.hint().contains("--force"), "{text}");
    let forced = PlanOptions { accept_gap: false, force: true };
    let plan = fixture.plan_with(Mode::Full, Some(minutes(30)), forced).await.unwrap();
    assert_eq!(arns(&plan), vec![old]);
    assert!(plan.notes.iter().any(|n| n.starts_with("--force: the table goes back")), "{:?}", plan.notes);
    // Not older: no force needed.
    fixture.plan(Mode::Full, Some(minutes(0))).await.unwrap();
}

#[tokio::test]
async fn summaries_are_checked_before_anything_is_planned() {
    let fixture = Fixture::new();
    fixture.incremental(1, 0, 15).await;
    let key = format!("{PREFIX}/AWSDynamoDB/00000000000009-00000009/manifest-summary.json");
    let other = r#"{"version":"2023-08-01","tableArn":"arn:aws:dynamodb:eu-north-1:123456789012:table/other",
        "exportFromTime":"2026-01-14T10:15:00.000Z","exportToTime":"2026-01-14T10:30:00.000Z",
        "outputView":"NEW_IMAGE","exportType":"INCREMENTAL_EXPORT","outputFormat":"DYNAMODB_JSON"}"#;
    fixture.store.put(&key, other.as_bytes().to_vec()).await.unwrap();
    let err = fixture.plan(Mode::Incremental, Some(w())).await.unwrap_err().to_string();
    assert!(
        err.contains("00000000000009-00000009/manifest-summary.json") && err.contains("`tableArn`"),
        "{err}"
    );
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
    assert!(
        plan.notes
            .iter()
            .any(|n| n.starts_with("1 export under") && n.contains("has begun but has no manifest yet")),
        "{:?}",
        plan.notes
    );
}

#[tokio::test]
async fn summaries_are_read_leniently_but_must_say_when() {
    let fixture = Fixture::new();
    let key = format!("{PREFIX}/AWSDynamoDB/01768385930622-efd1a093/manifest-summary.json");
    let lenient = r#"{"version":"2020-06-30","exportTime":"2026-01-14T10:18:50.622Z","s3Prefix":null,
        "itemCount":3,"outputFormat":"DYNAMODB_JSON","somethingNew":{"a":1}}"#;
    fixture.store.put(&key, lenient.as_bytes().to_vec()).await.unwrap();
    let plan = fixture.plan(Mode::Full, None).await.unwrap();
    let existing = plan.exports[0].existing.as_ref().unwrap();
    assert_eq!(existing.export_arn, "arn:aws:dynamodb:::table/events/export/01768385930622-efd1a093");
    assert_eq!(
        existing.spec.watermark(),
        Utc.with_ymd_and_hms(2026, 1, 14, 10, 18, 50).unwrap() + Duration::milliseconds(622)
    );

    let broken = r#"{"exportType":"INCREMENTAL_EXPORT","exportFromTime":"2026-01-14T10:00:00.000Z",
        "outputView":"NEW_IMAGE","outputFormat":"DYNAMODB_JSON"}"#;
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
