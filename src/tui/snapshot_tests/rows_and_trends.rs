//! Snapshots of the rows view (over a real SQLite target read through the engine), the table
//! details popup and the trend charts, at a roomy and at the smallest terminal.

use std::path::Path;
use std::sync::Arc;

use super::{idle, render};
use crate::config::{Config, SourceConfig, StoreLocation, TableConfig, WarehouseConfig};
use crate::contract::PageStart;
use crate::pipeline::Engine;
use crate::testkit::TableBuilder;
use crate::tui::action::{Action, Intent};
use crate::tui::app::App;
use crate::tui::app::test_support::app_on;
use crate::tui::command::Command;
use crate::tui::fixtures::{committed_journal, t};

/// Rows the target holds: two pages and a half.
const ORDERS: usize = 250;

/// The orders table: an exports table (nothing to open but a folder) with seven columns.
fn orders(root: &Path) -> TableConfig {
    TableBuilder::new("orders")
        .in_schema("analytics", "orders")
        .source(SourceConfig::Exports { prefix: "incoming/orders".into() })
        .store(StoreLocation::Local { root: root.join("bucket") })
        .key("order_id", "pk", "varchar(16)")
        .column("customer", "customer.name", "varchar(64)")
        .column("status", "status", "varchar(16)")
        .column("total", "amount.total", "decimal(12,2)")
        .column("placed_at", "placed_at", "timestamptz")
        .column("items", "items", "super")
        .column("note", "note", "varchar(256)")
        .build()
}

fn config(root: &Path) -> Config {
    let mut config = crate::tui::fixtures::config();
    config.warehouse = WarehouseConfig::Sqlite { path: root.join("warehouse.sqlite") };
    config.tables = vec![orders(root)];
    config
}

/// Writes the target as a load would have: `O-0001`… with known values.
fn write_target(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE \"analytics.orders\" (order_id TEXT NOT NULL PRIMARY KEY, customer TEXT, status TEXT, \
         total TEXT, placed_at TEXT, items TEXT, note TEXT)",
    )
    .unwrap();
    let mut insert =
        conn.prepare("INSERT INTO \"analytics.orders\" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)").unwrap();
    for n in 1..=ORDERS {
        let note = if n % 3 == 0 { None } else { Some(format!("gift wrap, ring twice\nfloor {}", n % 7)) };
        insert
            .execute(rusqlite::params![
                format!("O-{n:04}"),
                format!("Customer {}", n % 17),
                ["placed", "shipped", "delivered"][n % 3],
                format!("{}.{:02}", 10 + n * 3, n % 100),
                format!("2026-11-24 {:02}:{:02}:00+00", n % 24, n % 60),
                format!("[{{\"sku\":\"SKU-{n}\",\"qty\":{}}}]", n % 4 + 1),
                note,
            ])
            .unwrap();
    }
}

/// A console on a `width`×`height` terminal whose engine reads a real SQLite warehouse.
struct Console {
    _dir: tempfile::TempDir,
    engine: Engine,
    app: App,
}

impl Console {
    async fn new(width: u16, height: u16, loaded: bool) -> Console {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(dir.path());
        if loaded {
            write_target(&dir.path().join("warehouse.sqlite"));
        }
        let adapters = crate::wiring::connect(&mut config).await.unwrap();
        let app = app_on(&config, width, height);
        let (engine, _events) = Engine::new(Arc::new(config), adapters);
        Console { _dir: dir, engine, app }
    }

    /// Applies `intent` and runs the read it asks for to its end, as the runner does.
    async fn press(&mut self, intent: Intent) -> Option<PageStart> {
        let mut command = self.app.intent(intent);
        let mut first = None;
        while let Some(Command::ReadRows { table, request, page }) = command {
            first.get_or_insert(page.start.clone());
            let result = self.engine.rows(&table, page).await.map_err(|e| e.to_string());
            command = self.app.update(Action::RowsRead { table, request, result });
        }
        first
    }

    async fn find(&mut self, key: &str) -> Option<PageStart> {
        self.press(Intent::StartFilter).await;
        self.app.apply(key.chars().map(Action::FilterInput));
        self.press(Intent::FilterAccept).await
    }
}

#[tokio::test]
async fn rows_view_first_page_wide() {
    let mut console = Console::new(120, 40, true).await;
    assert_eq!(console.press(Intent::ViewRows).await, Some(PageStart::First));
    insta::assert_snapshot!(render(&console.app));
}

#[tokio::test]
async fn rows_view_scrolled_sideways_at_the_minimum_size() {
    let mut console = Console::new(80, 24, true).await;
    console.press(Intent::ViewRows).await;
    console.press(Intent::Down).await;
    console.press(Intent::ScrollRight).await;
    console.press(Intent::ScrollRight).await;
    insta::assert_snapshot!(render(&console.app));
}

#[tokio::test]
async fn rows_view_whole_row_at_the_minimum_size() {
    let mut console = Console::new(80, 24, true).await;
    console.press(Intent::ViewRows).await;
    console.press(Intent::Down).await;
    console.press(Intent::Open).await;
    insta::assert_snapshot!(render(&console.app));
    console.press(Intent::Close).await;
    assert!(console.app.popup().is_none() && console.app.rows().is_some(), "Esc goes back to the rows");
}

