//! The `tables.toml` schema: which keys each section allows, read into span-carrying shapes.
//!
//! Everything here is checked value by value (type, range, accepted words, parsable type names
//! and attribute paths); rules that relate several values (key mapped by a column, demo catalog,
//! duplicates, defaults vs overrides) are the validators' job. Absent keys stay `None` so the
//! validators can tell "not written" from "written with the default value".

use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::issues::Issues;
use super::model::{Deletes, DriftPolicy, FullLoad, IncrementalLoad, Mode, TypeErrorPolicy, ViewType};
use super::path::AttrPath;
pub(super) use super::raw_warehouse::{RawRedshift, RawWarehouse, WarehouseKind};
use super::raw_warehouse::{WAREHOUSE_KEYS, read_warehouse};
use super::reader::{Key, Section};
use super::types::ColumnType;

/// The longest schedule: an incremental sync must start inside point-in-time recovery's window
/// (35 days at most, and dynashift warns 3 days before its edge).
const LONGEST_EVERY: Duration = Duration::from_secs(30 * 86_400);

const HOUR: u64 = 3600;

const ROOT_KEYS: &[Key] = &[
    Key::new("defaults", "[defaults]"),
    Key::new("demo", "[demo]"),
    Key::new("warehouse", "[warehouse]"),
    Key::new("console", "[console]"),
    Key::new("notify", "[notify]"),
    Key::new("metrics", "[metrics]"),
    Key::new("table", "[[table]]"),
];

/// Keys a table may set and `[defaults]` may set for every table.
const OVERRIDABLE_KEYS: [Key; 24] = [
    Key::new("source", "source = \"demo\""),
    Key::new("bucket", "bucket = \"file://.dynashift/bucket\""),
    Key::new("safety_lag", "safety_lag = \"5m\""),
    Key::new("max_window", "max_window = \"24h\""),
    Key::new("view_type", "view_type = \"NEW_AND_OLD_IMAGES\""),
    Key::new("on_type_error", "on_type_error = \"fail\""),
    Key::new("on_drift", "on_drift = \"warn\""),
    Key::new("unmapped", "unmapped = \"drop\""),
    Key::new("item_column", "item_column = \"item\""),
    Key::new("staged_file_mb", "staged_file_mb = 64"),
    Key::new("stage_memory_mb", "stage_memory_mb = 256"),
    Key::new("full_load", "full_load = \"staged\""),
    Key::new("incremental_load", "incremental_load = \"staged\""),
    Key::new("every", "every = \"1h\""),
    Key::new("region", "region = \"us-east-1\""),
    Key::new("profile", "profile = \"analytics\""),
    Key::new("endpoint_url", "endpoint_url = \"http://127.0.0.1:5000\""),
    Key::new("bucket_owner", "bucket_owner = \"123456789012\""),
    Key::new("sse", "sse = \"KMS\""),
    Key::new("sse_kms_key_id", "sse_kms_key_id = \"arn:aws:kms:us-east-1:123456789012:key/…\""),
    Key::new("export_price_full_per_gb", "export_price_full_per_gb = 0.10"),
    Key::new("export_price_incremental_per_gb", "export_price_incremental_per_gb = 0.10"),
    Key::new("item_count_check", "item_count_check = true"),
    Key::new("deletes", "deletes = \"soft\""),
];

const DEFAULTS_KEYS: &[Key] = &OVERRIDABLE_KEYS;

const TABLE_KEYS: &[Key] = &concat_keys::<32>(
    &OVERRIDABLE_KEYS,
    &[
        Key::new("name", "name = \"orders\""),
        Key::new("arn", "arn = \"arn:aws:dynamodb:us-east-1:123456789012:table/orders\""),
        Key::new("prefix", "prefix = \"incoming/orders\""),
        Key::new("target", "target = \"analytics.orders\""),
        Key::new("mode", "mode = \"incremental\""),
        Key::new("key", "key = [\"pk\", \"sk\"]"),
        Key::new("columns", "columns = [{ name = \"order_id\", path = \"pk\", type = \"varchar(64)\" }]"),
        Key::new("history_target", "history_target = \"analytics.orders_history\""),
    ],
);

