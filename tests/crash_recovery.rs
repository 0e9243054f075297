//! The model test of "nothing lost, nothing doubled": random workloads × a crash (process abort,
//! like kill -9 or a power cut) at every stage boundary and inside the load × several seeds, on
//! every warehouse. After each crash the next run must recover — resuming the interrupted run
//! where it can — and the warehouse must equal the demo table at the committed watermark; a
//! crash before the load's commit must leave the watermark where it was.
//!
//! The scenario runner takes the warehouse as a parameter ([`ModelWarehouse`]): SQLite (three
//! seeds), PostgreSQL (two seeds, each on a fresh database of the server `scripts/test.sh`
//! starts, `DYNASHIFT_PG_URL`) and Redshift through the Data API stand-in (one seed; exports,
//! staged files and state in moto's S3). The crash points inside the load are read from the
//! warehouse's own plan (`--dry-run`): after the COPY into the stage, after the commit record, and
//! after the COMMIT. Redshift's batch is one call that commits on the server whatever happens to
//! the client, so there a crash inside the load is one after which the load still commits — and
//! the next run must notice it committed instead of applying it again.
//!
//! The last seed of each warehouse syncs `customers` with `deletes = "soft"` and a
//! `history_target` (reusing the same crash points): its live rows must equal the source, every
//! other row is a deleted key's marked row, and the history must hold each applied change
//! exactly once — no row of an uncommitted run, no key twice in a run, every committed run's
//! upserts, and a key marked deleted exactly when its newest history row is a `remove`.

mod common;
mod dataapi_support;
mod moto_support;
mod postgres_support;
mod redshift_stack;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use dynashift::config::{self, Config, TableConfig};
use dynashift::ddb::Item;
use dynashift::pipeline::stage::map_item;
use dynashift::source::demo::DemoSource;
use dynashift::store::{LocalStore, ObjectStore, S3Store};
use dynashift::warehouse::Warehouse;
use dynashift::warehouse::postgres::{PostgresWarehouse, TlsMode};
use dynashift::warehouse::redshift::RedshiftWarehouse;
use dynashift::warehouse::sqlite::SqliteWarehouse;

use common::{fast_demo_config, with_warehouse_section};
use redshift_stack::RedshiftStack;

const TABLE: &str = "customers";

