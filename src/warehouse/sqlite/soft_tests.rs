//! `deletes = "soft"` on SQLite, end to end: deletes mark rows with their write time, a
//! re-insert clears the mark, a full sync marks the rows missing from the export with the export
//! time, and a target created before soft deletes gets its column added by the next load.

use pretty_assertions::assert_eq;

use super::testkit::{self, Fixture, line};
use crate::config::{Mode, TableConfig};

fn soft_customers() -> TableConfig {
    crate::testkit::behaviour::soft_customers_table()
}

fn upsert(table: &TableConfig, id: &str) -> String {
    line(table, "U", &[("customer_id", &format!("\"{id}\"")), ("name", "\"n\"")])
}

/// A delete of `id` written at `micros` (its `WriteTimestampMicros`).
fn delete(table: &TableConfig, id: &str, micros: &str) -> String {
    line(table, "D", &[("customer_id", &format!("\"{id}\"")), ("dynashift_ts", micros)])
}

/// `(customer_id, dynashift_deleted_at)` of every row, by key.
fn marks(fixture: &Fixture) -> Vec<(String, Option<String>)> {
    let rows = fixture.query_text("SELECT customer_id, dynashift_deleted_at FROM customers ORDER BY 1");
    rows.into_iter().map(|r| (r[0].clone().unwrap(), r[1].clone())).collect()
}

fn live(id: &str) -> (String, Option<String>) {
    (id.to_owned(), None)
}

fn gone(id: &str, at: &str) -> (String, Option<String>) {
    (id.to_owned(), Some(at.to_owned()))
}

#[tokio::test]
async fn deletes_mark_rows_reinserts_clear_them_and_full_syncs_mark_the_missing() {
    let fixture = Fixture::new();
    let store = fixture.store.clone();
    crate::testkit::behaviour::soft_deletes_mark_rows_and_reinserts_clear_them(
        &fixture.warehouse,
        store,
        || async { marks(&fixture) },
    )
    .await;
}

#[tokio::test]
async fn a_target_loaded_with_hard_deletes_gets_the_column_from_the_first_soft_load() {
    let fixture = Fixture::new();
    let hard = testkit::customers_table();
    let seed = vec![vec![upsert(&hard, "C1"), upsert(&hard, "C2")]];
    fixture.sync(&hard, Mode::Full, "seed", &seed).await.result.unwrap();
    let columns = "SELECT name FROM pragma_table_info('customers') WHERE name = 'dynashift_deleted_at'";
    assert!(fixture.query_text(columns).is_empty());

    let soft = soft_customers();
    let changes = vec![vec![delete(&soft, "C1", "1714528800000000")]];
    fixture.sync(&soft, Mode::Incremental, "r2", &changes).await.result.unwrap();
    assert_eq!(fixture.query_text(columns).len(), 1, "the load added the column");
    assert_eq!(marks(&fixture), [gone("C1", "2024-05-01T02:00:00.000000Z"), live("C2")]);
    // The next load finds the column and adds nothing.
    fixture.sync(&soft, Mode::Incremental, "r3", &[vec![upsert(&soft, "C9")]]).await.result.unwrap();
    assert_eq!(marks(&fixture).len(), 3);
}

#[tokio::test]
async fn soft_reconciliation_counts_live_rows_and_still_catches_a_ghost() {
    let fixture = Fixture::new();
    let table = soft_customers();
    let seed = vec![vec![upsert(&table, "C1"), upsert(&table, "C2"), upsert(&table, "C3")]];
    fixture.sync(&table, Mode::Full, "seed", &seed).await.result.unwrap();
    let changes = vec![vec![delete(&table, "C2", "1714528800000000")]];
    fixture.sync(&table, Mode::Incremental, "r2", &changes).await.result.unwrap();
    fixture.execute(crate::testkit::behaviour::SQLITE_GHOST_TRIGGER);
    let parts = crate::testkit::behaviour::three_customer_parts();
    let outcome = fixture.sync(&table, Mode::Incremental, "r3", &parts).await;
    let message = outcome.result.unwrap_err().to_string();
    // Live: C1, C3 (C2 is marked); C1 deleted, C8 and C9 new: 2 + 2 − 1 = 3, the ghost makes 4.
    assert!(
        message.contains("before 2 + new keys 2 − deleted keys present 1 = expected 3, but after the change the target holds 4 rows"),
        "{message}"
    );
    assert_eq!(
        marks(&fixture),
        [live("C1"), gone("C2", "2024-05-01T02:00:00.000000Z"), live("C3")],
        "rolled back"
    );
}
