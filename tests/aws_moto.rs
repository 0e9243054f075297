//! The DynamoDB export source against moto on loopback, through the real aws-sdk-dynamodb and
//! aws-sdk-s3 clients and the pipeline's own export and stage steps.
//!
//! Needs DYNASHIFT_MOTO_ENDPOINT (scripts/test.sh starts moto and sets it).
//!
//! moto's known gaps, and how the tests live with them:
//! - ExportTableToPointInTime writes one gzip data file and NO manifests, ignores ExportTime and
//!   IncrementalExportSpecification (every export is a dump of the current items), and its
//!   DescribeExport gives no ExportManifest, ExportTime or window. So the export control flow is
//!   tested here (request parameters, polling to COMPLETED, FAILED for a missing bucket, PITR
//!   off, unknown table), and staging from S3 is tested on AWS-layout fixtures written into
//!   moto's S3 by `source::layout`.
//! - ClientToken is ignored (a repeated request starts a second export), so idempotency is
//!   checked only as the token the request carries (unit tests in `source::aws::request`).
//! - PITR's restorable times never move past the moment it was enabled, so a plan from a fresh
//!   table has nothing to export; planning is checked here for what it reads from
//!   DescribeContinuousBackups, and the windows themselves in `source::windows`' unit tests.
//! - No throttling: the retry on throttling and LimitExceeded is unit-tested in `aws::retry`.

mod moto_support;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, ScalarAttributeType,
};
use chrono::{DateTime, Utc};
use dynashift::aws::{AwsConnection, AwsConnections, RetryPolicy, settings_for};
use dynashift::config::{
    ColumnType, Config, KeyError, Mode, TableConfig, UnmappedPolicy, ViewType, load_str,
};
use dynashift::contract::staged::StagedCompression;
use dynashift::pipeline::events::{EventKind, EventSink, RunEvent};
use dynashift::pipeline::stage::{StageInput, stage};
use dynashift::pipeline::{Engine, export};
use dynashift::source::aws::{AwsConnectError, AwsSource};
use dynashift::source::layout::{LayoutExport, new_export_id, write_export};
use dynashift::source::{
    ExportDescription, ExportSource, ExportSpec, ExportStatus, ExportTarget, PlanRequest, PlannedExport,
    SourceError,
};
use dynashift::store::{ObjectStore, S3Store};
use dynashift::wiring;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const FAST: RetryPolicy = RetryPolicy {
    first_delay: Duration::from_millis(10),
    max_delay: Duration::from_millis(50),
    jitter: 0.25,
    deadline: Duration::from_millis(80),
};

/// The columns of the `orders` tables below: both key attributes and a total.
const COLUMNS: &str = "columns = [{ name = \"pk\", path = \"pk\", type = \"varchar(64)\" }, \
                       { name = \"sk\", path = \"sk\", type = \"varchar(64)\" }, \
                       { name = \"total\", path = \"total\", type = \"decimal(12,2)\" }]\n";

/// tables.toml for one aws table exported into `bucket` below `dynashift/`; `entry` holds the
/// table's own lines (key, columns…).
fn aws_config_text(table: &str, bucket: &str, entry: &str) -> String {
    format!(
        "[defaults]\nsource = \"aws\"\nregion = \"{region}\"\nendpoint_url = \"{endpoint}\"\n\
         bucket = \"s3://{bucket}/dynashift/\"\nsafety_lag = \"0s\"\n\
         [[table]]\nname = \"{table}\"\ntarget = \"orders\"\n{entry}",
        region = moto_support::REGION,
        endpoint = moto_support::endpoint(),
    )
}

fn aws_config(table: &str, bucket: &str, entry: &str) -> (Config, Arc<TableConfig>) {
    let text = aws_config_text(table, bucket, entry);
    let config = load_str(&text, Path::new("/tmp/tables.toml")).unwrap_or_else(|e| panic!("{e}"));
    let table = Arc::new(config.tables[0].clone());
    (config, table)
}

