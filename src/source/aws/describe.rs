//! DescribeExport's answer as the pipeline's [`ExportDescription`]. DynamoDB names the summary
//! manifest by its bucket key (`ExportManifest`, S3 prefix included); the stage step reads it
//! through the store, so it becomes a store key here. What the export covers is read from the
//! answer (ExportTime, IncrementalExportSpecification) and, where a stand-in leaves those out,
//! taken from the request this process made.

use aws_sdk_dynamodb::types::{
    ExportDescription as AwsExport, ExportStatus as AwsStatus, ExportType, ExportViewType,
};

use super::destination::Destination;
use super::time::to_chrono;
use crate::config::ViewType;
use crate::source::{ExportDescription, ExportSpec, ExportStatus, SourceError};

/// Maps one DescribeExport answer; `requested` is the spec this process asked for, if it did.
pub(super) fn description_of(
    export: &AwsExport,
    requested: Option<&ExportSpec>,
    destination: &Destination,
) -> Result<ExportDescription, SourceError> {
    let export_arn = export.export_arn().unwrap_or_default().to_owned();
    check_bucket(export, &export_arn, destination)?;
    Ok(ExportDescription {
        status: status_of(export, &export_arn)?,
        spec: spec_of(export, requested, &export_arn)?,
        manifest_summary_key: manifest_key(export, &export_arn, destination)?,
        item_count: export.item_count().map(|count| count.max(0) as u64),
        billed_size_bytes: export.billed_size_bytes().map(|bytes| bytes.max(0) as u64),
        failure_code: export.failure_code().map(str::to_owned),
        failure_message: export.failure_message().map(str::to_owned),
        export_arn,
    })
}

fn status_of(export: &AwsExport, arn: &str) -> Result<ExportStatus, SourceError> {
    match export.export_status() {
        Some(AwsStatus::InProgress) => Ok(ExportStatus::InProgress),
        Some(AwsStatus::Completed) => Ok(ExportStatus::Completed),
        Some(AwsStatus::Failed) => Ok(ExportStatus::Failed),
        other => Err(SourceError::Other(format!(
            "DescribeExport of {arn} gives the status {other:?}, which dynashift does not know; update dynashift"
        ))),
    }
}

/// The export's coverage as DynamoDB reports it, else as requested.
fn spec_of(export: &AwsExport, requested: Option<&ExportSpec>, arn: &str) -> Result<ExportSpec, SourceError> {
    let reported = match export.export_type() {
        Some(ExportType::IncrementalExport) => incremental_spec(export),
        _ => export.export_time().and_then(to_chrono).map(|export_time| ExportSpec::Full { export_time }),
    };
    reported.or_else(|| requested.cloned()).ok_or_else(|| {
        SourceError::Other(format!(
            "DescribeExport of {arn} says neither its export time nor its window, and this run did not request it"
        ))
    })
}

fn incremental_spec(export: &AwsExport) -> Option<ExportSpec> {
    let window = export.incremental_export_specification()?;
    let view_type = match window.export_view_type() {
        Some(ExportViewType::NewImage) => ViewType::NewImage,
        _ => ViewType::NewAndOldImages,
    };
    Some(ExportSpec::Incremental {
        from: window.export_from_time().and_then(to_chrono)?,
        to: window.export_to_time().and_then(to_chrono)?,
        view_type,
    })
}

/// `ExportManifest` (a bucket key) as a store key.
fn manifest_key(
    export: &AwsExport,
    arn: &str,
    destination: &Destination,
) -> Result<Option<String>, SourceError> {
    let Some(bucket_key) = export.export_manifest() else { return Ok(None) };
    destination.store_key(bucket_key).map(Some).ok_or_else(|| {
        SourceError::Invalid(format!(
            "export {arn} wrote its manifest to s3://{}/{bucket_key}, outside the table's store {}; the \
             table's bucket setting changed since it was requested, so run a new sync",
            destination.bucket,
            destination.url()
        ))
    })
}

