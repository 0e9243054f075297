//! DynamoDB failures as [`SourceError`]s a user can act on: each names the table, the region and
//! the call, and says what to run or change — the PITR command, the permission, `aws sso login`.
//! Problems that need the user (a missing table, PITR off, access denied) are `Invalid`; ones a
//! later run may not meet (throttling, the network) are `Other`.

use crate::aws::{AwsFailure, FailureKind};
use crate::source::SourceError;

/// Which table, where, and through which profile: what every message names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableContext {
    pub table: String,
    pub region: String,
    pub profile: Option<String>,
}

impl TableContext {
    /// `--region eu-north-1 --profile analytics`, for the commands messages suggest.
    fn cli_flags(&self) -> String {
        match &self.profile {
            Some(profile) => format!("--region {} --profile {profile}", self.region),
            None => format!("--region {}", self.region),
        }
    }
}

/// One of the DynamoDB calls the source makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    DescribeTable,
    DescribeContinuousBackups,
    ExportTableToPointInTime,
    DescribeExport,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::DescribeTable => "DescribeTable",
            Call::DescribeContinuousBackups => "DescribeContinuousBackups",
            Call::ExportTableToPointInTime => "ExportTableToPointInTime",
            Call::DescribeExport => "DescribeExport",
        }
    }

    /// The IAM permissions the call needs.
    fn permissions(self) -> &'static str {
        match self {
            Call::DescribeTable => "dynamodb:DescribeTable",
            Call::DescribeContinuousBackups => "dynamodb:DescribeContinuousBackups",
            Call::ExportTableToPointInTime => {
                "dynamodb:ExportTableToPointInTime on the table, and s3:PutObject, s3:PutObjectAcl and \
                 s3:AbortMultipartUpload on the bucket"
            }
            Call::DescribeExport => "dynamodb:DescribeExport",
        }
    }
}

/// The error PITR being off turns into, with the command that turns it on.
pub(super) fn pitr_disabled(context: &TableContext) -> SourceError {
    SourceError::Invalid(format!(
        "point-in-time recovery (PITR) is off for DynamoDB table `{table}` in {region}, and exports need \
         it. Turn it on with: aws dynamodb update-continuous-backups --table-name {table} \
         --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true {flags} \
         (PITR records from that moment on; the first export can run a few minutes later)",
        table = context.table,
        region = context.region,
        flags = context.cli_flags(),
    ))
}

