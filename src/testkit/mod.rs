//! The one test-support surface: table configs, staged-file writers, event readers and a store
//! that cancels a load at a chosen object. Unit tests in `src/` and the integration tests in
//! `tests/*.rs` use the same functions, so a fixture is written once.
//!
//! Why a plain `#[doc(hidden)] pub` module and not a `testkit` cargo feature: integration tests
//! link the library as built for `cargo test`, without `cfg(test)`. A feature would have to be
//! switched on for them, either by a dev-dependency of the crate on itself (a second build of the
//! whole crate in every CI run) or by `required-features` (which silently skips those tests when
//! the README's `cargo test` runs without `--features`). The code here is small, uses only normal
//! dependencies, and is never called by the binary, so the linker drops it.

pub mod behaviour;
mod events;
mod fixture;
pub mod history;
mod staged;
mod store;
mod tables;

/// COPY's text-format escapes, as the PostgreSQL warehouse writes them (the Data API stand-in
/// writes its COPY rows the same way).
pub use crate::warehouse::postgres::copy_text::escape_into as escape_copy_text;
pub use events::{
    assert_returned_statements_match_events, assert_statements_follow_the_plan, finished_statements,
    statements_of, submitted_label, warnings,
};
pub use fixture::WarehouseFixture;
pub use staged::{at, gzip, line, lz4, request_for, stage_files, write_staged_parts, write_staged_parts_as};
pub use store::CancelOnOpen;
pub use tables::{
    TableBuilder, column, customers_table, line_items_table, odd_names_delete, odd_names_table,
    odd_names_target, odd_names_upsert, orders_table, plain_target, table,
};
