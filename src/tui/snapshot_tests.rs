//! Snapshots of every pane and popup in representative states, drawn into ratatui's
//! `TestBackend` from synthetic run events at a fixed "now" (so lag and elapsed times never
//! change). Snapshots live in `src/tui/snapshots/`; review changes with `cargo insta review`.
//!
//! Also keeps the docs in step: `assets/keys.md` (the key table, from the keymap)
//! and `assets/console.txt` (a capture of the console) must match what the code produces; run
//! with `DYNASHIFT_BLESS=1` to rewrite them after an intended change.

use std::path::PathBuf;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

use super::action::{Action, Intent};
use super::app::App;
use super::app::test_support::{app, connecting_app};
use super::connection::RetryNote;
use super::fixtures::{Script, committed_journal, failed_journal, t};
use super::keymap;
use super::theme::{ColorSupport, Theme};
use super::ui;
use crate::config::Mode;
use chrono::{DateTime, Utc};

use crate::pipeline::{RunEvent, RunJournal, TableStatus};

mod rows_and_trends;

const RUN_ID: &str = "20261124T180000Z-1a2b3c";

/// The screen as text, one line per row, trailing spaces trimmed.
fn screen_text(buffer: &Buffer) -> String {
    let width = usize::from(buffer.area.width);
    let mut lines = Vec::new();
    for row in buffer.content.chunks(width) {
        let mut line = String::new();
        let mut skip = 0;
        for cell in row {
            if skip == 0 {
                line.push_str(cell.symbol());
            }
            skip = skip.max(unicode_width::UnicodeWidthStr::width(cell.symbol())).saturating_sub(1);
        }
        lines.push(line.trim_end().to_owned());
    }
    lines.join("\n") + "\n"
}

fn draw_with(app: &App, theme: &Theme) -> Buffer {
    let screen = app.screen();
    let mut terminal = Terminal::new(TestBackend::new(screen.width, screen.height)).unwrap();
    terminal.draw(|frame| ui::draw(frame, app, theme)).unwrap();
    terminal.backend().buffer().clone()
}

fn render(app: &App) -> String {
    screen_text(&draw_with(app, &Theme::new(ColorSupport::Ansi16)))
}

fn status(table: &str, watermark: Option<DateTime<Utc>>, last_run: Option<RunJournal>) -> Action {
    Action::StatusLoaded {
        table: table.into(),
        result: Ok(Box::new(TableStatus { watermark, last_run, source_clock: None })),
    }
}

/// Three tables with loaded state: orders fresh, customers behind with a failed last run,
/// invoices never synced.
fn idle(width: u16, height: u16) -> App {
    let mut app = app(width, height);
    app.apply([
        status("orders", Some(t(17, 55, 0)), Some(committed_journal("20261124T170000Z-0a0b0c", t(17, 0, 0)))),
        status("customers", Some(t(9, 0, 0)), Some(failed_journal("20261124T160000Z-0d0e0f", t(16, 0, 0)))),
        status("invoices", None, None),
        Action::HistoryLoaded {
            table: "orders".into(),
            result: Ok(vec![
                committed_journal("20261124T170000Z-0a0b0c", t(17, 0, 0)),
                failed_journal("20261124T160000Z-0d0e0f", t(16, 0, 0)),
                committed_journal("20261124T150000Z-0c0c0c", t(15, 0, 0)),
            ]),
        },
        Action::HistoryLoaded { table: "customers".into(), result: Ok(Vec::new()) },
        Action::HistoryLoaded { table: "invoices".into(), result: Ok(Vec::new()) },
    ]);
    app
}

/// `idle` plus a live incremental run of orders that got as far as `script` takes it.
fn running(width: u16, height: u16, script: fn(&mut Script) -> Vec<RunEvent>) -> App {
    let mut app = idle(width, height);
    let mut run = Script::new("orders", RUN_ID);
    app.update(Action::RunStarted { table: "orders".into(), run_id: RUN_ID.into(), dry_run: false });
    app.feed([run.started(Mode::Incremental, false)]);
    app.feed(script(&mut run));
    app
}

