//! Pipeline errors: typed where callers branch, each with the stage it stopped at and a hint.

use super::events::Stage;
use crate::config::SourceConfig;
use crate::source::SourceError;
use crate::store::StoreError;
use crate::warehouse::WarehouseError;

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("no table named `{0}` in the configuration")]
    UnknownTable(String),
    #[error("`{table}` cannot run {}: {reason}", crate::human::with_article(&format!("{mode} sync")))]
    ModeNotSupported { table: String, mode: crate::config::Mode, reason: String },
    #[error("`{table}` is locked by {holder}")]
    Locked { table: String, holder: String },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    #[error("staging failed: {0}")]
    Stage(#[from] super::stage::StageError),
    #[error("the run was cancelled")]
    Cancelled,
    /// The export drifted from the table's columns and the table says `on_drift = "fail"`.
    #[error("schema drift in `{table}` (on_drift = \"fail\"): {summary}")]
    Drift { table: String, summary: String, first_entry: Option<String> },
    /// The target lacks columns tables.toml maps, and this run's load would keep it.
    #[error(
        "the target `{target}` of `{table}` lacks {} tables.toml maps: {} (added to tables.toml after the target was created?)",
        crate::human::counted(columns.len() as u64, "column"),
        columns.join(", ")
    )]
    TargetColumns {
        table: String,
        target: String,
        columns: Vec<String>,
        /// `ALTER TABLE … ADD COLUMN …`, one per column, in the warehouse's SQL.
        statements: Vec<String>,
        /// Whether a full sync gives the target these columns (SQLite and PostgreSQL with hard
        /// deletes build it anew; Redshift adds them).
        full_sync_adds: bool,
    },
    #[error("{0}")]
    Inconsistent(String),
}

impl PipelineError {
    /// What the user should do next.
    pub fn hint(&self) -> String {
        match self {
            PipelineError::UnknownTable(_) => {
                "check --table against the [[table]] names in tables.toml".into()
            }
            PipelineError::ModeNotSupported { .. } => "pick the other mode or another source".into(),
            PipelineError::Locked { .. } => {
                "wait for that run to finish; a lease left by a crashed run expires on its own".into()
            }
            PipelineError::Source(e) => e.hint(),
            PipelineError::Store(_) => {
                "check that the store is reachable and writable, then run again".into()
            }
            PipelineError::Warehouse(WarehouseError::Cancelled) | PipelineError::Cancelled => {
                "nothing was committed; run the sync again when ready".into()
            }
            PipelineError::Warehouse(_) => {
                "nothing was committed and the watermark did not move; fix the cause above and run again"
                    .into()
            }
            PipelineError::Stage(e) => e.hint(),
            PipelineError::Drift { first_entry, .. } => {
                let map = match first_entry {
                    Some(entry) => format!(" (e.g. add {entry} to its columns)"),
                    None => String::new(),
                };
                format!(
                    "nothing was loaded and the watermark did not move; map the new attributes{map}, fix the \
                     column types, or set on_drift = \"warn\" (or \"ignore\") for this table, then run again"
                )
            }
            PipelineError::TargetColumns { table, statements, full_sync_adds, .. } => {
                target_columns_hint(table, statements, *full_sync_adds)
            }
            PipelineError::Inconsistent(_) => "inspect the run journal under _state/runs/ and the log".into(),
        }
    }
}

/// What to do about a target that lacks columns: a full sync where it gives the target them,
/// else the statements that add them, then a full sync to fill them in the rows loaded before.
fn target_columns_hint(table: &str, statements: &[String], full_sync_adds: bool) -> String {
    let full = format!("dynashift --headless --table {table} --mode full");
    let add = statements.iter().map(|s| format!("{s};")).collect::<Vec<_>>().join(" ");
    if full_sync_adds {
        format!(
            "nothing was exported or loaded. Run a full sync, which gives the target these columns and fills them \
             in every row: {full}. Or add them by hand ({add}) and sync on: the rows loaded before hold NULL \
             there until a full sync"
        )
    } else {
        format!(
            "nothing was exported or loaded. Add them to the target ({add}), then run a full sync so the rows \
             loaded before get their values: {full}"
        )
    }
}

