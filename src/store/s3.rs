//! An S3 bucket (below an optional key prefix) as the object store: `s3://bucket/prefix/`.
//!
//! Bodies stream both ways (GetObject into an `AsyncRead`, files uploaded from disk, in parts
//! above [`MultipartPolicy::threshold`]), listings follow continuation tokens past 1000 keys,
//! and `create_new` is a PutObject with `If-None-Match: *`, which S3 applies atomically — the
//! table lease relies on that. Every error names the `s3://` URL of the object it concerns.

mod multipart;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;

use super::{ObjectMeta, ObjectReader, ObjectStore, StoreError};
use crate::aws::{AwsConnection, AwsFailure, FailureKind};

pub use multipart::MultipartPolicy;

/// How often `create_new` retries when S3 reports a concurrent conditional write (409).
const CONFLICT_RETRIES: u32 = 3;

/// A bucket, or the part of it below `prefix`, as an object store.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
    multipart: MultipartPolicy,
}

impl S3Store {
    /// The store at `s3://bucket/prefix`, reached with `connection`'s settings.
    pub fn new(connection: &AwsConnection, bucket: &str, prefix: &str) -> S3Store {
        S3Store::from_client(connection.s3(), bucket, prefix)
    }

    /// The store at `s3://bucket/prefix` through an existing client.
    pub fn from_client(client: Client, bucket: &str, prefix: &str) -> S3Store {
        let prefix = match prefix.trim_matches('/') {
            "" => String::new(),
            trimmed => format!("{trimmed}/"),
        };
        S3Store { client, bucket: bucket.to_owned(), prefix, multipart: MultipartPolicy::default() }
    }

