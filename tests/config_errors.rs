//! Hostile `tables.toml` files: each must be refused with a problem that points at the right line
//! and column and says what to do. Plus the shipped demo config, which must load.

use std::path::{Path, PathBuf};
use std::time::Duration;

use dynashift::config::{
    ColumnType, Config, ConfigError, Mode, Problem, SourceConfig, StoreLocation, UnmappedPolicy, ViewType,
    WarehouseConfig, load, load_str,
};

const FILE: &str = "/srv/dynashift/tables.toml";

/// A valid demo table; tests replace parts of it.
const ORDERS: &str = r#"[[table]]
name = "orders"
key = ["pk", "sk"]
columns = [
  { name = "customer_id", path = "pk", type = "varchar(64)" },
  { name = "order_id", path = "sk", type = "varchar(64)" },
  { name = "total", path = "amount.total", type = "decimal(12,2)" },
]
"#;

fn load_text(text: &str) -> Result<Config, ConfigError> {
    load_str(text, Path::new(FILE))
}

fn refuse(text: &str) -> ConfigError {
    match load_text(text) {
        Ok(config) => panic!("config was accepted:\n{text}\n{config:#?}"),
        Err(error) => error,
    }
}

/// 1-based line and column of the `nth` (0-based) occurrence of `needle` in `text`.
fn position_of(text: &str, needle: &str, nth: usize) -> (usize, usize) {
    let offset = text.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("{needle:?} not in text")).0;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// Asserts that `text` is refused with a problem whose message contains `message`, placed at the
/// `nth` occurrence of `at`, whose hint contains `hint`, and that the rendered error shows it.
fn assert_problem_at(text: &str, at: &str, nth: usize, message: &str, hint: &str) -> Problem {
    let error = refuse(text);
    let problem = error
        .problems
        .iter()
        .find(|p| p.message.contains(message))
        .unwrap_or_else(|| panic!("no problem says {message:?}; got:\n{error}"))
        .clone();
    let (line, column) = position_of(text, at, nth);
    assert_eq!((problem.line, problem.column), (Some(line), Some(column)), "wrong place for:\n{error}");
    assert!(problem.hint.contains(hint), "hint {:?} lacks {hint:?}", problem.hint);
    let rendered = error.to_string();
    assert!(rendered.contains(&format!("{FILE}:{line}:{column}: ")), "{rendered}");
    assert!(rendered.contains(&format!("= hint: {}", problem.hint)), "{rendered}");
    problem
}

fn assert_problem(text: &str, at: &str, message: &str, hint: &str) -> Problem {
    assert_problem_at(text, at, 0, message, hint)
}

