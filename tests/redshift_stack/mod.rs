//! Everything a Redshift test stands on, started in one call: a fresh PostgreSQL database, the
//! Data API stand-in running its statements there, and a fresh moto bucket for exports, staged
//! files and state — plus the ways tests reach it (a `tables.toml` pointed at it, the
//! `RedshiftConfig`, the warehouse, a direct PostgreSQL reader, the S3 store).

#![allow(dead_code, reason = "each test binary uses a part of the support")]

use std::path::{Path, PathBuf};

use dynashift::aws::AwsConnection;
use dynashift::config::{AwsSettings, RedshiftConfig, RedshiftConnection};
use dynashift::store::S3Store;
use dynashift::warehouse::postgres::{PostgresWarehouse, TlsMode};
use dynashift::warehouse::redshift::RedshiftWarehouse;

use crate::common::with_warehouse_section;
use crate::dataapi_support::{DataApiStandIn, S3Access};
use crate::moto_support;
use crate::postgres_support::fresh_database;

/// The role the Redshift tests name for COPY (the stand-in accepts any role ARN).
pub const COPY_ROLE: &str = "arn:aws:iam::123456789012:role/redshift-copy";

/// The store prefix in the bucket.
pub const PREFIX: &str = "dynashift/";

/// A running stand-in over a fresh database, and a fresh bucket.
pub struct RedshiftStack {
    pub standin: DataApiStandIn,
    pub database_url: String,
    pub bucket: String,
    pub moto: AwsConnection,
}

impl RedshiftStack {
    /// `database` names the test's own database; `bucket_base` starts its bucket's name.
    pub async fn start(database: &str, bucket_base: &str) -> RedshiftStack {
        let database_url = fresh_database(database).await;
        let moto = moto_support::connection().await;
        let bucket = moto_support::new_bucket(&moto, bucket_base).await;
        let s3 = S3Access { endpoint: moto_support::endpoint(), region: moto_support::REGION.into() };
        let standin = DataApiStandIn::start(&database_url, s3).await;
        RedshiftStack { standin, database_url, bucket, moto }
    }

    /// `s3://<bucket>/dynashift/`
    pub fn bucket_url(&self) -> String {
        format!("s3://{}/{PREFIX}", self.bucket)
    }

    /// The warehouse settings: Serverless workgroup `analytics`, database `dev`, the stand-in
    /// as the Data API endpoint.
    pub fn config(&self) -> RedshiftConfig {
        self.config_connecting_as(RedshiftConnection::Workgroup { name: "analytics".into() })
    }

    pub fn config_connecting_as(&self, connection: RedshiftConnection) -> RedshiftConfig {
        RedshiftConfig {
            connection,
            database: "dev".into(),
            iam_role: COPY_ROLE.into(),
            copy_region: None,
            client: AwsSettings {
                region: Some(moto_support::REGION.into()),
                profile: None,
                endpoint_url: Some(self.standin.endpoint()),
            },
        }
    }

    /// The warehouse `config` describes, with the fixed credentials the stand-in accepts.
    pub async fn warehouse(&self, config: &RedshiftConfig) -> RedshiftWarehouse {
        let data_api =
            AwsConnection::with_static_credentials(&config.client, "testing", "testing").await.unwrap();
        RedshiftWarehouse::new(&data_api, config)
    }

    /// Reads the loaded tables straight from the stand-in's PostgreSQL database.
    pub async fn reader(&self) -> PostgresWarehouse {
        PostgresWarehouse::connect(&self.database_url, TlsMode::Disable).await.unwrap()
    }

    /// The bucket as dynashift's store.
    pub fn store(&self) -> S3Store {
        S3Store::new(&self.moto, &self.bucket, PREFIX)
    }

    /// `config_path` (a copy of the shipped tables.toml) with its store in the bucket and its
    /// warehouse this Redshift, as [`RedshiftStack::config`] describes it.
    pub fn write_tables_toml(&self, config_path: &Path) -> PathBuf {
        let text = std::fs::read_to_string(config_path).unwrap();
        let local_bucket = "bucket = \"file://.dynashift/bucket\"";
        assert!(text.contains(local_bucket), "the shipped tables.toml keeps its store in [defaults]");
        let bucket = format!(
            "bucket = \"{}\"\nregion = \"{}\"\nendpoint_url = \"{}\"",
            self.bucket_url(),
            moto_support::REGION,
            moto_support::endpoint()
        );
        std::fs::write(config_path, text.replacen(local_bucket, &bucket, 1)).unwrap();
        let warehouse = format!(
            "kind = \"redshift\"\nworkgroup = \"analytics\"\ndatabase = \"dev\"\niam_role = \"{COPY_ROLE}\"\n\
             region = \"{}\"\nendpoint_url = \"{}\"",
            moto_support::REGION,
            self.standin.endpoint()
        );
        with_warehouse_section(config_path, &warehouse)
    }
}