#[tokio::test]
async fn rows_view_found_key_at_the_minimum_size() {
    let mut console = Console::new(80, 24, true).await;
    console.press(Intent::ViewRows).await;
    assert_eq!(console.find("O-0120").await, Some(PageStart::AtLeast(vec!["O-0120".into()])));
    let page = console.app.rows().and_then(|view| view.page()).unwrap();
    assert_eq!(page.keys[0], ["O-0120"]);
    insta::assert_snapshot!(render(&console.app));
}

#[tokio::test]
async fn rows_view_finding_a_key_shows_what_is_typed() {
    let mut console = Console::new(80, 24, true).await;
    console.press(Intent::ViewRows).await;
    console.press(Intent::StartFilter).await;
    console.app.apply("O-01".chars().map(Action::FilterInput));
    let screen = render(&console.app);
    assert!(screen.contains("find key ≥ O-01▏"), "{screen}");
}

/// Next and previous pages are asked by key; paging back to the start reads the first page.
#[tokio::test]
async fn rows_view_pages_by_key() {
    let mut console = Console::new(120, 40, true).await;
    console.press(Intent::ViewRows).await;
    let keys = |console: &Console| {
        let page = console.app.rows().and_then(|view| view.page()).unwrap();
        (page.keys.first().unwrap()[0].clone(), page.keys.last().unwrap()[0].clone(), page.rows.len())
    };
    assert_eq!(console.press(Intent::NextPage).await, Some(PageStart::After(vec!["O-0100".into()])));
    assert_eq!(keys(&console), ("O-0101".into(), "O-0200".into(), 100));
    console.press(Intent::NextPage).await;
    assert_eq!(keys(&console), ("O-0201".into(), "O-0250".into(), 50));
    assert_eq!(console.press(Intent::NextPage).await, None, "no page after the last");
    console.find("O-0030").await;
    assert_eq!(console.press(Intent::PrevPage).await, Some(PageStart::Before(vec!["O-0030".into()])));
    assert_eq!(
        keys(&console),
        ("O-0001".into(), "O-0100".into(), 100),
        "a short previous page reads the first"
    );
    assert!(console.app.rows().unwrap().at_first);
    console.press(Intent::Close).await;
    assert!(console.app.rows().is_none());
}

#[tokio::test]
async fn rows_view_of_a_target_not_loaded_yet() {
    let mut console = Console::new(80, 24, false).await;
    console.press(Intent::ViewRows).await;
    insta::assert_snapshot!(render(&console.app));
}

/// `idle` with thirty varied runs of orders, the details popup open.
fn table_detail(width: u16, height: u16) -> App {
    let mut app = idle(width, height);
    app.apply([
        Action::HistoryLoaded { table: "orders".into(), result: Ok(varied_history()) },
        Action::Intent(Intent::ShowTable),
    ]);
    app
}

#[test]
fn table_detail_wide() {
    let root = Path::new("/srv/dynashift");
    let mut app = idle(120, 40);
    app.set_table_config(orders(root));
    app.intent(Intent::ShowTable);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn table_detail_at_the_minimum_size_scrolled_to_the_trends() {
    let mut app = table_detail(80, 24);
    app.intent(Intent::Bottom);
    insta::assert_snapshot!(render(&app));
}

/// Thirty hourly runs of orders whose sizes, durations and lags vary (newest first, as loaded).
fn varied_history() -> Vec<crate::pipeline::RunJournal> {
    (0..30u32)
        .map(|n| {
            let started = t(17, 0, 0) - chrono::Duration::hours(i64::from(n));
            let mut journal = committed_journal(&format!("run-{n:02}"), started);
            let counts = journal.stage_counts.as_mut().unwrap();
            counts.upserts = u64::from((n * 37) % 500);
            counts.deletes = u64::from(n % 4);
            journal.finished_at = Some(started + chrono::Duration::seconds(i64::from(20 + (n * 13) % 90)));
            let behind = chrono::Duration::minutes(i64::from(30 + (n * 7) % 120));
            journal.target_watermark = Some(started);
            journal.previous_watermark = Some(started - behind);
            if n == 4 {
                journal.stage_counts = None;
            }
            journal
        })
        .collect()
}

#[test]
fn trend_charts_above_the_history() {
    let mut app = idle(120, 40);
    app.apply([Action::HistoryLoaded { table: "orders".into(), result: Ok(varied_history()) }]);
    let screen = render(&app);
    assert!(screen.contains("Trends · last 30 runs"), "{screen}");
    insta::assert_snapshot!(screen);
}

/// Opening the view only asks for a read (the runner runs it on a task of its own): the console
/// keeps drawing and answering keys while it reads, and a read that fails leaves the view open
/// with the reason.
#[test]
fn the_rows_view_reads_in_the_background() {
    let mut app = idle(80, 24);
    let Some(Command::ReadRows { table, request, page }) = app.intent(Intent::ViewRows) else {
        panic!("opening the rows view asks for a read");
    };
    assert_eq!((table.as_str(), page.start, page.limit), ("orders", PageStart::First, 100));
    assert!(render(&app).contains("Reading the first rows…"));
    assert_eq!(app.intent(Intent::ScrollRight), None, "keys still work while reading");
    app.update(Action::RowsRead { table, request, result: Err("not connected yet".into()) });
    let screen = render(&app);
    assert!(screen.contains("✗ not connected yet"), "{screen}");
}
