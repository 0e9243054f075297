//! The values a key takes when `tables.toml` leaves it out — in one place, so the loader, the
//! shipped `tables.toml` comments and docs/configuration.md agree. Relative paths resolve against the
//! config file's folder, so the demo keeps all its state beside the config.

use std::time::Duration;

use super::model::{TypeErrorPolicy, ViewType};

pub(super) const STATE_DIR: &str = ".dynashift/demo";
pub(super) const SEED: u64 = 42;
pub(super) const SPEED: f64 = 600.0;
pub(super) const INITIAL_ITEMS: usize = 2000;
pub(super) const WRITES_PER_HOUR: u32 = 120;
pub(super) const EXPORT_SECONDS: f64 = 3.0;

pub(super) const WAREHOUSE_PATH: &str = ".dynashift/warehouse.sqlite";
pub(super) const BUCKET: &str = "file://.dynashift/bucket";

pub(super) const LAG_WARN: Duration = Duration::from_secs(2 * 3600);
pub(super) const LAG_CRITICAL: Duration = Duration::from_secs(24 * 3600);
pub(super) const LOG_FILE: &str = ".dynashift/dynashift.log";
pub(super) const MAX_CONCURRENT_RUNS: usize = 2;

/// PITR's latest restorable time trails real time by about five minutes.
pub(super) const SAFETY_LAG: Duration = Duration::from_secs(5 * 60);
/// The longest incremental export window AWS accepts.
pub(super) const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);
pub(super) const VIEW_TYPE: ViewType = ViewType::NewAndOldImages;
pub(super) const ON_TYPE_ERROR: TypeErrorPolicy = TypeErrorPolicy::Fail;
pub(super) const ITEM_COLUMN: &str = "item";
pub(super) const STAGED_FILE_MB: u64 = 64;
/// MiB a stage holds (an incremental fold, a full export's key check) before it spills: 5 M
/// changed keys fold in far less than 400 MiB peak when spilled, and most runs never reach it.
pub(super) const STAGE_MEMORY_MB: u64 = 256;

/// Type of a key column whose `type` is omitted: wide enough for any DynamoDB key value
/// (strings up to 2 KiB as UTF-8 bytes, numbers, base64 binaries).
pub(super) const KEY_COLUMN_TYPE: super::types::ColumnType = super::types::ColumnType::Varchar(4096);
/// Type of any other column whose `type` is omitted: holds any value as JSON.
pub(super) const COLUMN_TYPE: super::types::ColumnType = super::types::ColumnType::Super;
