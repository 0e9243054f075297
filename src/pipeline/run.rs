//! PLACEHOLDER
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::engine::RunRequest;
use super::error::RunFailure;
use super::events::{EventSink, RunOutcome, Stage};
use crate::config::TableConfig;
use crate::source::ExportSource;
use crate::store::ObjectStore;
use crate::warehouse::Warehouse;

pub struct RunContext {
    pub run_id: String,
    pub table: Arc<TableConfig>,
    pub source: Arc<dyn ExportSource>,
    pub store: Arc<dyn ObjectStore>,
    pub warehouse: Arc<dyn Warehouse>,
    pub request: RunRequest,
    pub events: EventSink,
    pub cancel: CancellationToken,
}

pub async fn execute(_ctx: RunContext) -> Result<RunOutcome, RunFailure> {
    Err(RunFailure { stage: Stage::Planned, cause: "placeholder".into(), hint: String::new() })
}
