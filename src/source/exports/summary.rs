//! What a `manifest-summary.json` found in the store says, checked for sense before it is used.
//!
//! The summary's `.md5` is only a warning (a real export set had one that matched nothing), so its
//! content is checked instead: the table it names, the kind, view and format of the export, and
//! that its window is one DynamoDB could have written. A summary failing any check refuses the
//! plan, naming the file and the field, and nothing is applied.
//!
//! Kinds (aws-facts §2.2): full exports carry `"version":"2020-06-30"` and `exportTime`, and no
//! `exportType`/`outputView`; incremental ones `"version":"2023-08-01"`, `exportFromTime`,
//! `exportToTime`, `outputView` and `exportType = INCREMENTAL_EXPORT`.

use chrono::{DateTime, Duration, Utc};

use crate::config::ViewType;
use crate::ddb::ManifestSummary;
use crate::source::ExportSpec;

/// The shortest and longest incremental window DynamoDB exports (ExportTableToPointInTime,
/// IncrementalExportSpecification: 15 minutes to 24 hours).
const MIN_WINDOW: Duration = Duration::minutes(15);
const MAX_WINDOW: Duration = Duration::hours(24);

/// How far a full export's `exportTime` may lie ahead of this machine's clock: DynamoDB's export
/// clock may be about a minute off the caller's (DynamoDB developer guide, incremental exports).
const CLOCK_SKEW: Duration = Duration::minutes(1);

const DYNAMODB_JSON: &str = "DYNAMODB_JSON";
const FULL_EXPORT: &str = "FULL_EXPORT";
const INCREMENTAL_EXPORT: &str = "INCREMENTAL_EXPORT";
const INCREMENTAL_VERSION: &str = "2023-08-01";

/// The table the configuration names, which every summary must be of.
pub(super) struct ExpectedTable<'a> {
    pub name: &'a str,
    /// The configured ARN, when the table has one: then account and region must match too.
    pub arn: Option<&'a str>,
}

/// Where an export was written, as its summary records it: what a command exporting a missing
/// window into the same place needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Origin {
    pub table_arn: Option<String>,
    pub bucket: Option<String>,
    /// `None` for an export at the bucket root (`"s3Prefix": null`).
    pub s3_prefix: Option<String>,
}

impl Origin {
    pub(super) fn of(summary: &ManifestSummary) -> Origin {
        Origin {
            table_arn: summary.table_arn.clone(),
            bucket: summary.s3_bucket.clone(),
            s3_prefix: summary.s3_prefix.clone().filter(|p| !p.is_empty()),
        }
    }
}

/// The export `summary` describes, once every check passed; otherwise the problem, naming the
/// field (the caller names the file).
pub(super) fn checked_spec(
    summary: &ManifestSummary,
    table: &ExpectedTable<'_>,
    now: DateTime<Utc>,
) -> Result<ExportSpec, String> {
    check_table(summary, table)?;
    check_format(summary)?;
    if is_incremental(summary) { incremental_spec(summary) } else { full_spec(summary, now) }
}

fn is_incremental(summary: &ManifestSummary) -> bool {
    summary.export_type.as_deref() == Some(INCREMENTAL_EXPORT)
        || summary.version.as_deref() == Some(INCREMENTAL_VERSION)
        || summary.export_from_time.is_some()
        || summary.export_to_time.is_some()
}

