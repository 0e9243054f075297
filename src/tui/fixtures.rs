//! Test fixtures: a configuration, a fixed clock and scripted runs (synthetic [`RunEvent`]s in
//! the order the pipeline emits them), shared by the state, key-handling and snapshot tests.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::config::{
    AwsSettings, Config, DemoSettings, LagThresholds, Mode, SourceConfig, StoreLocation, TableConfig,
    ViewType, WarehouseConfig,
};
use crate::contract::{ExportDescription, ExportSpec, ExportStatus};
use crate::pipeline::RunJournal;
use crate::pipeline::events::{EventKind, RunEvent, RunOutcome, Stage, StageCounts, StatementStatus};
use crate::pipeline::journal::{JournalExport, JournalFailure, JournalStatement};
use crate::testkit::TableBuilder;

/// 2026-11-24 at `h:m:s` UTC: the fixtures' day.
pub(super) fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, h, m, s).unwrap()
}

/// The fixed "now" of the snapshots: two minutes into the scripted runs.
pub(super) fn now() -> DateTime<Utc> {
    t(18, 2, 0)
}

fn table(name: &str, schema: &str, mode: Mode, source: SourceConfig) -> TableConfig {
    TableBuilder::new(name)
        .source(source)
        .store(StoreLocation::Local { root: PathBuf::from("/srv/dynashift/bucket") })
        .in_schema(schema, name)
        .mode(mode)
        .key_attribute("pk")
        .build()
}

/// Three tables: two demo tables and one fed by existing exports.
pub(super) fn config() -> Config {
    Config {
        path: PathBuf::from("/srv/dynashift/tables.toml"),
        base_dir: PathBuf::from("/srv/dynashift"),
        aws: AwsSettings::default(),
        demo: DemoSettings {
            state_dir: PathBuf::from("/srv/dynashift/.dynashift/demo"),
            seed: 42,
            speed: 120.0,
            initial_items: 2000,
            writes_per_hour: 600,
            export_duration: Duration::from_secs(3),
        },
        warehouse: WarehouseConfig::Sqlite {
            path: PathBuf::from("/srv/dynashift/.dynashift/warehouse.sqlite"),
        },
        lag: LagThresholds { warn: Duration::from_secs(2 * 3600), critical: Duration::from_secs(24 * 3600) },
        log_file: PathBuf::from("/srv/dynashift/.dynashift/dynashift.log"),
        max_concurrent_runs: 2,
        tables: vec![
            table("orders", "analytics", Mode::Incremental, SourceConfig::Demo),
            table("customers", "analytics", Mode::Incremental, SourceConfig::Demo),
            table(
                "invoices",
                "billing",
                Mode::Full,
                SourceConfig::Exports { prefix: "incoming/invoices".into() },
            ),
        ],
        notify: None,
        metrics: None,
    }
}

fn arn(table: &str, n: u32) -> String {
    format!("arn:aws:dynamodb:us-east-1:000000000000:table/{table}/export/0176400000000{n}-a1b2c3d{n}")
}

fn windows() -> [ExportSpec; 2] {
    let view_type = ViewType::NewAndOldImages;
    [
        ExportSpec::Incremental { from: t(12, 0, 0) - chrono::Duration::days(1), to: t(12, 0, 0), view_type },
        ExportSpec::Incremental { from: t(12, 0, 0), to: t(17, 55, 0), view_type },
    ]
}

