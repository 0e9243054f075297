//! Which AWS client settings a table uses: an aws table's own (its overrides merged over
//! `[defaults]` when the config was validated), or `[defaults]`' for every other table (their
//! S3 bucket still needs a region and credentials). They serve the table's DynamoDB calls and
//! its bucket alike, since S3 answers only in the bucket's own region: a table in another region
//! needs a bucket there too.

use crate::config::{AwsSettings, Config, SourceConfig, TableConfig};

/// The client settings for `table`'s source and S3 bucket.
pub fn settings_for<'a>(config: &'a Config, table: &'a TableConfig) -> &'a AwsSettings {
    match &table.source {
        SourceConfig::Aws(aws) => &aws.client,
        SourceConfig::Demo | SourceConfig::Exports { .. } => &config.aws,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_shipped_aws_example_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/tables.aws.example.toml");
        let config = crate::config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let customers = config.table("customers").unwrap();
        assert_eq!(settings_for(&config, customers).region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            settings_for(&config, config.table("orders").unwrap()).region.as_deref(),
            Some("eu-north-1")
        );
    }

    #[test]
    fn aws_tables_use_their_own_settings_and_others_the_defaults() {
        let text = "[defaults]\nregion = \"us-east-1\"\nbucket = \"s3://acme/dynashift/\"\n\
                    [[table]]\nname = \"orders\"\nsource = \"aws\"\nregion = \"eu-north-1\"\nkey = [\"pk\"]\n\
                    [[table]]\nname = \"events\"\nsource = \"exports\"\nprefix = \"in/events\"\nkey = [\"id\"]\n";
        let config =
            crate::config::load_str(text, Path::new("/c/tables.toml")).unwrap_or_else(|e| panic!("{e}"));
        let orders = config.table("orders").unwrap();
        let events = config.table("events").unwrap();
        assert_eq!(settings_for(&config, orders).region.as_deref(), Some("eu-north-1"));
        assert_eq!(settings_for(&config, events).region.as_deref(), Some("us-east-1"));
    }
}
