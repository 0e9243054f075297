//! Test fixtures of the SQLite warehouse: hand-written staged files (gzip JSON Lines written
//! with flate2 into a `LocalStore`) and a warehouse in a temporary folder. The table configs and
//! staged lines every warehouse shares come from [`crate::testkit`].

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::{Mode, TableConfig};
use crate::contract::staged::{StagedCompression, StagedSet};
use crate::store::LocalStore;
use crate::warehouse::{LoadRequest, Warehouse};

pub(super) use crate::testkit::*;

use super::SqliteWarehouse;

/// A warehouse and a store in one temporary folder.
pub(super) struct Fixture {
    /// Owns the folder: dropping the fixture deletes it.
    _dir: tempfile::TempDir,
    pub store: Arc<LocalStore>,
    pub warehouse: SqliteWarehouse,
}

pub(super) use crate::testkit::behaviour::Outcome;

impl Fixture {
    pub(super) fn new() -> Fixture {
        Fixture::prepared(|_| {})
    }

    /// A fixture whose warehouse file `setup` wrote first (e.g. a table an older version left).
    pub(super) fn prepared(setup: impl FnOnce(&rusqlite::Connection)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(LocalStore::new(dir.path().join("bucket")));
        let path = dir.path().join("wh/warehouse.sqlite");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        setup(&rusqlite::Connection::open(&path).unwrap());
        let warehouse = SqliteWarehouse::open(&path).unwrap();
        Fixture { _dir: dir, store, warehouse }
    }

    /// Runs `sql` on the warehouse file through a connection of its own (arranging what a test
    /// needs beside the warehouse, such as a trigger).
    pub(super) fn execute(&self, sql: &str) {
        let path = self._dir.path().join("wh/warehouse.sqlite");
        rusqlite::Connection::open(path).unwrap().execute_batch(sql).unwrap();
    }

    /// The rows `sql` reads from the warehouse file, every value as SQLite text (NULL: `None`).
    pub(super) fn query_text(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let conn = rusqlite::Connection::open(self._dir.path().join("wh/warehouse.sqlite")).unwrap();
        let mut statement = conn.prepare(sql).unwrap();
        let width = statement.column_count();
        let rows = statement
            .query_map([], |row| (0..width).map(|i| row.get::<_, Option<String>>(i)).collect())
            .unwrap();
        rows.map(Result::unwrap).collect()
    }

    /// Writes `parts` (each a list of lines) as staged files, LZ4 as the stage writes them for
    /// SQLite, and describes them; the counts are taken from the lines' ops, as the stage step
    /// counts them. (The shared behaviour tests load gzip parts, as a set staged before LZ4.)
    pub(super) async fn stage(&self, table: &TableConfig, run_id: &str, parts: &[Vec<String>]) -> StagedSet {
        write_staged_parts_as(self.store.as_ref(), table, run_id, parts, StagedCompression::Lz4).await
    }

    pub(super) fn request(
        &self,
        table: &TableConfig,
        mode: Mode,
        run_id: &str,
        staged: StagedSet,
    ) -> LoadRequest {
        let mut request = request_for(table.clone(), mode, run_id);
        request.staged = staged;
        request.store = self.store.clone();
        request
    }

    pub(super) async fn load(&self, request: &LoadRequest) -> Outcome {
        self.load_with(request, &CancellationToken::new()).await
    }

    pub(super) async fn load_with(&self, request: &LoadRequest, cancel: &CancellationToken) -> Outcome {
        crate::testkit::behaviour::load_collecting(&self.warehouse, request, cancel).await
    }

    /// Stages `parts` and loads them, advancing the watermark one hour per run.
    pub(super) async fn sync(
        &self,
        table: &TableConfig,
        mode: Mode,
        run_id: &str,
        parts: &[Vec<String>],
    ) -> Outcome {
        let staged = self.stage(table, run_id, parts).await;
        let mut request = self.request(table, mode, run_id, staged);
        let previous = self.warehouse.last_commit(&table.name).await.unwrap().map(|c| c.watermark);
        request.previous_watermark = previous;
        request.watermark = previous.map_or(at("2024-05-01T00:00:00Z"), |w| w + chrono::Duration::hours(1));
        self.load(&request).await
    }

    /// The target's rows, ordered by key (empty when the table does not exist).
    pub(super) fn rows(&self, table: &TableConfig) -> Vec<Vec<rusqlite::types::Value>> {
        self.warehouse.query_rows(&table.target).unwrap().map(|t| t.rows).unwrap_or_default()
    }
}
