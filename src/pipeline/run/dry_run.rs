//! The dry run: plan, then report what would run — windows, files and SQL — changing nothing.
//! It takes no lease and writes no journal.

use super::Run;
use crate::config::{Mode, TableConfig};
use crate::human;
use crate::pipeline::error::PipelineError;
use crate::pipeline::events::{EventKind, RunOutcome};
use crate::pipeline::stage;
use crate::pipeline::staged::{
    FormatForRun as _, StagedFormat, StagedSet, change_columns, staged_columns, target_columns,
};
use crate::source::ExportPlan;

impl Run<'_> {
    /// Plan, then report what would run — windows, files and SQL — changing nothing.
    pub(super) async fn dry_run(&mut self) -> Result<RunOutcome, PipelineError> {
        let ctx = self.ctx;
        let previous = self.reconciled_watermark(false).await?;
        super::target_check::check_target_columns(ctx).await?;
        let mut plan = self.plan_quietly(previous).await?;
        if !plan.exports.is_empty() {
            let files = self.planned_files(&plan).await?;
            plan.notes.extend(files);
        }
        self.report_plan(&plan);
        if plan.exports.is_empty() {
            return Ok(RunOutcome::DryRun);
        }
        let staged = dry_run_staged_set(&ctx.table, ctx.request.mode, &ctx.run_id);
        let request = self.load_request(staged, &plan, previous);
        let statements = ctx.warehouse.plan(&request);
        let total = statements.len();
        for (i, statement) in statements.into_iter().enumerate() {
            ctx.events.emit(EventKind::StatementPlanned {
                index: i + 1,
                total,
                label: statement.label,
                sql: statement.sql,
            });
        }
        Ok(RunOutcome::DryRun)
    }

    /// What a dry run can say of the files: the data files of exports that already exist (read
    /// from their manifests, verified later by the real run), and where staged files would go.
    async fn planned_files(&self, plan: &ExportPlan) -> Result<Vec<String>, PipelineError> {
        let ctx = self.ctx;
        let mut notes = Vec::new();
        for planned in &plan.exports {
            let Some(existing) = &planned.existing else {
                notes.push(format!(
                    "{}: its data files are known once DynamoDB has written the export",
                    planned.spec
                ));
                continue;
            };
            let export = stage::manifest::read_export(ctx.store.as_ref(), existing).await?;
            let items: u64 = export.files.iter().map(|f| f.item_count).sum();
            let mut note = format!(
                "{}: {}, {}:",
                planned.spec,
                human::counted(export.files.len() as u64, "data file"),
                human::counted(items, "item")
            );
            for file in &export.files {
                let file_items = human::counted(file.item_count, "item");
                note.push_str(&format!("\n  {} ({file_items})", ctx.store.url_of(&file.key)));
            }
            notes.push(note);
        }
        let staged_dir = ctx.store.url_of(&format!("{}staged/<run id>/", ctx.table.state_prefix()));
        notes.push(match StagedFormat::for_run(&ctx.table, ctx.request.mode) {
            StagedFormat::Folded => {
                format!("staged files, COPY manifest and jsonpaths would go to {staged_dir}")
            }
            StagedFormat::ExportItems => format!(
                "pushdown: Redshift would read the export's data files directly; \
                 the COPY manifest and jsonpaths would go to {staged_dir}"
            ),
            StagedFormat::ExportChanges => format!(
                "pushdown: Redshift would read the incremental exports' data files directly and fold \
                 them by key; the COPY manifest and jsonpaths would go to {staged_dir}"
            ),
        });
        Ok(notes)
    }
}

/// The staged set a dry run shows SQL for: the keys and format a real run would write, no
/// files yet (so a pushdown table's dry run shows the pushdown COPY).
fn dry_run_staged_set(table: &TableConfig, mode: Mode, run_id: &str) -> StagedSet {
    let dir = format!("{}staged/{run_id}", table.state_prefix());
    let format = StagedFormat::for_run(table, mode);
    let columns = match format {
        StagedFormat::Folded => staged_columns(table),
        StagedFormat::ExportItems => target_columns(table),
        StagedFormat::ExportChanges => change_columns(table),
    };
    StagedSet {
        manifest_key: format!("{dir}/copy.manifest"),
        jsonpaths_key: format!("{dir}/jsonpaths.json"),
        columns,
        files: Vec::new(),
        upserts: 0,
        deletes: 0,
        format,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FullLoad;
    use crate::pipeline::stage::testing::table_with;

    #[test]
    fn a_dry_run_of_a_pushdown_table_plans_the_pushdown_load_of_full_syncs_only() {
        let table = table_with(|t| t.full_load = FullLoad::Pushdown);
        let full = dry_run_staged_set(&table, Mode::Full, "r");
        assert_eq!(full.format, StagedFormat::ExportItems);
        assert_eq!(full.columns, target_columns(&table));
        assert_eq!(full.jsonpaths_key, "orders/staged/r/jsonpaths.json");
        let incremental = dry_run_staged_set(&table, Mode::Incremental, "r");
        assert_eq!(incremental.format, StagedFormat::Folded);
        assert_eq!(incremental.columns, staged_columns(&table));
    }

    #[test]
    fn a_dry_run_of_an_incremental_pushdown_table_plans_the_change_stage() {
        let table = table_with(|t| t.incremental_load = crate::config::IncrementalLoad::Pushdown);
        let incremental = dry_run_staged_set(&table, Mode::Incremental, "r");
        assert_eq!(incremental.format, StagedFormat::ExportChanges);
        assert_eq!(incremental.columns, change_columns(&table));
        assert_eq!(dry_run_staged_set(&table, Mode::Full, "r").format, StagedFormat::Folded);
    }
}
