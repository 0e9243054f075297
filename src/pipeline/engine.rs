//! The front ends' handle on the pipeline: start runs, cancel them, read table state. Every run
//! reports on one shared event channel.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::error::{PipelineError, RunFailure};
use super::events::{EventSink, RunEvent, RunOutcome};
use super::journal::RunJournal;
use super::lock::LeaseHolder;
use super::run;
// Defined with the run, which reads it, so that the engine depends on the run and not back.
use crate::config::{Config, Mode, TableConfig};
use crate::contract::{PageRequest, PlanOptions, RowPage, RunRequest, SourceClock};
use crate::source::ExportSource;
use crate::store::ObjectStore;
use crate::warehouse::Warehouse;

/// The adapters one table uses.
#[derive(Clone)]
pub struct TableAdapters {
    pub source: Arc<dyn ExportSource>,
    pub store: Arc<dyn ObjectStore>,
}

/// Every adapter the configuration names, built by `wiring::connect`.
#[derive(Clone)]
pub struct Adapters {
    pub warehouse: Arc<dyn Warehouse>,
    pub tables: HashMap<String, TableAdapters>,
}

/// A started run.
pub struct RunHandle {
    pub run_id: String,
    pub table: String,
    /// Cancels the run (and its remote export poll / statement where possible).
    pub cancel: CancellationToken,
    pub join: JoinHandle<Result<RunOutcome, RunFailure>>,
}

/// What the console shows of a table between runs.
#[derive(Debug, Clone, PartialEq)]
pub struct TableStatus {
    /// The committed watermark (from the warehouse, the source of truth).
    pub watermark: Option<DateTime<Utc>>,
    /// The newest run journal.
    pub last_run: Option<RunJournal>,
    /// The source's clock when it is not the wall clock, to measure lag against.
    pub source_clock: Option<SourceClock>,
}

/// A run that ended, as told to a [`RunObserver`].
#[derive(Debug, Clone, Copy)]
pub struct EndedRun<'a> {
    pub table: &'a str,
    pub run_id: &'a str,
    pub mode: Mode,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub result: &'a Result<RunOutcome, RunFailure>,
}

/// Told of the end of every run that was not a dry run (`[notify]`, `[metrics]`), after the
/// run's last event and before its join handle resolves — so a headless process never exits
/// before its observer is done. It runs outside the run's concurrency slot.
#[async_trait::async_trait]
pub trait RunObserver: Send + Sync {
    async fn run_ended(&self, engine: &Engine, run: EndedRun<'_>);
}

struct EngineInner {
    config: Arc<Config>,
    adapters: Adapters,
    events: mpsc::UnboundedSender<RunEvent>,
    /// Bounds how many runs go at once (`max_concurrent_runs`).
    permits: Arc<Semaphore>,
    observer: Option<Arc<dyn RunObserver>>,
}

/// Cheap to clone; all clones share the event channel.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

impl Engine {
    /// An engine over `adapters`, and the receiving end of its event stream.
    pub fn new(config: Arc<Config>, adapters: Adapters) -> (Engine, mpsc::UnboundedReceiver<RunEvent>) {
        Engine::observed(config, adapters, None)
    }

    /// [`Engine::new`], telling `observer` of every run's end.
    pub fn observed(
        config: Arc<Config>,
        adapters: Adapters,
        observer: Option<Arc<dyn RunObserver>>,
    ) -> (Engine, mpsc::UnboundedReceiver<RunEvent>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let permits = Arc::new(Semaphore::new(config.max_concurrent_runs.max(1)));
        let inner = EngineInner { config, adapters, events: tx, permits, observer };
        (Engine { inner: Arc::new(inner) }, rx)
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.inner.config
    }

    pub fn adapters(&self) -> &Adapters {
        &self.inner.adapters
    }

    /// Starts a run of `table` in the background. It waits for a free slot when
    /// `max_concurrent_runs` are already going.
    pub fn start(&self, table: &str, request: RunRequest) -> Result<RunHandle, PipelineError> {
        self.start_with(table, request, PlanOptions::default())
    }

