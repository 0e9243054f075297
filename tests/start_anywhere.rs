//! Starting outside the repository, as a new user would: `dynashift init` (the demo, and a draft
//! from DynamoDB against moto), the hint when there is no tables.toml, completions and the man
//! page. Every test runs the binary in a fresh folder.

use std::path::Path;
use std::process::Output;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

mod binary_support;
mod moto_support;

use binary_support::{assert_exit, dynashift_in, run_in, text};

#[test]
fn init_writes_the_demo_which_checks_and_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let init = run_in(dir.path(), &["init"]);
    assert_exit(&init, 0);
    assert!(text(&init.stdout).contains("tables.toml") && text(&init.stdout).contains("--check"));
    assert!(dir.path().join("tables.toml").is_file());

    let check = run_in(dir.path(), &["--check"]);
    assert_exit(&check, 0);
    assert!(text(&check.stdout).contains("all valid"), "{}", text(&check.stdout));

    let full = run_in(dir.path(), &["--headless", "--all", "--mode", "full"]);
    assert_exit(&full, 0);
    assert_eq!(
        text(&full.stdout).lines().filter(|line| line.starts_with("OK ")).count(),
        2,
        "{}",
        text(&full.stdout)
    );
    let incremental = run_in(dir.path(), &["--headless", "--all"]);
    assert_exit(&incremental, 0);
    // The demo's relative paths resolve against the file's folder: everything stays in it.
    assert!(dir.path().join(".dynashift/warehouse.sqlite").is_file());
}

#[test]
fn init_writes_the_file_the_next_run_reads() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("conf")).unwrap();
    let init = run_in(dir.path(), &["--config", "conf/prod.toml", "init"]);
    assert_exit(&init, 0);
    assert!(
        text(&init.stdout).contains("dynashift --config conf/prod.toml --check"),
        "{}",
        text(&init.stdout)
    );
    assert!(!dir.path().join("tables.toml").exists());

    let from_env =
        dynashift_in(dir.path(), &["--check"]).env("DYNASHIFT_CONFIG", "conf/prod.toml").output().unwrap();
    assert_exit(&from_env, 0);
    let again =
        dynashift_in(dir.path(), &["init"]).env("DYNASHIFT_CONFIG", "conf/prod.toml").output().unwrap();
    assert_exit(&again, 2);
    assert!(text(&again.stderr).contains("conf/prod.toml: already exists"), "{}", text(&again.stderr));
}

#[test]
fn init_never_overwrites_a_tables_toml() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tables.toml"), "# mine\n").unwrap();
    for args in [&["init"][..], &["init", "--aws", "orders", "--bucket", "s3://b/p/"]] {
        let output = run_in(dir.path(), args);
        assert_exit(&output, 2);
        assert!(text(&output.stderr).contains("already exists"), "{}", text(&output.stderr));
    }
    assert_eq!(std::fs::read_to_string(dir.path().join("tables.toml")).unwrap(), "# mine\n");
}

#[test]
fn without_a_tables_toml_every_front_end_points_to_init() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&[][..], &["--headless", "--all"], &["--check"]] {
        let output = run_in(dir.path(), args);
        assert_exit(&output, 2);
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("tables.toml: no such file") && stderr.contains("dynashift init"),
            "{stderr}"
        );
    }
    let elsewhere = run_in(dir.path(), &["--config", "conf/prod.toml", "--headless", "--all"]);
    assert_exit(&elsewhere, 2);
    assert!(
        text(&elsewhere.stderr).starts_with("conf/prod.toml: no such file"),
        "{}",
        text(&elsewhere.stderr)
    );
    assert!(!dir.path().join("tables.toml").exists(), "the hint must not write anything");
}

#[test]
fn completions_and_the_man_page_describe_the_real_cli() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in
        [("bash", "_dynashift()"), ("zsh", "#compdef dynashift"), ("fish", "complete -c dynashift")]
    {
        let output = run_in(dir.path(), &["completions", shell]);
        assert_exit(&output, 0);
        let script = text(&output.stdout);
        assert!(
            script.contains(marker) && script.contains("headless") && script.contains("init"),
            "{shell}: {script}"
        );
    }
    assert_exit(&run_in(dir.path(), &["completions", "tcsh"]), 2);

    let man = run_in(dir.path(), &["man"]);
    assert_exit(&man, 0);
    let page = text(&man.stdout);
    assert!(
        page.contains(".TH dynashift 1") && page.contains("headless") && page.contains("DYNASHIFT_LOG"),
        "{page}"
    );
}

/// A moto table keyed (pk S, sk N) holding `count` items of known shapes.
async fn orders_table(count: usize) -> String {
    let connection = moto_support::connection().await;
    let client = connection.dynamodb();
    let name = moto_support::unique("Orders-Init");
    let mut create = client.create_table().table_name(&name).billing_mode(BillingMode::PayPerRequest);
    for (attribute, ty, kind) in
        [("pk", ScalarAttributeType::S, KeyType::Hash), ("sk", ScalarAttributeType::N, KeyType::Range)]
    {
        create = create
            .attribute_definitions(
                AttributeDefinition::builder().attribute_name(attribute).attribute_type(ty).build().unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder().attribute_name(attribute).key_type(kind).build().unwrap(),
            );
    }
    create.send().await.unwrap_or_else(|e| panic!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(&e)));
    for i in 0..count {
        client
            .put_item()
            .table_name(&name)
            .item("pk", AttributeValue::S(format!("CUST#{i:03}")))
            .item("sk", AttributeValue::N(i.to_string()))
            .item("total", AttributeValue::N(format!("{i}.25")))
            .item("placed_at", AttributeValue::S(format!("2026-11-{:02}T10:00:00Z", i % 28 + 1)))
            .item("ship.city", AttributeValue::S("Malmö".into()))
            .item("lines", AttributeValue::L(vec![AttributeValue::S("sku".into())]))
            .send()
            .await
            .unwrap();
    }
    name
}

