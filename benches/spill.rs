//! The incremental stage's fold by key: in memory, and spilled to disk past `stage_memory_mb`
//! (issue #13: 5 M changed keys under 400 MiB peak RSS, at no more than 1.5× the in-memory time
//! per item).
//!
//! Generates two incremental exports in the AWS layout in a temporary local store: one of
//! [`SMALL_KEYS`] changed keys, which the default budget (256 MiB) folds in memory, and one of
//! [`LARGE_KEYS`], which it spills. Each stage runs in a fresh child process (this bench
//! re-executed), so its peak RSS is its own:
//! - `memory`: the small export, default budget (folded in memory);
//! - `spill-small`: the small export, a 16 MiB budget (spilled): the same work both ways;
//! - `spill-large`: the large export, default budget (spilled).
//!
//! Run with `cargo bench --bench spill`. `SPILL_BENCH_KEYS=small,large` (e.g. `20000,100000`)
//! changes the sizes for a quick smoke.

use std::io::Write as _;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use chrono::{TimeZone as _, Utc};
use dynashift::config::{TableConfig, ViewType};
use dynashift::pipeline::EventSink;
use dynashift::pipeline::events::StageCounts;
use dynashift::pipeline::stage::{StageInput, stage};
use dynashift::source::{ExportDescription, ExportSpec, ExportStatus};
use dynashift::store::{LocalStore, ObjectStore};
use dynashift::testkit::TableBuilder;
use flate2::Compression;
use flate2::write::GzEncoder;
use md5::{Digest as _, Md5};
use tokio_util::sync::CancellationToken;

const SMALL_KEYS: u64 = 1_000_000;
const LARGE_KEYS: u64 = 5_000_000;
const FILES: u64 = 16;
const MIB: u64 = 1024 * 1024;
/// The default `stage_memory_mb`.
const DEFAULT_BUDGET: u64 = 256 * MIB;
/// A budget the small export passes, so it spills.
const SMALL_BUDGET: u64 = 16 * MIB;

/// Set in a child process: the configuration, the store folder, the export id, its keys.
const CHILD_CONFIG: &str = "SPILL_BENCH_CHILD";
const CHILD_DIR: &str = "SPILL_BENCH_DIR";
const CHILD_EXPORT: &str = "SPILL_BENCH_EXPORT";
const CHILD_KEYS: &str = "SPILL_BENCH_KEYS_STAGED";

fn main() {
    match std::env::var(CHILD_CONFIG) {
        Ok(config) => measure_stage(&config),
        Err(_) => generate_and_compare(),
    }
}

fn sizes() -> (u64, u64) {
    let custom = std::env::var("SPILL_BENCH_KEYS").ok().and_then(|text| {
        let (small, large) = text.split_once(',')?;
        Some((small.trim().parse().ok()?, large.trim().parse().ok()?))
    });
    custom.unwrap_or((SMALL_KEYS, LARGE_KEYS))
}

