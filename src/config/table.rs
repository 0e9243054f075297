//! One `[[table]]` entry: its DynamoDB name, where its exports come from, where they are kept,
//! which warehouse table it loads, and its per-table overrides of `[defaults]`.

use std::path::Path;

use toml::Spanned;

use super::aws_source::{AwsDefaults, aws_source, reject_table_aws_settings};
use super::catalog::{demo_table_key, demo_table_names};
use super::columns::validate_layout;
use super::every::table_every;
use super::inherit::{Inherited, MIB};
use super::issues::Issues;
use super::location::parse_bucket;
use super::model::{
    ColumnSpec, FullLoad, IncrementalLoad, Mode, SourceConfig, StoreLocation, TableConfig, TargetTable,
};
use super::names::{check_table_name, table_name_in_arn, target_table, warehouse_name_problem};
use super::pushdown_path::path_problem;
use super::raw::{RawTable, SourceKind, written};

/// Validates one table against the inherited defaults; `None` when something was reported.
pub(super) fn validate_table(
    raw: &RawTable,
    inherited: &Inherited,
    aws: &AwsDefaults,
    base_dir: &Path,
    issues: &Issues,
) -> Option<TableConfig> {
    let problems_before = issues.count();
    let name = table_name(raw, issues);
    let store = match &raw.overrides.bucket {
        Some(bucket) => parse_bucket(base_dir, bucket, &format!("`bucket` of {}", raw.label), issues),
        None => Some(inherited.store.clone()),
    };
    let kind = written(&raw.overrides.source).unwrap_or(inherited.source);
    let sources = Sources { aws, store: store.as_ref() };
    let source = name.as_ref().and_then(|name| source(raw, kind, &sources, name, issues));
    let target = name.as_ref().and_then(|name| target(raw, name, issues));
    // Only DynamoDB itself can name a table's key; demo and exports tables must write it.
    let layout = validate_layout(raw, inherited, kind == SourceKind::Aws, issues);
    let columns = layout.as_ref().map(|layout| layout.columns.as_slice());
    let history_target = super::history::history_target(raw, target.as_ref(), columns, issues);
    let full_load = written(&raw.overrides.full_load).unwrap_or(inherited.full_load);
    let incremental_load = written(&raw.overrides.incremental_load).unwrap_or(inherited.incremental_load);
    let every = table_every(raw, kind, inherited.every.as_ref(), issues);
    if let (Some(layout), Some(key)) = (layout.as_ref(), pushdown_key(full_load, incremental_load)) {
        report_unreadable_by_pushdown(raw, &layout.columns, key, issues);
    }
    if issues.count() != problems_before {
        return None;
    }
    let layout = layout?;
    let mut source = source?;
    if let SourceConfig::Aws(settings) = &mut source {
        settings.key_from_table = layout.key_from_table;
    }
    let overrides = &raw.overrides;
    Some(TableConfig {
        name: name?.into_inner(),
        arn: raw.arn.as_ref().map(|arn| arn.get_ref().clone()),
        source,
        store: store?,
        target: target?,
        mode: written(&raw.mode).unwrap_or(Mode::Incremental),
        key: layout.key,
        key_types: layout.key_types,
        columns: layout.columns,
        unmapped: layout.unmapped,
        on_type_error: written(&overrides.on_type_error).unwrap_or(inherited.on_type_error),
        on_drift: written(&overrides.on_drift).unwrap_or(inherited.on_drift),
        view_type: written(&overrides.view_type).unwrap_or(inherited.view_type),
        safety_lag: written(&overrides.safety_lag).unwrap_or(inherited.safety_lag),
        max_window: written(&overrides.max_window).unwrap_or(inherited.max_window),
        staged_file_bytes: written(&overrides.staged_file_mb)
            .map_or(inherited.staged_file_bytes, |mb| mb * MIB),
        stage_memory_bytes: written(&overrides.stage_memory_mb)
            .map_or(inherited.stage_memory_bytes, |mb| mb * MIB),
        full_load,
        incremental_load,
        every,
        accounting: super::inherit::accounting(overrides, inherited.accounting),
        deletes: written(&overrides.deletes).unwrap_or(inherited.deletes),
        history_target: history_target?,
    })
}

/// The key that asks for a pushdown load (`full_load` first), if either does: both read the
/// export's own files through jsonpaths, so both have the same limits.
fn pushdown_key(full_load: FullLoad, incremental_load: IncrementalLoad) -> Option<&'static str> {
    if full_load == FullLoad::Pushdown {
        Some("full_load")
    } else if incremental_load == IncrementalLoad::Pushdown {
        Some("incremental_load")
    } else {
        None
    }
}