/// An aws table with `key` and [`COLUMNS`].
fn table_config(table: &str, bucket: &str, key: &str) -> (Config, Arc<TableConfig>) {
    aws_config(table, bucket, &format!("key = {key}\n{COLUMNS}"))
}

/// A moto table keyed by `pk` (partition) and `sk` (sort), optionally with PITR on and items.
async fn dynamodb_table(connection: &AwsConnection, pitr: bool, items: usize) -> String {
    let key = [("pk", ScalarAttributeType::S), ("sk", ScalarAttributeType::S)];
    let name = keyed_table(connection, &key, pitr).await;
    for i in 0..items {
        connection
            .dynamodb()
            .put_item()
            .table_name(&name)
            .item("pk", AttributeValue::S(format!("CUST#{i:05}")))
            .item("sk", AttributeValue::S("ORDER#1".into()))
            .item("total", AttributeValue::N(format!("{i}.50")))
            .send()
            .await
            .unwrap();
    }
    name
}

/// A fresh moto table keyed by `key` (partition key, then sort key), optionally with PITR on.
async fn keyed_table(connection: &AwsConnection, key: &[(&str, ScalarAttributeType)], pitr: bool) -> String {
    let client = connection.dynamodb();
    let name = moto_support::unique("orders");
    let mut create = client.create_table().table_name(&name).billing_mode(BillingMode::PayPerRequest);
    for ((attribute, ty), kind) in key.iter().zip([KeyType::Hash, KeyType::Range]) {
        let definition = AttributeDefinition::builder()
            .attribute_name(*attribute)
            .attribute_type(ty.clone())
            .build()
            .unwrap();
        let element = KeySchemaElement::builder().attribute_name(*attribute).key_type(kind).build().unwrap();
        create = create.attribute_definitions(definition).key_schema(element);
    }
    create.send().await.unwrap();
    if pitr {
        let spec =
            PointInTimeRecoverySpecification::builder().point_in_time_recovery_enabled(true).build().unwrap();
        client
            .update_continuous_backups()
            .table_name(&name)
            .point_in_time_recovery_specification(spec)
            .send()
            .await
            .unwrap();
    }
    name
}

async fn source_for(table: &Arc<TableConfig>, config: &Config) -> Result<AwsSource, AwsConnectError> {
    let connection =
        AwsConnection::with_static_credentials(settings_for(config, table), "testing", "testing")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    AwsSource::connect(&connection, table.clone()).await.map(|source| source.with_backoff(FAST))
}

fn sink() -> (EventSink, mpsc::UnboundedReceiver<RunEvent>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (EventSink::new("r1", "orders", tx), rx)
}

fn drain(rx: &mut mpsc::UnboundedReceiver<RunEvent>) -> Vec<EventKind> {
    std::iter::from_fn(|| rx.try_recv().ok()).map(|event| event.kind).collect()
}

fn planned(spec: ExportSpec) -> PlannedExport {
    PlannedExport { spec, existing: None }
}

#[tokio::test]
async fn connecting_resolves_the_table_and_checks_its_key() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, false, 0).await;
    let (config, table) = table_config(&name, "unused-bucket", "[\"pk\", \"sk\"]");
    let source = source_for(&table, &config).await.unwrap();
    assert!(source.resolved().arn.ends_with(&format!(":table/{name}")), "{}", source.resolved().arn);
    assert_eq!(source.resolved().key_names(), ["pk", "sk"]);
    let declared: Vec<_> = source.table().key_types.iter().map(|t| t.as_ref().map(|t| t.tags)).collect();
    assert_eq!(
        declared,
        [Some(&["S"][..]), Some(&["S"][..])],
        "DescribeTable's types replace varchar's S or B"
    );
    let as_configured =
        TableConfig { key_types: table.key_types.clone(), ..TableConfig::clone(source.table()) };
    assert_eq!(as_configured, *table, "a written key that matches leaves the table as configured");
    assert_eq!(source.describe(), format!("DynamoDB table {name} in us-east-1"));

    let (config, table) = table_config(&name, "unused-bucket", "[\"pk\"]");
    let error = source_for(&table, &config).await.unwrap_err();
    assert!(matches!(&error, AwsConnectError::Key(KeyError::Mismatch { .. })), "{error:?}");
    assert!(
        error.to_string().contains(
            "but DynamoDB's key schema (DescribeTable) is [\"pk\", \"sk\"]; write key = [\"pk\", \"sk\"]"
        ),
        "{error}"
    );
}

