//! The binary as cron and scripts use it: `--headless` exit codes and last lines, JSON Lines,
//! `--dry-run`, `--check`, and a broken `tables.toml`.

use std::path::Path;
use std::process::{Command, Output};

mod common;

use common::fast_demo_config as demo_config;
use common::stdout;

fn dynashift(config: &Path, args: &[&str]) -> Output {
    common::binary(config).args(args).output().expect("run dynashift")
}

#[test]
fn full_then_incremental_succeed_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let full = dynashift(&config, &["--headless", "--all", "--mode", "full", "-v"]);
    assert_eq!(full.status.code(), Some(0), "{}\n{}", stdout(&full), String::from_utf8_lossy(&full.stderr));
    let text = stdout(&full);
    assert!(
        text.contains("OK      orders: committed") && text.contains("OK      customers: committed"),
        "{text}"
    );
    assert!(text.contains("watermark advanced: none →"), "{text}");

    std::thread::sleep(std::time::Duration::from_millis(500));
    let incremental = dynashift(&config, &["--headless", "--all", "--mode", "incremental"]);
    assert_eq!(incremental.status.code(), Some(0), "{}", stdout(&incremental));
    let text = stdout(&incremental);
    assert!(text.contains("plan: 1 export: incremental") || text.contains("exports (catching up)"), "{text}");
    assert!(text.lines().filter(|l| l.starts_with("OK ")).count() == 2, "{text}");
}

#[test]
fn a_failed_run_exits_1_and_its_last_line_says_where_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let output = dynashift(&config, &["--headless", "--table", "customers", "--mode", "incremental"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("FAILED  customers: at stage planned:"), "{last}");
    assert!(last.contains("never been fully synced") && last.contains("--mode full"), "{last}");
}

#[test]
fn json_lines_carry_every_event_then_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let output = dynashift(&config, &["--headless", "--table", "customers", "--mode", "full", "--json"]);
    assert_eq!(output.status.code(), Some(0));
    let events: Vec<serde_json::Value> =
        stdout(&output).lines().map(|l| serde_json::from_str(l).expect("every line is JSON")).collect();
    let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    for expected in [
        "run_started",
        "planned",
        "export_requested",
        "export_completed",
        "staging_finished",
        "statement_submitted",
        "statement_finished",
        "reconciled",
        "watermark_advanced",
        "run_finished",
    ] {
        assert!(names.contains(&expected), "missing {expected}: {names:?}");
    }
    assert_eq!(*names.last().unwrap(), "summary");
    let summary = events.last().unwrap();
    assert_eq!(summary["table"], "customers");
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["result"]["outcome"], "committed");
    assert!(
        events.iter().all(|e| e["event"] == "summary" || (e["run_id"].is_string() && e["at"].is_string()))
    );
}

/// The lines of a full sync of both demo tables at the given output flags.
fn full_sync_lines(flags: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let args = [&["--headless", "--all", "--mode", "full"][..], flags].concat();
    let output = dynashift(&config, &args);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    stdout(&output).lines().map(str::to_owned).collect()
}

#[test]
fn quiet_prints_the_summary_only_when_nothing_fails() {
    let lines = full_sync_lines(&["-q"]);
    // One line per table, with its cost; the note on what the estimates leave out is not for -q.
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines.iter().all(|l| l.starts_with("OK      ")), "{lines:#?}");
    assert!(lines.iter().all(|l| l.contains("; estimated export cost $")), "{lines:#?}");
}

#[test]
fn quiet_still_prints_a_failure_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let output = dynashift(&config, &["--headless", "--table", "customers", "--mode", "incremental", "-q"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "the failure (cause, what to do), then the summary: {text}");
    assert!(lines[0].contains("run FAILED at stage planned") && lines[1].contains("what to do:"), "{text}");
    assert!(lines[2].starts_with("FAILED  customers:"), "{text}");
}

