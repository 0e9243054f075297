//! Runs the state's [`Command`]s against the [`Engine`] without ever blocking the event loop:
//! connecting, starting a run, loads and watch reads all run in spawned tasks, and every result
//! comes back as an [`Action`] on a channel. Until connecting succeeds there is no engine; the
//! state asks for nothing that needs one meanwhile.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::action::Action;
use super::app::App;
use super::command::{Command, StartRun};
use super::connection::RetryNote;
use crate::config::Config;
use crate::contract::PageRequest;
use crate::pipeline::error::{RunFailure, error_chain};
use crate::pipeline::{Adapters, Engine, RunEvent, RunObserver, RunOutcome};
use crate::retry::{self, RetryObserver, Retrying};
// `wiring` is the composition root: the one module that builds the adapters from the config.
// The console reaches the adapters only through it (and the `Adapters` it returns), never by
// importing source/, warehouse/ or store/ itself (tests/architecture.rs checks that).
use crate::wiring::{self, ConnectError};

/// What connecting made: the configuration as connecting completed it, and the adapters.
pub(super) struct Connected {
    config: Config,
    adapters: Adapters,
}

pub(super) type ConnectResult = Result<Connected, ConnectError>;

/// Said of every command that needs the engine before there is one (the state never asks).
const NOT_CONNECTED: &str = "not connected yet";

/// How many past runs the history pane loads per table.
const HISTORY_LIMIT: usize = 50;

pub(super) struct Runner {
    /// The configuration as loaded; connecting completes a copy of it.
    config: Config,
    engine: Option<Engine>,
    /// Hears of every run's end, once the engine exists.
    observer: Option<Arc<dyn RunObserver>>,
    /// Where background results go.
    messages: UnboundedSender<Action>,
    /// Where a finished connection attempt goes.
    connections: UnboundedSender<ConnectResult>,
    /// Cancellation tokens of the runs that have not ended.
    active: HashMap<String, CancellationToken>,
}

impl Runner {
    pub(super) fn new(
        config: Config,
        observer: Option<Arc<dyn RunObserver>>,
        messages: UnboundedSender<Action>,
        connections: UnboundedSender<ConnectResult>,
    ) -> Runner {
        Runner { config, engine: None, observer, messages, connections, active: HashMap::new() }
    }

