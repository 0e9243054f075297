//! From the read values to a [`Config`]: built-in defaults filled in, paths resolved, each table
//! validated, and the rules that span tables (unique names, unique targets) checked.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use super::aws_source::{AwsDefaults, resolve_aws_defaults};
use super::defaults;
use super::duration::format_duration;
use super::inherit::Inherited;
use super::issues::Issues;
use super::location::resolve_path;
use super::model::{Config, DemoSettings, LagThresholds, TableConfig, TargetTable, WarehouseConfig};
use super::model::{FullLoad, IncrementalLoad};
use super::raw::{RawConfig, RawConsole, RawDemo, RawOverrides, RawTable, WarehouseKind, written};
use super::table::validate_table;
use super::warehouse::validate_warehouse;

/// Validates everything; `None` when any problem was reported into `issues`.
pub(super) fn validate(raw: &RawConfig, file: &Path, base_dir: &Path, issues: &Issues) -> Option<Config> {
    let aws = resolve_aws_defaults(&raw.defaults.overrides.aws, issues);
    let demo = demo_settings(&raw.demo, base_dir, issues);
    let warehouse = validate_warehouse(&raw.warehouse, base_dir, issues);
    let lag = lag_thresholds(&raw.console, issues);
    let log_file = path_or_default(
        &raw.console.log_file,
        defaults::LOG_FILE,
        "`log_file` in [console]",
        base_dir,
        issues,
    );
    let inherited = Inherited::resolve(&raw.defaults.overrides, base_dir, issues);
    let tables = tables(raw.tables.as_deref(), &inherited, &aws, base_dir, issues);
    let (notify, metrics) = super::alerts::validate(&raw.alerts, base_dir, issues);
    report_pushdown_without_redshift(raw, issues);
    report_local_stores_with_redshift(raw, issues);
    if matches!(warehouse, Some(WarehouseConfig::Redshift(_))) {
        super::redshift::report_copy_region_conflicts(&raw.warehouse, &aws.client, &tables, issues);
    }
    if !issues.is_empty() {
        return None;
    }
    Some(Config {
        path: file.file_name().map_or_else(|| base_dir.to_path_buf(), |name| base_dir.join(name)),
        base_dir: base_dir.to_path_buf(),
        aws: aws.client,
        demo: demo?,
        warehouse: warehouse?,
        lag,
        log_file: log_file?,
        max_concurrent_runs: written(&raw.console.max_concurrent_runs)
            .unwrap_or(defaults::MAX_CONCURRENT_RUNS),
        tables,
        notify,
        metrics,
    })
}

fn demo_settings(raw: &RawDemo, base_dir: &Path, issues: &Issues) -> Option<DemoSettings> {
    let state_dir =
        path_or_default(&raw.state_dir, defaults::STATE_DIR, "`state_dir` in [demo]", base_dir, issues)?;
    Some(DemoSettings {
        state_dir,
        seed: written(&raw.seed).unwrap_or(defaults::SEED),
        speed: written(&raw.speed).unwrap_or(defaults::SPEED),
        initial_items: written(&raw.initial_items).unwrap_or(defaults::INITIAL_ITEMS),
        writes_per_hour: written(&raw.writes_per_hour).unwrap_or(defaults::WRITES_PER_HOUR),
        export_duration: Duration::from_secs_f64(
            written(&raw.export_seconds).unwrap_or(defaults::EXPORT_SECONDS),
        ),
    })
}

fn lag_thresholds(raw: &RawConsole, issues: &Issues) -> LagThresholds {
    let warn = written(&raw.lag_warn).unwrap_or(defaults::LAG_WARN);
    let critical = written(&raw.lag_critical).unwrap_or(defaults::LAG_CRITICAL);
    if critical <= warn {
        let message = format!(
            "`lag_critical` ({}) must be longer than `lag_warn` ({})",
            format_duration(critical),
            format_duration(warn)
        );
        let hint =
            "raise lag_critical or lower lag_warn: lag past lag_warn shows yellow, past lag_critical red";
        let span = raw.lag_critical.as_ref().or(raw.lag_warn.as_ref()).map(Spanned::span);
        match span {
            Some(span) => issues.report(span, message, hint),
            None => issues.report_unplaced(message, hint),
        }
    }
    LagThresholds { warn, critical }
}

