//! The benchmarks against the floor (`benches/sync.rs`), at a few hundred items in the debug
//! build: every comparison runs, its numbers are sane, and each sync holds exactly the rows the
//! command-line import of the same data holds. The timed measurement is `scripts/bench.sh`.

#[path = "../benches/harness/mod.rs"]
mod harness;

use std::process::Command;

use harness::process::Measured;

const ITEMS: u64 = 300;
/// This test's own name: the stage child runs the test binary again with it as the filter.
const SMOKE: &str = "every_comparison_runs_and_the_syncs_equal_the_imports";

fn settings() -> harness::Settings {
    harness::Settings {
        repeats: 1,
        binary: env!("CARGO_BIN_EXE_dynashift").into(),
        stage_child: Box::new(|| {
            let mut child = Command::new(std::env::current_exe().expect("the test knows its path"));
            child.args([SMOKE, "--exact", "--nocapture", "--test-threads", "1"]);
            child
        }),
    }
}

fn assert_sane(label: &str, measured: &Measured) {
    let seconds = measured.seconds();
    assert!(seconds > 0.0 && seconds < 60.0, "{label}: {seconds} s wall");
    assert!(measured.cpu.is_finite() && measured.cpu >= 0.0, "{label}: {} s CPU", measured.cpu);
    let mib =
        measured.rss_mib().unwrap_or_else(|| panic!("{label}: {:?}", harness::process::rss_unavailable()));
    assert!(mib > 0.5 && mib < 1024.0, "{label}: peak RSS {mib} MiB");
}

fn assert_ratio(label: &str, ratio: Option<f64>) {
    let ratio = ratio.unwrap_or_else(|| panic!("{label}: no ratio (a comparison was skipped)"));
    assert!(ratio.is_finite() && ratio > 0.0, "{label}: ratio {ratio}");
}

#[test]
fn every_comparison_runs_and_the_syncs_equal_the_imports() {
    if harness::stage::child_main() {
        return;
    }
    assert!(
        harness::postgres::unavailable().is_none(),
        "{:?}: the smoke runs every comparison; start PostgreSQL (export DYNASHIFT_PG_URL=\"$(scripts/pg.sh start)\") \
         and install the tools (scripts/bench-tools.sh)",
        harness::postgres::unavailable()
    );
    let dir = tempfile::tempdir().unwrap();
    let report = harness::measure_size(dir.path(), ITEMS, &settings()).expect("every comparison runs");

    assert_sane("zcat", report.zcat.as_ref().expect("zcat runs"));
    assert_sane("stage", &report.stage);
    assert_ratio("stage ÷ zcat", report.stage_ratio());
    assert_sane("SQLite sync", &report.sqlite.staged.sync);
    assert_sane("sqlite3 staged", report.sqlite.staged.cli.as_ref().expect("sqlite3 is installed"));
    assert_ratio("SQLite sync ÷ staged import", report.sqlite.staged.ratio());
    assert_sane("sqlite3 TSV", report.sqlite.tsv.cli.as_ref().expect("sqlite3 is installed"));
    assert_ratio("SQLite sync ÷ TSV import", report.sqlite.tsv.ratio());
    let postgres = report.postgres.as_ref().expect("the PostgreSQL comparison runs");
    assert_sane("PostgreSQL sync", &postgres.sync);
    assert_sane("psql \\copy", postgres.cli.as_ref().expect("psql is installed"));
    assert_ratio("PostgreSQL sync ÷ copy", postgres.ratio());

    let table = harness::table(std::slice::from_ref(&report));
    assert!(table.lines().any(|l| l.starts_with("| 300 |")), "{table}");
    assert!(!table.contains("skipped"), "{table}");
}

