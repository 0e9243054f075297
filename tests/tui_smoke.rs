//! Real-terminal smoke test of the console: runs `scripts/tui-smoke.sh` (tmux, a 120×40 pane,
//! `i` on the first table until its run commits, `q`, then checks the terminal was restored).
//! The script installs tmux with apt-get when it is missing; only when that is impossible does
//! this test skip, saying so.

use std::path::PathBuf;
use std::process::Command;

/// The script's exit status for "skipped: no tmux".
const SKIPPED: i32 = 77;

fn binary() -> PathBuf {
    // Set by Cargo when the package has the `dynashift` binary target (it is built first).
    match option_env!("CARGO_BIN_EXE_dynashift") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/debug/dynashift"),
    }
}

#[test]
fn the_console_syncs_a_table_and_restores_the_terminal() {
    let binary = binary();
    assert!(
        binary.exists(),
        "{} does not exist; build it with `cargo build --bin dynashift`",
        binary.display()
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/tui-smoke.sh");
    let status = Command::new("bash").arg(&script).arg(&binary).status().expect("bash runs the smoke script");
    if status.code() == Some(SKIPPED) {
        eprintln!(
            "SKIPPED: tmux is not installed and could not be installed; the console smoke test did not run"
        );
        return;
    }
    assert!(
        status.success(),
        "{} failed ({status}); its output above shows the last screen",
        script.display()
    );
}

/// Runs `scripts/tui-oncall-smoke.sh` for one scenario (see the script for what each checks).
fn oncall(scenario: &str) {
    let binary = binary();
    assert!(
        binary.exists(),
        "{} does not exist; build it with `cargo build --bin dynashift`",
        binary.display()
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/tui-oncall-smoke.sh");
    let status = Command::new("bash")
        .arg(&script)
        .arg(&binary)
        .arg(scenario)
        .status()
        .expect("bash runs the on-call smoke script");
    if status.code() == Some(SKIPPED) {
        eprintln!("SKIPPED: tmux is not installed; the on-call smoke test ({scenario}) did not run");
        return;
    }
    assert!(
        status.success(),
        "{} {scenario} failed ({status}); its output above shows the last screen",
        script.display()
    );
}

#[test]
fn the_console_draws_at_once_and_shows_its_retries_when_the_warehouse_is_unreachable() {
    oncall("unreachable");
}

#[test]
fn the_console_notices_a_sync_made_by_another_process_without_a_key_press() {
    oncall("foreign");
}
