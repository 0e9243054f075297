//! The ExportTableToPointInTime request for one planned export: FULL_EXPORT at its export time,
//! or INCREMENTAL_EXPORT over its window with the configured view type; DynamoDB JSON into the
//! table's bucket; the pipeline's ClientToken, so a retried request returns the export the first
//! one started instead of starting a second.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::export_table_to_point_in_time::builders::ExportTableToPointInTimeFluentBuilder;
use aws_sdk_dynamodb::types::{
    ExportFormat, ExportType, ExportViewType, IncrementalExportSpecification, S3SseAlgorithm,
};

use super::destination::Destination;
use super::time::to_aws;
use crate::config::{ExportEncryption, ViewType};
use crate::source::{ExportSpec, ExportTarget};

/// Everything one export request says.
#[derive(Debug, Clone, Copy)]
pub(super) struct ExportRequest<'a> {
    pub table_arn: &'a str,
    pub destination: &'a Destination,
    pub target: &'a ExportTarget,
    pub spec: &'a ExportSpec,
    pub client_token: &'a str,
}

/// The request, ready to send.
pub(super) fn build(client: &Client, request: ExportRequest<'_>) -> ExportTableToPointInTimeFluentBuilder {
    let destination = request.destination;
    let builder = client
        .export_table_to_point_in_time()
        .table_arn(request.table_arn)
        .client_token(request.client_token)
        .s3_bucket(&destination.bucket)
        .set_s3_prefix(destination.s3_prefix(request.target))
        .set_s3_bucket_owner(destination.bucket_owner.clone())
        .export_format(ExportFormat::DynamodbJson);
    let builder = with_encryption(builder, destination.sse.as_ref());
    match request.spec {
        ExportSpec::Full { export_time } => {
            builder.export_type(ExportType::FullExport).export_time(to_aws(*export_time))
        }
        ExportSpec::Incremental { from, to, view_type } => {
            builder.export_type(ExportType::IncrementalExport).incremental_export_specification(
                IncrementalExportSpecification::builder()
                    .export_from_time(to_aws(*from))
                    .export_to_time(to_aws(*to))
                    .export_view_type(view_type_of(*view_type))
                    .build(),
            )
        }
    }
}

fn with_encryption(
    builder: ExportTableToPointInTimeFluentBuilder,
    sse: Option<&ExportEncryption>,
) -> ExportTableToPointInTimeFluentBuilder {
    match sse {
        None => builder,
        Some(ExportEncryption::Aes256) => builder.s3_sse_algorithm(S3SseAlgorithm::Aes256),
        Some(ExportEncryption::Kms { key_id }) => {
            builder.s3_sse_algorithm(S3SseAlgorithm::Kms).set_s3_sse_kms_key_id(key_id.clone())
        }
    }
}

pub(super) fn view_type_of(view_type: ViewType) -> ExportViewType {
    match view_type {
        ViewType::NewAndOldImages => ExportViewType::NewAndOldImages,
        ViewType::NewImage => ExportViewType::NewImage,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::aws::AwsConnection;
    use crate::config::AwsSettings;
    use crate::source::aws::fixtures::aws_table;

    const ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/orders";

    async fn client() -> Client {
        let settings = AwsSettings { region: Some("us-east-1".into()), profile: None, endpoint_url: None };
        AwsConnection::with_static_credentials(&settings, "test", "test").await.unwrap().dynamodb()
    }

    fn target() -> ExportTarget {
        ExportTarget { prefix: "orders/exports".into() }
    }

    #[tokio::test]
    async fn a_full_export_asks_for_its_export_time() {
        let destination = Destination::of(&aws_table()).unwrap();
        let at = Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0).unwrap();
        let spec = ExportSpec::Full { export_time: at };
        let request = ExportRequest {
            table_arn: ARN,
            destination: &destination,
            target: &target(),
            spec: &spec,
            client_token: "dynashift-r1-0",
        };
        let built = build(&client().await, request);
        let input = built.as_input();
        assert_eq!(input.get_table_arn().as_deref(), Some(ARN));
        assert_eq!(input.get_client_token().as_deref(), Some("dynashift-r1-0"));
        assert_eq!(input.get_s3_bucket().as_deref(), Some("acme-exports"));
        assert_eq!(input.get_s3_prefix().as_deref(), Some("dynashift/orders/exports"));
        assert_eq!(input.get_export_type(), &Some(ExportType::FullExport));
        assert_eq!(input.get_export_format(), &Some(ExportFormat::DynamodbJson));
        assert_eq!(input.get_export_time().map(|t| t.secs()), Some(at.timestamp()));
        assert_eq!(input.get_incremental_export_specification(), &None);
        assert_eq!((input.get_s3_sse_algorithm(), input.get_s3_bucket_owner()), (&None, &None));
    }

    #[tokio::test]
    async fn an_incremental_export_asks_for_its_window_and_view() {
        let mut destination = Destination::of(&aws_table()).unwrap();
        destination.bucket_owner = Some("123456789012".into());
        destination.sse = Some(ExportEncryption::Kms { key_id: Some("alias/exports".into()) });
        let from = Utc.with_ymd_and_hms(2026, 1, 14, 10, 20, 0).unwrap();
        let to = Utc.with_ymd_and_hms(2026, 1, 14, 10, 35, 0).unwrap();
        let spec = ExportSpec::Incremental { from, to, view_type: ViewType::NewImage };
        let request = ExportRequest {
            table_arn: ARN,
            destination: &destination,
            target: &target(),
            spec: &spec,
            client_token: "t",
        };
        let built = build(&client().await, request);
        let input = built.as_input();
        assert_eq!(input.get_export_type(), &Some(ExportType::IncrementalExport));
        assert_eq!(input.get_export_time(), &None);
        let window = input.get_incremental_export_specification().clone().unwrap();
        assert_eq!(window.export_from_time().map(|t| t.secs()), Some(from.timestamp()));
        assert_eq!(window.export_to_time().map(|t| t.secs()), Some(to.timestamp()));
        assert_eq!(window.export_view_type(), Some(&ExportViewType::NewImage));
        assert_eq!(input.get_s3_bucket_owner().as_deref(), Some("123456789012"));
        assert_eq!(input.get_s3_sse_algorithm(), &Some(S3SseAlgorithm::Kms));
        assert_eq!(input.get_s3_sse_kms_key_id().as_deref(), Some("alias/exports"));
    }
}