/// A configured path, or the built-in one, resolved against the config's folder.
fn path_or_default(
    value: &Option<Spanned<String>>,
    default: &str,
    what: &str,
    base_dir: &Path,
    issues: &Issues,
) -> Option<std::path::PathBuf> {
    match value {
        Some(value) => resolve_path(base_dir, value, what, issues),
        None => Some(base_dir.join(default)),
    }
}

fn tables(
    raw: Option<&[RawTable]>,
    inherited: &Inherited,
    aws: &AwsDefaults,
    base_dir: &Path,
    issues: &Issues,
) -> Vec<TableConfig> {
    let Some(raw) = raw else {
        let message = "no table is configured";
        let hint = "add a table: a [[table]] header followed by name = \"orders\" and key = [\"pk\", \"sk\"]";
        issues.report_unplaced(message, hint);
        return Vec::new();
    };
    report_duplicate_names(raw, issues);
    let validated: Vec<(&RawTable, TableConfig)> = raw
        .iter()
        .filter_map(|table| {
            validate_table(table, inherited, aws, base_dir, issues).map(|config| (table, config))
        })
        .collect();
    report_duplicate_targets(&validated, issues);
    super::history::report_clashes(&validated, issues);
    validated.into_iter().map(|(_, config)| config).collect()
}

/// `full_load = "pushdown"` lets Redshift's COPY read the export files itself. SQLite and
/// PostgreSQL load only files dynashift stages and reads for them, so there is nothing to push
/// down: each place that asks for it under another warehouse is reported.
fn report_pushdown_without_redshift(raw: &RawConfig, issues: &Issues) {
    if raw.warehouse.kind_unknown {
        return;
    }
    let kind = written(&raw.warehouse.kind).unwrap_or(WarehouseKind::Sqlite);
    if kind == WarehouseKind::Redshift {
        return;
    }
    let places = std::iter::once(("[defaults]".to_owned(), &raw.defaults.overrides))
        .chain(raw.tables.iter().flatten().map(|t| (t.label.clone(), &t.overrides)));
    for (place, overrides) in places {
        for (key, span) in pushdown_spans(overrides) {
            let message = format!(
                "`{key} = \"pushdown\"` in {place} needs the Redshift warehouse, but [warehouse] kind is \"{}\"",
                kind.name()
            );
            let hint = format!(
                "pushdown lets Redshift's COPY read the export files directly; {} loads files dynashift \
                 stages, so there is nothing to push down: remove {key} or write {key} = \"staged\"",
                kind.name()
            );
            issues.report(span, message, hint);
        }
    }
}

/// Redshift's COPY reads the staged files from S3 itself, so with `kind = "redshift"` every
/// table's store must be a bucket: a `file://` bucket is reported where it is written, and the
/// built-in local default at `kind` when no `bucket` names S3 for some table.
fn report_local_stores_with_redshift(raw: &RawConfig, issues: &Issues) {
    if raw.warehouse.kind_unknown || written(&raw.warehouse.kind) != Some(WarehouseKind::Redshift) {
        return;
    }
    let hint = "Redshift's COPY reads staged files from S3: write bucket = \"s3://BUCKET/PREFIX/\"";
    let defaults = raw.defaults.overrides.bucket.as_ref();
    let places = std::iter::once(("[defaults]".to_owned(), defaults))
        .chain(raw.tables.iter().flatten().map(|t| (t.label.clone(), t.overrides.bucket.as_ref())));
    for (place, bucket) in places {
        let Some(bucket) = bucket.filter(|b| !b.get_ref().starts_with("s3://")) else { continue };
        let message = format!(
            "`bucket` in {place} is \"{}\", a local folder, but [warehouse] kind is \"redshift\"",
            bucket.get_ref()
        );
        issues.report(bucket.span(), message, hint);
    }
    let table_on_default = raw.tables.iter().flatten().find(|t| t.overrides.bucket.is_none());
    if let (None, Some(table), Some(kind)) = (defaults, table_on_default, raw.warehouse.kind.as_ref()) {
        let message = format!(
            "{} uses the built-in local store (no `bucket` in [defaults] or the table), but [warehouse] \
             kind is \"redshift\"",
            table.label
        );
        issues.report(kind.span(), message, hint);
    }
}