const COLUMN_KEYS: &[Key] = &[
    Key::new("name", "{ name = \"total\", path = \"amount.total\", type = \"decimal(12,2)\" }"),
    Key::new("path", "path = \"amount.total\" (or path = [\"meta\", \"a.b\"] for names with dots)"),
    Key::new("type", "type = \"decimal(12,2)\""),
];

const DEMO_KEYS: &[Key] = &[
    Key::new("state_dir", "state_dir = \".dynashift/demo\""),
    Key::new("seed", "seed = 42"),
    Key::new("speed", "speed = 120.0"),
    Key::new("initial_items", "initial_items = 2000"),
    Key::new("writes_per_hour", "writes_per_hour = 600"),
    Key::new("export_seconds", "export_seconds = 3.0"),
];

const CONSOLE_KEYS: &[Key] = &[
    Key::new("lag_warn", "lag_warn = \"2h\""),
    Key::new("lag_critical", "lag_critical = \"24h\""),
    Key::new("log_file", "log_file = \".dynashift/dynashift.log\""),
    Key::new("max_concurrent_runs", "max_concurrent_runs = 2"),
];

/// `a` then `b`, as one array (const, so the key lists stay `'static`).
/// A wrong `N` fails the build: a key silently cut off would be refused as unknown.
const fn concat_keys<const N: usize>(a: &[Key], b: &[Key]) -> [Key; N] {
    assert!(a.len() + b.len() == N, "concat_keys: N must be the two lists' total length");
    let mut out = [Key::new("", ""); N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - a.len()];
        i += 1;
    }
    out
}

/// Where a table's exports come from, before `prefix` is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SourceKind {
    Demo,
    Exports,
    Aws,
}

/// `sse = "AES256" | "KMS"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SseKind {
    Aes256,
    Kms,
}

/// `unmapped = "drop" | "keep"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unmapped {
    Drop,
    Keep,
}

/// The whole file, read.
#[derive(Debug, Default)]
pub(super) struct RawConfig {
    pub defaults: RawDefaults,
    pub demo: RawDemo,
    pub warehouse: RawWarehouse,
    pub console: RawConsole,
    /// `[notify]` and `[metrics]`.
    pub alerts: super::alerts::RawAlerts,
    /// `None` when the file has no `table` key at all.
    pub tables: Option<Vec<RawTable>>,
}

#[derive(Debug, Default)]
pub(super) struct RawDefaults {
    pub overrides: RawOverrides,
}

/// Settings `[defaults]` gives every table and a table may override.
#[derive(Debug, Default)]
pub(super) struct RawOverrides {
    pub source: Option<Spanned<SourceKind>>,
    pub bucket: Option<Spanned<String>>,
    pub safety_lag: Option<Spanned<Duration>>,
    pub max_window: Option<Spanned<Duration>>,
    pub view_type: Option<Spanned<ViewType>>,
    pub on_type_error: Option<Spanned<TypeErrorPolicy>>,
    pub on_drift: Option<Spanned<DriftPolicy>>,
    pub unmapped: Option<Spanned<Unmapped>>,
    pub item_column: Option<Spanned<String>>,
    pub staged_file_mb: Option<Spanned<u64>>,
    /// MiB an incremental stage may hold in memory before it spills to disk.
    pub stage_memory_mb: Option<Spanned<u64>>,
    pub full_load: Option<Spanned<FullLoad>>,
    pub incremental_load: Option<Spanned<IncrementalLoad>>,
    /// How often `--watch` and the console sync the table; its floor depends on the source.
    pub every: Option<Spanned<Duration>>,
    pub deletes: Option<Spanned<Deletes>>,
    pub aws: RawAws,
    /// USD per GB of a full / an incremental export, over the list price (docs/cost.md).
    pub export_price_full_per_gb: Option<Spanned<f64>>,
    pub export_price_incremental_per_gb: Option<Spanned<f64>>,
    /// Compare a full export's item count with DescribeTable's `ItemCount`.
    pub item_count_check: Option<bool>,
}

