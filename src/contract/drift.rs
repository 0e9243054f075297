//! Schema drift: what a run's export holds that the table's columns do not describe — attributes
//! no column maps, and mapped attributes of a DynamoDB type the column does not expect. The stage
//! step counts it, the run journals it, and every front end shows it (see `docs/drift.md`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Most distinct unmapped paths a run lists; further ones are only counted, so an export with a
/// new attribute name per item cannot make the report (or the stage's memory) grow without end.
pub const MAX_LISTED_PATHS: usize = 1000;

/// What the stage step found of one run's drift.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftReport {
    /// Item images checked: every item of a full export, every new image of an incremental one
    /// (changes a newer change superseded included; deletes carry no image).
    pub items_checked: u64,
    /// Attribute paths no column maps, the most frequent first.
    pub unmapped: Vec<UnmappedAttribute>,
    /// Mapped attributes holding a type their column does not expect, the most frequent first.
    pub type_drift: Vec<TypeDrift>,
    /// Distinct unmapped paths beyond the [`MAX_LISTED_PATHS`] listed (counted, not listed).
    pub untracked_paths: u64,
    /// `untracked_paths` stopped counting: there are at least that many more.
    #[serde(default)]
    pub untracked_at_least: bool,
}

/// One attribute path no column maps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmappedAttribute {
    /// The path as `columns` writes it (`address.zip`, `meta."a.b"`).
    pub path: String,
    /// Items holding it.
    pub items: u64,
    /// Items per DynamoDB type (`S`, `N`, `B`, `BOOL`, `NULL`, `M`, `L`, `SS`, `NS`, `BS`).
    pub types: BTreeMap<String, u64>,
    /// A `columns` entry that maps it, ready to paste into `tables.toml`; its type is guessed
    /// from the values seen, as `dynashift init` guesses.
    pub column_entry: String,
}

/// A mapped attribute that held a DynamoDB type its column does not expect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeDrift {
    pub path: String,
    pub column: String,
    /// The column's type as `tables.toml` writes it (`integer`).
    pub column_type: String,
    /// The DynamoDB types the column expects (`N`); NULL always fits.
    pub expected: Vec<String>,
    /// The DynamoDB type seen instead.
    pub seen: String,
    /// Items holding `seen` at `path`.
    pub items: u64,
}

/// Whether a run counted drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DriftCheck {
    Counted {
        report: DriftReport,
    },
    /// The warehouse read the export itself (a pushdown load): dynashift never saw the items.
    NotCounted {
        reason: String,
    },
}

impl DriftReport {
    /// Nothing drifted.
    pub fn is_empty(&self) -> bool {
        self.unmapped.is_empty() && self.type_drift.is_empty() && self.untracked_paths == 0
    }

    /// Distinct unmapped paths, listed or not.
    pub fn unmapped_paths(&self) -> u64 {
        self.unmapped.len() as u64 + self.untracked_paths
    }

    /// One line for summaries and status: `2 unmapped attributes (zip in 12 of 40 items, note
    /// in 3), 1 type drift (total: S in 2 items)`.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.unmapped_paths() > 0 {
            let n = self.unmapped_paths();
            let mut text = format!("{n} unmapped attribute{}", plural(n));
            let listed: Vec<String> =
                self.unmapped.iter().take(3).map(|a| format!("{} in {}", a.path, a.items)).collect();
            if !listed.is_empty() {
                let _ = write!(text, " ({}", listed.join(", "));
                let more = n.saturating_sub(listed.len() as u64);
                let at_least = if self.untracked_at_least { "at least " } else { "" };
                if more > 0 {
                    let _ = write!(text, " and {at_least}{more} more");
                }
                text.push(')');
            }
            parts.push(text);
        }
        if !self.type_drift.is_empty() {
            let n = self.type_drift.len() as u64;
            let listed: Vec<String> = self
                .type_drift
                .iter()
                .take(3)
                .map(|t| format!("{} ({}): {} in {}", t.path, t.column_type, t.seen, t.items))
                .collect();
            parts.push(format!("{n} type drift{} ({})", plural(n), listed.join(", ")));
        }
        if parts.is_empty() {
            return format!("no drift in {} items", self.items_checked);
        }
        format!("{} in {} items checked", parts.join(", "), self.items_checked)
    }
}

impl DriftCheck {
    /// The report, when the run counted drift.
    pub fn report(&self) -> Option<&DriftReport> {
        match self {
            DriftCheck::Counted { report } => Some(report),
            DriftCheck::NotCounted { .. } => None,
        }
    }

    /// Whether there is something to show: drift, or a reason it was not counted.
    pub fn drifted(&self) -> bool {
        self.report().is_some_and(|r| !r.is_empty())
    }

    /// `drift: …` for summaries and status.
    pub fn summary(&self) -> String {
        match self {
            DriftCheck::Counted { report } => report.summary(),
            DriftCheck::NotCounted { reason } => format!("not counted: {reason}"),
        }
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unmapped(path: &str, items: u64) -> UnmappedAttribute {
        UnmappedAttribute {
            path: path.into(),
            items,
            types: BTreeMap::from([("S".to_owned(), items)]),
            column_entry: format!("{{ name = \"{path}\", path = \"{path}\", type = \"varchar(32)\" }}"),
        }
    }

    #[test]
    fn the_summary_names_the_most_frequent_paths_and_counts_the_rest() {
        let mut report = DriftReport { items_checked: 40, ..DriftReport::default() };
        assert!(report.is_empty());
        assert_eq!(report.summary(), "no drift in 40 items");
        report.unmapped = vec![unmapped("zip", 12), unmapped("note", 3)];
        assert_eq!(report.summary(), "2 unmapped attributes (zip in 12, note in 3) in 40 items checked");
        report.unmapped.extend(["a", "b"].map(|p| unmapped(p, 1)));
        report.untracked_paths = 5;
        report.untracked_at_least = true;
        report.type_drift.push(TypeDrift {
            path: "total".into(),
            column: "total".into(),
            column_type: "integer".into(),
            expected: vec!["N".into()],
            seen: "S".into(),
            items: 2,
        });
        assert_eq!(
            report.summary(),
            "9 unmapped attributes (zip in 12, note in 3, a in 1 and at least 6 more), \
             1 type drift (total (integer): S in 2) in 40 items checked"
        );
    }

    #[test]
    fn a_check_serializes_with_its_status() {
        let check = DriftCheck::NotCounted { reason: "pushdown".into() };
        let json = serde_json::to_string(&check).unwrap();
        assert_eq!(json, r#"{"status":"not_counted","reason":"pushdown"}"#);
        assert!(!check.drifted());
        let counted = DriftCheck::Counted {
            report: DriftReport { unmapped: vec![unmapped("zip", 1)], ..DriftReport::default() },
        };
        let back: DriftCheck = serde_json::from_str(&serde_json::to_string(&counted).unwrap()).unwrap();
        assert_eq!(back, counted);
        assert!(back.drifted());
    }
}
