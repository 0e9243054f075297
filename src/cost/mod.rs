//! What a table's syncs cost: each run's estimate from its exports (priced by
//! [`crate::contract::pricing`]), the total of the last 30 days, and a 30-day projection for a
//! scheduled table from its cadence and the mean of its recent runs. The pipeline journals each
//! run's estimate; `status` and the console read them back through here.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::{Mode, SourceConfig, TableConfig};
use crate::contract::pricing::{self, BilledExport, ExportKind, PricingRegion};
use crate::contract::{CostEstimate, ExportDescription, ExportSpec};

/// The window `status` totals and projects over.
pub const WINDOW: chrono::Duration = chrono::Duration::days(30);

/// How many of a table's newest priced runs its projection averages.
const PROJECTION_SAMPLE: usize = 10;

/// The estimate of a run that applied `exports`. The region is the one each export's ARN names
/// (DynamoDB runs an export in its table's region), else the table's configured one; the demo is
/// priced as us-east-1 and says so.
pub fn estimate_run(table: &TableConfig, exports: &[ExportDescription]) -> CostEstimate {
    let billed: Vec<BilledExport> = exports
        .iter()
        .map(|export| BilledExport {
            kind: match export.spec {
                ExportSpec::Full { .. } => ExportKind::Full,
                ExportSpec::Incremental { .. } => ExportKind::Incremental,
            },
            billed_bytes: export.billed_size_bytes.unwrap_or(0),
        })
        .collect();
    let from_arn = exports.iter().find_map(|export| arn_region(&export.export_arn));
    let region = match (&table.source, from_arn) {
        (SourceConfig::Demo, _) => PricingRegion::Demo,
        (_, Some(region)) => PricingRegion::Region(region),
        (SourceConfig::Aws(settings), None) => {
            settings.client.region.as_deref().map_or(PricingRegion::Unknown, PricingRegion::Region)
        }
        (SourceConfig::Exports { .. }, None) => PricingRegion::Unknown,
    };
    pricing::estimate(&billed, region, table.accounting.prices)
}

/// The region of a DynamoDB ARN (`arn:aws:dynamodb:us-east-1:…`), when it names one.
pub fn arn_region(arn: &str) -> Option<&str> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(_partition), Some("dynamodb"), Some(region)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    (!region.is_empty()).then_some(region)
}

/// One past run as the totals read it (from its journal).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunCost {
    pub started_at: DateTime<Utc>,
    pub mode: Mode,
    /// The run's estimate in USD; `None` when it has none (no price, or a journal from before
    /// estimates).
    pub usd: Option<f64>,
}

/// What a table's runs of the last 30 days cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct WindowTotal {
    /// USD of the priced runs that started in the window.
    pub usd: f64,
    pub runs_priced: u64,
    /// Runs in the window with exports but no figure (unknown price, or journaled before
    /// estimates existed): the total leaves them out.
    pub runs_unpriced: u64,
}

/// The total of the runs that started in the 30 days up to `now`.
pub fn last_30_days(runs: &[RunCost], now: DateTime<Utc>) -> WindowTotal {
    let recent = runs.iter().filter(|run| run.started_at > now - WINDOW && run.started_at <= now);
    let mut total = WindowTotal { usd: 0.0, runs_priced: 0, runs_unpriced: 0 };
    for run in recent {
        match run.usd {
            Some(usd) => {
                total.usd += usd;
                total.runs_priced += 1;
            }
            None => total.runs_unpriced += 1,
        }
    }
    total
}

/// What a scheduled table's syncs would cost over 30 days at its cadence.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Projection {
    pub usd: f64,
    /// The table's `every`, in seconds.
    pub every_seconds: u64,
    /// Runs 30 days hold at the table's `every`.
    pub runs: f64,
    /// The mean estimate of the recent runs it rests on.
    pub mean_run_usd: f64,
    /// How many recent runs that mean is of.
    pub sample: usize,
}

/// The projection for a table synced `every` in `mode`: the mean of its newest priced runs of
/// that mode in the last 30 days (a first full sync says nothing of the incremental runs after
/// it, and last month's table size little of today's) times the runs 30 days hold. `None`
/// without a schedule or a priced run to average.
pub fn projection(
    every: Option<Duration>,
    mode: Mode,
    runs: &[RunCost],
    now: DateTime<Utc>,
) -> Option<Projection> {
    let every = every.filter(|every| !every.is_zero())?;
    let recent = |run: &&RunCost| run.started_at > now - WINDOW && run.started_at <= now;
    let mut newest: Vec<&RunCost> =
        runs.iter().filter(recent).filter(|run| run.mode == mode && run.usd.is_some()).collect();
    newest.sort_by_key(|run| std::cmp::Reverse(run.started_at));
    newest.truncate(PROJECTION_SAMPLE);
    if newest.is_empty() {
        return None;
    }
    let mean = newest.iter().filter_map(|run| run.usd).sum::<f64>() / newest.len() as f64;
    let window = WINDOW.to_std().expect("30 days is positive");
    let runs = window.as_secs_f64() / every.as_secs_f64();
    Some(Projection {
        usd: mean * runs,
        every_seconds: every.as_secs(),
        runs,
        mean_run_usd: mean,
        sample: newest.len(),
    })
}

/// `$0.0420 over 30 days (12 runs)` for people.
pub fn window_text(total: &WindowTotal) -> String {
    let runs = crate::human::counted(total.runs_priced, "run");
    let unpriced = match total.runs_unpriced {
        0 => String::new(),
        n => format!(", {} without a price", crate::human::counted(n, "run")),
    };
    format!("{} over 30 days ({runs}{unpriced})", pricing::usd(total.usd))
}

