//! A table configured with `source = "aws"`, for the unit tests of this module.

use std::time::Duration;

use crate::config::{
    AttrPath, AwsExportSettings, AwsSettings, ColumnSpec, Mode, SourceConfig, StoreLocation, TableConfig,
    TargetTable, TypeErrorPolicy, UnmappedPolicy, ViewType,
};

/// `orders`, keyed by `pk` and `sk`, exported into `s3://acme-exports/dynashift/`.
pub fn aws_table() -> TableConfig {
    let key_column = |name: &str| ColumnSpec {
        name: name.into(),
        path: AttrPath::parse(name).unwrap(),
        ty: "varchar(64)".parse().unwrap(),
        is_key: true,
    };
    TableConfig {
        name: "orders".into(),
        arn: None,
        source: SourceConfig::Aws(AwsExportSettings {
            client: AwsSettings { region: Some("us-east-1".into()), profile: None, endpoint_url: None },
            bucket_owner: None,
            sse: None,
            key_from_table: None,
        }),
        store: StoreLocation::S3 { bucket: "acme-exports".into(), prefix: "dynashift/".into() },
        target: TargetTable { schema: None, table: "orders".into() },
        mode: Mode::Incremental,
        key: vec!["pk".into(), "sk".into()],
        columns: vec![key_column("pk"), key_column("sk")],
        unmapped: UnmappedPolicy::KeepItem { column: "item".into() },
        on_type_error: TypeErrorPolicy::Fail,
        view_type: ViewType::NewAndOldImages,
        safety_lag: Duration::from_secs(300),
        max_window: Duration::from_secs(86_400),
        staged_file_bytes: 64 * 1024 * 1024,
        full_load: crate::config::FullLoad::Staged,
        every: None,
        key_types: Vec::new(),
    }
}
