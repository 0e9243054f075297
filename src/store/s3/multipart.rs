//! Large files go up in parts: one PutObject may carry at most 5 GiB, and a part that fails is
//! retried alone instead of the whole file. Parts are read from disk as they are sent, so memory
//! stays flat in the file's size; the object appears only when the upload is completed, so
//! readers never see a part of it. A failed upload is aborted, so S3 keeps no orphaned parts.
//!
//! Each call is retried when it fails transiently (see the store's module doc): a part sent
//! again replaces itself. A CompleteMultipartUpload whose answer was lost is retried too (by the
//! SDK or by us); when S3 then no longer knows the upload (`NoSuchUpload`), an earlier attempt
//! completed it, which a HeadObject of the full size confirms.
//!
//! Checksums: the SDK adds a CRC32 checksum to every UploadPart by default, and real S3 then
//! refuses a CompleteMultipartUpload that does not list each part's checksum (`InvalidPart`;
//! stand-ins do not check, aws-facts §9). So the upload is created with CRC32, each part is
//! sent with CRC32, and each part's checksum goes into its CompletedPart ("CompletedPart",
//! Amazon S3 API Reference: the checksum "is present if the multipart upload request was
//! created with the CRC32 checksum algorithm"; "Checking object integrity", S3 User Guide).

use std::path::Path;

use aws_sdk_s3::operation::upload_part::UploadPartOutput;
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};

use super::S3Store;
use crate::aws::{AwsFailure, FailureKind};
use crate::store::{ObjectStore, StoreError};

/// The checksum of every part and of the upload, the one the SDK computes by default.
const CHECKSUM: ChecksumAlgorithm = ChecksumAlgorithm::Crc32;

/// S3 allows at most this many parts per upload.
const MAX_PARTS: u64 = 10_000;
/// And parts (all but the last) of at least this size.
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// When `put_file` uploads in parts, and how large they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MultipartPolicy {
    /// Files larger than this are uploaded in parts.
    pub threshold: u64,
    /// Bytes per part (raised to S3's 5 MiB minimum, and as needed to stay within 10 000 parts).
    pub part_size: u64,
}

impl Default for MultipartPolicy {
    /// Parts from 16 MiB on, 8 MiB each.
    fn default() -> MultipartPolicy {
        MultipartPolicy { threshold: 16 * 1024 * 1024, part_size: 8 * 1024 * 1024 }
    }
}

impl MultipartPolicy {
    /// The part size used for a file of `size` bytes.
    fn part_size_for(&self, size: u64) -> u64 {
        self.part_size.max(MIN_PART_SIZE).max(size.div_ceil(MAX_PARTS))
    }
}

/// Uploads `file` (`size` bytes) to `key` in parts.
pub(super) async fn upload_file(
    store: &S3Store,
    key: &str,
    file: &Path,
    size: u64,
) -> Result<(), StoreError> {
    let object_key = store.object_key(key)?;
    // A create whose answer was lost leaves an upload nobody completes; the bucket's lifecycle
    // rule for incomplete uploads (see docs/aws.md) removes it.
    let created = store
        .retrying("CreateMultipartUpload", || async {
            let request = store
                .client
                .create_multipart_upload()
                .bucket(&store.bucket)
                .key(&object_key)
                .checksum_algorithm(CHECKSUM);
            request.send().await.map_err(|e| AwsFailure::from_sdk(&e))
        })
        .await
        .map_err(|failure| store.classified(key, failure))?;
    let upload_id = created.upload_id().unwrap_or_default().to_owned();
    let result = upload_parts(store, key, &object_key, &upload_id, file, size).await;
    if result.is_err() {
        abort(store, key, &object_key, &upload_id).await;
    }
    result
}

async fn upload_parts(
    store: &S3Store,
    key: &str,
    object_key: &str,
    upload_id: &str,
    file: &Path,
    size: u64,
) -> Result<(), StoreError> {
    let part_size = store.multipart.part_size_for(size);
    let mut completed = Vec::new();
    for (index, offset) in (0..size).step_by(part_size as usize).enumerate() {
        let part = Part { number: index as i32 + 1, offset, length: part_size.min(size - offset) };
        let uploaded = store
            .retrying("UploadPart", || upload_part(store, object_key, upload_id, file, part))
            .await
            .map_err(|failure| store.classified(key, failure))?;
        completed.push(completed_part(part.number, &uploaded));
    }
    let parts = CompletedMultipartUpload::builder().set_parts(Some(completed)).build();
    complete(store, key, object_key, upload_id, parts, size).await
}

