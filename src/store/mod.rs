//! Object stores: where exports, staged files and run state live. S3 in production, a local
//! folder standing in for a bucket in the embedded default and in tests.

mod local;
mod s3;

use std::path::Path;
use std::pin::Pin;

use async_trait::async_trait;
use tokio::io::AsyncRead;

pub use local::{LocalStore, write_readable_file};
pub use s3::{MultipartPolicy, S3Store};

/// A streaming object body.
pub type ObjectReader = Pin<Box<dyn AsyncRead + Send>>;

/// An object's version as its store tags it (S3: the ETag; a local folder: a hash of the
/// content), the token of a compare-and-swap write. Only compared for equality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion(pub String);

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
}

/// What went wrong, with the key it concerns; callers branch on `NotFound` and `AlreadyExists`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{location}: no such object")]
    NotFound { location: String },
    #[error("{location}: already exists")]
    AlreadyExists { location: String },
    /// A conditional write found the object changed (or gone) since the version it expected.
    #[error("{location}: changed by another writer")]
    Changed { location: String },
    #[error("{location}: {source}")]
    Io {
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{location}: {message}")]
    Other { location: String, message: String },
}

/// A flat key → bytes store with the few operations dynashift needs. Keys are `/`-separated and
/// relative to the store's root (bucket + prefix).
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// The root, as a URL (`file:///…` or `s3://bucket/prefix/`).
    fn root_url(&self) -> String;

    /// The URL of one object, as a warehouse's COPY would name it.
    fn url_of(&self, key: &str) -> String;

    /// Reads a whole (small) object.
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError>;

    /// Opens an object for streaming.
    async fn open(&self, key: &str) -> Result<ObjectReader, StoreError>;

    /// Writes an object atomically (readers see the old or the new object, never a part).
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError>;

    /// Uploads a local file as an object, atomically.
    async fn put_file(&self, key: &str, file: &Path) -> Result<(), StoreError>;

    /// Creates an object only if no object has that key (`AlreadyExists` otherwise). The lock
    /// lease relies on this being atomic.
    async fn create_new(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError>;

    /// Reads a whole (small) object with its version, for a later [`ObjectStore::replace_if`].
    async fn get_versioned(&self, key: &str) -> Result<(Vec<u8>, ObjectVersion), StoreError> {
        Err(StoreError::Other {
            location: self.url_of(key),
            message: "this store cannot read object versions (no compare-and-swap)".into(),
        })
    }

    /// Replaces an object only while it is still at `expected` (`Changed` otherwise, also when
    /// it is gone), atomically against every other conditional writer; returns the new version.
    /// The lock lease's renewals and takeovers rely on this.
    async fn replace_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: &ObjectVersion,
    ) -> Result<ObjectVersion, StoreError> {
        let _ = (bytes, expected);
        Err(StoreError::Other {
            location: self.url_of(key),
            message: "this store has no compare-and-swap write".into(),
        })
    }

    /// Removes what writers killed midway left below `prefix` (temporary files), when they are
    /// provably abandoned: their writer is gone, or nothing touched them for `older_than`.
    /// Returns how many it removed. Stores whose writes leave nothing behind (S3, where a PUT is
    /// atomic) have nothing to do.
    async fn remove_abandoned_temporaries(
        &self,
        prefix: &str,
        older_than: std::time::Duration,
    ) -> Result<usize, StoreError> {
        let _ = (prefix, older_than);
        Ok(0)
    }

    /// Lists every object whose key starts with `prefix`, sorted by key.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError>;

    /// Deletes an object; deleting a missing object is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Size of an object, or `None` when it does not exist.
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError>;

    /// The store key of an object that export manifests name by its bucket key
    /// (`manifestFilesS3Key`, `dataFileS3Key`, DescribeExport's `ExportManifest`: relative to the
    /// bucket, S3 prefix included), or `None` when it lies outside this store. A store rooted at
    /// the bucket's root (the local store) maps every key to itself; an S3 store rooted at
    /// `s3://bucket/prefix/` strips `prefix/`.
    fn store_key(&self, bucket_key: &str) -> Option<String> {
        Some(bucket_key.to_owned())
    }

    /// The bucket key of a store key: the inverse of [`ObjectStore::store_key`], for writers of
    /// export manifests (the demo source writes them as AWS does, bucket-relative).
    fn bucket_key(&self, store_key: &str) -> String {
        store_key.to_owned()
    }
}

/// Whether `pid` names no running process of this host (it crashed or was killed). Only
/// decidable on Linux (`/proc`); elsewhere every process counts as alive, which only makes
/// recovery wait for the lease period instead of acting at once.
pub fn is_dead_process_of_this_host(pid: u32) -> bool {
    cfg!(target_os = "linux") && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
}