#[test]
fn by_default_a_run_prints_its_start_plan_and_stage_changes_then_the_summary() {
    let lines = full_sync_lines(&[]);
    // Per table: the start, the plan, seven stage changes; then one summary line per table and
    // the note on what the cost estimates leave out.
    assert_eq!(lines.len(), 2 * 9 + 2 + 1, "{lines:#?}");
    let stage_changes = lines.iter().filter(|l| l.contains(" stage: ")).count();
    assert_eq!(stage_changes, 2 * 7, "{lines:#?}");
    assert_eq!(lines.iter().filter(|l| l.contains(" plan: 1 export: full at ")).count(), 2, "{lines:#?}");
    assert_eq!(lines.iter().filter(|l| l.contains(" full sync: demo table ")).count(), 2, "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("verified ") || l.contains("] finished in")), "{lines:#?}");
}

#[test]
fn verbose_adds_polls_files_and_statements() {
    let lines = full_sync_lines(&["-v"]);
    let text = lines.join("\n");
    assert!(lines.len() > 60, "{text}");
    for detail in ["COMPLETED after", "verified ", "md5 ok", "] finished in", "watermark advanced: none →"]
    {
        assert!(text.contains(detail), "missing {detail:?}:\n{text}");
    }
    assert!(text.contains("1 row\n") || text.contains(", 1 row"), "one row is singular:\n{text}");
    assert!(!text.contains(" 1 rows") && !text.contains(" 1 exports"), "{text}");
}

#[test]
fn json_lines_keep_every_event_whatever_the_level() {
    let lines = full_sync_lines(&["--json", "-q"]);
    let events: Vec<serde_json::Value> =
        lines.iter().map(|l| serde_json::from_str(l).expect("every line is JSON")).collect();
    for detail in ["file_verified", "export_polled", "statement_finished", "stage_changed"] {
        assert!(events.iter().any(|e| e["event"] == detail), "missing {detail}");
    }
}

#[test]
fn with_json_a_broken_tables_toml_is_one_json_error_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap().replace(r#"name = "status""#, r#"name = "Status;""#);
    let line = text.lines().position(|l| l.contains(r#""Status;""#)).unwrap() + 1;
    std::fs::write(&config, text).unwrap();
    let output = dynashift(&config, &["--headless", "--all", "--json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    let out = stdout(&output);
    assert_eq!(out.lines().count(), 1, "{out}");
    let error: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(error["event"], "error");
    assert_eq!(error["kind"], "config");
    assert_eq!(error["file"], config.display().to_string());
    assert_eq!(error["line"], line);
    assert!(error["column"].as_u64().is_some_and(|c| c > 1), "{error}");
    assert!(error["message"].as_str().unwrap().contains("Status;"), "{error}");
    assert!(!error["hint"].as_str().unwrap().is_empty(), "{error}");
    assert_eq!(error["exit_code"], 2);
}

#[test]
fn with_json_usage_errors_are_json_too() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    for args in [
        &["--headless", "--json"][..],
        &["--headless", "--json", "--table", "nope"][..],
        &["--headless", "--json", "--all", "--no-such-flag"][..],
    ] {
        let output = dynashift(&config, args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let error: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("one JSON object");
        assert_eq!(error["kind"], "usage", "{args:?}: {error}");
        assert_eq!(error["exit_code"], 2);
        assert!(!error["message"].as_str().unwrap().contains('\x1b'), "{error}");
    }
}

#[test]
fn with_json_a_warehouse_that_cannot_open_is_a_json_connect_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    std::fs::write(dir.path().join("not-a-folder"), "").unwrap();
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace(r#"path = ".dynashift/warehouse.sqlite""#, r#"path = "not-a-folder/warehouse.sqlite""#);
    std::fs::write(&config, text).unwrap();
    let output = dynashift(&config, &["--headless", "--all", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let error: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("one JSON object");
    assert_eq!(error["event"], "error");
    assert_eq!(error["kind"], "connect");
    assert_eq!(error["exit_code"], 1);
    assert!(error["message"].as_str().unwrap().contains("sqlite warehouse"), "{error}");
}

#[test]
fn a_dry_run_prints_the_sql_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let output = dynashift(&config, &["--headless", "--table", "orders", "--mode", "full", "--dry-run"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains("CREATE TABLE IF NOT EXISTS \"dynashift_runs\""), "{text}");
    assert!(text.contains("OK      orders: dry run, nothing changed"), "{text}");
    assert!(
        !dir.path().join(".dynashift/warehouse.sqlite").exists() || {
            let conn = rusqlite::Connection::open(dir.path().join(".dynashift/warehouse.sqlite")).unwrap();
            conn.query_row("select count(*) from sqlite_master where name = 'orders'", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
                == 0
        }
    );
    assert!(!dir.path().join(".dynashift/bucket/orders/_state").exists(), "a dry run writes no state");
}

#[test]
fn a_broken_tables_toml_exits_2_naming_file_line_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let text = std::fs::read_to_string(&config).unwrap().replace(r#"name = "status""#, r#"name = "Status;""#);
    std::fs::write(&config, text).unwrap();
    for args in [&["--check"][..], &["--headless", "--all"][..]] {
        let output = dynashift(&config, args);
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("tables.toml:") && stderr.contains("hint"), "{stderr}");
        assert!(stdout(&output).is_empty());
    }
    assert!(!dir.path().join(".dynashift").exists(), "nothing was touched");
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    assert_eq!(dynashift(&config, &["--headless"]).status.code(), Some(2));
    assert_eq!(dynashift(&config, &["--headless", "--table", "nope"]).status.code(), Some(2));
    assert_eq!(dynashift(&config, &["--all"]).status.code(), Some(2));
    let ok = dynashift(&config, &["--check"]);
    assert_eq!(ok.status.code(), Some(0));
    assert!(stdout(&ok).contains("2 tables, all valid"));
}

#[test]
fn two_processes_never_sync_the_same_table_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let slow =
        std::fs::read_to_string(&config).unwrap().replace("export_seconds = 0.2", "export_seconds = 2.0");
    std::fs::write(&config, slow).unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_dynashift"))
            .arg("--config")
            .arg(&config)
            .args(["--headless", "--table", "customers", "--mode", "full"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start dynashift")
    };
    let first = spawn();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let second = spawn();
    let (first, second) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
    assert_eq!(first.status.code(), Some(0), "{}", stdout(&first));
    // Overlapping cron runs are normal: the one that finds the table busy exits 3, not 1.
    assert_eq!(second.status.code(), Some(3), "{}", stdout(&second));
    let refused = stdout(&second);
    let last = refused.lines().last().unwrap();
    assert!(last.starts_with("SKIPPED customers:"), "{last}");
    assert!(last.contains("is locked by run") && last.contains("pid"), "{last}");
    assert!(last.contains("wait for that run to finish"), "{last}");
}

#[test]
fn the_console_without_a_terminal_says_to_use_headless() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let output = Command::new(env!("CARGO_BIN_EXE_dynashift"))
        .arg("--config")
        .arg(&config)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run dynashift");
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert!(err.starts_with("no terminal:") && err.contains("use --headless"), "{err}");
    assert!(!err.contains("os error") && !err.contains("Location"), "no developer report: {err}");
}

#[test]
fn redirected_output_holds_no_escape_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    let output = Command::new(env!("CARGO_BIN_EXE_dynashift"))
        .arg("--config")
        .arg(&config)
        .args(["--headless", "--all", "--mode", "full"])
        .env("DYNASHIFT_LOG", "debug")
        .env_remove("NO_COLOR")
        .output()
        .expect("run dynashift");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(err.contains("DEBUG"), "debug logs reach stderr: {err}");
    assert!(
        !err.contains('\x1b') && !stdout(&output).contains('\x1b'),
        "escape codes in redirected output: {err}"
    );
}

#[test]
fn a_stop_signal_cancels_the_runs_and_exits_with_a_failed_summary() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config(dir.path());
    // Exports that stay IN_PROGRESS long enough to be interrupted.
    let text =
        std::fs::read_to_string(&config).unwrap().replace("export_seconds = 0.2", "export_seconds = 30.0");
    std::fs::write(&config, text).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_dynashift"))
        .arg("--config")
        .arg(&config)
        .args(["--headless", "--table", "customers", "--mode", "full"])
        .env_remove("DYNASHIFT_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start dynashift");
    // The run journal exists once the run is under way (the signal handler is in place by then).
    let runs = dir.path().join(".dynashift/bucket/customers/_state/runs");
    let started = std::time::Instant::now();
    while std::fs::read_dir(&runs).map_or(true, |mut entries| entries.next().is_none()) {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the run never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("run kill");
    assert!(kill.success());
    let output = child.wait_with_output().expect("wait for dynashift");
    let (out, err) = (stdout(&output), String::from_utf8_lossy(&output.stderr).into_owned());
    assert_eq!(
        output.status.code(),
        Some(1),
        "a cancelled run is a failed run, not a killed process:\n{out}\n{err}"
    );
    assert!(err.contains("stop requested: cancelling the runs"), "{err}");
    let last = out.lines().last().unwrap_or_default();
    assert!(last.starts_with("FAILED  customers:"), "the last line names the cancelled table: {out}");
    assert!(output.status.code() != Some(130));
}
