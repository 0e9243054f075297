//! The benchmark against the floor (issue #13), shared by `benches/sync.rs` (the measurement,
//! release build, 50k/200k/800k items) and `tests/bench_smoke.rs` (a few hundred items in the
//! debug build, in CI).
//!
//! For each size it generates a full export and the same rows as staged JSON Lines and as TSV,
//! then measures, each in a child process of its own (wall time, CPU time, peak RSS; the fastest
//! of the repeats):
//! - `zcat` of the data files, and the stage step alone on them;
//! - the whole SQLite sync (the `dynashift` binary, headless), `sqlite3` importing the staged
//!   rows (issue #13's floor) and `sqlite3 .import` of the TSV (the strictest floor);
//! - the whole PostgreSQL sync and `psql \copy` of the TSV, when `DYNASHIFT_PG_URL` is set.
//!
//! After each pair it checks the sync and the command-line import hold the same rows. A tool
//! that is missing skips its comparison with a line saying why.
//!
//! `benches/stage.rs` and `benches/spill.rs` take their items, export layout, stage call and
//! `/proc/self` readers from here too ([`generate`], [`export`], [`stage`], [`own_usage`]), so
//! every bench writes exports and measures itself one way.

#![allow(dead_code, reason = "each bench and the smoke test use a part of the harness")]

pub mod export;
pub mod generate;
pub mod own_usage;
pub mod postgres;
pub mod process;
pub mod sqlite;
pub mod stage;
pub mod sync;

use std::path::{Path, PathBuf};
use std::process::Command;

use generate::Dataset;
use process::Measured;

/// Why a comparison did not run (printed, never silent).
#[derive(Debug, Clone)]
pub struct Skipped(pub String);

/// A sync beside the command-line import of the same rows.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub sync: Measured,
    pub cli: Result<Measured, Skipped>,
}

impl Comparison {
    /// Sync wall time over the import's, when the import ran.
    pub fn ratio(&self) -> Option<f64> {
        self.cli.as_ref().ok().map(|cli| self.sync.seconds() / cli.seconds())
    }
}

/// Everything measured at one size.
#[derive(Debug, Clone)]
pub struct SizeReport {
    pub items: u64,
    pub uncompressed: u64,
    pub compressed: u64,
    pub zcat: Result<Measured, Skipped>,
    pub stage: Measured,
    pub sqlite: sqlite::SqliteComparison,
    pub postgres: Result<Comparison, Skipped>,
}

impl SizeReport {
    /// Stage wall time over zcat's, when zcat ran.
    pub fn stage_ratio(&self) -> Option<f64> {
        self.zcat.as_ref().ok().map(|zcat| self.stage.seconds() / zcat.seconds())
    }
}

/// How a run of the harness is set up.
pub struct Settings {
    pub repeats: usize,
    /// The `dynashift` binary (`CARGO_BIN_EXE_dynashift`).
    pub binary: PathBuf,
    /// A command running this process's binary again so that it calls [`stage::child_main`].
    pub stage_child: Box<dyn Fn() -> Command>,
}

/// Generates `items` items under `dir` and measures every comparison, printing as it goes.
pub fn measure_size(dir: &Path, items: u64, settings: &Settings) -> Result<SizeReport, String> {
    if let Some(why) = process::rss_unavailable() {
        println!("{why}");
    }
    let dataset: Dataset = generate::generate(dir, items);
    println!(
        "\n== {items} items: {} data files, {:.1} MB DynamoDB JSON, {:.1} MB gzip",
        dataset.data_files.len(),
        mb(dataset.uncompressed),
        mb(dataset.compressed)
    );
    let zcat = stage::zcat(&dataset, settings.repeats)?;
    print_measured("zcat", &zcat);
    let stage = stage::stage_in_child(dir, &dataset, settings.repeats, &settings.stage_child)?;
    print_measured("stage", &Ok(stage));
    let sqlite = sqlite::compare(dir, &dataset, &settings.binary, settings.repeats)?;
    print_measured("SQLite sync", &Ok(sqlite.staged.sync));
    print_measured("sqlite3 staged", &sqlite.staged.cli);
    print_measured("sqlite3 TSV", &sqlite.tsv.cli);
    let postgres = match postgres::unavailable() {
        Some(skipped) => Err(skipped),
        None => Ok(postgres::compare(dir, &dataset, &settings.binary, settings.repeats)?),
    };
    match &postgres {
        Ok(pg) => {
            print_measured("PostgreSQL sync", &Ok(pg.sync));
            print_measured("psql \\copy", &pg.cli);
        }
        Err(skipped) => println!("PostgreSQL: skipped — {}", skipped.0),
    }
    let report = SizeReport {
        items,
        uncompressed: dataset.uncompressed,
        compressed: dataset.compressed,
        zcat,
        stage,
        sqlite,
        postgres,
    };
    Ok(report)
}

fn print_measured(label: &str, measured: &Result<Measured, Skipped>) {
    match measured {
        Ok(m) => println!(
            "{label:>16}: {:7.3} s wall, {:7.3} s CPU, peak RSS {}",
            m.seconds(),
            m.cpu,
            m.rss_mib().map_or("not measured".into(), |mib| format!("{mib:6.1} MiB"))
        ),
        Err(skipped) => println!("{label:>16}: skipped — {}", skipped.0),
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

/// The results side by side as a Markdown table: wall seconds (CPU seconds), ratio, peak RSS.
pub fn table(reports: &[SizeReport]) -> String {
    let mut out = String::from(
        "| items | zcat | stage | stage ÷ zcat | SQLite sync | sqlite3 staged rows | sync ÷ staged | \
         sqlite3 TSV | sync ÷ TSV | PostgreSQL sync | psql \\copy | sync ÷ copy |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in reports {
        let pg = r.postgres.as_ref().ok();
        let cells = [
            r.items.to_string(),
            cell(r.zcat.as_ref().ok()),
            cell(Some(&r.stage)),
            ratio(r.stage_ratio()),
            cell(Some(&r.sqlite.staged.sync)),
            cell(r.sqlite.staged.cli.as_ref().ok()),
            ratio(r.sqlite.staged.ratio()),
            cell(r.sqlite.tsv.cli.as_ref().ok()),
            ratio(r.sqlite.tsv.ratio()),
            cell(pg.map(|pg| &pg.sync)),
            cell(pg.and_then(|pg| pg.cli.as_ref().ok())),
            ratio(pg.and_then(Comparison::ratio)),
        ];
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push_str(
        "\nEach cell: wall seconds (CPU seconds) · peak RSS MiB; the fastest of the repeats. \
         `sqlite3 staged rows`: the shell imports the staged JSON Lines and extracts each column with \
         its JSON functions (#13's floor); `sqlite3 TSV`: it imports rows already mapped (the \
         strictest floor).\n",
    );
    out
}

fn cell(measured: Option<&Measured>) -> String {
    let Some(m) = measured else { return "skipped".into() };
    let rss = m.rss_mib().map_or("RSS n/a".into(), |mib| format!("{mib:.0} MiB"));
    format!("{:.2} s ({:.2}) · {rss}", m.seconds(), m.cpu)
}

fn ratio(ratio: Option<f64>) -> String {
    ratio.map_or("—".into(), |r| format!("**{r:.2}×**"))
}