/// Seeds of the workload per warehouse. PostgreSQL runs fewer: each of its scenarios starts
/// three processes that connect over TCP, and two seeds already cross every crash point twice.
/// Redshift runs two, so both ways of deleting cross its crash points (the last seed deletes
/// softly and keeps history).
const SQLITE_SEEDS: &[u64] = &[1, 2, 3];
const POSTGRES_SEEDS: &[u64] = &[1, 2];
const REDSHIFT_SEEDS: &[u64] = &[2, 3];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_point_loses_and_doubles_nothing_on_sqlite() {
    let scenarios = run_model(ModelWarehouse::Sqlite, SQLITE_SEEDS).await;
    assert!(scenarios >= 20, "too few scenarios ran ({scenarios}); the demo clock may be too slow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_point_loses_and_doubles_nothing_on_postgres() {
    let scenarios = run_model(ModelWarehouse::Postgres, POSTGRES_SEEDS).await;
    assert!(scenarios >= 14, "too few scenarios ran ({scenarios}); the demo clock may be too slow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_at_any_point_loses_and_doubles_nothing_on_redshift() {
    let scenarios = run_model(ModelWarehouse::Redshift, REDSHIFT_SEEDS).await;
    assert!(scenarios >= 14, "too few scenarios ran ({scenarios}); the demo clock may be too slow");
}

/// Runs every crash point for every seed on `kind`; returns how many scenarios ran. The seeds run
/// side by side, each on a thread and runtime of its own: a scenario spends most of its time
/// waiting for the processes it starts, so this shortens the suite without changing a scenario.
async fn run_model(kind: ModelWarehouse, seeds: &[u64]) -> usize {
    let seeds: Vec<_> = seeds
        .iter()
        .map(|&seed| {
            std::thread::spawn(move || {
                let runtime =
                    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
                runtime.expect("a runtime per seed").block_on(run_seed(kind, seed))
            })
        })
        .collect();
    let scenarios = seeds.into_iter().map(|seed| seed.join().expect("a seed's scenarios pass")).sum();
    eprintln!("crash-recovery scenarios run on {kind:?}: {scenarios}");
    scenarios
}

/// Every crash point of one seed on `kind`; returns how many scenarios ran.
async fn run_seed(kind: ModelWarehouse, seed: u64) -> usize {
    let mut scenarios = 0;
    let dir = tempfile::tempdir().unwrap();
    let config_path = fast_demo_config(dir.path());
    // A sixth of the fast demo clock: seeds side by side on a loaded machine make each process
    // slower, and the demo's clock only runs while a process does. At 6,000 simulated seconds a
    // second, a seed may spend eight minutes in its processes before its clock passes the demo's
    // 35-day recovery window (the reconciliation's crash points made four too few on a loaded
    // machine); 300 ms between runs is still half an hour of changes.
    let text_with_seed = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace("seed = 42", &format!("seed = {seed}"))
        .replace("speed = 36000.0", "speed = 6000.0");
    let text_with_seed =
        if kind.keeps_history(seed) { with_soft_history(&text_with_seed) } else { text_with_seed };
    std::fs::write(&config_path, text_with_seed).unwrap();
    let model = Model { warehouse: kind.prepare(&config_path, seed).await, config_path };

    let full = model.run("full", None);
    assert_eq!(full.status.code(), Some(0), "{kind:?} seed {seed}: {}", text(&full));
    model.assert_in_sync(&format!("{kind:?} seed {seed} full")).await;

    for point in model.crash_points() {
        let scenario = format!("{kind:?} seed {seed}, {}", point.fault);
        if model.crash_and_recover(&scenario, &point).await {
            scenarios += 1;
        }
    }
    scenarios
}

/// A warehouse kind the model runs on.
#[derive(Debug, Clone, Copy)]
enum ModelWarehouse {
    Sqlite,
    Postgres,
    Redshift,
}

impl ModelWarehouse {
    /// Whether `seed` syncs with soft deletes and a history table: the last seed of each
    /// warehouse, so the same crash points cover both ways of deleting.
    fn keeps_history(self, seed: u64) -> bool {
        let seeds = match self {
            ModelWarehouse::Sqlite => SQLITE_SEEDS,
            ModelWarehouse::Postgres => POSTGRES_SEEDS,
            ModelWarehouse::Redshift => REDSHIFT_SEEDS,
        };
        seeds.last() == Some(&seed)
    }

    /// Points the configuration at a fresh warehouse of this kind for `seed`; returns it opened
    /// for checking.
    async fn prepare(self, config_path: &Path, seed: u64) -> Checked {
        match self {
            ModelWarehouse::Sqlite => {
                let config = config::load(config_path).unwrap();
                let config::WarehouseConfig::Sqlite { path } = &config.warehouse else {
                    unreachable!("the shipped demo loads into SQLite")
                };
                Checked::Sqlite(SqliteWarehouse::open(path).unwrap())
            }
            ModelWarehouse::Postgres => {
                let url = postgres_support::fresh_database(&format!("crash_model_seed_{seed}")).await;
                with_warehouse_section(
                    config_path,
                    &format!("kind = \"postgres\"\nurl = \"{url}\"\ntls = \"disable\""),
                );
                Checked::Postgres(Box::new(PostgresWarehouse::connect(&url, TlsMode::Disable).await.unwrap()))
            }
            ModelWarehouse::Redshift => {
                Checked::Redshift(Box::new(RedshiftModel::prepare(config_path, seed).await))
            }
        }
    }
}

/// Redshift as the model runs it: the stand-in over a fresh database, the store in a fresh moto
/// bucket, and the warehouse read back both through the Data API and directly from PostgreSQL.
struct RedshiftModel {
    /// Runs the binary's statements; stops with the model.
    _stack: RedshiftStack,
    warehouse: RedshiftWarehouse,
    reader: PostgresWarehouse,
}

impl RedshiftModel {
    async fn prepare(config_path: &Path, seed: u64) -> RedshiftModel {
        let stack = RedshiftStack::start(&format!("crash_model_redshift_{seed}"), "crash-model").await;
        stack.write_tables_toml(config_path);
        RedshiftModel {
            warehouse: stack.warehouse(&stack.config()).await,
            reader: stack.reader().await,
            _stack: stack,
        }
    }
}

/// A warehouse as the model test reads it back.
enum Checked {
    Sqlite(SqliteWarehouse),
    Postgres(Box<PostgresWarehouse>),
    Redshift(Box<RedshiftModel>),
}

impl Checked {
    fn warehouse(&self) -> &dyn Warehouse {
        match self {
            Checked::Sqlite(warehouse) => warehouse,
            Checked::Postgres(warehouse) => warehouse.as_ref(),
            Checked::Redshift(model) => &model.warehouse,
        }
    }

    /// Whether a crash inside the load leaves a load that still commits (the batch runs on).
    fn commits_without_the_client(&self) -> bool {
        matches!(self, Checked::Redshift(_))
    }

    /// The reader of a warehouse that is PostgreSQL underneath.
    fn postgres(&self) -> Option<&PostgresWarehouse> {
        match self {
            Checked::Sqlite(_) => None,
            Checked::Postgres(warehouse) => Some(warehouse),
            Checked::Redshift(model) => Some(&model.reader),
        }
    }

    /// The target's live rows (a soft-deleting target's marked rows left out, and its
    /// `dynashift_deleted_at` column), each written out so that rows of any warehouse compare as
    /// text.
    async fn rows(&self, table: &TableConfig) -> Vec<String> {
        let mut rows: Vec<String> = match self {
            Checked::Sqlite(warehouse) => {
                let rows = warehouse.query_rows(&table.target).unwrap().expect("the target exists");
                live_rows(&rows.columns, rows.rows, |v| *v == rusqlite::types::Value::Null)
            }
            Checked::Postgres(_) | Checked::Redshift(_) => {
                let reader = self.postgres().expect("PostgreSQL underneath");
                let rows = reader.query_rows(&table.target).await.unwrap().expect("the target exists");
                live_rows(&rows.columns, rows.rows, |v| {
                    matches!(v, dynashift::warehouse::postgres::PgValue::Null)
                })
            }
        };
        rows.sort();
        rows
    }

    /// The one number `sql` selects, read from the warehouse `config` names (Redshift: from the
    /// database under the stand-in).
    async fn count(&self, config: &Config, sql: &str) -> i64 {
        let url = match (self, &config.warehouse) {
            (Checked::Sqlite(_), config::WarehouseConfig::Sqlite { path }) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                return conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            (Checked::Redshift(model), _) => model._stack.database_url.clone(),
            (_, config::WarehouseConfig::Postgres { url, .. }) => url.clone(),
            _ => unreachable!("the model's warehouse is the configured one"),
        };
        let client = postgres_support::admin_client(&url).await;
        client.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e:?}")).get(0)
    }

    /// The rows a correct sync of `items` leaves in this warehouse, written as [`Checked::rows`].
    fn expected(&self, table: &TableConfig, items: &[Item]) -> Vec<String> {
        let mut rows: Vec<String> = match self {
            Checked::Sqlite(_) => {
                common::expected_rows(table, items).iter().map(|row| format!("{row:?}")).collect()
            }
            Checked::Postgres(_) | Checked::Redshift(_) => {
                let staged: Vec<_> =
                    items.iter().map(|item| map_item(table, item).expect("demo items fit")).collect();
                postgres_support::expected_rows(table, &staged).iter().map(|row| format!("{row:?}")).collect()
            }
        };
        rows.sort();
        rows
    }
}

/// Where a run is made to stop (a `DYNASHIFT_FAULT` value), and whether its load has committed
/// by then.
struct CrashPoint {
    fault: String,
    after_commit: bool,
}

impl CrashPoint {
    fn new(fault: impl Into<String>, after_commit: bool) -> CrashPoint {
        CrashPoint { fault: fault.into(), after_commit }
    }
}

/// One seed's demo configuration and the warehouse it loads into.
struct Model {
    config_path: std::path::PathBuf,
    warehouse: Checked,
}

impl Model {
    fn run(&self, mode: &str, fault: Option<&str>) -> Output {
        self.dynashift(&["--headless", "--table", TABLE, "--mode", mode], fault)
    }

    fn dynashift(&self, args: &[&str], fault: Option<&str>) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_dynashift"));
        command.arg("--config").arg(&self.config_path).args(args);
        // The fixed credentials moto and the Data API stand-in accept (unused by the others).
        command.env("AWS_ACCESS_KEY_ID", "testing").env("AWS_SECRET_ACCESS_KEY", "testing");
        command.env("AWS_EC2_METADATA_DISABLED", "true").env_remove("AWS_PROFILE");
        match fault {
            Some(fault) => command.env("DYNASHIFT_FAULT", fault),
            None => command.env_remove("DYNASHIFT_FAULT"),
        };
        command.output().expect("run dynashift")
    }

    /// Every stage boundary, and inside the load: after the COPY, the reconciliation's counts
    /// and check, the commit record and the COMMIT, as numbered by this warehouse's
    /// incremental plan.
    fn crash_points(&self) -> Vec<CrashPoint> {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let dry_run =
            self.dynashift(&["--headless", "--table", TABLE, "--mode", "incremental", "--dry-run"], None);
        let plan = text(&dry_run);
        let statements = planned_statements(&plan);
        let index_of = |prefix: &str| {
            let found = statements.iter().find(|(_, label)| label.starts_with(prefix));
            found
                .map(|(index, _)| *index)
                .unwrap_or_else(|| panic!("no `{prefix}…` statement in the plan:\n{plan}"))
        };
        let in_load = |index: usize| format!("crash-in-load:{index}");
        let mut points: Vec<CrashPoint> = ["exporting", "exported", "staging", "staged", "loading"]
            .iter()
            .map(|stage| CrashPoint::new(format!("crash-after:{stage}"), false))
            .collect();
        let batch_commits = self.warehouse.commits_without_the_client();
        points.extend([
            CrashPoint::new(in_load(index_of("COPY ")), batch_commits),
            CrashPoint::new(in_load(index_of("count the target and the staged keys")), batch_commits),
            CrashPoint::new(in_load(index_of("check the target's row count")), batch_commits),
            CrashPoint::new(in_load(index_of("record run")), batch_commits),
        ]);
        if !batch_commits {
            let commit = statements.last().filter(|(_, label)| label == "commit").map(|(index, _)| *index);
            let commit = commit.unwrap_or_else(|| panic!("the plan does not end with its commit:\n{plan}"));
            points.push(CrashPoint::new(in_load(commit), true));
        }
        points.extend([
            CrashPoint::new("crash-after:loaded", true),
            CrashPoint::new("fail-after:staged", false),
        ]);
        points
    }

    /// Crashes a run at `point`, checks the warehouse, recovers, checks again; false when there
    /// was nothing to sync (no scenario ran).
    async fn crash_and_recover(&self, scenario: &str, point: &CrashPoint) -> bool {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let before = self.committed_watermark().await;
        let crashed = self.run("incremental", Some(&point.fault));
        let output = text(&crashed);
        if output.contains("up to date") {
            return false; // no window yet: nothing ran, nothing to crash
        }
        assert!(crashed.status.code() != Some(0), "{scenario}: the fault must stop the run: {output}");
        let after_crash = if point.after_commit {
            self.commit_after(before).await
        } else {
            self.committed_watermark().await
        };
        if point.after_commit {
            assert!(after_crash > before, "{scenario}: the commit went through before the crash");
        } else {
            assert_eq!(after_crash, before, "{scenario}: no watermark move without a commit");
        }
        self.assert_in_sync(&format!("{scenario} (after the crash)")).await;

        let recovered = self.run("incremental", None);
        let output = text(&recovered);
        assert_eq!(recovered.status.code(), Some(0), "{scenario}: recovery run: {output}");
        if !point.after_commit && !point.fault.starts_with("fail") {
            assert!(output.contains("resuming run"), "{scenario}: the interrupted run is resumed: {output}");
        }
        let watermark = self.assert_in_sync(&format!("{scenario} (recovered)")).await;
        assert!(Some(watermark) >= after_crash, "{scenario}: the watermark never goes back");
        true
    }

    /// The committed watermark once it moved past `before`: a batch the crashed client left
    /// running commits a moment later (bounded; the assertion after it reports a load that never
    /// committed).
    async fn commit_after(&self, before: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        // Up to a minute: on a loaded machine the stand-in may take that long to finish the batch.
        for _ in 0..600 {
            let now = self.committed_watermark().await;
            if now > before {
                return now;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        self.committed_watermark().await
    }

    async fn committed_watermark(&self) -> Option<DateTime<Utc>> {
        self.warehouse.warehouse().last_commit(TABLE).await.unwrap().map(|c| c.watermark)
    }

    /// Checks warehouse == source at the committed watermark; returns the watermark.
    async fn assert_in_sync(&self, scenario: &str) -> DateTime<Utc> {
        let config = config::load(&self.config_path).unwrap();
        let table = config.table(TABLE).unwrap().clone();
        let watermark = self.committed_watermark().await.expect("a commit");
        let expected = self.warehouse.expected(&table, &source_items(&config, &table, watermark).await);
        let actual = self.warehouse.rows(&table).await;
        assert_eq!(actual.len(), expected.len(), "{scenario}: live row count at watermark {watermark}");
        assert!(actual == expected, "{scenario}: rows differ from the source at watermark {watermark}");
        // The history table is created by the first incremental load.
        let incremental =
            "SELECT count(*) FROM dynashift_runs WHERE table_name = 'customers' AND mode = 'incremental'";
        if let Some(history) = &table.history_target
            && self.warehouse.count(&config, incremental).await > 0
        {
            for (what, sql) in history_checks(&table.target.table, &history.table) {
                let found = self.warehouse.count(&config, &sql).await;
                assert_eq!(found, 0, "{scenario}: {what} ({found}):\n{sql}");
            }
        }
        watermark
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_right_after_requesting_an_export_resumes_that_export_instead_of_requesting_another() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = fast_demo_config(dir.path());
    let model = Model { warehouse: ModelWarehouse::Sqlite.prepare(&config_path, 1).await, config_path };
    let full = model.run("full", None);
    assert_eq!(full.status.code(), Some(0), "{}", text(&full));
    for fault in ["crash-after-request:0", "crash-after:exporting"] {
        std::thread::sleep(std::time::Duration::from_millis(400));
        let crashed = model.run("incremental", Some(fault));
        assert_ne!(
            crashed.status.code(),
            Some(0),
            "{fault}: the fault must stop the run: {}",
            text(&crashed)
        );
        let recovered = model.run("incremental", None);
        let output = text(&recovered);
        assert_eq!(recovered.status.code(), Some(0), "{fault}: {output}");
        assert!(output.contains("resuming run"), "{fault}: the killed run is resumed: {output}");
        let specs = requested_exports(&dir.path().join(".dynashift/demo").join(TABLE).join("exports"));
        let mut unique = specs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(specs.len(), unique.len(), "{fault}: an export window was requested twice: {specs:#?}");
        model.assert_in_sync(fault).await;
    }
}

/// A run killed after its exports completed journaled their estimated cost; the run resuming it
/// takes the estimate over, so every export is priced in exactly one journal (a 30-day total
/// counts it once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_takes_over_the_cost_of_the_exports_it_reuses() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = fast_demo_config(dir.path());
    let model = Model { warehouse: ModelWarehouse::Sqlite.prepare(&config_path, 3).await, config_path };
    assert_eq!(model.run("full", None).status.code(), Some(0));
    for fault in ["crash-after:exported", "crash-after:staged"] {
        std::thread::sleep(std::time::Duration::from_millis(400));
        assert_ne!(model.run("incremental", Some(fault)).status.code(), Some(0), "{fault} stops the run");
        let recovered = model.run("incremental", None);
        assert_eq!(recovered.status.code(), Some(0), "{fault}: {}", text(&recovered));
    }
    let runs = dir.path().join(".dynashift/bucket").join(TABLE).join("_state/runs");
    let mut priced_arns = Vec::new();
    for entry in std::fs::read_dir(&runs).unwrap() {
        let journal: serde_json::Value =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        if journal["cost"].is_object() {
            assert!(journal["cost"]["usd"].as_f64().is_some_and(|usd| usd > 0.0), "{journal}");
            for export in journal["exports"].as_array().unwrap() {
                priced_arns.push(export["export_arn"].as_str().unwrap().to_owned());
            }
        }
    }
    let mut unique = priced_arns.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(priced_arns.len(), unique.len(), "an export priced in two journals: {priced_arns:#?}");
    assert!(unique.len() >= 3, "the full export and both resumed runs' exports are priced: {unique:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_run_leaves_its_export_to_the_next_run_instead_of_requesting_another() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = fast_demo_config(dir.path());
    // An export that stays IN_PROGRESS long enough to be cancelled while it runs.
    let slow = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace("export_seconds = 0.2", "export_seconds = 3.0");
    std::fs::write(&config_path, slow).unwrap();
    let model = Model { warehouse: ModelWarehouse::Sqlite.prepare(&config_path, 2).await, config_path };
    let mut command = Command::new(env!("CARGO_BIN_EXE_dynashift"));
    command.arg("--config").arg(&model.config_path).args(["--headless", "--table", TABLE, "--mode", "full"]);
    let child =
        command.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let exports = dir.path().join(".dynashift/demo").join(TABLE).join("exports");
    let started = std::time::Instant::now();
    while requested_exports_or_none(&exports).is_none() {
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "the export was never requested");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let cancelled = child.wait_with_output().unwrap();
    assert_eq!(cancelled.status.code(), Some(1), "the run is cancelled: {}", text(&cancelled));

    let next = model.run("full", None);
    let output = text(&next);
    assert_eq!(next.status.code(), Some(0), "{output}");
    assert!(output.contains("resuming run"), "the cancelled run is resumed: {output}");
    assert_eq!(requested_exports(&exports).len(), 1, "one export, requested once: {output}");
    model.assert_in_sync("cancelled full sync, resumed").await;
}

/// [`requested_exports`], or `None` while the demo has recorded none.
fn requested_exports_or_none(folder: &Path) -> Option<Vec<String>> {
    let specs = std::fs::read_dir(folder).ok().map(|_| requested_exports(folder))?;
    (!specs.is_empty()).then_some(specs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_after_the_mapping_changed_stages_again_and_loads_with_the_new_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = fast_demo_config(dir.path());
    let model = Model { warehouse: ModelWarehouse::Sqlite.prepare(&config_path, 3).await, config_path };
    let full = model.run("full", None);
    assert_eq!(full.status.code(), Some(0), "{}", text(&full));
    assert_eq!(emails_that_are_names(&model).await, 0);
    std::thread::sleep(std::time::Duration::from_millis(600));
    let crashed = model.run("incremental", Some("crash-after:staged"));
    assert_ne!(crashed.status.code(), Some(0), "the fault must stop the run: {}", text(&crashed));

    // Between the crash and the resume, the email column is pointed at another attribute.
    let toml = std::fs::read_to_string(&model.config_path).unwrap();
    let old_column = "{ name = \"email\", type = \"varchar(256)\" }";
    assert!(toml.contains(old_column), "the shipped customers table maps email");
    let new_column = "{ name = \"email\", path = \"name\", type = \"varchar(256)\" }";
    std::fs::write(&model.config_path, toml.replacen(old_column, new_column, 1)).unwrap();

    let resumed = model.run("incremental", None);
    let output = text(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{output}");
    assert!(output.contains("resuming run"), "{output}");
    assert!(emails_that_are_names(&model).await > 0, "the resumed load used the new mapping: {output}");
    assert!(output.contains("configuration changed since"), "the user is told why it stages again: {output}");
    let line = output.lines().find(|line| line.contains("staged its files, but")).expect("the warning");
    let warning = &line[line.find("run ").unwrap()..];
    assert!(!warning.contains("  "), "the warning reads as one sentence: {warning}");
}

/// Rows whose `email` holds the `name` (only the changed mapping writes that).
async fn emails_that_are_names(model: &Model) -> usize {
    let config = config::load(&model.config_path).unwrap();
    let table = config.table(TABLE).unwrap();
    let Checked::Sqlite(warehouse) = &model.warehouse else { unreachable!("a SQLite model") };
    let rows = warehouse.query_rows(&table.target).unwrap().expect("the target exists");
    let column = |name: &str| rows.columns.iter().position(|c| c == name).unwrap();
    let (email, name) = (column("email"), column("name"));
    rows.rows.iter().filter(|row| row[email] == row[name]).count()
}

/// The window of every export the demo was asked for (its records, one file per request).
fn requested_exports(folder: &Path) -> Vec<String> {
    let mut specs: Vec<String> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let record: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            record["spec"].to_string()
        })
        .collect();
    specs.sort();
    specs
}

/// The demo table's items at `watermark`.
async fn source_items(config: &Config, table: &TableConfig, watermark: DateTime<Utc>) -> Vec<Item> {
    let store: Arc<dyn ObjectStore> = match &table.store {
        config::StoreLocation::Local { root } => Arc::new(LocalStore::new(root)),
        config::StoreLocation::S3 { bucket, prefix } => {
            Arc::new(S3Store::new(&moto_support::connection().await, bucket, prefix))
        }
    };
    let demo = DemoSource::open(&config.demo, Arc::new(table.clone()), store).unwrap();
    demo.items_at(watermark).await.unwrap()
}

/// `(index, label)` of every statement a dry run lists (`[3/12] check the committed watermark`).
fn planned_statements(output: &str) -> Vec<(usize, String)> {
    output
        .lines()
        .filter_map(|line| {
            let rest = &line[line.find(" [")? + 2..];
            let (numbers, label) = rest.split_once("] ")?;
            let (index, _total) = numbers.split_once('/')?;
            Some((index.parse().ok()?, label.to_owned()))
        })
        .collect()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A tiny tmpfs for the bucket, to fill up (Linux, root only; CI runs as root); unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// `None`, with the reason printed, when this process may not mount.
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(SmallDisk { dir }),
            other => {
                eprintln!("skipped: cannot mount a small tmpfs (needs root): {other:?}");
                None
            }
        }
    }

    fn filler(&self) -> std::path::PathBuf {
        self.dir.path().join("dynashift-filler")
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Every state file below `bucket` is whole JSON, and no temporary is left.
fn assert_state_files_whole(bucket: &Path, scenario: &str) {
    let mut stack = vec![bucket.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.to_string_lossy().into_owned();
            assert!(!name.contains(".dynashift-tmp-"), "{scenario}: temporary left: {name}");
            if path.is_dir() {
                stack.push(path);
            } else if name.contains("/_state/") {
                let bytes = std::fs::read(&path).unwrap();
                let parsed = serde_json::from_slice::<serde_json::Value>(&bytes);
                assert!(parsed.is_ok(), "{scenario}: {name} is not whole JSON ({} bytes)", bytes.len());
            }
        }
    }
}

/// The bucket on a disk that fills up before the lease is written, and right after the run
/// exported (the staged files and their manifest come next), staged (the journal) and loaded
/// (the watermark copy): each run fails saying so, leaves no empty or truncated state file, and
/// the next run after the space is freed syncs without hand repair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_at_any_state_write_fails_clearly_and_the_next_run_recovers() {
    let Some(disk) = SmallDisk::mount("16m") else { return };
    let dir = tempfile::tempdir().unwrap();
    let config_path = fast_demo_config(dir.path());
    let bucket = disk.dir.path().join("bucket");
    let text_on_disk = std::fs::read_to_string(&config_path).unwrap().replace(
        "bucket = \"file://.dynashift/bucket\"",
        &format!("bucket = \"file://{}\"", bucket.display()),
    );
    std::fs::write(&config_path, text_on_disk).unwrap();
    let model = Model { warehouse: ModelWarehouse::Sqlite.prepare(&config_path, 1).await, config_path };
    let full = model.run("full", None);
    assert_eq!(full.status.code(), Some(0), "{}", text(&full));

    let mut failed = 0;
    for point in ["before the lease", "exported", "staged", "loaded"] {
        std::thread::sleep(std::time::Duration::from_millis(300));
        let fault = format!("fill-disk-after:{point}:{}", disk.dir.path().display());
        let run = if point == "before the lease" {
            std::fs::write(disk.filler(), b"").unwrap();
            let fill = format!("cat /dev/zero >> {}", disk.filler().display());
            let _ = Command::new("sh").arg("-c").arg(fill).output();
            model.run("incremental", None)
        } else {
            model.run("incremental", Some(&fault))
        };
        let output = text(&run);
        if !disk.filler().exists() {
            assert!(output.contains("up to date"), "{point}: {output}");
            continue; // no window yet: the run never reached the point
        }
        assert_ne!(run.status.code(), Some(0), "{point}: a full disk must fail the run: {output}");
        assert!(output.contains("No space left on device"), "{point}: {output}");
        assert_state_files_whole(&bucket, point);
        std::fs::remove_file(disk.filler()).unwrap();
        failed += 1;

        let next = model.run("incremental", None);
        assert_eq!(next.status.code(), Some(0), "{point}, after freeing space: {}", text(&next));
        assert_state_files_whole(&bucket, point);
        model.assert_in_sync(&format!("full disk {point}")).await;
    }
    assert!(failed >= 3, "too few full-disk scenarios ran ({failed})");
}

/// A lease and a journal an older version left empty or truncated when it crashed are recovered
/// by the next run (once the lease stayed unchanged for a lease period), with no hand repair.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_lease_and_journal_left_by_an_old_crash_are_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = fast_demo_config(dir.path());
    let model = Model { warehouse: ModelWarehouse::Sqlite.prepare(&config_path, 2).await, config_path };
    let full = model.run("full", None);
    assert_eq!(full.status.code(), Some(0), "{}", text(&full));
    let state = dir.path().join(".dynashift/bucket").join(TABLE).join("_state");
    std::fs::write(state.join("lock"), b"").unwrap();
    std::fs::write(state.join("runs/20261204T000000Z-crashed.json"), b"{\"run_id\": \"2026").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut command = Command::new(env!("CARGO_BIN_EXE_dynashift"));
    command.arg("--config").arg(&model.config_path).args([
        "--headless",
        "--table",
        TABLE,
        "--mode",
        "incremental",
    ]);
    let run = command.env("DYNASHIFT_LEASE_TTL_MS", "500").env_remove("DYNASHIFT_FAULT").output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(!state.join("lock").exists(), "the lease was taken over, then released");
    model.assert_in_sync("unreadable lease and journal").await;
}

