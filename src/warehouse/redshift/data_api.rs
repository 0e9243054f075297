//! The Redshift Data API calls the adapter makes, with the SDK's types kept inside: statements
//! go in as SQL text, and come back as [`BatchState`] (statuses, durations, rows, query ids,
//! errors) and rows of text values. Every call carries the configured connection (workgroup,
//! cluster and user, or secret) and is retried while the service throttles.

use std::time::Duration;

use aws_sdk_redshiftdata::Client;
use aws_sdk_redshiftdata::types::{Field, SqlParameter};
use base64::Engine;

use crate::aws::{AwsFailure, RetryPolicy, retry_transient};
use crate::config::RedshiftConnection;

/// Patience with a throttled or unreachable Data API: minutes, not seconds (the export API's),
/// since giving up mid-load leaves the batch running unobserved.
const PATIENCE: RetryPolicy = RetryPolicy::EXPORT_API;

/// Polling: quick at first (most statements take well under a second), then every 2 s.
pub(super) const FIRST_POLL: Duration = Duration::from_millis(150);
const MAX_POLL: Duration = Duration::from_secs(2);

/// Where a statement is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// SUBMITTED or PICKED: queued.
    Waiting,
    /// STARTED.
    Running,
    Finished,
    Failed,
    /// ABORTED: cancelled, or never run because an earlier statement of the batch failed.
    Aborted,
}

impl Phase {
    fn of(status: &str) -> Phase {
        match status {
            "STARTED" => Phase::Running,
            "FINISHED" => Phase::Finished,
            "FAILED" => Phase::Failed,
            "ABORTED" => Phase::Aborted,
            _ => Phase::Waiting,
        }
    }

    pub(super) fn is_terminal(self) -> bool {
        matches!(self, Phase::Finished | Phase::Failed | Phase::Aborted)
    }
}

/// One statement (or sub-statement) as DescribeStatement reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StatementState {
    pub phase: Phase,
    pub error: Option<String>,
    pub duration: Duration,
    /// Rows returned or affected; `None` when the statement has no count.
    pub rows: Option<i64>,
    /// Redshift's query id (joins SYS_LOAD_ERROR_DETAIL); `None` before it runs.
    pub query_id: Option<i64>,
}

/// A batch (or a single statement, with no subs) as DescribeStatement reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BatchState {
    pub overall: StatementState,
    pub subs: Vec<StatementState>,
}

/// A query's rows, each value as text (`None` for NULL).
pub(super) type Rows = Vec<Vec<Option<String>>>;

/// A Data API client bound to one database and one way of connecting.
#[derive(Debug, Clone)]
pub(super) struct DataApi {
    client: Client,
    connection: RedshiftConnection,
    database: String,
}

/// Applies the connection fields to any Execute/Batch builder (they share the setter names
/// but not a type).
macro_rules! connected {
    ($builder:expr, $api:expr) => {{
        let builder = $builder.database(&$api.database);
        match &$api.connection {
            RedshiftConnection::Workgroup { name } => builder.workgroup_name(name),
            RedshiftConnection::Cluster { id, db_user } => {
                builder.cluster_identifier(id).set_db_user(db_user.clone())
            }
            RedshiftConnection::Secret { arn, cluster_id, workgroup } => builder
                .secret_arn(arn)
                .set_cluster_identifier(cluster_id.clone())
                .set_workgroup_name(workgroup.clone()),
        }
    }};
}

impl DataApi {
    pub(super) fn new(client: Client, connection: RedshiftConnection, database: String) -> DataApi {
        DataApi { client, connection, database }
    }

    /// "redshift workgroup analytics, database dev".
    pub(super) fn describe(&self) -> String {
        format!("redshift {}, database {}", self.connection.describe(), self.database)
    }

