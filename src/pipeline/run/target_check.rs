//! Before anything is exported: the target must have every column tables.toml maps, unless this
//! run is a full sync that gives it them (builds it anew, or adds them). A column added to
//! tables.toml after the target was created would otherwise fail the load at its first
//! statement, after the export was paid for; the run stops first, names the columns and says how
//! to add them, and changes nothing.

use super::RunContext;
use crate::config::Mode;
use crate::pipeline::error::PipelineError;
use crate::warehouse::target_columns::missing_columns;

/// Fails when the load would keep a target that lacks columns the table maps.
pub(super) async fn check_target_columns(ctx: &RunContext) -> Result<(), PipelineError> {
    let full_adds = ctx.warehouse.full_load_adds_columns(&ctx.table);
    if ctx.request.mode == Mode::Full && full_adds {
        return Ok(());
    }
    let missing = missing_columns(ctx.warehouse.as_ref(), &ctx.table).await?;
    if missing.is_empty() {
        return Ok(());
    }
    Err(PipelineError::TargetColumns {
        table: ctx.table.name.clone(),
        target: ctx.table.target.to_string(),
        columns: missing.iter().map(|c| c.name.clone()).collect(),
        statements: missing.into_iter().map(|c| c.add).collect(),
        full_sync_adds: full_adds,
    })
}
