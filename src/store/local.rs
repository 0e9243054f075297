//! A local folder as an object store (`file://…`): each key is a file below the root.

mod durable;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use super::{ObjectMeta, ObjectReader, ObjectStore, ObjectVersion, StoreError};
use durable::{SwapRefused, TMP_MARKER};

/// A folder standing in for a bucket.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        let valid = !key.is_empty()
            && !key.starts_with('/')
            && key.split('/').all(|part| !part.is_empty() && part != "." && part != "..");
        if !valid {
            return Err(StoreError::Other {
                location: self.url_of(key),
                message: "invalid object key (empty part, `.` or `..`)".into(),
            });
        }
        Ok(self.root.join(key))
    }

    fn io(&self, key: &str, source: std::io::Error) -> StoreError {
        if source.kind() == ErrorKind::NotFound {
            StoreError::NotFound { location: self.url_of(key) }
        } else {
            StoreError::Io { location: self.url_of(key), source }
        }
    }

    /// The key of a file below the root.
    fn key_of(&self, path: &Path) -> Option<String> {
        let relative = path.strip_prefix(&self.root).ok()?;
        Some(relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
    }

    /// The files whose keys start with `prefix`: the objects, or (`temporaries`) only the
    /// temporary files of writes in progress or abandoned. Walks from the deepest folder the
    /// prefix names, then filters by the full prefix.
    async fn walk(&self, prefix: &str, temporaries: bool) -> Result<Vec<PathBuf>, StoreError> {
        let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..i]);
        let start = if dir_part.is_empty() { self.root.clone() } else { self.root.join(dir_part) };
        let mut out = Vec::new();
        let mut stack = vec![start];
        while let Some(dir) = stack.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(self.io(prefix, e)),
            };
            while let Some(entry) = entries.next_entry().await.map_err(|e| self.io(prefix, e))? {
                let file_type = entry.file_type().await.map_err(|e| self.io(prefix, e))?;
                let path = entry.path();
                if file_type.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Some(key) = self.key_of(&path) else { continue };
                if key.starts_with(prefix) && key.contains(TMP_MARKER) == temporaries {
                    out.push(path);
                }
            }
        }
        Ok(out)
    }

    /// Runs a blocking file operation on `key`'s path off the async threads.
    async fn blocking<T, F>(&self, key: &str, operation: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Path) -> std::io::Result<T> + Send + 'static,
    {
        let path = self.path_of(key)?;
        let joined = tokio::task::spawn_blocking(move || operation(&path)).await;
        let result = joined.unwrap_or_else(|err| Err(std::io::Error::other(err)));
        result.map_err(|e| self.io(key, e))
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn root_url(&self) -> String {
        format!("file://{}/", self.root.display())
    }

    fn url_of(&self, key: &str) -> String {
        format!("file://{}/{key}", self.root.display())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path_of(key)?;
        tokio::fs::read(&path).await.map_err(|e| self.io(key, e))
    }

    async fn open(&self, key: &str) -> Result<ObjectReader, StoreError> {
        let path = self.path_of(key)?;
        let file = tokio::fs::File::open(&path).await.map_err(|e| self.io(key, e))?;
        Ok(Box::pin(file))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.blocking(key, move |path| durable::replace(path, &bytes)).await
    }

    async fn put_file(&self, key: &str, file: &Path) -> Result<(), StoreError> {
        let source = file.to_owned();
        self.blocking(key, move |path| durable::replace_with_copy(path, &source)).await
    }

    async fn create_new(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        match self.blocking(key, move |path| durable::create_new(path, &bytes)).await {
            Err(StoreError::Io { source, .. }) if source.kind() == ErrorKind::AlreadyExists => {
                Err(StoreError::AlreadyExists { location: self.url_of(key) })
            }
            other => other,
        }
    }

    async fn get_versioned(&self, key: &str) -> Result<(Vec<u8>, ObjectVersion), StoreError> {
        let bytes = self.get(key).await?;
        let version = durable::version_of(&bytes);
        Ok((bytes, version))
    }

    async fn replace_if(
        &self,
        key: &str,
        bytes: Vec<u8>,
        expected: &ObjectVersion,
    ) -> Result<ObjectVersion, StoreError> {
        let expected = expected.clone();
        let swapped = self
            .blocking(key, move |path| match durable::replace_if(path, &bytes, &expected) {
                Ok(version) => Ok(Some(version)),
                Err(SwapRefused::Changed) => Ok(None),
                Err(SwapRefused::Io(err)) => Err(err),
            })
            .await?;
        swapped.ok_or_else(|| StoreError::Changed { location: self.url_of(key) })
    }

    async fn remove_abandoned_temporaries(
        &self,
        prefix: &str,
        older_than: Duration,
    ) -> Result<usize, StoreError> {
        let mut removed = 0;
        for path in self.walk(prefix, true).await? {
            if durable::is_abandoned(&path, older_than) && tokio::fs::remove_file(&path).await.is_ok() {
                tracing::warn!(path = %path.display(), "removed a temporary file a killed writer left");
                removed += 1;
            }
        }
        Ok(removed)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        let mut out = Vec::new();
        for path in self.walk(prefix, false).await? {
            let Some(key) = self.key_of(&path) else { continue };
            let size = tokio::fs::metadata(&path).await.map_err(|e| self.io(&key, e))?.len();
            out.push(ObjectMeta { key, size });
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io(key, e)),
        }
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, StoreError> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(Some(ObjectMeta { key: key.to_owned(), size: meta.len() })),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(key, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn put_get_list_delete_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        store.put("t/a/1.json", b"one".to_vec()).await.unwrap();
        store.put("t/a/2.json", b"two".to_vec()).await.unwrap();
        store.put("t/b.json", b"three".to_vec()).await.unwrap();
        assert_eq!(store.get("t/a/1.json").await.unwrap(), b"one");
        let mut body = String::new();
        store.open("t/b.json").await.unwrap().read_to_string(&mut body).await.unwrap();
        assert_eq!(body, "three");
        let keys: Vec<_> = store.list("t/a").await.unwrap().into_iter().map(|o| o.key).collect();
        assert_eq!(keys, ["t/a/1.json", "t/a/2.json"]);
        let all = store.list("t/").await.unwrap();
        assert_eq!(all.len(), 3);
        store.delete("t/a/1.json").await.unwrap();
        store.delete("t/a/1.json").await.unwrap();
        assert!(matches!(store.get("t/a/1.json").await, Err(StoreError::NotFound { .. })));
        assert_eq!(store.head("t/b.json").await.unwrap().unwrap().size, 5);
    }

    #[tokio::test]
    async fn create_new_lets_exactly_one_writer_win() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let attempts = (0..8).map(|i| {
            let store = store.clone();
            tokio::spawn(async move { store.create_new("t/_state/lock", vec![i]).await })
        });
        let results = futures::future::join_all(attempts).await;
        let winners = results.iter().filter(|r| r.as_ref().unwrap().is_ok()).count();
        assert_eq!(winners, 1);
        assert!(store.list("t/").await.unwrap().iter().all(|o| !o.key.contains(TMP_MARKER)));
    }

    #[tokio::test]
    async fn rejects_keys_that_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        assert!(store.put("../evil", vec![]).await.is_err());
        assert!(store.put("a//b", vec![]).await.is_err());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn objects_are_private_to_the_user() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        store.put("t/_state/watermark.json", b"{}".to_vec()).await.unwrap();
        let mode =
            std::fs::metadata(dir.path().join("t/_state/watermark.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