/// A failed call as a source error.
pub(super) fn call_failed(call: Call, context: &TableContext, failure: AwsFailure) -> SourceError {
    let table = &context.table;
    let region = &context.region;
    let code = failure.code.as_deref().unwrap_or("");
    match (code, failure.kind) {
        ("PointInTimeRecoveryUnavailableException", _) => pitr_disabled(context),
        ("TableNotFoundException", _) | ("ResourceNotFoundException", _) if call != Call::DescribeExport => {
            SourceError::Invalid(format!(
                "DynamoDB table `{table}` does not exist in {region} ({}: {failure}); check `name`/`arn` and \
                 `region` in tables.toml, and that the profile's account holds the table",
                call.name()
            ))
        }
        ("ExportNotFoundException", _) | (_, FailureKind::NotFound) => SourceError::Invalid(format!(
            "{}: DynamoDB knows no such export of `{table}` ({failure}); DynamoDB forgets exports after 90 days, \
             so run a new sync",
            call.name()
        )),
        ("InvalidExportTimeException", _) => SourceError::Invalid(format!(
            "DynamoDB refused the export time of `{table}` ({failure}); export instants must lie inside the \
             point-in-time recovery window, so run again to plan from the current window"
        )),
        ("ExportConflictException", _) => SourceError::Invalid(format!(
            "DynamoDB refused the export of `{table}` as a conflict ({failure}): the same ClientToken was used \
             with other parameters within 8 hours, or the export cannot write to the bucket; run a new sync"
        )),
        (_, FailureKind::AccessDenied) => SourceError::Invalid(format!(
            "access denied: {} on `{table}` in {region} ({failure}); the identity dynashift runs as needs {} \
             (see the IAM policy in docs/aws.md, \"Prerequisites\")",
            call.name(),
            call.permissions()
        )),
        (_, FailureKind::Throttled) if code == "LimitExceededException" => SourceError::Other(format!(
            "{} on `{table}`: DynamoDB's limit is reached ({failure}); at most 300 exports may run at once \
             per account, so wait for some to finish and run again",
            call.name()
        )),
        (_, kind) => {
            let hint = failure.general_hint().map(|hint| format!("; {hint}")).unwrap_or_default();
            let message = format!("{} on `{table}` in {region} failed: {failure}{hint}", call.name());
            match kind {
                FailureKind::CredentialsRejected => SourceError::Invalid(message),
                _ => SourceError::Other(message),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(profile: Option<&str>) -> TableContext {
        TableContext {
            table: "orders".into(),
            region: "eu-north-1".into(),
            profile: profile.map(str::to_owned),
        }
    }

    fn failure(code: &str, kind: FailureKind) -> AwsFailure {
        AwsFailure { kind, code: Some(code.into()), message: "msg".into(), status: Some(400) }
    }

    fn text(error: SourceError) -> (String, bool) {
        let invalid = matches!(error, SourceError::Invalid(_));
        (error.to_string(), invalid)
    }

    #[test]
    fn pitr_off_gives_the_command_that_turns_it_on() {
        let (message, invalid) = text(call_failed(
            Call::ExportTableToPointInTime,
            &context(Some("analytics")),
            failure("PointInTimeRecoveryUnavailableException", FailureKind::Other),
        ));
        assert!(invalid);
        assert!(
            message.contains(
                "aws dynamodb update-continuous-backups --table-name orders \
                 --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true \
                 --region eu-north-1 --profile analytics"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_missing_table_names_table_region_and_settings() {
        let (message, invalid) = text(call_failed(
            Call::DescribeTable,
            &context(None),
            failure("ResourceNotFoundException", FailureKind::NotFound),
        ));
        assert!(invalid);
        assert!(
            message.starts_with("DynamoDB table `orders` does not exist in eu-north-1 (DescribeTable:"),
            "{message}"
        );
        assert!(message.contains("`region` in tables.toml"), "{message}");
    }

    #[test]
    fn access_denied_names_the_permission() {
        let (message, invalid) = text(call_failed(
            Call::ExportTableToPointInTime,
            &context(None),
            failure("AccessDeniedException", FailureKind::AccessDenied),
        ));
        assert!(invalid);
        assert!(
            message.starts_with("access denied: ExportTableToPointInTime on `orders` in eu-north-1"),
            "{message}"
        );
        assert!(
            message.contains("dynamodb:ExportTableToPointInTime on the table, and s3:PutObject"),
            "{message}"
        );
    }

    #[test]
    fn limits_and_throttling_are_worth_a_later_run() {
        let (limit, invalid) = text(call_failed(
            Call::ExportTableToPointInTime,
            &context(None),
            failure("LimitExceededException", FailureKind::Throttled),
        ));
        assert!(!invalid);
        assert!(limit.contains("at most 300 exports may run at once"), "{limit}");
        let (throttled, invalid) = text(call_failed(
            Call::DescribeExport,
            &context(None),
            failure("ThrottlingException", FailureKind::Throttled),
        ));
        assert!(!invalid);
        assert!(throttled.ends_with("wait a few minutes and run again"), "{throttled}");
    }

    #[test]
    fn expired_credentials_point_at_sso_login() {
        let (message, invalid) = text(call_failed(
            Call::DescribeTable,
            &context(None),
            failure("ExpiredTokenException", FailureKind::CredentialsRejected),
        ));
        assert!(invalid);
        assert!(message.contains("aws sso login"), "{message}");
    }

    #[test]
    fn export_specific_refusals_are_explained() {
        let (time, _) = text(call_failed(
            Call::ExportTableToPointInTime,
            &context(None),
            failure("InvalidExportTimeException", FailureKind::Other),
        ));
        assert!(time.contains("inside the point-in-time recovery window"), "{time}");
        let (conflict, _) = text(call_failed(
            Call::ExportTableToPointInTime,
            &context(None),
            failure("ExportConflictException", FailureKind::Other),
        ));
        assert!(conflict.contains("same ClientToken"), "{conflict}");
        let (unknown, _) = text(call_failed(
            Call::DescribeExport,
            &context(None),
            failure("ExportNotFoundException", FailureKind::NotFound),
        ));
        assert!(unknown.contains("forgets exports after 90 days"), "{unknown}");
    }
}
