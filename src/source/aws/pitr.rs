//! Point-in-time recovery: exports read the table's continuous backups, so PITR must be on, and
//! every export instant must lie between its earliest and latest restorable times.
//! DescribeContinuousBackups gives both; the window planner clamps the plan to them.

use aws_sdk_dynamodb::primitives::DateTime as AwsDateTime;
use aws_sdk_dynamodb::types::{ContinuousBackupsDescription, PointInTimeRecoveryStatus};

use super::errors::{Call, TableContext, call_failed, pitr_disabled};
use super::time::to_chrono;
use crate::aws::{AwsFailure, RetryPolicy, retry_transient};
use crate::source::SourceError;
use crate::source::windows::RestorableRange;

/// The instants the table can be exported at now; PITR off is an error with the command that
/// turns it on.
pub(super) async fn restorable_range(
    client: &aws_sdk_dynamodb::Client,
    table_reference: &str,
    context: &TableContext,
    policy: RetryPolicy,
) -> Result<RestorableRange, SourceError> {
    let output = retry_transient(policy, "DescribeContinuousBackups", || async {
        let request = client.describe_continuous_backups().table_name(table_reference);
        request.send().await.map_err(|e| AwsFailure::from_sdk(&e))
    })
    .await
    .map_err(|failure| call_failed(Call::DescribeContinuousBackups, context, failure))?;
    match output.continuous_backups_description {
        Some(description) => range_of(&description, context),
        None => Err(pitr_disabled(context)),
    }
}

fn range_of(
    description: &ContinuousBackupsDescription,
    context: &TableContext,
) -> Result<RestorableRange, SourceError> {
    let Some(pitr) = description.point_in_time_recovery_description() else {
        return Err(pitr_disabled(context));
    };
    if pitr.point_in_time_recovery_status() != Some(&PointInTimeRecoveryStatus::Enabled) {
        return Err(pitr_disabled(context));
    }
    let instant = |value: Option<&AwsDateTime>, what: &str| {
        value.and_then(to_chrono).ok_or_else(|| {
            SourceError::Other(format!(
                "DescribeContinuousBackups of `{}` says PITR is on but gives no {what} restorable time; run again \
                 in a few minutes (PITR may still be starting)",
                context.table
            ))
        })
    };
    Ok(RestorableRange {
        earliest: instant(pitr.earliest_restorable_date_time(), "earliest")?,
        latest: instant(pitr.latest_restorable_date_time(), "latest")?,
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::{ContinuousBackupsStatus, PointInTimeRecoveryDescription};
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::source::aws::time::to_aws;

    fn context() -> TableContext {
        TableContext { table: "orders".into(), region: "us-east-1".into(), profile: None }
    }

    fn description(pitr: Option<PointInTimeRecoveryDescription>) -> ContinuousBackupsDescription {
        ContinuousBackupsDescription::builder()
            .continuous_backups_status(ContinuousBackupsStatus::Enabled)
            .set_point_in_time_recovery_description(pitr)
            .build()
            .unwrap()
    }

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 14, h, m, 0).unwrap()
    }

    #[test]
    fn an_enabled_pitr_gives_its_restorable_range() {
        let pitr = PointInTimeRecoveryDescription::builder()
            .point_in_time_recovery_status(PointInTimeRecoveryStatus::Enabled)
            .earliest_restorable_date_time(to_aws(at(9, 0)))
            .latest_restorable_date_time(AwsDateTime::from_fractional_secs(at(10, 55).timestamp(), 0.25))
            .build();
        let range = range_of(&description(Some(pitr)), &context()).unwrap();
        assert_eq!(range.earliest, at(9, 0));
        assert_eq!(range.latest, at(10, 55) + chrono::Duration::milliseconds(250));
    }

    #[test]
    fn a_disabled_or_absent_pitr_asks_to_turn_it_on() {
        let disabled = PointInTimeRecoveryDescription::builder()
            .point_in_time_recovery_status(PointInTimeRecoveryStatus::Disabled)
            .build();
        for described in [description(Some(disabled)), description(None)] {
            let error = range_of(&described, &context()).unwrap_err().to_string();
            assert!(error.contains("aws dynamodb update-continuous-backups --table-name orders"), "{error}");
        }
    }

    #[test]
    fn an_enabled_pitr_without_times_is_reported() {
        let pitr = PointInTimeRecoveryDescription::builder()
            .point_in_time_recovery_status(PointInTimeRecoveryStatus::Enabled)
            .build();
        let error = range_of(&description(Some(pitr)), &context()).unwrap_err().to_string();
        assert!(error.contains("gives no earliest restorable time"), "{error}");
    }
}