/// `tableArn` and `exportArn` (when present) must both name the configured table.
fn check_table(summary: &ManifestSummary, table: &ExpectedTable<'_>) -> Result<(), String> {
    if let Some(arn) = summary.table_arn.as_deref() {
        let matches = match table.arn {
            Some(configured) => arn == configured,
            None => table_name_of(arn) == Some(table.name),
        };
        if !matches {
            let configured = table.arn.map_or_else(|| format!("table `{}`", table.name), str::to_owned);
            return Err(format!(
                "`tableArn` is {arn}, not the configured {configured}; point `prefix` at this table's exports"
            ));
        }
    }
    if let Some(arn) = summary.export_arn.as_deref() {
        let (table_arn, _) = arn
            .rsplit_once("/export/")
            .ok_or_else(|| format!("`exportArn` {arn} is not an export ARN (…:table/NAME/export/ID)"))?;
        let matches = match (table.arn, summary.table_arn.as_deref()) {
            (Some(configured), _) => table_arn == configured,
            (None, Some(summary_table)) => table_arn == summary_table,
            (None, None) => table_name_of(table_arn) == Some(table.name),
        };
        if !matches {
            return Err(format!(
                "`exportArn` {arn} is an export of another table than `{}`; point `prefix` at this table's exports",
                table.name
            ));
        }
    }
    Ok(())
}

/// `arn:aws:dynamodb:REGION:ACCOUNT:table/NAME` → `NAME`.
fn table_name_of(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    resource.strip_prefix("table/").filter(|name| !name.is_empty() && !name.contains('/'))
}

fn check_format(summary: &ManifestSummary) -> Result<(), String> {
    match summary.output_format.as_deref() {
        Some(DYNAMODB_JSON) => Ok(()),
        None => {
            Err(format!("`outputFormat` is missing; DynamoDB writes it (`{DYNAMODB_JSON}`) in every summary"))
        }
        Some("ION") => Err(format!(
            "`outputFormat` is ION, which is not supported: export with ExportFormat {DYNAMODB_JSON} (the default)"
        )),
        Some(other) => {
            Err(format!("`outputFormat` `{other}` is unknown; dynashift reads {DYNAMODB_JSON} exports"))
        }
    }
}

/// A full export: `exportType`, when present, is `FULL_EXPORT`; `exportTime` is not in the future.
fn full_spec(summary: &ManifestSummary, now: DateTime<Utc>) -> Result<ExportSpec, String> {
    match summary.export_type.as_deref() {
        None | Some(FULL_EXPORT) => {}
        Some(other) => {
            return Err(format!("`exportType` `{other}` is unknown (FULL_EXPORT or INCREMENTAL_EXPORT)"));
        }
    }
    if let Some(view) = summary.output_view.as_deref() {
        view_type(view)?;
    }
    let export_time = time(&summary.export_time, "exportTime")?;
    if export_time > now + CLOCK_SKEW {
        return Err(format!(
            "`exportTime` {} is in the future (it is {} now); DynamoDB exports only past instants",
            stamp(export_time),
            stamp(now)
        ));
    }
    Ok(ExportSpec::Full { export_time })
}

/// An incremental export: `exportType` and `outputView` are required and known; the window is
/// 15 minutes to 24 hours and ended before the export itself began.
fn incremental_spec(summary: &ManifestSummary) -> Result<ExportSpec, String> {
    match summary.export_type.as_deref() {
        Some(INCREMENTAL_EXPORT) => {}
        None => {
            return Err(format!(
                "`exportType` is missing; an incremental export says `{INCREMENTAL_EXPORT}`"
            ));
        }
        Some(other) => {
            return Err(format!(
                "`exportType` `{other}` does not fit an incremental export (`{INCREMENTAL_EXPORT}`)"
            ));
        }
    }
    let view_type = match summary.output_view.as_deref() {
        Some(view) => view_type(view)?,
        None => return Err("`outputView` is missing (NEW_IMAGE or NEW_AND_OLD_IMAGES)".into()),
    };
    let from = time(&summary.export_from_time, "exportFromTime")?;
    let to = time(&summary.export_to_time, "exportToTime")?;
    if to <= from {
        return Err(format!("`exportToTime` {} is not after `exportFromTime` {}", stamp(to), stamp(from)));
    }
    let length = to - from;
    if length < MIN_WINDOW || length > MAX_WINDOW {
        return Err(format!(
            "the window `exportFromTime` {} to `exportToTime` {} lasts {}; DynamoDB exports windows of 15 minutes to 24 hours",
            stamp(from),
            stamp(to),
            describe(length)
        ));
    }
    if summary.start_time.is_some() {
        let started = time(&summary.start_time, "startTime")?;
        if to > started {
            return Err(format!(
                "`exportToTime` {} is after the export's own `startTime` {}: no export covers changes not made yet",
                stamp(to),
                stamp(started)
            ));
        }
    }
    Ok(ExportSpec::Incremental { from, to, view_type })
}