/// `item_count_check` asks DescribeTable for the table's `ItemCount`.
#[tokio::test]
async fn the_table_item_count_is_describe_tables_item_count() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, false, 3).await;
    let (config, table) = table_config(&name, "unused-bucket", "[\"pk\", \"sk\"]");
    let source = source_for(&table, &config).await.unwrap();
    let described = connection.dynamodb().describe_table().table_name(&name).send().await.unwrap();
    let expected = described.table().and_then(|t| t.item_count()).map(|count| count as u64);
    assert!(expected.is_some(), "moto answers DescribeTable with an ItemCount");
    assert_eq!(source.table_item_count().await.unwrap(), expected);
}

/// (name, is_key, type) of each column.
fn column_summary(table: &TableConfig) -> Vec<(String, bool, ColumnType)> {
    table.columns.iter().map(|column| (column.name.clone(), column.is_key, column.ty)).collect()
}

#[tokio::test]
async fn a_table_without_key_or_columns_gets_dynamodbs_key_as_its_columns() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, false, 0).await;
    let (config, table) = aws_config(&name, "unused-bucket", "");
    assert!(table.key_from_table().is_some() && table.key.is_empty());

    let source = source_for(&table, &config).await.unwrap();
    let connected = source.table();
    assert_eq!(connected.key, ["pk", "sk"]);
    assert_eq!(
        column_summary(connected),
        [("pk".into(), true, ColumnType::Varchar(4096)), ("sk".into(), true, ColumnType::Varchar(4096))]
    );
    assert_eq!(connected.unmapped, UnmappedPolicy::KeepItem { column: "item".into() });
    assert_eq!(connected.key_from_table(), None, "the table is complete");
}

#[tokio::test]
async fn dynamodbs_key_finds_its_columns_by_path_and_types_the_untyped_ones() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, false, 0).await;
    let entry = "columns = [{ name = \"customer\", path = \"pk\" }, \
                 { name = \"sk\", type = \"varchar(64)\" }, { name = \"total\" }]\n";
    let (config, table) = aws_config(&name, "unused-bucket", entry);

    let connected = source_for(&table, &config).await.unwrap().table().clone();
    assert_eq!(connected.key, ["pk", "sk"]);
    assert_eq!(
        column_summary(&connected),
        [
            ("customer".into(), true, ColumnType::Varchar(4096)),
            ("sk".into(), true, ColumnType::Varchar(64)),
            ("total".into(), false, ColumnType::Super),
        ]
    );
    let key_columns: Vec<&str> = connected.key_columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(key_columns, ["customer", "sk"]);
}

#[tokio::test]
async fn a_key_from_dynamodb_that_no_column_maps_is_refused_naming_the_key() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, false, 0).await;
    let entry = "columns = [{ name = \"pk\", type = \"varchar(64)\" }, { name = \"total\" }]\n";
    let (config, table) = aws_config(&name, "unused-bucket", entry);

    let error = source_for(&table, &config).await.unwrap_err();
    let AwsConnectError::Key(KeyError::DoesNotFit { described, key_written, problems, .. }) = &error else {
        panic!("expected a key that does not fit, got {error:?}");
    };
    assert_eq!(
        (described.as_slice(), *key_written, problems.len()),
        (&["pk".into(), "sk".into()][..], false, 1)
    );
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "table `{name}` leaves `key` out, so it was read from DynamoDB (DescribeTable): [\"pk\", \"sk\"]"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("key attribute \"sk\" of table \"{name}\" is not mapped to any column")),
        "{text}"
    );
    assert!(text.contains("write key = [\"pk\", \"sk\"] in the table's entry"), "{text}");
}

