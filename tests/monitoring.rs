//! Monitoring from the binary, on the demo: `dynashift status [--json]` after a sync and after a
//! forced failure (and that reading it changes nothing), the `[metrics]` file parsed as
//! Prometheus text after a success and after failures, and the `[notify]` command run for real.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

mod common;

/// The fast demo with `lag_critical` far enough that its ten-hours-a-second clock does not
/// trip it, plus `extra` sections.
fn config(dir: &Path, lag: (&str, &str), extra: &str) -> PathBuf {
    let path = common::fast_demo_config(dir);
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace("lag_warn = \"2h\"", &format!("lag_warn = \"{}\"", lag.0))
        .replace("lag_critical = \"24h\"", &format!("lag_critical = \"{}\"", lag.1));
    std::fs::write(&path, format!("{text}\n{extra}\n")).unwrap();
    path
}

const RELAXED: (&str, &str) = ("299d", "300d");

fn dynashift(config: &Path, args: &[&str], fault: Option<&str>) -> Output {
    let mut command = common::binary(config);
    command.args(args);
    match fault {
        Some(fault) => command.env("DYNASHIFT_FAULT", fault),
        None => command.env_remove("DYNASHIFT_FAULT"),
    };
    command.output().expect("run dynashift")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

use common::exits;

fn sync_all(config: &Path) {
    exits(&dynashift(config, &["--headless", "--all", "--mode", "full"], None), 0);
}

/// A failed incremental run of `customers`, stopped by the fault injection after staging.
fn fail_customers(config: &Path) -> Output {
    let args = ["--headless", "--table", "customers", "--mode", "incremental"];
    let output = dynashift(config, &args, Some("fail-after:staged"));
    exits(&output, 1);
    output
}

fn status_json(config: &Path, code: i32) -> serde_json::Value {
    serde_json::from_str(&exits(&dynashift(config, &["status", "--json"], None), code))
        .expect("one JSON document")
}

fn table<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    status["tables"].as_array().unwrap().iter().find(|t| t["table"] == name).expect("the table is listed")
}

/// Every file under the store's `_state` folders and the warehouse file, with their bytes.
fn state_files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(path: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(path).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.components().any(|c| c.as_os_str() == "_state") {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(&dir.join(".dynashift/bucket"), &mut files);
    let warehouse = dir.join(".dynashift/warehouse.sqlite");
    files.insert(warehouse.clone(), std::fs::read(&warehouse).unwrap());
    files
}

#[test]
fn status_after_a_sync_and_after_a_forced_failure_and_reading_it_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), RELAXED, "");
    sync_all(&config);

    let before = state_files(dir.path());
    let status = status_json(&config, 0);
    assert_eq!(state_files(dir.path()), before, "status wrote nothing: no lease, no journal, no row");
    assert_eq!(status["version"], 1);
    assert_eq!(status["healthy"], true);
    for name in ["orders", "customers"] {
        let entry = table(&status, name);
        assert!(entry["watermark"].is_string(), "{entry}");
        assert!(entry["lag_seconds"].as_i64().unwrap() >= 0, "{entry}");
        assert_eq!(entry["source_clock_simulated"], true);
        assert_eq!(entry["lease"], serde_json::Value::Null);
        assert_eq!(entry["last_run"]["result"], "committed", "{entry}");
        assert!(entry["last_run"]["upserts"].as_u64().unwrap() > 0, "{entry}");
        assert!(entry["last_success_at"].is_string(), "{entry}");
        assert_eq!(entry["failures_total"], 0);
        assert_eq!(entry["healthy"], true);
        assert!(entry.get("next_due_at").is_none(), "no schedule, no invented due time");
        assert!(entry["last_run"]["cost"]["usd"].as_f64().unwrap() > 0.0, "{entry}");
        assert_eq!(entry["cost_30d"]["runs_priced"], 1, "{entry}");
        assert!(entry.get("projected_30d").is_none(), "no schedule, no projection");
    }

    fail_customers(&config);
    let status = status_json(&config, 1);
    assert_eq!(status["healthy"], false);
    assert_eq!(table(&status, "orders")["healthy"], true);
    let customers = table(&status, "customers");
    assert_eq!(customers["healthy"], false);
    assert_eq!(customers["last_run"]["result"], "failed");
    assert_eq!(customers["last_run"]["failure"]["stage"], "staged");
    assert!(customers["last_run"]["failure"]["cause"].as_str().unwrap().contains("injected failure"));
    assert!(customers["last_success_at"].is_string(), "the full sync is still the last success");
    assert_eq!(customers["failures_total"], 1);

    let text = exits(&dynashift(&config, &["status"], None), 1);
    assert!(text.contains("customers (demo → customers): UNHEALTHY"), "{text}");
    assert!(text.contains("failed at stage staged: injected failure"), "{text}");
    assert!(text.contains("orders (demo → orders): healthy"), "{text}");
    assert!(text.contains("  export cost   last run $"), "{text}");
    assert!(text.trim_end().ends_with("2 tables: 1 unhealthy"), "{text}");
}

