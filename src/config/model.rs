//! The validated configuration. Every value here has passed validation; the raw, span-carrying
//! TOML shapes live in `raw.rs` and never leave the config module.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::contract::ExpectedKeyType;
pub use crate::contract::pricing::PriceOverrides;
pub use crate::contract::{Mode, ViewType};

use super::path::AttrPath;
use super::types::ColumnType;

/// A whole `tables.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file this came from (for messages), and the folder relative paths are resolved in.
    pub path: PathBuf,
    pub base_dir: PathBuf,
    pub aws: AwsSettings,
    /// Settings of the built-in demo source (used by tables whose source is `demo`).
    pub demo: DemoSettings,
    pub warehouse: WarehouseConfig,
    /// Lag colour thresholds for the console.
    pub lag: LagThresholds,
    /// Where the `tracing` log file goes while the console runs.
    pub log_file: PathBuf,
    /// How many tables `sync all` runs at once.
    pub max_concurrent_runs: usize,
    pub tables: Vec<TableConfig>,
    /// `[notify]`: the command run after runs, if configured.
    pub notify: Option<NotifyConfig>,
    /// `[metrics]`: the Prometheus file written after runs, if configured.
    pub metrics: Option<MetricsConfig>,
}

/// `[notify]`: a command run after each run, with the run's outcome as JSON on its stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyConfig {
    /// The program and its arguments, run without a shell. A program written with a `/` but
    /// not absolute is resolved against the config file's folder; a bare name is looked up in
    /// `PATH`.
    pub command: Vec<String>,
    /// Also run after a run that succeeded (failures always run it).
    pub on_success: bool,
    /// Also run after a successful run that left the table lagging past `lag_critical`.
    pub on_lag: bool,
    /// The command is killed once it ran this long.
    pub timeout: Duration,
}

/// `[metrics]`: a Prometheus text exposition file rewritten after each run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Absolute path of the `.prom` file.
    pub file: PathBuf,
}

impl Config {
    /// The table with this configured name.
    pub fn table(&self, name: &str) -> Option<&TableConfig> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// AWS client settings; `None` falls back to the SDK's default chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
}

/// The object store a table's exports, staged files and state live in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StoreLocation {
    /// `file://…`: a local folder standing in for a bucket (absolute, resolved against the
    /// config file's folder).
    Local { root: PathBuf },
    /// `s3://bucket/prefix/`.
    S3 { bucket: String, prefix: String },
}

impl std::fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Local { root } => write!(f, "file://{}", root.display()),
            StoreLocation::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// Settings of the simulated DynamoDB service behind `source = "demo"`.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSettings {
    /// Folder that holds the demo tables' write history (absolute).
    pub state_dir: PathBuf,
    /// Seed of the generated workload.
    pub seed: u64,
    /// Simulated seconds per real second while a dynashift process runs (0 = the clock moves only
    /// when told to, as tests do).
    pub speed: f64,
    /// Items each demo table starts with.
    pub initial_items: usize,
    /// Writes per simulated hour (inserts, updates and deletes).
    pub writes_per_hour: u32,
    /// Real time an export takes to complete.
    pub export_duration: Duration,
}

/// Which warehouse tables are loaded into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarehouseConfig {
    /// Embedded SQLite database file (absolute).
    Sqlite { path: PathBuf },
    /// A PostgreSQL 15+ database (self-hosted, Amazon RDS or Aurora).
    Postgres {
        /// `postgres://user@host:port/database[?options]`. Never holds a password: config files
        /// get committed and shown, so the password comes from the environment at connect time.
        url: String,
        /// The environment variable holding the password; `None` falls back to `PGPASSWORD`
        /// (and to no password when that is unset too, e.g. trust or certificate auth).
        password_env: Option<String>,
        tls: PostgresTls,
        /// Extra CA certificates (PEM) trusted beside the system's, e.g. the RDS CA bundle
        /// (absolute). Only with `tls = "require"`.
        ca_file: Option<PathBuf>,
    },
    /// Amazon Redshift (Serverless or provisioned), through the Redshift Data API.
    Redshift(RedshiftConfig),
}

impl WarehouseConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            WarehouseConfig::Sqlite { .. } => "sqlite",
            WarehouseConfig::Postgres { .. } => "postgres",
            WarehouseConfig::Redshift(_) => "redshift",
        }
    }
}

/// How dynashift reaches a Redshift database through the Data API, and how COPY reads S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedshiftConfig {
    pub connection: RedshiftConnection,
    pub database: String,
    /// The role COPY assumes to read the staged files: an IAM role ARN, or `default` (the
    /// cluster's or namespace's default role). Never access keys: no credential enters SQL.
    pub iam_role: String,
    /// COPY's `REGION`, when the bucket is in another Region than the warehouse.
    pub copy_region: Option<String>,
    /// The Data API client's settings (region, profile, endpoint), falling back to `[defaults]`
    /// for region and profile. The endpoint never falls back: a stand-in for S3 is not one for
    /// the Data API.
    pub client: AwsSettings,
}