#[tokio::test]
async fn a_written_key_column_that_cannot_hold_the_declared_type_is_refused() {
    let connection = moto_support::connection().await;
    let key = [("id", ScalarAttributeType::B), ("day", ScalarAttributeType::N)];
    let name = keyed_table(&connection, &key, false).await;
    let entry = "key = [\"id\", \"day\"]\n\
                 columns = [{ name = \"id\", type = \"bigint\" }, { name = \"day\", type = \"date\" }]\n";
    let (config, table) = aws_config(&name, "unused-bucket", entry);

    let error = source_for(&table, &config).await.unwrap_err();
    assert!(
        matches!(&error, AwsConnectError::Key(KeyError::DoesNotFit { key_written: true, .. })),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains(
            "key column \"id\" is typed bigint, but DynamoDB declares key attribute \"id\" a binary (B)"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "key column \"day\" is typed date, but DynamoDB declares key attribute \"day\" a number (N)"
        ),
        "{text}"
    );
}

/// The flow the binary takes: `wiring::connect` completes the config, and the engine, which the
/// console and the headless runner read their tables from, gets the completed one.
#[tokio::test]
async fn connecting_completes_the_config_the_engine_hands_the_front_ends() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, false, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut config, _) = config_in(dir.path(), &name, "");

    let adapters =
        wiring::connect_with(&mut config, connections(connection)).await.unwrap_or_else(|e| panic!("{e}"));
    let (engine, _events) = Engine::new(Arc::new(config), adapters);
    let table = engine.config().table(&name).expect("the table");
    assert_eq!(table.key, ["pk", "sk"]);
    let key_columns: Vec<&str> = table.key_columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(key_columns, ["pk", "sk"]);
}

#[tokio::test]
async fn a_key_that_does_not_fit_is_a_configuration_error_naming_the_file() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, false, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let (mut config, path) = config_in(dir.path(), &name, "key = [\"sk\", \"pk\"]\n");

    let Err(error) = wiring::connect_with(&mut config, connections(connection)).await else {
        panic!("a key DynamoDB does not have was accepted");
    };
    assert_eq!(error.exit_code(), 2);
    assert_eq!(
        error.to_string(),
        format!(
            "{}: `key` of table `{name}` is [\"sk\", \"pk\"], but DynamoDB's key schema (DescribeTable) is \
             [\"pk\", \"sk\"]; write key = [\"pk\", \"sk\"]",
            path.display()
        )
    );
}

/// `tables.toml` in `dir` for one aws table (with `entry`) and a SQLite warehouse beside it.
fn config_in(dir: &Path, table: &str, entry: &str) -> (Config, PathBuf) {
    let text = format!(
        "{}[warehouse]\npath = \"warehouse.sqlite\"\n",
        aws_config_text(table, "unused-bucket", entry)
    );
    let path = dir.join("tables.toml");
    std::fs::write(&path, &text).unwrap();
    (load_str(&text, &path).unwrap_or_else(|e| panic!("{e}")), path)
}

/// The connections `wiring` reuses instead of the default credential chain: moto's.
fn connections(connection: AwsConnection) -> AwsConnections {
    let mut connections = AwsConnections::default();
    connections.insert(connection);
    connections
}

