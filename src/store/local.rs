//! A local folder as an object store (`file://…`): each key is a file below the root.

mod durable;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncReadExt;

use super::{ObjectMeta, ObjectReader, ObjectStore, ObjectVersion, StoreError};
use durable::{SwapRefused, TMP_MARKER};

/// Writes `bytes` as the whole of the file `path`, readable by every user (a metrics file for
/// node_exporter's textfile collector): temporary file, fsync, rename, folder fsync — a reader
/// sees the old content or the new, never a part. Blocking.
pub fn write_readable_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    durable::replace_readable(path, bytes)
}

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

    /// A tiny tmpfs mounted on a temporary folder, to fill up (Linux, root only); unmounted on
    /// drop.
    #[cfg(target_os = "linux")]
    pub(crate) struct SmallDisk {
        pub dir: tempfile::TempDir,
    }

    #[cfg(target_os = "linux")]
    impl SmallDisk {
        /// `None` (with the reason printed) when this process may not mount.
        pub(super) fn mount() -> Option<SmallDisk> {
            let dir = tempfile::tempdir().unwrap();
            let mounted = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
                .arg(dir.path())
                .output();
            match mounted {
                Ok(out) if out.status.success() => Some(SmallDisk { dir }),
                Ok(out) => {
                    eprintln!(
                        "skipped: cannot mount a small tmpfs (not root?): {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                    None
                }
                Err(err) => {
                    eprintln!("skipped: cannot run mount: {err}");
                    None
                }
            }
        }

        /// Fills the disk to the last byte.
        pub(super) fn fill(&self) {
            use std::io::Write;
            let mut filler = std::fs::File::create(self.dir.path().join("filler")).unwrap();
            while filler.write_all(&[7; 4096]).is_ok() {}
            while filler.write_all(&[7]).is_ok() {}
        }

        pub(super) fn free(&self) {
            std::fs::remove_file(self.dir.path().join("filler")).unwrap();
        }
    }

    #[cfg(target_os = "linux")]
    impl Drop for SmallDisk {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.dir.path()).status();
        }
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_full_disk_fails_every_write_clearly_and_leaves_no_empty_or_partial_file() {
        let Some(disk) = SmallDisk::mount() else { return };
        let store = LocalStore::new(disk.dir.path().join("bucket"));
        store.put("t/_state/watermark.json", b"{\"old\": true}".to_vec()).await.unwrap();
        let (_, version) = store.get_versioned("t/_state/watermark.json").await.unwrap();
        let source = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(source.path(), vec![1; 8192]).unwrap();
        disk.fill();

        let big = vec![b'x'; 4096];
        let failures = [
            store.create_new("t/_state/lock", big.clone()).await.unwrap_err(),
            store.put("t/_state/runs/r1.json", big.clone()).await.unwrap_err(),
            store.put("t/_state/watermark.json", big.clone()).await.unwrap_err(),
            store.replace_if("t/_state/watermark.json", big.clone(), &version).await.unwrap_err(),
            store.put_file("t/staged/r1/part-00000.json.gz", source.path()).await.unwrap_err(),
        ];
        for failure in failures {
            let message = failure.to_string();
            assert!(message.contains("No space left on device") && message.contains("file://"), "{message}");
        }
        let keys: Vec<_> = store.list("t/").await.unwrap().into_iter().map(|o| o.key).collect();
        assert_eq!(keys, ["t/_state/watermark.json"]);
        assert_eq!(store.get("t/_state/watermark.json").await.unwrap(), b"{\"old\": true}");
        assert!(store.walk("t/", true).await.unwrap().is_empty(), "no temporaries left");

        disk.free();
        store.create_new("t/_state/lock", big.clone()).await.unwrap();
        store.replace_if("t/_state/watermark.json", big.clone(), &version).await.unwrap();
        store.put_file("t/staged/r1/part-00000.json.gz", source.path()).await.unwrap();
        assert_eq!(store.get("t/_state/lock").await.unwrap(), big);
    }

    #[tokio::test]
    async fn a_swap_from_a_stale_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        assert!(matches!(
            store.replace_if("t/lock", b"a".to_vec(), &durable::version_of(b"")).await,
            Err(StoreError::Changed { .. })
        ));
        store.put("t/lock", b"one".to_vec()).await.unwrap();
        let (_, one) = store.get_versioned("t/lock").await.unwrap();
        let two = store.replace_if("t/lock", b"two".to_vec(), &one).await.unwrap();
        assert!(matches!(
            store.replace_if("t/lock", b"x".to_vec(), &one).await,
            Err(StoreError::Changed { .. })
        ));
        store.replace_if("t/lock", b"three".to_vec(), &two).await.unwrap();
        assert_eq!(store.get("t/lock").await.unwrap(), b"three");
    }

    #[tokio::test]
    async fn racing_swaps_from_one_version_let_exactly_one_through() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        store.put("t/lock", b"start".to_vec()).await.unwrap();
        for round in 0..20u8 {
            let (_, version) = store.get_versioned("t/lock").await.unwrap();
            let attempts = (0..6u8).map(|i| {
                let (store, version) = (store.clone(), version.clone());
                tokio::spawn(
                    async move { store.replace_if("t/lock", vec![round, i], &version).await.is_ok() },
                )
            });
            let results = futures::future::join_all(attempts).await;
            assert_eq!(results.into_iter().filter(|r| *r.as_ref().unwrap()).count(), 1, "round {round}");
        }
    }

    #[tokio::test]
    async fn only_provably_abandoned_temporaries_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        store.put("t/_state/lock", b"x".to_vec()).await.unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let host = durable::host_tag();
        let folder = dir.path().join("t/_state");
        let dead_writer = folder.join(format!("lock{TMP_MARKER}{host}-{dead}-0"));
        let live_writer = folder.join(format!("lock{TMP_MARKER}{host}-{}-9", std::process::id()));
        let other_host = folder.join(format!("lock{TMP_MARKER}elsewhere-{dead}-0"));
        for path in [&dead_writer, &live_writer, &other_host] {
            std::fs::write(path, b"").unwrap();
        }
        let removed = store.remove_abandoned_temporaries("t/", Duration::from_secs(3600)).await.unwrap();
        assert_eq!(removed, 1);
        assert!(!dead_writer.exists() && live_writer.exists() && other_host.exists());
        // Untouched for the whole period: abandoned whoever wrote them.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let removed = store.remove_abandoned_temporaries("t/", Duration::from_millis(10)).await.unwrap();
        assert_eq!(removed, 2);
        assert_eq!(store.get("t/_state/lock").await.unwrap(), b"x");
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
