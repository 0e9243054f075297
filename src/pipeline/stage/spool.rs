//! Temporary files that staged parts are compressed into before they go to the store.
//!
//! Compressing a part into a file rather than into memory keeps the stage step's memory
//! independent of the part size (`staged_file_bytes` may be a gigabyte: Redshift likes large
//! files). The file removes itself when dropped, whether the part was uploaded or the stage failed.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static SPOOL_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file, deleted on drop.
#[derive(Debug)]
pub struct SpoolFile {
    path: PathBuf,
    file: File,
}

impl SpoolFile {
    /// Creates a new, empty file in `dir` with a name no other spool file (of any process) has.
    pub fn create(dir: &Path) -> io::Result<SpoolFile> {
        let n = SPOOL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("dynashift-part-{}-{n}.json.gz", std::process::id()));
        let file = OpenOptions::new().write(true).create_new(true).open(&path)?;
        Ok(SpoolFile { path, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far.
    pub fn written_bytes(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
}

impl Write for SpoolFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        // Best effort: a leftover temporary file is harmless, and drop cannot report.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_files_are_unique_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = SpoolFile::create(dir.path()).unwrap();
        let second = SpoolFile::create(dir.path()).unwrap();
        assert_ne!(first.path(), second.path());
        first.write_all(b"abc").unwrap();
        assert_eq!(first.written_bytes().unwrap(), 3);
        let path = first.path().to_owned();
        drop(first);
        drop(second);
        assert!(!path.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