/// A failed run, as front ends show it: where it stopped, the whole cause chain, what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed at {stage}: {cause}")]
pub struct RunFailure {
    pub stage: Stage,
    pub cause: String,
    pub hint: String,
    /// The run never started because another run holds the table's lease (a normal event for
    /// overlapping cron runs, not a failure of the sync).
    pub lease_held: bool,
}

impl RunFailure {
    pub fn new(stage: Stage, error: &PipelineError) -> RunFailure {
        let lease_held = stage == Stage::Planned && matches!(error, PipelineError::Locked { .. });
        RunFailure { stage, cause: error_chain(error), hint: error.hint(), lease_held }
    }

    /// [`RunFailure::new`] for a run of a table reading `source`: the `exports` source never
    /// requests an export, so a damaged one must be replaced by the user, not re-requested.
    pub fn for_source(stage: Stage, error: &PipelineError, source: &SourceConfig) -> RunFailure {
        let mut failure = RunFailure::new(stage, error);
        if let (SourceConfig::Exports { .. }, PipelineError::Stage(stage_error)) = (source, error)
            && failure.hint.contains("request a new export")
        {
            failure.hint = format!(
                "nothing was loaded; the export files under the exports source's prefix are incomplete or \
                 damaged ({}): replace that export with a complete copy (this source never requests \
                 exports), then run again",
                stage_error_kind(stage_error)
            );
        }
        failure
    }
}

/// What is wrong with the export, in a word or two.
fn stage_error_kind(error: &super::stage::StageError) -> &'static str {
    use super::stage::StageError as E;
    match error {
        E::Md5Mismatch { .. } => "a checksum does not match",
        E::CountMismatch { .. } => "an item count does not match",
        E::MissingDataFile { .. } => "a data file is missing",
        E::CorruptGzip { .. } => "a data file is not readable gzip",
        _ => "a manifest or data line is not what DynamoDB writes",
    }
}

/// `error: cause: cause…`, without repeating a message a transparent wrapper already shows.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SourceConfig;
    use crate::pipeline::stage::StageError;

    #[test]
    fn a_target_lacking_columns_says_how_to_add_them_for_either_kind_of_full_sync() {
        let lacking = |full_sync_adds| PipelineError::TargetColumns {
            table: "customers".into(),
            target: "crm.customers".into(),
            columns: vec!["nickname".into(), "tier".into()],
            statements: vec!["ALTER TABLE a".into(), "ALTER TABLE b".into()],
            full_sync_adds,
        };
        let rebuilt = lacking(true);
        assert_eq!(
            rebuilt.to_string(),
            "the target `crm.customers` of `customers` lacks 2 columns tables.toml maps: nickname, tier (added to \
             tables.toml after the target was created?)"
        );
        let hint = rebuilt.hint();
        assert!(hint.starts_with("nothing was exported or loaded. Run a full sync"), "{hint}");
        assert!(hint.contains("dynashift --headless --table customers --mode full"), "{hint}");
        assert!(hint.contains("(ALTER TABLE a; ALTER TABLE b;)"), "{hint}");
        let kept = lacking(false).hint();
        assert!(
            kept.starts_with("nothing was exported or loaded. Add them to the target (ALTER TABLE a;"),
            "{kept}"
        );
        assert!(kept.ends_with("--mode full"), "{kept}");
    }

    fn damaged() -> PipelineError {
        PipelineError::Stage(StageError::Md5Mismatch {
            key: "k".into(),
            expected: "a".into(),
            actual: "b".into(),
        })
    }

    #[test]
    fn a_damaged_export_of_the_exports_source_is_to_be_replaced_not_requested() {
        let exports = SourceConfig::Exports { prefix: String::new() };
        let failure = RunFailure::for_source(Stage::Staging, &damaged(), &exports);
        assert!(!failure.hint.contains("request a new export"), "{}", failure.hint);
        assert!(
            failure.hint.contains("replace that export") && failure.hint.contains("checksum"),
            "{}",
            failure.hint
        );
        let demo = RunFailure::for_source(Stage::Staging, &damaged(), &SourceConfig::Demo);
        assert_eq!(demo, RunFailure::new(Stage::Staging, &damaged()));
    }
}
