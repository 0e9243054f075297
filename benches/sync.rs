//! Benchmarks against the floor (issue #13), in one run per size: the stage beside `zcat`, the
//! whole SQLite sync beside `sqlite3` importing the staged rows and `.import` of their TSV, the
//! whole PostgreSQL sync beside `psql \copy` (when `DYNASHIFT_PG_URL` is set), each with its CPU
//! time and peak RSS. See `benches/harness/mod.rs`.
//!
//! Run with `scripts/bench.sh` (installs the tools, starts PostgreSQL), or `cargo bench --bench sync`.
//! `DYNASHIFT_BENCH_SIZES` (default `50000,200000,800000`) and `DYNASHIFT_BENCH_REPEATS` (default 3;
//! the fastest run counts, the machine may be shared) override the defaults;
//! `DYNASHIFT_BENCH_KEEP=<folder>` keeps each size's data and databases there (for `perf`).

mod harness;

use std::process::Command;

const DEFAULT_SIZES: &str = "50000,200000,800000";
const DEFAULT_REPEATS: usize = 3;

fn main() {
    if harness::stage::child_main() {
        return;
    }
    let sizes = std::env::var("DYNASHIFT_BENCH_SIZES").unwrap_or_else(|_| DEFAULT_SIZES.into());
    let sizes: Vec<u64> = sizes
        .split(',')
        .map(|size| {
            size.trim().replace('_', "").parse().unwrap_or_else(|_| {
                panic!("DYNASHIFT_BENCH_SIZES: `{size}` is not a number of items (e.g. 50000,200000)")
            })
        })
        .collect();
    let repeats = std::env::var("DYNASHIFT_BENCH_REPEATS")
        .map(|r| r.parse().expect("DYNASHIFT_BENCH_REPEATS: a number of runs"))
        .unwrap_or(DEFAULT_REPEATS);
    let settings = harness::Settings {
        repeats,
        binary: env!("CARGO_BIN_EXE_dynashift").into(),
        stage_child: Box::new(|| Command::new(std::env::current_exe().expect("the bench knows its path"))),
    };
    println!(
        "{} cores; sizes {sizes:?}; fastest of {repeats} runs each",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut reports = Vec::new();
    for items in sizes {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let dir = kept_folder(items).unwrap_or_else(|| dir.path().to_owned());
        match harness::measure_size(&dir, items, &settings) {
            Ok(report) => reports.push(report),
            Err(failure) => {
                eprintln!("benchmark at {items} items failed: {failure}");
                std::process::exit(1);
            }
        }
    }
    println!("\n{}", harness::table(&reports));
}

/// `DYNASHIFT_BENCH_KEEP=<folder>`: each size's export, configs and databases are written to
/// `<folder>/<items>` and kept, so one sync can be run again under `perf` (see docs/performance.md).
fn kept_folder(items: u64) -> Option<std::path::PathBuf> {
    let root = std::env::var_os("DYNASHIFT_BENCH_KEEP")?;
    let dir = std::path::Path::new(&root).join(items.to_string());
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("DYNASHIFT_BENCH_KEEP: {}: {e}", dir.display()));
    Some(dir)
}
