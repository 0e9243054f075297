//! Redshift's reconciliation statements ([`crate::warehouse::reconcile`]). A Data API batch
//! carries no values from one statement to the next, so the counts before the change go into a
//! session table, [`RECONCILE_TABLE`], and the check is a guard that fails the batch (division by
//! zero, as the runs guards do) when the target's rows after the change differ. The statement
//! before the guard selects every number, so a failed check is explained with them (read back
//! from its result, see `batch`).

use crate::config::quote_identifier;
use crate::warehouse::plan_frame::Load;
use crate::warehouse::reconcile::{self, Check};

use super::sql::{STAGE_TABLE, guard, literal};

/// The session-private table holding an incremental load's counts before its change.
pub(super) const RECONCILE_TABLE: &str = "dynashift_reconcile";

/// `CREATE TEMP TABLE … AS` the counts before the change (after the fold of a pushdown load:
/// its stage holds the folded upserts and deletes like a staged one).
pub(super) fn count_before_change(load: &Load, live: Option<&str>) -> String {
    format!(
        "CREATE TEMP TABLE {} AS\n{}",
        quote_identifier(RECONCILE_TABLE),
        reconcile::count_before(&load.target, &quote_identifier(STAGE_TABLE), &load.shape, live)
    )
}

/// The numbers of the check, one row: `after` (a full load) or `before`, `new_keys`,
/// `deleted_present`, `after` (an incremental one). `after` is the count the run's record made
/// (it is always the last column: the load reports it as the target's rows).
pub(super) fn select_counts(load: &Load) -> String {
    let after = format!("({}) AS \"after\"", load.recorded_rows(literal));
    match load.reconcile_check() {
        Check::Rows(_) => format!("SELECT {after}"),
        Check::CountedBefore => format!(
            "SELECT r.\"before\", r.\"new_keys\", r.\"deleted_present\", {after}\nFROM {} AS r",
            quote_identifier(RECONCILE_TABLE)
        ),
    }
}

/// Fails the batch unless the target's rows after the change, as the run's record counted them,
/// are the expected number.
pub(super) fn guard_reconciled(load: &Load) -> String {
    let after = format!("({})", load.recorded_rows(literal));
    let expected = match load.reconcile_check() {
        Check::Rows(rows) => rows.to_string(),
        Check::CountedBefore => format!(
            "(SELECT r.\"before\" + r.\"new_keys\" - r.\"deleted_present\" FROM {} AS r)",
            quote_identifier(RECONCILE_TABLE)
        ),
    };
    guard(&format!("{after} = {expected}"))
}