/// AWS settings: the client's (any table's S3 bucket uses them) and the export request's.
#[derive(Debug, Default)]
pub(super) struct RawAws {
    pub region: Option<Spanned<String>>,
    pub profile: Option<Spanned<String>>,
    pub endpoint_url: Option<Spanned<String>>,
    pub bucket_owner: Option<Spanned<String>>,
    pub sse: Option<Spanned<SseKind>>,
    pub sse_kms_key_id: Option<Spanned<String>>,
}

#[derive(Debug, Default)]
pub(super) struct RawDemo {
    pub state_dir: Option<Spanned<String>>,
    pub seed: Option<Spanned<u64>>,
    pub speed: Option<Spanned<f64>>,
    pub initial_items: Option<Spanned<usize>>,
    pub writes_per_hour: Option<Spanned<u32>>,
    pub export_seconds: Option<Spanned<f64>>,
}

#[derive(Debug, Default)]
pub(super) struct RawConsole {
    pub lag_warn: Option<Spanned<Duration>>,
    pub lag_critical: Option<Spanned<Duration>>,
    pub log_file: Option<Spanned<String>>,
    pub max_concurrent_runs: Option<Spanned<usize>>,
}

/// One `[[table]]` entry.
#[derive(Debug)]
pub(super) struct RawTable {
    /// The `[[table]]` header (or inline table), pointed at for missing keys.
    pub span: std::ops::Range<usize>,
    /// `table "orders"` or `[[table]] #2`, for messages.
    pub label: String,
    pub name: Option<Spanned<String>>,
    pub arn: Option<Spanned<String>>,
    pub prefix: Option<Spanned<String>>,
    pub target: Option<Spanned<String>>,
    pub mode: Option<Spanned<Mode>>,
    pub key: Option<Spanned<Vec<Spanned<String>>>>,
    pub columns: Option<Spanned<Vec<RawColumn>>>,
    pub history_target: Option<Spanned<String>>,
    pub overrides: RawOverrides,
}

/// One entry of `columns`.
#[derive(Debug)]
pub(super) struct RawColumn {
    pub span: std::ops::Range<usize>,
    pub name: Option<Spanned<String>>,
    pub path: Option<Spanned<AttrPath>>,
    pub ty: Option<Spanned<ColumnType>>,
    /// Every value of this column was read without a problem. When one was not, the column may
    /// have been meant to map a key attribute, so "key not mapped" is not reported on top.
    pub readable: bool,
}

/// Reads the parsed document, reporting every per-value problem into `issues`.
pub(super) fn read_config(root: &DeTable<'_>, issues: &Issues) -> RawConfig {
    let root = Section::open(root, 0..0, "the top level".into(), ROOT_KEYS, issues);
    RawConfig {
        defaults: root.table("defaults", DEFAULTS_KEYS).map(|s| read_defaults(&s)).unwrap_or_default(),
        demo: root.table("demo", DEMO_KEYS).map(|s| read_demo(&s)).unwrap_or_default(),
        warehouse: root.table("warehouse", WAREHOUSE_KEYS).map(|s| read_warehouse(&s)).unwrap_or_default(),
        console: root.table("console", CONSOLE_KEYS).map(|s| read_console(&s)).unwrap_or_default(),
        alerts: super::alerts::read(&root),
        tables: read_tables(&root),
    }
}

fn read_defaults(section: &Section<'_, '_>) -> RawDefaults {
    RawDefaults { overrides: read_overrides(section) }
}

