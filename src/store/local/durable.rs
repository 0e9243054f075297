//! Durable, atomic file writes for the local store, in blocking `std::fs` calls (run them on a
//! blocking thread). Every write goes to a temporary file beside its target, is written out,
//! fsynced and then renamed (or hard-linked) into place, and the folder is fsynced, so a reader
//! sees the old or the new object, never an empty or truncated one — also after a full disk, a
//! kill or a power cut.
//!
//! `std::fs` rather than `tokio::fs` on purpose: tokio's `File` buffers a small write and reports
//! its error (ENOSPC) only at the next write or flush, which `sync_all` does not surface, so a
//! write into a full disk "succeeded" and left an empty file.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::store::ObjectVersion;

/// Temporary files are written beside their target with this marker, then renamed into place.
pub(super) const TMP_MARKER: &str = ".dynashift-tmp-";

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// This host's name as it appears in temporary file names (file-name-safe).
pub(super) fn host_tag() -> String {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    host.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect()
}

/// `<name>.dynashift-tmp-<host>-<pid>-<n>`: the host and pid let a later run tell a temporary
/// its writer abandoned (that process is gone) from one being written right now.
fn temp_path_for(path: &Path) -> PathBuf {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{name}{TMP_MARKER}{}-{}-{n}", host_tag(), std::process::id()))
}

fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Runs `fill` on a fresh temporary beside `path`, then fsyncs it; returns its path. The
/// temporary is removed when anything fails, so a full disk leaves nothing behind.
fn write_temp(path: &Path, fill: impl FnOnce(&mut File) -> std::io::Result<()>) -> std::io::Result<PathBuf> {
    let tmp = temp_path_for(path);
    let written = create_private(&tmp).and_then(|mut file| {
        fill(&mut file)?;
        file.flush()?;
        file.sync_all()
    });
    match written {
        Ok(()) => Ok(tmp),
        Err(err) => {
            let _ = std::fs::remove_file(&tmp);
            Err(err)
        }
    }
}

/// Makes a rename or link in `path`'s folder durable. Linux documents that fsync on the file
/// alone does not persist its directory entry; elsewhere opening a folder may not be possible.
fn sync_folder(path: &Path) -> std::io::Result<()> {
    if cfg!(target_os = "linux")
        && let Some(folder) = path.parent()
    {
        File::open(folder)?.sync_all()?;
    }
    Ok(())
}

fn ensure_folder(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(folder) => std::fs::create_dir_all(folder),
        None => Ok(()),
    }
}

/// Moves a finished temporary onto `path` (replacing it) and makes that durable.
fn publish(tmp: &Path, path: &Path) -> std::io::Result<()> {
    if let Err(err) = std::fs::rename(tmp, path) {
        let _ = std::fs::remove_file(tmp);
        return Err(err);
    }
    sync_folder(path)
}

/// Writes `bytes` as the whole content of `path`, atomically and durably.
pub(super) fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    ensure_folder(path)?;
    let tmp = write_temp(path, |file| file.write_all(bytes))?;
    publish(&tmp, path)
}

/// [`replace`] for a file other users read (a metrics file node_exporter scrapes): the
/// temporary is made world-readable (0644) before it is renamed into place, so no reader ever
/// finds the file without permission to read it.
pub(super) fn replace_readable(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    ensure_folder(path)?;
    let tmp = write_temp(path, |file| {
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        file.write_all(bytes)
    })?;
    publish(&tmp, path)
}

/// Copies the file `source` to `path`, atomically and durably.
pub(super) fn replace_with_copy(path: &Path, source: &Path) -> std::io::Result<()> {
    ensure_folder(path)?;
    let tmp = write_temp(path, |file| {
        let mut from = File::open(source)?;
        std::io::copy(&mut from, file).map(drop)
    })?;
    publish(&tmp, path)
}

/// Creates `path` with `bytes` only if it does not exist (`AlreadyExists` otherwise). The
/// content is written aside and hard-linked into place: `link` fails if the target exists, so
/// exactly one of several racing writers wins, and readers never see a half-written file.
pub(super) fn create_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    ensure_folder(path)?;
    let tmp = write_temp(path, |file| file.write_all(bytes))?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    linked?;
    sync_folder(path)
}

/// The version of a local object: a hash of its content (FNV-1a, 64 bits) and its length. A
/// lease's content names its run and generation, so two versions with equal content are the same
/// state of the lease.
pub(super) fn version_of(bytes: &[u8]) -> ObjectVersion {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    ObjectVersion(format!("{hash:016x}-{}", bytes.len()))
}

/// Why a compare-and-swap did not write.
#[derive(Debug)]
pub(super) enum SwapRefused {
    /// The file is gone or no longer at the expected version.
    Changed,
    Io(std::io::Error),
}

impl From<std::io::Error> for SwapRefused {
    fn from(err: std::io::Error) -> SwapRefused {
        if err.kind() == ErrorKind::NotFound { SwapRefused::Changed } else { SwapRefused::Io(err) }
    }
}

/// Replaces `path` with `bytes` only while its content is still at `expected`. The comparison
/// and the rename happen under an exclusive `flock` on the file's folder, which every
/// compare-and-swap of this store takes, so of several racing swaps from the same version exactly
/// one writes (processes of one host; over NFS, `flock` is emulated with POSIX locks).
pub(super) fn replace_if(
    path: &Path,
    bytes: &[u8],
    expected: &ObjectVersion,
) -> Result<ObjectVersion, SwapRefused> {
    let folder = path.parent().ok_or(SwapRefused::Changed)?;
    let guard = File::open(folder)?;
    guard.lock()?;
    let current = std::fs::read(path)?;
    if version_of(&current) != *expected {
        return Err(SwapRefused::Changed);
    }
    let tmp = write_temp(path, |file| file.write_all(bytes))?;
    publish(&tmp, path)?;
    drop(guard);
    Ok(version_of(bytes))
}

/// Whether the temporary at `path` was abandoned by its writer: it names this host and a
/// process that no longer exists, or nothing touched it for `older_than`.
pub(super) fn is_abandoned(path: &Path, older_than: Duration) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let Some((_, tag)) = name.rsplit_once(TMP_MARKER) else { return false };
    let mut parts = tag.rsplitn(3, '-');
    let (_counter, pid, host) = (parts.next(), parts.next(), parts.next());
    let pid = pid.and_then(|pid| pid.parse::<u32>().ok());
    if let (Some(host), Some(pid)) = (host, pid)
        && host == host_tag()
        && crate::store::is_dead_process_of_this_host(pid)
    {
        return true;
    }
    let modified = std::fs::metadata(path).and_then(|meta| meta.modified());
    modified.is_ok_and(|at| SystemTime::now().duration_since(at).is_ok_and(|age| age >= older_than))
}
