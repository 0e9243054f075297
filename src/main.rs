//! The `dynashift` binary: parse the command line, load and validate `tables.toml`, connect the
//! adapters, then hand over to the console or the headless runner.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use color_eyre::eyre::WrapErr;

use dynashift::cli::{Cli, Command};
use dynashift::headless::{self, EXIT_RUN_FAILED, EXIT_USAGE, HeadlessRequest};
use dynashift::pipeline::Engine;
use dynashift::source::PlanOptions;
use dynashift::{config, logging, monitor, tui, wiring};

fn main() -> ExitCode {
    // Installed first, so the console's own hook (which restores the terminal) wraps it.
    if let Err(err) = logging::error_report_hook().install() {
        eprintln!("could not install the error report handler: {err}");
    }
    let cli = Cli::parse();
    let config = match config::load(&cli.config) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Some(Command::Status { json }) = cli.command {
        return ExitCode::from(run_status(config, json));
    }
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
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    match runtime.block_on(run(cli, config, tables)) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("Error: {err:?}");
            ExitCode::from(EXIT_RUN_FAILED)
        }
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
    // Connecting completes the config (keys read from DynamoDB): the engine gets that one.
    let adapters = match wiring::connect(&mut config).await {
        Ok(adapters) => adapters,
        Err(err) => {
            eprintln!("{err}");
            return Ok(err.exit_code());
        }
    };
    // `[notify]` and `[metrics]` act after every run; only headless has a stderr for their lines.
    let observer = monitor::AfterRun::from_config(&config, cli.headless);
    let (engine, events) = Engine::observed(Arc::new(config), adapters, observer);
    if cli.headless {
        let request = HeadlessRequest {
            tables,
            mode: cli.mode.map(Into::into),
            dry_run: cli.dry_run,
            json: cli.json,
            options: PlanOptions { accept_gap: cli.accept_gap, force: cli.force },
        };
        let mut stdout = std::io::stdout();
        return Ok(headless::run(engine, events, request, &mut stdout).await);
    }
    tui::run(engine, events).await.wrap_err("the console stopped")?;
    Ok(0)
}
