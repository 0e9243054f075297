//! A store that cancels a load at one object, to test cancellation in the middle of a COPY.

use std::path::Path;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::store::{LocalStore, ObjectMeta, ObjectReader, ObjectStore, StoreError};

/// A [`LocalStore`] that cancels the load when it is asked to open `trigger_key`; every other
/// call passes through unchanged.
#[derive(Debug)]
pub struct CancelOnOpen {
    pub inner: LocalStore,
    pub trigger_key: String,
    pub cancel: CancellationToken,
}

#[async_trait]
impl ObjectStore for CancelOnOpen {
    fn root_url(&self) -> String {
        self.inner.root_url()
    }
    fn url_of(&self, key: &str) -> String {
        self.inner.url_of(key)
    }
    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.inner.get(key).await
    }
    async fn open(&self, key: &str) -> Result<ObjectReader, StoreError> {
        if key == self.trigger_key {
            self.cancel.cancel();
        }
        self.inner.open(key).await
    }
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.inner.put(key, bytes).await
    }
    async fn put_file(&self, key: &str, file: &Path) -> Result<(), StoreError> {
        self.inner.put_file(key, file).await
    }
    async fn create_new(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.inner.create_new(key, bytes).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        self.inner.head(key).await
    }
}
