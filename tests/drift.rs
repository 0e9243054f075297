//! Schema drift as a new user meets it on the demo: the shipped `tables.toml` maps every
//! attribute, so a sync reports no drift; removing a column makes the next sync report that
//! attribute — as a `drift` event with a ready-to-paste `columns` entry, in the summary and in
//! `dynashift status` — and `on_drift = "fail"` fails the run before anything is loaded.

use std::path::Path;
use std::process::Output;

mod binary_support;

use binary_support::{assert_exit, run_in, text};

/// The JSON Lines of a `--json` run.
fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    text(&output.stdout).lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
}

/// The demo's `tables.toml` without the orders column `drop_column`, under `on_drift`.
fn edit_config(dir: &Path, drop_column: &str, on_drift: &str) {
    let path = dir.join("tables.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let needle = format!("{{ name = \"{drop_column}\",");
    let kept: Vec<&str> = text.lines().filter(|line| !line.trim_start().starts_with(&needle)).collect();
    assert_eq!(kept.len() + 1, text.lines().count(), "one `{drop_column}` column line in the demo");
    let edited = kept.join("\n").replacen("on_drift = \"warn\"", &format!("on_drift = \"{on_drift}\""), 1);
    std::fs::write(&path, edited).unwrap();
}

fn watermark_of(dir: &Path) -> String {
    let status = run_in(dir, &["status", "--json"]);
    let value: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap_or_default();
    let orders = value["tables"].as_array().unwrap().iter().find(|t| t["table"] == "orders").unwrap();
    orders["watermark"].to_string()
}

#[test]
fn removing_a_column_makes_the_next_demo_run_report_the_attribute_as_drift() {
    let dir = tempfile::tempdir().unwrap();
    assert_exit(&run_in(dir.path(), &["init"]), 0);

    let full = run_in(dir.path(), &["--headless", "--table", "orders", "--mode", "full", "--json"]);
    assert_exit(&full, 0);
    let lines = json_lines(&full);
    assert!(lines.iter().all(|l| l["event"] != "drift"), "the shipped demo maps everything: {lines:#?}");

    edit_config(dir.path(), "gift_note", "warn");
    let drifted = run_in(dir.path(), &["--headless", "--table", "orders", "--mode", "full", "--json"]);
    assert_exit(&drifted, 0);
    let lines = json_lines(&drifted);
    let event = lines.iter().find(|l| l["event"] == "drift").expect("a drift event");
    let report = &event["check"]["report"];
    assert_eq!(event["check"]["status"], "counted");
    let unmapped = report["unmapped"].as_array().unwrap();
    assert_eq!(unmapped.len(), 1, "{report:#}");
    assert_eq!(unmapped[0]["path"], "gift-note");
    let entry = unmapped[0]["column_entry"].as_str().unwrap();
    assert!(entry.starts_with(r#"{ name = "gift_note", path = "gift-note", type = "varchar("#), "{entry}");
    assert!(unmapped[0]["items"].as_u64().unwrap() > 0, "{report:#}");
    let summary = lines.iter().find(|l| l["event"] == "summary").unwrap();
    assert_eq!(summary["drift"]["report"]["unmapped"][0]["path"], "gift-note");

    // The text summary says it too, with the entry to paste.
    let text_run = run_in(dir.path(), &["--headless", "--table", "orders", "--mode", "full"]);
    assert_exit(&text_run, 0);
    let stdout = text(&text_run.stdout);
    assert!(stdout.contains("drift: 1 unmapped attribute (gift-note in "), "{stdout}");
    assert!(stdout.contains(&format!("add to columns: {entry}")), "{stdout}");
    // The summary line (the cost note may follow it).
    let summary = stdout.lines().find(|l| l.starts_with("OK      orders:")).unwrap_or_default();
    assert!(summary.contains("; drift: 1 unmapped attribute"), "{stdout}");

    // `dynashift status` shows the last run's drift (it exits 1: customers was never synced).
    let status = run_in(dir.path(), &["status"]);
    let status = text(&status.stdout);
    assert!(status.contains("  drift         1 unmapped attribute (gift-note in "), "{status}");
    assert!(status.contains(&format!("    add to columns: {entry}\n")), "{status}");
}

#[test]
fn on_drift_fail_loads_nothing_and_ignore_stays_quiet() {
    let dir = tempfile::tempdir().unwrap();
    assert_exit(&run_in(dir.path(), &["init"]), 0);
    assert_exit(&run_in(dir.path(), &["--headless", "--table", "orders", "--mode", "full"]), 0);
    let before = watermark_of(dir.path());

    edit_config(dir.path(), "gift_note", "fail");
    let failed = run_in(dir.path(), &["--headless", "--table", "orders", "--mode", "full"]);
    assert_exit(&failed, 1);
    let stdout = text(&failed.stdout);
    let last = stdout.lines().last().unwrap();
    assert!(last.starts_with("FAILED  orders: at stage staging: schema drift in `orders`"), "{last}");
    assert!(last.contains(r#"add { name = "gift_note", path = "gift-note""#), "{last}");
    assert!(last.contains(r#"on_drift = \"warn\""#) || last.contains(r#"on_drift = "warn""#), "{last}");
    assert_eq!(watermark_of(dir.path()), before, "nothing was loaded");

    let config = std::fs::read_to_string(dir.path().join("tables.toml")).unwrap();
    let ignoring = config.replacen("on_drift = \"fail\"", "on_drift = \"ignore\"", 1);
    std::fs::write(dir.path().join("tables.toml"), ignoring).unwrap();
    let quiet = run_in(dir.path(), &["--headless", "--table", "orders", "--mode", "full"]);
    assert_exit(&quiet, 0);
    assert!(!text(&quiet.stdout).contains("drift"), "{}", text(&quiet.stdout));
}
