//! `dynashift init`: a commented starting `tables.toml` (in the current folder, or wherever
//! `--config` / `DYNASHIFT_CONFIG` point: the file the next run reads), so dynashift can be
//! started anywhere, not only inside its repository. Without options it writes the built-in
//! demo (the repository's own `tables.toml`, which the test suite syncs); with `--aws TABLE…` it
//! drafts a file for real DynamoDB tables from DescribeTable and a small sample of items (see
//! [`aws`]). Either way the text is validated exactly as `--check` would before it is written,
//! and an existing file is never overwritten.

mod aws;
pub(crate) mod infer;
pub(crate) mod naming;
mod render;

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::InitArgs;
use crate::contract::exit::{EXIT_RUN_FAILED, EXIT_USAGE};

/// The built-in demo: the repository's `tables.toml`, so the file `init` writes is the one the
/// test suite syncs end to end.
const DEMO: &str = include_str!("../../tables.toml");

/// Why `init` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{}: already exists; dynashift init never overwrites it. Move it away (or edit it) and run init again", path.display())]
    Exists { path: PathBuf },
    #[error("{}: could not be written: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    /// A command-line value the file cannot be made from.
    #[error("{0}")]
    Usage(String),
    /// DynamoDB could not be asked, or said no.
    #[error("{0}")]
    Aws(String),
    /// The drafted file does not pass the validation `--check` does (an option it was drafted
    /// from, such as --region, is not accepted there): reported rather than written.
    #[error("nothing was written: the tables.toml drafted from these options would not be valid:\n{0}")]
    Invalid(String),
}

impl InitError {
    /// A file in the way, bad options and a draft they make invalid are usage errors (2); AWS
    /// failing and a failed write are run failures (1). A table that does not exist is the
    /// user's input ([`aws`] words it as usage).
    pub fn exit_code(&self) -> u8 {
        match self {
            InitError::Aws(_) | InitError::Write { .. } => EXIT_RUN_FAILED,
            InitError::Exists { .. } | InitError::Usage(_) | InitError::Invalid(_) => EXIT_USAGE,
        }
    }
}

/// Writes the tables file at `path` (relative to the current folder) as `args` asks; the
/// absolute path written on success.
pub async fn run(args: &InitArgs, path: &Path) -> Result<PathBuf, InitError> {
    let path =
        std::path::absolute(path).map_err(|source| InitError::Write { path: path.to_owned(), source })?;
    // Checked first so nobody waits for AWS to learn the file is in the way; the write itself
    // refuses too (create_new), should the file appear meanwhile.
    if path.exists() {
        return Err(InitError::Exists { path });
    }
    let text = if args.aws.is_empty() { DEMO.to_owned() } else { aws::draft(args).await? };
    crate::config::load_str(&text, &path).map_err(|e| InitError::Invalid(e.to_string()))?;
    write_new(&path, &text)?;
    Ok(path)
}

/// Creates `path` with `text`, failing when it exists (atomically: `create_new`).
fn write_new(path: &Path, text: &str) -> Result<(), InitError> {
    let mut file = match std::fs::OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(InitError::Exists { path: path.to_owned() });
        }
        Err(source) => return Err(InitError::Write { path: path.to_owned(), source }),
    };
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| InitError::Write { path: path.to_owned(), source })
}

/// What to do next, printed after a successful init; `config` is the `--config` the next runs
/// need, if any (`None` for the default, ./tables.toml).
pub fn next_steps(args: &InitArgs, path: &Path, config: Option<&Path>) -> String {
    let config = config.map(|config| format!(" --config {}", config.display())).unwrap_or_default();
    let first_sync = if args.aws.is_empty() {
        format!(
            "dynashift{config} --headless --all --mode full   # the first sync of every demo table\n  dynashift{config}   # or open the console"
        )
    } else {
        format!(
            "dynashift{config} --headless --all --mode full   # the first sync (PITR must be on for each table)"
        )
    };
    format!(
        "wrote {}\nnext:\n  dynashift{config} --check   # validate it (again after your edits)\n  {first_sync}",
        path.display()
    )
}

/// The hint for a tables file that does not exist, or `None` when it does: run from a folder
/// without one, dynashift says how to get one instead of only "not found".
pub fn missing_config_hint(path: &Path) -> Option<String> {
    if path.exists() {
        return None;
    }
    Some(format!(
        "{}: no such file. `dynashift init` writes it: the built-in demo, or with \
         `--aws TABLE --bucket s3://BUCKET/PREFIX/` a draft for your DynamoDB tables (give init the same \
         --config, if any). Or point to an existing file with --config PATH (or DYNASHIFT_CONFIG)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_demo_is_written_valid_and_never_over_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tables.toml");
        let written = run(&InitArgs::default(), &path).await.unwrap();
        assert_eq!(written, path);
        assert_eq!(std::fs::read_to_string(&written).unwrap(), DEMO);
        crate::config::load(&written).unwrap();

        std::fs::write(&written, "mine").unwrap();
        let err = run(&InitArgs::default(), &path).await.unwrap_err();
        assert!(matches!(err, InitError::Exists { .. }) && err.exit_code() == EXIT_USAGE, "{err}");
        assert_eq!(std::fs::read_to_string(&written).unwrap(), "mine");
    }

    #[test]
    fn write_new_refuses_a_file_that_appeared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tables.toml");
        std::fs::write(&path, "theirs").unwrap();
        assert!(matches!(write_new(&path, "ours"), Err(InitError::Exists { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "theirs");
    }

    #[test]
    fn a_missing_file_points_to_init() {
        let dir = tempfile::tempdir().unwrap();
        let hint = missing_config_hint(&dir.path().join("tables.toml")).unwrap();
        assert!(hint.contains("dynashift init") && hint.contains("tables.toml"), "{hint}");
        assert_eq!(missing_config_hint(dir.path()), None);
    }
}