fn read_overrides(section: &Section<'_, '_>) -> RawOverrides {
    let minutes = |m: u64| Duration::from_secs(m * 60);
    RawOverrides {
        source: section.choice(
            "source",
            &[("demo", SourceKind::Demo), ("exports", SourceKind::Exports), ("aws", SourceKind::Aws)],
        ),
        bucket: section.string("bucket"),
        safety_lag: section.duration("safety_lag", Duration::ZERO..=minutes(60)),
        max_window: section.duration("max_window", minutes(15)..=Duration::from_secs(24 * HOUR)),
        view_type: section.choice(
            "view_type",
            &[("NEW_AND_OLD_IMAGES", ViewType::NewAndOldImages), ("NEW_IMAGE", ViewType::NewImage)],
        ),
        on_type_error: section
            .choice("on_type_error", &[("fail", TypeErrorPolicy::Fail), ("null", TypeErrorPolicy::Null)]),
        on_drift: section.choice(
            "on_drift",
            &[("ignore", DriftPolicy::Ignore), ("warn", DriftPolicy::Warn), ("fail", DriftPolicy::Fail)],
        ),
        unmapped: section.choice("unmapped", &[("drop", Unmapped::Drop), ("keep", Unmapped::Keep)]),
        item_column: section.string("item_column"),
        staged_file_mb: unsigned(section.integer("staged_file_mb", 1..=1024)),
        stage_memory_mb: unsigned(section.integer("stage_memory_mb", 1..=65_536)),
        full_load: section
            .choice("full_load", &[("staged", FullLoad::Staged), ("pushdown", FullLoad::Pushdown)]),
        incremental_load: section.choice(
            "incremental_load",
            &[("staged", IncrementalLoad::Staged), ("pushdown", IncrementalLoad::Pushdown)],
        ),
        // The source's own floor (15 min for aws) is checked once the table's source is known.
        every: section.duration("every", Duration::from_secs(1)..=LONGEST_EVERY),
        deletes: section.choice("deletes", &[("hard", Deletes::Hard), ("soft", Deletes::Soft)]),
        aws: read_aws(section),
        export_price_full_per_gb: section.number("export_price_full_per_gb", 0.0..=PRICE_CEILING),
        export_price_incremental_per_gb: section
            .number("export_price_incremental_per_gb", 0.0..=PRICE_CEILING),
        item_count_check: super::alerts::boolean(section, "item_count_check"),
    }
}

/// The highest export price per GB tables.toml accepts: far above any list price, low enough to
/// catch a price written in cents.
const PRICE_CEILING: f64 = 10.0;

fn read_aws(section: &Section<'_, '_>) -> RawAws {
    RawAws {
        region: section.string("region"),
        profile: section.string("profile"),
        endpoint_url: section.string("endpoint_url"),
        bucket_owner: section.string("bucket_owner"),
        sse: section.choice("sse", &[("AES256", SseKind::Aes256), ("KMS", SseKind::Kms)]),
        sse_kms_key_id: section.string("sse_kms_key_id"),
    }
}

fn read_demo(section: &Section<'_, '_>) -> RawDemo {
    RawDemo {
        state_dir: section.string("state_dir"),
        seed: unsigned(section.integer("seed", 0..=i64::MAX)),
        speed: section.number("speed", 0.0..=1_000_000.0),
        initial_items: unsigned(section.integer("initial_items", 1..=1_000_000)),
        writes_per_hour: unsigned(section.integer("writes_per_hour", 0..=10_000_000)),
        export_seconds: section.number("export_seconds", 0.0..=600.0),
    }
}

fn read_console(section: &Section<'_, '_>) -> RawConsole {
    let lag_range = Duration::from_secs(1)..=Duration::from_secs(365 * 24 * HOUR);
    RawConsole {
        lag_warn: section.duration("lag_warn", lag_range.clone()),
        lag_critical: section.duration("lag_critical", lag_range),
        log_file: section.string("log_file"),
        max_concurrent_runs: unsigned(section.integer("max_concurrent_runs", 1..=32)),
    }
}

fn read_tables(root: &Section<'_, '_>) -> Option<Vec<RawTable>> {
    let value = root.value("table")?;
    if value.get_ref().is_table() {
        let message = "`table` is a single table; each table must be an entry of a list";
        root.issues().report(value.span(), message, "write the header with double brackets: [[table]]");
        return Some(Vec::new());
    }
    let tables = root.tables("table", TABLE_KEYS, table_label).map(Spanned::into_inner).unwrap_or_default();
    Some(tables.iter().map(read_table).collect())
}

