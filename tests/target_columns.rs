//! A column added to tables.toml after the target was created, as a user meets it on the demo:
//! the next incremental sync stops before exporting anything, names the column and says what to
//! do (a full sync, or the ALTER TABLE to paste); the full sync then builds the target with it
//! and incremental syncs go on.

use std::path::Path;

mod binary_support;

use binary_support::{assert_exit, run_in, text};

/// Adds a `nickname` column to the demo's customers table.
fn add_column(dir: &Path) {
    let path = dir.join("tables.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let visits = "  { name = \"visits\", type = \"bigint\" },\n";
    assert!(config.contains(visits), "the demo maps customers' visits");
    let added = config.replacen(
        visits,
        &format!("{visits}  {{ name = \"nickname\", type = \"varchar(32)\" }},\n"),
        1,
    );
    std::fs::write(&path, added).unwrap();
}

/// How many exports the demo wrote for customers so far (each in a folder of its own).
fn exports_of_customers(dir: &Path) -> usize {
    let exports = dir.join(".dynashift/bucket/customers/exports/AWSDynamoDB");
    std::fs::read_dir(exports).map(|entries| entries.count()).unwrap_or(0)
}

#[test]
fn a_column_added_to_tables_toml_stops_the_incremental_sync_before_its_export_and_a_full_sync_adds_it() {
    let dir = tempfile::tempdir().unwrap();
    assert_exit(&run_in(dir.path(), &["init"]), 0);
    assert_exit(&run_in(dir.path(), &["--headless", "--table", "customers", "--mode", "full", "-q"]), 0);
    let exports = exports_of_customers(dir.path());
    assert!(exports > 0, "the full sync exported");

    add_column(dir.path());
    let refused = run_in(dir.path(), &["--headless", "--table", "customers", "-q"]);
    assert_exit(&refused, 1);
    let output = text(&refused.stdout) + &text(&refused.stderr);
    assert!(output.contains("lacks 1 column tables.toml maps: nickname"), "{output}");
    assert!(output.contains("ALTER TABLE \"customers\" ADD COLUMN \"nickname\" TEXT"), "{output}");
    assert!(output.contains("dynashift --headless --table customers --mode full"), "{output}");
    assert_eq!(exports_of_customers(dir.path()), exports, "nothing was exported");

    assert_exit(&run_in(dir.path(), &["--headless", "--table", "customers", "--mode", "full", "-q"]), 0);
    assert_exit(&run_in(dir.path(), &["--headless", "--table", "customers", "-q"]), 0);
}
