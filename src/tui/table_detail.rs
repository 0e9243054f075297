//! The table details popup (`t`): the effective settings of one table (tables.toml after
//! `[defaults]`), its column mapping (attribute path → column → type), schema drift, and its
//! trend over its last runs.

use crate::config::{IncrementalLoad, SourceConfig, TableConfig, TypeErrorPolicy, UnmappedPolicy};
use crate::human;

use super::doc::Doc;
use super::format;
use super::table_entry::TableEntry;
use super::theme::Tone;
use super::trends::{self, TrendContext};

/// Widest path and column name the mapping lines give room to (longer ones are cut).
const NAME_CELLS: usize = 28;
/// Cells of a setting's name (the tables.toml key).
const SETTING_CELLS: usize = 18;
/// Cells of a chart line before the sparkline: the label.
const LABEL_CELLS: usize = 6;
/// Cells kept after the sparkline for `last … · max …`.
const SUMMARY_CELLS: usize = 28;

/// The popup's text for `entry`.
pub(super) fn table_detail(doc: &mut Doc, entry: &TableEntry) {
    let table = entry.config.as_ref();
    settings(doc, table);
    columns(doc, table);
    drift(doc, entry);
    trend_charts(doc, entry);
}

fn settings(doc: &mut Doc, table: &TableConfig) {
    doc.heading("Settings (tables.toml with [defaults] applied)");
    let every = table.every.map_or_else(|| "only when asked".to_owned(), format::duration);
    let key = match table.key.is_empty() {
        true => "from DescribeTable, once connected".to_owned(),
        false => table.key.join(", "),
    };
    let settings = [
        ("target", table.target.to_string()),
        ("source", source(table)),
        ("bucket", table.store.to_string()),
        ("mode", table.mode.to_string()),
        ("every", every),
        ("key", key),
        ("full_load", table.full_load.as_str().to_owned()),
        ("incremental_load", incremental_load(table.incremental_load).to_owned()),
        ("unmapped", unmapped(&table.unmapped)),
        ("on_type_error", type_errors(table.on_type_error).to_owned()),
        ("on_drift", drift_policy(table.on_drift).to_owned()),
        ("deletes", deletes(table.deletes).to_owned()),
        (
            "history_target",
            table.history_target.as_ref().map_or_else(|| "none".to_owned(), |t| t.to_string()),
        ),
        ("view_type", table.view_type.as_str().to_owned()),
        ("safety_lag", format::duration(table.safety_lag)),
        ("max_window", format::duration(table.max_window)),
        ("stage_memory_mb", human::bytes(table.stage_memory_bytes)),
        ("staged_file_mb", human::bytes(table.staged_file_bytes)),
    ];
    for (key, value) in settings {
        doc.spans(vec![(Tone::Dim, format!("{key:<SETTING_CELLS$}")), (Tone::Plain, value)]);
    }
}

fn source(table: &TableConfig) -> String {
    match &table.source {
        SourceConfig::Demo => "demo (simulated DynamoDB table)".to_owned(),
        SourceConfig::Exports { prefix } => format!("exports already under {prefix}"),
        SourceConfig::Aws(_) => {
            format!("aws DynamoDB {}", table.arn.as_deref().unwrap_or(&table.name))
        }
    }
}

fn drift_policy(policy: crate::config::DriftPolicy) -> &'static str {
    match policy {
        crate::config::DriftPolicy::Ignore => "ignore",
        crate::config::DriftPolicy::Warn => "warn",
        crate::config::DriftPolicy::Fail => "fail",
    }
}

fn deletes(deletes: crate::config::Deletes) -> &'static str {
    match deletes {
        crate::config::Deletes::Hard => "hard",
        crate::config::Deletes::Soft => "soft (rows kept, dynashift_deleted_at set)",
    }
}

fn incremental_load(load: IncrementalLoad) -> &'static str {
    match load {
        IncrementalLoad::Staged => "staged",
        IncrementalLoad::Pushdown => "pushdown",
    }
}

fn unmapped(policy: &UnmappedPolicy) -> String {
    match policy {
        UnmappedPolicy::Drop => "drop (attributes no column maps are not loaded)".to_owned(),
        UnmappedPolicy::KeepItem { column } => format!("keep: the whole item as JSON in \"{column}\""),
    }
}

fn type_errors(policy: TypeErrorPolicy) -> &'static str {
    match policy {
        TypeErrorPolicy::Fail => "fail the run, naming key, path and value",
        TypeErrorPolicy::Null => "load NULL and count it",
    }
}