/// Where `overrides` asks for a pushdown load, by key: `full_load`, then `incremental_load`.
fn pushdown_spans(overrides: &RawOverrides) -> Vec<(&'static str, Range<usize>)> {
    let full = overrides.full_load.as_ref().filter(|f| *f.get_ref() == FullLoad::Pushdown);
    let incremental =
        overrides.incremental_load.as_ref().filter(|f| *f.get_ref() == IncrementalLoad::Pushdown);
    [("full_load", full.map(Spanned::span)), ("incremental_load", incremental.map(Spanned::span))]
        .into_iter()
        .filter_map(|(key, span)| Some((key, span?)))
        .collect()
}

/// Table names select tables on the command line and name their state in the store: unique.
fn report_duplicate_names(raw: &[RawTable], issues: &Issues) {
    let mut first_seen: HashMap<&str, Range<usize>> = HashMap::new();
    for name in raw.iter().filter_map(|table| table.name.as_ref()) {
        match first_seen.get(name.get_ref().as_str()) {
            Some(first) => {
                let message = format!("table \"{}\" is configured twice", name.get_ref());
                let hint = "remove one of the two [[table]] entries, or merge their settings";
                issues.report_duplicate(name.span(), first.clone(), message, hint);
            }
            None => {
                first_seen.insert(name.get_ref(), name.span());
            }
        }
    }
}