/// A lease another host's run holds, live for another 100 s (within one lease period, so
/// dynashift refuses at once rather than watching it).
fn live_lease() -> String {
    let expires = (chrono::Utc::now() + chrono::Duration::seconds(100)).to_rfc3339();
    format!(
        r#"{{"run_id":"20261204T120000Z-abcdef","host":"ops-1","pid":4242,
        "acquired_at":"2026-12-04T12:00:00Z","expires_at":"{expires}","generation":7}}"#
    )
}

#[test]
fn status_names_the_lease_holder_and_leaves_the_lease_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), RELAXED, "");
    sync_all(&config);
    let lock = dir.path().join(".dynashift/bucket/customers/_state/lock");
    let lease = live_lease();
    std::fs::write(&lock, &lease).unwrap();
    let status = status_json(&config, 0);
    let holder = &table(&status, "customers")["lease"];
    assert_eq!(holder["run_id"], "20261204T120000Z-abcdef");
    assert_eq!((holder["host"].as_str(), holder["pid"].as_u64()), (Some("ops-1"), Some(4242)));
    assert_eq!(holder["since"], "2026-12-04T12:00:00Z");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), lease, "the lease is untouched");
    let text = exits(&dynashift(&config, &["status"], None), 0);
    assert!(text.contains("running       run 20261204T120000Z-abcdef on ops-1 (pid 4242)"), "{text}");
}

#[test]
fn a_table_never_synced_fails_the_check_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), RELAXED, "");
    // A failed first incremental (no watermark yet) is recorded as the table's last run.
    let output = dynashift(&config, &["--headless", "--table", "customers", "--mode", "incremental"], None);
    exits(&output, 1);
    let status = status_json(&config, 1);
    let customers = table(&status, "customers");
    assert_eq!(customers["watermark"], serde_json::Value::Null);
    assert_eq!(customers["last_run"]["failure"]["stage"], "planned", "{customers}");
    let problems = customers["problems"].to_string();
    assert!(problems.contains("never synced: run a full sync"), "{problems}");
}

/// One sample of a Prometheus text exposition.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// Parses the text exposition format strictly enough to catch what Prometheus would refuse:
/// every sample's family announced by HELP and TYPE first, valid names, quoted labels, numbers.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let valid_name = |name: &str| {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    let mut helped = HashMap::new();
    let mut typed = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(valid_name(name) && !help.is_empty(), "{line}");
            assert!(helped.insert(name.to_owned(), ()).is_none(), "one HELP per family: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            assert!(typed.insert(name.to_owned(), kind.to_owned()).is_none(), "one TYPE per family: {line}");
            continue;
        }
        assert!(!line.starts_with('#') && !line.trim().is_empty(), "unexpected line `{line}`");
        let (series, value) = line.rsplit_once(' ').expect("a sample: series value");
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, labels.strip_suffix('}').expect("labels end in }")),
            None => (series, ""),
        };
        assert!(valid_name(name), "{line}");
        assert!(helped.contains_key(name) && typed.contains_key(name), "HELP and TYPE come first: {line}");
        if typed[name] == "counter" {
            assert!(name.ends_with("_total"), "counters end in _total: {line}");
        }
        let labels = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|label| {
                let (key, quoted) = label.split_once('=').expect("label=value");
                let value = quoted.strip_prefix('"').and_then(|v| v.strip_suffix('"')).expect("quoted");
                (key.to_owned(), value.to_owned())
            })
            .collect();
        let value = value.parse::<f64>().unwrap_or_else(|_| panic!("a number: {line}"));
        samples.push(Sample { name: name.to_owned(), labels, value });
    }
    samples
}

fn metric(samples: &[Sample], name: &str, table: &str) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && s.labels.get("table").map(String::as_str) == Some(table))
        .map(|s| s.value)
}

