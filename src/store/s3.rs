//! An S3 bucket (below an optional key prefix) as the object store: `s3://bucket/prefix/`.
//!
//! Bodies stream both ways (GetObject into an `AsyncRead`, files uploaded from disk, in parts
//! above [`MultipartPolicy::threshold`]), listings follow continuation tokens past 1000 keys,
//! `create_new` is a PutObject with `If-None-Match: *`, and `replace_if` one with `If-Match:
//! <etag>` (the ETag `get_versioned` read), which S3 applies atomically — the table lease's
//! creation, renewals and takeovers rely on that. Every error names the `s3://` URL of the object
//! it concerns.
//!
//! Every call is retried through [`retry_transient`] when it fails transiently (throttled,
//! unreachable, a 5xx): reads, listings, deletes and unconditional writes of the same bytes are
//! safe to repeat. The conditional writes are not, blindly: an attempt that got no answer may
//! have created the object, and the SDK retries such attempts itself before dynashift sees any
//! failure. So an "already exists" answer is checked by reading the object back: it counts as
//! our success when the object holds exactly our bytes (a lease names its run and the instant it
//! was taken, so no other writer's bytes are equal).

#[cfg(test)]
mod fake;
mod multipart;

use std::future::Future;
use std::path::Path;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::{ObjectMeta, ObjectReader, ObjectStore, ObjectVersion, StoreError};
use crate::aws::{AwsConnection, AwsFailure, FailureKind, RetryPolicy, retry_transient};

pub use multipart::MultipartPolicy;

