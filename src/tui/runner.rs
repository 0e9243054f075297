//! Runs the state's [`Command`]s against the [`Engine`] without ever blocking the event loop:
//! starting a run only spawns it, loads run in spawned tasks, and every result comes back as an
//! [`Action`] on a channel.

use std::collections::{HashMap, VecDeque};

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::action::Action;
use super::app::App;
use super::command::{Command, StartRun};
use crate::pipeline::error::{RunFailure, error_chain};
use crate::pipeline::{Engine, RunOutcome};

/// How many past runs the history pane loads per table.
const HISTORY_LIMIT: usize = 50;

pub struct Runner {
    engine: Engine,
    /// Where background results go.
    messages: UnboundedSender<Action>,
    /// Cancellation tokens of the runs that have not ended.
    active: HashMap<String, CancellationToken>,
}

impl Runner {
    pub fn new(engine: Engine, messages: UnboundedSender<Action>) -> Runner {
        Runner { engine, messages, active: HashMap::new() }
    }

    /// Applies `action` and runs whatever it asks for, feeding immediate results back in.
    pub fn dispatch(&mut self, app: &mut App, action: Action) {
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
    pub fn is_idle(&self) -> bool {
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
            Command::Load { tables } => {
                self.spawn_load(tables);
                Vec::new()
            }
            Command::Quit => {
                self.active.values().for_each(CancellationToken::cancel);
                Vec::new()
            }
        }
    }

    fn start(&mut self, run: StartRun) -> Action {
        match self.engine.start(&run.table, run.request) {
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

    /// Loads status then history of each table; the history is always sent, so the state knows
    /// the load ended.
    fn spawn_load(&self, tables: Vec<String>) {
        let engine = self.engine.clone();
        let messages = self.messages.clone();
        tokio::spawn(async move {
            for table in tables {
                let status = engine.status(&table).await.map(Box::new).map_err(|e| error_chain(&e));
                let _ = messages.send(Action::StatusLoaded { table: table.clone(), result: status });
                let history = engine.history(&table, HISTORY_LIMIT).await.map_err(|e| error_chain(&e));
                let _ = messages.send(Action::HistoryLoaded { table, result: history });
            }
        });
    }
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
