//! What a run's DynamoDB exports cost: AWS's list prices per region, in one table, and the one
//! function that turns billed bytes into an estimate with the assumption it rests on.
//!
//! The pricing model (Amazon DynamoDB pricing, "Data export to Amazon S3", the same on the
//! on-demand and the provisioned page: <https://aws.amazon.com/dynamodb/pricing/on-demand/>,
//! <https://aws.amazon.com/dynamodb/pricing/provisioned/>):
//! - a full export is charged per GB of table size at the export time;
//! - an incremental export is charged per GB of data processed from the continuous backups to
//!   produce it, with a minimum charge of 10 MB per export (DynamoDB developer guide, "DynamoDB
//!   data export to Amazon S3: how it works", incremental export:
//!   <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.HowItWorks.html>,
//!   and the launch post "Introducing incremental export from Amazon DynamoDB to Amazon S3").
//!
//! The billing usage types confirm the two bases (DynamoDB developer guide, "DynamoDB usage types",
//! Export and Import: `ExportDataSize-Bytes`, "based on the size of the DynamoDB base table (table
//! data and local secondary indexes) at the specified point in time"; `IncrementalExportDataSize-
//! Bytes`, "the size of the data processed from the continuous backup"), both priced in GB. The
//! per-GB list price and the 10 MB minimum were not found in the documentation this was checked
//! against: the one row of [`LIST_PRICES`] is unconfirmed (see docs/cost.md), and config overrides it.
//!
//! DescribeExport's `BilledSizeBytes` ("the billable size of the table export",
//! <https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_ExportDescription.html>) is
//! the size each export is charged for; the minimum is applied here again so an answer without it
//! still prices right. AWS bills data sizes in binary units: 1 GB = 2^30 bytes, 1 MB = 2^20.
//!
//! Only regions with a list price are in [`LIST_PRICES`] (one, unconfirmed, above); any
//! other region is priced only when tables.toml sets `export_price_full_per_gb` /
//! `export_price_incremental_per_gb`, never guessed. S3 requests and storage of the export and
//! staged files, and Redshift Data API calls, are small and not included.

use serde::{Deserialize, Serialize};

/// Bytes in one billed GB.
pub const BYTES_PER_GB: u64 = 1 << 30;

/// The least an incremental export is charged for: 10 MB.
pub const INCREMENTAL_MINIMUM_BYTES: u64 = 10 << 20;

/// The region the demo source is priced as: it runs nowhere, so it borrows AWS's reference region.
pub const DEMO_PRICING_REGION: &str = "us-east-1";

/// USD per GB of each export type in one region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExportPrices {
    pub full_per_gb: f64,
    pub incremental_per_gb: f64,
}

/// AWS list prices of DynamoDB export to S3, USD per GB (pricing pages above, read December
/// 2026). Add a row only from the pricing page for that region.
pub const LIST_PRICES: &[(&str, ExportPrices)] =
    &[("us-east-1", ExportPrices { full_per_gb: 0.10, incremental_per_gb: 0.10 })];

/// The list prices of `region`, when the table has them.
pub fn list_prices(region: &str) -> Option<ExportPrices> {
    LIST_PRICES.iter().find(|(name, _)| *name == region).map(|(_, prices)| *prices)
}

/// Which kind of export was billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Full,
    Incremental,
}

/// One export of a run, as billed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BilledExport {
    pub kind: ExportKind,
    pub billed_bytes: u64,
}

/// Prices tables.toml sets (`export_price_full_per_gb`, `export_price_incremental_per_gb`); each
/// wins over the list price.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PriceOverrides {
    pub full_per_gb: Option<f64>,
    pub incremental_per_gb: Option<f64>,
}

/// Where the exports ran, as far as dynashift knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PricingRegion<'a> {
    Region(&'a str),
    /// The demo source: priced as [`DEMO_PRICING_REGION`], and the assumption says so.
    Demo,
    /// Nothing names the region.
    Unknown,
}

/// A run's estimated export cost. Journaled and in `--json` (`cost_estimated`): field names are
/// a promise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostEstimate {
    /// Estimated USD; absent when no price is known for the region (`assumption` says what to set).
    pub usd: Option<f64>,
    /// The bytes the figure rests on: billed bytes, each incremental export at least 10 MB.
    pub billed_bytes: u64,
    /// How the figure was reached, or why there is none.
    pub assumption: String,
}

/// `usd` is never NaN: it is a sum of products of finite byte counts and range-checked prices.
impl Eq for CostEstimate {}

impl CostEstimate {
    /// `estimated export cost $0.0010 (incremental export, …)`, or why there is no figure.
    pub fn line(&self) -> String {
        match self.usd {
            Some(_) => format!("estimated export cost {} ({})", self.usd_text(), self.assumption),
            None => format!("export cost not estimated: {}", self.assumption),
        }
    }

