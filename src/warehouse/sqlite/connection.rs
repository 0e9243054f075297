//! Opening the database file: created private (0600) with its folders, in WAL mode so readers
//! (the console, `sqlite3`) never block a load and a load never blocks them, with a busy timeout
//! so two writers queue instead of failing at once.

use std::fs::OpenOptions;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::warehouse::WarehouseError;

/// How long a statement waits for another writer (another dynashift, a `sqlite3` session)
/// before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The connection loads run on (it creates the file when missing).
pub(super) fn open_writer(path: &Path) -> Result<Connection, WarehouseError> {
    create_private_file(path)?;
    let conn = Connection::open(path).map_err(|e| open_error(path, &e.to_string()))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| open_error(path, &e.to_string()))?;
    enable_wal(&conn, path)?;
    Ok(conn)
}

/// A second connection for reads (commit records, inspection), so they never wait for a load:
/// in WAL mode a reader sees the last committed state while a load writes.
pub(super) fn open_reader(path: &Path) -> Result<Connection, WarehouseError> {
    let flags =
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(path, &e.to_string()))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| open_error(path, &e.to_string()))?;
    conn.pragma_update(None, "query_only", true).map_err(|e| open_error(path, &e.to_string()))?;
    Ok(conn)
}

/// Creates the folders and an empty file readable by its owner only: the warehouse holds the
/// business data of every synced table. An existing file keeps its permissions. SQLite gives
/// its `-wal` and `-shm` files the same permissions as the database file.
fn create_private_file(path: &Path) -> Result<(), WarehouseError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| open_error(path, &format!("cannot create folder {}: {e}", parent.display())))?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop).map_err(|e| open_error(path, &e.to_string()))
}

fn enable_wal(conn: &Connection, path: &Path) -> Result<(), WarehouseError> {
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| open_error(path, &e.to_string()))?;
    if mode.eq_ignore_ascii_case("wal") {
        return Ok(());
    }
    Err(open_error(
        path,
        &format!("cannot switch to WAL mode (journal_mode stays {mode}); use a local file system"),
    ))
}

fn open_error(path: &Path, message: &str) -> WarehouseError {
    WarehouseError::Connection(format!(
        "sqlite warehouse {}: {message} (check `[warehouse] path` in tables.toml)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_folders_and_a_private_wal_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/warehouse.sqlite");
        let conn = open_writer(&path).unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn the_reader_sees_commits_and_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.sqlite");
        let writer = open_writer(&path).unwrap();
        let reader = open_reader(&path).unwrap();
        writer.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);").unwrap();
        assert_eq!(reader.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 1);
        let err = reader.execute("INSERT INTO t VALUES (2)", []).unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
    }

    #[test]
    fn an_unusable_path_names_the_path_and_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"").unwrap();
        let err = open_writer(&blocker.join("warehouse.sqlite")).unwrap_err().to_string();
        assert!(err.contains("cannot create folder") && err.contains("[warehouse] path"), "{err}");
    }
}