    /// [`Engine::start`] with what the user allowed beyond the safe default (`--accept-gap`,
    /// `--force`; headless only).
    pub fn start_with(
        &self,
        table: &str,
        request: RunRequest,
        options: PlanOptions,
    ) -> Result<RunHandle, PipelineError> {
        let table_config = self
            .inner
            .config
            .table(table)
            .cloned()
            .ok_or_else(|| PipelineError::UnknownTable(table.to_owned()))?;
        let adapters = self
            .inner
            .adapters
            .tables
            .get(table)
            .cloned()
            .ok_or_else(|| PipelineError::UnknownTable(table.to_owned()))?;
        let run_id = new_run_id();
        let cancel = CancellationToken::new();
        let sink = EventSink::new(run_id.clone(), table, self.inner.events.clone());
        let context = run::RunContext {
            run_id: run_id.clone(),
            table: Arc::new(table_config),
            source: adapters.source,
            store: adapters.store,
            warehouse: self.inner.adapters.warehouse.clone(),
            request,
            options,
            events: sink,
            cancel: cancel.clone(),
        };
        let permits = self.inner.permits.clone();
        let engine = self.clone();
        let (table_name, id) = (table.to_owned(), run_id.clone());
        let join = tokio::spawn(async move {
            let (started_at, result) = {
                let _permit = permits.acquire_owned().await.expect("the semaphore is never closed");
                (Utc::now(), run::execute(context).await)
            };
            if let Some(observer) = engine.inner.observer.as_ref().filter(|_| !request.dry_run) {
                let ended = EndedRun {
                    table: &table_name,
                    run_id: &id,
                    mode: request.mode,
                    started_at,
                    finished_at: Utc::now(),
                    result: &result,
                };
                observer.run_ended(&engine, ended).await;
            }
            result
        });
        Ok(RunHandle { run_id, table: table.to_owned(), cancel, join })
    }

    /// The committed watermark and the newest run of a table.
    pub async fn status(&self, table: &str) -> Result<TableStatus, PipelineError> {
        let (table_config, adapters) = self.table_parts(table)?;
        let watermark = self.inner.adapters.warehouse.last_commit(table).await?.map(|c| c.watermark);
        let last_run = RunJournal::list(table_config, adapters.store.as_ref()).await?.into_iter().next();
        let source_clock = adapters.source.clock().await?;
        Ok(TableStatus { watermark, last_run, source_clock })
    }

    /// Past runs of a table, newest first, at most `limit`.
    pub async fn history(&self, table: &str, limit: usize) -> Result<Vec<RunJournal>, PipelineError> {
        let (table_config, adapters) = self.table_parts(table)?;
        let mut runs = RunJournal::list(table_config, adapters.store.as_ref()).await?;
        runs.truncate(limit);
        Ok(runs)
    }

    /// The committed watermark of a table alone: one warehouse read, for watching a table
    /// another process may sync.
    pub async fn watermark(&self, table: &str) -> Result<Option<DateTime<Utc>>, PipelineError> {
        self.inner.config.table(table).ok_or_else(|| PipelineError::UnknownTable(table.to_owned()))?;
        Ok(self.inner.adapters.warehouse.last_commit(table).await?.map(|c| c.watermark))
    }

    /// One page of a table's target rows in key order, for people to look at (the console's
    /// rows view): one plain read through the warehouse, outside every run and its locks.
    /// `None` when the target does not exist yet.
    pub async fn rows(&self, table: &str, request: PageRequest) -> Result<Option<RowPage>, PipelineError> {
        let (config, _) = self.table_parts(table)?;
        Ok(self.inner.adapters.warehouse.preview(config, &request).await?)
    }

    /// A configured table's settings and adapters.
    fn table_parts(&self, table: &str) -> Result<(&TableConfig, &TableAdapters), PipelineError> {
        let unknown = || PipelineError::UnknownTable(table.to_owned());
        let config = self.inner.config.table(table).ok_or_else(unknown)?;
        let adapters = self.inner.adapters.tables.get(table).ok_or_else(unknown)?;
        Ok((config, adapters))
    }

    /// Who holds the table's lease now, if anyone live does (see [`super::lock::live_holder`]).
    pub async fn lease_holder(&self, table: &str) -> Result<Option<LeaseHolder>, PipelineError> {
        let (table_config, adapters) = self.table_parts(table)?;
        super::lock::live_holder(adapters.store.as_ref(), table_config).await
    }
}

/// `20261124T183000Z-1a2b3c`: sorts by start time, unique across hosts in practice.
fn new_run_id() -> String {
    use rand::Rng;
    let suffix: u32 = rand::rng().random_range(0..0x100_0000);
    format!("{}-{suffix:06x}", Utc::now().format("%Y%m%dT%H%M%SZ"))
}
