//! PLACEHOLDER (stage helper replaces this file).
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::events::{EventSink, StageCounts};
use super::staged::StagedSet;
use crate::config::TableConfig;
use crate::source::ExportDescription;
use crate::store::ObjectStore;

/// What the stage step works on.
pub struct StageInput {
    pub run_id: String,
    pub table: Arc<TableConfig>,
    /// Completed exports, oldest first.
    pub exports: Vec<ExportDescription>,
    pub store: Arc<dyn ObjectStore>,
    pub events: EventSink,
    pub cancel: CancellationToken,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StageError(pub String);

impl StageError {
    pub fn hint(&self) -> String {
        String::new()
    }
}

pub async fn stage(_input: StageInput) -> Result<(StagedSet, StageCounts), StageError> {
    Err(StageError("placeholder".into()))
}
