//! The schema drift popup of a table: what its last run found in the export that the columns do
//! not describe, with a `columns` entry to paste for each new attribute (see `docs/drift.md`).

use crate::contract::DriftReport;
use crate::human;

use super::super::doc::Doc;
use super::super::theme::Tone;

/// The popup's text for `table`'s `report`.
pub(in crate::tui) fn drift_doc(doc: &mut Doc, table: &str, report: &DriftReport) {
    doc.text(Tone::Plain, &format!("The last run of {table} found {}.", report.summary()));
    if !report.unmapped.is_empty() {
        doc.heading("New attributes: no column maps them");
        doc.text(
            Tone::Dim,
            "Paste an entry into the table's `columns` in tables.toml to load it as a column:",
        );
        for attribute in &report.unmapped {
            let types: Vec<String> =
                attribute.types.iter().map(|(tag, n)| format!("{tag} ×{}", human::count(*n))).collect();
            doc.blank();
            doc.field(
                &attribute.path,
                Tone::Warn,
                &format!("in {} ({})", human::counted(attribute.items, "item"), types.join(", ")),
            );
            doc.indented(2, Tone::Accent, &attribute.column_entry);
        }
    }
    let more = report.untracked_paths;
    if more > 0 {
        let at_least = if report.untracked_at_least { "at least " } else { "" };
        doc.blank();
        doc.text(
            Tone::Dim,
            &format!("…and {at_least}{} more not listed (a run lists 1,000).", human::counted(more, "path")),
        );
    }
    if !report.type_drift.is_empty() {
        doc.heading("Type drift: values of a type their column does not expect");
        for drift in &report.type_drift {
            doc.field(
                &drift.column,
                Tone::Warn,
                &format!(
                    "{} at {}: {} expects {}",
                    human::counted(drift.items, &format!("{} value", drift.seen)),
                    drift.path,
                    drift.column_type,
                    drift.expected.join(" or ")
                ),
            );
        }
    }
    doc.heading("What to do");
    doc.text(
        Tone::Dim,
        "Map what you need; otherwise set on_drift = \"ignore\" for the table to stop hearing about it, or \
         \"fail\" to stop loading when it happens.",
    );
}