/// `table "orders"` when the entry has a string name, else its position.
fn table_label(index: usize, table: &DeTable<'_>) -> String {
    match table.get("name").map(|v| v.get_ref()) {
        Some(DeValue::String(name)) => format!("table \"{name}\""),
        _ => format!("[[table]] #{}", index + 1),
    }
}

fn read_table(section: &Section<'_, '_>) -> RawTable {
    RawTable {
        span: section.span(),
        label: section.label().to_owned(),
        name: section.string("name"),
        arn: section.string("arn"),
        prefix: section.string("prefix"),
        target: section.string("target"),
        mode: section.choice("mode", &[("full", Mode::Full), ("incremental", Mode::Incremental)]),
        key: section.strings("key"),
        columns: read_columns(section),
        history_target: section.string("history_target"),
        overrides: read_overrides(section),
    }
}

fn read_columns(table: &Section<'_, '_>) -> Option<Spanned<Vec<RawColumn>>> {
    let table_label = table.label().to_owned();
    let label = move |index: usize, column: &DeTable<'_>| match column.get("name").map(|v| v.get_ref()) {
        Some(DeValue::String(name)) => format!("column \"{name}\" of {table_label}"),
        _ => format!("column #{} of {table_label}", index + 1),
    };
    let columns = table.tables("columns", COLUMN_KEYS, label)?;
    let span = columns.span();
    Some(Spanned::new(span, columns.into_inner().iter().map(read_column).collect()))
}

fn read_column(section: &Section<'_, '_>) -> RawColumn {
    let problems_before = section.issues().count();
    let name = section.string("name");
    let path = read_path(section);
    let ty = section.parsed::<ColumnType>("type", "column type");
    RawColumn { span: section.span(), name, path, ty, readable: section.issues().count() == problems_before }
}

/// `path = "a.b"` (dotted, quoted segments allowed) or `path = ["a", "b.c"]` (one name each).
fn read_path(section: &Section<'_, '_>) -> Option<Spanned<AttrPath>> {
    let value = section.value("path")?;
    let parsed = match value.get_ref() {
        DeValue::String(text) => AttrPath::parse(text),
        DeValue::Array(_) => {
            let names = section.strings("path")?;
            AttrPath::from_names(names.into_inner().into_iter().map(Spanned::into_inner))
        }
        _ => {
            section.wrong_type("path", value, "a string or an array of strings");
            return None;
        }
    };
    match parsed {
        Ok(path) => Some(Spanned::new(value.span(), path)),
        Err(reason) => {
            let message = format!("invalid attribute path in {}: {reason}", section.label());
            let hint = "write a dotted path like \"amount.total\", quote names holding dots \
                        (meta.\"a.b\"), or use an array: [\"meta\", \"a.b\"]";
            section.issues().report(value.span(), message, hint);
            None
        }
    }
}

/// The value of an optional key, without its span.
pub(super) fn written<T: Copy>(value: &Option<Spanned<T>>) -> Option<T> {
    value.as_ref().map(|v| *v.get_ref())
}

