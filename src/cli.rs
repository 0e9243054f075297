//! Command-line interface: which front end runs, on which configuration.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::config::Mode;

/// The tables file read (and written by `init`) without --config or DYNASHIFT_CONFIG.
pub const DEFAULT_CONFIG: &str = "tables.toml";

/// Keep Redshift (here: the embedded SQLite) tables in sync with DynamoDB tables through
/// point-in-time exports. Without --headless, opens the interactive console.
#[derive(Debug, Clone, Parser)]
#[command(name = "dynashift", version, about, long_about = None, after_long_help = AFTER_HELP)]
#[command(group(ArgGroup::new("which").args(["table", "all"]).multiple(false)))]
pub struct Cli {
    /// The tables file.
    #[arg(long, value_name = "PATH", default_value = DEFAULT_CONFIG, env = "DYNASHIFT_CONFIG", global = true)]
    pub config: PathBuf,

    /// Run syncs without the console and print progress (for cron and scripts).
    #[arg(long)]
    pub headless: bool,

    /// Sync this table (repeatable); with --headless.
    #[arg(long, value_name = "NAME", requires = "headless")]
    pub table: Vec<String>,

    /// Sync every configured table; with --headless.
    #[arg(long, requires = "headless")]
    pub all: bool,

    /// Sync mode; defaults to each table's configured `mode`.
    #[arg(long, value_enum, requires = "headless")]
    pub mode: Option<CliMode>,

    /// Print events as JSON Lines instead of text: every event, whatever -q or -v say; errors
    /// before any run (command line, tables.toml, connecting) become one {"event":"error"} line.
    #[arg(long, requires = "headless")]
    pub json: bool,

    /// Text output: errors and the summary only.
    #[arg(short, long, requires = "headless", conflicts_with = "verbose")]
    pub quiet: bool,

    /// Text output: also polls, files, statements and counts (default: one line per stage change
    /// and per warning, then the summary).
    #[arg(short, long, requires = "headless")]
    pub verbose: bool,

    /// Show the plan (windows, exports, SQL) and change nothing.
    #[arg(long, requires = "headless")]
    pub dry_run: bool,

    /// Apply existing exports (source "exports") even where changes between them are in no export;
    /// the gaps are recorded with the commit. Without it such a run is refused with the command
    /// that exports the missing window.
    #[arg(long, requires = "headless")]
    pub accept_gap: bool,

    /// Apply a full export older than the committed watermark (source "exports"), moving the
    /// table back to that export's time. Without it such a run is refused.
    #[arg(long, requires = "headless")]
    pub force: bool,

    /// Keep running: sync each table whenever its `every` says it is due, until SIGTERM or
    /// Ctrl-C (which cancel the running runs, resumable, and exit 0). Every selected table
    /// needs `every`.
    #[arg(long, requires = "headless", conflicts_with = "dry_run")]
    pub watch: bool,

    /// Validate the tables file and exit (0 when valid, 2 otherwise).
    #[arg(long, conflicts_with_all = ["headless"])]
    pub check: bool,

    /// A command other than syncing (`init`, `status`, `completions`, `man`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands; without one, dynashift syncs (console or --headless).
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Write a starting tables.toml here: the demo, or with --aws a draft for your tables
    ///
    /// Written where --config (or DYNASHIFT_CONFIG) points, ./tables.toml by default. The file is
    /// commented, passes --check, and is never written over an existing one.
    Init(InitArgs),
    /// How every table stands; exit 1 when any is unhealthy (a monitoring check)
    ///
    /// Shows each table's watermark and lag, PITR headroom (aws tables), the lease holder and
    /// the last run with its failure, and exits 0 when all are healthy, 1 when any table's last
    /// run failed, its lag is past lag_critical, or it was never synced. Reads only: takes no
    /// lease and changes nothing.
    Status {
        /// Print one JSON document (with a "version" field) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    ///
    /// e.g. `dynashift completions bash > ~/.local/share/bash-completion/completions/dynashift`
    Completions {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff)
    ///
    /// e.g. `dynashift man > ~/.local/share/man/man1/dynashift.1`
    Man,
}

/// `dynashift init`'s options.
#[derive(Debug, Clone, Default, Args)]
pub struct InitArgs {
    /// Instead of the demo, describe these DynamoDB tables (names or ARNs; DescribeTable), sample
    /// a few items of each (one Scan page) and propose their columns, each guess marked.
    #[arg(long, value_name = "TABLE", num_args = 1.., requires = "bucket")]
    pub aws: Vec<String>,

