//! The whole PostgreSQL sync against `psql \copy` of the same rows.
//!
//! Both run against the server `DYNASHIFT_PG_URL` names (`scripts/pg.sh start`), in a database of
//! their own (`dynashift_bench`, dropped and created afresh). `psql` copies the generated TSV
//! (COPY's text format) into a table created `LIKE` the sync's target (same types, primary key).
//! Peak RSS is the client's (dynashift, psql); the server's memory and CPU are not counted on
//! either side.

use std::path::Path;
use std::process::{Command, Stdio};

use super::generate::Dataset;
use super::process::{available, fastest, measure};
use super::sync::{TABLE, forget_table_state, run_full_sync, write_config};
use super::{Comparison, Skipped};

/// The variable naming the server (`scripts/pg.sh start` prints its URL).
pub const URL_VARIABLE: &str = "DYNASHIFT_PG_URL";
const DATABASE: &str = "dynashift_bench";
const CLI_TABLE: &str = "cli_orders";

/// Why the PostgreSQL comparison cannot run here, if it cannot.
pub fn unavailable() -> Option<Skipped> {
    if std::env::var_os(URL_VARIABLE).is_none() {
        return Some(Skipped(format!("{URL_VARIABLE} is not set (scripts/bench.sh starts a server)")));
    }
    if !available("psql") {
        return Some(Skipped("psql is not installed (scripts/bench-tools.sh installs it)".into()));
    }
    None
}

/// Syncs `dataset` into PostgreSQL with the binary and copies its TSV with `psql`.
pub fn compare(dir: &Path, dataset: &Dataset, binary: &Path, repeats: usize) -> Result<Comparison, String> {
    let admin = std::env::var(URL_VARIABLE).map_err(|_| format!("{URL_VARIABLE} is not set"))?;
    psql(&admin, &format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))?;
    psql(&admin, &format!("CREATE DATABASE {DATABASE}"))?;
    let url = with_database(&admin, DATABASE);
    let config = write_config(
        dir,
        dataset,
        "postgres.toml",
        &format!("kind = \"postgres\"\nurl = \"{url}\"\ntls = \"disable\""),
    );
    let sync = fastest(
        repeats,
        || {
            forget_table_state(dataset)?;
            psql(&url, &format!("DROP TABLE IF EXISTS {TABLE}, dynashift_runs CASCADE")).map(drop)
        },
        || run_full_sync(binary, &config),
    )?;
    let reset_cli = format!(
        "DROP TABLE IF EXISTS {CLI_TABLE}; CREATE TABLE {CLI_TABLE} (LIKE {TABLE} INCLUDING ALL); \
         CHECKPOINT"
    );
    let copy = format!("\\copy {CLI_TABLE} FROM '{}'", dataset.rows_tsv.display());
    let cli = fastest(
        repeats,
        || psql(&url, &reset_cli).map(drop),
        || measure("psql \\copy", &mut psql_command(&url, &copy)).map(|(measured, _)| measured),
    )?;
    check_same_rows(&url, dataset.items)?;
    psql(&admin, &format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))?;
    Ok(Comparison { sync, cli: Ok(cli) })
}

fn psql_command(url: &str, command: &str) -> Command {
    let mut psql = Command::new("psql");
    psql.args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", command]);
    psql
}

/// Runs one psql command untimed; returns what it printed.
fn psql(url: &str, command: &str) -> Result<String, String> {
    let output = psql_command(url, command)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if !output.status.success() {
        return Err(format!("psql {command:?} failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgresql", base));
    let authority = rest.split_once('/').map_or(rest, |(authority, _)| authority);
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{authority}/{database}{query}")
}

/// Both tables hold the same `items` rows (compared as PostgreSQL values).
fn check_same_rows(url: &str, items: u64) -> Result<(), String> {
    let counts = psql(
        url,
        &format!(
            "SELECT (SELECT count(*) FROM {TABLE}) || ' ' || (SELECT count(*) FROM {CLI_TABLE}) || ' ' || \
             (SELECT count(*) FROM (SELECT * FROM {TABLE} EXCEPT ALL SELECT * FROM {CLI_TABLE}) d) || ' ' || \
             (SELECT count(*) FROM (SELECT * FROM {CLI_TABLE} EXCEPT ALL SELECT * FROM {TABLE}) d)"
        ),
    )?;
    let expected = format!("{items} {items} 0 0");
    if counts != expected {
        return Err(format!(
            "PostgreSQL: synced rows, copied rows, only synced, only copied = {counts}; expected {expected}"
        ));
    }
    Ok(())
}