/// Who the Data API connects as (the three ways the Data API authenticates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedshiftConnection {
    /// Redshift Serverless: the caller's IAM identity (`redshift-serverless:GetCredentials`).
    Workgroup { name: String },
    /// A provisioned cluster with temporary credentials, as `db_user`
    /// (`redshift:GetClusterCredentials`), or as the IAM identity when `db_user` is `None`
    /// (`redshift:GetClusterCredentialsWithIAM`).
    Cluster { id: String, db_user: Option<String> },
    /// A Secrets Manager secret holding the database user and password, for a cluster or a
    /// workgroup. Only the ARN is configured; the secret's value never passes through dynashift.
    Secret { arn: String, cluster_id: Option<String>, workgroup: Option<String> },
}

impl RedshiftConnection {
    /// For humans: "workgroup analytics", "cluster main as loader", "cluster main via secret".
    pub fn describe(&self) -> String {
        match self {
            RedshiftConnection::Workgroup { name } => format!("workgroup {name}"),
            RedshiftConnection::Cluster { id, db_user: Some(user) } => format!("cluster {id} as {user}"),
            RedshiftConnection::Cluster { id, db_user: None } => format!("cluster {id} as the IAM identity"),
            RedshiftConnection::Secret { cluster_id: Some(id), .. } => format!("cluster {id} via a secret"),
            RedshiftConnection::Secret { workgroup: Some(name), .. } => {
                format!("workgroup {name} via a secret")
            }
            RedshiftConnection::Secret { .. } => "via a secret".to_owned(),
        }
    }
}

/// Whether the PostgreSQL connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostgresTls {
    /// Plain TCP: loopback, a private network, or a TLS-terminating proxy.
    Disable,
    /// TLS with the server certificate and host name verified (the default).
    Require,
}

/// Lag above `warn` is shown in yellow, above `critical` in red.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LagThresholds {
    pub warn: Duration,
    pub critical: Duration,
}

/// How a full sync loads its export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FullLoad {
    /// dynashift reads the export, maps and coerces every item, and writes staged files the
    /// warehouse loads (every warehouse; values converted by dynashift's own rules).
    #[default]
    Staged,
    /// Redshift's COPY reads the export's data files itself, through jsonpaths over `$.Item`, so
    /// no data passes through dynashift: for very large tables. Redshift only; incremental syncs
    /// follow [`IncrementalLoad`].
    Pushdown,
}

impl FullLoad {
    pub fn as_str(self) -> &'static str {
        match self {
            FullLoad::Staged => "staged",
            FullLoad::Pushdown => "pushdown",
        }
    }
}

/// How an incremental sync loads its exports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncrementalLoad {
    /// dynashift reads every change line, folds the windows by key (newest write wins) and
    /// writes staged files the warehouse merges (every warehouse).
    #[default]
    Staged,
    /// Redshift's COPY reads the incremental exports' own data files into a stage table
    /// (keys, write time and the new image, through jsonpaths), and the fold by key happens in
    /// SQL, so no change passes through dynashift. Redshift only; the same coercion limits as
    /// `full_load = "pushdown"`.
    Pushdown,
}

/// What a load does with a deleted item's row (`deletes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deletes {
    /// The row is deleted; a full sync drops rows missing from the export.
    #[default]
    Hard,
    /// The row stays, `dynashift_deleted_at` set to the delete's write time (a full sync: the
    /// export time for rows missing from it); a later insert of the key clears it.
    Soft,
}

/// Where a table's exports come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceConfig {
    /// The built-in simulated DynamoDB table named like the table.
    Demo,
    /// Exports that already exist in the store under `prefix` (AWS layout), applied in order.
    Exports { prefix: String },
    /// DynamoDB point-in-time exports, requested into the table's `s3://` bucket.
    Aws(AwsExportSettings),
}

impl SourceConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            SourceConfig::Demo => "demo",
            SourceConfig::Exports { .. } => "exports",
            SourceConfig::Aws(_) => "aws",
        }
    }
}

/// How a `source = "aws"` table reaches DynamoDB and asks it to write exports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsExportSettings {
    /// The table's client settings: its own region/profile/endpoint_url over `[defaults]`'.
    pub client: AwsSettings,
    /// `S3BucketOwner`: the 12-digit account id owning the bucket, when it is another account's.
    pub bucket_owner: Option<String>,
    /// Server-side encryption DynamoDB applies to the export's objects (bucket default when `None`).
    pub sse: Option<ExportEncryption>,
    /// `Some` while the table's key is still to come from DescribeTable (tables.toml leaves `key`
    /// out); connecting completes the table with [`TableConfig::with_described_key`] and clears it.
    pub key_from_table: Option<KeyFromTable>,
}