/// ORDERS with its column named `total` renamed.
fn orders_with_column_name(name: &str) -> String {
    ORDERS.replace(r#"name = "total""#, &format!("name = {name}"))
}

#[test]
fn toml_syntax_error_points_at_the_unquoted_value() {
    let text = format!("[defaults]\nsafety_lag = 5m\n{ORDERS}");
    assert_problem(&text, "5m", "string values must be quoted", "double quotes");
}

#[test]
fn unknown_key_suggests_the_near_miss() {
    let text = ORDERS.replace("key = [", "max_windw = \"1h\"\nkey = [");
    assert_problem(
        &text,
        "max_windw",
        "unknown key `max_windw` in table \"orders\"",
        "did you mean `max_window`?",
    );
}

#[test]
fn wrong_value_type_shows_an_example() {
    let text = format!("[demo]\nseed = \"42\"\n{ORDERS}");
    assert_problem(&text, "\"42\"", "`seed` in [demo] must be an integer", "seed = 42");
}

#[test]
fn duplicate_table_names_point_at_the_second_and_name_the_first() {
    let text = format!("{ORDERS}{ORDERS}");
    let problem =
        assert_problem_at(&text, "\"orders\"", 1, "table \"orders\" is configured twice", "remove one of");
    assert!(problem.message.contains("first defined at line 2, column 8"), "{}", problem.message);
}

#[test]
fn duplicate_column_names_are_compared_ignoring_case() {
    let text = ORDERS
        .replace("  { name = \"total\"", "  { name = \"order_ID\", path = \"x\" },\n  { name = \"total\"");
    let problem = assert_problem(&text, "\"order_ID\"", "two columns named \"order_ID\"", "rename one");
    assert!(problem.message.contains("first defined at line 6"), "{}", problem.message);
}

#[test]
fn identifier_with_a_quote() {
    let text = orders_with_column_name(r#"'to"tal'"#);
    assert_problem(&text, r#"'to"tal'"#, "contains a double quote (\") at character 3", "remove the quote");
}

#[test]
fn identifier_with_a_semicolon() {
    let text = orders_with_column_name(r#""total;drop""#);
    assert_problem(&text, "\"total;drop\"", "contains a semicolon (;)", "e.g. \"total_drop\"");
}

#[test]
fn identifier_with_a_space() {
    let text = orders_with_column_name(r#""order total""#);
    assert_problem(
        &text,
        "\"order total\"",
        "column name \"order total\" contains a space",
        "\"order_total\"",
    );
}

#[test]
fn identifier_with_uppercase() {
    let text = orders_with_column_name(r#""Total""#);
    assert_problem(
        &text,
        "\"Total\"",
        "contains uppercase 'T'",
        "use lowercase: warehouses fold identifiers",
    );
}

#[test]
fn identifier_with_a_cyrillic_look_alike() {
    let text = orders_with_column_name("\"t\u{043E}tal\"");
    assert_problem(&text, "\"t\u{043E}tal\"", "'\u{043E}' (U+043E, not ASCII) at character 2", "plain ASCII");
}

#[test]
fn identifier_with_a_zero_width_character() {
    let text = orders_with_column_name("\"to\u{200B}tal\"");
    let problem =
        assert_problem(&text, "\"to\u{200B}tal\"", "invisible zero-width space (U+200B)", "type it again");
    assert!(
        problem.message.contains("\"to\\u{200b}tal\""),
        "the invisible char is escaped: {}",
        problem.message
    );
}

#[test]
fn identifier_that_is_a_reserved_word() {
    let text = orders_with_column_name(r#""order""#);
    assert_problem(&text, "\"order\"", "column name \"order\" is a reserved word in Redshift", "\"order_\"");
}

#[test]
fn identifier_with_the_dynashift_prefix() {
    let text = orders_with_column_name(r#""dynashift_op""#);
    assert_problem(&text, "\"dynashift_op\"", "starts with dynashift_, which is reserved", "\"op\"");
}

#[test]
fn unknown_column_type() {
    let text = ORDERS.replace("decimal(12,2)", "jsonb");
    assert_problem(&text, "\"jsonb\"", "invalid column type `jsonb`", "use one of: varchar(n)");
}

#[test]
fn decimal_precision_above_38() {
    let text = ORDERS.replace("decimal(12,2)", "decimal(39,2)");
    assert_problem(
        &text,
        "\"decimal(39,2)\"",
        "invalid column type `decimal(39,2)`",
        "precision must be 1..=38",
    );
}

#[test]
fn malformed_attribute_path() {
    let text = ORDERS.replace("amount.total", "amount..total");
    assert_problem(&text, "\"amount..total\"", "invalid attribute path", "write a dotted path");
}

#[test]
fn key_attribute_not_mapped_by_any_column() {
    let text = ORDERS.replace("  { name = \"order_id\", path = \"sk\", type = \"varchar(64)\" },\n", "");
    assert_problem(
        &text,
        "\"sk\"",
        "key attribute \"sk\" of table \"orders\" is not mapped",
        "path = \"sk\"",
    );
}

#[test]
fn key_mapped_only_through_a_nested_path_is_not_mapped() {
    let text = ORDERS.replace("path = \"sk\"", "path = \"sk.inner\"");
    assert_problem(&text, "\"sk\"]", "key attribute \"sk\"", "whose path is exactly the attribute");
}

#[test]
fn three_key_attributes() {
    let text = format!(
        "[defaults]\nsource = \"exports\"\n{}",
        ORDERS.replace("[\"pk\", \"sk\"]", "[\"pk\", \"sk\", \"x\"]")
    )
    .replace("key = [", "prefix = \"in/orders\"\nkey = [");
    assert_problem(
        &text,
        "[\"pk\", \"sk\", \"x\"]",
        "lists 3 attributes",
        "1 attribute (partition key) or 2",
    );
}

#[test]
fn key_column_typed_super() {
    let text = ORDERS.replace("path = \"pk\", type = \"varchar(64)\"", "path = \"pk\", type = \"super\"");
    assert_problem(&text, "\"super\"", "key column \"customer_id\" is typed super", "use varchar(n)");
}

#[test]
fn key_column_typed_double_precision() {
    let text =
        ORDERS.replace("path = \"sk\", type = \"varchar(64)\"", "path = \"sk\", type = \"double precision\"");
    assert_problem(
        &text,
        "\"double precision\"",
        "key column \"order_id\" is typed double precision",
        "bigint",
    );
}

#[test]
fn unknown_source() {
    let text = ORDERS.replace("key = [", "source = \"kafka\"\nkey = [");
    assert_problem(&text, "\"kafka\"", "`source` in table \"orders\" is \"kafka\"", "\"demo\", \"exports\"");
}

#[test]
fn prefix_with_the_demo_source() {
    let text = ORDERS.replace("key = [", "prefix = \"incoming/orders\"\nkey = [");
    assert_problem(
        &text,
        "\"incoming/orders\"",
        "has a `prefix`",
        "remove prefix, or set source = \"exports\"",
    );
}

#[test]
fn bad_exports_prefix() {
    let text = ORDERS.replace("key = [", "source = \"exports\"\nprefix = \"../orders\"\nkey = [");
    assert_problem(&text, "\"../orders\"", "has an empty, '.' or '..' segment", "relative to the bucket");
}

#[test]
fn demo_table_not_in_the_catalog() {
    let text = ORDERS.replace("\"orders\"", "\"users\"");
    assert_problem(
        &text,
        "\"users\"",
        "table \"users\" is not one of the demo source's tables",
        "orders, customers",
    );
}

#[test]
fn demo_table_with_the_wrong_key() {
    let text = "[[table]]\nname = \"customers\"\nkey = [\"id\"]\n";
    assert_problem(
        text,
        "[\"id\"]",
        "does not match the demo table \"customers\"",
        "key = [\"customer_id\"]",
    );
}

#[test]
fn bucket_with_an_unknown_scheme() {
    let text = format!("[defaults]\nbucket = \"gs://acme/exports\"\n{ORDERS}");
    assert_problem(&text, "\"gs://", "uses the scheme `gs://`", "file://PATH");
}

#[test]
fn bucket_with_an_invalid_s3_name() {
    let text = ORDERS.replace("key = [", "bucket = \"s3://Acme_Exports/x/\"\nkey = [");
    assert_problem(
        &text,
        "\"s3://",
        "names the S3 bucket \"Acme_Exports\", which contains 'A'",
        "3 to 63 characters",
    );
}

#[test]
fn duration_without_a_valid_unit() {
    let text = format!("[defaults]\nsafety_lag = \"5 minutes\"\n{ORDERS}");
    assert_problem(&text, "\"5 minutes\"", "uses the unknown unit ' '", "\"1h30m\"");
}

#[test]
fn max_window_out_of_range() {
    let text = ORDERS.replace("key = [", "max_window = \"48h\"\nkey = [");
    assert_problem(
        &text,
        "\"48h\"",
        "`max_window` in table \"orders\" is 48h, but it must be between 15m and 1d",
        "max_window = \"24h\"",
    );
}

#[test]
fn lag_critical_not_above_lag_warn() {
    let text = format!("[console]\nlag_warn = \"6h\"\nlag_critical = \"1h\"\n{ORDERS}");
    assert_problem(
        &text,
        "\"1h\"",
        "`lag_critical` (1h) must be longer than `lag_warn` (6h)",
        "raise lag_critical",
    );
}

#[test]
fn redshift_warehouse_without_a_connection() {
    let text =
        format!("[warehouse]\nkind = \"redshift\"\ndatabase = \"dev\"\niam_role = \"default\"\n{ORDERS}");
    assert_problem(
        &text,
        "\"redshift\"",
        "needs `workgroup` (Serverless) or `cluster_id`",
        "workgroup = \"analytics\"",
    );
}

#[test]
fn redshift_role_that_is_not_an_arn() {
    let text = format!(
        "[warehouse]\nkind = \"redshift\"\nworkgroup = \"w\"\ndatabase = \"dev\"\niam_role = \"redshift-copy\"\n{ORDERS}"
    );
    assert_problem(&text, "\"redshift-copy\"", "not an IAM role ARN", "iam_role = \"default\"");
}

#[test]
fn single_bracket_table_header() {
    let text = ORDERS.replace("[[table]]", "[table]");
    assert_problem(&text, "[table]", "`table` is a single table", "[[table]]");
}

#[test]
fn item_column_colliding_with_a_column() {
    let text = ORDERS.replace("key = [", "unmapped = \"keep\"\nkey = [").replace("\"total\"", "\"item\"");
    assert_problem(&text, "\"item\"", "has the name of the item column", "item_column = \"raw_item\"");
}

#[test]
fn item_column_while_dropping_unmapped_attributes() {
    let text = ORDERS.replace("key = [", "item_column = \"raw\"\nkey = [");
    assert_problem(
        &text,
        "\"raw\"",
        "sets `item_column`, but unmapped attributes are dropped",
        "unmapped = \"keep\"",
    );
}

#[test]
fn two_tables_loading_one_target() {
    let customers = "[[table]]\nname = \"customers\"\ntarget = \"orders\"\nkey = [\"customer_id\"]\n";
    let text = format!("{ORDERS}{customers}");
    let problem = assert_problem_at(
        &text,
        "\"orders\"",
        1,
        "loads target \"orders\", which another table loads too",
        "own target",
    );
    assert!(problem.message.contains("first defined at line 2, column 8"), "{}", problem.message);
}

#[test]
fn arn_naming_another_table() {
    let text = ORDERS.replace("key = [", "arn = \"arn:aws:dynamodb:us-east-1:1:table/customers\"\nkey = [");
    assert_problem(
        &text,
        "\"arn:",
        "`arn` points at table \"customers\", but `name` is \"orders\"",
        "the same table",
    );
}

#[test]
fn key_attribute_unusable_as_a_column_name_without_columns() {
    let text = "[defaults]\nsource = \"exports\"\n[[table]]\nname = \"events\"\nprefix = \"in/events\"\nkey = [\"Event-ID\"]\n";
    assert_problem(
        text,
        "\"Event-ID\"",
        "becomes a column name, but it contains uppercase",
        "name = \"event_id\"",
    );
}

#[test]
fn table_without_a_name() {
    let text = ORDERS.replace("name = \"orders\"\n", "");
    assert_problem(&text, "[[table]]", "[[table]] #1 has no `name`", "name = \"orders\"");
}

#[test]
fn no_table_at_all() {
    let error = refuse("[demo]\nseed = 7\n");
    assert_eq!(error.problems.len(), 1, "{error}");
    let problem = &error.problems[0];
    assert_eq!((problem.line, problem.column), (None, None));
    assert_eq!(problem.message, "no table is configured");
    assert!(problem.hint.contains("[[table]]"));
    assert!(error.to_string().starts_with(&format!("{FILE}: no table is configured")));
}

#[test]
fn missing_file_names_the_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nope.toml");
    let error = load(&path).unwrap_err();
    assert_eq!(error.file, path);
    assert_eq!(error.problems[0].message, "there is no such file");
    assert_eq!(error.problems[0].hint, "create it or pass --config PATH");
    assert!(error.to_string().starts_with(&format!("{}: there is no such file", path.display())));
}

#[test]
fn all_problems_are_reported_in_one_pass_in_file_order() {
    let text = format!(
        "[demo]\nseed = -3\n[console]\nmax_concurrent_runs = 0\n{}",
        ORDERS.replace("\"total\"", "\"Total\"").replace("amount.total", "amount..total")
    );
    let error = refuse(&text);
    let lines: Vec<usize> = error.problems.iter().filter_map(|p| p.line).collect();
    assert_eq!(error.problems.len(), 4, "{error}");
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    assert!(
        error.to_string().ends_with("4 problems in /srv/dynashift/tables.toml; all of them must be fixed.")
    );
}

#[test]
fn the_offending_line_is_shown_with_carets() {
    let text = orders_with_column_name(r#""order total""#);
    let rendered = refuse(&text).to_string();
    let expected = "  |\n7 |   { name = \"order total\", path = \"amount.total\", type = \"decimal(12,2)\" },\n  |  \
                    \x20         ^^^^^^^^^^^^^\n";
    assert!(rendered.contains(expected), "{rendered}");
}

#[test]
fn defaults_fill_everything_and_paths_are_absolute() {
    let config = load_text(ORDERS).expect("minimal config loads");
    let base = PathBuf::from("/srv/dynashift");
    assert_eq!(config.path, base.join("tables.toml"));
    assert_eq!(config.demo.state_dir, base.join(".dynashift/demo"));
    assert_eq!((config.demo.seed, config.demo.speed, config.demo.initial_items), (42, 600.0, 2000));
    assert_eq!((config.demo.writes_per_hour, config.demo.export_duration), (120, Duration::from_secs(3)));
    assert_eq!(config.warehouse, WarehouseConfig::Sqlite { path: base.join(".dynashift/warehouse.sqlite") });
    assert_eq!(
        (config.lag.warn, config.lag.critical),
        (Duration::from_secs(7200), Duration::from_secs(86_400))
    );
    assert_eq!(
        (config.log_file.clone(), config.max_concurrent_runs),
        (base.join(".dynashift/dynashift.log"), 2)
    );
    let table = &config.tables[0];
    assert_eq!(table.store, StoreLocation::Local { root: base.join(".dynashift/bucket") });
    assert_eq!((table.mode, table.view_type), (Mode::Incremental, ViewType::NewAndOldImages));
    assert_eq!((table.safety_lag, table.max_window), (Duration::from_secs(300), Duration::from_secs(86_400)));
    assert_eq!(table.staged_file_bytes, 64 * 1024 * 1024);
    assert_eq!(table.unmapped, UnmappedPolicy::Drop);
    assert_eq!(table.target.to_string(), "orders");
}

#[test]
fn a_table_without_columns_maps_its_key_and_keeps_the_item() {
    let config = load_text("[[table]]\nname = \"customers\"\nkey = [\"customer_id\"]\n").expect("loads");
    let table = &config.tables[0];
    assert_eq!(table.unmapped, UnmappedPolicy::KeepItem { column: "item".into() });
    assert_eq!(table.columns.len(), 1);
    assert!(table.columns[0].is_key);
    assert_eq!(table.columns[0].ty, ColumnType::Varchar(4096));
}

#[test]
fn the_shipped_demo_config_loads_with_both_demo_tables() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tables.toml");
    let config = load(&path).unwrap_or_else(|e| panic!("shipped tables.toml is refused:\n{e}"));
    let names: Vec<&str> = config.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["orders", "customers"]);

    let orders = config.table("orders").expect("orders");
    assert_eq!(orders.source, SourceConfig::Demo);
    assert_eq!(orders.key, ["pk", "sk"]);
    // Every attribute the demo writes is mapped, so the demo reports no schema drift.
    assert_eq!(orders.columns.len(), 21);
    let key_columns: Vec<&str> = orders.key_columns().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(key_columns, ["customer_id", "order_id"]);
    assert_eq!(orders.unmapped, UnmappedPolicy::KeepItem { column: "item".into() });
    let ship_city = orders.columns.iter().find(|c| c.name == "ship_city").expect("ship_city");
    assert_eq!(ship_city.path.to_string(), "\"shipping.address\".city");

    let customers = config.table("customers").expect("customers");
    assert_eq!(customers.key, ["customer_id"]);
    assert_eq!(customers.unmapped, UnmappedPolicy::Drop);
    assert_eq!(customers.columns.len(), 10);
    assert!(customers.columns.iter().all(|c| c.path.as_single() == Some(c.name.as_str())));

    let base = config.base_dir.clone();
    assert!(base.is_absolute());
    assert_eq!(config.warehouse, WarehouseConfig::Sqlite { path: base.join(".dynashift/warehouse.sqlite") });
    assert!(config.demo.state_dir.is_absolute() && config.log_file.is_absolute());
}
