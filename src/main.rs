//! The `dynashift` binary: parse the command line, load and validate `tables.toml`, connect the
//! adapters, then hand over to the console or the headless runner.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use color_eyre::eyre::WrapErr;

use dynashift::cli::{Cli, Command, DEFAULT_CONFIG};
use dynashift::headless::{
    self, EXIT_RUN_FAILED, EXIT_USAGE, HeadlessRequest, StartupError, StartupErrorKind, Verbosity,
};
use dynashift::pipeline::Engine;
use dynashift::source::PlanOptions;
use dynashift::watch::{self, WatchRequest};
use dynashift::{completions, config, init, logging, monitor, tui, wiring};

fn main() -> ExitCode {
    // Installed first, so the console's own hook (which restores the terminal) wraps it.
    if let Err(err) = logging::error_report_hook().install() {
        eprintln!("could not install the error report handler: {err}");
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return command_line_error(err),
    };
    if let Some(command) = &cli.command {
        return run_command(&cli, command);
    }
    let config = match load_config(&cli.config, cli.json) {
        Ok(config) => config,
        Err(code) => return code,
    };
    if cli.check {
        println!("{}: {} tables, all valid", cli.config.display(), config.tables.len());
        print_keys_from_dynamodb(&config);
        return ExitCode::SUCCESS;
    }
    if !cli.headless && !logging::console_possible() {
        eprintln!(
            "no terminal: the console needs one; use --headless (with --table NAME or --all) from cron, \
             scripts and pipes"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let tables = match selected_tables(&cli, &config) {
        Ok(tables) => tables,
        Err(message) => return startup_failure(cli.json, &StartupError::usage(&message), &message),
    };
    if cli.watch
        && let Some(message) = dynashift::watch::unscheduled(&config, &tables)
    {
        return startup_failure(cli.json, &StartupError::usage(&message), &message);
    }
    let json = cli.json;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    match runtime.block_on(run(cli, config, tables)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let error = StartupError::new(StartupErrorKind::Internal, format!("{err:#}"), EXIT_RUN_FAILED);
            startup_failure(json, &error, &format!("Error: {err:?}"))
        }
    }
}

/// The validated tables file, or the exit code after saying why there is none: a missing file
/// points to `dynashift init`, an invalid one lists every problem.
fn load_config(path: &std::path::Path, json: bool) -> Result<config::Config, ExitCode> {
    if let Some(hint) = init::missing_config_hint(path) {
        let error = StartupError::new(StartupErrorKind::Config, hint.clone(), EXIT_USAGE);
        return Err(startup_failure(json, &error, &hint));
    }
    config::load(path).map_err(|err| startup_failure(json, &StartupError::config(&err), &err.to_string()))
}

/// Shows a problem that stopped dynashift before its runs: `text` on stderr, or with `--json`
/// the error object on stdout (the stream a script parses), and returns its exit code.
fn startup_failure(json: bool, error: &StartupError, text: &str) -> ExitCode {
    if json {
        println!("{}", error.to_json_line());
    } else {
        eprintln!("{text}");
    }
    ExitCode::from(error.exit_code)
}

/// clap's usage errors, as JSON when `--json` is among the arguments (the command line did not
/// parse, so that is all there is to go by); help and version print as usual.
fn command_line_error(err: clap::Error) -> ExitCode {
    let wants_json = std::env::args_os().any(|arg| arg == "--json");
    if !err.use_stderr() || !wants_json {
        err.exit();
    }
    let message = err.render().to_string();
    startup_failure(true, &StartupError::usage(message.trim_end()), "")
}

/// A connect failure as `--json` reports it: a configuration problem (exit 2) names the tables
/// file; a failure to open an adapter (exit 1) is a connect error.
fn connect_failure(err: &wiring::ConnectError, config: &std::path::Path) -> StartupError {
    let code = err.exit_code();
    let kind = if code == EXIT_USAGE { StartupErrorKind::Config } else { StartupErrorKind::Connect };
    let mut error = StartupError::new(kind, err.to_string(), code);
    if kind == StartupErrorKind::Config {
        error.file = Some(config.display().to_string());
    }
    error
}

/// The subcommands other than syncing.
fn run_command(cli: &Cli, command: &Command) -> ExitCode {
    match command {
        Command::Init(args) => {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
            // The file the next run reads: ./tables.toml unless --config or DYNASHIFT_CONFIG say otherwise.
            match runtime.block_on(init::run(args, &cli.config)) {
                Ok(path) => {
                    let config = (cli.config != std::path::Path::new(DEFAULT_CONFIG)).then_some(&*cli.config);
                    println!("{}", init::next_steps(args, &path, config));
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("{err}");
                    ExitCode::from(err.exit_code())
                }
            }
        }
        Command::Status { json } => match load_config(&cli.config, *json) {
            Ok(config) => ExitCode::from(run_status(config, *json)),
            Err(code) => code,
        },
        Command::Completions { shell } => {
            completions::write_completions(*shell, &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man => match completions::write_man_page(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("could not write the manual page: {err}");
                ExitCode::from(EXIT_RUN_FAILED)
            }
        },
    }
}

/// `dynashift status`: warnings to stderr, the status to stdout.
fn run_status(config: config::Config, json: bool) -> u8 {
    let _guard = logging::init_stderr();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(monitor::run_status(config, json))
}

/// The tables a headless run covers; an error message for bad `--table` names.
fn selected_tables(cli: &Cli, config: &config::Config) -> Result<Vec<String>, String> {
    if !cli.headless {
        return Ok(Vec::new());
    }
    if cli.all {
        return Ok(config.tables.iter().map(|t| t.name.clone()).collect());
    }
    if cli.table.is_empty() {
        return Err("--headless needs --table NAME (repeatable) or --all".into());
    }
    let known: Vec<&str> = config.tables.iter().map(|t| t.name.as_str()).collect();
    for name in &cli.table {
        if !known.contains(&name.as_str()) {
            return Err(format!(
                "{}: no table named `{name}`; configured tables: {}",
                cli.config.display(),
                known.join(", ")
            ));
        }
    }
    Ok(cli.table.clone())
}

/// `--check` does no I/O, so a key left to DescribeTable is still unknown: say so, per table.
fn print_keys_from_dynamodb(config: &config::Config) {
    for table in config.tables.iter().filter(|table| table.key_from_table().is_some()) {
        println!(
            "table `{}`: no `key`, so it is read from DynamoDB (DescribeTable) when dynashift connects; \
             write it to have its columns checked here",
            table.name
        );
    }
}

async fn run(cli: Cli, mut config: config::Config, tables: Vec<String>) -> color_eyre::Result<u8> {
    // Logs go to stderr in headless mode (stdout carries progress), to a file under the console.
    let _guard = if cli.headless {
        logging::init_stderr()
    } else {
        logging::init_file(&config.log_file).wrap_err("setting up the log file")?
    };
    if !cli.headless {
        // The console draws at once and connects in the background, showing how it goes.
        // `[notify]` and `[metrics]` act after the console's runs too (their lines go to the log).
        let observer = monitor::AfterRun::from_config(&config, false);
        return tui::run(config, observer).await.wrap_err("the console stopped");
    }
    // Connecting completes the config (keys read from DynamoDB): the engine gets that one.
    let adapters = match wiring::connect(&mut config).await {
        Ok(adapters) => adapters,
        Err(err) => {
            startup_failure(cli.json, &connect_failure(&err, &cli.config), &err.to_string());
            return Ok(err.exit_code());
        }
    };
    // `[notify]` and `[metrics]` act after every run; headless has a stderr for their lines.
    let observer = monitor::AfterRun::from_config(&config, true);
    let (engine, events) = Engine::observed(Arc::new(config), adapters, observer);
    if cli.watch {
        let request = WatchRequest {
            tables,
            mode: cli.mode.map(Into::into),
            json: cli.json,
            options: PlanOptions { accept_gap: cli.accept_gap, force: cli.force },
        };
        let mut stdout = std::io::stdout();
        return Ok(watch::run(engine, events, request, &mut stdout).await);
    }
    let request = HeadlessRequest {
        tables,
        mode: cli.mode.map(Into::into),
        dry_run: cli.dry_run,
        json: cli.json,
        verbosity: Verbosity::from_flags(cli.quiet, cli.verbose),
        options: PlanOptions { accept_gap: cli.accept_gap, force: cli.force },
    };
    let mut stdout = std::io::stdout();
    Ok(headless::run(engine, events, request, &mut stdout).await)
}
