//! Temporary files that staged parts are compressed into before they go to the store.
//!
//! Compressing a part into a file rather than into memory keeps the stage step's memory
//! independent of the part size (`staged_file_bytes` may be a gigabyte: Redshift likes large
//! files). The file removes itself when dropped, whether the part was uploaded or the stage failed.
//!
//! A killed process drops nothing, so its files live in a folder of their own ([`SpoolDir`]:
//! `<temp>/dynashift-spool/<run>-<pid>-<n>/`) that the process holds an advisory lock on for as long
//! as it stages. The next stage step of any run removes every folder whose lock it can take —
//! its owner is gone, as the OS releases a dead process's locks — and the loose
//! `dynashift-part-<pid>-*` files of versions before the folders whose process no longer runs.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static SPOOL_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The folder under the temporary folder that holds every run's spool folder.
const SPOOL_ROOT: &str = "dynashift-spool";
/// The lock file in each spool folder, locked by the process that spools into it.
const LOCK_FILE: &str = ".lock";
/// The name prefix of a spool folder whose lock is not held yet.
const CLAIMING_PREFIX: &str = ".claiming-";

/// One run's spool folder, locked while it exists, removed (with anything left in it) on drop.
#[derive(Debug)]
pub(super) struct SpoolDir {
    path: PathBuf,
    /// Holds the advisory lock; the OS releases it when the process ends, however it ends.
    _lock: File,
}

