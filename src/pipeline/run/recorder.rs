//! The run's journal as the run writes it. A run has no journal until its plan is known (a dry
//! run never has one), so every write goes through here instead of each stage checking.

use std::sync::Arc;

use crate::config::TableConfig;
use crate::pipeline::journal::RunJournal;
use crate::store::{ObjectStore, StoreError};

/// Owns the run's journal once it has one, and the table and store it is saved under.
pub(super) struct JournalRecorder {
    journal: Option<RunJournal>,
    table: Arc<TableConfig>,
    store: Arc<dyn ObjectStore>,
}

impl JournalRecorder {
    /// A recorder with no journal yet: updates and saves do nothing until [`Self::open`].
    pub(super) fn new(table: Arc<TableConfig>, store: Arc<dyn ObjectStore>) -> JournalRecorder {
        JournalRecorder { journal: None, table, store }
    }

    /// Whether the run has a journal.
    pub(super) fn is_open(&self) -> bool {
        self.journal.is_some()
    }

    /// Starts journaling with `journal`, without saving it yet.
    pub(super) fn open(&mut self, journal: RunJournal) {
        self.journal = Some(journal);
    }

    /// Starts journaling with `journal` and saves it.
    pub(super) async fn open_and_save(&mut self, journal: RunJournal) -> Result<(), StoreError> {
        self.open(journal);
        self.save().await
    }

    /// The journal, if the run has one.
    pub(super) fn journal(&self) -> Option<&RunJournal> {
        self.journal.as_ref()
    }

    /// Changes the journal in memory (if there is one); the next save writes it.
    pub(super) fn update(&mut self, change: impl FnOnce(&mut RunJournal)) {
        if let Some(journal) = self.journal.as_mut() {
            change(journal);
        }
    }

    /// Changes the journal and saves it at once.
    pub(super) async fn record(&mut self, change: impl FnOnce(&mut RunJournal)) -> Result<(), StoreError> {
        self.update(change);
        self.save().await
    }

    /// Writes the journal to the store (nothing when the run has none).
    pub(super) async fn save(&mut self) -> Result<(), StoreError> {
        match self.journal.as_mut() {
            Some(journal) => journal.save(&self.table, self.store.as_ref()).await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::pipeline::events::Stage;
    use crate::pipeline::stage::testing::{orders_table, store_in};

    fn recorder() -> (tempfile::TempDir, Arc<TableConfig>, Arc<dyn ObjectStore>, JournalRecorder) {
        let (dir, store) = store_in();
        let (table, store): (Arc<TableConfig>, Arc<dyn ObjectStore>) =
            (Arc::new(orders_table()), Arc::new(store));
        let recorder = JournalRecorder::new(table.clone(), store.clone());
        (dir, table, store, recorder)
    }

    #[tokio::test]
    async fn a_run_without_a_journal_writes_none() {
        let (_dir, table, store, mut recorder) = recorder();
        recorder.update(|journal| journal.stage = Stage::Exporting);
        recorder.record(|journal| journal.stage = Stage::Staged).await.unwrap();
        recorder.save().await.unwrap();
        assert!(!recorder.is_open());
        assert!(recorder.journal().is_none());
        assert!(RunJournal::list(&table, store.as_ref()).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn updates_are_written_by_the_next_save_and_records_at_once() {
        let (_dir, table, store, mut recorder) = recorder();
        recorder.open_and_save(RunJournal::new("r1", "orders", Mode::Incremental, None)).await.unwrap();
        recorder.update(|journal| journal.note = Some("later".into()));
        let saved = RunJournal::list(&table, store.as_ref()).await.unwrap();
        assert_eq!((saved.len(), saved[0].note.as_deref()), (1, None));

        recorder.record(|journal| journal.stage = Stage::Exporting).await.unwrap();
        let saved = RunJournal::list(&table, store.as_ref()).await.unwrap();
        assert_eq!(saved[0].stage, Stage::Exporting);
        assert_eq!(saved[0].note.as_deref(), Some("later"));
        assert_eq!(recorder.journal(), Some(&saved[0]));
    }
}