/// The row checks are real: an import that differs from the sync in one value fails the
/// comparison, whichever of the two imported files it came from.
#[test]
fn a_row_the_import_disagrees_on_fails_the_sqlite_comparison() {
    let rows_of = [
        ("cli-staged.sqlite", (|d| &d.rows_jsonl) as fn(&harness::generate::Dataset) -> &std::path::PathBuf),
        ("cli-tsv.sqlite", |d| &d.rows_tsv),
    ];
    for (database, rows_of) in rows_of {
        let dir = tempfile::tempdir().unwrap();
        let dataset = harness::generate::generate(dir.path(), 20);
        let rows = std::fs::read_to_string(rows_of(&dataset)).unwrap();
        let changed = rows.replacen("EUR", "USD", 1);
        assert_ne!(rows, changed);
        std::fs::write(rows_of(&dataset), changed).unwrap();
        let failure = harness::sqlite::compare(dir.path(), &dataset, &settings().binary, 1)
            .expect_err("the import differs in one row");
        assert!(
            failure.contains(&format!("into {database}; 1 rows only in the sync, 1 only in the import")),
            "{failure}"
        );
    }
}

/// The staged rows `sqlite3` imports as the issue's floor are, line for line, what the stage
/// writes for a local warehouse from the generated export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generated_staged_rows_are_the_stages_own_lines() {
    use std::io::{BufRead as _, BufReader};

    use dynashift::contract::staged::StagedCompression;

    let dir = tempfile::tempdir().unwrap();
    let dataset = harness::generate::generate(dir.path(), 40);
    let local = "kind = \"sqlite\"\npath = \"unused.sqlite\"";
    let config = harness::sync::write_config(dir.path(), &dataset, "stage.toml", local);
    let table = dynashift::config::load(&config).unwrap().tables.remove(0);
    let export = harness::stage::export_description(dataset.summary_key.clone());
    harness::stage::stage_export("smoke".into(), table, export, &dataset.bucket).await;

    let mut staged = Vec::new();
    for part in std::fs::read_dir(dataset.bucket.join("orders/staged/smoke")).unwrap() {
        let path = part.unwrap().path();
        let name = path.to_string_lossy().into_owned();
        if !name.ends_with(".json.lz4") {
            continue;
        }
        let file = BufReader::new(std::fs::File::open(&path).unwrap());
        let lines = BufReader::new(StagedCompression::of_key(&name).decompress(file)).lines();
        staged.extend(lines.map(Result::unwrap));
    }
    let mut generated: Vec<String> =
        std::fs::read_to_string(&dataset.rows_jsonl).unwrap().lines().map(str::to_owned).collect();
    staged.sort();
    generated.sort();
    assert_eq!(staged.len(), 40);
    assert_eq!(staged, generated);
}

/// The incremental exports `benches/stage.rs` and `benches/spill.rs` write through the harness
/// are valid exports: the stage reads every change line of every data file, and folds the
/// updates, inserts and deletes (with and without images) of distinct keys one for one.
#[test]
fn the_benches_incremental_exports_stage_every_change() {
    use dynashift::config::ViewType;
    use harness::export::{IncrementalExport, change_line};
    use harness::generate::{COLUMNS, Random, order_image};

    let dir = tempfile::tempdir().unwrap();
    let export = IncrementalExport {
        id: "01714564800000-smoke".into(),
        items: 40,
        files: 3,
        view: ViewType::NewAndOldImages,
    };
    let mut random = Random::new(0);
    let written = export.write(dir.path(), flate2::Compression::fast(), |id| {
        let keys = format!(r#"{{"pk":{{"S":"ORDER#{id:08}"}},"sk":{{"S":"META"}}}}"#);
        let image = |random: &mut Random| Some(order_image(random, id, 1));
        match id % 4 {
            0 => change_line(&mut random, &keys, None, None),
            1 => {
                let old = image(&mut random);
                change_line(&mut random, &keys, old.as_deref(), None)
            }
            _ => {
                let new = image(&mut random);
                change_line(&mut random, &keys, None, new.as_deref())
            }
        }
    });
    assert_eq!(written.keys.len(), 3);
    let table = harness::generate::orders_table(&COLUMNS).build();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let staging = harness::stage::stage_export("smoke".into(), table, export.description(), dir.path());
    let counts = runtime.block_on(staging);
    assert_eq!((counts.files_done, counts.items_read), (3, 40), "{counts:?}");
    assert_eq!((counts.upserts, counts.deletes), (20, 20), "{counts:?}");
}