/// `path → column  type  key`, one line per column.
fn columns(doc: &mut Doc, table: &TableConfig) {
    doc.heading(&format!("Columns ({})", table.columns.len()));
    let paths: Vec<String> = table.columns.iter().map(|c| c.path.to_string()).collect();
    let path_cells = paths.iter().map(|p| p.chars().count()).max().unwrap_or(0).min(NAME_CELLS);
    let name_cells = table.columns.iter().map(|c| c.name.chars().count()).max().unwrap_or(0).min(NAME_CELLS);
    for (column, path) in table.columns.iter().zip(&paths) {
        let key = if column.is_key { "  key" } else { "" };
        doc.spans(vec![
            (Tone::Plain, format!("{path:<path_cells$}")),
            (Tone::Dim, " → ".to_owned()),
            (Tone::Accent, format!("{:<name_cells$}", column.name)),
            (Tone::Dim, format!("  {}", column.ty)),
            (Tone::Dim, key.to_owned()),
        ]);
    }
    if let UnmappedPolicy::KeepItem { column } = &table.unmapped {
        doc.spans(vec![
            (Tone::Plain, format!("{:<path_cells$}", "(whole item)")),
            (Tone::Dim, " → ".to_owned()),
            (Tone::Accent, column.clone()),
            (Tone::Dim, "  super".to_owned()),
        ]);
    }
}

/// Schema drift beside the mapping: attributes the columns do not map and mapped attributes of
/// another type than their column's, from the table's shown run, as the drift popup (`D`) lists
/// them.
fn drift(doc: &mut Doc, entry: &TableEntry) {
    doc.heading("Schema drift");
    if entry.config.on_drift == crate::config::DriftPolicy::Ignore {
        doc.text(Tone::Dim, "Not shown: the table sets on_drift = \"ignore\".");
        return;
    }
    match entry.drift() {
        Some(report) if !report.is_empty() => super::ui::drift::drift_doc(doc, &entry.name, report),
        _ => {
            doc.text(Tone::Dim, "None in the last run: every attribute is mapped, each of its column's type.")
        }
    }
}

/// The trend over the runs the history loaded, one sparkline per series, oldest run left.
fn trend_charts(doc: &mut Doc, entry: &TableEntry) {
    let runs = entry.history.len();
    doc.heading(&format!("Trends (last {})", human::counted(runs as u64, "run")));
    if runs == 0 {
        let text = if entry.loaded_once { "No past runs yet." } else { "Loading…" };
        doc.text(Tone::Dim, text);
        return;
    }
    let context = TrendContext { demo: entry.demo, safety_lag: entry.config.safety_lag };
    let trends = trends::trends(&entry.history, &context);
    let width = doc.width().saturating_sub(LABEL_CELLS + SUMMARY_CELLS).min(runs).max(1);
    for trend in &trends {
        let summary = match (&trend.last, &trend.max) {
            (Some(last), Some(max)) => format!("  last {last} · max {max}"),
            (None, Some(max)) => format!("  max {max}"),
            _ => "  no values yet".to_owned(),
        };
        doc.spans(vec![
            (Tone::Dim, format!("{:<LABEL_CELLS$}", trend.label)),
            (Tone::Accent, trend.sparkline_text(width)),
            (Tone::Dim, summary),
        ]);
    }
}

#[cfg(test)]
mod tests {
    use crate::tui::action::{Action, Intent};
    use crate::tui::app::test_support::app_with;
    use crate::tui::popup_content::build;

    fn detail_text(app: &crate::tui::app::App) -> String {
        let popup = app.popup().expect("the details are open");
        build(app, popup, 100).iter().map(|line| line.plain_text() + "\n").collect()
    }

    /// An aws table that leaves `key` out learns it from DescribeTable when connecting; the
    /// details show the key connecting found, not the config as first read.
    #[test]
    fn the_details_show_the_table_as_connecting_completed_it() {
        let mut app = app_with(|config| config.tables[0].key.clear());
        app.intent(Intent::ShowTable);
        assert!(detail_text(&app).contains("key               from DescribeTable, once connected"));
        let mut completed = crate::tui::fixtures::config().tables;
        completed[0].key = vec!["pk".into(), "sk".into()];
        app.update(Action::Connected { tables: completed });
        assert!(detail_text(&app).contains("key               pk, sk"), "{}", detail_text(&app));
    }
}
