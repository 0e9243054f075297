//! The `[notify]` command: run without a shell, with a run's outcome as one JSON document on its
//! stdin, killed (with every process it started) once it outlives its timeout.

use std::process::{ExitStatus, Stdio};

use tokio::io::AsyncWriteExt;

use crate::config::NotifyConfig;

/// How many bytes of the command's stdout and stderr go to the log.
const OUTPUT_LOGGED: usize = 2000;

/// What became of one notification.
#[derive(Debug)]
pub enum Delivery {
    /// The command ran to its end (successfully or not).
    Exited { status: ExitStatus, stderr: String },
    /// It ran past the timeout and was killed.
    TimedOut,
    /// It could not be started (no such program, not executable).
    NotStarted(std::io::Error),
}

impl Delivery {
    pub fn succeeded(&self) -> bool {
        matches!(self, Delivery::Exited { status, .. } if status.success())
    }

    /// "exited with status 0", for the log line.
    pub fn describe(&self, config: &NotifyConfig) -> String {
        match self {
            Delivery::Exited { status, .. } => match status.code() {
                Some(code) => format!("exited with status {code}"),
                None => format!("was ended by a signal ({status})"),
            },
            Delivery::TimedOut => {
                format!("was killed after running for {:?} (`timeout` in [notify])", config.timeout)
            }
            Delivery::NotStarted(err) => {
                format!("could not be started: {err} (check `command` in [notify]: {})", config.command[0])
            }
        }
    }
}

/// Runs the command with `payload` on its stdin and waits for it, at most `config.timeout`.
pub async fn deliver(config: &NotifyConfig, payload: &[u8]) -> Delivery {
    let mut command = tokio::process::Command::new(&config.command[0]);
    command
        .args(&config.command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group, so a timeout kills what a script started too.
    #[cfg(unix)]
    command.process_group(0);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) => return Delivery::NotStarted(err),
    };
    let pid = child.id();
    let stdin = child.stdin.take();
    let run = async move {
        if let Some(mut stdin) = stdin {
            // A command that does not read its input may exit first: a broken pipe is fine.
            let _ = stdin.write_all(payload).await;
        }
        child.wait_with_output().await
    };
    match tokio::time::timeout(config.timeout, run).await {
        Ok(Ok(output)) => {
            log_output("stdout", &output.stdout);
            log_output("stderr", &output.stderr);
            let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            Delivery::Exited { status: output.status, stderr }
        }
        Ok(Err(err)) => Delivery::NotStarted(err),
        Err(_elapsed) => {
            kill_group(pid);
            Delivery::TimedOut
        }
    }
}

/// Kills the command's process group (the command dropped with the timed-out future is killed
/// by `kill_on_drop`; this reaches what it started).
fn kill_group(pid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pid.and_then(|pid| i32::try_from(pid).ok()) {
        // SAFETY: kill(2) with a negative pid signals that process group; it touches no memory.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

fn log_output(stream: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if !text.is_empty() {
        let shown: String = text.chars().take(OUTPUT_LOGGED).collect();
        tracing::info!(stream, output = %shown, "notify command output");
    }
}