/// The parent: generate both exports, then stage each configuration in a child.
fn generate_and_compare() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let store = LocalStore::new(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (small, large) = sizes();
    println!("{} cores", std::thread::available_parallelism().map_or(1, |n| n.get()));
    for (id, keys) in [("small", small), ("large", large)] {
        let started = Instant::now();
        let (uncompressed, compressed) = runtime.block_on(generate_export(&store, id, keys));
        println!(
            "export `{id}`: {keys} changed keys, {FILES} files, {:.0} MB DynamoDB JSON, {:.0} MB gzip \
             (generated in {:.1} s)",
            uncompressed as f64 / 1e6,
            compressed as f64 / 1e6,
            started.elapsed().as_secs_f64()
        );
    }
    let mut per_item = Vec::new();
    for (config, id, keys) in
        [("memory", "small", small), ("spill-small", "small", small), ("spill-large", "large", large)]
    {
        let output = Command::new(std::env::current_exe().expect("the bench knows its own path"))
            .env(CHILD_CONFIG, config)
            .env(CHILD_DIR, dir.path())
            .env(CHILD_EXPORT, id)
            .env(CHILD_KEYS, keys.to_string())
            .output()
            .expect("the bench can run itself");
        let text = String::from_utf8_lossy(&output.stdout);
        print!("{text}");
        assert!(
            output.status.success(),
            "staging `{config}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let micros =
            text.lines().find_map(|l| l.strip_prefix("per-item-us ")).and_then(|v| v.trim().parse().ok());
        per_item.push(micros.unwrap_or(f64::NAN));
    }
    println!(
        "time per item against the in-memory fold: spilled small {:.2}×, spilled large {:.2}×",
        per_item[1] / per_item[0],
        per_item[2] / per_item[0]
    );
}

/// A child: stage one export once, and report wall and CPU time per item and peak RSS.
fn measure_stage(config: &str) {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let store = LocalStore::new(var(CHILD_DIR));
    let id = var(CHILD_EXPORT);
    let keys: u64 = var(CHILD_KEYS).parse().expect("the parent passes the key count");
    let budget = if config == "spill-small" { SMALL_BUDGET } else { DEFAULT_BUDGET };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let counts = runtime.block_on(run_stage(&store, &id, keys, budget));
    let wall = started.elapsed();
    let cpu = cpu_seconds() - cpu_before;
    let peak = rss_kib("VmHWM:").map_or(f64::NAN, |kib| kib as f64 / 1024.0);
    println!(
        "{config}: {keys} keys, budget {} MiB: {:.2} s wall ({:.2} µs/item), CPU {:.2} s, peak RSS {peak:.1} MiB, \
         {} upserts {} deletes, spilled into {} partitions",
        budget / MIB,
        wall.as_secs_f64(),
        per_item_us(wall, counts.items_read),
        cpu,
        counts.upserts,
        counts.deletes,
        counts.spill_partitions
    );
    println!("per-item-us {}", per_item_us(wall, counts.items_read));
}

fn per_item_us(wall: Duration, items: u64) -> f64 {
    wall.as_secs_f64() * 1e6 / items.max(1) as f64
}

async fn run_stage(store: &LocalStore, id: &str, keys: u64, budget: u64) -> StageCounts {
    let input = StageInput {
        run_id: format!("spill-bench-{id}"),
        table: Arc::new(orders_table(budget)),
        exports: vec![export_description(id, keys)],
        store: Arc::new(store.clone()),
        events: EventSink::discard(),
        cancel: CancellationToken::new(),
        rules: dynashift::contract::StageRules::EXACT,
    };
    let (_staged, counts) = stage(input).await.expect("the bench export stages");
    counts
}

/// User + system CPU time of this process, from `/proc/self/stat` (fields 14 and 15, in
/// USER_HZ ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let field = |n: usize| after_name.split_whitespace().nth(n - 3).and_then(|f| f.parse::<f64>().ok());
    match (field(14), field(15)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => f64::NAN,
    }
}

/// A `/proc/self/status` memory line (`VmHWM:`: peak RSS) in KiB.
fn rss_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn orders_table(stage_memory_bytes: u64) -> TableConfig {
    let mut table = TableBuilder::new("orders")
        .in_schema("sales", "orders")
        .key("order_id", "pk", "varchar(64)")
        .key("sk", "sk", "varchar(16)")
        .column("status", "status", "varchar(16)")
        .column("total", "total", "decimal(12,2)")
        .column("customer_id", "customer", "varchar(32)")
        .column("updated_at", "updated_at", "timestamptz")
        .build();
    table.view_type = ViewType::NewImage;
    table.stage_memory_bytes = stage_memory_bytes;
    table
}

/// A small deterministic generator (xorshift64*), so every run stages the same export.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

const STATUSES: [&str; 5] = ["PENDING", "PAID", "PACKED", "SHIPPED", "DELIVERED"];