/// A pushdown COPY reads attributes through jsonpaths, which cannot express every path: each
/// such column is reported at its `path` (or, for a column tables.toml does not list, at the
/// table's `key`), so the table can switch to the staged strategy or map another path.
fn report_unreadable_by_pushdown(raw: &RawTable, columns: &[ColumnSpec], key: &str, issues: &Issues) {
    for column in columns {
        let Some(reason) = path_problem(&column.path) else { continue };
        let written = raw.columns.as_ref().and_then(|list| {
            list.get_ref().iter().find(|c| c.name.as_ref().is_some_and(|n| n.get_ref() == &column.name))
        });
        let span = written
            .and_then(|c| c.path.as_ref().map(Spanned::span).or(Some(c.span.clone())))
            .or_else(|| raw.key.as_ref().map(Spanned::span))
            .unwrap_or_else(|| raw.span.clone());
        let message = format!(
            "column \"{}\" of {} reads `{}`, which {key} = \"pushdown\" cannot read: {reason}",
            column.name, raw.label, column.path
        );
        let hint = format!(
            "set {key} = \"staged\" for this table (dynashift then reads the attribute itself), \
             or map an attribute without a list index, ' or backslash"
        );
        issues.report(span, message, hint);
    }
    for column in columns.iter().filter(|c| super::redshift::pushdown_misreads(c.ty)) {
        let written = raw.columns.as_ref().and_then(|list| {
            list.get_ref().iter().find(|c| c.name.as_ref().is_some_and(|n| n.get_ref() == &column.name))
        });
        let span = written
            .and_then(|c| c.ty.as_ref().map(Spanned::span).or(Some(c.span.clone())))
            .unwrap_or_else(|| raw.span.clone());
        let (message, hint) = super::redshift::pushdown_timestamp_problem(&column.name, &raw.label, key);
        issues.report(span, message, hint);
    }
}

/// `name`, or the name inside `arn`; when both are given they must agree.
fn table_name(raw: &RawTable, issues: &Issues) -> Option<Spanned<String>> {
    let from_arn = raw.arn.as_ref().and_then(|arn| match table_name_in_arn(arn.get_ref()) {
        Ok(name) => Some(Spanned::new(arn.span(), name.to_owned())),
        Err(reason) => {
            let message = format!("`arn` of {} {reason}", raw.label);
            let hint = "write the table ARN, like arn:aws:dynamodb:us-east-1:123456789012:table/orders";
            issues.report(arn.span(), message, hint);
            None
        }
    });
    let name = match (&raw.name, from_arn) {
        (Some(name), Some(arn_name)) if name.get_ref() != arn_name.get_ref() => {
            let message = format!(
                "`arn` points at table \"{}\", but `name` is \"{}\"",
                arn_name.get_ref(),
                name.get_ref()
            );
            issues.report(
                arn_name.span(),
                message,
                "make name and the end of arn (table/NAME) the same table",
            );
            return None;
        }
        (Some(name), _) => name.clone(),
        (None, Some(arn_name)) => arn_name,
        (None, None) => {
            if raw.arn.is_none() {
                let message = format!("{} has no `name`", raw.label);
                issues.report(
                    raw.span.clone(),
                    message,
                    "add the DynamoDB table's name, like name = \"orders\"",
                );
            }
            return None;
        }
    };
    check_table_name(&name, issues).then_some(name)
}

/// What a table's source is checked against: the AWS defaults and the table's own bucket.
struct Sources<'a> {
    aws: &'a AwsDefaults,
    store: Option<&'a StoreLocation>,
}

