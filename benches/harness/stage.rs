//! The stage step alone, in a child process of its own (the bench or smoke binary run again with
//! [`CHILD_VARIABLE`] set), so its peak RSS and CPU time are its own; and `zcat` of the same
//! files beside it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use dynashift::config::TableConfig;
use dynashift::contract::{StageCounts, StageRules};
use dynashift::pipeline::EventSink;
use dynashift::pipeline::stage::{StageInput, stage};
use dynashift::source::{ExportDescription, ExportSpec, ExportStatus};
use dynashift::store::LocalStore;

use super::Skipped;
use super::generate::{Dataset, EXPORT_ID, EXPORT_TIME, TABLE_ARN};
use super::process::{Measured, available, fastest, measure};
use super::sync::{TABLE, forget_table_state, write_config};

/// Set in the child: the `tables.toml` whose table it stages. The bucket and summary key follow
/// in [`BUCKET_VARIABLE`] and [`SUMMARY_VARIABLE`].
pub const CHILD_VARIABLE: &str = "DYNASHIFT_BENCH_STAGE_CONFIG";
const BUCKET_VARIABLE: &str = "DYNASHIFT_BENCH_STAGE_BUCKET";
const SUMMARY_VARIABLE: &str = "DYNASHIFT_BENCH_STAGE_SUMMARY";

/// `zcat` of every data file to /dev/null, the fastest of `repeats`.
pub fn zcat(dataset: &Dataset, repeats: usize) -> Result<Result<Measured, Skipped>, String> {
    if !available("zcat") {
        return Ok(Err(Skipped("zcat is not installed (apt-get install gzip)".into())));
    }
    let run = || {
        let mut command = Command::new("zcat");
        command.args(&dataset.data_files).stdout(Stdio::null());
        measure("zcat", &mut command).map(|(measured, _)| measured)
    };
    fastest(repeats, || Ok(()), run).map(Ok)
}

/// Stages the export in a child made by `child` (this process's binary, told how to reach
/// [`child_main`]), the fastest of `repeats`; checks the child staged every item.
pub fn stage_in_child(
    dir: &Path,
    dataset: &Dataset,
    repeats: usize,
    child: &dyn Fn() -> Command,
) -> Result<Measured, String> {
    let config = write_config(dir, dataset, "stage.toml", "kind = \"sqlite\"\npath = \"unused.sqlite\"");
    let run = || {
        let mut command = child();
        command
            .env(CHILD_VARIABLE, &config)
            .env(BUCKET_VARIABLE, &dataset.bucket)
            .env(SUMMARY_VARIABLE, &dataset.summary_key);
        let (measured, stdout) = measure("the stage child", &mut command)?;
        let expected = format!("staged upserts={} deletes=0", dataset.items);
        if !stdout.contains(&expected) {
            return Err(format!("the stage child did not report `{expected}`:\n{stdout}"));
        }
        Ok(measured)
    };
    fastest(repeats, || forget_table_state(dataset), run)
}

/// In the child: stages the export once and prints its counts. Returns false when this process
/// is not a stage child (the variable is unset).
pub fn child_main() -> bool {
    let Some(config) = std::env::var_os(CHILD_VARIABLE) else {
        return false;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("the parent sets {name}"));
    let config = dynashift::config::load(Path::new(&config)).expect("the parent wrote a valid tables.toml");
    let table = config.tables.into_iter().find(|t| t.name == TABLE).expect("the orders table");
    let export = export_description(var(SUMMARY_VARIABLE));
    // A worker per core, as the binary's runtime has.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let counts =
        runtime.block_on(stage_export("bench-stage".into(), table, export, Path::new(&var(BUCKET_VARIABLE))));
    println!("staged upserts={} deletes={} bytes_out={}", counts.upserts, counts.deletes, counts.bytes_out);
    true
}

/// Stages `export` of `table` once from the bucket folder `bucket`, as a run's stage step does,
/// and returns its counts.
pub async fn stage_export(
    run_id: String,
    table: TableConfig,
    export: ExportDescription,
    bucket: &Path,
) -> StageCounts {
    let input = StageInput {
        run_id,
        table: Arc::new(table),
        exports: vec![export],
        store: Arc::new(LocalStore::new(bucket)),
        events: EventSink::discard(),
        cancel: CancellationToken::new(),
        rules: StageRules::EXACT,
    };
    let (_staged, counts) = stage(input).await.expect("the generated export stages");
    counts
}

/// The generated export, as DescribeExport would describe it.
pub fn export_description(summary_key: String) -> ExportDescription {
    let export_time: DateTime<Utc> = EXPORT_TIME.parse().expect("a valid export time");
    ExportDescription {
        export_arn: format!("{TABLE_ARN}/export/{EXPORT_ID}"),
        status: ExportStatus::Completed,
        spec: ExportSpec::Full { export_time },
        manifest_summary_key: Some(summary_key),
        item_count: None,
        billed_size_bytes: None,
        failure_code: None,
        failure_message: None,
    }
}
