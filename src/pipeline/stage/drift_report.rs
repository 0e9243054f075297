//! The merged drift tally of a stage → the run's [`DriftReport`]: paths in the syntax `columns`
//! accepts, and for each unmapped one a `columns` entry to paste, named and typed as
//! `dynashift init` would (one inference for both, `init::infer`).

use std::collections::BTreeMap;

use crate::config::{AttrPath, TableConfig, UnmappedPolicy};
use crate::contract::drift::{DriftReport, TypeDrift, UnmappedAttribute};
use crate::init::naming::ColumnNames;

use super::drift::{DriftTally, MappedTree, SEPARATOR, TAGS, tags_of};

/// The report of `tally`, counted against `tree` (built from `table`).
pub(super) fn drift_report(table: &TableConfig, tree: &MappedTree, tally: DriftTally) -> DriftReport {
    let untracked_paths = tally.untracked_paths();
    let mut names = ColumnNames::with_taken(taken_names(table));
    let mut unmapped: Vec<(Vec<String>, u64, crate::init::infer::Observed)> = tally
        .paths
        .into_iter()
        .map(|(key, observed)| {
            (key.split(SEPARATOR).map(str::to_owned).collect(), observed.present(), observed)
        })
        .collect();
    unmapped.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let unmapped = unmapped
        .into_iter()
        .map(|(segments, items, observed)| {
            let mut types: BTreeMap<String, u64> =
                observed.tags().iter().map(|(tag, n)| ((*tag).to_owned(), *n as u64)).collect();
            let nulls = items - types.values().sum::<u64>();
            if nulls > 0 {
                types.insert("NULL".into(), nulls);
            }
            let name = names.name_for(&segments.join("_"));
            let (ty, _) = observed.guess();
            let column_entry = format!(
                "{{ name = {}, path = {}, type = {} }}",
                toml_string(&name),
                toml_path(&segments),
                toml_string(&ty.to_string())
            );
            UnmappedAttribute { path: path_text(&segments), items, types, column_entry }
        })
        .collect();
    let mut type_drift: Vec<TypeDrift> = Vec::new();
    for (check, counts) in tree.checks().iter().zip(&tally.type_drift) {
        for (tag, &items) in TAGS.iter().zip(counts) {
            if items > 0 {
                type_drift.push(TypeDrift {
                    path: check.path.clone(),
                    column: check.column.clone(),
                    column_type: check.ty.to_string(),
                    expected: tags_of(check.accepts),
                    seen: (*tag).to_owned(),
                    items,
                });
            }
        }
    }
    type_drift.sort_by(|a, b| b.items.cmp(&a.items).then_with(|| a.column.cmp(&b.column)));
    DriftReport {
        items_checked: tally.items,
        unmapped,
        type_drift,
        untracked_paths,
        untracked_at_least: tally.untracked_at_least,
    }
}

/// Column names a proposed column must not take: the table's, and its item column.
fn taken_names(table: &TableConfig) -> Vec<&str> {
    let mut taken: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    if let UnmappedPolicy::KeepItem { column } = &table.unmapped {
        taken.push(column);
    }
    taken
}

/// The path as `columns` writes it (`address.zip`, `meta."a.b"`).
fn path_text(segments: &[String]) -> String {
    match AttrPath::from_names(segments.iter().cloned()) {
        Ok(path) => path.to_string(),
        Err(_) => segments.join("."),
    }
}

/// A `path = …` value that reads back as `segments`: the dotted string when no name needs
/// quoting, else the array of names.
fn toml_path(segments: &[String]) -> String {
    let plain = |name: &String| !name.contains(['.', '"', '[', ']']);
    if segments.iter().all(plain) {
        toml_string(&segments.join("."))
    } else {
        let names: Vec<String> = segments.iter().map(|s| toml_string(s)).collect();
        format!("[{}]", names.join(", "))
    }
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
