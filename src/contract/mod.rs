//! What crosses the seams between the pipeline, its adapters and its front ends. This module is a
//! leaf: it imports nothing else of the crate (chrono and serde aside), so adapters and front
//! ends can depend on it without depending on the pipeline. `tests/architecture.rs` keeps it so.
//!
//! - [`events`]: the run events every front end renders;
//! - [`staged`]: the staged-file format between the stage and the load step;
//! - [`StatementRecord`]: a load's statement as it ran, returned by the load and journaled;
//! - the export spec, status and clock the events carry, the sync mode, and [`RunRequest`];
//! - [`RowPage`]: a page of a target's rows, read back for the console.
//! - [`pricing`]: AWS's export list prices and the run cost estimate events and journals carry.
//! - [`history`]: the fixed columns of a history table (`history_target`).

pub mod drift;
pub mod events;
pub mod exit;
mod export;
mod gap;
pub mod history;
mod key_type;
mod mode;
pub mod pricing;
mod rows;
mod run_request;
mod stage_rules;
pub mod staged;
mod statement;

pub use drift::{DriftCheck, DriftReport, TypeDrift, UnmappedAttribute};
pub use events::{EventKind, EventSink, RunEvent, RunOutcome, Stage, StageCounts, StatementStatus};
pub use export::{ExportDescription, ExportSpec, ExportStatus, PlanOptions, SourceClock};
pub use gap::AcceptedGap;
pub use key_type::ExpectedKeyType;
pub use mode::{Mode, ViewType};
pub use pricing::CostEstimate;
pub use rows::{PageRequest, PageStart, RowPage};
pub use run_request::RunRequest;
pub use stage_rules::StageRules;
pub use statement::StatementRecord;
