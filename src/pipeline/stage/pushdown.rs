//! The stage step of a pushdown full load: nothing is read but the export's manifests. The
//! warehouse (Redshift) COPYs the export's own data files, listed by a COPY manifest and read
//! through jsonpaths over `$.Item` ([`crate::ddb::item_paths`]), so no item passes through dynashift.
//!
//! What still happens here, before anything loads: the manifests are read and checked (format,
//! counts, every data file inside the export's folder — [`super::manifest`]), each data file is
//! found in the store (one listing per folder, which also gives its size), and every column's
//! path is checked to be expressible. What does not: the per-file item count and MD5 checks,
//! which need the data; Redshift's COPY reads every listed file (`mandatory`) in one
//! transaction and fails the load on any line it cannot convert.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use super::error::StageError;
use super::manifest::{self, DataFile};
use super::{StageInput, check_export_set, remove_previous_attempt, writer};
use crate::ddb::item_paths::item_jsonpaths;
use crate::pipeline::events::{EventKind, EventSink, StageCounts};
use crate::pipeline::staged::{StagedFile, StagedFormat, StagedSet, target_columns};
use crate::source::ExportSpec;
use crate::store::ObjectStore;

/// Stages a pushdown load of the one full export in `input`: writes `copy.manifest` (the
/// export's data files) and `jsonpaths.json` under `<table>/staged/<run_id>/`, and returns an
/// [`StagedFormat::ExportItems`] set with every item as an upsert.
pub async fn stage_export_items(input: StageInput) -> Result<(StagedSet, StageCounts), StageError> {
    let started = Instant::now();
    single_full_export(&input)?;
    // Checked first: a column Redshift cannot read fails the run before the store is touched.
    let jsonpaths = item_jsonpaths(&input.table)?;
    let set = PushdownSet {
        format: StagedFormat::ExportItems,
        columns: target_columns(&input.table),
        jsonpaths,
        nothing_to_read: "pushdown: the export has no data files (an empty table); staged normally instead",
    };
    stage_listed_files(input, set, started).await
}

/// What one kind of pushdown set is made of; everything else the two kinds share.
pub(super) struct PushdownSet {
    pub format: StagedFormat,
    /// The stage table's columns, in the jsonpaths' order.
    pub columns: Vec<String>,
    pub jsonpaths: Vec<u8>,
    /// The warning when the exports list no data files at all.
    pub nothing_to_read: &'static str,
}

/// Lists the data files of every export of `input` from its own manifest and writes the COPY
/// manifest and jsonpaths of `set` under `<table>/staged/<run_id>/`; every listed line counts as
/// an upsert (the rows COPY loads). No data files at all: the run is staged the usual way
/// instead (one empty part), because COPY fails on a manifest without entries.
pub(super) async fn stage_listed_files(
    input: StageInput,
    set: PushdownSet,
    started: Instant,
) -> Result<(StagedSet, StageCounts), StageError> {
    let mut listed = Vec::new();
    for export in &input.exports {
        let files = manifest::read_export(input.store.as_ref(), export).await?;
        for message in &files.warnings {
            input.events.emit(EventKind::Warning { message: message.clone() });
        }
        listed.extend(files.files);
    }
    if listed.is_empty() {
        input.events.emit(EventKind::Warning { message: set.nothing_to_read.into() });
        return super::stage(input).await;
    }
    let exports = input.exports.len();
    input.events.emit(EventKind::StagingStarted { files_total: listed.len() as u64, exports });
    let files = with_sizes(input.store.as_ref(), &listed).await?;

    let prefix = writer::staged_prefix(&input.table, &input.run_id);
    remove_previous_attempt(input.store.as_ref(), &prefix).await?;
    let (manifest_key, jsonpaths_key) = (format!("{prefix}copy.manifest"), format!("{prefix}jsonpaths.json"));
    input.store.put(&manifest_key, writer::copy_manifest(input.store.as_ref(), &files)).await?;
    input.store.put(&jsonpaths_key, set.jsonpaths).await?;

    let lines: u64 = files.iter().map(|f| f.rows).sum();
    if set.format == StagedFormat::ExportChanges {
        input.events.emit(EventKind::Warning {
            message: format!(
                "pushdown: {lines} change lines from {exports} incremental export(s) are folded by key in \
                 Redshift; the load counts the upserts and deletes they fold into"
            ),
        });
    }
    let counts = StageCounts {
        files_done: files.len() as u64,
        files_total: files.len() as u64,
        items_read: lines,
        upserts: lines,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        ..StageCounts::default()
    };
    report_finished(&input.events, counts, input.store.url_of(&manifest_key));
    let staged = StagedSet {
        manifest_key,
        jsonpaths_key,
        columns: set.columns,
        files,
        upserts: lines,
        deletes: 0,
        format: set.format,
    };
    Ok((staged, counts))
}