    /// `$0.0010`, `$12.34`, or `price unknown`.
    pub fn usd_text(&self) -> String {
        self.usd.map_or_else(|| "price unknown".to_owned(), usd)
    }
}

/// USD for people: cents from $1 up, four decimals below (an incremental export costs a tenth of
/// a cent).
pub fn usd(amount: f64) -> String {
    if amount == 0.0 || amount >= 1.0 { format!("${amount:.2}") } else { format!("${amount:.4}") }
}

/// The estimate for `exports` run in `region`, priced by `overrides` where set and by the list
/// price otherwise.
pub fn estimate(
    exports: &[BilledExport],
    region: PricingRegion<'_>,
    overrides: PriceOverrides,
) -> CostEstimate {
    if exports.is_empty() {
        return CostEstimate { usd: Some(0.0), billed_bytes: 0, assumption: "no export".to_owned() };
    }
    let full: Vec<u64> = bytes_of(exports, ExportKind::Full, 0);
    let incremental: Vec<u64> = bytes_of(exports, ExportKind::Incremental, INCREMENTAL_MINIMUM_BYTES);
    let billed_bytes = full.iter().chain(&incremental).sum();
    let mut usd = Some(0.0);
    let mut parts = Vec::new();
    for (kind, sizes) in [(ExportKind::Full, &full), (ExportKind::Incremental, &incremental)] {
        if sizes.is_empty() {
            continue;
        }
        let bytes: u64 = sizes.iter().sum();
        match price(kind, region, overrides) {
            Ok((per_gb, source)) => {
                usd = usd.map(|total| total + bytes as f64 / BYTES_PER_GB as f64 * per_gb);
                parts.push(part(kind, sizes.len(), bytes, per_gb, &source));
            }
            Err(missing) => {
                return CostEstimate { usd: None, billed_bytes, assumption: missing };
            }
        }
    }
    CostEstimate { usd, billed_bytes, assumption: parts.join("; ") }
}

fn bytes_of(exports: &[BilledExport], kind: ExportKind, minimum: u64) -> Vec<u64> {
    exports.iter().filter(|e| e.kind == kind).map(|e| e.billed_bytes.max(minimum)).collect()
}

/// The price per GB of `kind` and where it comes from, or what to set.
fn price(
    kind: ExportKind,
    region: PricingRegion<'_>,
    overrides: PriceOverrides,
) -> Result<(f64, String), String> {
    let (key, overridden) = match kind {
        ExportKind::Full => ("export_price_full_per_gb", overrides.full_per_gb),
        ExportKind::Incremental => ("export_price_incremental_per_gb", overrides.incremental_per_gb),
    };
    if let Some(per_gb) = overridden {
        return Ok((per_gb, format!("{key} from tables.toml")));
    }
    let of = |prices: ExportPrices| match kind {
        ExportKind::Full => prices.full_per_gb,
        ExportKind::Incremental => prices.incremental_per_gb,
    };
    match region {
        PricingRegion::Region(name) => list_prices(name)
            .map(|prices| (of(prices), format!("{name} list price")))
            .ok_or_else(|| format!("price unknown for region {name}: set {key} in [defaults] or the table")),
        PricingRegion::Demo => list_prices(DEMO_PRICING_REGION)
            .map(|prices| {
                let source = format!(
                    "{DEMO_PRICING_REGION} list price: the demo source has no region and is priced as {DEMO_PRICING_REGION}"
                );
                (of(prices), source)
            })
            .ok_or_else(|| format!("price unknown for the demo: set {key}")),
        PricingRegion::Unknown => {
            Err(format!("price unknown: nothing names the exports' region; set {key} in [defaults] or the table"))
        }
    }
}

/// `incremental export, 0.0098 GB processed at $0.10/GB (us-east-1 list price, minimum 10 MB per export)`.
fn part(kind: ExportKind, count: usize, bytes: u64, per_gb: f64, source: &str) -> String {
    let gb = bytes as f64 / BYTES_PER_GB as f64;
    let gb = if gb == 0.0 || gb >= 0.01 { format!("{gb:.2}") } else { format!("{gb:.4}") };
    let rate = format!("${}/GB", trim_price(per_gb));
    let plural = if count == 1 { String::new() } else { "s".to_owned() };
    let counted = if count == 1 { String::new() } else { format!("{count} ") };
    match kind {
        ExportKind::Full => format!("{counted}full export{plural}, {gb} GB table size at {rate} ({source})"),
        ExportKind::Incremental => format!(
            "{counted}incremental export{plural}, {gb} GB processed at {rate} ({source}, minimum 10 MB per export)"
        ),
    }
}

