//! Secrets never leave the environment (issue 6, item 7): the real binary runs a full and two
//! incremental syncs of the demo with AWS credentials and a warehouse password in its
//! environment, at debug log level, and none of those values may appear in anything the runs
//! wrote — stdout (text and JSON Lines), stderr, the log, every file of the store (journals,
//! state, exports, staged files) and the SQLite database. State files must be private (0600).
//! The same runs into Redshift (moto's S3 and the Data API stand-in) also scan every statement and
//! connection field the Data API received, and every object written to the bucket.

mod common;
mod dataapi_support;
mod moto_support;
mod postgres_support;
mod redshift_stack;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::fast_demo_config;
use dynashift::store::ObjectStore;
use redshift_stack::RedshiftStack;

const TABLE: &str = "customers";

/// Values no output may contain: unique per test run, so a hit can only be a leak.
struct Markers {
    secret_key: String,
    session_token: String,
    password: String,
}

impl Markers {
    fn new() -> Markers {
        let marker =
            |what: &str| format!("{what}{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>());
        Markers {
            secret_key: marker("SECRETKEY"),
            session_token: marker("SESSIONTOKEN"),
            password: marker("PGPASS"),
        }
    }

    fn all(&self) -> [&str; 3] {
        [&self.secret_key, &self.session_token, &self.password]
    }
}

fn run(config: &Path, markers: &Markers, args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_dynashift"))
        .arg("--config")
        .arg(config)
        .args(["--headless", "--table", TABLE])
        .args(args)
        .current_dir(config.parent().unwrap())
        .env_remove("DYNASHIFT_FAULT")
        .env("DYNASHIFT_LOG", "debug")
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", &markers.secret_key)
        .env("AWS_SESSION_TOKEN", &markers.session_token)
        .env("DYNASHIFT_PG_URL", format!("postgres://dynashift:{}@127.0.0.1:1/warehouse", markers.password))
        .env("PGPASSWORD", &markers.password)
        .output()
        .expect("run dynashift");
    assert!(
        output.status.success(),
        "dynashift {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[track_caller]
fn assert_clean(what: &str, bytes: &[u8], markers: &Markers) {
    for marker in markers.all() {
        let found = bytes.windows(marker.len()).any(|window| window == marker.as_bytes());
        assert!(!found, "{what} contains the secret {marker}");
    }
}

#[test]
fn no_secret_reaches_any_output_and_state_files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let config = fast_demo_config(dir.path());
    let markers = Markers::new();

    let runs = [
        run(&config, &markers, &["--mode", "full"]),
        run(&config, &markers, &["--mode", "incremental", "--json"]),
        run(&config, &markers, &["--mode", "incremental"]),
    ];
    let json = String::from_utf8_lossy(&runs[1].stdout);
    assert!(json.lines().any(|l| l.contains(r#""event":"run_finished""#)), "JSON Lines on stdout: {json}");
    for (index, output) in runs.iter().enumerate() {
        assert!(!output.stdout.is_empty(), "run {index} printed its progress");
        assert_clean(&format!("stdout of run {index}"), &output.stdout, &markers);
        assert_clean(&format!("stderr of run {index}"), &output.stderr, &markers);
    }

    let files = files_under(dir.path());
    let state = dir.path().join(".dynashift");
    for expected in ["warehouse.sqlite", "bucket/customers/_state/watermark.json"] {
        assert!(files.contains(&state.join(expected)), "{expected} was written: {files:?}");
    }
    // Everything the runs wrote: the store (exports, journals, state, staged files), the demo's
    // history, the log when there is one, and the SQLite database with its journal files.
    for file in &files {
        assert_clean(&file.display().to_string(), &std::fs::read(file).unwrap(), &markers);
    }
    assert_state_files_are_private(&state.join("bucket"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_redshift_sql_the_bucket_or_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let markers = Markers::new();
    let stack = RedshiftStack::start("secrets_scan_redshift", "secrets-scan").await;
    let config = stack.write_tables_toml(&fast_demo_config(dir.path()));

    let runs = [
        run(&config, &markers, &["--mode", "full"]),
        run(&config, &markers, &["--mode", "incremental", "--json"]),
    ];
    for (index, output) in runs.iter().enumerate() {
        assert_clean(&format!("stdout of run {index}"), &output.stdout, &markers);
        assert_clean(&format!("stderr of run {index}"), &output.stderr, &markers);
    }
    let calls = stack.standin.calls();
    assert!(
        calls.iter().any(|c| c.operation == "BatchExecuteStatement"),
        "the loads went through the Data API"
    );
    for call in &calls {
        let fields = format!("{call:?}");
        assert_clean(&format!("{} sent to the Data API", call.operation), fields.as_bytes(), &markers);
        assert!(!fields.contains("AKIAIOSFODNN7EXAMPLE"), "the access key id reached the Data API: {fields}");
    }
    let store = stack.store();
    let objects = store.list("").await.unwrap();
    assert!(
        objects.iter().any(|o| o.key.ends_with("_state/watermark.json")),
        "state was written to the bucket"
    );
    for object in objects {
        assert_clean(
            &format!("{}{}", stack.bucket_url(), object.key),
            &store.get(&object.key).await.unwrap(),
            &markers,
        );
    }
    for file in files_under(dir.path()) {
        assert_clean(&file.display().to_string(), &std::fs::read(&file).unwrap(), &markers);
    }
}

#[cfg(unix)]
fn assert_state_files_are_private(bucket: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let state_files: Vec<PathBuf> = files_under(bucket)
        .into_iter()
        .filter(|path| path.strip_prefix(bucket).unwrap().components().any(|c| c.as_os_str() == "_state"))
        .collect();
    assert!(state_files.iter().any(|p| p.ends_with("_state/watermark.json")), "{state_files:?}");
    assert!(state_files.iter().any(|p| p.parent().unwrap().ends_with("_state/runs")), "{state_files:?}");
    for file in state_files {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", file.display());
    }
}

#[cfg(not(unix))]
fn assert_state_files_are_private(_bucket: &Path) {}
