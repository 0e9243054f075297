//! A full sync of a large demo table, measured the way a user would run it: peak RSS and wall
//! time of the whole `dynashift --headless` process (demo export, stage and SQLite load).
//!
//! For each size (default 200 000 and 1 000 000 items; `DEMO_BENCH_ITEMS=50000,200000` to pick)
//! it writes the shipped `tables.toml` into a temporary folder with `initial_items` set, the clock
//! stopped (`speed = 0`) and exports completing at once, then runs the binary twice in child
//! processes:
//! - `--dry-run` opens the demo table, which generates its history (the initial items);
//! - the clock is moved 10 simulated minutes on (so the export instant, 5 minutes before "now",
//!   lies after every initial item), and a full sync of `orders` runs: that is the measurement.
//!
//! Peak RSS is the child's own (`wait4`'s `ru_maxrss`). Run with `cargo bench --bench demo`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

const DEFAULT_SIZES: &[usize] = &[200_000, 1_000_000];

fn main() {
    let sizes: Vec<usize> = match std::env::var("DEMO_BENCH_ITEMS") {
        Ok(list) => list
            .split(',')
            .map(|n| n.trim().parse().expect("DEMO_BENCH_ITEMS: comma-separated counts"))
            .collect(),
        Err(_) => DEFAULT_SIZES.to_vec(),
    };
    println!(
        "{:>9}  {:>12}  {:>14}  {:>12}  {:>14}  rows",
        "items", "generate", "generate RSS", "full sync", "full sync RSS"
    );
    for items in sizes {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let config = write_config(dir.path(), items);
        let generate =
            run(&config, &["--headless", "--table", "orders", "--mode", "full", "--dry-run", "-q"]);
        push_clock(&dir.path().join(".dynashift/demo/clock.json"), chrono::Duration::minutes(10));
        let sync = run(&config, &["--headless", "--table", "orders", "--mode", "full", "-q"]);
        println!(
            "{items:>9}  {:>11.1}s  {:>10.0} MiB  {:>11.1}s  {:>10.0} MiB  {}",
            generate.wall.as_secs_f64(),
            generate.peak_rss_mib,
            sync.wall.as_secs_f64(),
            sync.peak_rss_mib,
            rows(&dir.path().join(".dynashift/warehouse.sqlite")),
        );
    }
}

/// The shipped demo configuration with `items` initial items, a stopped clock and instant exports.
fn write_config(dir: &Path, items: usize) -> std::path::PathBuf {
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tables.toml")).unwrap();
    let mut text = String::new();
    for line in shipped.lines() {
        let replaced = match line.split_whitespace().next() {
            Some("initial_items") => format!("initial_items = {items}"),
            Some("speed") => "speed = 0.0".to_owned(),
            Some("export_seconds") => "export_seconds = 0.0".to_owned(),
            _ => line.to_owned(),
        };
        text.push_str(&replaced);
        text.push('\n');
    }
    let path = dir.join("tables.toml");
    std::fs::write(&path, text).unwrap();
    path
}

struct Measured {
    wall: Duration,
    peak_rss_mib: f64,
}

/// Runs dynashift with `args` and waits for it with `wait4`, which reports the child's own peak RSS
/// (and reaps it, which clippy cannot see).
#[allow(clippy::zombie_processes)]
fn run(config: &Path, args: &[&str]) -> Measured {
    let started = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_dynashift"))
        .args(args)
        .arg("--config")
        .arg(config)
        .spawn()
        .expect("dynashift starts");
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value, and `wait4` fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    // SAFETY: `pid` is our child, not yet waited for; `status` and `usage` are valid for writes.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "dynashift {args:?} failed: {status}");
    // Linux reports ru_maxrss in KiB.
    Measured { wall, peak_rss_mib: usage.ru_maxrss as f64 / 1024.0 }
}

/// Moves the demo's stopped clock on by `by` (the clock keeps the furthest time it finds in its file).
fn push_clock(path: &Path, by: chrono::Duration) {
    let mut clock: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let now: DateTime<Utc> = serde_json::from_value(clock["now"].clone()).unwrap();
    clock["now"] = serde_json::to_value(now + by).unwrap();
    std::fs::write(path, serde_json::to_vec(&clock).unwrap()).unwrap();
}

/// Rows in the warehouse's `orders` table.
fn rows(warehouse: &Path) -> i64 {
    let db = rusqlite::Connection::open(warehouse).expect("the warehouse opens");
    db.query_row("SELECT count(*) FROM orders", [], |row| row.get(0)).expect("orders is counted")
}
