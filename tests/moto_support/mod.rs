//! What the tests against moto share: the endpoint `scripts/moto.sh start` printed (exported by
//! scripts/test.sh as DYNASHIFT_MOTO_ENDPOINT), a connection with the fixed credentials moto
//! accepts, and names no other test (or earlier run against the same server) uses.
//!
//! Without the endpoint these tests fail, saying how to start moto: they must never pass
//! without having talked to it.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use dynashift::aws::AwsConnection;
use dynashift::config::AwsSettings;

pub const ENDPOINT_VAR: &str = "DYNASHIFT_MOTO_ENDPOINT";
pub const REGION: &str = "us-east-1";

/// moto's endpoint, or a failure that says how to get one.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "{ENDPOINT_VAR} is not set, and these tests run against moto (an AWS stand-in on loopback). \
             Run the whole suite with scripts/test.sh, or start moto yourself: \
             export {ENDPOINT_VAR}=$(scripts/moto.sh start)"
        ),
    }
}

pub fn settings() -> AwsSettings {
    AwsSettings { region: Some(REGION.into()), profile: None, endpoint_url: Some(endpoint()) }
}

/// A connection to moto with the fixed test credentials (the default chain would probe the
/// instance metadata service when the machine has no credentials).
pub async fn connection() -> AwsConnection {
    AwsConnection::with_static_credentials(&settings(), "testing", "testing")
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `base-<pid>-<n>`: unique within this moto server's life, valid as a bucket or table name.
pub fn unique(base: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{base}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A fresh, empty bucket.
pub async fn new_bucket(connection: &AwsConnection, base: &str) -> String {
    let bucket = unique(base);
    connection.s3().create_bucket().bucket(&bucket).send().await.unwrap_or_else(|e| {
        panic!("creating bucket {bucket} in moto: {}", aws_sdk_s3::error::DisplayErrorContext(&e))
    });
    bucket
}
