//! The whole sync as a user runs it: the `dynashift` binary, headless, applying the generated
//! full export (`source = "exports"`) into a warehouse — export discovery and checks, stage and
//! load in one process.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::generate::{COLUMNS, Dataset, PREFIX};
use super::process::{Measured, measure};

/// The table's name in `tables.toml`, its state folder in the bucket and its target table.
pub const TABLE: &str = "orders";

/// Writes `tables.toml` for a sync of `dataset` into the warehouse `warehouse_section` describes
/// (the lines after `[warehouse]`), and returns its path.
pub fn write_config(dir: &Path, dataset: &Dataset, name: &str, warehouse_section: &str) -> PathBuf {
    let columns: Vec<String> = COLUMNS
        .iter()
        .map(|(name, path, ty)| format!("  {{ name = \"{name}\", path = \"{path}\", type = \"{ty}\" }},"))
        .collect();
    // `DYNASHIFT_BENCH_STAGE_MEMORY_MB`: the stage's memory budget (default: the shipped one).
    let budget = std::env::var("DYNASHIFT_BENCH_STAGE_MEMORY_MB")
        .map(|mb| format!("stage_memory_mb = {mb}\n"))
        .unwrap_or_default();
    let config = format!(
        "[defaults]\nbucket = \"file://{bucket}\"\n{budget}\n[warehouse]\n{warehouse_section}\n\n\
         [[table]]\nname = \"{TABLE}\"\nsource = \"exports\"\nprefix = \"{PREFIX}\"\n\
         mode = \"full\"\nkey = [\"pk\", \"sk\"]\ncolumns = [\n{columns}\n]\n",
        bucket = dataset.bucket.display(),
        columns = columns.join("\n"),
    );
    let path = dir.join(name);
    std::fs::write(&path, config).expect("write tables.toml");
    path
}

/// Forgets every earlier sync of the table in the bucket (journal, watermark copy, staged files),
/// so the next sync starts from nothing; the warehouse side is the caller's to reset.
pub fn forget_table_state(dataset: &Dataset) -> Result<(), String> {
    let folder = dataset.bucket.join(TABLE);
    match std::fs::remove_dir_all(&folder) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", folder.display())),
    }
}

/// Runs `dynashift --headless --table orders --mode full -q` with `config` and measures it.
pub fn run_full_sync(binary: &Path, config: &Path) -> Result<Measured, String> {
    let mut command = Command::new(binary);
    command
        .args(["--headless", "--table", TABLE, "--mode", "full", "-q", "--config"])
        .arg(config)
        .current_dir(config.parent().expect("the config has a folder"))
        .env_remove("DYNASHIFT_CONFIG");
    measure("the dynashift full sync", &mut command).map(|(measured, _)| measured)
}
