//! Removing what earlier runs left behind in the store: the staged folders
//! (`<table>/staged/<run_id>/`) of runs no later run will load — committed runs remove their own
//! right after the commit, but a failed, cancelled-and-closed or crashed run, or one whose resume
//! restaged, leaves its folder. Each run sweeps them at its start, under the table's lease, so no
//! other run of the table is writing a staged folder meanwhile. A failed run's files stay until
//! then, for a look at the file and line its error names.

use std::collections::BTreeSet;

use crate::config::TableConfig;
use crate::store::{ObjectStore, StoreError};

/// The store prefix all staged folders of `table` live under.
fn staged_root(table: &TableConfig) -> String {
    format!("{}staged/", table.state_prefix())
}

/// Removes every staged folder of `table` except those of the runs in `keep` (the run being
/// resumed, and the current run); returns the run ids whose folders were removed.
pub(super) async fn sweep_staged_folders(
    store: &dyn ObjectStore,
    table: &TableConfig,
    keep: &[&str],
) -> Result<Vec<String>, StoreError> {
    let root = staged_root(table);
    let mut removed = BTreeSet::new();
    for object in store.list(&root).await? {
        let Some(run_id) = object.key[root.len()..].split('/').next().filter(|id| !id.is_empty()) else {
            continue;
        };
        if keep.contains(&run_id) {
            continue;
        }
        store.delete(&object.key).await?;
        removed.insert(run_id.to_owned());
    }
    Ok(removed.into_iter().collect())
}

/// Removes the staged folder of one run (superseded by a resume that stages again).
pub(super) async fn remove_staged_folder(
    store: &dyn ObjectStore,
    table: &TableConfig,
    run_id: &str,
) -> Result<(), StoreError> {
    for object in store.list(&format!("{}{run_id}/", staged_root(table))).await? {
        store.delete(&object.key).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stage::testing::orders_table;
    use crate::store::LocalStore;

    #[tokio::test]
    async fn only_the_folders_of_runs_still_needed_survive_a_sweep() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path());
        let table = orders_table();
        for key in [
            "orders/staged/failed/part-00000.json.gz",
            "orders/staged/failed/copy.manifest",
            "orders/staged/resumed/part-00000.json.gz",
            "orders/staged/current/part-00000.json.gz",
            "orders/exports/AWSDynamoDB/e/data/a.json.gz",
            "customers/staged/other/part-00000.json.gz",
        ] {
            store.put(key, b"x".to_vec()).await.unwrap();
        }
        let removed = sweep_staged_folders(&store, &table, &["resumed", "current"]).await.unwrap();
        assert_eq!(removed, ["failed"]);
        let left: Vec<String> = store.list("").await.unwrap().into_iter().map(|o| o.key).collect();
        assert!(!left.iter().any(|k| k.contains("/failed/")), "{left:?}");
        assert_eq!(left.len(), 4, "{left:?}");
        remove_staged_folder(&store, &table, "resumed").await.unwrap();
        assert!(store.list("orders/staged/resumed/").await.unwrap().is_empty());
        assert_eq!(store.list("customers/").await.unwrap().len(), 1, "other tables are not touched");
    }
}
