//! What a run learns about its exports beyond loading them: what they cost (journaled and
//! reported as `cost_estimated`) and, with `item_count_check`, whether a full export's item count
//! is near the table's own. Neither ever fails a run.

use super::Run;
use crate::contract::{CostEstimate, ExportDescription, ExportSpec};
use crate::cost;
use crate::pipeline::events::EventKind;
use crate::source::item_count;

impl Run<'_> {
    /// Estimates what `exports` cost, journals it (saved with the next stage) and reports it.
    pub(super) fn report_cost(&mut self, exports: &[ExportDescription]) {
        let estimate = cost::estimate_run(&self.ctx.table, exports);
        self.report_estimate(estimate);
    }

    /// A resumed run that reuses its predecessor's staged files: the estimate that run journaled
    /// (and handed over), else one from the journaled exports.
    pub(super) fn report_carried_cost(&mut self) {
        let journal = self.journal.journal();
        let carried = journal.and_then(|j| j.cost.clone());
        let described: Option<Vec<ExportDescription>> =
            journal.map(|j| j.exports.iter().filter_map(|e| e.description.clone()).collect());
        let estimate = match (carried, described) {
            (Some(estimate), _) => estimate,
            (None, Some(exports)) if !exports.is_empty() => cost::estimate_run(&self.ctx.table, &exports),
            _ => return,
        };
        self.report_estimate(estimate);
    }

    fn report_estimate(&mut self, estimate: CostEstimate) {
        self.ctx.events.emit(EventKind::cost_estimated(&estimate));
        self.journal.update(|journal| journal.cost = Some(estimate));
    }

    /// With `item_count_check`, compares a full export's item count with the table's
    /// (DescribeTable's `ItemCount`) and warns beyond the tolerance; a source that cannot count,
    /// or a count that cannot be read, is a warning too, never a failure.
    pub(super) async fn check_item_count(&self, exports: &[ExportDescription]) {
        let ctx = self.ctx;
        if !ctx.table.accounting.item_count_check {
            return;
        }
        let Some(full) = exports.iter().find(|e| matches!(e.spec, ExportSpec::Full { .. })) else {
            return;
        };
        let warning = match (full.item_count, ctx.source.table_item_count().await) {
            (None, _) => Some(format!(
                "item_count_check skipped: DescribeExport gave no item count for {}",
                full.export_arn
            )),
            (Some(exported), Ok(Some(described))) => item_count::mismatch(exported, described),
            (Some(_), Ok(None)) => Some(format!(
                "item_count_check skipped: {} cannot tell the table's item count",
                ctx.source.describe()
            )),
            (Some(_), Err(err)) => {
                Some(format!("item_count_check skipped: the table's item count could not be read: {err}"))
            }
        };
        if let Some(message) = warning {
            tracing::warn!(table = %ctx.table.name, %message, "item count check");
            ctx.events.emit(EventKind::Warning { message });
        }
    }
}
