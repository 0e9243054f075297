//! The columns of a history table (`history_target`): the table's key columns, then these.
//! Config refuses a key column named like one of them; every warehouse creates and checks them.

/// What the change did to the key: [`OP_INSERT`], [`OP_MODIFY`] or [`OP_REMOVE`].
pub const OP: &str = "op";
/// When DynamoDB wrote the change (its `WriteTimestampMicros`), as `timestamptz`.
pub const WRITTEN_AT: &str = "written_at";
/// The run whose load applied the change (its `run_id` in `dynashift_runs` and the journal).
pub const RUN_ID: &str = "run_id";
/// The item's new image (SUPER / jsonb / JSON text) over the target's columns; NULL for a remove.
pub const IMAGE: &str = "image";

/// The columns after the key, in table order.
pub const COLUMNS: [&str; 4] = [OP, WRITTEN_AT, RUN_ID, IMAGE];

/// A staged upsert whose key the target did not hold (live).
pub const OP_INSERT: &str = "insert";
/// A staged upsert whose key the target held (live).
pub const OP_MODIFY: &str = "modify";
/// A staged delete whose key the target held (live).
pub const OP_REMOVE: &str = "remove";