    /// Where exports, staged files and sync state go: s3://BUCKET/PREFIX/ (needed with --aws).
    #[arg(long, value_name = "URL", requires = "aws")]
    pub bucket: Option<String>,

    /// The tables' AWS region (else AWS_REGION or the profile's); written to the file.
    #[arg(long, requires = "aws")]
    pub region: Option<String>,

    /// A profile of ~/.aws/config (else AWS_PROFILE or the default); written to the file.
    #[arg(long, requires = "aws")]
    pub profile: Option<String>,

    /// Send AWS calls to this endpoint (moto, LocalStack); written to the file.
    #[arg(long, value_name = "URL", requires = "aws")]
    pub endpoint_url: Option<String>,

    /// Items sampled per table: one Scan page of at most this many, never a full scan.
    #[arg(long, value_name = "N", default_value_t = 100, requires = "aws",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub sample: u16,
}

/// Examples, exit codes and environment, shown after `--help`'s options.
const AFTER_HELP: &str = "\
Examples:
  dynashift init                                   write a starting tables.toml (the demo) here
  dynashift init --aws orders --bucket s3://my-exports/dynashift/
                                                   draft tables.toml from a DynamoDB table
  dynashift                                        open the console on ./tables.toml
  dynashift --check                                validate tables.toml and exit
  dynashift --headless --all                       sync every table in its configured mode
  dynashift --headless --all -q                    from cron: errors and the summary only
  dynashift --headless --table orders --mode full --json
  dynashift --headless --table orders --dry-run    show windows, files and SQL; change nothing
  dynashift --headless --all --watch               sync each table on its `every` until stopped
  dynashift status --json                          every table's health; exit 1 if any is unhealthy

Exit codes:
  0  every run committed, was up to date, or was a dry run
  1  a run failed (the last line names the table, the stage, the cause and what to do)
  2  usage or configuration error; nothing ran
  3  nothing failed, but a table was skipped because another run holds its lease
     (the normal outcome of overlapping cron runs)

Environment:
  DYNASHIFT_CONFIG  the tables file (as --config)
  DYNASHIFT_LOG     log filter, e.g. debug or dynashift=trace (default: info to the log file
                    under the console, warn to stderr when headless)
  NO_COLOR          no escape codes, even on a terminal";

/// `--mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CliMode {
    Full,
    Incremental,
}

impl From<CliMode> for Mode {
    fn from(mode: CliMode) -> Mode {
        match mode {
            CliMode::Full => Mode::Full,
            CliMode::Incremental => Mode::Incremental,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn headless_flags_require_headless() {
        assert!(Cli::try_parse_from(["dynashift", "--all"]).is_err());
        assert!(Cli::try_parse_from(["dynashift", "--headless", "--all", "--table", "x"]).is_err());
        let cli = Cli::try_parse_from([
            "dynashift",
            "--headless",
            "--table",
            "a",
            "--table",
            "b",
            "--mode",
            "full",
        ])
        .unwrap();
        assert_eq!(cli.table, ["a", "b"]);
        assert_eq!(cli.mode, Some(CliMode::Full));
        assert!(!cli.accept_gap && !cli.force);
        assert!(Cli::try_parse_from(["dynashift", "--accept-gap"]).is_err());
        assert!(Cli::try_parse_from(["dynashift", "--force"]).is_err());
        assert!(Cli::try_parse_from(["dynashift", "--watch"]).is_err(), "--watch needs --headless");
        assert!(Cli::try_parse_from(["dynashift", "--headless", "--all", "--watch", "--dry-run"]).is_err());
        assert!(Cli::try_parse_from(["dynashift", "--headless", "--all", "--watch"]).unwrap().watch);
        let cli =
            Cli::try_parse_from(["dynashift", "--headless", "--all", "--accept-gap", "--force"]).unwrap();
        assert!(cli.accept_gap && cli.force);
    }

    #[test]
    fn status_is_a_subcommand_with_its_own_json_flag() {
        let cli = Cli::try_parse_from(["dynashift", "status", "--json", "--config", "x.toml"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Status { json: true })));
        assert_eq!(cli.config, std::path::Path::new("x.toml"));
        let cli = Cli::try_parse_from(["dynashift", "--config", "x.toml", "status"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Status { json: false })));
        assert!(Cli::try_parse_from(["dynashift", "status", "--all"]).is_err());
    }

    #[test]
    fn help_is_stable() {
        insta::assert_snapshot!(Cli::command().render_long_help().to_string());
    }
}
