//! Timing a child process: wall time from spawn to exit, its CPU time from the kernel's resource
//! usage of exactly that child (`wait4`), and its peak RSS as GNU `time` reports it.
//!
//! Why not `ru_maxrss` from `wait4` for memory too: a child started with `vfork`/`posix_spawn`
//! (what `std::process::Command` does) execs out of its parent's address space, and the kernel
//! carries that address space's high-water mark into the child's `maxrss` at exec — so a 2 MiB
//! `zcat` would report whatever the harness itself peaked at. GNU `time` forks the command from
//! its own small process and reports the command's `maxrss`, which starts from about 1 MiB.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// GNU time (Debian package `time`; scripts/bench-tools.sh installs it).
const GNU_TIME: &str = "/usr/bin/time";

/// One timed run of a child process.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub wall: Duration,
    /// User + system CPU seconds of the child (and of any children it waited for).
    pub cpu: f64,
    /// The child's peak resident set size in KiB; None when GNU time is not installed.
    pub peak_rss_kib: Option<u64>,
}

impl Measured {
    pub fn seconds(&self) -> f64 {
        self.wall.as_secs_f64()
    }

    pub fn rss_mib(&self) -> Option<f64> {
        self.peak_rss_kib.map(|kib| kib as f64 / 1024.0)
    }
}

/// Why peak RSS is not measured here, if it is not.
pub fn rss_unavailable() -> Option<String> {
    (!Path::new(GNU_TIME).exists()).then(|| {
        format!("peak RSS not measured: {GNU_TIME} is missing (scripts/bench-tools.sh installs GNU time)")
    })
}

/// `command` run under GNU time writing the peak RSS (KiB) into `rss_file`, with the same
/// arguments, environment and folder.
fn under_gnu_time(command: &Command, rss_file: &Path) -> Command {
    let mut timed = Command::new(GNU_TIME);
    timed
        .args(["-f", "%M", "-o"])
        .arg(rss_file)
        .arg("--")
        .arg(command.get_program())
        .args(command.get_args());
    for (name, value) in command.get_envs() {
        match value {
            Some(value) => timed.env(name, value),
            None => timed.env_remove(name),
        };
    }
    if let Some(folder) = command.get_current_dir() {
        timed.current_dir(folder);
    }
    timed
}

/// Runs `command` to its end with stdout captured (stdin closed, stderr inherited) and measures it.
/// Fails naming `what` when it cannot start or exits unsuccessfully, with its output.
pub fn measure(what: &str, command: &mut Command) -> Result<(Measured, String), String> {
    let rss_file = tempfile::NamedTempFile::new().map_err(|e| format!("a temporary file: {e}"))?;
    let mut command = match rss_unavailable() {
        None => under_gnu_time(command, rss_file.path()),
        Some(_) => std::mem::replace(command, Command::new("true")),
    };
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{what}: cannot start {:?}: {e}", command.get_args().collect::<Vec<_>>()))?;
    let pid = child.id() as libc::pid_t;
    // Read the pipes on threads while waiting, so a chatty child cannot block on a full pipe.
    let (mut stdout, mut stderr) = (child.stdout.unwrap(), child.stderr.unwrap());
    let out = std::thread::spawn(move || read_all(&mut stdout));
    let err = std::thread::spawn(move || read_all(&mut stderr));
    let (status, usage) = wait4(pid).map_err(|e| format!("{what}: waiting for it failed: {e}"))?;
    let wall = started.elapsed();
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    let exited_ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !exited_ok {
        return Err(format!("{what} failed (wait status {status}):\n{stdout}\n{stderr}"));
    }
    let cpu = seconds(usage.ru_utime) + seconds(usage.ru_stime);
    let peak_rss_kib = match rss_unavailable() {
        Some(_) => None,
        None => Some(peak_rss(rss_file.path()).map_err(|e| format!("{what}: {e}"))?),
    };
    Ok((Measured { wall, cpu, peak_rss_kib }, stdout))
}

/// The `%M` GNU time wrote: the last line of its output file.
fn peak_rss(file: &Path) -> Result<u64, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("reading GNU time's output: {e}"))?;
    let last = text.lines().last().unwrap_or_default().trim();
    last.parse().map_err(|_| format!("GNU time wrote {text:?}, not a peak RSS in KiB"))
}

fn read_all(pipe: &mut impl std::io::Read) -> String {
    let mut text = String::new();
    let _ = pipe.read_to_string(&mut text);
    text
}

/// Waits for `pid` and returns its wait status and resource usage. The `Child` handle is never
/// waited on (its pid is reaped here), which std allows: it only leaks the handle's bookkeeping.
fn wait4(pid: libc::pid_t) -> std::io::Result<(libc::c_int, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of the plain C struct wait4 fills in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are valid for writes for the duration of the call.
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            return Ok((status, usage));
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

fn seconds(time: libc::timeval) -> f64 {
    time.tv_sec as f64 + time.tv_usec as f64 / 1e6
}

/// Whether `program --version` runs (the tool is installed).
pub fn available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The fastest of `repeats` runs (the machine may be shared); `prepare` runs untimed before each.
pub fn fastest(
    repeats: usize,
    mut prepare: impl FnMut() -> Result<(), String>,
    mut run: impl FnMut() -> Result<Measured, String>,
) -> Result<Measured, String> {
    let mut best: Option<Measured> = None;
    for _ in 0..repeats.max(1) {
        prepare()?;
        let measured = run()?;
        if best.is_none_or(|b| measured.wall < b.wall) {
            best = Some(measured);
        }
    }
    Ok(best.expect("at least one run"))
}