/// A run waiting a lease period to take over a stale lease stops at once when told to (Ctrl-C,
/// SIGTERM), instead of after the two minutes.
#[test]
fn a_run_waiting_out_a_stale_lease_can_be_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = fast_demo_config(dir.path());
    let state = dir.path().join(".dynashift/bucket").join(TABLE).join("_state");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("lock"), b"").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_dynashift"))
        .arg("--config")
        .arg(&config_path)
        .args(["--headless", "--table", TABLE, "--mode", "full"])
        .env_remove("DYNASHIFT_LEASE_TTL_MS")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let stopped_at = std::time::Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let output = child.wait_with_output().unwrap();
    assert!(stopped_at.elapsed() < std::time::Duration::from_secs(10), "took {:?}", stopped_at.elapsed());
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert_eq!(std::fs::read(state.join("lock")).unwrap(), b"", "the stale lease was left as it was");
}

/// `text` (a model's tables.toml) with `customers` deleting softly and keeping a history table.
fn with_soft_history(text: &str) -> String {
    let target = "target = \"customers\"\n";
    assert!(text.contains(target), "the demo's customers table");
    text.replacen(target, &format!("{target}deletes = \"soft\"\nhistory_target = \"customers_history\"\n"), 1)
}

/// `rows` written out as text, without the rows marked deleted and without their mark column
/// (`is_null` says whether a mark is empty); every row when there is no such column.
fn live_rows<V: std::fmt::Debug>(
    columns: &[String],
    rows: Vec<Vec<V>>,
    is_null: impl Fn(&V) -> bool,
) -> Vec<String> {
    let mark = columns.iter().position(|c| c == "dynashift_deleted_at");
    rows.into_iter()
        .filter_map(|mut row| {
            if let Some(mark) = mark {
                if !is_null(&row[mark]) {
                    return None;
                }
                row.remove(mark);
            }
            Some(format!("{row:?}"))
        })
        .collect()
}