/// One part of the file.
#[derive(Debug, Clone, Copy)]
struct Part {
    number: i32,
    offset: u64,
    length: u64,
}

/// What CompleteMultipartUpload needs of an uploaded part: its ETag and its checksum.
fn completed_part(number: i32, uploaded: &UploadPartOutput) -> CompletedPart {
    CompletedPart::builder()
        .part_number(number)
        .set_e_tag(uploaded.e_tag().map(str::to_owned))
        .set_checksum_crc32(uploaded.checksum_crc32().map(str::to_owned))
        .build()
}

/// Sends one part with its CRC32, read from disk as it goes.
async fn upload_part(
    store: &S3Store,
    object_key: &str,
    upload_id: &str,
    file: &Path,
    part: Part,
) -> Result<UploadPartOutput, AwsFailure> {
    let body = ByteStream::read_from()
        .path(file)
        .offset(part.offset)
        .length(Length::Exact(part.length))
        .build()
        .await
        .map_err(|e| AwsFailure {
            kind: FailureKind::Other,
            code: None,
            message: format!("cannot read {}: {e}", file.display()),
            status: None,
        })?;
    store
        .client
        .upload_part()
        .bucket(&store.bucket)
        .key(object_key)
        .upload_id(upload_id)
        .part_number(part.number)
        .content_length(part.length as i64)
        .checksum_algorithm(CHECKSUM)
        .body(body)
        .send()
        .await
        .map_err(|e| AwsFailure::from_sdk(&e))
}

/// Completes the upload; see the module doc for a completion whose answer was lost.
async fn complete(
    store: &S3Store,
    key: &str,
    object_key: &str,
    upload_id: &str,
    parts: CompletedMultipartUpload,
    size: u64,
) -> Result<(), StoreError> {
    let completion = store
        .retrying("CompleteMultipartUpload", || async {
            let request = store
                .client
                .complete_multipart_upload()
                .bucket(&store.bucket)
                .key(object_key)
                .upload_id(upload_id)
                .multipart_upload(parts.clone());
            request.send().await.map(drop).map_err(|e| AwsFailure::from_sdk(&e))
        })
        .await;
    match completion {
        Ok(()) => Ok(()),
        Err(failure) if failure.code.as_deref() == Some("NoSuchUpload") => match store.head(key).await? {
            Some(object) if object.size == size => Ok(()),
            _ => Err(store.classified(key, failure)),
        },
        Err(failure) => Err(store.classified(key, failure)),
    }
}

/// Best effort: a failed abort only leaves parts that a bucket lifecycle rule can clean up.
async fn abort(store: &S3Store, key: &str, object_key: &str, upload_id: &str) {
    let aborted = store
        .retrying("AbortMultipartUpload", || async {
            let request = store
                .client
                .abort_multipart_upload()
                .bucket(&store.bucket)
                .key(object_key)
                .upload_id(upload_id);
            request.send().await.map(drop).map_err(|e| AwsFailure::from_sdk(&e))
        })
        .await;
    if let Err(failure) = aborted {
        let error = store.classified(key, failure);
        tracing::warn!(url = %store.url_of(key), %error, "could not abort a failed multipart upload");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_completed_part_carries_the_checksum_its_upload_returned() {
        let uploaded = UploadPartOutput::builder().e_tag("\"etag-3\"").checksum_crc32("yZRlqg==").build();
        let part = completed_part(3, &uploaded);
        assert_eq!(part.part_number(), Some(3));
        assert_eq!(part.e_tag(), Some("\"etag-3\""));
        assert_eq!(part.checksum_crc32(), Some("yZRlqg=="), "S3 refuses the completion without it");
    }

    #[test]
    fn parts_respect_s3_limits() {
        let policy = MultipartPolicy { threshold: 0, part_size: 1024 };
        assert_eq!(policy.part_size_for(10 * 1024 * 1024), MIN_PART_SIZE);
        let default = MultipartPolicy::default();
        assert_eq!(default.part_size_for(100 * 1024 * 1024), 8 * 1024 * 1024);
        let huge = 200 * 1024 * 1024 * 1024;
        assert_eq!(default.part_size_for(huge), huge.div_ceil(MAX_PARTS));
        assert!(huge.div_ceil(default.part_size_for(huge)) <= MAX_PARTS);
    }
}