/// The binary, with moto's fixed credentials in its environment and no shared AWS files.
fn dynashift(dir: &Path, args: &[&str]) -> Output {
    let empty = dir.join("empty-aws-file");
    std::fs::write(&empty, "").unwrap();
    Command::new(env!("CARGO_BIN_EXE_dynashift"))
        .arg("--config")
        .arg(dir.join("tables.toml"))
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_CONFIG_FILE", &empty)
        .env("AWS_SHARED_CREDENTIALS_FILE", &empty)
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("DYNASHIFT_LOG")
        .output()
        .expect("run dynashift")
}

#[tokio::test]
async fn the_binary_checks_offline_then_refuses_a_key_that_fits_no_column_before_any_run() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, false, 0).await;
    let dir = tempfile::tempdir().unwrap();
    let (_, path) = config_in(dir.path(), &name, "columns = [{ name = \"pk\" }, { name = \"total\" }]\n");

    let check = dynashift(dir.path(), &["--check"]);
    assert_eq!(check.status.code(), Some(0));
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        text.contains(&format!("table `{name}`: no `key`, so it is read from DynamoDB (DescribeTable)")),
        "{text}"
    );

    let run = dynashift(dir.path(), &["--headless", "--all", "--dry-run"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(run.stdout.is_empty(), "no run started: {}", String::from_utf8_lossy(&run.stdout));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.starts_with(&format!("{}: table `{name}` leaves `key` out", path.display())), "{stderr}");
    assert!(stderr.contains("key attribute \"sk\""), "{stderr}");
}

#[tokio::test]
async fn an_unknown_table_is_refused_when_connecting() {
    let name = moto_support::unique("no-such-table");
    let (config, table) = table_config(&name, "unused-bucket", "[\"pk\", \"sk\"]");
    let error = source_for(&table, &config).await.unwrap_err();
    assert!(matches!(error, AwsConnectError::Source(SourceError::Invalid(_))), "{error:?}");
    let text = error.to_string();
    assert!(text.starts_with(&format!("DynamoDB table `{name}` does not exist in us-east-1")), "{text}");
}

#[tokio::test]
async fn pitr_off_is_refused_with_the_command_that_turns_it_on() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, false, 1).await;
    let bucket = moto_support::new_bucket(&connection, "dynashift-exports").await;
    let (config, table) = table_config(&name, &bucket, "[\"pk\", \"sk\"]");
    let source = source_for(&table, &config).await.unwrap();
    let command = format!(
        "aws dynamodb update-continuous-backups --table-name {name} \
         --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true --region us-east-1"
    );

    let error = source.plan(PlanRequest { mode: Mode::Full, watermark: None }).await.unwrap_err().to_string();
    assert!(error.contains(&command), "{error}");

    let spec = ExportSpec::Full { export_time: Utc::now() };
    let target = ExportTarget { prefix: format!("{name}/exports") };
    let error = source.start_export(&spec, &target, "dynashift-r1-0").await.unwrap_err().to_string();
    assert!(error.contains(&command), "{error}");
}

#[tokio::test]
async fn planning_reads_the_recovery_window() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, true, 0).await;
    let (config, table) = table_config(&name, "unused-bucket", "[\"pk\", \"sk\"]");
    let source = source_for(&table, &config).await.unwrap();

    let never_synced =
        source.plan(PlanRequest { mode: Mode::Incremental, watermark: None }).await.unwrap_err();
    assert!(matches!(never_synced, SourceError::NeedsFullSync { .. }), "{never_synced:?}");

    // PITR was enabled moments ago, so a watermark a day old lies before the earliest restorable time.
    let stale = Utc::now() - chrono::Duration::days(1);
    let outside =
        source.plan(PlanRequest { mode: Mode::Incremental, watermark: Some(stale) }).await.unwrap_err();
    match outside {
        SourceError::OutsideRecoveryWindow { watermark, earliest } => {
            assert_eq!(watermark, stale);
            assert!((Utc::now() - earliest) < chrono::Duration::minutes(5), "earliest {earliest}");
        }
        other => panic!("expected OutsideRecoveryWindow, got {other:?}"),
    }
}

