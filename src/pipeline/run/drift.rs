//! What a run does with the drift its stage counted: the table's `on_drift` decides whether it
//! is reported (`warn`), only journaled (`ignore`), or fails the run before the load (`fail`).

use super::RunContext;
use crate::config::DriftPolicy;
use crate::contract::{DriftCheck, EventKind};
use crate::pipeline::error::PipelineError;

/// Reports `drift` as the table's `on_drift` says; under `fail`, drift is an error (the caller
/// has not loaded anything yet). A check that could not count (pushdown) is reported, never an
/// error: there is nothing to fail on.
pub(super) fn act_on_drift(ctx: &RunContext, drift: &DriftCheck) -> Result<(), PipelineError> {
    if ctx.table.on_drift == DriftPolicy::Ignore {
        return Ok(());
    }
    let report = match drift {
        DriftCheck::NotCounted { .. } => {
            ctx.events.emit(EventKind::Drift { check: drift.clone() });
            return Ok(());
        }
        DriftCheck::Counted { report } if report.is_empty() => return Ok(()),
        DriftCheck::Counted { report } => report,
    };
    ctx.events.emit(EventKind::Drift { check: drift.clone() });
    match ctx.table.on_drift {
        DriftPolicy::Ignore | DriftPolicy::Warn => Ok(()),
        DriftPolicy::Fail => Err(PipelineError::Drift {
            table: ctx.table.name.clone(),
            summary: report.summary(),
            first_entry: report.unmapped.first().map(|a| a.column_entry.clone()),
        }),
    }
}
