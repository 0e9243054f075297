//! History tables as a new user meets them on the demo: with `history_target` set on orders, a
//! full sync (and its dry run) says it appends nothing, and each incremental sync appends one
//! row per change it applied — every staged upsert as `insert` or `modify` with its new image,
//! every delete of a row the target held as `remove` — in the load's own transaction.

use std::path::Path;
use std::process::Output;

mod binary_support;

use binary_support::{assert_exit, run_in, text};

/// The JSON Lines of a `--json` run.
fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    text(&output.stdout).lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
}

/// The demo's `tables.toml` with a history table for orders.
fn add_history_target(dir: &Path) {
    let path = dir.join("tables.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let orders = "name = \"orders\"\ntarget = \"orders\"\n";
    assert!(text.contains(orders), "the demo's orders table");
    let edited = text.replacen(orders, &format!("{orders}history_target = \"audit.orders_history\"\n"), 1);
    std::fs::write(&path, edited).unwrap();
}

fn warehouse(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join(".dynashift/warehouse.sqlite")).unwrap()
}

fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The planned event's notes.
fn plan_notes(lines: &[serde_json::Value]) -> Vec<String> {
    let planned = lines.iter().find(|l| l["event"] == "planned").expect("a planned event");
    planned["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()).collect()
}

/// The run id, staged upserts and deletes of a committed `--json` run.
fn applied(lines: &[serde_json::Value]) -> (String, i64, i64) {
    let reconciled = lines.iter().find(|l| l["event"] == "reconciled").expect("a reconciled event");
    let run_id = reconciled["run_id"].as_str().unwrap().to_owned();
    (run_id, reconciled["upserts"].as_i64().unwrap(), reconciled["deletes"].as_i64().unwrap())
}

#[test]
fn a_history_table_fills_with_one_row_per_applied_change() {
    let dir = tempfile::tempdir().unwrap();
    assert_exit(&run_in(dir.path(), &["init"]), 0);
    add_history_target(dir.path());
    assert_exit(&run_in(dir.path(), &["--check"]), 0);

    let note = "history table audit.orders_history: a full sync appends nothing to it";
    let dry =
        run_in(dir.path(), &["--headless", "--table", "orders", "--mode", "full", "--dry-run", "--json"]);
    assert_exit(&dry, 0);
    assert!(plan_notes(&json_lines(&dry)).iter().any(|n| n.starts_with(note)), "{}", text(&dry.stdout));
    let dry_text = run_in(dir.path(), &["--headless", "--table", "orders", "--mode", "full", "--dry-run"]);
    assert!(text(&dry_text.stdout).contains(&format!("note: {note}")), "{}", text(&dry_text.stdout));
    let full = run_in(dir.path(), &["--headless", "--table", "orders", "--mode", "full", "--json"]);
    assert_exit(&full, 0);
    assert!(plan_notes(&json_lines(&full)).iter().any(|n| n.starts_with(note)));
    let tables = "SELECT count(*) FROM sqlite_master WHERE name = 'audit.orders_history'";
    assert_eq!(count(&warehouse(dir.path()), tables), 0, "a full sync appends nothing");

    let mut total = 0;
    for round in 0..2 {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let incremental = run_in(dir.path(), &["--headless", "--table", "orders", "--json"]);
        assert_exit(&incremental, 0);
        let lines = json_lines(&incremental);
        assert!(!plan_notes(&lines).iter().any(|n| n.starts_with(note)), "an incremental sync appends");
        let (run_id, upserts, deletes) = applied(&lines);
        assert!(upserts > 0, "round {round}: the demo wrote orders: {}", text(&incremental.stdout));
        let conn = warehouse(dir.path());
        let of_run = |condition: &str| {
            count(
                &conn,
                &format!(
                    "SELECT count(*) FROM \"audit.orders_history\" WHERE run_id = '{run_id}' AND {condition}"
                ),
            )
        };
        assert_eq!(of_run("op IN ('insert', 'modify') AND image IS NOT NULL"), upserts, "every upsert");
        let removes = of_run("op = 'remove' AND image IS NULL");
        assert!(removes <= deletes, "a remove per delete of a row the target held: {removes} of {deletes}");
        assert_eq!(of_run("true"), upserts + removes, "nothing else");
        // The newest image of a key this run upserted is the row the target holds now.
        let stale = "SELECT count(*) FROM \"audit.orders_history\" AS h JOIN orders AS o \
                     ON o.customer_id = h.customer_id AND o.order_id = h.order_id \
                     WHERE h.run_id = ?1 AND h.op <> 'remove' AND (h.image ->> '$.status' IS NOT o.status \
                     OR h.image ->> '$.total' IS NOT o.total)";
        let mismatched: i64 = conn.query_row(stale, [&run_id], |r| r.get(0)).unwrap();
        assert_eq!(mismatched, 0, "round {round}");
        let removed_but_present = "SELECT count(*) FROM \"audit.orders_history\" AS h JOIN orders AS o \
                     ON o.customer_id = h.customer_id AND o.order_id = h.order_id WHERE h.run_id = ?1 AND h.op = 'remove'";
        assert_eq!(conn.query_row(removed_but_present, [&run_id], |r| r.get::<_, i64>(0)).unwrap(), 0);
        total += upserts + removes;
    }
    assert_eq!(count(&warehouse(dir.path()), "SELECT count(*) FROM \"audit.orders_history\""), total);
}
