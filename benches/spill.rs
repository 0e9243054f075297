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

mod harness;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use dynashift::config::{TableConfig, ViewType};
use flate2::Compression;

use harness::export::{IncrementalExport, change_line};
use harness::generate::Random;
use harness::own_usage::{cpu_seconds, memory_kib};
use harness::stage::stage_export;

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
const CHILD_BUDGET: &str = "SPILL_BENCH_BUDGET";

fn main() {
    match std::env::var(CHILD_CONFIG) {
        Ok(config) => measure_stage(&config),
        Err(_) => generate_and_compare(),
    }
}

fn sizes() -> (u64, u64) {
    custom_sizes().unwrap_or((SMALL_KEYS, LARGE_KEYS))
}

fn custom_sizes() -> Option<(u64, u64)> {
    let text = std::env::var("SPILL_BENCH_KEYS").ok()?;
    let (small, large) = text.split_once(',')?;
    Some((small.trim().parse().ok()?, large.trim().parse().ok()?))
}

/// The budget each configuration stages with. At sizes of `SPILL_BENCH_KEYS` (a smoke run), the
/// spilling configurations get a quarter of what their keys take in memory, so they still spill.
fn budget(config: &str, keys: u64) -> u64 {
    match (config, custom_sizes()) {
        ("memory", _) => DEFAULT_BUDGET,
        (_, Some(_)) => (keys * IN_MEMORY_BYTES_PER_KEY / 4).max(1),
        ("spill-small", None) => SMALL_BUDGET,
        _ => DEFAULT_BUDGET,
    }
}

/// What the stage's in-memory fold takes per key (`stage::spill::IN_MEMORY_BYTES_PER_KEY`).
const IN_MEMORY_BYTES_PER_KEY: u64 = 140;

/// The parent: generate both exports, then stage each configuration in a child.
fn generate_and_compare() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (small, large) = sizes();
    println!("{} cores", std::thread::available_parallelism().map_or(1, |n| n.get()));
    for (id, keys) in [("small", small), ("large", large)] {
        let started = Instant::now();
        let written = generate_export(dir.path(), id, keys);
        let (uncompressed, compressed) = (written.uncompressed, written.compressed);
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
            .env(CHILD_BUDGET, budget(config, keys).to_string())
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
        let partitions: Option<u64> =
            text.lines().find_map(|l| l.strip_prefix("partitions ")).and_then(|v| v.trim().parse().ok());
        let spills = config != "memory";
        assert!(
            partitions.is_some_and(|p| if spills { p >= 2 } else { p == 0 }),
            "`{config}` should {}spill, it reported {partitions:?} partitions",
            if spills { "" } else { "not " }
        );
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
    let bucket = var(CHILD_DIR);
    let id = var(CHILD_EXPORT);
    let keys: u64 = var(CHILD_KEYS).parse().expect("the parent passes the key count");
    let budget: u64 = var(CHILD_BUDGET).parse().expect("the parent passes the budget");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let export = spill_export(&id, keys).description();
    let staging = stage_export(format!("spill-bench-{id}"), orders_table(budget), export, Path::new(&bucket));
    let counts = runtime.block_on(staging);
    let wall = started.elapsed();
    let cpu = cpu_seconds() - cpu_before;
    let peak = memory_kib("VmHWM:").map_or(f64::NAN, |kib| kib as f64 / 1024.0);
    println!(
        "{config}: {keys} keys, budget {:.1} MiB: {:.2} s wall ({:.2} µs/item), CPU {:.2} s, peak RSS {peak:.1} MiB, \
         {} upserts {} deletes, spilled into {} partitions",
        budget as f64 / MIB as f64,
        wall.as_secs_f64(),
        per_item_us(wall, counts.items_read),
        cpu,
        counts.upserts,
        counts.deletes,
        counts.spill_partitions
    );
    println!("per-item-us {}", per_item_us(wall, counts.items_read));
    println!("partitions {}", counts.spill_partitions);
}

fn per_item_us(wall: Duration, items: u64) -> f64 {
    wall.as_secs_f64() * 1e6 / items.max(1) as f64
}

/// What the change lines carry, key first (see `harness::generate::orders_table`).
const COLUMNS: [(&str, &str, &str); 6] = [
    ("order_id", "pk", "varchar(64)"),
    ("sk", "sk", "varchar(16)"),
    ("status", "status", "varchar(16)"),
    ("total", "total", "decimal(12,2)"),
    ("customer_id", "customer", "varchar(32)"),
    ("updated_at", "updated_at", "timestamptz"),
];

fn orders_table(stage_memory_bytes: u64) -> TableConfig {
    let mut table = harness::generate::orders_table(&COLUMNS).build();
    table.view_type = ViewType::NewImage;
    table.stage_memory_bytes = stage_memory_bytes;
    table
}

const STATUSES: [&str; 5] = ["PENDING", "PAID", "PACKED", "SHIPPED", "DELIVERED"];

/// One NEW_IMAGE change line of key `id`: 90 % inserts or updates, 10 % deletes.
fn orders_change(random: &mut Random, id: u64) -> String {
    let keys = format!(r#"{{"pk":{{"S":"ORDER#{id:010}"}},"sk":{{"S":"META"}}}}"#);
    if random.below(10) == 0 {
        return change_line(random, &keys, None, None);
    }
    let image = format!(
        concat!(
            r#"{{"pk":{{"S":"ORDER#{id:010}"}},"sk":{{"S":"META"}},"status":{{"S":"{status}"}},"#,
            r#""total":{{"N":"{units}.{cents:02}"}},"customer":{{"S":"CUST#{customer:06}"}},"#,
            r#""updated_at":{{"N":"{updated}"}}}}"#
        ),
        id = id,
        status = STATUSES[random.below(5) as usize],
        units = random.below(5_000),
        cents = random.below(100),
        customer = random.below(500_000),
        updated = 1_714_564_800 + random.below(86_400),
    );
    change_line(random, &keys, None, Some(&image))
}

/// Export `id` of `keys` changed keys (each once).
fn spill_export(id: &str, keys: u64) -> IncrementalExport {
    let id = format!("01714564800000-spill{id}");
    IncrementalExport { id, items: keys, files: FILES, view: ViewType::NewImage }
}

/// Writes export `id` of `keys` changed keys into the bucket folder `bucket`.
fn generate_export(bucket: &Path, id: &str, keys: u64) -> harness::export::DataFiles {
    let mut random = Random::new(keys);
    spill_export(id, keys).write(bucket, Compression::fast(), |key| orders_change(&mut random, key))
}