    /// Submits one statement, its `:name` placeholders filled by `parameters`; returns its id.
    pub(super) async fn execute_with(
        &self,
        sql: &str,
        name: &str,
        parameters: &[SqlParameter],
    ) -> Result<String, AwsFailure> {
        let parameters = (!parameters.is_empty()).then(|| parameters.to_vec());
        retry_transient(PATIENCE, "ExecuteStatement", || async {
            let request = connected!(self.client.execute_statement(), self)
                .sql(sql)
                .statement_name(name)
                .set_parameters(parameters.clone());
            let output = request.send().await.map_err(|e| AwsFailure::from_sdk(&e))?;
            output.id.ok_or_else(|| missing("ExecuteStatement", "Id"))
        })
        .await
    }

    /// Submits `sqls` as one transaction; returns the batch's id. Retries carry the same
    /// `client_token`, so a submit whose answer was lost never starts a second batch.
    pub(super) async fn batch(
        &self,
        sqls: &[String],
        name: &str,
        client_token: &str,
    ) -> Result<String, AwsFailure> {
        retry_transient(PATIENCE, "BatchExecuteStatement", || async {
            let request = connected!(self.client.batch_execute_statement(), self)
                .set_sqls(Some(sqls.to_vec()))
                .statement_name(name)
                .client_token(client_token);
            let output = request.send().await.map_err(|e| AwsFailure::from_sdk(&e))?;
            output.id.ok_or_else(|| missing("BatchExecuteStatement", "Id"))
        })
        .await
    }

    pub(super) async fn describe_statement(&self, id: &str) -> Result<BatchState, AwsFailure> {
        let output = retry_transient(PATIENCE, "DescribeStatement", || async {
            self.client.describe_statement().id(id).send().await.map_err(|e| AwsFailure::from_sdk(&e))
        })
        .await?;
        let overall = StatementState {
            phase: Phase::of(output.status().map_or("", |s| s.as_str())),
            error: output.error().map(str::to_owned),
            duration: nanos(output.duration()),
            rows: count(output.result_rows()),
            query_id: query_id(output.redshift_query_id()),
        };
        let subs = output
            .sub_statements()
            .iter()
            .map(|sub| StatementState {
                phase: Phase::of(sub.status().map_or("", |s| s.as_str())),
                error: sub.error().map(str::to_owned),
                duration: nanos(sub.duration()),
                rows: count(sub.result_rows()),
                query_id: query_id(sub.redshift_query_id()),
            })
            .collect();
        Ok(BatchState { overall, subs })
    }

    /// Every row of a finished statement's result (`<batch id>:<n>` for a sub-statement).
    pub(super) async fn result(&self, id: &str) -> Result<Rows, AwsFailure> {
        Ok(self.result_table(id).await?.1)
    }

    /// [`DataApi::result`] with the result's column names (`ColumnMetadata`, on every page).
    pub(super) async fn result_table(&self, id: &str) -> Result<(Vec<String>, Rows), AwsFailure> {
        let mut columns = Vec::new();
        let mut rows = Rows::new();
        let mut next_token: Option<String> = None;
        loop {
            let token = next_token.clone();
            let page = retry_transient(PATIENCE, "GetStatementResult", || async {
                let request = self.client.get_statement_result().id(id).set_next_token(token.clone());
                request.send().await.map_err(|e| AwsFailure::from_sdk(&e))
            })
            .await?;
            if columns.is_empty() {
                columns =
                    page.column_metadata().iter().map(|c| c.name().unwrap_or_default().to_owned()).collect();
            }
            rows.extend(
                page.records().iter().map(|record| record.iter().map(field_text).collect::<Vec<_>>()),
            );
            next_token = page.next_token().filter(|t| !t.is_empty()).map(str::to_owned);
            if next_token.is_none() {
                return Ok((columns, rows));
            }
        }
    }

    /// Asks Redshift to stop a statement or batch; false when it had already ended.
    pub(super) async fn cancel(&self, id: &str) -> Result<bool, AwsFailure> {
        retry_transient(PATIENCE, "CancelStatement", || async {
            let output =
                self.client.cancel_statement().id(id).send().await.map_err(|e| AwsFailure::from_sdk(&e))?;
            Ok(output.status.unwrap_or(false))
        })
        .await
    }

    /// Runs one read-only statement to its end and returns its rows; a FAILED statement's
    /// error is the `Err` text.
    pub(super) async fn query(&self, sql: &str, name: &str) -> Result<Rows, QueryError> {
        Ok(self.query_table(sql, name, &[]).await?.1)
    }

