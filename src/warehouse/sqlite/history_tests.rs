//! `history_target` on SQLite, end to end: the shared scenario, the image's JSON, a hard-deleting
//! table, and an existing history table with other columns.

use pretty_assertions::assert_eq;

use super::testkit::{Fixture, line};
use crate::config::{Mode, TableConfig, TargetTable};
use crate::testkit::history::{HistoryRow, history_holds_each_applied_change};

const HISTORY: &str = "\"audit.customers_history\"";

fn history_rows(fixture: &Fixture) -> Vec<HistoryRow> {
    let rows = fixture.query_text(&format!(
        "SELECT customer_id, op, written_at, run_id, image ->> '$.name' FROM {HISTORY} ORDER BY run_id, customer_id"
    ));
    rows.into_iter()
        .map(|r| {
            let text = |i: usize| r[i].clone().unwrap();
            (text(0), text(1), text(2), text(3), r[4].clone())
        })
        .collect()
}

#[tokio::test]
async fn history_holds_each_applied_change_once() {
    let fixture = Fixture::new();
    let store = fixture.store.clone();
    history_holds_each_applied_change(&fixture.warehouse, store, || async { history_rows(&fixture) }).await;
}

/// Hard deletes, every column type: the image is the stage's row as JSON (booleans as
/// `true`/`false`, times as SQLite's text).
fn hard_history_table() -> TableConfig {
    let history = TargetTable { schema: None, table: "customers_history".into() };
    TableConfig { history_target: Some(history), ..crate::testkit::customers_table() }
}

#[tokio::test]
async fn the_image_is_the_staged_row_as_json_and_a_hard_delete_is_a_remove() {
    let fixture = Fixture::new();
    let table = hard_history_table();
    let customer = |id: &str| {
        line(
            &table,
            "U",
            &[
                ("customer_id", &format!("\"{id}\"")),
                ("name", "\"Zoë\""),
                ("visits", "3"),
                ("active", "true"),
                ("signup_date", "\"2024-01-02\""),
                ("dynashift_ts", "1714525200000000"),
            ],
        )
    };
    fixture.sync(&table, Mode::Full, "seed", &[vec![customer("C1")]]).await.result.unwrap();
    let delete = line(&table, "D", &[("customer_id", "\"C1\""), ("dynashift_ts", "1714525200000009")]);
    fixture.sync(&table, Mode::Incremental, "r2", &[vec![customer("C2"), delete]]).await.result.unwrap();
    let rows =
        fixture.query_text("SELECT customer_id, op, image FROM customers_history ORDER BY customer_id");
    let image = r#"{"customer_id":"C2","name":"Zoë","visits":3,"active":true,"signup_date":"2024-01-02","last_seen":null}"#;
    assert_eq!(
        rows,
        [
            vec![Some("C1".into()), Some("remove".into()), None],
            vec![Some("C2".into()), Some("insert".into()), Some(image.into())],
        ]
    );
}

#[tokio::test]
async fn an_existing_history_table_with_other_columns_fails_the_load_and_changes_nothing() {
    let fixture = Fixture::new();
    let table = hard_history_table();
    let upsert = line(&table, "U", &[("customer_id", "\"C1\"")]);
    fixture.sync(&table, Mode::Full, "seed", &[vec![upsert.clone()]]).await.result.unwrap();
    fixture.execute("CREATE TABLE customers_history (customer_id TEXT, op TEXT, note TEXT)");
    let outcome = fixture.sync(&table, Mode::Incremental, "r2", &[vec![upsert]]).await;
    let message = outcome.result.unwrap_err().to_string();
    assert!(
        message.contains(
            "the history table \"customers_history\" exists with other columns than a history table of this \
             table has (missing: image, run_id, written_at; not expected: note; expected exactly: customer_id, \
             op, written_at, run_id, image); nothing was committed"
        ),
        "{message}"
    );
    assert_eq!(
        fixture.query_text("SELECT CAST(count(*) AS TEXT) FROM customers_history"),
        [vec![Some("0".into())]]
    );
    let commits = fixture.query_text("SELECT run_id FROM dynashift_runs ORDER BY seq");
    assert_eq!(commits, [vec![Some("seed".into())]], "the load rolled back");
}