/// `0.10`, `0.114`: two decimals at least, more only when the price has them.
fn trim_price(per_gb: f64) -> String {
    let text = format!("{per_gb:.6}");
    let trimmed = text.trim_end_matches('0');
    let decimals = trimmed.split('.').nth(1).map_or(0, str::len);
    if decimals < 2 { format!("{per_gb:.2}") } else { trimmed.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = BYTES_PER_GB;

    fn full(bytes: u64) -> BilledExport {
        BilledExport { kind: ExportKind::Full, billed_bytes: bytes }
    }

    fn incremental(bytes: u64) -> BilledExport {
        BilledExport { kind: ExportKind::Incremental, billed_bytes: bytes }
    }

    #[test]
    fn a_full_export_is_priced_per_gb_of_table_size() {
        let estimate =
            estimate(&[full(3 * GB)], PricingRegion::Region("us-east-1"), PriceOverrides::default());
        assert_eq!(estimate.billed_bytes, 3 * GB);
        assert!((estimate.usd.unwrap() - 0.30).abs() < 1e-9, "{estimate:?}");
        assert_eq!(estimate.assumption, "full export, 3.00 GB table size at $0.10/GB (us-east-1 list price)");
        assert_eq!(estimate.usd_text(), "$0.3000");
    }

    #[test]
    fn an_incremental_export_below_the_minimum_is_charged_ten_mb() {
        let estimate =
            estimate(&[incremental(1_000)], PricingRegion::Region("us-east-1"), PriceOverrides::default());
        assert_eq!(estimate.billed_bytes, INCREMENTAL_MINIMUM_BYTES);
        let expected = 10.0 / 1024.0 * 0.10;
        assert!((estimate.usd.unwrap() - expected).abs() < 1e-12, "{estimate:?}");
        assert_eq!(
            estimate.assumption,
            "incremental export, 0.0098 GB processed at $0.10/GB (us-east-1 list price, minimum 10 MB per export)"
        );
        assert_eq!(estimate.usd_text(), "$0.0010");
    }

    #[test]
    fn each_incremental_export_of_a_catch_up_has_its_own_minimum() {
        let exports = [incremental(0), incremental(2 * GB), incremental(5)];
        let estimate = estimate(&exports, PricingRegion::Region("us-east-1"), PriceOverrides::default());
        assert_eq!(estimate.billed_bytes, 2 * GB + 2 * INCREMENTAL_MINIMUM_BYTES);
        assert!(estimate.assumption.starts_with("3 incremental exports, 2.02 GB processed"), "{estimate:?}");
    }

    #[test]
    fn an_override_prices_a_region_the_table_does_not_have() {
        let overrides = PriceOverrides { full_per_gb: Some(0.114), incremental_per_gb: None };
        let estimate = estimate(&[full(10 * GB)], PricingRegion::Region("ap-northeast-1"), overrides);
        assert!((estimate.usd.unwrap() - 1.14).abs() < 1e-9, "{estimate:?}");
        assert_eq!(estimate.usd_text(), "$1.14");
        assert_eq!(
            estimate.assumption,
            "full export, 10.00 GB table size at $0.114/GB (export_price_full_per_gb from tables.toml)"
        );
        let estimate = estimate_with_list_region_override();
        assert!((estimate.usd.unwrap() - 0.5).abs() < 1e-9, "{estimate:?}");
    }

    fn estimate_with_list_region_override() -> CostEstimate {
        let overrides = PriceOverrides { full_per_gb: Some(0.05), incremental_per_gb: None };
        estimate(&[full(10 * GB)], PricingRegion::Region("us-east-1"), overrides)
    }

    #[test]
    fn an_unknown_region_gets_no_figure_but_the_key_to_set() {
        let estimate =
            estimate(&[incremental(GB)], PricingRegion::Region("eu-west-3"), PriceOverrides::default());
        assert_eq!(estimate.usd, None);
        assert_eq!(estimate.usd_text(), "price unknown");
        assert_eq!(
            estimate.assumption,
            "price unknown for region eu-west-3: set export_price_incremental_per_gb in [defaults] or the table"
        );
        let unknown = estimate_unknown();
        assert!(
            unknown.assumption.starts_with("price unknown: nothing names the exports' region"),
            "{unknown:?}"
        );
    }

    fn estimate_unknown() -> CostEstimate {
        estimate(&[full(GB)], PricingRegion::Unknown, PriceOverrides::default())
    }

    #[test]
    fn the_demo_is_priced_as_us_east_1_and_says_so() {
        let estimate = estimate(&[full(GB / 2)], PricingRegion::Demo, PriceOverrides::default());
        assert!((estimate.usd.unwrap() - 0.05).abs() < 1e-9);
        assert!(
            estimate.assumption.contains("the demo source has no region and is priced as us-east-1"),
            "{estimate:?}"
        );
    }

    #[test]
    fn a_run_without_exports_costs_nothing() {
        let estimate = estimate(&[], PricingRegion::Unknown, PriceOverrides::default());
        assert_eq!((estimate.usd, estimate.billed_bytes), (Some(0.0), 0));
        assert_eq!(usd(0.0), "$0.00");
    }
}
