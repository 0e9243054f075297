//! A table config for unit tests across the crate: the stage step, the DynamoDB formats and the
//! warehouses all test against the same orders table.

use std::time::Duration;

use super::{
    AttrPath, ColumnSpec, FullLoad, Mode, SourceConfig, StoreLocation, TableConfig, TargetTable,
    TypeErrorPolicy, UnmappedPolicy, ViewType,
};

/// The config `text` loads to, as if read from `/c/tables.toml`; panics with the rendered
/// problems when it is refused.
pub(crate) fn config_from(text: &str) -> super::Config {
    super::load_str(text, std::path::Path::new("/c/tables.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// The first table of the config `text` loads to.
pub(crate) fn table_from(text: &str) -> TableConfig {
    config_from(text).tables.into_iter().next().expect("one table")
}

/// The messages of the problems `text` is refused with (panics when it loads).
pub(crate) fn refusals(text: &str) -> Vec<String> {
    let error = super::load_str(text, std::path::Path::new("/c/tables.toml")).expect_err("refused");
    error.problems.into_iter().map(|p| p.message).collect()
}

/// A path parsed from its text form, `a.b[0]`.
pub(crate) fn path(text: &str) -> AttrPath {
    AttrPath::parse(text).unwrap()
}

/// A path of plain names, for names the text form would read otherwise (dots, quotes).
pub(crate) fn names(names: &[&str]) -> AttrPath {
    AttrPath::from_names(names.iter().map(|n| n.to_string())).unwrap()
}

fn column(name: &str, path: &str, ty: &str, is_key: bool) -> ColumnSpec {
    ColumnSpec { name: name.into(), path: AttrPath::parse(path).unwrap(), ty: ty.parse().unwrap(), is_key }
}

/// An orders table keyed by `pk` (string) and `sk` (number), with nested, indexed and spaced
/// paths, a column no item has, and the whole item kept in `item`.
pub(crate) fn orders_table() -> TableConfig {
    TableConfig {
        name: "orders".into(),
        arn: None,
        source: SourceConfig::Demo,
        store: StoreLocation::Local { root: "/tmp/unused".into() },
        target: TargetTable { schema: Some("sales".into()), table: "orders".into() },
        mode: Mode::Incremental,
        key: vec!["pk".into(), "sk".into()],
        columns: vec![
            column("order_id", "pk", "varchar(64)", true),
            column("line", "sk", "integer", true),
            column("total", "detail.total", "decimal(12,2)", false),
            column("first_sku", "detail.items[0].sku", "varchar(32)", false),
            column("created", "created", "timestamp", false),
            column("note", "gift note", "varchar(100)", false),
            column("missing", "nope", "varchar(10)", false),
        ],
        unmapped: UnmappedPolicy::KeepItem { column: "item".into() },
        on_type_error: TypeErrorPolicy::Fail,
        on_drift: crate::config::DriftPolicy::Warn,
        view_type: ViewType::NewAndOldImages,
        safety_lag: Duration::from_secs(300),
        max_window: Duration::from_secs(86_400),
        staged_file_bytes: 64 * 1024 * 1024,
        stage_memory_bytes: 256 * 1024 * 1024,
        full_load: FullLoad::Staged,
        incremental_load: crate::config::IncrementalLoad::Staged,
        every: None,
        deletes: crate::config::Deletes::Hard,
        history_target: None,
        key_types: Vec::new(),
        accounting: crate::config::ExportAccounting::default(),
    }
}

/// [`orders_table`] with changes.
pub(crate) fn table_with(change: impl FnOnce(&mut TableConfig)) -> TableConfig {
    let mut table = orders_table();
    change(&mut table);
    table
}
