//! `history_target = "schema.table"`: the table a load appends every change it applied to (see
//! `docs/deletes-and-history.md`). Per table only: a history table holds one table's key
//! columns, so `[defaults]` cannot give one to every table. The rules that span tables (no
//! history table is any table's target, no two tables share one) are in `validate`.

use std::collections::HashMap;
use std::ops::Range;

use toml::Spanned;

use crate::contract::history;

use super::issues::Issues;
use super::model::{ColumnSpec, TargetTable};
use super::names::target_table;
use super::raw::RawTable;

/// `Some(None)` when the table keeps no history, `None` when its `history_target` was refused
/// (reported). It must name a table (`schema.table` or `table`) other than the target — the
/// reserved `dynashift_` prefix keeps it off `dynashift_runs` — and no key column may be named
/// like one of the history table's own columns.
pub(super) fn history_target(
    raw: &RawTable,
    target: Option<&TargetTable>,
    columns: Option<&[ColumnSpec]>,
    issues: &Issues,
) -> Option<Option<TargetTable>> {
    let Some(written) = &raw.history_target else { return Some(None) };
    let history = target_table(written, "history_target", issues)?;
    if target == Some(&history) {
        let message =
            format!("`history_target` \"{}\" of {} is its own target", written.get_ref(), raw.label);
        issues.report(written.span(), message, "name another table, e.g. \"<target>_history\"");
        return None;
    }
    let clashes = clashing_key_columns(columns.unwrap_or_default());
    if let Some(clash) = clashes.first() {
        let message = format!(
            "key column \"{clash}\" of {} has the name of a column its history table \"{}\" keeps ({})",
            raw.label,
            written.get_ref(),
            history::COLUMNS.join(", ")
        );
        let hint = "rename the key column (its `name` in `columns`), or remove `history_target`";
        issues.report(written.span(), message, hint);
        return None;
    }
    Some(Some(history))
}

/// The key columns named like a history table's own columns.
fn clashing_key_columns(columns: &[ColumnSpec]) -> Vec<&str> {
    let keys = columns.iter().filter(|c| c.is_key).map(|c| c.name.as_str());
    keys.filter(|name| history::COLUMNS.contains(name)).collect()
}

/// Where a table's `history_target` is written, for errors that span tables.
fn span_of(raw: &RawTable) -> Option<Range<usize>> {
    raw.history_target.as_ref().map(Spanned::span)
}

/// A history table that is another table's target would mix changes into loaded rows, and one
/// shared by two tables would mix two tables' keys: both are refused at the `history_target`.
pub(super) fn report_clashes(validated: &[(&RawTable, super::model::TableConfig)], issues: &Issues) {
    let mut first_seen: HashMap<&TargetTable, Range<usize>> = HashMap::new();
    for (raw, config) in validated {
        let (Some(history), Some(span)) = (&config.history_target, span_of(raw)) else { continue };
        if let Some((owner, _)) = validated.iter().find(|(_, other)| &other.target == history) {
            let message = format!(
                "`history_target` \"{history}\" of table \"{}\" is the target of table \"{}\"",
                config.name,
                owner.name.as_ref().map_or("?", |name| name.get_ref().as_str())
            );
            issues.report(span, message, "name a table no [[table]] loads, e.g. \"<target>_history\"");
            continue;
        }
        match first_seen.get(history) {
            Some(first) => {
                let message = format!(
                    "table \"{}\" appends its history to \"{history}\", which another table's history_target names too",
                    config.name
                );
                let hint = "give each table its own history table: one holds one table's key columns";
                issues.report_duplicate(span, first.clone(), message, hint);
            }
            None => {
                first_seen.insert(history, span);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::testing::{refusals as messages, table_from as table};

    const EXPORTS: &str = "[[table]]\nsource = \"exports\"\nprefix = \"in/events/\"\nkey = [\"id\"]\n";

    fn named(history: &str) -> String {
        format!("{EXPORTS}name = \"events\"\nhistory_target = \"{history}\"\n")
    }

    #[test]
    fn a_history_target_is_a_table_other_than_the_target_and_dynashift_runs() {
        let history = table(&named("audit.events_history")).history_target.unwrap();
        assert_eq!((history.schema.as_deref(), history.table.as_str()), (Some("audit"), "events_history"));
        assert_eq!(table(&format!("{EXPORTS}name = \"events\"\n")).history_target, None);
        assert_eq!(
            messages(&named("events")),
            ["`history_target` \"events\" of table \"events\" is its own target"]
        );
        let runs = messages(&named("dynashift_runs"));
        assert!(
            runs[0].starts_with("history_target table \"dynashift_runs\" starts with dynashift_"),
            "{runs:?}"
        );
        assert_eq!(messages(&named("a.b.c")), ["`history_target` \"a.b.c\" has 3 dot-separated parts"]);
    }

    #[test]
    fn a_key_column_named_like_a_history_column_is_refused() {
        let text = "[[table]]\nsource = \"exports\"\nprefix = \"in/\"\nname = \"events\"\nkey = [\"op\"]\n\
                    history_target = \"events_history\"\n";
        assert_eq!(
            messages(text),
            [
                "key column \"op\" of table \"events\" has the name of a column its history table \"events_history\" \
              keeps (op, written_at, run_id, image)"
            ]
        );
    }

    #[test]
    fn a_history_table_is_no_tables_target_and_belongs_to_one_table() {
        let other = |name: &str, rest: &str| {
            format!(
                "[[table]]\nsource = \"exports\"\nprefix = \"in/{name}/\"\nkey = [\"id\"]\nname = \"{name}\"\n{rest}"
            )
        };
        let loaded = format!("{}{}", other("aaa", "history_target = \"bbb\"\n"), other("bbb", ""));
        assert_eq!(
            messages(&loaded),
            ["`history_target` \"bbb\" of table \"aaa\" is the target of table \"bbb\""]
        );
        let shared = format!(
            "{}{}",
            other("aaa", "history_target = \"audit.h\"\n"),
            other("bbb", "history_target = \"audit.h\"\n")
        );
        assert_eq!(
            messages(&shared),
            [
                "table \"bbb\" appends its history to \"audit.h\", which another table's history_target names too \
                 (first defined at line 6, column 18)"
            ]
        );
    }

    #[test]
    fn defaults_cannot_name_a_history_table() {
        let text = format!("[defaults]\nhistory_target = \"audit.h\"\n{EXPORTS}name = \"events\"\n");
        let error = crate::config::load_str(&text, std::path::Path::new("/c/tables.toml")).unwrap_err();
        let problem = &error.problems[0];
        assert_eq!(problem.message, "unknown key `history_target` in [defaults]");
        assert!(
            problem.hint.contains("is set per table") && problem.hint.contains("[[table]]"),
            "{}",
            problem.hint
        );
    }
}
