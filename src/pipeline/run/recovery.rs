//! Recovery of interrupted runs: a run first settles the journals of earlier runs that never
//! finished, and resumes the newest one when its plan still applies — its exports found again
//! by their ARNs, its staged files reused when they are still valid. The state machine
//! (`machine.rs`) drives the resumed run; this file only reads and closes the old journals.

use chrono::{DateTime, Utc};

use super::RunContext;
use crate::pipeline::cleanup;
use crate::pipeline::error::PipelineError;
use crate::pipeline::events::{EventKind, Stage};
use crate::pipeline::export;
use crate::pipeline::journal::{JournalFailure, RunJournal};
use crate::pipeline::staged::{FormatForRun as _, StagedFormat, StagedSet};
use crate::source::{ExportPlan, PlannedExport};

/// The plan of a resumed run: the old run's exports, with what is known of them.
pub(super) fn resumed_plan(old: &RunJournal) -> ExportPlan {
    ExportPlan {
        exports: old
            .exports
            .iter()
            .map(|e| PlannedExport { spec: e.spec.clone(), existing: e.description.clone() })
            .collect(),
        notes: vec![format!("resuming run {} at stage {}", old.run_id, old.stage)],
        accepted_gaps: old.accepted_gaps.clone(),
    }
}

/// The journal of the run that resumes `old`, under the table's current config `fingerprint`.
pub(super) fn resumed_journal(
    ctx: &RunContext,
    old: &RunJournal,
    previous: Option<DateTime<Utc>>,
    fingerprint: &str,
) -> RunJournal {
    let mut journal = RunJournal::new(&ctx.run_id, &ctx.table.name, ctx.request.mode, previous);
    journal.config_fingerprint = Some(fingerprint.to_owned());
    journal.exports = old.exports.clone();
    // The exports keep the tokens they were (or are about to be) requested with.
    for (index, export) in journal.exports.iter_mut().enumerate() {
        export.client_token.get_or_insert_with(|| export::legacy_client_token(&old.run_id, index));
    }
    journal.target_watermark = old.target_watermark;
    journal.accepted_gaps = old.accepted_gaps.clone();
    journal.cost = old.cost.clone();
    // Kept with reused staged files; a stage that runs again counts afresh.
    journal.drift = old.drift.clone();
    journal.note = Some(format!("resumes run {} (interrupted at stage {})", old.run_id, old.stage));
    journal
}

/// The staged files of `old` that the resumed run can load as they are. Staged files are
/// reused only under the config they were staged with (columns, types, paths… may have changed
/// since; the format follows full_load), and only when they are all still there; otherwise the
/// old run's staged folder is removed, since its files are staged again from the exports.
pub(super) async fn reusable_staged(
    ctx: &RunContext,
    old: &RunJournal,
    fingerprint: &str,
) -> Result<Option<StagedSet>, PipelineError> {
    let format = StagedFormat::for_run(&ctx.table, ctx.request.mode);
    let reusable_staged = match &old.staged {
        Some(staged) if old.stage >= Stage::Staged && staged.format == format => {
            match staged_under(ctx, old, fingerprint) {
                true if staged_files_exist(ctx, staged).await? => Some(staged.clone()),
                _ => None,
            }
        }
        _ => None,
    };
    if reusable_staged.is_none() && old.staged.is_some() {
        cleanup::remove_staged_folder(ctx.store.as_ref(), &ctx.table, &old.run_id).await?;
    }
    Ok(reusable_staged)
}

/// Whether `old` staged its files under the config this run has (`fingerprint`); says so
/// to the user when not, since its files are then staged again from the exports.
fn staged_under(ctx: &RunContext, old: &RunJournal, fingerprint: &str) -> bool {
    let why = match old.config_fingerprint.as_deref() {
        Some(staged_with) if staged_with == fingerprint => return true,
        Some(_) => {
            "the table's configuration changed since (columns, types, paths or policies), or what the \
             warehouse asks of staged files did (another warehouse, or a dynashift that stages them \
             otherwise)"
        }
        None => "an older dynashift staged them without recording the configuration it used",
    };
    let message = format!(
        "run {} staged its files, but {why}: staging again from its exports, so the load uses the current \
         mapping",
        old.run_id
    );
    ctx.events.emit(EventKind::Warning { message });
    false
}

async fn staged_files_exist(ctx: &RunContext, staged: &StagedSet) -> Result<bool, PipelineError> {
    let store = ctx.store.as_ref();
    for key in staged.files.iter().map(|f| f.key.as_str()).chain([staged.manifest_key.as_str()]) {
        if store.head(key).await?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Settles the journals of earlier runs that never finished (killed, power loss): those the
/// warehouse holds a commit of are closed as committed, older interrupted ones as
/// interrupted, and the newest interrupted one is returned to be resumed.
pub(super) async fn settle_interrupted_runs(ctx: &RunContext) -> Result<Option<RunJournal>, PipelineError> {
    let mut newest_interrupted = None;
    // Newest first, so the first uncommitted one is the one to resume.
    for mut journal in RunJournal::list(&ctx.table, ctx.store.as_ref()).await? {
        if !journal.awaits_resume() {
            continue;
        }
        if let Some(record) = ctx.warehouse.find_run(&journal.run_id).await? {
            journal.stage = Stage::Committed;
            journal.target_rows = Some(record.target_rows);
            journal.note = Some("committed; the run was interrupted before it could record that".into());
            journal.finished_at = Some(Utc::now());
            journal.failure = None;
            journal.resumable = false;
            journal.save(&ctx.table, ctx.store.as_ref()).await?;
        } else if newest_interrupted.is_none() {
            newest_interrupted = Some(journal);
        } else {
            close_interrupted(ctx, journal, "a newer run was interrupted too").await?;
        }
    }
    Ok(newest_interrupted)
}

/// Closes an interrupted run's journal; nothing of it was committed.
pub(super) async fn close_interrupted(
    ctx: &RunContext,
    mut journal: RunJournal,
    why: &str,
) -> Result<(), PipelineError> {
    ctx.events.emit(EventKind::Warning {
        message: format!(
            "run {} was interrupted at stage {}; nothing of it was committed ({why})",
            journal.run_id, journal.stage
        ),
    });
    journal.failure = Some(JournalFailure {
        stage: journal.stage,
        cause: format!("interrupted: the process ended before the run finished; {why}"),
        hint: "nothing of it was committed; a later run covers the same changes".into(),
    });
    journal.finished_at = Some(Utc::now());
    journal.resumable = false;
    journal.save(&ctx.table, ctx.store.as_ref()).await?;
    Ok(())
}
