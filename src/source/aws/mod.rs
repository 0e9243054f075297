//! `source = "aws"`: DynamoDB point-in-time exports, requested into the table's S3 store.
//!
//! Connecting resolves the table (DescribeTable: its ARN, and its key, which completes a table
//! that leaves `key` out of tables.toml and must match one that writes it) so a wrong name or key
//! stops dynashift before any run. Each plan reads the point-in-time recovery window
//! (DescribeContinuousBackups) and lets the window planner cut exports inside it. Exports are requested with the pipeline's ClientToken and polled with
//! DescribeExport; throttling, DynamoDB's export limit and the network are waited out with backoff.

mod describe;
mod destination;
mod errors;
#[cfg(test)]
mod fixtures;
mod pitr;
mod request;
mod table;
mod time;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Utc;

use super::windows::{WindowPolicy, plan_windows};
use super::{
    ExportDescription, ExportPlan, ExportSource, ExportSpec, ExportTarget, PlanRequest, SourceError,
};
use crate::aws::{AwsConnection, AwsFailure, RetryPolicy, retry_transient};
use crate::config::{KeyError, Mode, TableConfig};

pub use destination::Destination;
pub use errors::TableContext;
pub use table::{ResolvedTable, key_schema};

use errors::{Call, call_failed};
use request::ExportRequest;

/// Why an aws source could not be connected. A key that does not fit is a problem of tables.toml,
/// to be reported as such; the rest are DynamoDB's answers.
#[derive(Debug, thiserror::Error)]
pub enum AwsConnectError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// One DynamoDB table's exports.
#[derive(Debug)]
pub struct AwsSource {
    client: aws_sdk_dynamodb::Client,
    /// The table as configured, with the key DynamoDB names applied.
    table: Arc<TableConfig>,
    resolved: ResolvedTable,
    destination: Destination,
    context: TableContext,
    retry_policy: RetryPolicy,
    /// What this process asked each export for, by ARN: DescribeExport answers from stand-ins
    /// (moto) leave the export time and window out.
    requested: Mutex<HashMap<String, ExportSpec>>,
}

impl AwsSource {
    /// Resolves `table` through `connection` (credentials already checked), applies DynamoDB's
    /// key to it (see [`AwsSource::table`]) and checks that its store can receive exports.
    pub async fn connect(
        connection: &AwsConnection,
        table: Arc<TableConfig>,
    ) -> Result<AwsSource, AwsConnectError> {
        let destination = Destination::of(&table)?;
        let context = TableContext {
            table: table.name.clone(),
            region: connection.region().to_owned(),
            profile: connection.settings().profile.clone(),
        };
        let client = connection.dynamodb();
        let resolved = table::resolve(&client, &table, &context, RetryPolicy::EXPORT_API).await?;
        let table = Arc::new(table.with_described_key(&resolved.key)?);
        Ok(AwsSource {
            client,
            table,
            resolved,
            destination,
            context,
            retry_policy: RetryPolicy::EXPORT_API,
            requested: Mutex::new(HashMap::new()),
        })
    }

    /// How transient failures are retried (tests shorten it).
    pub fn with_backoff(mut self, backoff: impl Into<RetryPolicy>) -> AwsSource {
        self.retry_policy = backoff.into();
        self
    }

    /// The table with its key from DynamoDB: the configuration every consumer must use once
    /// connected, since tables.toml may leave the key out.
    pub fn table(&self) -> &Arc<TableConfig> {
        &self.table
    }

    pub fn resolved(&self) -> &ResolvedTable {
        &self.resolved
    }

    pub fn destination(&self) -> &Destination {
        &self.destination
    }

    fn remember(&self, export_arn: &str, spec: &ExportSpec) {
        let mut requested = self.requested.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        requested.insert(export_arn.to_owned(), spec.clone());
    }

    fn requested_spec(&self, export_arn: &str) -> Option<ExportSpec> {
        let requested = self.requested.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        requested.get(export_arn).cloned()
    }
}

#[async_trait]
impl ExportSource for AwsSource {
    fn describe(&self) -> String {
        format!("DynamoDB table {} in {}", self.table.name, self.context.region)
    }

    fn supports(&self, mode: Mode) -> bool {
        matches!(mode, Mode::Full | Mode::Incremental)
    }

    async fn plan(&self, request: PlanRequest) -> Result<ExportPlan, SourceError> {
        let reference = table::table_reference(&self.table);
        let range = pitr::restorable_range(&self.client, reference, &self.context, self.retry_policy).await?;
        plan_windows(&self.table.name, request, range, Utc::now(), &WindowPolicy::of(&self.table))
    }

    async fn start_export(
        &self,
        spec: &ExportSpec,
        target: &ExportTarget,
        client_token: &str,
    ) -> Result<String, SourceError> {
        let request = ExportRequest {
            table_arn: &self.resolved.arn,
            destination: &self.destination,
            target,
            spec,
            client_token,
        };
        let output = retry_transient(self.retry_policy, "ExportTableToPointInTime", || async {
            request::build(&self.client, request).send().await.map_err(|e| AwsFailure::from_sdk(&e))
        })
        .await
        .map_err(|failure| call_failed(Call::ExportTableToPointInTime, &self.context, failure))?;
        let arn = output.export_description.and_then(|export| export.export_arn).ok_or_else(|| {
            SourceError::Other(format!(
                "ExportTableToPointInTime of `{}` answered without an export ARN",
                self.table.name
            ))
        })?;
        self.remember(&arn, spec);
        Ok(arn)
    }

    async fn describe_export(&self, export_arn: &str) -> Result<ExportDescription, SourceError> {
        let output = retry_transient(self.retry_policy, "DescribeExport", || async {
            self.client
                .describe_export()
                .export_arn(export_arn)
                .send()
                .await
                .map_err(|e| AwsFailure::from_sdk(&e))
        })
        .await
        .map_err(|failure| call_failed(Call::DescribeExport, &self.context, failure))?;
        let export = output.export_description.ok_or_else(|| {
            SourceError::Other(format!("DescribeExport of {export_arn} answered without a description"))
        })?;
        describe::description_of(&export, self.requested_spec(export_arn).as_ref(), &self.destination)
    }

    async fn table_item_count(&self) -> Result<Option<u64>, SourceError> {
        table::item_count(&self.client, &self.table, &self.context, self.retry_policy).await
    }
}
