//! Table configs every warehouse test shares: plain, composite-key, schema-qualified, with super
//! values and the whole-item column, and a builder for the odd ones a single test needs.

use std::time::Duration;

use crate::config::{
    AttrPath, ColumnSpec, Mode, SourceConfig, StoreLocation, TableConfig, TargetTable, TypeErrorPolicy,
    UnmappedPolicy, ViewType,
};

pub fn column(name: &str, path: &str, ty: &str, is_key: bool) -> ColumnSpec {
    ColumnSpec { name: name.into(), path: AttrPath::parse(path).unwrap(), ty: ty.parse().unwrap(), is_key }
}

/// A table of the demo source with every setting at the value the tests assume: incremental,
/// unmapped attributes dropped, type errors fail, five minutes of safety lag, one-day windows.
pub fn table(name: &str, target: TargetTable, key: &[&str], columns: Vec<ColumnSpec>) -> TableConfig {
    TableConfig {
        name: name.into(),
        arn: None,
        source: SourceConfig::Demo,
        store: StoreLocation::Local { root: "/unused".into() },
        target,
        mode: Mode::Incremental,
        key: key.iter().map(|k| k.to_string()).collect(),
        columns,
        unmapped: UnmappedPolicy::Drop,
        on_type_error: TypeErrorPolicy::Fail,
        on_drift: crate::config::DriftPolicy::Warn,
        view_type: ViewType::NewAndOldImages,
        safety_lag: Duration::from_secs(300),
        max_window: Duration::from_secs(86_400),
        staged_file_bytes: 64 << 20,
        stage_memory_bytes: 256 << 20,
        full_load: crate::config::FullLoad::Staged,
        incremental_load: crate::config::IncrementalLoad::Staged,
        every: None,
        deletes: crate::config::Deletes::Hard,
        history_target: None,
        key_types: Vec::new(),
        accounting: crate::config::ExportAccounting::default(),
    }
}

pub fn plain_target(name: &str) -> TargetTable {
    TargetTable { schema: None, table: name.into() }
}

/// Composite key (`pk`, `sk`), super values and the whole-item column.
pub fn orders_table() -> TableConfig {
    let mut orders = table(
        "orders",
        plain_target("orders"),
        &["pk", "sk"],
        vec![
            column("customer_id", "pk", "varchar(64)", true),
            column("order_id", "sk", "varchar(64)", true),
            column("total", "amount.total", "decimal(38,2)", false),
            column("placed_at", "placed_at", "timestamp", false),
            column("ratio", "metrics.ratio", "double precision", false),
            column("is_priority", "is_priority", "boolean", false),
            column("lines", "lines", "super", false),
        ],
    );
    orders.unmapped = UnmappedPolicy::KeepItem { column: "item".into() };
    orders
}

/// One key column, plain types.
pub fn customers_table() -> TableConfig {
    table(
        "customers",
        plain_target("customers"),
        &["customer_id"],
        vec![
            column("customer_id", "customer_id", "varchar(64)", true),
            column("name", "name", "varchar(128)", false),
            column("visits", "visits", "bigint", false),
            column("active", "active", "boolean", false),
            column("signup_date", "signup_date", "date", false),
            column("last_seen", "last_seen", "timestamptz", false),
        ],
    )
}

/// Composite key listed in another order than the columns, in a non-main schema.
pub fn line_items_table() -> TableConfig {
    table(
        "line_items",
        TargetTable { schema: Some("sales".into()), table: "line_items".into() },
        &["order_id", "line_no"],
        vec![
            column("line_no", "line_no", "integer", true),
            column("order_id", "order_id", "varchar(64)", true),
            column("sku", "sku", "varchar(32)", false),
            column("price", "price", "decimal(12,2)", false),
            column("qty", "qty", "smallint", false),
            column("shipped", "shipped", "boolean", false),
        ],
    )
}

/// A table whose every name needs quoting: a schema and table with quotes, `;` and a keyword,
/// columns with quotes, punctuation and non-ASCII letters. `name` is dynashift's table name.
pub fn odd_names_table(name: &str) -> TableConfig {
    table(
        name,
        odd_names_target(),
        &["pk", "sk"],
        vec![
            column("order", "pk", "varchar(8)", true),
            column("a \"quoted\" col", "sk", "integer", true),
            column("x;y", "v", "varchar(8)", false),
            column("ünï", "w", "boolean", false),
        ],
    )
}

/// Where [`odd_names_table`] loads.
pub fn odd_names_target() -> TargetTable {
    TargetTable { schema: Some("my \"schema\"".into()), table: "select; drop".into() }
}

/// A staged upsert of [`odd_names_table`]'s key `("k", sk)` with `v` (a JSON value) in `x;y`.
pub fn odd_names_upsert(table: &TableConfig, sk: i64, v: &str) -> String {
    let sk = sk.to_string();
    super::line(table, "U", &[("order", "\"k\""), ("a \"quoted\" col", &sk), ("x;y", v), ("ünï", "true")])
}

/// A staged delete of [`odd_names_table`]'s key `("k", sk)`.
pub fn odd_names_delete(table: &TableConfig, sk: i64) -> String {
    super::line(table, "D", &[("order", "\"k\""), ("a \"quoted\" col", &sk.to_string())])
}

/// Builds the [`TableConfig`] a single test needs from [`table`]'s defaults, one column at a time.
pub struct TableBuilder {
    config: TableConfig,
}

impl TableBuilder {
    /// A table named `name`, loading into the plain target of the same name, with no columns yet.
    pub fn new(name: &str) -> TableBuilder {
        TableBuilder { config: table(name, plain_target(name), &[], Vec::new()) }
    }

    /// Loads into `table` of `schema` instead.
    pub fn in_schema(mut self, schema: &str, table: &str) -> TableBuilder {
        self.config.target = TargetTable { schema: Some(schema.into()), table: table.into() };
        self
    }

    /// A key column; its source attribute `path` joins the table's key.
    pub fn key(mut self, name: &str, path: &str, ty: &str) -> TableBuilder {
        self.config.key.push(path.to_owned());
        self.config.columns.push(column(name, path, ty, true));
        self
    }

    /// A column that is not part of the key.
    pub fn column(mut self, name: &str, path: &str, ty: &str) -> TableBuilder {
        self.config.columns.push(column(name, path, ty, false));
        self
    }

    /// Keeps the whole item in `column` (a `super` column after the mapped ones).
    pub fn keep_item(mut self, column: &str) -> TableBuilder {
        self.config.unmapped = UnmappedPolicy::KeepItem { column: column.into() };
        self
    }

    /// A key attribute with no column of its own (tests of sources need no columns).
    pub fn key_attribute(mut self, path: &str) -> TableBuilder {
        self.config.key.push(path.to_owned());
        self
    }

    pub fn source(mut self, source: SourceConfig) -> TableBuilder {
        self.config.source = source;
        self
    }

    pub fn store(mut self, store: StoreLocation) -> TableBuilder {
        self.config.store = store;
        self
    }

    pub fn mode(mut self, mode: Mode) -> TableBuilder {
        self.config.mode = mode;
        self
    }

    pub fn build(self) -> TableConfig {
        self.config
    }
}
