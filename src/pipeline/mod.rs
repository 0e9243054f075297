//! The sync pipeline: plan → export → stage → load → commit, as a state machine persisted in the
//! run journal. It knows the three adapter traits and nothing of terminals; front ends drive it
//! through [`Engine`] and render its [`events`].

mod cleanup;
pub mod engine;
pub mod error;
/// The run events live in the contract; re-exported under the old path the integration tests use.
pub use crate::contract::events;
pub mod export;
pub mod fault;
pub mod journal;
pub mod lock;
pub mod run;
pub mod stage;
pub mod staged;
pub mod state;

pub use crate::contract::RunRequest;
pub use engine::{Adapters, EndedRun, Engine, RunHandle, RunObserver, TableAdapters, TableStatus};
pub use error::{PipelineError, RunFailure};
pub use events::{EventKind, EventSink, RunEvent, RunOutcome, Stage};
pub use journal::RunJournal;