/// The table's source, checked: demo tables must exist in the demo with the same key; exports
/// need the store prefix they live under, and only they may have one; only aws tables may set
/// AWS settings of their own.
fn source(
    raw: &RawTable,
    kind: SourceKind,
    sources: &Sources<'_>,
    name: &Spanned<String>,
    issues: &Issues,
) -> Option<SourceConfig> {
    let aws =
        (kind == SourceKind::Aws).then(|| aws_source(raw, sources.aws, sources.store, issues)).flatten();
    let aws_settings_ok = match kind {
        SourceKind::Aws => true,
        SourceKind::Demo => reject_table_aws_settings(raw, "demo", issues),
        SourceKind::Exports => reject_table_aws_settings(raw, "exports", issues),
    };
    match (kind, &raw.prefix) {
        (SourceKind::Demo | SourceKind::Aws, Some(prefix)) => {
            let message =
                format!("{} has a `prefix`, which only tables with source = \"exports\" use", raw.label);
            issues.report(
                prefix.span(),
                message,
                "remove prefix, or set source = \"exports\" to apply existing exports",
            );
            None
        }
        (SourceKind::Demo, None) => {
            (check_demo_table(raw, name, issues) && aws_settings_ok).then_some(SourceConfig::Demo)
        }
        (SourceKind::Aws, None) => aws,
        (SourceKind::Exports, Some(prefix)) => exports_prefix(prefix, issues)
            .filter(|_| aws_settings_ok)
            .map(|prefix| SourceConfig::Exports { prefix }),
        // AWS's default export has no S3Prefix: `AWSDynamoDB/` sits right under the bucket.
        (SourceKind::Exports, None) => {
            aws_settings_ok.then(|| SourceConfig::Exports { prefix: String::new() })
        }
    }
}

/// The demo simulates a fixed set of tables, each with its own key.
fn check_demo_table(raw: &RawTable, name: &Spanned<String>, issues: &Issues) -> bool {
    let Some(demo_key) = demo_table_key(name.get_ref()) else {
        let message = format!("table \"{}\" is not one of the demo source's tables", name.get_ref());
        let hint = format!(
            "the demo simulates: {}; use one of those names, or set source = \"exports\" for real exports",
            demo_table_names()
        );
        issues.report(name.span(), message, hint);
        return false;
    };
    let Some(key) = &raw.key else { return true };
    let written_key: Vec<&str> = key.get_ref().iter().map(|k| k.get_ref().as_str()).collect();
    if written_key == demo_key {
        return true;
    }
    let message = format!(
        "`key` {} does not match the demo table \"{}\", whose key is {}",
        quoted_list(&written_key),
        name.get_ref(),
        quoted_list(demo_key)
    );
    issues.report(key.span(), message, format!("write key = {}", quoted_list(demo_key)));
    false
}