/// Polls the one export `arn` of `plan` until it ends, as the pipeline does.
async fn wait_for(
    source: &AwsSource,
    store: &S3Store,
    plan: &[PlannedExport],
    arn: &str,
    events: &EventSink,
) -> Result<Vec<ExportDescription>, dynashift::pipeline::PipelineError> {
    export::wait_all(source, store, plan, &[arn.to_owned()], events, &CancellationToken::new()).await
}

#[tokio::test]
async fn a_full_export_is_requested_into_the_store_and_polled_to_completed() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, true, 3).await;
    let bucket = moto_support::new_bucket(&connection, "dynashift-exports").await;
    let (config, table) = table_config(&name, &bucket, "[\"pk\", \"sk\"]");
    let source = source_for(&table, &config).await.unwrap();
    let store = S3Store::new(&connection, &bucket, "dynashift/");
    let plan = vec![planned(ExportSpec::Full { export_time: Utc::now() - chrono::Duration::seconds(1) })];
    let (events, mut rx) = sink();

    let arn = export::request(&source, &table, "r1", (0, 1), &plan[0], &events).await.unwrap();
    let raw = connection.dynamodb().describe_export().export_arn(&arn).send().await.unwrap();
    let requested = raw.export_description.unwrap();
    assert_eq!(requested.table_arn(), Some(source.resolved().arn.as_str()));
    assert_eq!(requested.s3_bucket(), Some(bucket.as_str()));
    assert_eq!(requested.s3_prefix(), Some(format!("dynashift/{name}/exports").as_str()));
    assert_eq!(requested.export_type().map(|t| t.as_str()), Some("FULL_EXPORT"));

    let done = wait_for(&source, &store, &plan, &arn, &events).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].status, done[0].item_count), (ExportStatus::Completed, Some(3)));
    assert_eq!(done[0].spec, plan[0].spec);
    let kinds = drain(&mut rx);
    assert!(
        matches!(&kinds[0], EventKind::ExportRequested { export_arn, .. } if *export_arn == arn),
        "{kinds:?}"
    );
    assert!(
        kinds.iter().any(|k| matches!(
            k,
            EventKind::ExportPolled { status: ExportStatus::Completed, item_count: Some(3), .. }
        )),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| matches!(k, EventKind::ExportCompleted { item_count: 3, .. })), "{kinds:?}");

    // moto wrote its (manifest-less) data file where DynamoDB would: below the store's prefix.
    let written = store.list(&format!("{name}/exports/AWSDynamoDB/")).await.unwrap();
    assert_eq!(written.len(), 1, "{written:?}");
}

#[tokio::test]
async fn an_export_into_a_missing_bucket_fails_with_its_code() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, true, 1).await;
    let bucket = moto_support::unique("no-such-bucket");
    let (config, table) = table_config(&name, &bucket, "[\"pk\", \"sk\"]");
    let source = source_for(&table, &config).await.unwrap();
    let store = S3Store::new(&connection, &bucket, "dynashift/");
    let plan = vec![planned(ExportSpec::Full { export_time: Utc::now() })];
    let (events, _rx) = sink();

    let arn = export::request(&source, &table, "r1", (0, 1), &plan[0], &events).await.unwrap();
    let error = wait_for(&source, &store, &plan, &arn, &events).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("export {arn} failed: S3NoSuchBucket: The specified bucket does not exist")
    );
    let described = source.describe_export(&arn).await.unwrap();
    assert_eq!(described.status, ExportStatus::Failed);
}