/// `idle` with schedules: orders every 1h12m (its last run began at 17:00), customers every hour
/// (due: its last run began at 16:00), invoices unscheduled.
fn scheduled(width: u16, height: u16) -> App {
    let mut config = super::fixtures::config();
    config.tables[0].every = Some(std::time::Duration::from_secs(72 * 60));
    config.tables[1].every = Some(std::time::Duration::from_secs(3600));
    let mut app = super::app::test_support::app_on(&config, width, height);
    app.apply([
        status("orders", Some(t(17, 55, 0)), Some(committed_journal("20261124T170000Z-0a0b0c", t(17, 0, 0)))),
        status("customers", Some(t(9, 0, 0)), Some(failed_journal("20261124T160000Z-0d0e0f", t(16, 0, 0)))),
        status("invoices", None, None),
    ]);
    app
}

#[test]
fn scheduled_tables_show_when_they_run_next() {
    let text = render(&scheduled(120, 40));
    assert!(text.contains(" Next "), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn paused_schedules_at_80_columns() {
    let mut app = scheduled(80, 24);
    app.update(Action::Intent(Intent::ToggleSchedules));
    let text = render(&app);
    assert!(text.contains("schedules paused"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn idle_console() {
    insta::assert_snapshot!(render(&idle(120, 40)));
}

#[test]
fn before_state_loads() {
    insta::assert_snapshot!(render(&app(100, 30)));
}

#[test]
fn exporting() {
    insta::assert_snapshot!(render(&running(120, 40, Script::exporting)));
}

#[test]
fn staging() {
    insta::assert_snapshot!(render(&running(120, 40, Script::staging)));
}

#[test]
fn loading() {
    insta::assert_snapshot!(render(&running(120, 40, Script::loading)));
}

#[test]
fn loading_at_the_minimum_size() {
    insta::assert_snapshot!(render(&running(80, 24, Script::loading)));
}

#[test]
fn committed() {
    insta::assert_snapshot!(render(&running(120, 40, Script::committed_run)));
}

#[test]
fn failed() {
    insta::assert_snapshot!(render(&running(120, 40, Script::failed_while_loading)));
}

#[test]
fn failure_popup() {
    let mut app = running(120, 40, Script::failed_while_loading);
    app.intent(Intent::Open);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn help_popup() {
    let mut app = idle(120, 40);
    app.intent(Intent::Help);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn help_popup_scrolled_on_a_small_terminal() {
    let mut app = idle(80, 24);
    app.intent(Intent::Help);
    app.intent(Intent::PageDown);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn confirm_full_sync() {
    let mut app = idle(120, 40);
    app.intent(Intent::SyncFull);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn confirm_quit_with_active_runs() {
    let mut app = running(80, 24, Script::staging);
    app.intent(Intent::Quit);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn sql_viewer() {
    let mut app = running(120, 40, Script::failed_while_loading);
    app.apply([
        Action::Intent(Intent::NextPane),
        Action::Intent(Intent::Bottom),
        Action::Intent(Intent::Open),
    ]);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn dry_run_plan() {
    let mut app = idle(120, 40);
    let mut run = Script::new("orders", "20261124T180500Z-dddddd");
    app.update(Action::RunStarted { table: "orders".into(), run_id: run.run_id().into(), dry_run: true });
    app.feed([run.started(Mode::Incremental, true)]);
    app.feed(run.dry_run());
    insta::assert_snapshot!(render(&app));
}

#[test]
fn history_detail() {
    let mut app = idle(120, 40);
    app.apply([Action::Intent(Intent::PrevPane), Action::Intent(Intent::Down), Action::Intent(Intent::Open)]);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn run_log() {
    let mut app = running(120, 40, Script::committed_run);
    app.intent(Intent::ShowLog);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn filter_active() {
    let mut app = idle(120, 40);
    app.intent(Intent::StartFilter);
    app.apply("cust".chars().map(Action::FilterInput));
    insta::assert_snapshot!(render(&app));
}

#[test]
fn filter_matching_nothing() {
    let mut app = idle(120, 40);
    app.intent(Intent::StartFilter);
    app.apply("zzz".chars().map(Action::FilterInput));
    app.intent(Intent::FilterAccept);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn sorted_by_lag_with_statements_focused() {
    let mut app = running(120, 40, Script::loading);
    app.apply(vec![Action::Intent(Intent::CycleSort); 3]);
    app.intent(Intent::NextPane);
    insta::assert_snapshot!(render(&app));
}

#[test]
fn terminal_too_small() {
    insta::assert_snapshot!(render(&idle(70, 20)));
}

#[test]
fn lag_colours_follow_the_thresholds() {
    let app = idle(120, 40);
    let buffer = draw_with(&app, &Theme::new(ColorSupport::Ansi16));
    let text = screen_text(&buffer);
    let lag_color = |needle: &str| {
        let (row, line) = text.lines().enumerate().find(|(_, l)| l.contains(needle)).unwrap();
        let column = line.find(needle).unwrap();
        let column = line[..column].chars().count();
        buffer[(column as u16, row as u16)].fg
    };
    assert_eq!(lag_color("7m00s"), Color::Green);
    assert_eq!(lag_color("9h02m"), Color::Yellow);
    assert_eq!(lag_color("never"), Color::Red);
}

#[test]
fn no_color_draws_without_any_colour() {
    let app = running(120, 40, Script::failed_while_loading);
    let buffer = draw_with(&app, &Theme::new(ColorSupport::Monochrome));
    assert!(buffer.content.iter().all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    assert!(
        buffer.content.iter().any(|c| c.modifier.contains(Modifier::REVERSED)),
        "the selection still shows"
    );
    let colour = screen_text(&draw_with(&app, &Theme::new(ColorSupport::TrueColor)));
    assert_eq!(screen_text(&buffer), colour, "only styles differ between themes");
}

#[test]
fn redraw_cost_does_not_grow_with_the_number_of_statements() {
    let mut app = running(120, 40, Script::loading);
    let mut script = Script::new("orders", RUN_ID);
    for index in 5..2_000 {
        app.feed([script.event(crate::pipeline::events::EventKind::StatementSubmitted {
            index,
            total: 2_000,
            label: format!("statement {index}"),
            sql: "select 1".into(),
        })]);
    }
    let run = app.selected().unwrap().live.as_ref().unwrap();
    assert_eq!(run.statements.len(), super::run_view::MAX_ROWS);
    assert!(run.log.len() <= super::run_view::MAX_ROWS);
    let text = render(&app);
    assert!(text.contains("statement 1999"), "the newest statement is followed");
}

/// The console seconds after it started, connecting to an unreachable warehouse.
fn connecting(width: u16, height: u16) -> App {
    let mut app = connecting_app(width, height, "postgres loader@127.0.0.1:1/analytics");
    let started = app.now();
    app.update(Action::Tick(started + chrono::Duration::seconds(3)));
    app.update(Action::ConnectRetrying(Box::new(RetryNote {
        operation: "connecting to the warehouse".into(),
        retry: 3,
        planned: 9,
        cause: "connection refused".into(),
        error: "cannot connect to postgres loader@127.0.0.1:1/analytics (no TLS): error connecting to \
                server: Connection refused (os error 111); check the warehouse URL, that the server is up \
                and accepts this user"
            .into(),
        wait: std::time::Duration::from_secs(2),
        left: std::time::Duration::from_secs(56),
        at: started,
    })));
    app
}

/// The console once connecting gave up.
fn connect_failed(width: u16, height: u16) -> App {
    let mut app = connecting(width, height);
    app.update(Action::ConnectFailed {
        message:
            "postgres loader@127.0.0.1:1/analytics (no TLS): cannot connect: error connecting to server: \
                  Connection refused (os error 111); check the warehouse URL, that the server is up and \
                  accepts this user (retried 9 times over 59s: connection refused; giving up at the 1m \
                  deadline)"
                .into(),
        exit_code: 1,
    });
    app
}

#[test]
fn connecting_at_the_minimum_size() {
    insta::assert_snapshot!(render(&connecting(80, 24)));
}

#[test]
fn connecting_wide() {
    insta::assert_snapshot!(render(&connecting(140, 40)));
}

#[test]
fn connect_failed_at_the_minimum_size() {
    insta::assert_snapshot!(render(&connect_failed(80, 24)));
}

#[test]
fn connect_failed_wide() {
    insta::assert_snapshot!(render(&connect_failed(140, 40)));
}

/// `idle`, with orders synced right now by cron on another host (its lease seen by watching),
/// and customers failed at staging on a file of the store.
fn on_call(width: u16, height: u16) -> App {
    let mut app = idle(width, height);
    app.update(Action::Peeked {
        table: "orders".into(),
        watermark: None,
        lease: Ok(Some(crate::pipeline::lock::LeaseHolder {
            run_id: "20261124T180100Z-cc0000".into(),
            host: "ops-1".into(),
            pid: 1234,
            acquired_at: t(18, 1, 0),
            expires_at: t(18, 3, 0),
            generation: 1,
        })),
    });
    let mut run = Script::new("customers", "20261124T180130Z-ee0000");
    app.feed([run.started(Mode::Incremental, false)]);
    app.feed([run.event(crate::pipeline::events::EventKind::RunFailed {
        stage: crate::pipeline::events::Stage::Staging,
        cause: "/srv/dynashift/.dynashift/bucket/customers/AWSDynamoDB/01764000000002-a1b2c3d2/data/\
                x7k2.json.gz: not a readable gzip file: invalid gzip header"
            .into(),
        hint: "the export file is damaged; run again".into(),
    })]);
    app
}

#[test]
fn on_call_at_the_minimum_size() {
    insta::assert_snapshot!(render(&on_call(80, 24)));
}

#[test]
fn on_call_wide() {
    insta::assert_snapshot!(render(&on_call(140, 40)));
}

#[test]
fn long_statement_labels_end_in_an_ellipsis_at_the_panes_width() {
    for width in [80, 140] {
        let mut app = running(width, 30, Script::loading);
        let mut script = Script::new("orders", RUN_ID);
        let label = "merge staged upserts into analytics.orders_with_a_very_long_name by primary key";
        app.feed([script.event(crate::pipeline::events::EventKind::StatementSubmitted {
            index: 5,
            total: 5,
            label: label.into(),
            sql: "select 1".into(),
        })]);
        let text = render(&app);
        let row = text.lines().find(|l| l.contains("  5 merge staged")).expect("the statement row");
        assert!(row.contains('…') && !row.contains("primary key"), "{row}");
        if width == 140 {
            assert!(row.contains("analytics."), "a wide pane shows more of the label: {row}");
        }
    }
}

fn asset(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets").join(name)
}

/// Compares an asset with what the code produces; `DYNASHIFT_BLESS=1` rewrites it.
fn check_asset(name: &str, produced: &str) {
    let path = asset(name);
    if std::env::var_os("DYNASHIFT_BLESS").is_some() {
        std::fs::write(&path, produced).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    pretty_assertions::assert_eq!(
        stored,
        produced,
        "{} is out of date; run `DYNASHIFT_BLESS=1 cargo test --lib tui::snapshot_tests` to refresh it",
        path.display()
    );
}

#[test]
fn readme_key_table_matches_the_keymap() {
    check_asset("keys.md", &keymap::markdown());
}

#[test]
fn readme_console_capture_matches_the_console() {
    check_asset("console.txt", &render(&running(120, 40, Script::loading)));
}

/// `journal` with an export cost estimate (`None`: its region has no price).
fn priced(mut journal: RunJournal, usd: Option<f64>) -> RunJournal {
    let assumption = match usd {
        Some(_) => {
            "incremental export, 0.0098 GB processed at $0.10/GB (us-east-1 list price, minimum 10 MB per export)"
        }
        None => {
            "price unknown for region eu-west-3: set export_price_incremental_per_gb in [defaults] or the table"
        }
    };
    journal.cost =
        Some(crate::contract::CostEstimate { usd, billed_bytes: 10 << 20, assumption: assumption.into() });
    journal
}

/// Orders synced every hour, its runs priced: the run header says the last run's cost and what
/// 30 days of the schedule would cost, the history a cost per run (`?` for an unpriced one).
fn priced_history(width: u16, height: u16) -> App {
    let mut config = super::fixtures::config();
    config.tables[0].every = Some(std::time::Duration::from_secs(3600));
    let mut app = super::app::test_support::app_on(&config, width, height);
    let newest = priced(committed_journal("20261124T170000Z-0a0b0c", t(17, 0, 0)), Some(0.0009765625));
    app.apply([
        status("orders", Some(t(17, 55, 0)), Some(newest.clone())),
        Action::HistoryLoaded {
            table: "orders".into(),
            result: Ok(vec![
                newest,
                priced(failed_journal("20261124T160000Z-0d0e0f", t(16, 0, 0)), None),
                priced(committed_journal("20261124T150000Z-0c0c0c", t(15, 0, 0)), Some(0.0029296875)),
            ]),
        },
    ]);
    app
}

/// `idle`, with orders' last run having found an unmapped attribute and a type drift.
fn drifted(width: u16, height: u16) -> App {
    use crate::contract::{DriftCheck, DriftReport, TypeDrift, UnmappedAttribute};
    let mut app = idle(width, height);
    let mut journal = committed_journal("20261124T170000Z-0a0b0c", t(17, 0, 0));
    let report = DriftReport {
        items_checked: 1204,
        unmapped: vec![UnmappedAttribute {
            path: "gift-note".into(),
            items: 380,
            types: [("NULL".to_owned(), 12), ("S".to_owned(), 368)].into(),
            column_entry: r#"{ name = "gift_note", path = "gift-note", type = "varchar(64)" }"#.into(),
        }],
        type_drift: vec![TypeDrift {
            path: "amount.total".into(),
            column: "total".into(),
            column_type: "decimal(12,2)".into(),
            expected: vec!["N".into()],
            seen: "S".into(),
            items: 3,
        }],
        untracked_paths: 0,
        untracked_at_least: false,
    };
    journal.drift = Some(DriftCheck::Counted { report });
    app.apply([status("orders", Some(t(17, 55, 0)), Some(journal))]);
    app
}

#[test]
fn the_run_header_and_history_show_costs_and_the_projection() {
    let text = render(&priced_history(120, 40));
    assert!(text.contains("cost ~$0.0010"), "{text}");
    assert!(text.contains("cost ~$0.0010, ~$1.41/30d"), "{text}");
    assert!(text.contains(" Cost"), "{text}");
    assert!(text.contains("$0.0029") && text.contains(" ?"), "{text}");
    insta::assert_snapshot!(text);

    let unpriced = render(&idle(120, 40));
    assert!(
        !unpriced.contains(" Cost") && !unpriced.contains("cost ~"),
        "no estimates, no column: {unpriced}"
    );
}

#[test]
fn a_table_with_drift_is_marked() {
    let text = render(&drifted(120, 40));
    let orders = text.lines().find(|line| line.contains("orders")).unwrap();
    assert!(orders.contains("orders Δ"), "{text}");
    assert!(!text.lines().any(|line| line.contains("customers Δ")), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn drift_popup() {
    let mut app = drifted(120, 40);
    app.intent(Intent::ShowDrift);
    let text = render(&app);
    assert!(text.contains(r#"{ name = "gift_note", path = "gift-note", type = "varchar(64)" }"#), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn the_table_details_show_the_drift_beside_the_mapping() {
    let mut app = drifted(120, 40);
    app.intent(Intent::ShowTable);
    let mut text = String::new();
    for _ in 0..6 {
        text.push_str(&render(&app));
        app.intent(Intent::PageDown);
    }
    assert!(text.contains("Schema drift"), "{text}");
    assert!(text.contains(r#"{ name = "gift_note", path = "gift-note", type = "varchar(64)" }"#), "{text}");
    let mut app = idle(120, 40);
    app.intent(Intent::ShowTable);
    let mut text = String::new();
    for _ in 0..6 {
        text.push_str(&render(&app));
        app.intent(Intent::PageDown);
    }
    assert!(text.contains("None in the last run"), "{text}");
}

#[test]
fn no_drift_popup_without_drift() {
    let mut app = idle(120, 40);
    app.intent(Intent::ShowDrift);
    assert!(app.popup().is_none());
    assert!(app.notice().unwrap().text.contains("no schema drift"), "{:?}", app.notice());
}