fn view_type(view: &str) -> Result<ViewType, String> {
    match view {
        "NEW_AND_OLD_IMAGES" => Ok(ViewType::NewAndOldImages),
        "NEW_IMAGE" => Ok(ViewType::NewImage),
        other => Err(format!("`outputView` `{other}` is unknown (NEW_IMAGE or NEW_AND_OLD_IMAGES)")),
    }
}

fn time(field: &Option<String>, name: &str) -> Result<DateTime<Utc>, String> {
    let text = field.as_deref().ok_or_else(|| format!("`{name}` is missing"))?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("`{name}` {text:?} is not an ISO-8601 time: {e}"))
}

fn describe(length: Duration) -> String {
    let seconds = length.num_seconds();
    format!("{}h{:02}m{:02}s", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

pub(super) fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const TABLE_ARN: &str = "arn:aws:dynamodb:eu-north-1:123456789123:table/test";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 14, 12, 0, 0).unwrap()
    }

    fn table() -> ExpectedTable<'static> {
        ExpectedTable { name: "test", arn: None }
    }

    /// The real full summary of aws-facts §2.2.
    fn full() -> ManifestSummary {
        serde_json::from_str(
            r#"{"version":"2020-06-30","exportArn":"arn:aws:dynamodb:eu-north-1:123456789123:table/test/export/01768385930622-efd1a093",
            "startTime":"2026-01-14T10:18:50.622Z","endTime":"2026-01-14T10:24:58.984Z",
            "tableArn":"arn:aws:dynamodb:eu-north-1:123456789123:table/test","tableId":"cf263806-6bf1-4e51-a242-7067dcdecc72",
            "exportTime":"2026-01-14T10:18:50.622Z","s3Bucket":"test-1231x1x","s3Prefix":null,"s3SseAlgorithm":"AES256",
            "s3SseKmsKeyId":null,"manifestFilesS3Key":"AWSDynamoDB/01768385930622-efd1a093/manifest-files.json",
            "billedSizeBytes":0,"itemCount":3,"outputFormat":"DYNAMODB_JSON"}"#,
        )
        .unwrap()
    }

    fn incremental() -> ManifestSummary {
        let mut summary = full();
        summary.version = Some("2023-08-01".into());
        summary.export_arn = Some(format!("{TABLE_ARN}/export/01768386924000-d339e52d"));
        summary.export_time = None;
        summary.start_time = Some("2026-01-14T10:35:24.000Z".into());
        summary.export_from_time = Some("2026-01-14T10:20:00.000Z".into());
        summary.export_to_time = Some("2026-01-14T10:35:00.000Z".into());
        summary.output_view = Some("NEW_AND_OLD_IMAGES".into());
        summary.export_type = Some("INCREMENTAL_EXPORT".into());
        summary
    }

    fn refused(summary: &ManifestSummary) -> String {
        checked_spec(summary, &table(), now()).unwrap_err()
    }

    #[test]
    fn real_summaries_of_both_kinds_are_accepted() {
        let spec = checked_spec(&full(), &table(), now()).unwrap();
        assert_eq!(
            spec.watermark(),
            Utc.with_ymd_and_hms(2026, 1, 14, 10, 18, 50).unwrap() + Duration::milliseconds(622)
        );
        let spec = checked_spec(&incremental(), &ExpectedTable { name: "test", arn: Some(TABLE_ARN) }, now())
            .unwrap();
        assert!(matches!(spec, ExportSpec::Incremental { view_type: ViewType::NewAndOldImages, .. }));
    }

    #[test]
    fn a_summary_of_another_table_is_refused() {
        let mut other = full();
        other.table_arn = Some("arn:aws:dynamodb:eu-north-1:123456789123:table/other".into());
        assert!(
            refused(&other).contains("`tableArn` is arn:aws:dynamodb:eu-north-1:123456789123:table/other")
        );
        let mut other_export = full();
        other_export.export_arn =
            Some("arn:aws:dynamodb:eu-north-1:123456789123:table/other/export/01-a".into());
        assert!(refused(&other_export).contains("`exportArn`"), "{}", refused(&other_export));
        let account =
            ExpectedTable { name: "test", arn: Some("arn:aws:dynamodb:eu-north-1:999999999999:table/test") };
        let error = checked_spec(&full(), &account, now()).unwrap_err();
        assert!(
            error.contains("not the configured arn:aws:dynamodb:eu-north-1:999999999999:table/test"),
            "{error}"
        );
    }

    #[test]
    fn incremental_windows_must_be_ones_dynamodb_exports() {
        let window = |from: &str, to: &str| {
            let mut summary = incremental();
            summary.export_from_time = Some(format!("2026-01-14T{from}.000Z"));
            summary.export_to_time = Some(format!("2026-01-14T{to}.000Z"));
            summary
        };
        assert!(refused(&window("10:20:00", "10:34:59")).contains("lasts 0h14m59s"));
        let mut long = window("10:20:00", "10:20:00");
        long.export_from_time = Some("2026-01-13T10:19:59.000Z".into());
        assert!(refused(&long).contains("lasts 24h00m01s"), "{}", refused(&long));
        assert!(refused(&window("10:20:00", "10:20:00")).contains("is not after `exportFromTime`"));
        assert!(
            refused(&window("10:20:00", "10:36:00"))
                .contains("after the export's own `startTime` 2026-01-14 10:35:24.000Z")
        );
    }

    #[test]
    fn a_full_export_from_the_future_is_refused() {
        let mut summary = full();
        summary.export_time = Some("2026-01-14T12:01:01.000Z".into());
        assert!(refused(&summary).contains("`exportTime` 2026-01-14 12:01:01.000Z is in the future"));
    }

    #[test]
    fn kind_view_and_format_must_be_known() {
        type Edit = fn(&mut ManifestSummary);
        let cases: [(&str, Edit); 8] = [
            ("`outputFormat` is missing", |s| s.output_format = None),
            ("ION, which is not supported: export with ExportFormat DYNAMODB_JSON", |s| {
                s.output_format = Some("ION".into())
            }),
            ("`outputFormat` `CSV` is unknown", |s| s.output_format = Some("CSV".into())),
            ("`exportType` `SNAPSHOT` is unknown", |s| s.export_type = Some("SNAPSHOT".into())),
            ("`outputView` `OLD_IMAGE` is unknown", |s| s.output_view = Some("OLD_IMAGE".into())),
            ("`exportTime` is missing", |s| s.export_time = None),
            ("`outputView` is missing", |s| *s = ManifestSummary { output_view: None, ..incremental() }),
            ("`exportType` is missing", |s| *s = ManifestSummary { export_type: None, ..incremental() }),
        ];
        for (expected, edit) in cases {
            let mut summary = full();
            edit(&mut summary);
            let error = refused(&summary);
            assert!(error.contains(expected), "{expected}: {error}");
        }
        let mut wrong_kind = incremental();
        wrong_kind.export_type = Some("FULL_EXPORT".into());
        assert!(refused(&wrong_kind).contains("does not fit an incremental export"));
    }

    #[test]
    fn the_origin_of_a_bucket_root_export_has_no_prefix() {
        let origin = Origin::of(&full());
        assert_eq!(origin.s3_prefix, None);
        assert_eq!(origin.bucket.as_deref(), Some("test-1231x1x"));
        assert_eq!(origin.table_arn.as_deref(), Some(TABLE_ARN));
    }
}
