//! One statement of a load as a warehouse plans it. Each warehouse's plan builds its statements
//! from its own dialect and tells its executor, through `A`, what a statement's outcome means
//! (a row count to report, a COPY to feed, a guard to explain); the label and SQL are what the
//! dry run prints and the events carry, the same for every warehouse.

use super::{PlannedStatement, WarehouseError};
use crate::retry::RetryAccount;

/// A statement: what it does (for humans), its SQL, and how the executor treats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step<A> {
    pub label: String,
    pub sql: String,
    pub action: A,
}

impl<A> Step<A> {
    pub fn new(label: impl Into<String>, sql: impl Into<String>, action: A) -> Step<A> {
        Step { label: label.into(), sql: sql.into(), action }
    }

    pub fn planned(&self) -> PlannedStatement {
        PlannedStatement { label: self.label.clone(), sql: self.sql.clone() }
    }
}

/// Why a statement did not finish: cancelled (reported Aborted), or failed (reported Failed with
/// the warehouse's own message) — transiently when another attempt of the load may not meet the
/// failure. Each warehouse builds it from its own errors (`StepError::sqlite`, `::postgres`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    Cancelled,
    Failed(String),
    /// A failure that passes by itself (a lock held elsewhere, a dropped connection, a
    /// deadlock); `cause` says which.
    Transient {
        message: String,
        cause: String,
    },
}

impl StepError {
    /// Why another attempt may succeed; `None` for a permanent failure or a cancel.
    pub fn transient_cause(&self) -> Option<&str> {
        match self {
            StepError::Transient { cause, .. } => Some(cause),
            StepError::Failed(_) | StepError::Cancelled => None,
        }
    }

    /// This error with `account` (what was retried, for how long) added to its message.
    #[must_use]
    pub fn with_retry_account(self, account: &RetryAccount) -> StepError {
        self.map_message(|message| format!("{message} ({account})"))
    }

    /// Prefixes a failure's message with where it happened (a file and line).
    #[must_use]
    pub fn at(self, location: &str) -> StepError {
        self.map_message(|message| format!("{location}: {message}"))
    }

    fn map_message(self, change: impl FnOnce(String) -> String) -> StepError {
        match self {
            StepError::Failed(message) => StepError::Failed(change(message)),
            StepError::Transient { message, cause } => {
                StepError::Transient { message: change(message), cause }
            }
            StepError::Cancelled => StepError::Cancelled,
        }
    }

    /// The load's error when this stopped statement `index` (1-based) labelled `label`.
    pub fn at_statement(self, index: usize, label: String) -> WarehouseError {
        match self {
            StepError::Cancelled => WarehouseError::Cancelled,
            StepError::Failed(message) | StepError::Transient { message, .. } => {
                WarehouseError::Statement { index, label, message }
            }
        }
    }
}

/// The steps as the plan snapshots show them: numbered, labelled, each SQL ended by `;`.
#[cfg(test)]
pub fn render_steps<A>(steps: &[Step<A>]) -> String {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| format!("-- {}. {}\n{};\n", i + 1, s.label, s.sql))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Makes `request` what the stage step hands over for run `run_id`: a previous watermark two
/// hours back, two staged files of 60 rows, 100 upserts and 20 deletes.
#[cfg(test)]
pub fn stage_two_files(request: &mut crate::warehouse::LoadRequest, run_id: &str) {
    request.previous_watermark = Some(request.watermark - chrono::Duration::hours(2));
    for part in 0..2 {
        let key = format!("{}/staged/{run_id}/part-{part:05}.json.gz", request.table.name);
        request.staged.files.push(crate::contract::staged::StagedFile { key, rows: 60, bytes: 2048 });
    }
    (request.staged.upserts, request.staged.deletes) = (100, 20);
}

/// The plan tests every warehouse that plans into its own transaction shares (SQLite and
/// PostgreSQL): written once, expanded into each dialect's `plan::tests`, where `testkit`,
/// `steps`, `render`, `stage_two_files`, `Action`, `Mode` and `LoadRequest` are in scope. Each
/// keeps its own snapshots (named by the module it expands in).
#[cfg(test)]
macro_rules! shared_plan_tests {
    () => {
        /// A request as the stage step would hand it over: two files, some upserts and deletes.
        fn staged_request(table: crate::config::TableConfig, mode: Mode, run_id: &str) -> LoadRequest {
            let mut request = testkit::request_for(table, mode, run_id);
            stage_two_files(&mut request, run_id);
            request
        }

        /// The customers table with soft deletes.
        fn soft_customers() -> crate::config::TableConfig {
            crate::config::TableConfig { deletes: crate::config::Deletes::Soft, ..testkit::customers_table() }
        }

        #[test]
        fn full_replace() {
            let request = staged_request(testkit::customers_table(), Mode::Full, "run-8");
            insta::assert_snapshot!(render(&steps(&request)));
        }

        #[test]
        fn soft_deletes_incremental() {
            insta::assert_snapshot!(render(&steps(&staged_request(
                soft_customers(),
                Mode::Incremental,
                "run-10"
            ))));
        }

        /// `history_target` (soft deletes, a history table in its own schema): created if
        /// missing, its columns checked, the applied changes appended before the change.
        #[test]
        fn history_incremental() {
            let history = crate::config::TargetTable {
                schema: Some("audit".into()),
                table: "customers_history".into(),
            };
            let table = crate::config::TableConfig { history_target: Some(history), ..soft_customers() };
            insta::assert_snapshot!(render(&steps(&staged_request(table, Mode::Incremental, "run-12"))));
        }

        #[test]
        fn soft_deletes_full() {
            insta::assert_snapshot!(render(&steps(&staged_request(soft_customers(), Mode::Full, "run-11"))));
        }

        #[test]
        fn super_columns_and_the_whole_item_column() {
            let request = staged_request(testkit::orders_table(), Mode::Incremental, "run-9");
            insta::assert_snapshot!(render(&steps(&request)));
        }

        #[test]
        fn the_watermark_check_expects_the_previous_watermark_and_full_loads_skip_it() {
            let mut request = testkit::request_for(testkit::orders_table(), Mode::Incremental, "r");
            request.previous_watermark = Some(request.watermark - chrono::Duration::hours(1));
            let expected = Action::ExpectWatermark(request.previous_watermark);
            assert!(steps(&request).iter().any(|s| s.action == expected));
            request.mode = Mode::Full;
            assert!(!steps(&request).iter().any(|s| matches!(s.action, Action::ExpectWatermark(_))));
        }
    };
}
#[cfg(test)]
pub(crate) use shared_plan_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn transient(message: &str) -> StepError {
        StepError::Transient { message: message.into(), cause: "deadlock".into() }
    }

    #[test]
    fn locations_prefix_the_message_and_keep_the_kind() {
        assert_eq!(
            transient("boom").at("part-00001.json.gz line 3"),
            transient("part-00001.json.gz line 3: boom")
        );
        assert_eq!(StepError::Cancelled.at("x"), StepError::Cancelled);
        assert_eq!(transient("boom").transient_cause(), Some("deadlock"));
        assert_eq!(StepError::Failed("boom".into()).transient_cause(), None);
    }

    #[test]
    fn a_stop_becomes_the_statement_error_or_a_cancel() {
        let error = StepError::Failed("no such table".into()).at_statement(4, "merge".into());
        assert!(
            matches!(error, WarehouseError::Statement { index: 4, ref label, ref message } if label == "merge" && message == "no such table")
        );
        assert!(matches!(StepError::Cancelled.at_statement(1, "x".into()), WarehouseError::Cancelled));
    }
}
