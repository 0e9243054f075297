//! The process exit codes, shared by the binary, the headless front end and the wiring that
//! decides whether a startup problem is the user's configuration or the outside world.

/// Every run committed, was up to date, or was a dry run.
pub const EXIT_OK: u8 = 0;
/// A run failed; the last lines name the table, the stage, the cause and what to do.
pub const EXIT_RUN_FAILED: u8 = 1;
/// The command line or the configuration is wrong; nothing ran.
pub const EXIT_USAGE: u8 = 2;
/// Nothing failed, but a table was skipped because another run holds its lease: the normal
/// outcome of overlapping cron runs, which should not page anyone.
pub const EXIT_LOCKED: u8 = 3;
