//! The whole SQLite sync against the `sqlite3` command-line shell importing the same rows.
//!
//! The shell's fastest plain way in is `.import` of a file: here the generated TSV (`.mode tabs`),
//! into a table created with the very DDL the sync created (primary key included), in a fresh
//! database file with the shell's default settings; `.import` runs in one transaction. The shell
//! starts from rows already mapped and uncompressed — the floor a load cannot beat — while the
//! sync starts from the gzip DynamoDB JSON export.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use rusqlite::Connection;

use super::generate::Dataset;
use super::process::{Measured, available, fastest, measure};
use super::sync::{TABLE, forget_table_state, run_full_sync, write_config};
use super::{Comparison, Skipped};

const SYNC_DB: &str = "sync.sqlite";
const CLI_DB: &str = "cli.sqlite";

/// Syncs `dataset` with the binary and imports its TSV with `sqlite3`, `repeats` times each.
pub fn compare(dir: &Path, dataset: &Dataset, binary: &Path, repeats: usize) -> Result<Comparison, String> {
    let config =
        write_config(dir, dataset, "sqlite.toml", &format!("kind = \"sqlite\"\npath = \"{SYNC_DB}\""));
    let sync = fastest(
        repeats,
        || {
            forget_table_state(dataset)?;
            remove_database(&dir.join(SYNC_DB))
        },
        || run_full_sync(binary, &config),
    )?;
    if !available("sqlite3") {
        let why = "the sqlite3 CLI is not installed (scripts/bench-tools.sh installs it)";
        return Ok(Comparison { sync, cli: Err(Skipped(why.into())) });
    }
    let ddl = target_ddl(&dir.join(SYNC_DB))?;
    let cli = fastest(repeats, || remove_database(&dir.join(CLI_DB)), || import(dir, &ddl, dataset))?;
    check_same_rows(dir, dataset.items)?;
    Ok(Comparison { sync, cli: Ok(cli) })
}

fn remove_database(path: &Path) -> Result<(), String> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = format!("{}{suffix}", path.display());
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {file}: {e}")),
        }
    }
    Ok(())
}

/// The `CREATE TABLE` of the sync's target, as SQLite keeps it.
fn target_ddl(database: &Path) -> Result<String, String> {
    let conn = Connection::open(database).map_err(|e| format!("{}: {e}", database.display()))?;
    conn.query_row("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?1", [TABLE], |row| {
        row.get(0)
    })
    .map_err(|e| format!("{}: no table {TABLE} after the sync: {e}", database.display()))
}

/// `sqlite3 cli.sqlite` reading `CREATE TABLE …; .mode tabs; .import rows.tsv orders` on stdin.
fn import(dir: &Path, ddl: &str, dataset: &Dataset) -> Result<Measured, String> {
    let script = dir.join("import.sql");
    let mut file = std::fs::File::create(&script).map_err(|e| e.to_string())?;
    writeln!(file, ".bail on\n{ddl};\n.mode tabs\n.import '{}' {TABLE}", dataset.rows_tsv.display())
        .map_err(|e| e.to_string())?;
    let mut command = Command::new("sqlite3");
    command.arg(dir.join(CLI_DB)).arg(format!(".read '{}'", script.display())).stdout(Stdio::null());
    measure("the sqlite3 .import", &mut command).map(|(measured, _)| measured)
}

/// Both databases hold the same `items` rows, value for value and type for type.
fn check_same_rows(dir: &Path, items: u64) -> Result<(), String> {
    let conn = Connection::open(dir.join(SYNC_DB)).map_err(|e| e.to_string())?;
    conn.execute("ATTACH DATABASE ?1 AS cli", [dir.join(CLI_DB).display().to_string()])
        .map_err(|e| e.to_string())?;
    let count =
        |sql: &str| conn.query_row(sql, [], |row| row.get::<_, i64>(0)).map_err(|e| format!("{sql}: {e}"));
    let synced = count(&format!("SELECT count(*) FROM main.{TABLE}"))?;
    let imported = count(&format!("SELECT count(*) FROM cli.{TABLE}"))?;
    let only_synced = count(&format!(
        "SELECT count(*) FROM (SELECT * FROM main.{TABLE} EXCEPT SELECT * FROM cli.{TABLE})"
    ))?;
    let only_imported = count(&format!(
        "SELECT count(*) FROM (SELECT * FROM cli.{TABLE} EXCEPT SELECT * FROM main.{TABLE})"
    ))?;
    if (synced, imported, only_synced, only_imported) != (items as i64, items as i64, 0, 0) {
        let first = |from: &str, other: &str| {
            first_row(
                &conn,
                &format!("SELECT * FROM {from}.{TABLE} EXCEPT SELECT * FROM {other}.{TABLE} LIMIT 1"),
            )
        };
        return Err(format!(
            "SQLite: the sync loaded {synced} rows and sqlite3 imported {imported} of {items}; \
             {only_synced} rows only in the sync, {only_imported} only in the import; \
             e.g. synced {:?}, imported {:?}",
            first("main", "cli"),
            first("cli", "main")
        ));
    }
    Ok(())
}

/// The first row `sql` returns, its values as SQLite holds them (for a failure message).
fn first_row(conn: &Connection, sql: &str) -> Option<Vec<rusqlite::types::Value>> {
    let mut statement = conn.prepare(sql).ok()?;
    let columns = statement.column_count();
    statement.query_row([], |row| (0..columns).map(|i| row.get(i)).collect::<Result<Vec<_>, _>>()).ok()
}
