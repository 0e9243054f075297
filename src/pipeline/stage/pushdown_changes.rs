//! The stage step of an incremental pushdown load (`incremental_load = "pushdown"`): like a
//! pushdown full load ([`super::pushdown`]), nothing is read but the exports' manifests. Every
//! incremental export of the run (one window or several) contributes its OWN data files — the
//! ones its `manifest-files.json` lists, never the shared `AWSDynamoDB/data/` folder that all
//! incremental exports of a prefix write into (aws-facts §2.5) — to one COPY manifest, and the
//! jsonpaths ([`crate::ddb::item_paths::change_jsonpaths`]) take each change line's keys, write
//! time and new image into one stage table. Redshift folds the windows by key in SQL (newest
//! write wins, no new image = delete; see `warehouse::redshift::pushdown_sql`).

use std::time::Instant;

use super::error::StageError;
use super::pushdown::{PushdownSet, stage_listed_files};
use super::{StageInput, check_export_set};
use crate::ddb::item_paths::change_jsonpaths;
use crate::pipeline::events::StageCounts;
use crate::pipeline::staged::{StagedFormat, StagedSet, change_columns};
use crate::source::ExportSpec;

/// Stages an incremental pushdown load of the incremental exports in `input`: writes
/// `copy.manifest` (every export's own data files, in window order) and `jsonpaths.json` under
/// `<table>/staged/<run_id>/`, and returns an [`StagedFormat::ExportChanges`] set. dynashift
/// does not read the lines, so it cannot tell upserts from deletes: the set counts every change
/// line as an upsert (the number of rows COPY loads into the stage, which the load checks); the
/// load's batch counts the folded upserts and deletes itself, and reports those.
pub async fn stage_export_changes(input: StageInput) -> Result<(StagedSet, StageCounts), StageError> {
    let started = Instant::now();
    only_incremental_exports(&input)?;
    // Checked first: a column Redshift cannot read fails the run before the store is touched.
    let jsonpaths = change_jsonpaths(&input.table)?;
    let set = PushdownSet {
        format: StagedFormat::ExportChanges,
        columns: change_columns(&input.table),
        jsonpaths,
        nothing_to_read: "pushdown: the incremental exports have no data files; staged normally instead",
    };
    stage_listed_files(input, set, started).await
}

/// The run's exports, which must all be incremental (a full export is loaded by a full sync).
fn only_incremental_exports(input: &StageInput) -> Result<(), StageError> {
    check_export_set(&input.exports)?;
    if input.exports.iter().any(|e| matches!(e.spec, ExportSpec::Full { .. })) {
        return Err(StageError::InvalidExportSet {
            reason: "an incremental pushdown load reads incremental exports only; a full export is \
                     loaded by a full sync"
                .into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::config::IncrementalLoad;
    use crate::pipeline::events::EventKind;
    use crate::pipeline::stage::testing::{
        ExportFixture, assert_staged_the_usual_way, assert_unreadable_column, delete_line, order,
        pushdown_table_with, run_entry, store_in, table_with, upsert_line,
    };
    use crate::source::ExportDescription;
    use crate::store::{LocalStore, ObjectStore};

    fn pushdown_table() -> crate::config::TableConfig {
        pushdown_table_with(|t| t.incremental_load = IncrementalLoad::Pushdown)
    }

    async fn run(
        store: &LocalStore,
        table: crate::config::TableConfig,
        exports: Vec<ExportDescription>,
    ) -> (Result<(StagedSet, StageCounts), StageError>, Vec<EventKind>) {
        run_entry(stage_export_changes, Arc::new(store.clone()), table, exports, CancellationToken::new())
            .await
    }

    #[tokio::test]
    async fn lists_only_each_windows_own_files_from_the_shared_data_folder() {
        let (_dir, store) = store_in();
        let first = [upsert_line(10, "a", 1, &order("a", 1, "1.00")), delete_line(11, "b", 2, true)];
        let second = [upsert_line(20, "a", 1, &order("a", 1, "2.00"))];
        let one = ExportFixture::incremental("w1").file(&first).write(&store).await;
        let two = ExportFixture::incremental("w2").file(&second).empty_file().write(&store).await;
        // A third window's file in the shared folder, not part of this run: never listed.
        ExportFixture::incremental("w3").file(&second).write(&store).await;
        let (result, events) = run(&store, pushdown_table(), vec![one, two]).await;
        let (staged, counts) = result.unwrap();

        assert_eq!(staged.format, StagedFormat::ExportChanges);
        assert_eq!(staged.columns, change_columns(&pushdown_table()));
        let keys: Vec<&str> = staged.files.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "exports/AWSDynamoDB/data/w1-00.json.gz",
                "exports/AWSDynamoDB/data/w2-00.json.gz",
                "exports/AWSDynamoDB/data/w2-01.json.gz"
            ]
        );
        assert_eq!(staged.files.iter().map(|f| f.rows).collect::<Vec<_>>(), [2, 1, 0]);
        assert_eq!((staged.upserts, staged.deletes, counts.items_read), (3, 0, 3), "every line is COPYed");
        let manifest: serde_json::Value =
            serde_json::from_slice(&store.get(&staged.manifest_key).await.unwrap()).unwrap();
        let urls: Vec<&str> =
            manifest["entries"].as_array().unwrap().iter().map(|e| e["url"].as_str().unwrap()).collect();
        assert_eq!(urls.len(), 3);
        assert!(!urls.iter().any(|u| u.contains("w3")), "{urls:?}");
        assert_eq!(
            store.get(&staged.jsonpaths_key).await.unwrap(),
            change_jsonpaths(&pushdown_table()).unwrap()
        );
        assert!(events.iter().any(|e| matches!(e, EventKind::Warning { message } if message.starts_with("pushdown: 3 change lines from 2 incremental export(s)"))), "{events:?}");
        assert!(events.iter().any(|e| matches!(e, EventKind::StagingFinished { staged_files: 3, .. })));
    }

    #[tokio::test]
    async fn windows_without_data_files_are_staged_the_usual_way() {
        let (_dir, store) = store_in();
        let export = ExportFixture::incremental("w-empty").write(&store).await;
        let (result, events) = run(&store, pushdown_table(), vec![export]).await;
        let (staged, _) = result.unwrap();
        assert_staged_the_usual_way(staged.format, &events);
    }

    #[tokio::test]
    async fn an_unreadable_column_or_a_full_export_fails_before_anything_is_written() {
        let (_dir, store) = store_in();
        let export = ExportFixture::incremental("w4").empty_file().write(&store).await;
        let table = table_with(|t| t.incremental_load = IncrementalLoad::Pushdown);
        let (result, _) = run(&store, table, vec![export]).await;
        assert_unreadable_column(result);
        let full = ExportFixture::full("f1").empty_file().write(&store).await;
        let (result, _) = run(&store, pushdown_table(), vec![full]).await;
        assert!(result.unwrap_err().to_string().contains("incremental exports only"));
        assert!(store.list("orders/staged/").await.unwrap().is_empty());
    }
}