fn read_metrics(path: &Path) -> Vec<Sample> {
    parse_exposition(&std::fs::read_to_string(path).expect("the metrics file exists"))
}

#[test]
fn the_metrics_file_parses_after_a_success_and_counts_failures_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), RELAXED, "[metrics]\nfile = \"textfile/dynashift.prom\"");
    let file = dir.path().join("textfile/dynashift.prom");
    sync_all(&config);
    let samples = read_metrics(&file);
    for table in ["orders", "customers"] {
        assert!(metric(&samples, "dynashift_lag_seconds", table).unwrap() >= 0.0);
        let success = metric(&samples, "dynashift_last_success_timestamp_seconds", table).unwrap();
        assert!((success - chrono::Utc::now().timestamp() as f64).abs() < 120.0, "{success}");
        assert!(metric(&samples, "dynashift_last_run_duration_seconds", table).unwrap() > 0.0);
        assert!(metric(&samples, "dynashift_last_run_upserted_rows", table).unwrap() > 0.0);
        assert_eq!(metric(&samples, "dynashift_last_run_deleted_rows", table), Some(0.0));
        assert!(metric(&samples, "dynashift_last_run_billed_bytes", table).unwrap() > 0.0);
        assert_eq!(metric(&samples, "dynashift_failures_total", table), Some(0.0));
        assert_eq!(metric(&samples, "dynashift_healthy", table), Some(1.0));
    }
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "node_exporter's user can read it");

    fail_customers(&config);
    let samples = read_metrics(&file);
    assert_eq!(metric(&samples, "dynashift_failures_total", "customers"), Some(1.0));
    assert_eq!(metric(&samples, "dynashift_healthy", "customers"), Some(0.0));
    assert_eq!(metric(&samples, "dynashift_last_run_upserted_rows", "customers"), Some(0.0));
    assert_eq!(metric(&samples, "dynashift_failures_total", "orders"), Some(0.0));
    fail_customers(&config);
    let samples = read_metrics(&file);
    assert_eq!(
        metric(&samples, "dynashift_failures_total", "customers"),
        Some(2.0),
        "a new process counts on"
    );
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path().join("textfile")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["dynashift.prom"], "no temporary file is left beside it");
}

/// A notify script that appends its arguments and its stdin to `notified.jsonl` and exits
/// with `code`.
fn notify_script(dir: &Path, code: i32) -> PathBuf {
    let script = dir.join("notify.sh");
    let body = format!(
        "#!/bin/sh\nout=\"$(dirname \"$0\")/notified.jsonl\"\necho \"args: $*\" >> \"$out\"\ncat >> \"$out\"\n\
         echo >> \"$out\"\nexit {code}\n"
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// The notifications the script received: (its arguments, the JSON document).
fn notifications(dir: &Path) -> Vec<(String, serde_json::Value)> {
    let Ok(text) = std::fs::read_to_string(dir.join("notified.jsonl")) else { return Vec::new() };
    let lines: Vec<&str> = text.lines().collect();
    lines
        .chunks(2)
        .map(|pair| (pair[0].to_owned(), serde_json::from_str(pair[1]).expect("JSON on stdin")))
        .collect()
}

#[test]
fn a_failed_run_fires_the_notify_command_with_its_outcome_and_logs_its_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    notify_script(dir.path(), 7);
    let config = config(dir.path(), RELAXED, "[notify]\ncommand = [\"./notify.sh\", \"--team\", \"data\"]");
    sync_all(&config);
    assert!(notifications(dir.path()).is_empty(), "successes are not notified unless asked");

    // Skipped for another run's lease (exit 3, overlapping cron runs): no failure, no page.
    let lock = dir.path().join(".dynashift/bucket/customers/_state/lock");
    std::fs::write(&lock, live_lease()).unwrap();
    exits(&dynashift(&config, &["--headless", "--table", "customers"], None), 3);
    assert!(notifications(dir.path()).is_empty(), "a skipped run is not notified");
    std::fs::remove_file(&lock).unwrap();

    let output = fail_customers(&config);
    let received = notifications(dir.path());
    assert_eq!(received.len(), 1, "{received:?}");
    let (args, document) = &received[0];
    assert_eq!(args, "args: --team data");
    assert_eq!(document["version"], 1);
    assert_eq!(document["reason"], "failed");
    assert_eq!((document["table"].as_str(), document["ok"].as_bool()), (Some("customers"), Some(false)));
    assert_eq!(document["failure"]["stage"], "staged");
    assert!(document["failure"]["cause"].as_str().unwrap().contains("injected failure"), "{document}");
    assert!(document["run_id"].is_string() && document["watermark"].is_string(), "{document}");
    let stderr = text(&output.stderr);
    let line = format!(
        "dynashift: notify: `{}` for customers (failed) exited with status 7",
        dir.path().join("notify.sh").display()
    );
    assert!(stderr.contains(&line), "{stderr}");
}

#[test]
fn successes_and_lag_are_notified_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    notify_script(dir.path(), 0);
    let asked = config(dir.path(), RELAXED, "[notify]\ncommand = [\"./notify.sh\"]\non_success = true");
    exits(&dynashift(&asked, &["--headless", "--table", "orders", "--mode", "full", "--dry-run"], None), 0);
    assert!(notifications(dir.path()).is_empty(), "a dry run is not notified");
    exits(&dynashift(&asked, &["--headless", "--table", "orders", "--mode", "full"], None), 0);
    let received = notifications(dir.path());
    assert_eq!(received.len(), 1);
    assert_eq!(
        (received[0].1["reason"].as_str(), received[0].1["ok"].as_bool()),
        (Some("succeeded"), Some(true))
    );
    assert_eq!(received[0].1["outcome"]["outcome"], "committed");

    // The demo clock runs ten hours a second: past a 2-second lag_critical right after a sync.
    let dir = tempfile::tempdir().unwrap();
    notify_script(dir.path(), 0);
    let lagging = config(dir.path(), ("1s", "2s"), "[notify]\ncommand = [\"./notify.sh\"]\non_lag = true");
    exits(&dynashift(&lagging, &["--headless", "--table", "orders", "--mode", "full"], None), 0);
    let received = notifications(dir.path());
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].1["reason"], "lag_critical");
    assert!(received[0].1["lag_seconds"].as_i64().unwrap() > 2, "{}", received[0].1);
}

