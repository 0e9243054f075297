//! A table configured with `source = "aws"`, for the unit tests of this module.

use crate::config::{AwsExportSettings, AwsSettings, SourceConfig, StoreLocation, TableConfig};
use crate::testkit::TableBuilder;

/// `orders`, keyed by `pk` and `sk`, exported into `s3://acme-exports/dynashift/`.
pub(super) fn aws_table() -> TableConfig {
    TableBuilder::new("orders")
        .source(SourceConfig::Aws(AwsExportSettings {
            client: AwsSettings { region: Some("us-east-1".into()), profile: None, endpoint_url: None },
            bucket_owner: None,
            sse: None,
            key_from_table: None,
        }))
        .store(StoreLocation::S3 { bucket: "acme-exports".into(), prefix: "dynashift/".into() })
        .key("pk", "pk", "varchar(64)")
        .key("sk", "sk", "varchar(64)")
        .keep_item("item")
        .build()
}