    /// When `put_file` switches to a multipart upload, and the size of its parts.
    pub fn with_multipart(mut self, policy: MultipartPolicy) -> S3Store {
        self.multipart = policy;
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key prefix this store is rooted at: empty, or ending with `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The bucket key of a store key.
    fn object_key(&self, key: &str) -> Result<String, StoreError> {
        if key.is_empty() {
            return Err(StoreError::Other { location: self.url_of(key), message: "empty object key".into() });
        }
        Ok(format!("{}{key}", self.prefix))
    }

    /// A failed call on `key`, as a store error naming its URL.
    fn failure<E>(&self, key: &str, err: &SdkError<E>) -> StoreError
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.classified(key, AwsFailure::from_sdk(err))
    }

    fn classified(&self, key: &str, failure: AwsFailure) -> StoreError {
        let location = self.url_of(key);
        if failure.code.as_deref() == Some("NoSuchBucket") {
            let message = format!(
                "bucket `{}` does not exist ({failure}); create it, or fix `bucket` in tables.toml",
                self.bucket
            );
            return StoreError::Other { location, message };
        }
        match (failure.kind, failure.general_hint()) {
            (FailureKind::NotFound, _) => StoreError::NotFound { location },
            (_, Some(hint)) => StoreError::Other { location, message: format!("{failure}; {hint}") },
            (_, None) => StoreError::Other { location, message: failure.to_string() },
        }
    }

    fn io(&self, key: &str, source: std::io::Error) -> StoreError {
        StoreError::Io { location: self.url_of(key), source }
    }

    async fn put_body(&self, key: &str, body: ByteStream) -> Result<(), StoreError> {
        let object_key = self.object_key(key)?;
        let request = self.client.put_object().bucket(&self.bucket).key(&object_key).body(body);
        request.send().await.map_err(|e| self.failure(key, &e))?;
        Ok(())
    }

    async fn put_if_absent(&self, object_key: &str, bytes: &[u8]) -> Result<(), AwsFailure> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(object_key)
            .if_none_match("*")
            .body(ByteStream::from(bytes.to_vec()));
        request.send().await.map(|_| ()).map_err(|e| AwsFailure::from_sdk(&e))
    }

    /// A listed object as a store object (keys outside the prefix cannot be listed; skipped).
    fn listed(&self, object: &aws_sdk_s3::types::Object) -> Option<ObjectMeta> {
        let key = object.key()?.strip_prefix(&self.prefix)?;
        Some(ObjectMeta { key: key.to_owned(), size: object.size().unwrap_or(0).max(0) as u64 })
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    fn root_url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn url_of(&self, key: &str) -> String {
        format!("s3://{}/{}{key}", self.bucket, self.prefix)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let object_key = self.object_key(key)?;
        let output = self.client.get_object().bucket(&self.bucket).key(&object_key).send().await;
        let output = output.map_err(|e| self.failure(key, &e))?;
        let bytes = output.body.collect().await.map_err(|e| self.io(key, std::io::Error::other(e)))?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn open(&self, key: &str) -> Result<ObjectReader, StoreError> {
        let object_key = self.object_key(key)?;
        let output = self.client.get_object().bucket(&self.bucket).key(&object_key).send().await;
        let output = output.map_err(|e| self.failure(key, &e))?;
        Ok(Box::pin(output.body.into_async_read()))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.put_body(key, ByteStream::from(bytes)).await
    }

    async fn put_file(&self, key: &str, file: &Path) -> Result<(), StoreError> {
        let size = tokio::fs::metadata(file).await.map_err(|e| self.io(key, e))?.len();
        if size > self.multipart.threshold {
            return multipart::upload_file(self, key, file, size).await;
        }
        let body = ByteStream::from_path(file).await.map_err(|e| self.io(key, std::io::Error::other(e)))?;
        self.put_body(key, body).await
    }

    async fn create_new(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let object_key = self.object_key(key)?;
        let mut conflicts = 0;
        loop {
            match self.put_if_absent(&object_key, &bytes).await {
                Ok(()) => return Ok(()),
                Err(failure) if failure.kind == FailureKind::PreconditionFailed => {
                    return Err(StoreError::AlreadyExists { location: self.url_of(key) });
                }
                // Another conditional write to the key is in flight; once it settles, the next
                // attempt gets a definite answer (412 or success).
                Err(failure) if failure.kind == FailureKind::Conflict && conflicts < CONFLICT_RETRIES => {
                    conflicts += 1;
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(conflicts))).await;
                }
                Err(failure) => return Err(self.classified(key, failure)),
            }
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let list_prefix = format!("{}{prefix}", self.prefix);
        let mut objects = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let request = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(&list_prefix)
                .set_continuation_token(continuation.take());
            let page = request.send().await.map_err(|e| self.failure(prefix, &e))?;
            objects.extend(page.contents().iter().filter_map(|object| self.listed(object)));
            match (page.is_truncated(), page.next_continuation_token()) {
                (Some(true), Some(token)) => continuation = Some(token.to_owned()),
                _ => break,
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let object_key = self.object_key(key)?;
        match self.client.delete_object().bucket(&self.bucket).key(&object_key).send().await {
            Ok(_) => Ok(()),
            Err(err) => match self.failure(key, &err) {
                StoreError::NotFound { .. } => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let object_key = self.object_key(key)?;
        match self.client.head_object().bucket(&self.bucket).key(&object_key).send().await {
            Ok(output) => {
                let size = output.content_length().unwrap_or(0).max(0) as u64;
                Ok(Some(ObjectMeta { key: key.to_owned(), size }))
            }
            Err(err) => match self.failure(key, &err) {
                StoreError::NotFound { .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    fn store_key(&self, bucket_key: &str) -> Option<String> {
        bucket_key.strip_prefix(&self.prefix).filter(|key| !key.is_empty()).map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AwsSettings;

    async fn store_at(prefix: &str) -> S3Store {
        let settings = AwsSettings {
            region: Some("us-east-1".into()),
            profile: None,
            endpoint_url: Some("http://127.0.0.1:9".into()),
        };
        let connection = AwsConnection::with_static_credentials(&settings, "test", "test").await.unwrap();
        S3Store::new(&connection, "acme-exports", prefix)
    }

    #[tokio::test]
    async fn urls_and_keys_are_relative_to_the_prefix() {
        let store = store_at("/dynashift").await;
        assert_eq!(store.prefix(), "dynashift/");
        assert_eq!(store.root_url(), "s3://acme-exports/dynashift/");
        assert_eq!(store.url_of("orders/_state/lock"), "s3://acme-exports/dynashift/orders/_state/lock");
        assert_eq!(store.object_key("orders/x").unwrap(), "dynashift/orders/x");
        assert!(store.object_key("").is_err());
    }

    #[tokio::test]
    async fn manifest_keys_map_to_store_keys_by_stripping_the_prefix() {
        let store = store_at("dynashift/").await;
        let key = "dynashift/orders/exports/AWSDynamoDB/01768385930622-efd1a093/manifest-files.json";
        assert_eq!(
            store.store_key(key).as_deref(),
            Some("orders/exports/AWSDynamoDB/01768385930622-efd1a093/manifest-files.json")
        );
        assert_eq!(store.store_key("elsewhere/AWSDynamoDB/x"), None);
        assert_eq!(store.store_key("dynashift/"), None);
        let root = store_at("").await;
        assert_eq!(root.root_url(), "s3://acme-exports/");
        assert_eq!(root.store_key("AWSDynamoDB/x").as_deref(), Some("AWSDynamoDB/x"));
    }

    #[tokio::test]
    async fn errors_name_the_object_and_say_what_to_do() {
        let store = store_at("p").await;
        let failure = |code: &str, kind| AwsFailure {
            kind,
            code: Some(code.into()),
            message: "m".into(),
            status: Some(404),
        };
        let missing_key = store.classified("k", failure("NoSuchKey", FailureKind::NotFound));
        assert!(
            matches!(missing_key, StoreError::NotFound { ref location } if location == "s3://acme-exports/p/k")
        );
        let missing_bucket =
            store.classified("k", failure("NoSuchBucket", FailureKind::NotFound)).to_string();
        assert!(
            missing_bucket.starts_with("s3://acme-exports/p/k: bucket `acme-exports` does not exist"),
            "{missing_bucket}"
        );
        let denied = store.classified("k", failure("AccessDenied", FailureKind::AccessDenied)).to_string();
        assert!(denied.contains("AccessDenied (HTTP 404): m; the identity dynashift runs as"), "{denied}");
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_an_error_naming_the_object() {
        // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        let error = store_at("p").await.get("k").await.unwrap_err().to_string();
        assert!(error.starts_with("s3://acme-exports/p/k: "), "{error}");
        assert!(error.contains("check the network"), "{error}");
    }
}
