//! The demo's state files: private to the user (0600 files, 0700 folders, as they describe a
//! "database"), replaced atomically (write aside, then rename), and guarded by lock files so two
//! dynashift processes (a console and a cron job) never interleave a read-modify-write.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::DemoError;

/// Creates `dir` (and its parents) if missing, private to the user.
pub(super) fn create_private_dir(dir: &Path) -> Result<(), DemoError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(DemoError::io(dir))
}

/// Open options that create files readable by the user alone.
pub(super) fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Replaces `path` with `bytes` so that readers see the old or the new content, never a part.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DemoError> {
    let tmp = sibling(path, ".tmp");
    let written = (|| {
        let mut file = private_options().write(true).create(true).truncate(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(DemoError::io(path))
}

/// Writes `value` as pretty JSON (state files are small and people look at them).
pub(super) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), DemoError> {
    let bytes = serde_json::to_vec_pretty(value).expect("demo state always serializes");
    write_atomic(path, &bytes)
}

/// Reads JSON from `path`; `None` when the file does not exist. `folder` is what a damaged file
/// tells the user to delete.
pub(super) fn read_json<T: DeserializeOwned>(path: &Path, folder: &Path) -> Result<Option<T>, DemoError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map(Some).map_err(|e| DemoError::damaged(path, folder, e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DemoError::Io { path: path.to_owned(), source: e }),
    }
}

/// An exclusive lock on `path` (created if missing), held until the returned guard is dropped.
/// Blocks while another process (or another handle in this one) holds it.
pub(super) fn lock_exclusive(path: &Path) -> Result<FileLock, DemoError> {
    let file = private_options().read(true).write(true).create(true).truncate(false).open(path);
    let file = file.map_err(DemoError::io(path))?;
    file.lock().map_err(DemoError::io(path))?;
    Ok(FileLock { _file: file })
}

/// Holds a lock taken by [`lock_exclusive`]; closing the file releases it.
#[derive(Debug)]
pub(super) struct FileLock {
    _file: File,
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(format!("{suffix}-{}", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn atomic_writes_replace_content_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_json(&path, &vec![1, 2]).unwrap();
        write_json(&path, &vec![3]).unwrap();
        assert_eq!(read_json::<Vec<u32>>(&path, dir.path()).unwrap(), Some(vec![3]));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn missing_files_read_as_none_and_damaged_ones_name_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.json");
        assert_eq!(read_json::<u32>(&path, dir.path()).unwrap(), None);
        std::fs::write(&path, "{not json").unwrap();
        let err = read_json::<u32>(&path, dir.path()).unwrap_err().to_string();
        assert!(err.contains("meta.json") && err.contains("delete the folder"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn private_dirs_are_user_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir(&nested).unwrap();
        assert_eq!(std::fs::metadata(&nested).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_lock_excludes_a_second_holder_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = lock_exclusive(&path).unwrap();
        let acquired = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (path, acquired) = (path.clone(), acquired.clone());
            std::thread::spawn(move || {
                let _second = lock_exclusive(&path).unwrap();
                acquired.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!acquired.load(Ordering::SeqCst), "the second lock must wait");
        drop(first);
        waiter.join().unwrap();
        assert!(acquired.load(Ordering::SeqCst));
    }
}
