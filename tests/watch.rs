//! `dynashift --headless --watch` from the binary: a demo table with a short `every` is synced
//! twice (its first run a full sync, saying so), SIGTERM stops the watcher with exit 0, a run
//! interrupted by it is resumed by the next start, and tables without `every` are refused.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

use common::fast_demo_config;

/// The fast demo config with `every` in `[defaults]`.
fn scheduled_config(dir: &Path, every: &str) -> std::path::PathBuf {
    let config = fast_demo_config(dir);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("\n[defaults]\n"), "the shipped tables.toml has a [defaults] section");
    std::fs::write(
        &config,
        text.replacen("\n[defaults]\n", &format!("\n[defaults]\nevery = \"{every}\"\n"), 1),
    )
    .unwrap();
    config
}

fn watch(config: &Path, table: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dynashift"))
        .arg("--config")
        .arg(config)
        .args(["--headless", "--watch", "--table", table])
        .env_remove("DYNASHIFT_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dynashift")
}

/// Stdout's lines as they come, on a channel.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Reads lines until one satisfies `wanted`, returning every line read; panics after `limit`.
fn read_until(
    lines: &mpsc::Receiver<String>,
    limit: Duration,
    wanted: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    while !wanted(&seen) {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("waited {limit:?}; output so far:\n{}", seen.join("\n")),
        }
    }
    seen
}

fn terminate(child: &Child) {
    let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("run kill");
    assert!(kill.success());
}

fn outcomes(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.contains(" OK ") || l.contains(" FAILED ") || l.contains(" SKIPPED ")).collect()
}

#[test]
fn watch_syncs_a_table_when_due_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = scheduled_config(dir.path(), "2s");
    let mut child = watch(&config, "customers");
    let lines = lines_of(&mut child);
    let seen = read_until(&lines, Duration::from_secs(90), |seen| outcomes(seen).len() >= 2);
    terminate(&child);
    let rest: Vec<String> = lines.iter().collect();
    let output = child.wait_with_output().expect("wait for dynashift");
    let all = [seen.clone(), rest].concat().join("\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{all}\n{stderr}");
    let starts: Vec<&String> = seen.iter().filter(|l| l.contains(" STARTED ")).collect();
    assert!(starts[0].contains("customers: never synced: its first run is a full sync"), "{all}");
    assert!(starts[1].contains("customers: due: incremental sync"), "{all}");
    let outcomes = outcomes(&seen);
    assert!(outcomes.iter().all(|l| l.contains(" OK ")), "{all}");
    assert!(outcomes[0].contains("customers: committed up to"), "{all}");
    assert!(outcomes[0].contains("; next at ") || outcomes[0].contains("; due again now"), "{all}");
    assert!(all.contains(" STOPPED "), "{all}");
    // Two runs, about `every` apart: the second waited for its slot.
    let runs = std::fs::read_dir(dir.path().join(".dynashift/bucket/customers/_state/runs")).unwrap().count();
    assert!(runs >= 2, "{runs} journals");
}

#[test]
fn sigterm_cancels_a_running_run_which_the_next_start_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let config = scheduled_config(dir.path(), "1h");
    let slow =
        std::fs::read_to_string(&config).unwrap().replace("export_seconds = 0.2", "export_seconds = 30.0");
    std::fs::write(&config, slow).unwrap();
    let mut child = watch(&config, "customers");
    let lines = lines_of(&mut child);
    let seen =
        read_until(&lines, Duration::from_secs(60), |seen| seen.iter().any(|l| l.contains(" STARTED ")));
    // The export is requested (and journaled) soon after the start; then stop.
    std::thread::sleep(Duration::from_millis(1500));
    terminate(&child);
    let output = child.wait_with_output().expect("wait for dynashift");
    let all = [seen, lines.iter().collect()].concat().join("\n");
    assert_eq!(output.status.code(), Some(0), "{all}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(all.contains(" CANCELLED customers: cancelled at stage"), "{all}");
    assert!(all.contains("the next run resumes it"), "{all}");
    // The next start picks the interrupted run up instead of starting over.
    let fast =
        std::fs::read_to_string(&config).unwrap().replace("export_seconds = 30.0", "export_seconds = 0.2");
    std::fs::write(&config, fast).unwrap();
    let mut child = watch(&config, "customers");
    let lines = lines_of(&mut child);
    let seen = read_until(&lines, Duration::from_secs(60), |seen| !outcomes(seen).is_empty());
    terminate(&child);
    let output = child.wait_with_output().expect("wait for dynashift");
    assert_eq!(output.status.code(), Some(0));
    let text = seen.join("\n");
    assert!(outcomes(&seen)[0].contains(" OK ") && text.contains("committed up to"), "{text}");
    assert!(text.contains(" RESUMING  customers: picking up run "), "{text}");
}

#[test]
fn a_table_another_run_holds_is_skipped_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    let config = scheduled_config(dir.path(), "1h");
    let slow =
        std::fs::read_to_string(&config).unwrap().replace("export_seconds = 0.2", "export_seconds = 30.0");
    std::fs::write(&config, slow).unwrap();
    // A plain run holds customers' lease while its export is in progress.
    let mut holder = Command::new(env!("CARGO_BIN_EXE_dynashift"))
        .arg("--config")
        .arg(&config)
        .args(["--headless", "--table", "customers", "--mode", "full"])
        .env_remove("DYNASHIFT_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the lease holder");
    let lock = dir.path().join(".dynashift/bucket/customers/_state/lock");
    let started = Instant::now();
    while !lock.exists() {
        assert!(started.elapsed() < Duration::from_secs(30), "the holder never took the lease");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut child = watch(&config, "customers");
    let lines = lines_of(&mut child);
    let seen = read_until(&lines, Duration::from_secs(60), |seen| !outcomes(seen).is_empty());
    terminate(&child);
    let output = child.wait_with_output().expect("wait for dynashift");
    let _ = holder.kill();
    let _ = holder.wait();
    let text = seen.join("\n");
    assert_eq!(output.status.code(), Some(0), "{text}");
    let outcome = outcomes(&seen)[0];
    assert!(outcome.contains(" SKIPPED   customers: another run holds the table:"), "{text}");
    assert!(outcome.contains("not a failure") && outcome.contains("; next at "), "{text}");
}

#[test]
fn watch_refuses_tables_without_every_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let config = fast_demo_config(dir.path());
    let output = Command::new(env!("CARGO_BIN_EXE_dynashift"))
        .arg("--config")
        .arg(&config)
        .args(["--headless", "--watch", "--all"])
        .output()
        .expect("run dynashift");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("these tables have no `every`: orders, customers"), "{stderr}");
    assert!(!dir.path().join(".dynashift").exists(), "nothing ran");
}