    /// [`DataApi::query`] with `parameters` for its placeholders, returning the column names too.
    pub(super) async fn query_table(
        &self,
        sql: &str,
        name: &str,
        parameters: &[SqlParameter],
    ) -> Result<(Vec<String>, Rows), QueryError> {
        let id = self.execute_with(sql, name, parameters).await.map_err(QueryError::Call)?;
        let mut delay = FIRST_POLL;
        loop {
            tokio::time::sleep(delay).await;
            let state = self.describe_statement(&id).await.map_err(QueryError::Call)?.overall;
            match state.phase {
                Phase::Finished => return self.result_table(&id).await.map_err(QueryError::Call),
                Phase::Failed | Phase::Aborted => {
                    return Err(QueryError::Failed(
                        state.error.unwrap_or_else(|| "the statement was aborted".into()),
                    ));
                }
                Phase::Waiting | Phase::Running => delay = next_poll(delay),
            }
        }
    }
}

/// Why [`DataApi::query`] returned no rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum QueryError {
    /// A Data API call failed (no answer, access denied…).
    #[error("{}", .0.message)]
    Call(AwsFailure),
    /// The statement ran and failed: Redshift's error text.
    #[error("{0}")]
    Failed(String),
}

/// The next polling delay: ×1.5 up to [`MAX_POLL`].
pub(super) fn next_poll(delay: Duration) -> Duration {
    delay.mul_f64(1.5).min(MAX_POLL)
}

fn missing(operation: &str, field: &str) -> AwsFailure {
    AwsFailure {
        kind: crate::aws::FailureKind::Other,
        code: None,
        message: format!("{operation} answered without {field}"),
        status: None,
    }
}

fn nanos(duration: i64) -> Duration {
    Duration::from_nanos(u64::try_from(duration).unwrap_or(0))
}

/// -1 is the API's "no count".
fn count(rows: i64) -> Option<i64> {
    (rows >= 0).then_some(rows)
}

fn query_id(id: i64) -> Option<i64> {
    (id > 0).then_some(id)
}

fn field_text(field: &Field) -> Option<String> {
    match field {
        Field::IsNull(_) => None,
        Field::BooleanValue(b) => Some(b.to_string()),
        Field::LongValue(n) => Some(n.to_string()),
        Field::DoubleValue(x) => Some(x.to_string()),
        Field::StringValue(s) => Some(s.clone()),
        Field::BlobValue(blob) => Some(base64::engine::general_purpose::STANDARD.encode(blob.as_ref())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_phases() {
        assert_eq!(Phase::of("SUBMITTED"), Phase::Waiting);
        assert_eq!(Phase::of("PICKED"), Phase::Waiting);
        assert_eq!(Phase::of("STARTED"), Phase::Running);
        assert!(Phase::of("FINISHED").is_terminal() && Phase::of("FAILED").is_terminal());
        assert!(Phase::of("ABORTED").is_terminal() && !Phase::of("STARTED").is_terminal());
    }

    #[test]
    fn fields_become_text_and_null_none() {
        assert_eq!(field_text(&Field::IsNull(true)), None);
        assert_eq!(field_text(&Field::LongValue(42)).as_deref(), Some("42"));
        assert_eq!(field_text(&Field::BooleanValue(true)).as_deref(), Some("true"));
        assert_eq!(field_text(&Field::StringValue("12.50".into())).as_deref(), Some("12.50"));
    }

    #[test]
    fn no_count_and_no_query_id_are_none() {
        assert_eq!((count(-1), count(0), count(7)), (None, Some(0), Some(7)));
        assert_eq!((query_id(0), query_id(-1), query_id(9)), (None, None, Some(9)));
    }

    #[test]
    fn polling_slows_down_to_a_ceiling() {
        let mut delay = FIRST_POLL;
        for _ in 0..20 {
            delay = next_poll(delay);
        }
        assert_eq!(delay, MAX_POLL);
        assert!(next_poll(FIRST_POLL) > FIRST_POLL);
    }
}