/// A bucket, or the part of it below `prefix`, as an object store.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    /// Empty, or ends with `/`.
    prefix: String,
    multipart: MultipartPolicy,
    retry_policy: RetryPolicy,
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
        S3Store {
            client,
            bucket: bucket.to_owned(),
            prefix,
            multipart: MultipartPolicy::default(),
            retry_policy: RetryPolicy::OBJECT_STORE,
        }
    }

    /// How transient failures are retried ([`RetryPolicy::OBJECT_STORE`] unless set).
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> S3Store {
        self.retry_policy = policy;
        self
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

    /// Runs `call`, retrying transient failures under the store's policy.
    async fn retrying<T, F, Fut>(&self, operation: &str, call: F) -> Result<T, AwsFailure>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsFailure>>,
    {
        retry_transient(self.retry_policy, operation, call).await
    }

    /// A failed call on `key`, as a store error naming its URL.
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

    /// An unconditional PutObject; `body` makes each attempt's body (a body is consumed).
    async fn put_body<F, Fut>(&self, key: &str, mut body: F) -> Result<(), StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<ByteStream, AwsFailure>>,
    {
        let object_key = self.object_key(key)?;
        let put = || {
            let body = body();
            async {
                let request =
                    self.client.put_object().bucket(&self.bucket).key(&object_key).body(body.await?);
                request.send().await.map(drop).map_err(|e| AwsFailure::from_sdk(&e))
            }
        };
        self.retrying("PutObject", put).await.map_err(|failure| self.classified(key, failure))
    }

    async fn put_if_absent(&self, object_key: &str, bytes: Bytes) -> Result<(), AwsFailure> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(object_key)
            .if_none_match("*")
            .body(ByteStream::from(bytes));
        request.send().await.map(|_| ()).map_err(|e| AwsFailure::from_sdk(&e))
    }

    /// A PutObject with `If-Match: <etag>`: S3 writes only while the object's ETag is still
    /// `etag`, and answers 412 Precondition Failed when it changed, 404 when it is gone (409
    /// when another conditional write raced this one; retried). Returns the new object's ETag.
    /// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html>,
    /// <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html> (`If-Match`).
    async fn put_if_match(
        &self,
        object_key: &str,
        bytes: Bytes,
        etag: &str,
    ) -> Result<Option<String>, AwsFailure> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(object_key)
            .if_match(etag)
            .body(ByteStream::from(bytes));
        let output = request.send().await.map_err(|e| AwsFailure::from_sdk(&e))?;
        Ok(output.e_tag().map(str::to_owned))
    }

    /// GetObject with its whole body; a body cut off midway is a failure to retry like any
    /// other network failure.
    async fn get_bytes(&self, object_key: &str) -> Result<Bytes, AwsFailure> {
        self.get_tagged(object_key).await.map(|(bytes, _)| bytes)
    }

    /// GetObject with its whole body and its ETag (the version a conditional write names).
    async fn get_tagged(&self, object_key: &str) -> Result<(Bytes, Option<String>), AwsFailure> {
        let output = self.client.get_object().bucket(&self.bucket).key(object_key).send().await;
        let output = output.map_err(|e| AwsFailure::from_sdk(&e))?;
        let etag = output.e_tag().map(str::to_owned);
        let body = output.body.collect().await.map_err(|e| AwsFailure {
            kind: FailureKind::Unreachable,
            code: None,
            message: format!("the object's body was cut off: {e}"),
            status: None,
        })?;
        Ok((body.into_bytes(), etag))
    }

    /// Whether the object at `object_key` holds exactly `bytes`.
    async fn holds(&self, key: &str, object_key: &str, bytes: &Bytes) -> Result<bool, StoreError> {
        match self.retrying("GetObject", || self.get_bytes(object_key)).await {
            Ok(stored) => Ok(stored == *bytes),
            Err(failure) if failure.kind == FailureKind::NotFound => Ok(false),
            Err(failure) => Err(self.classified(key, failure)),
        }
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
        let bytes = self.retrying("GetObject", || self.get_bytes(&object_key)).await;
        Ok(bytes.map_err(|failure| self.classified(key, failure))?.to_vec())
    }

    /// Retries until the body starts; a stream cut off later is the reader's error (the
    /// pipeline re-reads the whole file on its next run).
    async fn open(&self, key: &str) -> Result<ObjectReader, StoreError> {
        let object_key = self.object_key(key)?;
        let output = self
            .retrying("GetObject", || async {
                let request = self.client.get_object().bucket(&self.bucket).key(&object_key);
                request.send().await.map_err(|e| AwsFailure::from_sdk(&e))
            })
            .await
            .map_err(|failure| self.classified(key, failure))?;
        Ok(Box::pin(output.body.into_async_read()))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let bytes = Bytes::from(bytes);
        self.put_body(key, || std::future::ready(Ok(ByteStream::from(bytes.clone())))).await
    }

    async fn put_file(&self, key: &str, file: &Path) -> Result<(), StoreError> {
        let size = tokio::fs::metadata(file).await.map_err(|e| self.io(key, e))?.len();
        if size > self.multipart.threshold {
            return multipart::upload_file(self, key, file, size).await;
        }
        let unreadable = |e: aws_sdk_s3::primitives::ByteStreamError| AwsFailure {
            kind: FailureKind::Other,
            code: None,
            message: format!("cannot read {}: {e}", file.display()),
            status: None,
        };
        self.put_body(key, || async { ByteStream::from_path(file).await.map_err(unreadable) }).await
    }

    async fn create_new(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let object_key = self.object_key(key)?;
        let bytes = Bytes::from(bytes);
        let attempt = || self.put_if_absent(&object_key, bytes.clone());
        match self.retrying("PutObject If-None-Match", attempt).await {
            Ok(()) => Ok(()),
            // Perhaps created by an earlier attempt of ours whose answer was lost.
            Err(failure) if failure.kind == FailureKind::PreconditionFailed => {
                if self.holds(key, &object_key, &bytes).await? {
                    Ok(())
                } else {
                    Err(StoreError::AlreadyExists { location: self.url_of(key) })
                }
            }
            Err(failure) => Err(self.classified(key, failure)),
        }
    }

    async fn get_versioned(&self, key: &str) -> Result<(Vec<u8>, ObjectVersion), StoreError> {
        let object_key = self.object_key(key)?;
        let tagged = self.retrying("GetObject", || self.get_tagged(&object_key)).await;
        match tagged.map_err(|failure| self.classified(key, failure))? {
            (bytes, Some(etag)) => Ok((bytes.to_vec(), ObjectVersion(etag))),
            (_, None) => Err(StoreError::Other {
                location: self.url_of(key),
                message: "GetObject answered without an ETag; this S3 endpoint cannot hold a lease".into(),
            }),
        }
    }

    /// Retried like `create_new`: a swap whose answer was lost may have written, and its retry
    /// is then refused (412); reading our own bytes back tells that case from a real loss.
    async fn replace_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: &ObjectVersion,
    ) -> Result<ObjectVersion, StoreError> {
        let object_key = self.object_key(key)?;
        let bytes = Bytes::from(bytes);
        let attempt = || self.put_if_match(&object_key, bytes.clone(), &expected.0);
        let missing_etag = || StoreError::Other {
            location: self.url_of(key),
            message: "PutObject answered without an ETag; this S3 endpoint cannot hold a lease".into(),
        };
        match self.retrying("PutObject If-Match", attempt).await {
            Ok(Some(etag)) => Ok(ObjectVersion(etag)),
            Ok(None) => Err(missing_etag()),
            Err(failure) if failure.kind == FailureKind::PreconditionFailed => {
                match self.get_versioned(key).await {
                    Ok((stored, version)) if stored == bytes => Ok(version),
                    Ok(_) | Err(StoreError::NotFound { .. }) => {
                        Err(StoreError::Changed { location: self.url_of(key) })
                    }
                    Err(err) => Err(err),
                }
            }
            Err(failure) => match self.classified(key, failure) {
                // S3 answers a swap of an object that is gone 404, not 412 ("Conditional write
                // behavior" in the conditional-writes guide).
                StoreError::NotFound { location } => Err(StoreError::Changed { location }),
                other => Err(other),
            },
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let list_prefix = format!("{}{prefix}", self.prefix);
        let mut objects = Vec::new();
        let mut continuation: Option<String> = None;
        loop {
            let token = continuation.take();
            let page = self
                .retrying("ListObjectsV2", || async {
                    let request = self
                        .client
                        .list_objects_v2()
                        .bucket(&self.bucket)
                        .prefix(&list_prefix)
                        .set_continuation_token(token.clone());
                    request.send().await.map_err(|e| AwsFailure::from_sdk(&e))
                })
                .await
                .map_err(|failure| self.classified(prefix, failure))?;
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
        let deleted = self
            .retrying("DeleteObject", || async {
                let request = self.client.delete_object().bucket(&self.bucket).key(&object_key);
                request.send().await.map(drop).map_err(|e| AwsFailure::from_sdk(&e))
            })
            .await;
        match deleted.map_err(|failure| self.classified(key, failure)) {
            Err(StoreError::NotFound { .. }) => Ok(()),
            other => other,
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let object_key = self.object_key(key)?;
        let output = self
            .retrying("HeadObject", || async {
                let request = self.client.head_object().bucket(&self.bucket).key(&object_key);
                request.send().await.map_err(|e| AwsFailure::from_sdk(&e))
            })
            .await;
        match output.map_err(|failure| self.classified(key, failure)) {
            Ok(output) => {
                let size = output.content_length().unwrap_or(0).max(0) as u64;
                Ok(Some(ObjectMeta { key: key.to_owned(), size }))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    fn store_key(&self, bucket_key: &str) -> Option<String> {
        bucket_key.strip_prefix(&self.prefix).filter(|key| !key.is_empty()).map(str::to_owned)
    }

    fn bucket_key(&self, store_key: &str) -> String {
        format!("{}{store_key}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_s3::config::retry::RetryConfig;

    use super::fake::{FakeS3, Fault};
    use super::*;
    use crate::config::AwsSettings;

    /// Retries in milliseconds, so failing tests fail fast.
    const TINY: RetryPolicy = RetryPolicy {
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        jitter: 0.25,
        deadline: Duration::from_millis(200),
    };

    async fn connection(endpoint: &str) -> AwsConnection {
        let settings = AwsSettings {
            region: Some("us-east-1".into()),
            profile: None,
            endpoint_url: Some(endpoint.into()),
        };
        AwsConnection::with_static_credentials(&settings, "test", "test").await.unwrap()
    }

    async fn store_at(prefix: &str) -> S3Store {
        // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        S3Store::new(&connection("http://127.0.0.1:9").await, "acme-exports", prefix).with_retry_policy(TINY)
    }

    /// A store on a scripted S3 whose client does not retry by itself, so every fault reaches
    /// the store's own retry loop.
    async fn scripted_store() -> (FakeS3, S3Store) {
        let (fake, endpoint) = FakeS3::start().await;
        let client = connection(&endpoint).await.s3();
        let config = client.config().to_builder().retry_config(RetryConfig::disabled()).build();
        let store = S3Store::from_client(Client::from_conf(config), "acme", "p").with_retry_policy(TINY);
        (fake, store)
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
    async fn an_unreachable_endpoint_is_retried_then_an_error_naming_the_object_and_the_retries() {
        let error = store_at("p").await.get("k").await.unwrap_err().to_string();
        assert!(error.starts_with("s3://acme-exports/p/k: "), "{error}");
        assert!(error.contains(": unreachable; giving up at the 200ms deadline)"), "{error}");
        assert!(error.contains("check the network"), "{error}");
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_the_call_succeeds() {
        let (fake, store) = scripted_store().await;
        fake.insert("/acme/p/k", b"payload");
        let slow_down = Fault::Refuse { status: 503, code: "SlowDown" };
        fake.fail_next(&[slow_down, Fault::Refuse { status: 500, code: "InternalError" }, slow_down]);
        assert_eq!(store.get("k").await.unwrap(), b"payload");
        assert_eq!(fake.requests(), 4);
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let (fake, store) = scripted_store().await;
        fake.fail_next(&[Fault::Refuse { status: 403, code: "AccessDenied" }]);
        let error = store.put("k", b"x".to_vec()).await.unwrap_err().to_string();
        assert!(error.contains("AccessDenied (HTTP 403)") && !error.contains("retried"), "{error}");
        assert_eq!(fake.requests(), 1);
    }

    #[tokio::test]
    async fn a_create_whose_answer_was_lost_is_recognised_as_ours_on_the_retry() {
        let (fake, store) = scripted_store().await;
        // The first attempt creates the object but its answer is lost; the retry is told the
        // object exists, reads it back and finds its own bytes.
        fake.fail_next(&[Fault::ApplyThenFail { status: 500, code: "InternalError" }]);
        store.create_new("_state/lock", b"run 1, 12:00:00.123".to_vec()).await.unwrap();
        assert_eq!(fake.object("/acme/p/_state/lock").unwrap(), &b"run 1, 12:00:00.123"[..]);
        assert_eq!(fake.requests(), 3, "the create, its retry, and the read-back");
    }

    #[tokio::test]
    async fn a_create_where_another_writer_holds_the_object_is_refused() {
        let (fake, store) = scripted_store().await;
        fake.insert("/acme/p/_state/lock", b"run 2, 12:00:01.456");
        let error = store.create_new("_state/lock", b"run 1, 12:00:00.123".to_vec()).await.unwrap_err();
        assert!(
            matches!(error, StoreError::AlreadyExists { ref location } if location == "s3://acme/p/_state/lock")
        );
        assert_eq!(fake.object("/acme/p/_state/lock").unwrap(), &b"run 2, 12:00:01.456"[..]);
    }

    #[tokio::test]
    async fn the_sdks_own_retry_of_a_lost_create_is_recognised_too() {
        let (fake, endpoint) = FakeS3::start().await;
        // The SDK's default retries: it repeats the create itself and reports only the 412.
        let store = S3Store::new(&connection(&endpoint).await, "acme", "").with_retry_policy(TINY);
        fake.fail_next(&[Fault::ApplyThenFail { status: 500, code: "InternalError" }]);
        store.create_new("lock", b"mine".to_vec()).await.unwrap();
        assert_eq!(fake.object("/acme/lock").unwrap(), &b"mine"[..]);
    }

    #[tokio::test]
    async fn a_swap_sends_if_match_with_the_etag_read_and_is_refused_once_the_object_changed() {
        let (fake, store) = scripted_store().await;
        fake.insert("/acme/p/_state/lock", b"gen 1");
        let (bytes, version) = store.get_versioned("_state/lock").await.unwrap();
        assert_eq!((bytes.as_slice(), version.0.as_str()), (&b"gen 1"[..], fake::etag_of(b"gen 1").as_str()));
        let renewed = store.replace_if("_state/lock", b"gen 2".to_vec(), &version).await.unwrap();
        assert_eq!(renewed.0, fake::etag_of(b"gen 2"));
        let stale = store.replace_if("_state/lock", b"gen 2 again".to_vec(), &version).await.unwrap_err();
        assert!(
            matches!(stale, StoreError::Changed { ref location } if location == "s3://acme/p/_state/lock"),
            "{stale}"
        );
        assert_eq!(fake.object("/acme/p/_state/lock").unwrap(), &b"gen 2"[..]);
        let gone = store.replace_if("_state/missing", b"x".to_vec(), &version).await.unwrap_err();
        assert!(matches!(gone, StoreError::Changed { .. }), "{gone}");
    }

    #[tokio::test]
    async fn a_swap_whose_answer_was_lost_is_recognised_as_ours_on_the_retry() {
        let (fake, store) = scripted_store().await;
        fake.insert("/acme/p/_state/lock", b"gen 1");
        let (_, version) = store.get_versioned("_state/lock").await.unwrap();
        fake.fail_next(&[Fault::ApplyThenFail { status: 500, code: "InternalError" }]);
        let renewed = store.replace_if("_state/lock", b"gen 2".to_vec(), &version).await.unwrap();
        assert_eq!(renewed.0, fake::etag_of(b"gen 2"));
        assert_eq!(fake.requests(), 4, "the read, the swap, its refused retry, and the read-back");
    }
}