#[test]
fn a_notify_command_past_its_timeout_is_killed_with_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("hang.sh");
    let body = "#!/bin/sh\nsleep 60 &\necho $! > \"$(dirname \"$0\")/sleep.pid\"\nwait\n";
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = config(dir.path(), RELAXED, "[notify]\ncommand = [\"./hang.sh\"]\ntimeout = \"1s\"");
    let started = Instant::now();
    let output = fail_customers(&config);
    assert!(started.elapsed() < Duration::from_secs(20), "the run did not wait for the hung command");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("for customers (failed) was killed after running for 1s"), "{stderr}");
    let pid = std::fs::read_to_string(dir.path().join("sleep.pid")).unwrap();
    let proc = PathBuf::from(format!("/proc/{}", pid.trim()));
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        std::fs::read_to_string(proc.join("stat")).map_or(true, |stat| stat.contains(") Z "))
    });
    assert!(gone, "the script's child was killed too");
}

#[test]
fn a_scheduled_table_shows_when_it_is_due_next() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), RELAXED, "");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[defaults]\n"), "the shipped tables.toml has a [defaults] section");
    std::fs::write(&config, text.replacen("[defaults]\n", "[defaults]\nevery = \"1h\"\n", 1)).unwrap();

    // Never synced: due at once (a first full sync is what --watch and the console would start).
    let status = status_json(&config, 1);
    let generated: chrono::DateTime<chrono::Utc> = status["generated_at"].as_str().unwrap().parse().unwrap();
    let due: chrono::DateTime<chrono::Utc> =
        table(&status, "orders")["next_due_at"].as_str().expect("a due time").parse().unwrap();
    assert!(due <= generated, "a never-synced table is due now: {due} vs {generated}");

    sync_all(&config);
    let status = status_json(&config, 0);
    for name in ["orders", "customers"] {
        let entry = table(&status, name);
        let started: chrono::DateTime<chrono::Utc> =
            entry["last_run"]["started_at"].as_str().unwrap().parse().unwrap();
        let due: chrono::DateTime<chrono::Utc> =
            entry["next_due_at"].as_str().expect("a due time").parse().unwrap();
        assert_eq!(due, started + chrono::Duration::hours(1), "{entry}");
    }
    let plain = exits(&dynashift(&config, &["status"], None), 0);
    assert!(plain.contains("  next due      "), "{plain}");
}
