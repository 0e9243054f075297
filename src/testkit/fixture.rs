//! What every warehouse's test fixture does the same way: stage hand-written parts and load them
//! as the next run of a table. A fixture names its warehouse and its store; the rest is here, so
//! the PostgreSQL and Redshift fixtures (and any other) continue a table's history alike.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::behaviour::{Outcome, load_collecting};
use super::staged::{at, stage_files};
use crate::config::{Mode, TableConfig};
use crate::store::ObjectStore;
use crate::warehouse::{LoadRequest, Warehouse};

/// A warehouse under test and the store its loads read staged files from.
#[async_trait]
pub trait WarehouseFixture: Sync {
    fn warehouse(&self) -> &dyn Warehouse;

    /// Where staged files are written (and the warehouse's COPY reads them).
    fn store(&self) -> Arc<dyn ObjectStore>;

    /// Stages `parts` (with the COPY manifest and jsonpaths file, see [`stage_files`]) and builds
    /// the request continuing the table's history: from its committed watermark to one hour
    /// later, or from none to 2024-05-01 00:00 on the table's first load.
    async fn next_request(
        &self,
        table: &TableConfig,
        mode: Mode,
        run_id: &str,
        parts: &[Vec<String>],
    ) -> LoadRequest {
        let staged = stage_files(self.store().as_ref(), table, run_id, parts).await;
        let previous = self.warehouse().last_commit(&table.name).await.unwrap().map(|c| c.watermark);
        LoadRequest {
            run_id: run_id.into(),
            table: Arc::new(table.clone()),
            mode,
            staged,
            watermark: previous.map_or(at("2024-05-01T00:00:00Z"), |w| w + chrono::Duration::hours(1)),
            previous_watermark: previous,
            store: self.store(),
            accepted_gaps: Vec::new(),
        }
    }

    /// Stages `parts` and loads them as the table's next run (see [`Self::next_request`]).
    async fn sync(&self, table: &TableConfig, mode: Mode, run_id: &str, parts: &[Vec<String>]) -> Outcome {
        let request = self.next_request(table, mode, run_id, parts).await;
        load_collecting(self.warehouse(), &request, &CancellationToken::new()).await
    }
}
