//! Chaining incremental exports from the watermark, and what to do about a gap between them.
//!
//! Exports made by hand or by another tool rarely meet exactly: a full export at
//! `10:18:50.622Z` followed by incremental exports from `10:20:00Z` leaves 69 seconds in no
//! export. Such a gap is refused with the exact AWS CLI command that exports a window covering
//! it, unless the user accepts it (`--accept-gap`); an accepted gap is recorded with the commit.

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::FoundExport;
use super::summary::stamp;
use crate::config::ViewType;
use crate::contract::AcceptedGap;
use crate::source::{ExportSpec, SourceError};

/// The shortest and longest window an incremental export may have.
const MIN_WINDOW: Duration = Duration::minutes(15);
const MAX_WINDOW: Duration = Duration::hours(24);

/// Exports to apply from the watermark, how many were skipped as covered by others, and the
/// gaps the user accepted between them.
#[derive(Debug)]
pub(super) struct Chain {
    pub exports: Vec<FoundExport>,
    pub skipped: usize,
    pub gaps: Vec<AcceptedGap>,
}

/// Walks exports sorted by window end from `watermark`: each must start at or before the point
/// reached (a later start leaves changes unexported: refused with a command that exports the
/// gap, or accepted and recorded when `accept_gap`), and one ending at or before it adds nothing
/// and is skipped. Starting earlier is harmless: the stage folds every line by its write
/// timestamp, newest wins, so re-applying already-applied changes is idempotent.
pub(super) fn chain_from(
    watermark: DateTime<Utc>,
    sorted: Vec<FoundExport>,
    accept_gap: bool,
) -> Result<Chain, SourceError> {
    let mut chain = Chain { exports: Vec::new(), skipped: 0, gaps: Vec::new() };
    let mut reached = watermark;
    for export in sorted {
        let ExportSpec::Incremental { from, to, view_type } = export.description.spec else { continue };
        if to <= reached {
            chain.skipped += 1;
            continue;
        }
        if from > reached {
            if !accept_gap {
                return Err(gap_error(reached, &chain, &export, from, view_type));
            }
            chain.gaps.push(AcceptedGap { from: reached, to: from });
        }
        reached = to;
        chain.exports.push(export);
    }
    Ok(chain)
}

fn gap_error(
    reached: DateTime<Utc>,
    chain: &Chain,
    next: &FoundExport,
    from: DateTime<Utc>,
    view_type: ViewType,
) -> SourceError {
    let after = match chain.exports.last() {
        Some(previous) => format!("export {} ends at {}", previous.description.export_arn, stamp(reached)),
        None => format!("the watermark is {}", stamp(reached)),
    };
    let commands = covering_commands(next, reached, from, view_type);
    SourceError::ExportGap {
        message: format!(
            "the incremental exports have a gap from {} to {}: {after}, but the next, {}, starts at {}; \
             changes in between are in no export. Export a window covering it into the same place:\n{}",
            stamp(reached),
            stamp(from),
            next.description.export_arn,
            stamp(from),
            commands.join("\n")
        ),
    }
}

/// `aws dynamodb export-table-to-point-in-time` commands whose windows cover `[start, end)`, one
/// per 24 hours, each at least 15 minutes long (overlapping the next export is harmless). The
/// start is rounded down and the end up to whole seconds. Syntax per the AWS CLI reference,
/// "export-table-to-point-in-time" (`--incremental-export-specification` shorthand
/// `ExportFromTime=timestamp,ExportToTime=timestamp,ExportViewType=string`); timestamps in
/// ISO 8601, which the CLI accepts for every timestamp parameter ("Specifying parameter values
/// for the AWS CLI", timestamps).
fn covering_commands(
    next: &FoundExport,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    view_type: ViewType,
) -> Vec<String> {
    let origin = &next.origin;
    let table_arn = origin.table_arn.as_deref().unwrap_or("<table ARN>");
    let bucket = origin.bucket.as_deref().unwrap_or("<bucket>");
    let prefix = origin.s3_prefix.as_deref().map(|p| format!(" --s3-prefix {p}")).unwrap_or_default();
    let mut commands = Vec::new();
    let mut from = start.duration_trunc(Duration::seconds(1)).expect("whole seconds always fit");
    let end = round_up_to_second(end);
    while from < end {
        let to = (from + MAX_WINDOW).min(end).max(from + MIN_WINDOW);
        commands.push(format!(
            "  aws dynamodb export-table-to-point-in-time --table-arn {table_arn} --s3-bucket {bucket}{prefix} \
             --export-format DYNAMODB_JSON --export-type INCREMENTAL_EXPORT \
             --incremental-export-specification ExportFromTime={},ExportToTime={},ExportViewType={}",
            cli_time(from),
            cli_time(to),
            view_type.as_str()
        ));
        from = to;
    }
    commands
}