/// The usual end-of-staging event, after a note saying why nothing was read: the front ends
/// show the counts as for a staged load.
pub(super) fn report_finished(events: &EventSink, counts: StageCounts, manifest_url: String) {
    let files = counts.files_total;
    events.emit(EventKind::Warning {
        message: format!(
            "pushdown: Redshift reads {files} export files directly; no data passes through dynashift \
             (values are converted by COPY, super columns hold DynamoDB JSON)"
        ),
    });
    events.emit(EventKind::StagingFinished { counts, staged_files: files as usize, manifest_url });
}

/// The run's export, which must be exactly one full export.
fn single_full_export(input: &StageInput) -> Result<&crate::source::ExportDescription, StageError> {
    check_export_set(&input.exports)?;
    match input.exports.as_slice() {
        [export] if matches!(export.spec, ExportSpec::Full { .. }) => Ok(export),
        _ => Err(StageError::InvalidExportSet {
            reason: "a pushdown load reads exactly one full export; incremental syncs are staged".into(),
        }),
    }
}

/// The data files as staged files: rows from the manifest, size from one listing of each folder
/// they lie in. A file the listing lacks fails the run now rather than the COPY later.
pub(super) async fn with_sizes(
    store: &dyn ObjectStore,
    files: &[DataFile],
) -> Result<Vec<StagedFile>, StageError> {
    let folders: BTreeSet<&str> = files.iter().map(|f| folder_of(&f.key)).collect();
    let mut sizes = HashMap::new();
    for folder in folders {
        for object in store.list(folder).await? {
            sizes.insert(object.key, object.size);
        }
    }
    files
        .iter()
        .map(|file| match sizes.get(&file.key) {
            Some(&bytes) => Ok(StagedFile { key: file.key.clone(), rows: file.item_count, bytes }),
            None => Err(StageError::MissingDataFile { key: file.key.clone() }),
        })
        .collect()
}

