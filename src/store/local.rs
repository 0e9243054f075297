//! A local folder as an object store (`file://…`): each key is a file below the root.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{ObjectMeta, ObjectReader, ObjectStore, StoreError};

/// Temporary files are written beside their target with this marker, then renamed into place.
const TMP_MARKER: &str = ".dynashift-tmp-";

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

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

    fn temp_path_for(path: &Path) -> PathBuf {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        path.with_file_name(format!("{name}{TMP_MARKER}{}-{n}", std::process::id()))
    }

    async fn ensure_parent(&self, key: &str, path: &Path) -> Result<(), StoreError> {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| self.io(key, e))?;
        }
        Ok(())
    }
}

impl LocalStore {
    /// Opens an object for reading, refusing what a bucket cannot hold: a symlink leading out of
    /// the store's folder, and anything but a regular file (a FIFO would block the read, and the
    /// run with its lease, forever; a device has no end). The last path component is opened with
    /// `O_NOFOLLOW` and `O_NONBLOCK`, so neither a symlink swapped in after the check nor a FIFO
    /// can block or redirect the open; the type is then checked on the open file itself.
    async fn open_object(&self, key: &str) -> Result<tokio::fs::File, StoreError> {
        let path = self.path_of(key)?;
        let refuse = |message: String| StoreError::Other { location: self.url_of(key), message };
        let resolved = tokio::fs::canonicalize(&path).await.map_err(|e| self.io(key, e))?;
        let root = tokio::fs::canonicalize(&self.root).await.map_err(|e| self.io(key, e))?;
        if !resolved.starts_with(&root) {
            return Err(refuse(format!(
                "the object is a symlink to {}, outside the store's folder {}; refusing to read it",
                resolved.display(),
                root.display()
            )));
        }
        let mut options = tokio::fs::OpenOptions::new();
        options.read(true);
        #[cfg(unix)]
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        let file = options.open(&resolved).await.map_err(|e| self.io(key, e))?;
        let metadata = file.metadata().await.map_err(|e| self.io(key, e))?;
        if !metadata.is_file() {
            return Err(refuse(format!(
                "the object is not a regular file ({}); refusing to read it",
                file_kind(&metadata.file_type())
            )));
        }
        Ok(file)
    }
}

/// "a FIFO", "a directory"…, for messages.
fn file_kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() { "a directory" } else { "not a file" }
}

/// State files are private to the user running dynashift.
#[cfg(unix)]
fn private_options(options: &mut tokio::fs::OpenOptions) {
    options.mode(0o600);
}

#[cfg(not(unix))]
fn private_options(_options: &mut tokio::fs::OpenOptions) {}

#[async_trait]
impl ObjectStore for LocalStore {
    fn root_url(&self) -> String {
        format!("file://{}/", self.root.display())
    }

    fn url_of(&self, key: &str) -> String {
        format!("file://{}/{key}", self.root.display())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let mut file = self.open_object(key).await?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).await.map_err(|e| self.io(key, e))?;
        Ok(bytes)
    }

    async fn open(&self, key: &str) -> Result<ObjectReader, StoreError> {
        Ok(Box::pin(self.open_object(key).await?))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        self.ensure_parent(key, &path).await?;
        let tmp = Self::temp_path_for(&path);
        let result = async {
            let mut options = tokio::fs::OpenOptions::new();
            options.write(true).create_new(true);
            private_options(&mut options);
            let mut file = options.open(&tmp).await?;
            file.write_all(&bytes).await?;
            file.sync_all().await?;
            tokio::fs::rename(&tmp, &path).await
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result.map_err(|e| self.io(key, e))
    }

    async fn put_file(&self, key: &str, file: &Path) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        self.ensure_parent(key, &path).await?;
        let tmp = Self::temp_path_for(&path);
        let result = async {
            tokio::fs::copy(file, &tmp).await?;
            tokio::fs::rename(&tmp, &path).await
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        result.map_err(|e| self.io(key, e))
    }

    async fn create_new(&self, key: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        self.ensure_parent(key, &path).await?;
        // Write the content aside, then hard-link it into place: `link` fails if the target
        // exists, so exactly one of several racing writers wins, and readers never see a
        // half-written object.
        let tmp = Self::temp_path_for(&path);
        let result = async {
            let mut options = tokio::fs::OpenOptions::new();
            options.write(true).create_new(true);
            private_options(&mut options);
            let mut file = options.open(&tmp).await?;
            file.write_all(&bytes).await?;
            file.sync_all().await?;
            tokio::fs::hard_link(&tmp, &path).await
        }
        .await;
        let _ = tokio::fs::remove_file(&tmp).await;
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                Err(StoreError::AlreadyExists { location: self.url_of(key) })
            }
            Err(e) => Err(self.io(key, e)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        // Walk from the deepest folder the prefix names, then filter by the full prefix.
        let dir_part = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
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
                let Ok(relative) = path.strip_prefix(&self.root) else { continue };
                let key = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if key.starts_with(prefix) && !key.contains(TMP_MARKER) {
                    let size = entry.metadata().await.map_err(|e| self.io(&key, e))?.len();
                    out.push(ObjectMeta { key, size });
                }
            }
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

    #[cfg(unix)]
    #[tokio::test]
    async fn reads_refuse_symlinks_out_of_the_folder_fifos_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), b"secret").unwrap();
        let store = LocalStore::new(dir.path().join("bucket"));
        store.put("t/inside.json", b"inside".to_vec()).await.unwrap();
        let data = dir.path().join("bucket/t");
        std::os::unix::fs::symlink(outside.path().join("secret"), data.join("out.json")).unwrap();
        std::os::unix::fs::symlink(data.join("inside.json"), data.join("alias.json")).unwrap();
        let fifo = std::ffi::CString::new(data.join("fifo.json").to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path; mkfifo only creates a file.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        std::fs::create_dir(data.join("dir.json")).unwrap();

        let out = store.get("t/out.json").await.unwrap_err().to_string();
        assert!(out.contains("outside the store's folder"), "{out}");
        assert!(store.open("t/out.json").await.is_err());
        assert_eq!(store.get("t/alias.json").await.unwrap(), b"inside", "links within the folder are read");
        let started = std::time::Instant::now();
        let fifo = store.open("t/fifo.json").await.err().expect("a FIFO is refused").to_string();
        assert!(fifo.contains("not a regular file (a FIFO)"), "{fifo}");
        assert!(store.get("t/fifo.json").await.is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "a FIFO never blocks");
        let directory = store.get("t/dir.json").await.unwrap_err().to_string();
        assert!(directory.contains("a directory"), "{directory}");
        assert!(matches!(store.get("t/none.json").await, Err(StoreError::NotFound { .. })));
    }
}