/// An export written into another bucket cannot be staged from this table's store.
fn check_bucket(export: &AwsExport, arn: &str, destination: &Destination) -> Result<(), SourceError> {
    match export.s3_bucket() {
        Some(bucket) if bucket != destination.bucket => Err(SourceError::Invalid(format!(
            "export {arn} was written to bucket `{bucket}`, but the table's store is {}; run a new sync",
            destination.url()
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::IncrementalExportSpecification;
    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::source::aws::fixtures::aws_table;
    use crate::source::aws::time::to_aws;

    const ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/export/01768386924000-d339e52d";

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 14, h, m, 0).unwrap()
    }

    fn destination() -> Destination {
        Destination::of(&aws_table()).unwrap()
    }

    fn completed() -> aws_sdk_dynamodb::types::builders::ExportDescriptionBuilder {
        AwsExport::builder()
            .export_arn(ARN)
            .export_status(AwsStatus::Completed)
            .s3_bucket("acme-exports")
            .item_count(3)
            .billed_size_bytes(10_000_000)
    }

    #[test]
    fn a_completed_full_export_maps_to_a_store_manifest_key() {
        let export = completed()
            .export_type(ExportType::FullExport)
            .export_time(to_aws(at(10, 0)))
            .export_manifest(
                "dynashift/orders/exports/AWSDynamoDB/01768386924000-d339e52d/manifest-summary.json",
            )
            .build();
        let description = description_of(&export, None, &destination()).unwrap();
        assert_eq!(description.status, ExportStatus::Completed);
        assert_eq!(description.spec, ExportSpec::Full { export_time: at(10, 0) });
        assert_eq!(
            description.manifest_summary_key.as_deref(),
            Some("orders/exports/AWSDynamoDB/01768386924000-d339e52d/manifest-summary.json")
        );
        assert_eq!((description.item_count, description.billed_size_bytes), (Some(3), Some(10_000_000)));
        assert_eq!(description.export_arn, ARN);
    }

    #[test]
    fn an_incremental_export_reports_its_window_and_view() {
        let window = IncrementalExportSpecification::builder()
            .export_from_time(to_aws(at(10, 20)))
            .export_to_time(to_aws(at(10, 35)))
            .export_view_type(ExportViewType::NewImage)
            .build();
        let export = completed()
            .export_status(AwsStatus::InProgress)
            .export_type(ExportType::IncrementalExport)
            .incremental_export_specification(window)
            .build();
        let description = description_of(&export, None, &destination()).unwrap();
        assert_eq!(description.status, ExportStatus::InProgress);
        assert_eq!(
            description.spec,
            ExportSpec::Incremental { from: at(10, 20), to: at(10, 35), view_type: ViewType::NewImage }
        );
        assert_eq!(description.manifest_summary_key, None);
    }

    #[test]
    fn the_requested_spec_fills_in_what_a_stand_in_leaves_out() {
        let requested = ExportSpec::Full { export_time: at(9, 0) };
        let export = completed().build();
        let description = description_of(&export, Some(&requested), &destination()).unwrap();
        assert_eq!(description.spec, requested);
        let error = description_of(&export, None, &destination()).unwrap_err().to_string();
        assert!(error.contains("neither its export time nor its window"), "{error}");
    }

    #[test]
    fn failures_carry_their_code_and_message() {
        let export = completed()
            .export_status(AwsStatus::Failed)
            .failure_code("S3NoSuchBucket")
            .failure_message("The specified bucket does not exist")
            .export_time(to_aws(at(10, 0)))
            .build();
        let description = description_of(&export, None, &destination()).unwrap();
        assert_eq!(description.status, ExportStatus::Failed);
        assert_eq!(description.failure_code.as_deref(), Some("S3NoSuchBucket"));
        assert_eq!(description.failure_message.as_deref(), Some("The specified bucket does not exist"));
    }

    #[test]
    fn exports_outside_the_store_are_refused() {
        let elsewhere = completed()
            .export_time(to_aws(at(10, 0)))
            .export_manifest("other/AWSDynamoDB/x/manifest-summary.json")
            .build();
        let error = description_of(&elsewhere, None, &destination()).unwrap_err().to_string();
        assert!(error.contains("outside the table's store s3://acme-exports/dynashift/"), "{error}");
        let other_bucket = completed().s3_bucket("someone-else").export_time(to_aws(at(10, 0))).build();
        let error = description_of(&other_bucket, None, &destination()).unwrap_err().to_string();
        assert!(error.contains("was written to bucket `someone-else`"), "{error}");
    }
}