/// `a/b/` for `a/b/c.json.gz`: the folder to list, with its trailing slash.
fn folder_of(key: &str) -> &str {
    key.rfind('/').map_or("", |end| &key[..=end])
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::config::FullLoad;
    use crate::pipeline::events::EventKind;
    use crate::pipeline::stage::testing::{
        ExportFixture, assert_staged_the_usual_way, assert_unreadable_column, full_line, order,
        pushdown_table_with, run_entry, store_in, table_with,
    };
    use crate::source::ExportDescription;
    use crate::store::LocalStore;

    fn pushdown_table() -> crate::config::TableConfig {
        pushdown_table_with(|t| t.full_load = FullLoad::Pushdown)
    }

    async fn run(
        store: &LocalStore,
        table: crate::config::TableConfig,
        exports: Vec<ExportDescription>,
    ) -> (Result<(StagedSet, StageCounts), StageError>, Vec<EventKind>) {
        run_entry(stage_export_items, Arc::new(store.clone()), table, exports, CancellationToken::new()).await
    }

    #[tokio::test]
    async fn lists_the_export_files_without_reading_them() {
        let (_dir, store) = store_in();
        let two = [full_line(&order("a", 1, "1.00")), full_line(&order("b", 2, "2.00"))];
        let export = ExportFixture::full("exp1").file(&two).empty_file().write(&store).await;
        let (result, events) = run(&store, pushdown_table(), vec![export]).await;
        let (staged, counts) = result.unwrap();

        assert_eq!(staged.format, StagedFormat::ExportItems);
        assert_eq!((staged.upserts, staged.deletes), (2, 0));
        assert_eq!(staged.columns, target_columns(&pushdown_table()));
        assert_eq!(staged.files.len(), 2);
        assert!(staged.files.iter().all(|f| f.key.starts_with("exports/AWSDynamoDB/exp1/data/")));
        assert_eq!(staged.files.iter().map(|f| f.rows).collect::<Vec<_>>(), [2, 0]);
        let first_size = store.head(&staged.files[0].key).await.unwrap().unwrap().size;
        assert_eq!(staged.files[0].bytes, first_size);
        assert_eq!((counts.upserts, counts.files_done, counts.bytes_in, counts.bytes_out), (2, 2, 0, 0));

        let manifest: serde_json::Value =
            serde_json::from_slice(&store.get(&staged.manifest_key).await.unwrap()).unwrap();
        let entries = manifest["entries"].as_array().unwrap();
        assert_eq!(entries[0]["url"], store.url_of(&staged.files[0].key));
        assert!(entries.iter().all(|e| e["mandatory"] == true));
        let jsonpaths = store.get(&staged.jsonpaths_key).await.unwrap();
        assert_eq!(jsonpaths, item_jsonpaths(&pushdown_table()).unwrap());
        assert!(events.iter().any(|e| matches!(e, EventKind::Warning { message } if message.starts_with("pushdown: Redshift reads 2 export files directly"))), "{events:?}");
        assert!(events.iter().any(|e| matches!(e, EventKind::StagingFinished { staged_files: 2, .. })));
    }

    #[tokio::test]
    async fn an_export_without_data_files_is_staged_the_usual_way() {
        let (_dir, store) = store_in();
        let export = ExportFixture::full("exp-empty").write(&store).await;
        let (result, events) = run(&store, pushdown_table(), vec![export]).await;
        let (staged, counts) = result.unwrap();
        assert_staged_the_usual_way(staged.format, &events);
        assert_eq!((staged.files.len(), staged.upserts, counts.upserts), (1, 0, 0), "one empty part");
    }

    #[tokio::test]
    async fn an_unreadable_column_fails_before_anything_is_written() {
        let (_dir, store) = store_in();
        let export = ExportFixture::full("exp2").empty_file().write(&store).await;
        let table = table_with(|t| t.full_load = FullLoad::Pushdown);
        let (result, _) = run(&store, table, vec![export]).await;
        assert_unreadable_column(result);
        assert!(store.list("orders/staged/").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_data_file_missing_from_the_store_fails_the_run() {
        let (_dir, store) = store_in();
        let export = ExportFixture::full("exp3").empty_file().write(&store).await;
        let data = store.list("exports/AWSDynamoDB/exp3/data/").await.unwrap();
        store.delete(&data[0].key).await.unwrap();
        let (result, _) = run(&store, pushdown_table(), vec![export]).await;
        assert!(matches!(result, Err(StageError::MissingDataFile { .. })), "{result:?}");
    }

    #[tokio::test]
    async fn only_one_full_export_can_be_pushed_down() {
        let (_dir, store) = store_in();
        let incremental = ExportFixture::incremental("exp4").empty_file().write(&store).await;
        let (result, _) = run(&store, pushdown_table(), vec![incremental]).await;
        let error = result.unwrap_err();
        assert!(error.to_string().contains("exactly one full export"), "{error}");
    }

    #[test]
    fn folders_keep_their_slash() {
        assert_eq!(folder_of("a/b/c.json.gz"), "a/b/");
        assert_eq!(folder_of("c.json.gz"), "");
    }
}