/// What tables.toml says about a table whose `key` it leaves out, beyond what the
/// [`TableConfig`] holds: the key rules need it once DescribeTable names the key. Until then the
/// table's `key` is empty and none of its columns is a key column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFromTable {
    /// Whether the table lists `columns`. Without them each key attribute becomes a column named
    /// like it; with them each key attribute must be mapped by one.
    pub columns_written: bool,
    /// Columns whose `type` is left out. They are `super` for now; one that turns out to read a
    /// key attribute gets the key column type instead, as when the key is written.
    pub untyped_columns: Vec<String>,
}

/// `S3SseAlgorithm` (+ `S3SseKmsKeyId`) of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportEncryption {
    /// SSE-S3.
    Aes256,
    /// SSE-KMS, with the account's AWS-managed key when `key_id` is `None`.
    Kms { key_id: Option<String> },
}

/// A warehouse table name, `schema.table` or `table`; both parts valid, unquoted identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetTable {
    pub schema: Option<String>,
    pub table: String,
}

impl std::fmt::Display for TargetTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.table),
            None => f.write_str(&self.table),
        }
    }
}

/// One target column: which attribute feeds it and as what type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub name: String,
    pub path: AttrPath,
    pub ty: ColumnType,
    /// Part of the primary key (its path is a key attribute).
    pub is_key: bool,
}

/// What happens to attributes no column maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnmappedPolicy {
    /// Ignore them.
    Drop,
    /// Keep the whole item as JSON in this (SUPER/JSON) column.
    KeepItem { column: String },
}

/// What happens when a value does not fit its column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeErrorPolicy {
    /// Fail the run, naming key, attribute path and value.
    Fail,
    /// Load NULL instead and count it.
    Null,
}

/// What a run does when the export holds attributes no column maps, or mapped attributes of an
/// unexpected DynamoDB type (schema drift, see `docs/drift.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DriftPolicy {
    /// Record the drift in the run journal only: no event, no summary line.
    Ignore,
    /// Report it (event, summary, status, console) and load as usual.
    #[default]
    Warn,
    /// Fail the run before the load: nothing loaded, the watermark stays where it was.
    Fail,
}

/// One configured table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableConfig {
    /// DynamoDB table name; also the table's name in dynashift (`--table`, state prefix).
    pub name: String,
    /// The table ARN, when given instead of / beside the name.
    pub arn: Option<String>,
    pub source: SourceConfig,
    pub store: StoreLocation,
    pub target: TargetTable,
    /// What a plain sync does.
    pub mode: Mode,
    /// Key attribute names: partition key, then sort key.
    pub key: Vec<String>,
    pub columns: Vec<ColumnSpec>,
    pub unmapped: UnmappedPolicy,
    pub on_type_error: TypeErrorPolicy,
    /// What schema drift does to a run (`on_drift`).
    pub on_drift: DriftPolicy,
    pub view_type: ViewType,
    /// How far behind "now" incremental windows end (PITR trails real time).
    pub safety_lag: Duration,
    /// Longest single incremental export window (AWS maximum: 24 h).
    pub max_window: Duration,
    /// Target uncompressed size of one staged file.
    pub staged_file_bytes: u64,
    /// Memory an incremental stage may give its fold by key before it spills to partitions on
    /// disk (`stage_memory_mb`); tests set it in bytes to force a spill.
    pub stage_memory_bytes: u64,
    /// How a full sync loads.
    pub full_load: FullLoad,
    /// How an incremental sync loads.
    pub incremental_load: IncrementalLoad,
    /// How often `--watch` and the console sync the table; `None`: only when asked.
    pub every: Option<Duration>,
    /// Hard or soft deletes (`deletes`).
    pub deletes: Deletes,
    /// The table every applied change is appended to (`history_target`); `None`: no history.
    pub history_target: Option<TargetTable>,
    /// The DynamoDB type each key attribute must have, parallel to `key`: from DescribeTable when
    /// the table was described, else from the key column's written type; `None` (or an empty
    /// list) where nothing is known, and staging then only checks lines agree with each other.
    pub key_types: Vec<Option<ExpectedKeyType>>,
    /// Export prices over the list price, and the item count check (docs/cost.md).
    pub accounting: ExportAccounting,
}

/// What a table's exports cost and how their item count is checked: `export_price_full_per_gb`,
/// `export_price_incremental_per_gb` and `item_count_check`, per table or in `[defaults]`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExportAccounting {
    /// Prices that win over the list price of the table's region.
    pub prices: PriceOverrides,
    /// After a full export, warn when its item count is far from DescribeTable's `ItemCount`.
    pub item_count_check: bool,
}

impl TableConfig {
    /// The key columns, in key-schema order.
    pub fn key_columns(&self) -> Vec<&ColumnSpec> {
        self.key
            .iter()
            .filter_map(|attr| {
                self.columns.iter().find(|c| c.is_key && c.path.as_single() == Some(attr.as_str()))
            })
            .collect()
    }

    /// The prefix under which this table's state, exports and staged files live in the store.
    pub fn state_prefix(&self) -> String {
        format!("{}/", self.name)
    }
}