/// Two tables loading one warehouse table would overwrite each other's rows.
fn report_duplicate_targets(validated: &[(&RawTable, TableConfig)], issues: &Issues) {
    let mut first_seen: HashMap<&TargetTable, Range<usize>> = HashMap::new();
    for (raw, config) in validated {
        let span = raw.target.as_ref().or(raw.name.as_ref()).map_or(raw.span.clone(), Spanned::span);
        match first_seen.get(&config.target) {
            Some(first) => {
                let message = format!(
                    "table \"{}\" loads target \"{}\", which another table loads too",
                    config.name, config.target
                );
                issues.report_duplicate(span, first.clone(), message, "give each table its own target");
            }
            None => {
                first_seen.insert(&config.target, span);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{config_from as config, refusals as messages};
    use std::path::Path;
    use std::time::Duration;

    use crate::config::{ConfigError, WarehouseConfig, load_str};

    const TABLE: &str = "[[table]]\nname = \"customers\"\nkey = [\"customer_id\"]\n";

    #[test]
    fn section_values_land_in_the_config() {
        let config = config(&format!(
            "[defaults]\nregion = \"eu-north-1\"\nendpoint_url = \"http://localhost:5000\"\n\
             [demo]\nstate_dir = \"/var/demo\"\nseed = 7\nspeed = 0\ninitial_items = 10\nwrites_per_hour = 0\n\
             export_seconds = 0.5\n[warehouse]\npath = \"wh.db\"\n[console]\nlag_warn = \"1h\"\n\
             lag_critical = \"3h\"\nlog_file = \"log/d.log\"\nmax_concurrent_runs = 4\n{TABLE}"
        ));
        assert_eq!(config.aws.region.as_deref(), Some("eu-north-1"));
        assert_eq!(config.aws.endpoint_url.as_deref(), Some("http://localhost:5000"));
        assert_eq!(config.demo.state_dir, Path::new("/var/demo"));
        assert_eq!((config.demo.seed, config.demo.speed, config.demo.initial_items), (7, 0.0, 10));
        assert_eq!(config.demo.export_duration, Duration::from_millis(500));
        assert_eq!(config.warehouse, WarehouseConfig::Sqlite { path: "/c/wh.db".into() });
        assert_eq!(
            (config.lag.warn, config.lag.critical),
            (Duration::from_secs(3600), Duration::from_secs(10_800))
        );
        assert_eq!((config.log_file.as_path(), config.max_concurrent_runs), (Path::new("/c/log/d.log"), 4));
    }

    #[test]
    fn endpoint_urls_must_be_http() {
        let messages = messages(&format!("[defaults]\nendpoint_url = \"localhost:5000\"\n{TABLE}"));
        assert_eq!(messages, ["`endpoint_url` \"localhost:5000\" is not an http:// or https:// URL"]);
    }

    #[test]
    fn a_lag_warn_beyond_the_default_critical_is_caught() {
        let error =
            load_str(&format!("[console]\nlag_warn = \"30h\"\n{TABLE}"), Path::new("/c/t.toml")).unwrap_err();
        assert_eq!(error.problems[0].message, "`lag_critical` (1d) must be longer than `lag_warn` (1d6h)");
        assert_eq!(error.problems[0].line, Some(2));
    }

    /// Loads a SQLite config asking for `key = "pushdown"` in [defaults] (line 2) and in the table
    /// (line 6), checks both are refused naming where, and returns the error for its hints.
    fn pushdown_refused_without_redshift(key: &str) -> ConfigError {
        let text = format!("[defaults]\n{key} = \"pushdown\"\n{TABLE}{key} = \"pushdown\"\n");
        let error = load_str(&text, Path::new("/c/tables.toml")).unwrap_err();
        let problems: Vec<_> = error.problems.iter().map(|p| (p.line, p.message.clone())).collect();
        let needs = "needs the Redshift warehouse, but [warehouse] kind is \"sqlite\"";
        assert_eq!(
            problems,
            [
                (Some(2), format!("`{key} = \"pushdown\"` in [defaults] {needs}")),
                (Some(6), format!("`{key} = \"pushdown\"` in table \"customers\" {needs}")),
            ]
        );
        error
    }

    #[test]
    fn pushdown_needs_redshift_wherever_it_is_asked_for() {
        let error = pushdown_refused_without_redshift("full_load");
        assert!(error.problems[0].hint.contains("nothing to push down"), "{}", error.problems[0].hint);
        let staged = config(&format!("{TABLE}full_load = \"staged\"\n"));
        assert_eq!(staged.tables[0].full_load, crate::config::FullLoad::Staged);
    }

    #[test]
    fn incremental_pushdown_needs_redshift_too() {
        let error = pushdown_refused_without_redshift("incremental_load");
        assert!(
            error.problems[1].hint.ends_with("write incremental_load = \"staged\""),
            "{}",
            error.problems[1].hint
        );
        let staged = config(&format!("{TABLE}incremental_load = \"staged\"\n"));
        assert_eq!(staged.tables[0].incremental_load, crate::config::IncrementalLoad::Staged);
        let messages = messages(&format!("{TABLE}incremental_load = \"folded\"\n"));
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("incremental_load"), "{messages:?}");
    }

    /// The table on a Redshift warehouse, `key = "pushdown"` written only in [defaults].
    fn redshift_with_pushdown_default(key: &str) -> crate::config::Config {
        config(&format!(
            "[warehouse]\nkind = \"redshift\"\nworkgroup = \"w\"\ndatabase = \"dev\"\n\
             iam_role = \"arn:aws:iam::123456789012:role/r\"\n[defaults]\n{key} = \"pushdown\"\n\
             bucket = \"s3://acme/dyn/\"\n{TABLE}"
        ))
    }

    #[test]
    fn incremental_pushdown_is_accepted_with_redshift_and_inherited_from_defaults() {
        let table = &redshift_with_pushdown_default("incremental_load").tables[0];
        assert_eq!(table.incremental_load, crate::config::IncrementalLoad::Pushdown);
        assert_eq!(table.full_load, crate::config::FullLoad::Staged, "the two keys are independent");
    }

    #[test]
    fn pushdown_is_accepted_with_redshift() {
        let config = redshift_with_pushdown_default("full_load");
        assert_eq!(config.tables[0].full_load, crate::config::FullLoad::Pushdown);
    }

    #[test]
    fn duplicate_names_are_reported_even_when_the_tables_have_other_problems() {
        let messages = messages(&format!("{TABLE}{TABLE}mode = \"sometimes\"\n"));
        assert!(
            messages.iter().any(|m| m.starts_with("table \"customers\" is configured twice")),
            "{messages:?}"
        );
    }
}