impl SpoolDir {
    /// Removes the spool folders that killed processes left under `temp`, then creates and
    /// locks this run's own.
    pub(super) fn claim(temp: &Path, run_id: &str) -> io::Result<SpoolDir> {
        let root = temp.join(SPOOL_ROOT);
        sweep(&root, temp);
        // Unique within the process too: two stage steps of one process (the console syncing
        // several tables, or tests reusing a run id) must never share, or remove, a folder.
        let n = SPOOL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{run_id}-{}-{n}", std::process::id());
        // The folder is built under a hidden name and renamed once its lock is held, so a sweep
        // of another process never sees it unlocked under its final name: a sweep that opened
        // the lock file between its creation and its locking would take it and remove the
        // folder under a stage in progress.
        let claiming = root.join(format!("{CLAIMING_PREFIX}{name}"));
        std::fs::create_dir_all(&root)?;
        private_folder(&claiming)?;
        let lock =
            OpenOptions::new().write(true).create(true).truncate(false).open(claiming.join(LOCK_FILE))?;
        lock.lock()?;
        let path = root.join(name);
        std::fs::rename(&claiming, &path)?;
        Ok(SpoolDir { path, _lock: lock })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SpoolDir {
    fn drop(&mut self) {
        // Best effort: what stays is removed by the next run's sweep.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Best effort, never failing the stage: removes the spool folders under `root` nobody holds,
/// and the loose spool files older versions left in `temp` whose process no longer runs.
fn sweep(root: &Path, temp: &Path) {
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let folder = entry.path();
        let being_claimed = entry.file_name().to_string_lossy().starts_with(CLAIMING_PREFIX);
        let abandoned = if being_claimed {
            // Being claimed right now, or left by a process killed mid-claim: only the latter
            // is old.
            older_than(&folder, UNLOCKED_GRACE)
        } else {
            match File::open(folder.join(LOCK_FILE)) {
                Ok(lock) => lock.try_lock().is_ok(),
                Err(e) => e.kind() == io::ErrorKind::NotFound,
            }
        };
        if abandoned && folder.is_dir() {
            let _ = std::fs::remove_dir_all(&folder);
        }
    }
    for entry in std::fs::read_dir(temp).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = legacy_spool_pid(&name)
            && !process_runs(pid)
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// How long a folder may stay in its claiming name before it counts as left by a killed process.
const UNLOCKED_GRACE: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether `path` was last modified more than `age` ago (false when that cannot be told).
fn older_than(path: &Path, age: std::time::Duration) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| modified.elapsed().ok())
        .is_some_and(|elapsed| elapsed > age)
}

/// The process id in a spool file name of versions before spool folders:
/// `dynashift-part-<pid>-<n>.json.gz`.
fn legacy_spool_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("dynashift-part-")?.strip_suffix(".json.gz")?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u64>().ok()?;
    pid.parse().ok()
}

/// Whether process `pid` runs. Only Linux can tell (through /proc); elsewhere every process is
/// assumed to run, so nothing is removed.
fn process_runs(pid: u32) -> bool {
    if cfg!(target_os = "linux") { Path::new("/proc").join(pid.to_string()).exists() } else { true }
}

/// Creates the folder `path` readable by this user only (0700 on Unix). Spool files hold the
/// table's rows, and the temporary folder is shared by every user of the host: with the default
/// umask they would be world-readable while a stage runs. (The files are created 0600 too.)
fn private_folder(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// A temporary file, deleted on drop.
#[derive(Debug)]
pub(super) struct SpoolFile {
    path: PathBuf,
    file: File,
}

impl SpoolFile {
    /// Creates a new, empty file in `dir` named `dynashift-<kind>-<pid>-<n>.<extension>`, a
    /// name no other spool file (of any process) has.
    pub(super) fn create_named(dir: &Path, kind: &str, extension: &str) -> io::Result<SpoolFile> {
        let n = SPOOL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("dynashift-{kind}-{}-{n}.{extension}", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&path)?;
        Ok(SpoolFile { path, file })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far.
    pub(super) fn written_bytes(&self) -> io::Result<u64> {
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

    #[cfg(unix)]
    #[test]
    fn a_runs_spool_folder_and_files_are_readable_by_their_user_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let temp = tempfile::tempdir().unwrap();
        let spool = SpoolDir::claim(temp.path(), "private").unwrap();
        let file = SpoolFile::create_named(spool.path(), "keys", "bin").unwrap();
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(spool.path()), 0o700);
        assert_eq!(mode(file.path()), 0o600);
    }

    #[test]
    fn a_killed_runs_spool_folder_is_removed_by_the_next_claim_and_a_live_one_is_kept() {
        let temp = tempfile::tempdir().unwrap();
        let live = SpoolDir::claim(temp.path(), "live").unwrap();
        let file = SpoolFile::create_named(live.path(), "part", "json.lz4").unwrap();
        // A killed run: its folder and files stay, its lock is gone with its process.
        let dead = temp.path().join(SPOOL_ROOT).join("dead-1");
        std::fs::create_dir_all(&dead).unwrap();
        std::fs::write(dead.join(LOCK_FILE), b"").unwrap();
        std::fs::write(dead.join("dynashift-part-1-0.json.gz"), b"left behind").unwrap();
        // A file of a version before spool folders, of a process that no longer runs.
        let legacy = temp.path().join(format!("dynashift-part-{}-3.json.gz", u32::MAX - 1));
        std::fs::write(&legacy, b"left behind").unwrap();
        let mine = temp.path().join(format!("dynashift-part-{}-3.json.gz", std::process::id()));
        std::fs::write(&mine, b"in use").unwrap();

        let next = SpoolDir::claim(temp.path(), "next").unwrap();
        assert!(!dead.exists(), "the killed run's folder is removed");
        assert!(live.path().exists() && file.path().exists(), "a locked folder is in use");
        assert!(!legacy.exists() && mine.exists(), "only files of ended processes go");
        let (live_path, next_path) = (live.path().to_owned(), next.path().to_owned());
        drop(file);
        drop(live);
        drop(next);
        assert!(!live_path.exists() && !next_path.exists());
    }

    #[test]
    fn claims_in_one_process_never_share_or_sweep_each_others_folders() {
        let temp = tempfile::tempdir().unwrap();
        let first = SpoolDir::claim(temp.path(), "run-1").unwrap();
        // A folder another thread has just created and not locked yet: young, so it is kept.
        let claiming = temp.path().join(SPOOL_ROOT).join(format!("{CLAIMING_PREFIX}other-1-0"));
        std::fs::create_dir_all(&claiming).unwrap();
        std::fs::write(claiming.join(LOCK_FILE), b"").unwrap();
        let second = SpoolDir::claim(temp.path(), "run-1").unwrap();
        assert_ne!(first.path(), second.path(), "the same run id twice gets two folders");
        assert!(claiming.exists(), "a folder being claimed is not swept");
        let first_path = first.path().to_owned();
        drop(first);
        assert!(!first_path.exists() && second.path().exists(), "dropping one keeps the other");
    }

    #[test]
    fn legacy_spool_names_are_recognised_exactly() {
        assert_eq!(legacy_spool_pid("dynashift-part-4242-7.json.gz"), Some(4242));
        assert_eq!(legacy_spool_pid("dynashift-part-4242.json.gz"), None);
        assert_eq!(legacy_spool_pid("other-4242-7.json.gz"), None);
    }

    #[test]
    fn spool_files_are_unique_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = SpoolFile::create_named(dir.path(), "part", "json.lz4").unwrap();
        let second = SpoolFile::create_named(dir.path(), "part", "json.lz4").unwrap();
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