const STATEMENTS: [(&str, &str); 4] = [
    (
        "create stage",
        "CREATE TEMP TABLE stage (LIKE analytics.orders, dynashift_op CHAR(1), dynashift_ts BIGINT)",
    ),
    (
        "copy staged files",
        "COPY stage FROM 's3://acme-dynamo-exports/dynashift/orders/staged/run-1/copy.manifest'\n    \
         MANIFEST FORMAT JSON 's3://acme-dynamo-exports/dynashift/orders/staged/run-1/jsonpaths.json'\n    \
         GZIP IAM_ROLE 'arn:aws:iam::123456789012:role/redshift-copy'",
    ),
    (
        "apply deletes",
        "DELETE FROM analytics.orders USING stage\n    WHERE analytics.orders.pk = stage.pk AND stage.dynashift_op = 'D'",
    ),
    (
        "merge upserts",
        "MERGE INTO analytics.orders USING (SELECT * FROM stage WHERE dynashift_op = 'U') s\n    \
         ON analytics.orders.pk = s.pk\n    WHEN MATCHED THEN UPDATE SET status = s.status, total = s.total\n    \
         WHEN NOT MATCHED THEN INSERT (pk, status, total) VALUES (s.pk, s.status, s.total)",
    ),
];

const STATEMENT_ROWS: [Option<i64>; 4] = [None, Some(1204), Some(24), Some(1180)];

pub(super) const MERGE_ERROR: &str =
    "UNIQUE constraint failed: orders.pk (the staged rows hold the key CUST#00042 twice)";

fn counts(files_done: u64) -> StageCounts {
    StageCounts {
        files_done,
        files_total: 3,
        items_read: 410 * files_done,
        upserts: 393 * files_done + u64::from(files_done == 3),
        deletes: 8 * files_done,
        superseded: 9 * files_done,
        nulled_values: 0,
        bytes_in: 180_000 * files_done,
        bytes_out: 150_000 * files_done,
        elapsed_ms: 1500 * files_done,
        spill_partitions: 0,
    }
}

/// A scripted run: each event is stamped one second after the previous one, from 18:00:00.
pub(super) struct Script {
    table: String,
    run_id: String,
    clock: DateTime<Utc>,
}

impl Script {
    pub(super) fn new(table: &str, run_id: &str) -> Script {
        Script { table: table.into(), run_id: run_id.into(), clock: t(18, 0, 0) }
    }

    pub(super) fn run_id(&self) -> &str {
        &self.run_id
    }

    pub(super) fn event(&mut self, kind: EventKind) -> RunEvent {
        let event = RunEvent { run_id: self.run_id.clone(), table: self.table.clone(), at: self.clock, kind };
        self.clock += chrono::Duration::seconds(1);
        event
    }

    pub(super) fn started(&mut self, mode: Mode, dry_run: bool) -> RunEvent {
        self.event(EventKind::RunStarted {
            mode,
            dry_run,
            source: format!("demo table {}", self.table),
            store: "file:///srv/dynashift/bucket".into(),
            warehouse: "sqlite /srv/dynashift/.dynashift/warehouse.sqlite".into(),
            target: format!("analytics.{}", self.table),
        })
    }

    fn planned(&mut self) -> RunEvent {
        self.event(EventKind::Planned {
            exports: windows().to_vec(),
            notes: vec!["catching up: the watermark is 30h behind".into()],
        })
    }

    /// Two windows requested; the first completed, the second still in progress.
    pub(super) fn exporting(&mut self) -> Vec<RunEvent> {
        let table = self.table.clone();
        let [first, second] = windows();
        let mut events =
            vec![self.planned(), self.event(EventKind::StageChanged { stage: Stage::Exporting })];
        for (index, spec) in [first, second].into_iter().enumerate() {
            events.push(self.event(EventKind::ExportRequested {
                index,
                total: 2,
                export_arn: arn(&table, index as u32 + 1),
                spec,
            }));
        }
        events.push(self.polled(0, ExportStatus::Completed, 1, Some(840)));
        events.push(self.event(EventKind::ExportCompleted {
            index: 0,
            export_arn: arn(&table, 1),
            item_count: 840,
            billed_size_bytes: 412_000,
            data_files: 2,
        }));
        for polls in 1..=3 {
            events.push(self.polled(1, ExportStatus::InProgress, polls, None));
        }
        events
    }