/// `init --aws` against moto, with moto's fixed credentials and no shared AWS files.
fn init_aws(dir: &Path, tables: &[&str], sample: &str) -> Output {
    let endpoint = moto_support::endpoint();
    let mut args =
        vec!["init", "--bucket", "s3://exports-bucket/dynashift/", "--region", moto_support::REGION];
    args.extend(["--endpoint-url", &endpoint, "--sample", sample, "--aws"]);
    args.extend(tables);
    dynashift_in(dir, &args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", dir.join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-aws-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("run dynashift")
}

#[tokio::test]
async fn init_aws_drafts_a_checked_file_from_describe_table_and_a_bounded_sample() {
    let table = orders_table(12).await;
    let dir = tempfile::tempdir().unwrap();
    let output = init_aws(dir.path(), &[&table], "5");
    assert_exit(&output, 0);
    let written = std::fs::read_to_string(dir.path().join("tables.toml")).unwrap();

    // One Scan page of at most --sample items, never the whole table.
    assert!(written.contains("# 5 items sampled."), "{written}");
    assert!(written.contains(&format!("name = \"{table}\"")), "{written}");
    assert!(written.contains("key = [\"pk\", \"sk\"]"), "{written}");
    for (entry, note) in [
        (
            "{ name = \"pk\", type = \"varchar(64)\" },",
            "# key, S (DescribeTable); guess: length from 5 of 5 sampled items",
        ),
        (
            "{ name = \"sk\", type = \"bigint\" },",
            "# key, N (DescribeTable); guess: range from 5 of 5 sampled items",
        ),
        ("{ name = \"total\", type = \"decimal(38,2)\" },", "# guess: numbers, in 5 of 5 sampled items"),
        ("{ name = \"placed_at\", type = \"timestamptz\" },", "# guess: RFC 3339 timestamps"),
        (
            "{ name = \"ship_city\", path = [\"ship.city\"], type = \"varchar(32)\" },",
            "# guess: text up to 6 bytes",
        ),
        ("{ name = \"lines\", type = \"super\" },", "# guess: L values, kept as JSON"),
    ] {
        let line = written.lines().find(|line| line.trim_start().starts_with(entry));
        assert!(line.is_some_and(|line| line.contains(note)), "missing `{entry} {note}` in\n{written}");
    }

    let check = run_in(dir.path(), &["--check"]);
    assert_exit(&check, 0);
    assert!(text(&check.stdout).contains("all valid"), "{}", text(&check.stdout));
}

#[tokio::test]
async fn init_aws_names_a_missing_table_and_writes_nothing() {
    let table = orders_table(1).await;
    let dir = tempfile::tempdir().unwrap();
    let output = init_aws(dir.path(), &[&table, "no-such-table-here"], "10");
    assert_exit(&output, 2);
    let stderr = text(&output.stderr);
    assert!(stderr.contains("no table `no-such-table-here`") && stderr.contains("--region"), "{stderr}");
    assert!(!dir.path().join("tables.toml").exists());
}

/// The arguments after the binary in a shipped command line, up to a shell redirection.
fn shipped_arguments(command: &str) -> Vec<String> {
    let mut words = command.split_whitespace().take_while(|word| !word.starts_with(">>"));
    assert_eq!(words.next(), Some("/usr/local/bin/dynashift"), "{command}");
    std::iter::once("dynashift").chain(words).map(str::to_owned).collect()
}

#[test]
fn the_shipped_cron_line_and_systemd_units_run_valid_commands() {
    use clap::Parser;
    use dynashift::cli::Cli;
    use dynashift::contract::exit::EXIT_LOCKED;

    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let cron = std::fs::read_to_string(assets.join("dynashift.cron")).unwrap();
    let entry = cron.lines().find(|line| !line.starts_with('#') && !line.trim().is_empty()).unwrap();
    let (schedule, command) = entry.split_at(entry.find("/usr/local/bin").unwrap());
    assert_eq!(schedule.split_whitespace().count(), 5, "a crontab line has five time fields: {entry}");
    let cli = Cli::try_parse_from(shipped_arguments(command)).unwrap();
    assert!(cli.headless && cli.all, "{entry}");

    let service = std::fs::read_to_string(assets.join("dynashift.service")).unwrap();
    let exec = service.lines().find_map(|line| line.strip_prefix("ExecStart=")).unwrap();
    let cli = Cli::try_parse_from(shipped_arguments(exec)).unwrap();
    assert!(cli.headless && cli.all && cli.config.is_absolute(), "{exec}");
    assert!(service.contains(&format!("SuccessExitStatus={EXIT_LOCKED}")), "a held lease is no failure");

    let timer = std::fs::read_to_string(assets.join("dynashift.timer")).unwrap();
    assert!(timer.contains("OnCalendar=") && timer.contains("Persistent=true"), "{timer}");
}