/// One NEW_IMAGE change line of key `id`: 90 % inserts or updates, 10 % deletes.
fn change_line(random: &mut Random, id: u64) -> String {
    let micros = 1_714_564_800_000_000 + random.below(3_600_000_000);
    let keys = format!(r#"{{"pk":{{"S":"ORDER#{id:010}"}},"sk":{{"S":"META"}}}}"#);
    let head = format!(r#"{{"Metadata":{{"WriteTimestampMicros":{{"N":"{micros}"}}}},"Keys":{keys}"#);
    if random.below(10) == 0 {
        return format!("{head}}}");
    }
    format!(
        concat!(
            r#"{head},"NewImage":{{"pk":{{"S":"ORDER#{id:010}"}},"sk":{{"S":"META"}},"status":{{"S":"{status}"}},"#,
            r#""total":{{"N":"{units}.{cents:02}"}},"customer":{{"S":"CUST#{customer:06}"}},"#,
            r#""updated_at":{{"N":"{updated}"}}}}}}"#
        ),
        head = head,
        id = id,
        status = STATUSES[random.below(5) as usize],
        units = random.below(5_000),
        cents = random.below(100),
        customer = random.below(500_000),
        updated = 1_714_564_800 + random.below(86_400),
    )
}

/// Writes export `id` of `keys` changed keys (each once); returns its DynamoDB JSON and gzip
/// sizes.
async fn generate_export(store: &LocalStore, id: &str, keys: u64) -> (u64, u64) {
    let mut random = Random(0x9e37_79b9_7f4a_7c15 ^ keys);
    let (mut manifest, mut uncompressed, mut compressed) = (String::new(), 0u64, 0u64);
    for file in 0..FILES {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        let (first, last) = (file * keys / FILES, (file + 1) * keys / FILES);
        for key in first..last {
            let line = change_line(&mut random, key);
            uncompressed += line.len() as u64 + 1;
            encoder.write_all(line.as_bytes()).unwrap();
            encoder.write_all(b"\n").unwrap();
        }
        let bytes = encoder.finish().unwrap();
        compressed += bytes.len() as u64;
        let key = format!("exports/AWSDynamoDB/data/{id}{file:02}aaaaaaaaaaaaaaaaaaaaa.json.gz");
        let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(&bytes));
        manifest.push_str(&format!(
            "{{\"itemCount\":{},\"md5Checksum\":\"{md5}\",\"etag\":\"x-1\",\"dataFileS3Key\":\"{key}\"}}\n",
            last - first
        ));
        store.put(&key, bytes).await.unwrap();
    }
    let files_key = format!("{}manifest-files.json", folder(id));
    store.put(&files_key, manifest.into_bytes()).await.unwrap();
    let summary = serde_json::json!({
        "version": "2023-08-01", "exportArn": arn(id), "manifestFilesS3Key": files_key, "itemCount": keys,
        "outputFormat": "DYNAMODB_JSON", "outputView": "NEW_IMAGE", "exportType": "INCREMENTAL_EXPORT",
    });
    store
        .put(&format!("{}manifest-summary.json", folder(id)), summary.to_string().into_bytes())
        .await
        .unwrap();
    (uncompressed, compressed)
}

fn export_id(id: &str) -> String {
    format!("01714564800000-spill{id}")
}

fn folder(id: &str) -> String {
    format!("exports/AWSDynamoDB/{}/", export_id(id))
}

fn arn(id: &str) -> String {
    format!("arn:aws:dynamodb:us-east-1:123456789012:table/orders/export/{}", export_id(id))
}

/// Export `id`, as DescribeExport would describe it.
fn export_description(id: &str, keys: u64) -> ExportDescription {
    let from = Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap();
    ExportDescription {
        export_arn: arn(id),
        status: ExportStatus::Completed,
        spec: ExportSpec::Incremental {
            from,
            to: from + chrono::Duration::hours(1),
            view_type: ViewType::NewImage,
        },
        manifest_summary_key: Some(format!("{}manifest-summary.json", folder(id))),
        item_count: Some(keys),
        billed_size_bytes: None,
        failure_code: None,
        failure_message: None,
    }
}
