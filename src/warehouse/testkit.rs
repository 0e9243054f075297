//! Test fixtures every warehouse's unit tests share: table configs (plain, composite-key,
//! schema-qualified, with super values and the whole-item column), staged lines and gzip.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::config::staged_columns;
use crate::config::{
    AttrPath, ColumnSpec, Mode, SourceConfig, StoreLocation, TableConfig, TargetTable, TypeErrorPolicy,
    UnmappedPolicy, ViewType,
};
use crate::contract::staged::StagedSet;
use crate::store::LocalStore;
use crate::warehouse::LoadRequest;

pub fn column(name: &str, path: &str, ty: &str, is_key: bool) -> ColumnSpec {
    ColumnSpec { name: name.into(), path: AttrPath::parse(path).unwrap(), ty: ty.parse().unwrap(), is_key }
}

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
        view_type: ViewType::NewAndOldImages,
        safety_lag: Duration::from_secs(300),
        max_window: Duration::from_secs(86_400),
        staged_file_bytes: 64 << 20,
        full_load: crate::config::FullLoad::Staged,
        every: None,
        key_types: Vec::new(),
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

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// A request with no staged files, for planning.
pub fn request_for(table: TableConfig, mode: Mode, run_id: &str) -> LoadRequest {
    let staged = StagedSet {
        manifest_key: format!("{}/staged/{run_id}/copy.manifest", table.name),
        jsonpaths_key: format!("{}/staged/{run_id}/jsonpaths.json", table.name),
        columns: staged_columns(&table),
        files: Vec::new(),
        upserts: 0,
        deletes: 0,
        format: crate::contract::staged::StagedFormat::Folded,
    };
    LoadRequest {
        run_id: run_id.into(),
        table: Arc::new(table),
        mode,
        staged,
        watermark: at("2024-05-01T12:00:00Z"),
        previous_watermark: None,
        store: Arc::new(LocalStore::new("/nonexistent-store")),
        accepted_gaps: Vec::new(),
    }
}

/// One staged line: every staged column present, `fields` given as raw JSON text, the rest null.
pub fn line(table: &TableConfig, op: &str, fields: &[(&str, &str)]) -> String {
    let parts: Vec<String> = staged_columns(table)
        .iter()
        .map(|name| {
            let value = match name.as_str() {
                "dynashift_op" => format!("\"{op}\""),
                _ => fields.iter().find(|(n, _)| n == name).map_or("null", |(_, v)| v).to_owned(),
            };
            format!("{}:{value}", serde_json::to_string(name).unwrap())
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

pub fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}
