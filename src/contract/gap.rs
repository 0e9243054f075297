//! A gap between exports that the user chose to apply anyway (`--accept-gap`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Changes in `[from, to)` are in no export of the chain being applied; the run applies the
/// chain knowingly, and the gap is recorded with its commit so it can be found later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedGap {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl AcceptedGap {
    /// How long the gap is.
    pub fn duration(&self) -> chrono::Duration {
        self.to - self.from
    }
}

impl std::fmt::Display for AcceptedGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string();
        write!(f, "[{}, {})", t(&self.from), t(&self.to))
    }
}