    /// Connects to the warehouse and AWS in the background; each retry is reported as an
    /// action, the result goes to the connections channel (see [`Runner::connection_ended`]).
    pub(super) fn connect(&self) {
        let mut config = self.config.clone();
        let messages = self.messages.clone();
        let connections = self.connections.clone();
        let observer: RetryObserver = Arc::new(move |retrying: &Retrying<'_>| {
            let _ = messages.send(Action::ConnectRetrying(Box::new(RetryNote::new(retrying))));
        });
        tokio::spawn(async move {
            let result = retry::observed(observer, wiring::connect(&mut config)).await;
            let _ = connections.send(result.map(|adapters| Connected { config, adapters }));
        });
    }

    /// A connection attempt ended: on success the engine is made and its event stream
    /// returned; either way the state is told.
    pub(super) fn connection_ended(
        &mut self,
        app: &mut App,
        result: ConnectResult,
    ) -> Option<UnboundedReceiver<RunEvent>> {
        match result {
            Ok(Connected { config, adapters }) => {
                let tables = config.tables.clone();
                let (engine, events) = Engine::observed(Arc::new(config), adapters, self.observer.clone());
                self.engine = Some(engine);
                self.dispatch(app, Action::Connected { tables });
                Some(events)
            }
            Err(err) => {
                tracing::error!(error = %err, "could not connect");
                self.dispatch(
                    app,
                    Action::ConnectFailed { message: err.to_string(), exit_code: err.exit_code() },
                );
                None
            }
        }
    }

    /// Applies `action` and runs whatever it asks for, feeding immediate results back in.
    pub(super) fn dispatch(&mut self, app: &mut App, action: Action) {
        if let Action::RunJoined { run_id, .. } = &action {
            self.active.remove(run_id);
        }
        let mut queue = VecDeque::from([action]);
        while let Some(action) = queue.pop_front() {
            if let Some(command) = app.update(action) {
                queue.extend(self.execute(command));
            }
        }
    }

    /// Whether every run started here has ended.
    pub(super) fn is_idle(&self) -> bool {
        self.active.is_empty()
    }

    fn execute(&mut self, command: Command) -> Vec<Action> {
        match command {
            Command::Start(runs) => runs.into_iter().map(|run| self.start(run)).collect(),
            Command::Cancel { run_id } => {
                if let Some(token) = self.active.get(&run_id) {
                    token.cancel();
                }
                Vec::new()
            }
            Command::Load { tables } => match &self.engine {
                Some(engine) => {
                    spawn_load(engine.clone(), self.messages.clone(), tables);
                    Vec::new()
                }
                None => tables
                    .into_iter()
                    .map(|table| Action::HistoryLoaded { table, result: Err(NOT_CONNECTED.into()) })
                    .collect(),
            },
            Command::ReadRows { table, request, page } => match &self.engine {
                Some(engine) => {
                    spawn_read_rows(engine.clone(), self.messages.clone(), table, request, page);
                    Vec::new()
                }
                None => vec![Action::RowsRead { table, request, result: Err(NOT_CONNECTED.into()) }],
            },
            Command::Connect => {
                self.connect();
                Vec::new()
            }
            Command::Peek { tables, watermarks } => match &self.engine {
                Some(engine) => {
                    spawn_peek(engine.clone(), self.messages.clone(), tables, watermarks);
                    Vec::new()
                }
                None => tables
                    .into_iter()
                    .map(|table| Action::Peeked { table, watermark: None, lease: Err(NOT_CONNECTED.into()) })
                    .collect(),
            },
            Command::Quit => {
                self.active.values().for_each(CancellationToken::cancel);
                Vec::new()
            }
        }
    }

    fn start(&mut self, run: StartRun) -> Action {
        let Some(engine) = &self.engine else {
            return Action::StartFailed { table: run.table, message: NOT_CONNECTED.into() };
        };
        match engine.start(&run.table, run.request) {
            Ok(handle) => {
                self.active.insert(handle.run_id.clone(), handle.cancel.clone());
                self.watch(run.table.clone(), handle.run_id.clone(), handle.join);
                Action::RunStarted { table: run.table, run_id: handle.run_id, dry_run: run.request.dry_run }
            }
            Err(err) => Action::StartFailed { table: run.table, message: format!("{err}; {}", err.hint()) },
        }
    }

    /// Reports when the run's task ends, and how it died if it never reported its own end.
    fn watch(&self, table: String, run_id: String, join: JoinHandle<Result<RunOutcome, RunFailure>>) {
        let messages = self.messages.clone();
        tokio::spawn(async move {
            let panic = match join.await {
                Ok(_) => None,
                Err(err) if err.is_panic() => Some(panic_message(err.into_panic())),
                Err(err) => Some(err.to_string()),
            };
            let _ = messages.send(Action::RunJoined { table, run_id, panic });
        });
    }
}

/// Loads status then history of each table; the history is always sent, so the state knows the
/// load ended.
fn spawn_load(engine: Engine, messages: UnboundedSender<Action>, tables: Vec<String>) {
    tokio::spawn(async move {
        for table in tables {
            let status = engine.status(&table).await.map(Box::new).map_err(|e| error_chain(&e));
            let _ = messages.send(Action::StatusLoaded { table: table.clone(), result: status });
            let history = engine.history(&table, HISTORY_LIMIT).await.map_err(|e| error_chain(&e));
            let _ = messages.send(Action::HistoryLoaded { table, result: history });
        }
    });
}

/// Reads one page of a table's rows; the result is always sent, so the view knows the read ended.
fn spawn_read_rows(
    engine: Engine,
    messages: UnboundedSender<Action>,
    table: String,
    request: u64,
    page: PageRequest,
) {
    tokio::spawn(async move {
        let result = engine.rows(&table, page).await.map_err(|e| error_chain(&e));
        let _ = messages.send(Action::RowsRead { table, request, result });
    });
}

/// Reads each table's lease (and watermark); one result per table is always sent, so the state
/// knows the read ended.
fn spawn_peek(engine: Engine, messages: UnboundedSender<Action>, tables: Vec<String>, watermarks: bool) {
    tokio::spawn(async move {
        for table in tables {
            let watermark = match watermarks {
                true => Some(engine.watermark(&table).await.map_err(|e| error_chain(&e))),
                false => None,
            };
            let lease = engine.lease_holder(&table).await.map_err(|e| error_chain(&e));
            let _ = messages.send(Action::Peeked { table, watermark, lease });
        }
    });
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_read_from_either_payload() {
        assert_eq!(panic_message(Box::new("boom")), "boom");
        assert_eq!(panic_message(Box::new(String::from("bang"))), "bang");
        assert_eq!(panic_message(Box::new(42)), "a panic without a message");
    }
}
