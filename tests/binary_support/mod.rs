//! Running the `dynashift` binary in a folder of the test's own, as a new user would, and
//! reading what it printed.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The binary in `dir`, with nothing of the caller's environment that would change its answer.
pub fn dynashift_in(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dynashift"));
    command.current_dir(dir).args(args).env_remove("DYNASHIFT_LOG").env_remove("DYNASHIFT_CONFIG");
    command
}

/// Runs the binary in `dir` to its end.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    dynashift_in(dir, args).output().expect("run dynashift")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fails with both output streams unless the binary exited with `code`.
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}
