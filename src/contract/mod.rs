//! What crosses the seams between the pipeline, its adapters and its front ends. This module is a
//! leaf: it imports nothing else of the crate (chrono and serde aside), so adapters and front
//! ends can depend on it without depending on the pipeline.

pub mod exit;
mod gap;
mod key_type;
mod stage_rules;

pub use gap::AcceptedGap;
pub use key_type::ExpectedKeyType;
pub use stage_rules::StageRules;