    fn polled(&mut self, index: usize, status: ExportStatus, polls: u32, items: Option<u64>) -> RunEvent {
        let table = self.table.clone();
        self.event(EventKind::ExportPolled {
            index,
            export_arn: arn(&table, index as u32 + 1),
            status,
            elapsed_ms: 2000 * u64::from(polls),
            polls,
            item_count: items,
            billed_size_bytes: items.map(|n| n * 490),
        })
    }

    /// Exports done, two of three data files staged.
    pub(super) fn staging(&mut self) -> Vec<RunEvent> {
        let table = self.table.clone();
        let mut events = self.exporting();
        events.push(self.polled(1, ExportStatus::Completed, 4, Some(410)));
        events.push(self.event(EventKind::ExportCompleted {
            index: 1,
            export_arn: arn(&table, 2),
            item_count: 410,
            billed_size_bytes: 200_900,
            data_files: 1,
        }));
        events.push(self.event(EventKind::StageChanged { stage: Stage::Exported }));
        events.push(self.event(EventKind::StageChanged { stage: Stage::Staging }));
        events.push(self.event(EventKind::StagingStarted { files_total: 3, exports: 2 }));
        for (n, md5) in [(1, true), (2, true)] {
            events.push(self.event(EventKind::FileVerified {
                key: format!("{table}/exports/AWSDynamoDB/data/file-{n}.json.gz"),
                items: 410,
                md5_checked: md5,
            }));
            events.push(self.event(EventKind::StagingProgress { counts: counts(n) }));
        }
        events
    }

    /// Staged; statements 1 and 2 done, 3 running, 4 submitted.
    pub(super) fn loading(&mut self) -> Vec<RunEvent> {
        let table = self.table.clone();
        let mut events = self.staging();
        events.push(self.event(EventKind::FileVerified {
            key: format!("{table}/exports/AWSDynamoDB/data/file-3.json.gz"),
            items: 410,
            md5_checked: false,
        }));
        events.push(self.event(EventKind::StagingFinished {
            counts: counts(3),
            staged_files: 2,
            manifest_url: format!("file:///srv/dynashift/bucket/{table}/staged/run-1/copy.manifest"),
        }));
        events.push(self.event(EventKind::StageChanged { stage: Stage::Staged }));
        events.push(self.event(EventKind::StageChanged { stage: Stage::Loading }));
        for (i, (label, sql)) in STATEMENTS.iter().enumerate() {
            events.push(self.event(EventKind::StatementSubmitted {
                index: i + 1,
                total: 4,
                label: (*label).into(),
                sql: (*sql).into(),
            }));
        }
        for index in 1..=2 {
            events.push(self.statement_started(index));
            events.push(self.statement_finished(index, StatementStatus::Finished, None));
        }
        events.push(self.statement_started(3));
        events
    }

    fn statement_started(&mut self, index: usize) -> RunEvent {
        self.event(EventKind::StatementStarted { index, query_id: Some(format!("q-{index:04}")) })
    }

    fn statement_finished(&mut self, index: usize, status: StatementStatus, error: Option<&str>) -> RunEvent {
        let rows = if status == StatementStatus::Finished { STATEMENT_ROWS[index - 1] } else { None };
        self.event(EventKind::StatementFinished {
            index,
            status,
            duration_ms: 40 + 310 * index as u64,
            rows,
            error: error.map(str::to_owned),
            query_id: Some(format!("q-{index:04}")),
        })
    }

    /// Everything after `started`, through the commit.
    pub(super) fn committed_run(&mut self) -> Vec<RunEvent> {
        let mut events = self.loading();
        events.push(self.statement_finished(3, StatementStatus::Finished, None));
        events.push(self.statement_started(4));
        events.push(self.statement_finished(4, StatementStatus::Finished, None));
        events.push(self.event(EventKind::Reconciled { target_rows: 20_412, upserts: 1180, deletes: 24 }));
        events.push(self.event(EventKind::StageChanged { stage: Stage::Loaded }));
        events.push(
            self.event(EventKind::WatermarkAdvanced {
                from: Some(windows()[0].watermark()),
                to: t(17, 55, 0),
            }),
        );
        events.push(self.event(EventKind::StageChanged { stage: Stage::Committed }));
        events.push(self.event(EventKind::RunFinished {
            result: RunOutcome::Committed {
                watermark: t(17, 55, 0),
                upserts: 1180,
                deletes: 24,
                target_rows: 20_412,
            },
        }));
        events
    }

