//! Fault injection for the crash-recovery tests: `DYNASHIFT_FAULT=<point>` makes a run crash
//! (abort the process, like SIGKILL or power loss) or fail at a chosen point. Only debug builds
//! read the variable; release builds compile it away, so production can never be told to crash.
//!
//! Points: `crash-after:<stage>` aborts right after the journal recorded `<stage>`;
//! `fail-after:<stage>` fails the run there instead; `crash-in-load:<n>` aborts once the load's
//! statement `n` finished, before the load commits; `crash-after-request:<n>` aborts once export
//! `n` (0-based) was requested, before its ARN is journaled.

use super::events::Stage;

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

/// The fault configured right after `stage` was journaled, if any.
pub fn after_stage(stage: Stage) -> Option<Fault> {
    let fault = configured()?;
    if fault == format!("crash-after:{stage}") {
        Some(Fault::Crash)
    } else if fault == format!("fail-after:{stage}") {
        Some(Fault::Fail)
    } else {
        None
    }
}

/// Whether to crash once load statement `index` (1-based) finished.
pub fn in_load(index: usize) -> bool {
    configured().is_some_and(|fault| fault == format!("crash-in-load:{index}"))
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