fn quoted_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|item| format!("\"{item}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// A store prefix like `incoming/orders`: relative, no empty or dot segments; trailing `/` dropped.
/// Empty (like omitted) means the root of the table's `bucket`.
fn exports_prefix(prefix: &Spanned<String>, issues: &Issues) -> Option<String> {
    let trimmed = prefix.get_ref().trim_end_matches('/');
    let problem = if trimmed.is_empty() {
        None
    } else if trimmed.starts_with('/') {
        Some("starts with /")
    } else if trimmed.contains('\\') {
        Some("contains a backslash")
    } else if trimmed.split('/').any(|segment| matches!(segment, "" | "." | "..")) {
        Some("has an empty, '.' or '..' segment")
    } else {
        None
    };
    let Some(problem) = problem else {
        return Some(trimmed.to_owned());
    };
    let message = format!("`prefix` \"{}\" {problem}", prefix.get_ref());
    let hint =
        "write the folder holding AWSDynamoDB/, relative to the bucket, like prefix = \"incoming/orders\"";
    issues.report(prefix.span(), message, hint);
    None
}

/// `target` (`table` or `schema.table`), or the table's own name when that is a valid identifier.
fn target(raw: &RawTable, name: &Spanned<String>, issues: &Issues) -> Option<TargetTable> {
    let Some(target) = &raw.target else {
        if let Some((reason, _)) = warehouse_name_problem(name.get_ref()) {
            let message = format!(
                "{} has no `target`, and its name cannot be a warehouse table name: it {reason}",
                raw.label
            );
            issues.report(raw.span.clone(), message, "add target = \"schema.table\" (or just a table name)");
            return None;
        }
        return Some(TargetTable { schema: None, table: name.get_ref().clone() });
    };
    target_table(target, "target", issues)
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{refusals as messages, table_from as table};
    use std::path::Path;
    use std::time::Duration;

    use crate::config::{SourceConfig, StoreLocation, load_str};

    const EXPORTS: &str = "[[table]]\nsource = \"exports\"\nprefix = \"in/events/\"\nkey = [\"id\"]\n";

    #[test]
    fn an_exports_prefix_is_optional_and_empty_means_the_bucket_root() {
        let omitted = EXPORTS.replace("prefix = \"in/events/\"\n", "");
        for text in [omitted, EXPORTS.replace("in/events/", ""), EXPORTS.replace("in/events/", "/")] {
            let table = table(&format!("{text}name = \"events\"\n"));
            assert_eq!(table.source, SourceConfig::Exports { prefix: String::new() }, "{text}");
        }
    }

    #[test]
    fn the_name_can_come_from_the_arn() {
        let table = table(&format!("{EXPORTS}arn = \"arn:aws:dynamodb:eu-north-1:1:table/events\"\n"));
        assert_eq!(table.name, "events");
        assert_eq!(table.arn.as_deref(), Some("arn:aws:dynamodb:eu-north-1:1:table/events"));
        assert_eq!(table.source, SourceConfig::Exports { prefix: "in/events".into() });
    }

    #[test]
    fn targets_may_name_a_schema() {
        let table = table(&format!("{EXPORTS}name = \"events\"\ntarget = \"staging.events_v2\"\n"));
        assert_eq!(
            (table.target.schema.as_deref(), table.target.table.as_str()),
            (Some("staging"), "events_v2")
        );
        let messages = messages(&format!("{EXPORTS}name = \"events\"\ntarget = \"a.b.c\"\n"));
        assert_eq!(messages, ["`target` \"a.b.c\" has 3 dot-separated parts"]);
    }

    #[test]
    fn deletes_are_hard_unless_the_table_or_its_defaults_say_soft() {
        use crate::config::Deletes;
        assert_eq!(table(&format!("{EXPORTS}name = \"events\"\n")).deletes, Deletes::Hard);
        let own = table(&format!("{EXPORTS}name = \"events\"\ndeletes = \"soft\"\n"));
        assert_eq!(own.deletes, Deletes::Soft);
        let inherited = table(&format!("[defaults]\ndeletes = \"soft\"\n{EXPORTS}name = \"events\"\n"));
        assert_eq!(inherited.deletes, Deletes::Soft);
        let messages = messages(&format!("{EXPORTS}name = \"events\"\ndeletes = \"archive\"\n"));
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("deletes"), "{messages:?}");
    }

    #[test]
    fn a_table_name_that_is_no_identifier_needs_a_target() {
        let messages = messages(&format!("{EXPORTS}name = \"Events-2024\"\n"));
        assert_eq!(messages.len(), 1);
        assert!(messages[0].contains("has no `target`, and its name cannot be a warehouse table name"));
    }

    #[test]
    fn table_settings_override_defaults() {
        let text = format!(
            "[defaults]\nmax_window = \"1h\"\nstaged_file_mb = 8\n{EXPORTS}name = \"events\"\nmax_window = \"2h\"\n\
             bucket = \"s3://acme/dyn\"\nmode = \"full\"\n"
        );
        let table = table(&text);
        assert_eq!(table.max_window, Duration::from_secs(7200));
        assert_eq!(table.staged_file_bytes, 8 * 1024 * 1024);
        assert_eq!(table.store, StoreLocation::S3 { bucket: "acme".into(), prefix: "dyn/".into() });
        assert_eq!(table.mode, crate::config::Mode::Full);
    }

    #[test]
    fn stage_memory_mb_is_inherited_overridden_and_range_checked_at_its_line() {
        let text = format!("[defaults]\nstage_memory_mb = 64\n{EXPORTS}name = \"events\"\n");
        assert_eq!(table(&text).stage_memory_bytes, 64 * 1024 * 1024);
        let text =
            format!("[defaults]\nstage_memory_mb = 64\n{EXPORTS}name = \"events\"\nstage_memory_mb = 2048\n");
        assert_eq!(table(&text).stage_memory_bytes, 2048 * 1024 * 1024);
        assert_eq!(table(&format!("{EXPORTS}name = \"events\"\n")).stage_memory_bytes, 256 * 1024 * 1024);
        let text = format!("{EXPORTS}name = \"events\"\nstage_memory_mb = 0\n");
        let error = load_str(&text, Path::new("/c/tables.toml")).unwrap_err();
        assert_eq!(error.problems.len(), 1, "{:#?}", error.problems);
        let line = text.lines().position(|l| l.starts_with("stage_memory_mb")).unwrap() + 1;
        assert_eq!(error.problems[0].line, Some(line));
        assert!(error.problems[0].message.contains("`stage_memory_mb`"), "{:#?}", error.problems);
        assert!(error.to_string().contains("/c/tables.toml"), "{error}");
    }

    const REDSHIFT: &str = "[defaults]\nbucket = \"s3://acme/dyn/\"\n[warehouse]\nkind = \"redshift\"\nworkgroup = \"w\"\ndatabase = \"dev\"\n\
                            iam_role = \"arn:aws:iam::123456789012:role/r\"\n";

    #[test]
    fn pushdown_refuses_paths_jsonpaths_cannot_read_at_the_path() {
        let text = format!(
            "{REDSHIFT}{EXPORTS}name = \"events\"\nfull_load = \"pushdown\"\ncolumns = [\n\
             {{ name = \"id\", type = \"varchar(64)\" }},\n\
             {{ name = \"first\", path = \"lines[0].sku\", type = \"varchar(8)\" }},\n\
             {{ name = \"quoted\", path = [\"it's\"], type = \"varchar(8)\" }},\n\
             {{ name = \"fine\", path = [\"a.b\", \"c d\"], type = \"super\" }},\n]\n"
        );
        let error = load_str(&text, Path::new("/c/tables.toml")).unwrap_err();
        let problems: Vec<_> = error.problems.iter().map(|p| (p.line, p.message.as_str())).collect();
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert_eq!(problems[0].0, Some(16));
        assert!(problems[0].1.starts_with("column \"first\" of table \"events\" reads `lines[0].sku`, which full_load = \"pushdown\" cannot read: it indexes a list"), "{problems:#?}");
        assert_eq!(problems[1].0, Some(17));
        assert!(problems[1].1.contains("holds a ' (quote)"), "{problems:#?}");
        assert!(error.problems[0].hint.starts_with("set full_load = \"staged\""));
        let staged = text.replace("full_load = \"pushdown\"", "full_load = \"staged\"");
        assert_eq!(table(&staged).full_load, crate::config::FullLoad::Staged);
    }

    #[test]
    fn pushdown_refuses_a_timestamp_column_at_its_type() {
        let text = format!(
            "{REDSHIFT}{EXPORTS}name = \"events\"\nfull_load = \"pushdown\"\ncolumns = [\n\
             {{ name = \"id\", type = \"varchar(64)\" }},\n\
             {{ name = \"at\", type = \"timestamp\" }},\n\
             {{ name = \"at_tz\", type = \"timestamptz\" }},\n]\n"
        );
        let error = load_str(&text, Path::new("/c/tables.toml")).unwrap_err();
        assert_eq!(error.problems.len(), 1, "{:#?}", error.problems);
        assert_eq!(error.problems[0].line, Some(16));
        assert!(
            error.problems[0].message.starts_with("column \"at\" of table \"events\" is `timestamp`"),
            "{:#?}",
            error.problems
        );
        assert!(error.problems[0].hint.contains("timestamptz"), "{:#?}", error.problems);
        let staged = text.replace("full_load = \"pushdown\"", "full_load = \"staged\"");
        assert_eq!(table(&staged).full_load, crate::config::FullLoad::Staged);
    }

    #[test]
    fn incremental_pushdown_has_the_limits_of_full_pushdown_and_names_its_key() {
        let text = format!(
            "{REDSHIFT}{EXPORTS}name = \"events\"\nincremental_load = \"pushdown\"\ncolumns = [\n\
             {{ name = \"id\", type = \"varchar(64)\" }},\n\
             {{ name = \"first\", path = \"lines[0].sku\", type = \"varchar(8)\" }},\n\
             {{ name = \"at\", type = \"timestamp\" }},\n]\n"
        );
        let error = load_str(&text, Path::new("/c/tables.toml")).unwrap_err();
        let problems: Vec<_> = error.problems.iter().map(|p| (p.line, p.message.as_str())).collect();
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert_eq!(problems[0].0, Some(16));
        assert!(problems[0].1.starts_with("column \"first\" of table \"events\" reads `lines[0].sku`, which incremental_load = \"pushdown\" cannot read"), "{problems:#?}");
        assert!(error.problems[0].hint.starts_with("set incremental_load = \"staged\""));
        assert_eq!(problems[1].0, Some(17));
        assert!(
            problems[1].1.contains("is `timestamp`, which incremental_load = \"pushdown\""),
            "{problems:#?}"
        );
        let staged = text.replace("incremental_load = \"pushdown\"", "incremental_load = \"staged\"");
        assert_eq!(table(&staged).incremental_load, crate::config::IncrementalLoad::Staged);
    }

    #[test]
    fn a_bad_arn_is_explained() {
        let messages = messages(&format!("{EXPORTS}arn = \"orders\"\n"));
        assert_eq!(messages, ["`arn` of [[table]] #1 does not have the six ':'-separated parts of an ARN"]);
    }
}
