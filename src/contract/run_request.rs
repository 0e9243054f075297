//! What a front end asks the pipeline to run.

use super::mode::Mode;

/// What to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunRequest {
    pub mode: Mode,
    /// Plan only: report windows, files and SQL, change nothing.
    pub dry_run: bool,
}