/// An integer already range-checked to be non-negative, in the unsigned type the model uses.
fn unsigned<T: TryFrom<i64>>(value: Option<Spanned<i64>>) -> Option<Spanned<T>> {
    let value = value?;
    let span = value.span();
    T::try_from(value.into_inner()).ok().map(|v| Spanned::new(span, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (RawConfig, Vec<String>) {
        let document = DeTable::parse(text).expect("test TOML parses");
        let issues = Issues::default();
        let raw = read_config(document.get_ref(), &issues);
        (raw, issues.into_sorted().into_iter().map(|i| i.message).collect())
    }

    #[test]
    fn key_lists_are_complete() {
        assert_eq!(DEFAULTS_KEYS.len(), 24);
        assert_eq!(TABLE_KEYS.len(), 32);
        assert!(DEFAULTS_KEYS.iter().chain(TABLE_KEYS).all(|k| !k.name.is_empty()));
        assert!(TABLE_KEYS.iter().any(|k| k.name == "columns"));
        assert!(DEFAULTS_KEYS.iter().any(|k| k.name == "stage_memory_mb"));
        assert!(DEFAULTS_KEYS.iter().any(|k| k.name == "incremental_load"));
        assert!(DEFAULTS_KEYS.iter().any(|k| k.name == "endpoint_url"));
        assert!(TABLE_KEYS.iter().any(|k| k.name == "item_count_check"));
    }

    #[test]
    fn reads_a_table_with_columns_and_overrides() {
        let (raw, problems) = read(
            "[defaults]\nsource = \"exports\"\n[[table]]\nname = \"orders\"\nkey = [\"pk\"]\nmax_window = \"1h\"\n\
             columns = [{ name = \"a\", path = [\"m\", \"x.y\"], type = \"bigint\" }, { name = \"b\" }]\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(raw.defaults.overrides.source.map(Spanned::into_inner), Some(SourceKind::Exports));
        let table = &raw.tables.as_ref().unwrap()[0];
        assert_eq!(table.label, "table \"orders\"");
        assert_eq!(table.overrides.max_window.as_ref().map(|d| d.as_ref().as_secs()), Some(3600));
        let columns = table.columns.as_ref().unwrap().get_ref();
        assert_eq!(columns[0].path.as_ref().unwrap().get_ref().to_string(), "m.\"x.y\"");
        assert_eq!(columns[0].ty.as_ref().map(|t| *t.get_ref()), Some(ColumnType::BigInt));
        assert!(columns[1].path.is_none() && columns[1].ty.is_none());
    }

    #[test]
    fn reports_every_value_problem_in_one_pass() {
        let (_, problems) = read(
            "[demo]\nseed = -1\nspeed = \"fast\"\n[warehouse]\nkind = \"redshift-serverless\"\n[console]\n\
             max_concurrent_runs = 64\n[[table]]\nname = 5\nmode = \"sometimes\"\n\
             columns = [{ name = \"a\", path = \"a..b\", type = \"decimal(39,2)\" }]\n",
        );
        assert_eq!(problems.len(), 8, "{problems:#?}");
        assert!(problems[2].contains("cannot load into"));
        assert!(problems[7].starts_with("invalid column type `decimal(39,2)`"), "{problems:#?}");
    }

    #[test]
    fn on_drift_is_read_in_defaults_and_tables_and_a_wrong_word_names_the_choices() {
        let (raw, problems) = read(
            "[defaults]\non_drift = \"fail\"\n[[table]]\nname = \"a\"\non_drift = \"ignore\"\n\
             [[table]]\nname = \"b\"\non_drift = \"loud\"\n",
        );
        assert_eq!(raw.defaults.overrides.on_drift.map(Spanned::into_inner), Some(DriftPolicy::Fail));
        let tables = raw.tables.as_ref().unwrap();
        assert_eq!(tables[0].overrides.on_drift.as_ref().map(|p| *p.get_ref()), Some(DriftPolicy::Ignore));
        assert!(tables[1].overrides.on_drift.is_none());
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("`on_drift` in table \"b\" is \"loud\""), "{problems:?}");
    }

    #[test]
    fn a_single_bracket_table_is_explained() {
        let (raw, problems) = read("[table]\nname = \"orders\"\n");
        assert!(raw.tables.unwrap().is_empty());
        assert_eq!(problems, ["`table` is a single table; each table must be an entry of a list"]);
    }

    #[test]
    fn a_file_without_tables_reads_as_none() {
        let (raw, problems) = read("[demo]\nseed = 1\n");
        assert!(raw.tables.is_none() && problems.is_empty());
    }

    #[test]
    fn sections_of_the_wrong_shape_are_reported() {
        let (_, problems) = read("demo = 3\n[[table]]\ncolumns = \"a\"\n");
        assert_eq!(problems[0], "`demo` in the top level must be a table (a [demo] section), not an integer");
        assert_eq!(problems[1], "`columns` in [[table]] #1 must be an array of tables, not a string");
    }
}