fn round_up_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let down = t.duration_trunc(Duration::seconds(1)).expect("whole seconds always fit");
    if down == t { t } else { down + Duration::seconds(1) }
}

fn cli_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::super::summary::Origin;
    use super::*;
    use crate::source::{ExportDescription, ExportStatus};

    fn at(h: u32, m: u32, s: u32, ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 14, h, m, s).unwrap() + Duration::milliseconds(ms)
    }

    fn export(from: DateTime<Utc>, to: DateTime<Utc>, s3_prefix: Option<&str>) -> FoundExport {
        let table_arn = "arn:aws:dynamodb:eu-north-1:123456789123:table/test";
        FoundExport {
            summary_key: format!("AWSDynamoDB/{}/manifest-summary.json", from.timestamp_millis()),
            description: ExportDescription {
                export_arn: format!("{table_arn}/export/{:014}-d339e52d", from.timestamp_millis()),
                status: ExportStatus::Completed,
                spec: ExportSpec::Incremental { from, to, view_type: ViewType::NewAndOldImages },
                manifest_summary_key: None,
                item_count: None,
                billed_size_bytes: None,
                failure_code: None,
                failure_message: None,
            },
            origin: Origin {
                table_arn: Some(table_arn.into()),
                bucket: Some("test-1231x1x".into()),
                s3_prefix: s3_prefix.map(str::to_owned),
            },
        }
    }

    #[test]
    fn a_gap_after_a_sub_second_full_export_gives_a_followable_command() {
        let watermark = at(10, 18, 50, 622);
        let exports = vec![export(at(10, 20, 0, 0), at(10, 35, 0, 0), None)];
        let error = chain_from(watermark, exports, false).unwrap_err().to_string();
        assert!(error.contains("gap from 2026-01-14 10:18:50.622Z to 2026-01-14 10:20:00.000Z"), "{error}");
        assert!(error.contains("the watermark is 2026-01-14 10:18:50.622Z"), "{error}");
        let command = error.lines().find(|l| l.contains("aws dynamodb")).unwrap().trim();
        assert_eq!(
            command,
            "aws dynamodb export-table-to-point-in-time --table-arn arn:aws:dynamodb:eu-north-1:123456789123:table/test \
             --s3-bucket test-1231x1x --export-format DYNAMODB_JSON --export-type INCREMENTAL_EXPORT \
             --incremental-export-specification ExportFromTime=2026-01-14T10:18:50Z,ExportToTime=2026-01-14T10:33:50Z,\
             ExportViewType=NEW_AND_OLD_IMAGES"
        );
    }

    #[test]
    fn the_command_keeps_the_prefix_and_covers_long_gaps_day_by_day() {
        let watermark = at(0, 0, 0, 0) - Duration::hours(30);
        let next = export(at(10, 0, 0, 500), at(10, 30, 0, 0), Some("in/ddb"));
        let error = chain_from(watermark, vec![next], false).unwrap_err().to_string();
        let commands: Vec<&str> = error.lines().filter(|l| l.contains("aws dynamodb")).collect();
        assert_eq!(commands.len(), 2, "{error}");
        assert!(commands[0].contains("--s3-prefix in/ddb "), "{}", commands[0]);
        assert!(
            commands[0].contains("ExportFromTime=2026-01-12T18:00:00Z,ExportToTime=2026-01-13T18:00:00Z")
        );
        assert!(
            commands[1].contains("ExportFromTime=2026-01-13T18:00:00Z,ExportToTime=2026-01-14T10:00:01Z")
        );
    }

    #[test]
    fn an_accepted_gap_is_recorded_and_the_chain_applied() {
        let watermark = at(10, 18, 50, 622);
        let exports = vec![
            export(at(10, 20, 0, 0), at(10, 35, 0, 0), None),
            export(at(10, 35, 0, 0), at(10, 50, 0, 0), None),
            export(at(11, 0, 0, 0), at(11, 15, 0, 0), None),
        ];
        let chain = chain_from(watermark, exports, true).unwrap();
        assert_eq!(chain.exports.len(), 3);
        assert_eq!(
            chain.gaps,
            vec![
                AcceptedGap { from: watermark, to: at(10, 20, 0, 0) },
                AcceptedGap { from: at(10, 50, 0, 0), to: at(11, 0, 0, 0) }
            ]
        );
    }
}