    /// Everything after `started`, up to the MERGE failing.
    pub(super) fn failed_while_loading(&mut self) -> Vec<RunEvent> {
        let mut events = self.loading();
        events.push(self.statement_finished(3, StatementStatus::Finished, None));
        events.push(self.statement_started(4));
        events.push(self.statement_finished(4, StatementStatus::Failed, Some(MERGE_ERROR)));
        events.push(
            self.event(EventKind::RunFailed {
                stage: Stage::Loading,
                cause: format!("statement 4 (merge upserts) failed: {MERGE_ERROR}"),
                hint:
                    "nothing was committed and the watermark did not move; fix the cause above and run again"
                        .into(),
            }),
        );
        events
    }

    /// Everything after `started` of a dry run: the plan and the SQL it would run.
    pub(super) fn dry_run(&mut self) -> Vec<RunEvent> {
        let mut events = vec![self.planned()];
        for (i, (label, sql)) in STATEMENTS.iter().enumerate() {
            events.push(self.event(EventKind::StatementPlanned {
                index: i + 1,
                total: 4,
                label: (*label).into(),
                sql: (*sql).into(),
            }));
        }
        events.push(self.event(EventKind::RunFinished { result: RunOutcome::DryRun }));
        events
    }
}

/// A committed incremental run of `orders` that started at `started`.
pub(super) fn committed_journal(run_id: &str, started: DateTime<Utc>) -> RunJournal {
    let spec = windows()[1].clone();
    let mut journal = RunJournal::new(run_id, "orders", Mode::Incremental, Some(windows()[0].watermark()));
    journal.started_at = started;
    journal.updated_at = started + chrono::Duration::seconds(72);
    journal.finished_at = Some(journal.updated_at);
    journal.stage = Stage::Committed;
    journal.target_watermark = Some(spec.watermark());
    journal.exports = vec![JournalExport {
        client_token: None,
        export_arn: Some(arn("orders", 7)),
        description: Some(ExportDescription {
            export_arn: arn("orders", 7),
            status: ExportStatus::Completed,
            spec: spec.clone(),
            manifest_summary_key: None,
            item_count: Some(1250),
            billed_size_bytes: Some(612_900),
            failure_code: None,
            failure_message: None,
        }),
        spec,
    }];
    journal.stage_counts = Some(StageCounts { upserts: 1180, deletes: 24, ..counts(3) });
    journal.statements = STATEMENTS
        .iter()
        .zip(STATEMENT_ROWS)
        .enumerate()
        .map(|(i, ((label, sql), rows))| JournalStatement {
            label: (*label).into(),
            sql: (*sql).into(),
            status: Some(StatementStatus::Finished),
            duration_ms: Some(40 + 310 * i as u64),
            rows,
            error: None,
            query_id: Some(format!("q-{i:04}")),
        })
        .collect();
    journal.target_rows = Some(20_412);
    journal
}

/// A run of `orders` that failed in its MERGE.
pub(super) fn failed_journal(run_id: &str, started: DateTime<Utc>) -> RunJournal {
    let mut journal = committed_journal(run_id, started);
    journal.stage = Stage::Loading;
    journal.target_rows = None;
    let merge = journal.statements.last_mut().unwrap();
    merge.status = Some(StatementStatus::Failed);
    merge.rows = None;
    merge.error = Some(MERGE_ERROR.into());
    journal.failure = Some(JournalFailure {
        stage: Stage::Loading,
        cause: format!("statement 4 (merge upserts) failed: {MERGE_ERROR}"),
        hint: "nothing was committed and the watermark did not move; fix the cause above and run again"
            .into(),
    });
    journal
}
