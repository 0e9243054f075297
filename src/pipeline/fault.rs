//! Fault injection for the crash-recovery tests: `DYNASHIFT_FAULT=<point>` makes a run crash
//! (abort the process, like SIGKILL or power loss) or fail at a chosen point. Only debug builds
//! read the variable; release builds compile it away, so production can never be told to crash.
//!
//! Points: `crash-after:<stage>` aborts right after the journal recorded `<stage>`;
//! `fail-after:<stage>` fails the run there instead; `crash-in-load:<n>` aborts once the load's
//! statement `n` finished, before the load commits; `crash-after-request:<n>` aborts once export
//! `n` (0-based) was requested, before its ARN is journaled; `fill-disk-after:<stage>:<dir>`
//! fills the disk holding `<dir>` there. `DYNASHIFT_CLOCK_OFFSET` and `DYNASHIFT_LEASE_TTL_MS`
//! skew the clock and shorten the lease for the lease tests.

use super::events::{EmitHook, EventKind, Stage};

/// The environment variable naming the fault.
pub const FAULT_ENV: &str = "DYNASHIFT_FAULT";

/// What to do at a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Crash,
    Fail,
}

#[cfg(debug_assertions)]
fn configured() -> Option<String> {
    std::env::var(FAULT_ENV).ok().filter(|v| !v.is_empty())
}

#[cfg(not(debug_assertions))]
fn configured() -> Option<String> {
    None
}

/// The fault configured right after `stage` was journaled, if any. `fill-disk-after:<stage>:<dir>`
/// fills the disk holding `<dir>` there (a file `<dir>/dynashift-filler` written until ENOSPC) and
/// lets the run go on into its next writes; the test frees the space by deleting the file.
pub fn after_stage(stage: Stage) -> Option<Fault> {
    let fault = configured()?;
    if let Some(dir) = fault.strip_prefix(&format!("fill-disk-after:{stage}:")) {
        fill_disk(std::path::Path::new(dir));
        return None;
    }
    if fault == format!("crash-after:{stage}") {
        Some(Fault::Crash)
    } else if fault == format!("fail-after:{stage}") {
        Some(Fault::Fail)
    } else {
        None
    }
}

/// Writes `dir/dynashift-filler` until the disk is full, to the last byte.
fn fill_disk(dir: &std::path::Path) {
    use std::io::Write;
    eprintln!("dynashift: injected full disk under {} ({FAULT_ENV})", dir.display());
    let Ok(mut filler) =
        std::fs::OpenOptions::new().append(true).create(true).open(dir.join("dynashift-filler"))
    else {
        return;
    };
    while filler.write_all(&[0; 4096]).is_ok() {}
    while filler.write_all(&[0]).is_ok() {}
}

/// Whether to crash once load statement `index` (1-based) finished.
pub fn in_load(index: usize) -> bool {
    configured().is_some_and(|fault| fault == format!("crash-in-load:{index}"))
}

/// The hook the load's event sink carries so `crash-in-load:<n>` fires synchronously, as the
/// warehouse emits statement `n`'s end: the load cannot run on (and commit) past it.
pub fn crash_in_load_hook() -> EmitHook {
    std::sync::Arc::new(|kind: &EventKind| {
        if let EventKind::StatementFinished { index, .. } = kind
            && in_load(*index)
        {
            crash(&format!("load statement {index}"));
        }
    })
}

/// Whether to crash once export `index` (0-based) was requested, before its ARN is journaled.
pub fn after_export_request(index: usize) -> bool {
    configured().is_some_and(|fault| fault == format!("crash-after-request:{index}"))
}

/// Ends the process at once, the way a kill -9 or a power cut would: no destructors, no flush.
pub fn crash(point: &str) -> ! {
    eprintln!("dynashift: injected crash at {point} ({FAULT_ENV})");
    std::process::abort()
}

/// Shifts this process's wall clock (signed seconds, e.g. `-3600`), as on a host whose clock is
/// wrong: the lease tests show a live lease is never taken over whatever the clocks say.
pub const CLOCK_OFFSET_ENV: &str = "DYNASHIFT_CLOCK_OFFSET";

/// Shortens the lease period (milliseconds), so the lease tests see expiry in seconds.
pub const LEASE_TTL_ENV: &str = "DYNASHIFT_LEASE_TTL_MS";

#[cfg(debug_assertions)]
fn knob(name: &str) -> Option<i64> {
    std::env::var(name).ok().and_then(|value| value.trim().parse().ok())
}

#[cfg(not(debug_assertions))]
fn knob(_name: &str) -> Option<i64> {
    None
}

/// The configured wall-clock offset (zero in release builds).
pub fn clock_offset() -> chrono::Duration {
    knob(CLOCK_OFFSET_ENV).map_or(chrono::Duration::zero(), chrono::Duration::seconds)
}

/// The configured lease period, if a test shortened it (never in release builds).
pub fn lease_ttl() -> Option<std::time::Duration> {
    knob(LEASE_TTL_ENV).filter(|ms| *ms > 0).map(|ms| std::time::Duration::from_millis(ms as u64))
}