/// What must be true of `history` (a history table of the customers `target`, soft deletes)
/// after any crash and recovery, each as a query counting the rows that break it: every
/// applied change exactly once, nothing of a run that did not commit.
fn history_checks(target: &str, history: &str) -> Vec<(&'static str, String)> {
    let newest_op = format!(
        "(SELECT h.op FROM {history} AS h JOIN dynashift_runs AS r ON r.run_id = h.run_id \
         WHERE h.customer_id = t.customer_id ORDER BY r.seq DESC LIMIT 1)"
    );
    vec![
        (
            "history rows of a run that never committed",
            format!(
                "SELECT count(*) FROM {history} AS h WHERE NOT EXISTS \
                 (SELECT 1 FROM dynashift_runs AS r WHERE r.run_id = h.run_id)"
            ),
        ),
        (
            "keys appended twice by one run",
            format!(
                "SELECT count(*) FROM (SELECT customer_id, run_id FROM {history} \
                 GROUP BY customer_id, run_id HAVING count(*) > 1) AS doubled"
            ),
        ),
        (
            "committed incremental runs whose upserts are not each in history once, or with more removes than deletes",
            format!(
                "SELECT count(*) FROM dynashift_runs AS r WHERE r.table_name = 'customers' AND r.mode = 'incremental' \
                 AND (r.upserts <> (SELECT count(*) FROM {history} AS h WHERE h.run_id = r.run_id AND h.op <> 'remove') \
                 OR r.deletes < (SELECT count(*) FROM {history} AS h WHERE h.run_id = r.run_id AND h.op = 'remove'))"
            ),
        ),
        (
            "inserted keys missing from the target (a soft-deleting target keeps every key)",
            format!(
                "SELECT count(*) FROM {history} AS h WHERE h.op = 'insert' AND NOT EXISTS \
                 (SELECT 1 FROM {target} AS t WHERE t.customer_id = h.customer_id)"
            ),
        ),
        (
            "target rows whose deletion mark disagrees with their newest history row",
            format!(
                "SELECT count(*) FROM {target} AS t WHERE (t.dynashift_deleted_at IS NOT NULL) <> \
                 (coalesce({newest_op}, 'none') = 'remove')"
            ),
        ),
    ]
}