#[tokio::test]
async fn an_incremental_export_is_requested_with_its_window() {
    let connection = moto_support::connection().await;
    let name = dynamodb_table(&connection, true, 2).await;
    let bucket = moto_support::new_bucket(&connection, "dynashift-exports").await;
    let (config, table) = table_config(&name, &bucket, "[\"pk\", \"sk\"]");
    let source = source_for(&table, &config).await.unwrap();
    let to: DateTime<Utc> = Utc::now() - chrono::Duration::minutes(1);
    let spec = ExportSpec::Incremental {
        from: to - chrono::Duration::minutes(15),
        to,
        view_type: ViewType::NewImage,
    };
    let target = ExportTarget { prefix: format!("{name}/exports") };

    let arn = source.start_export(&spec, &target, "dynashift-r2-0").await.unwrap();
    let raw = connection.dynamodb().describe_export().export_arn(&arn).send().await.unwrap();
    assert_eq!(raw.export_description.unwrap().export_type().map(|t| t.as_str()), Some("INCREMENTAL_EXPORT"));
    // moto reports no window; the source answers with the one it asked for.
    let described = source.describe_export(&arn).await.unwrap();
    assert_eq!(described.spec, spec);
}

/// Export data lines for the staging tests.
fn item(pk: &str, total: &str) -> String {
    format!(r#"{{"Item":{{"pk":{{"S":"{pk}"}},"sk":{{"S":"ORDER#1"}},"total":{{"N":"{total}"}}}}}}"#)
}

fn change(pk: &str, micros: u64, new_total: Option<&str>) -> String {
    let keys = format!(r#"{{"pk":{{"S":"{pk}"}},"sk":{{"S":"ORDER#1"}}}}"#);
    let old = format!(r#""OldImage":{{"pk":{{"S":"{pk}"}},"sk":{{"S":"ORDER#1"}},"total":{{"N":"1"}}}}"#);
    let image = match new_total {
        Some(total) => format!(
            r#"{old},"NewImage":{{"pk":{{"S":"{pk}"}},"sk":{{"S":"ORDER#1"}},"total":{{"N":"{total}"}}}}"#
        ),
        None => old,
    };
    format!(r#"{{"Metadata":{{"WriteTimestampMicros":{{"N":"{micros}"}}}},"Keys":{keys},{image}}}"#)
}

/// Writes an AWS-layout export through the S3 store and describes it as DescribeExport would.
async fn seed_export(
    store: &S3Store,
    table: &TableConfig,
    spec: &ExportSpec,
    files: &[Vec<String>],
) -> ExportDescription {
    let now = Utc::now();
    let export_id = new_export_id(now);
    let prefix = format!("{}exports", table.state_prefix());
    let layout = LayoutExport {
        prefix: &prefix,
        export_id: &export_id,
        table_arn: "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
        table_id: "cf263806-6bf1-4e51-a242-7067dcdecc72",
        bucket: store.bucket(),
        spec,
        start_time: now,
        end_time: now,
        files,
        billed_size_bytes: 10_000_000,
    };
    let written = write_export(store, &layout).await.unwrap();
    ExportDescription {
        export_arn: written.export_arn,
        status: ExportStatus::Completed,
        spec: spec.clone(),
        manifest_summary_key: Some(written.manifest_summary_key),
        item_count: Some(written.item_count),
        billed_size_bytes: Some(10_000_000),
        failure_code: None,
        failure_message: None,
    }
}

/// A store at the bucket's root: store keys are bucket keys, as in the manifests DynamoDB writes.
async fn staging_store() -> (Arc<S3Store>, Arc<TableConfig>) {
    let connection = moto_support::connection().await;
    let bucket = moto_support::new_bucket(&connection, "dynashift-stage").await;
    let text = format!(
        "[[table]]\nname = \"orders\"\nsource = \"aws\"\nbucket = \"s3://{bucket}/\"\nkey = [\"pk\", \"sk\"]\n\
         columns = [{{ name = \"pk\", path = \"pk\", type = \"varchar(64)\" }}, \
                    {{ name = \"sk\", path = \"sk\", type = \"varchar(64)\" }}, \
                    {{ name = \"total\", path = \"total\", type = \"decimal(12,2)\" }}]\n"
    );
    let config = load_str(&text, Path::new("/tmp/tables.toml")).unwrap_or_else(|e| panic!("{e}"));
    (Arc::new(S3Store::new(&connection, &bucket, "")), Arc::new(config.tables[0].clone()))
}

async fn stage_from(
    store: &Arc<S3Store>,
    table: &Arc<TableConfig>,
    exports: Vec<ExportDescription>,
) -> (dynashift::pipeline::staged::StagedSet, u64, u64) {
    let (events, _rx) = sink();
    let input = StageInput {
        run_id: "r1".into(),
        table: table.clone(),
        exports,
        store: store.clone(),
        events,
        cancel: CancellationToken::new(),
        rules: dynashift::contract::StageRules::EXACT,
    };
    let (staged, counts) = stage(input).await.unwrap_or_else(|e| panic!("{e}"));
    (staged, counts.upserts, counts.deletes)
}

async fn staged_lines(store: &S3Store, staged: &dynashift::pipeline::staged::StagedSet) -> Vec<String> {
    let mut lines = Vec::new();
    for file in &staged.files {
        let bytes = store.get(&file.key).await.unwrap();
        let mut text = String::new();
        assert!(file.key.ends_with(".json.lz4"), "SQLite and PostgreSQL take LZ4 parts: {}", file.key);
        StagedCompression::of_key(&file.key).decompress(&bytes[..]).read_to_string(&mut text).unwrap();
        lines.extend(text.lines().map(str::to_owned));
    }
    lines.sort();
    lines
}

#[tokio::test]
async fn a_full_export_in_s3_is_staged() {
    let (store, table) = staging_store().await;
    let spec = ExportSpec::Full { export_time: Utc::now() };
    let files =
        vec![vec![item("CUST#1", "10.5"), item("CUST#2", "20")], vec![], vec![item("CUST#3", "0.25")]];
    let export = seed_export(&store, &table, &spec, &files).await;

    let (staged, upserts, deletes) = stage_from(&store, &table, vec![export]).await;
    assert_eq!((upserts, deletes), (3, 0));
    let lines = staged_lines(&store, &staged).await;
    assert_eq!(lines.len(), 3);
    assert!(lines[0].contains("\"CUST#1\"") && lines[0].contains("\"10.5\""), "{lines:?}");
    let manifest = String::from_utf8(store.get(&staged.manifest_key).await.unwrap()).unwrap();
    assert!(manifest.contains(&format!("s3://{}/orders/staged/r1/", store.bucket())), "{manifest}");
}

#[tokio::test]
async fn incremental_exports_sharing_a_data_folder_in_s3_are_folded() {
    let (store, table) = staging_store().await;
    let at = Utc::now() - chrono::Duration::hours(1);
    let window = |from: i64, to: i64| ExportSpec::Incremental {
        from: at + chrono::Duration::minutes(from),
        to: at + chrono::Duration::minutes(to),
        view_type: ViewType::NewAndOldImages,
    };
    let first = seed_export(
        &store,
        &table,
        &window(0, 15),
        &[vec![change("CUST#1", 1, Some("5")), change("CUST#2", 2, Some("6"))]],
    )
    .await;
    let second = seed_export(
        &store,
        &table,
        &window(15, 30),
        &[vec![change("CUST#1", 3, None)], vec![change("CUST#3", 4, Some("7"))]],
    )
    .await;
    let shared: Vec<_> = store.list("orders/exports/AWSDynamoDB/data/").await.unwrap();
    assert_eq!(shared.len(), 3, "both exports' data files share one folder: {shared:?}");

    let (staged, upserts, deletes) = stage_from(&store, &table, vec![first, second]).await;
    assert_eq!((upserts, deletes), (2, 1));
    let lines = staged_lines(&store, &staged).await;
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("\"CUST#1\"") && l.contains("\"D\"")), "{lines:?}");
}
