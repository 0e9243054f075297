//! The whole SQLite sync against the `sqlite3` command-line shell importing the same rows, two
//! ways, each in a fresh database file with the shell's default settings, into a table created
//! with the very DDL the sync created (primary key included), in one transaction:
//! - **the staged rows** (issue #13's floor): the JSON Lines the stage writes for a local
//!   warehouse, uncompressed. The shell reads them with `.import` into a TEMP table of lines and
//!   fills the target with `INSERT … SELECT line->>'$.column' …`, its JSON functions doing the
//!   parsing the sync's load does.
//! - **TSV** (the strictest floor): `.import` of rows already mapped and split (`.mode tabs`);
//!   no load that starts from JSON can beat it.
//!
//! The sync starts from the gzip DynamoDB JSON export: it stages and then loads.

use std::path::Path;
use std::process::{Command, Stdio};

use rusqlite::Connection;

use super::generate::{COLUMNS, Dataset};
use super::process::{Measured, available, fastest, measure};
use super::sync::{TABLE, forget_table_state, run_full_sync, write_config};
use super::{Comparison, Skipped};

const SYNC_DB: &str = "sync.sqlite";
const STAGED_DB: &str = "cli-staged.sqlite";
const TSV_DB: &str = "cli-tsv.sqlite";

/// The whole SQLite sync beside both command-line imports.
#[derive(Debug, Clone)]
pub struct SqliteComparison {
    /// Against `sqlite3` importing the staged JSON Lines: the floor.
    pub staged: Comparison,
    /// Against `sqlite3 .import` of the TSV: the strictest floor.
    pub tsv: Comparison,
}

/// Syncs `dataset` with the binary, then imports its staged rows and its TSV with `sqlite3`,
/// `repeats` times each.
pub fn compare(
    dir: &Path,
    dataset: &Dataset,
    binary: &Path,
    repeats: usize,
) -> Result<SqliteComparison, String> {
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
        let why = Skipped("the sqlite3 CLI is not installed (scripts/bench-tools.sh installs it)".into());
        let skipped = Comparison { sync, cli: Err(why) };
        return Ok(SqliteComparison { staged: skipped.clone(), tsv: skipped });
    }
    let ddl = target_ddl(&dir.join(SYNC_DB))?;
    let import = |database: &str, script: String| -> Result<Comparison, String> {
        let script_path = dir.join(database).with_extension("sql");
        std::fs::write(&script_path, script).map_err(|e| format!("{}: {e}", script_path.display()))?;
        let cli = fastest(
            repeats,
            || remove_database(&dir.join(database)),
            || run_script(&dir.join(database), &script_path),
        )?;
        check_same_rows(dir, database, dataset.items)?;
        Ok(Comparison { sync, cli: Ok(cli) })
    };
    let staged = import(STAGED_DB, staged_import_script(&ddl, &dataset.rows_jsonl))?;
    let tsv = import(TSV_DB, tsv_import_script(&ddl, &dataset.rows_tsv))?;
    Ok(SqliteComparison { staged, tsv })
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

/// The staged JSON Lines: `.import` into a TEMP table of whole lines (`.mode ascii` with a unit
/// separator no line holds, so a line is one field and its quotes are data), then one `INSERT …
/// SELECT` extracting each column: `->>` gives text, numbers and booleans as SQL values, `->`
/// gives a super column's JSON text. `.import` joins the open transaction.
fn staged_import_script(ddl: &str, rows_jsonl: &Path) -> String {
    let extracts: Vec<String> = COLUMNS
        .iter()
        .map(|(name, _, ty)| {
            let arrow = if *ty == "super" { "->" } else { "->>" };
            format!("line {arrow} '$.{name}'")
        })
        .collect();
    format!(
        ".bail on\n{ddl};\nCREATE TEMP TABLE staged(line TEXT);\n.mode ascii\n.separator \"\\037\" \"\\n\"\n\
         BEGIN;\n.import '{rows}' staged\nINSERT INTO \"{TABLE}\" SELECT {extracts} FROM staged;\nCOMMIT;\n",
        rows = rows_jsonl.display(),
        extracts = extracts.join(", "),
    )
}

/// The TSV: `CREATE TABLE …; .mode tabs; .import rows.tsv orders` (`.import` runs in one
/// transaction).
fn tsv_import_script(ddl: &str, rows_tsv: &Path) -> String {
    format!(".bail on\n{ddl};\n.mode tabs\n.import '{}' {TABLE}\n", rows_tsv.display())
}

/// `sqlite3 <database> ".read <script>"`, measured.
fn run_script(database: &Path, script: &Path) -> Result<Measured, String> {
    let mut command = Command::new("sqlite3");
    command.arg(database).arg(format!(".read '{}'", script.display())).stdout(Stdio::null());
    measure("the sqlite3 import", &mut command).map(|(measured, _)| measured)
}

/// The sync's database and the import's (`cli_database`) hold the same `items` rows, value for
/// value and type for type.
fn check_same_rows(dir: &Path, cli_database: &str, items: u64) -> Result<(), String> {
    let conn = Connection::open(dir.join(SYNC_DB)).map_err(|e| e.to_string())?;
    conn.execute("ATTACH DATABASE ?1 AS cli", [dir.join(cli_database).display().to_string()])
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
            "SQLite: the sync loaded {synced} rows and sqlite3 imported {imported} of {items} \
             into {cli_database}; \
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
