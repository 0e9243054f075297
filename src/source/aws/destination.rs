//! Where DynamoDB writes a table's exports: the bucket of the table's S3 store, below the store's
//! prefix and the pipeline's export target — so the export lands inside the store the stage step
//! reads from — with the owner and encryption tables.toml asks for.

use crate::config::{ExportEncryption, SourceConfig, StoreLocation, TableConfig};
use crate::source::{ExportTarget, SourceError};

/// The S3 side of a table's export requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub bucket: String,
    /// The store's key prefix in the bucket: empty, or ending with `/` (as the S3 store has it).
    pub store_prefix: String,
    pub bucket_owner: Option<String>,
    pub sse: Option<ExportEncryption>,
}

impl Destination {
    /// The destination of an aws table; its store must be on S3 (the config guarantees it).
    pub fn of(table: &TableConfig) -> Result<Destination, SourceError> {
        let StoreLocation::S3 { bucket, prefix } = &table.store else {
            return Err(SourceError::Invalid(format!(
                "table `{}` reads source = \"aws\", but its bucket ({}) is not on S3; DynamoDB exports only to \
                 S3: set bucket = \"s3://…\"",
                table.name, table.store
            )));
        };
        let (bucket_owner, sse) = match &table.source {
            SourceConfig::Aws(aws) => (aws.bucket_owner.clone(), aws.sse.clone()),
            SourceConfig::Demo | SourceConfig::Exports { .. } => (None, None),
        };
        let store_prefix = match prefix.trim_matches('/') {
            "" => String::new(),
            trimmed => format!("{trimmed}/"),
        };
        Ok(Destination { bucket: bucket.clone(), store_prefix, bucket_owner, sse })
    }

    /// `S3Prefix` of an export into `target`: the store prefix and the target's, with no slash at
    /// the end (DynamoDB adds `/AWSDynamoDB/…` itself); `None` when both are empty.
    pub fn s3_prefix(&self, target: &ExportTarget) -> Option<String> {
        let joined = format!("{}{}", self.store_prefix, target.prefix.trim_matches('/'));
        let trimmed = joined.trim_end_matches('/');
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }

    /// The store key of an object DynamoDB names by its bucket key; `None` outside the store.
    pub fn store_key(&self, bucket_key: &str) -> Option<String> {
        bucket_key.strip_prefix(&self.store_prefix).filter(|key| !key.is_empty()).map(str::to_owned)
    }

    /// `s3://bucket/prefix/`, for messages.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.store_prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::aws::fixtures::aws_table;

    #[test]
    fn exports_land_below_the_store_prefix() {
        let destination = Destination::of(&aws_table()).unwrap();
        assert_eq!(destination.store_prefix, "dynashift/");
        let target = ExportTarget { prefix: "orders/exports".into() };
        assert_eq!(destination.s3_prefix(&target).as_deref(), Some("dynashift/orders/exports"));
        assert_eq!(
            destination
                .store_key("dynashift/orders/exports/AWSDynamoDB/01-a/manifest-summary.json")
                .as_deref(),
            Some("orders/exports/AWSDynamoDB/01-a/manifest-summary.json")
        );
        assert_eq!(destination.store_key("other/AWSDynamoDB/01-a/manifest-summary.json"), None);
        assert_eq!(destination.url(), "s3://acme-exports/dynashift/");
    }

    #[test]
    fn a_store_at_the_bucket_root_has_no_prefix_to_add_or_strip() {
        let mut table = aws_table();
        table.store = StoreLocation::S3 { bucket: "acme-exports".into(), prefix: String::new() };
        let destination = Destination::of(&table).unwrap();
        assert_eq!(destination.s3_prefix(&ExportTarget { prefix: String::new() }), None);
        assert_eq!(
            destination.s3_prefix(&ExportTarget { prefix: "orders/exports/".into() }).as_deref(),
            Some("orders/exports")
        );
        assert_eq!(destination.store_key("AWSDynamoDB/x").as_deref(), Some("AWSDynamoDB/x"));
    }

    #[test]
    fn a_local_store_cannot_receive_exports() {
        let mut table = aws_table();
        table.store = StoreLocation::Local { root: "/tmp/bucket".into() };
        let error = Destination::of(&table).unwrap_err().to_string();
        assert!(error.contains("DynamoDB exports only to S3"), "{error}");
    }
}