/// `~$1.44 per 30 days (720 runs at every 1h × $0.0020 mean of 10)` for people.
pub fn projection_text(projection: &Projection) -> String {
    format!(
        "~{} per 30 days ({:.0} runs × {} mean of the last {})",
        pricing::usd(projection.usd),
        projection.runs,
        pricing::usd(projection.mean_run_usd),
        crate::human::counted(projection.sample as u64, "run")
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::config::testing::table_with;
    use crate::config::{AwsExportSettings, AwsSettings, ViewType};
    use crate::contract::ExportStatus;

    fn export(arn: &str, spec: ExportSpec, billed: u64) -> ExportDescription {
        ExportDescription {
            export_arn: arn.into(),
            status: ExportStatus::Completed,
            spec,
            manifest_summary_key: None,
            item_count: Some(1),
            billed_size_bytes: Some(billed),
            failure_code: None,
            failure_message: None,
        }
    }

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, hour, 0, 0).unwrap()
    }

    fn window(from: u32, to: u32) -> ExportSpec {
        ExportSpec::Incremental { from: at(from), to: at(to), view_type: ViewType::NewAndOldImages }
    }

    #[test]
    fn the_region_comes_from_the_export_arn_then_the_config() {
        assert_eq!(arn_region("arn:aws:dynamodb:eu-west-1:123456789012:table/t/export/1"), Some("eu-west-1"));
        assert_eq!(arn_region("arn:aws:s3:::bucket"), None);
        assert_eq!(arn_region("not an arn"), None);

        let aws = |region: Option<&str>| {
            table_with(|t| {
                t.source = SourceConfig::Aws(AwsExportSettings {
                    client: AwsSettings { region: region.map(str::to_owned), ..AwsSettings::default() },
                    bucket_owner: None,
                    sse: None,
                    key_from_table: None,
                })
            })
        };
        let in_paris = export("arn:aws:dynamodb:eu-west-3:1:table/t/export/1", window(0, 1), 5);
        let estimate = estimate_run(&aws(Some("us-east-1")), std::slice::from_ref(&in_paris));
        assert!(estimate.assumption.contains("region eu-west-3"), "the ARN wins: {estimate:?}");
        let local = export("local-export-1", window(0, 1), 5);
        let estimate = estimate_run(&aws(Some("us-east-1")), std::slice::from_ref(&local));
        assert!(estimate.assumption.contains("us-east-1 list price"), "{estimate:?}");
        let estimate = estimate_run(&aws(None), std::slice::from_ref(&local));
        assert_eq!(estimate.usd, None, "{estimate:?}");
    }

    #[test]
    fn the_demo_is_priced_as_us_east_1_whatever_its_arns_say() {
        let table = table_with(|t| t.source = SourceConfig::Demo);
        let exports = [export("arn:aws:dynamodb:us-east-1:0:table/orders/export/1", window(0, 1), 5)];
        let estimate = estimate_run(&table, &exports);
        assert!(estimate.assumption.contains("the demo source has no region"), "{estimate:?}");
        assert_eq!(estimate.billed_bytes, pricing::INCREMENTAL_MINIMUM_BYTES);
    }

    #[test]
    fn the_table_s_price_override_wins() {
        let table = table_with(|t| t.accounting.prices.incremental_per_gb = Some(1.0));
        let exports = [export("x", window(0, 1), pricing::BYTES_PER_GB)];
        assert_eq!(estimate_run(&table, &exports).usd, Some(1.0));
    }

    fn run(hours_ago: i64, mode: Mode, usd: Option<f64>) -> RunCost {
        RunCost { started_at: at(12) - chrono::Duration::hours(hours_ago), mode, usd }
    }

    #[test]
    fn the_30_day_total_counts_priced_runs_in_the_window_and_names_the_others() {
        let runs = [
            run(1, Mode::Incremental, Some(0.001)),
            run(2, Mode::Full, Some(0.5)),
            run(3, Mode::Incremental, None),
            run(31 * 24, Mode::Full, Some(100.0)),
        ];
        let total = last_30_days(&runs, at(12));
        assert!((total.usd - 0.501).abs() < 1e-12, "{total:?}");
        assert_eq!((total.runs_priced, total.runs_unpriced), (2, 1));
        assert_eq!(window_text(&total), "$0.5010 over 30 days (2 runs, 1 run without a price)");
    }

    #[test]
    fn a_projection_needs_a_schedule_and_averages_recent_runs_of_the_table_s_mode() {
        let runs = [
            run(1, Mode::Incremental, Some(0.002)),
            run(2, Mode::Incremental, Some(0.004)),
            run(3, Mode::Full, Some(9.0)),
            run(4, Mode::Incremental, None),
            run(40 * 24, Mode::Incremental, Some(7.0)),
        ];
        assert_eq!(projection(None, Mode::Incremental, &runs, at(12)), None);
        let hourly = projection(Some(Duration::from_secs(3600)), Mode::Incremental, &runs, at(12)).unwrap();
        assert_eq!(hourly.sample, 2);
        assert!((hourly.runs - 720.0).abs() < 1e-9);
        assert!((hourly.usd - 0.003 * 720.0).abs() < 1e-9, "{hourly:?}");
        assert_eq!(
            projection_text(&hourly),
            "~$2.16 per 30 days (720 runs × $0.0030 mean of the last 2 runs)"
        );
        assert_eq!(projection(Some(Duration::from_secs(60)), Mode::Incremental, &[], at(12)), None);
    }
}
