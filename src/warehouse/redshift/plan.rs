//! The statements of one Redshift load, sent as ONE BatchExecuteStatement (one transaction,
//! at most [`MAX_BATCH`] statements). [`steps`] is the single source of both `Warehouse::plan`
//! (what a dry run prints) and `Warehouse::load` (what runs). The order of the phases is the
//! shared [`plan_frame`]'s; this file holds Redshift's hooks: no begin or commit (the Data API
//! commits the batch), the guards after the COPY, and one hook that changes the target per mode
//! and staged format.
//!
//! Both modes: create `dynashift_runs` if missing → create the schema and the target if
//! missing → create the stage → COPY the staged files → lock `dynashift_runs` → (a runs table
//! of an earlier version: upgrade it, see [`runs::upgrade_runs_table`]) → refuse a run
//! that already committed → (incremental: refuse a stale watermark). The lock is taken after
//! the COPY so other tables' reads of `dynashift_runs` do not wait for a long COPY.
//! Incremental: delete the keys staged as deletes → drop them from the stage → MERGE the rest.
//! Full: delete every target row → insert the staged rows (an atomic replace: readers see the
//! old rows until the batch commits; grants, views and ownership of the target stay).
//! Pushdown full (a [`StagedFormat::ExportItems`] set): the same, but the stage holds the
//! target's columns only and COPY reads the export's own data files through jsonpaths over
//! `$.Item` (written by the pipeline, see [`crate::ddb::item_paths`]), so every
//! stage row is inserted.
//! Then record the run and count the target's rows. The Data API commits the batch.

use std::collections::HashMap;

use crate::config::{Mode, TargetTable};
use crate::contract::staged::StagedFormat;
use crate::ddb::item_paths;
use crate::warehouse::plan_frame::{self, Dialect, GuardPlacement, Load, Statement, Transaction};
use crate::warehouse::shape::TableShape;
use crate::warehouse::target_columns::MissingColumn;
use crate::warehouse::{LoadRequest, RUNS_TABLE};

use crate::warehouse::history;
use crate::warehouse::reconcile;
use crate::warehouse::soft_deletes;

use super::pushdown_sql;
use super::reconcile_sql;
use super::runs::{self, RunsShape};
use super::sql::{self, CopySource, RedshiftTime, quoted_target};

/// The Data API's limit of statements per batch.
pub(super) const MAX_BATCH: usize = 40;

/// The Data API's limit on the size of one SQL statement: 100 KB ("Considerations when calling
/// the Amazon Redshift Data API", Redshift Management Guide). A wide table's MERGE can pass it,
/// so every statement is measured before the batch is submitted.
pub(super) const MAX_STATEMENT_BYTES: usize = 100 * 1024;

/// What a statement's outcome means to the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// DDL, locks, changes: its status and row count are reported as they are.
    Plain,
    /// COPY: when it fails, the load errors are read from SYS_LOAD_ERROR_DETAIL.
    Copy,
    /// Fails when the run already committed.
    GuardRun,
    /// Fails when the committed watermark is not the one the load continues from.
    GuardWatermark,
    /// Selects the reconciliation's numbers, read back to explain a failed check; its last
    /// column is the target's rows after the change (the load's reported count).
    ReconcileCounts,
    /// Fails when the target's rows after the change are not the expected number.
    GuardReconciled,
}

/// One statement of a load.
pub(super) type Step = crate::warehouse::step::Step<Role>;

/// Where the statements read from besides the request: the COPY role, and the Regions that
/// decide each COPY's `REGION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CopySettings {
    pub iam_role: String,
    /// The warehouse's Region (the Data API client's, resolved when connecting).
    pub warehouse_region: String,
    /// Each table's bucket Region, by table name (its store's client Region: S3 answers a
    /// client only in the bucket's own Region, so a store that works names it).
    pub bucket_regions: HashMap<String, String>,
    /// `copy_region` of `[warehouse]`: one Region for every COPY, as before bucket Regions were
    /// known per table. `--check` refuses it when a table's bucket is configured elsewhere.
    pub region_override: Option<String>,
}

impl CopySettings {
    /// COPY's `REGION` for `table`: needed only when its bucket is in another Region than the
    /// warehouse ("COPY from Amazon S3", data source parameters, Redshift Database Developer
    /// Guide: the bucket must be in the cluster's Region unless REGION is given).
    pub(super) fn region_for(&self, table: &str) -> Option<&str> {
        if let Some(region) = &self.region_override {
            return Some(region);
        }
        let bucket = self.bucket_regions.get(table)?;
        (*bucket != self.warehouse_region).then_some(bucket.as_str())
    }
}

/// Every statement of the load `request` asks for, in execution order, for a runs table of
/// `shape` (an old one is upgraded right after the lock).
pub(super) fn steps(request: &LoadRequest, copy: &CopySettings, runs_shape: RunsShape) -> Vec<Step> {
    steps_upgrading(request, copy, runs_shape, &TargetUpgrades::default())
}

/// What an existing target lacks that the load adds first, as probed before the batch (Redshift
/// has no `ADD COLUMN IF NOT EXISTS`, and a batch cannot branch).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct TargetUpgrades {
    /// A soft-deleting target without `dynashift_deleted_at`.
    pub deleted_at: bool,
    /// Columns tables.toml maps that the target lacks, for a full load to add (and fill).
    pub columns: Vec<MissingColumn>,
}

/// [`steps`] for a target that exists without what `upgrades` lists: the batch adds it first.
pub(super) fn steps_upgrading(
    request: &LoadRequest,
    copy: &CopySettings,
    runs_shape: RunsShape,
    upgrades: &TargetUpgrades,
) -> Vec<Step> {
    plan_frame::plan(&Redshift { copy, runs_shape, upgrades }, request)
}

/// Redshift's hooks of the plan frame: where the COPY reads from, the runs table's shape, and
/// what the existing target needs added.
struct Redshift<'a> {
    copy: &'a CopySettings,
    runs_shape: RunsShape,
    upgrades: &'a TargetUpgrades,
}

impl Dialect for Redshift<'_> {
    type Action = Role;

    /// The lock on `dynashift_runs` comes after the COPY into the session's own stage, so a
    /// long COPY does not hold up other tables' planning reads of `dynashift_runs`; the guards
    /// come after the lock, so they see the committed state, and before the first change to the
    /// target.
    const GUARDS: GuardPlacement = GuardPlacement::AfterCopy;

    fn quoted_target(&self, target: &TargetTable) -> String {
        quoted_target(target)
    }

    /// None: the Data API runs the batch as one transaction and commits it.
    fn transaction(&self, _load: &Load) -> Option<Transaction<Role>> {
        None
    }

    fn create_runs_table(&self, _load: &Load) -> Statement<Role> {
        Statement::new(runs::create_runs_table(), Role::Plain)
    }

    fn create_schema(&self, _load: &Load, schema: &str) -> Option<Statement<Role>> {
        Some(Statement::new(sql::create_schema(schema), Role::Plain))
    }

    /// The lock, then (a runs table of an earlier version) its upgrade, which the guards need
    /// (they read `seq`), then the refusal of a run that already committed.
    fn guards(&self, load: &Load) -> Vec<Step> {
        let mut steps = vec![Step::new(
            format!("wait for other loads (lock {RUNS_TABLE})"),
            runs::lock_runs_table(),
            Role::Plain,
        )];
        if self.runs_shape == RunsShape::Old {
            let upgrade = runs::upgrade_runs_table().into_iter();
            steps.extend(upgrade.map(|(label, sql)| Step::new(label, sql, Role::Plain)));
        }
        steps.push(Step::new(
            format!("check run {} is not committed yet", load.request.run_id),
            runs::guard_run_not_committed(&load.request.run_id),
            Role::GuardRun,
        ));
        steps
    }

    fn check_watermark(&self, load: &Load) -> Statement<Role> {
        let request = load.request;
        Statement::new(
            runs::guard_watermark(&request.table.name, request.previous_watermark),
            Role::GuardWatermark,
        )
    }

    /// Both modes: a full load replaces the target's rows, not the table.
    fn create_target(&self, load: &Load) -> Option<Statement<Role>> {
        Some(Statement::new(sql::create_target(&load.target, &load.shape), Role::Plain))
    }

    /// Redshift's ALTER TABLE has no `IF NOT EXISTS`: the load probed the target first
    /// (`sql::probe_deleted_at`), and adds the column only when it is missing. ALTER TABLE ADD
    /// COLUMN may run in a transaction block ("ALTER TABLE", Redshift Database Developer Guide).
    /// `dynashift_deleted_at` for a soft-deleting target created before, and the columns a full
    /// load gives a target created before tables.toml mapped them (the load then fills them in
    /// every row; ALTER TABLE ADD COLUMN runs in a transaction block on every table but an
    /// external one — "ALTER TABLE", Redshift Database Developer Guide).
    fn upgrade_target(&self, load: &Load) -> Vec<Step> {
        let mut steps = Vec::new();
        if self.upgrades.deleted_at && load.soft_deletes() {
            steps.push(Step::new(
                format!("add {} to {}", soft_deletes::DELETED_AT_COLUMN, load.target),
                soft_deletes::add_column(&load.target, &RedshiftTime),
                Role::Plain,
            ));
        }
        if load.request.mode == Mode::Full {
            steps.extend(self.upgrades.columns.iter().map(|column| {
                Step::new(
                    format!("add column {} to {}", column.name, load.target),
                    column.add.clone(),
                    Role::Plain,
                )
            }));
        }
        steps
    }

    fn create_stage(&self, load: &Load) -> Statement<Role> {
        let create = match load.request.staged.format {
            StagedFormat::Folded => sql::create_stage(&load.shape),
            StagedFormat::ExportItems => sql::create_export_item_stage(&load.shape),
            StagedFormat::ExportChanges => pushdown_sql::create_change_table(&load.shape),
        };
        Statement::new(create, Role::Plain)
    }

    fn copy(&self, load: &Load) -> Step {
        copy_step(load.request, &load.shape, self.copy)
    }

    /// An incremental pushdown load folds the windows' change lines into the stage in SQL
    /// (before the lock: it touches only the session's temp tables).
    fn fold_stage(&self, load: &Load) -> Vec<Step> {
        let fold = pushdown_sql::fold_statements(load.request, &load.shape).into_iter();
        fold.map(|(label, sql)| Step::new(label, sql, Role::Plain)).collect()
    }

    /// The history table's schema when it is not the target's (the frame created that one). Its
    /// columns were checked before the batch (`probe_columns`: a batch cannot fail a statement
    /// with a message of its own), so the batch creates it if missing and appends.
    fn append_history(&self, load: &Load, history: &TargetTable) -> Vec<Step> {
        let quoted = quoted_target(history);
        let mut steps = Vec::new();
        if let Some(schema) = load.history_schema(history) {
            steps.push(Step::new(
                format!("create schema {} if missing", crate::config::quote_identifier(schema)),
                sql::create_schema(schema),
                Role::Plain,
            ));
        }
        let create =
            history::create_table(&quoted, &load.shape, &RedshiftTime, &sql::history_attributes(&load.shape));
        steps.push(Step::new(format!("create {quoted} if missing"), create, Role::Plain));
        let stage = crate::config::quote_identifier(sql::STAGE_TABLE);
        steps.push(Step::new(
            history::append_label(&quoted),
            history::append(load, &quoted, &stage, &RedshiftTime),
            Role::Plain,
        ));
        steps
    }

    /// One arm per mode and staged format. An incremental load of an export's items is refused
    /// by [`unloadable`] before anything runs.
    fn change_target(&self, load: &Load) -> Vec<Step> {
        let (target, shape) = (load.target.as_str(), &load.shape);
        if load.soft_deletes() {
            return soft_change(load);
        }
        let delete_all =
            || Step::new(format!("delete every row of {target}"), sql::delete_all(target), Role::Plain);
        match (load.request.mode, load.request.staged.format) {
            (Mode::Incremental, _) => vec![
                Step::new(
                    "delete keys staged as deletes",
                    sql::delete_staged_deletes(target, shape),
                    Role::Plain,
                ),
                Step::new("drop deletes from the stage", sql::drop_deletes_from_stage(), Role::Plain),
                Step::new("merge staged upserts", sql::merge_staged_upserts(target, shape), Role::Plain),
            ],
            // Export changes are refused for full loads (`pushdown_sql::changes_problem`).
            (Mode::Full, StagedFormat::Folded | StagedFormat::ExportChanges) => vec![
                delete_all(),
                Step::new(
                    format!("insert staged rows into {target}"),
                    sql::insert_staged_rows(target, shape),
                    Role::Plain,
                ),
            ],
            (Mode::Full, StagedFormat::ExportItems) => vec![
                delete_all(),
                Step::new(
                    format!("insert the export's items into {target}"),
                    sql::insert_all_stage_rows(target, shape),
                    Role::Plain,
                ),
            ],
        }
    }

    fn count_before_change(&self, load: &Load) -> Vec<Step> {
        let sql = reconcile_sql::count_before_change(load, load.live());
        vec![Step::new(reconcile::COUNT_BEFORE_LABEL, sql, Role::Plain)]
    }

    fn check_reconciled(&self, load: &Load) -> Vec<Step> {
        vec![
            Step::new(
                "read the reconciliation's numbers",
                reconcile_sql::select_counts(load),
                Role::ReconcileCounts,
            ),
            Step::new(reconcile::CHECK_LABEL, reconcile_sql::guard_reconciled(load), Role::GuardReconciled),
        ]
    }

    fn record_run(&self, load: &Load) -> Statement<Role> {
        let counted = pushdown_sql::folded_counts(load.request, &load.shape);
        Statement::new(runs::record_run(load.request, &load.counted_rows(), counted), Role::Plain)
    }
}

/// `deletes = "soft"` ([`soft_deletes`]): mark the deleted (or, full, the missing) rows, drop
/// the deletes from the stage, MERGE, clear the mark of the merged keys. The stage of a
/// pushdown full load holds the export's items only (no op column).
fn soft_change(load: &Load) -> Vec<Step> {
    let (target, shape, request) = (load.target.as_str(), &load.shape, load.request);
    let stage = crate::config::quote_identifier(sql::STAGE_TABLE);
    let with_op = request.staged.format != StagedFormat::ExportItems;
    let mut steps = match request.mode {
        Mode::Incremental => vec![
            Step::new(
                "mark keys staged as deletes deleted",
                soft_deletes::mark_staged_deletes(target, &stage, shape, request.watermark, &RedshiftTime),
                Role::Plain,
            ),
            Step::new("drop deletes from the stage", sql::drop_deletes_from_stage(), Role::Plain),
        ],
        Mode::Full => vec![Step::new(
            "mark rows missing from the export deleted",
            soft_deletes::mark_missing_rows(target, &stage, shape, request.watermark, &RedshiftTime),
            Role::Plain,
        )],
    };
    steps.push(Step::new("merge staged upserts", sql::merge_staged_upserts(target, shape), Role::Plain));
    steps.push(Step::new(
        "clear the deletion mark of upserted keys",
        soft_deletes::clear_upserted(target, &stage, shape, with_op),
        Role::Plain,
    ));
    steps
}

/// The COPY of the staged files, or of the export's data files in a pushdown load. The stage
/// step always writes at least one (maybe empty) part and an export has at least one data file,
/// so the manifest is never empty; a dry run, which stages nothing, shows the COPY it would run.
fn copy_step(request: &LoadRequest, shape: &TableShape, copy: &CopySettings) -> Step {
    let (table, columns, what) = match request.staged.format {
        StagedFormat::Folded => (sql::STAGE_TABLE, shape.staged_column_names(), "staged"),
        StagedFormat::ExportItems => {
            (sql::STAGE_TABLE, shape.column_names().map(str::to_owned).collect(), "export")
        }
        StagedFormat::ExportChanges => {
            (pushdown_sql::CHANGES_TABLE, request.staged.columns.clone(), "export change")
        }
    };
    let files = request.staged.files.len();
    let manifest_url = request.store.url_of(&request.staged.manifest_key);
    let jsonpaths_url = request.store.url_of(&request.staged.jsonpaths_key);
    let source = CopySource {
        manifest_url: &manifest_url,
        jsonpaths_url: &jsonpaths_url,
        iam_role: &copy.iam_role,
        region: copy.region_for(&request.table.name),
    };
    let label = match files {
        0 => format!("COPY the {what} files into stage"),
        1 => format!("COPY 1 {what} file into stage"),
        n => format!("COPY {n} {what} files into stage"),
    };
    let label = match request.staged.format {
        StagedFormat::Folded => label,
        StagedFormat::ExportItems => format!("{label} (pushdown: $.Item jsonpaths)"),
        StagedFormat::ExportChanges => format!("{label} (pushdown: Keys, NewImage jsonpaths)"),
    };
    Step::new(label, sql::copy_into(table, &columns, &source), Role::Copy)
}

/// Why a pushdown set cannot be loaded as `request` asks; `None` when it can (or is folded).
/// The pipeline stages export items only for full syncs of tables whose paths jsonpaths can
/// express; this re-checks both, so a hand-edited journal cannot misload.
fn pushdown_problem(request: &LoadRequest) -> Option<String> {
    if request.staged.format == StagedFormat::ExportChanges {
        return pushdown_sql::changes_problem(request);
    }
    if request.staged.format != StagedFormat::ExportItems {
        return None;
    }
    if request.mode != Mode::Full {
        return Some(format!(
            "the staged set of run {} holds an export's own items, which only a full load can apply",
            request.run_id
        ));
    }
    if let Some(column) = request.table.columns.iter().find(|c| c.ty == crate::config::ColumnType::Timestamp)
    {
        // Redshift ignores a TIMESTAMP input's offset, so pushdown and staged loads would
        // disagree (`--check` refuses this too; a journal written before that is caught here).
        return Some(format!(
            "column `{}` of table {} is `timestamp`, which a pushdown load would read without its UTC \
             offset: make it timestamptz in tables.toml, or set full_load = \"staged\"",
            column.name, request.table.name
        ));
    }
    item_paths::first_unreadable(&request.table).map(|problem| problem.to_string())
}

/// Why the request cannot be loaded into Redshift at all; `None` when it can. Checked before
/// anything is sent.
pub(super) fn unloadable(request: &LoadRequest, steps: &[Step]) -> Option<String> {
    let root = request.store.root_url();
    if !root.starts_with("s3://") {
        return Some(format!(
            "Redshift COPY reads from S3, but table {}'s store is {root}: set `bucket = \"s3://…\"` for it in tables.toml",
            request.table.name
        ));
    }
    if let Some(problem) = pushdown_problem(request) {
        return Some(problem);
    }
    if steps.len() > MAX_BATCH {
        return Some(format!(
            "the load needs {} statements, more than the Data API's {MAX_BATCH} per batch",
            steps.len()
        ));
    }
    if let Some(problem) = oversized_statement(request, steps) {
        return Some(problem);
    }
    let values = [
        ("table name", request.table.name.as_str()),
        ("run id", request.run_id.as_str()),
        ("staged manifest key", request.staged.manifest_key.as_str()),
        ("staged jsonpaths key", request.staged.jsonpaths_key.as_str()),
        ("store", root.as_str()),
    ];
    values.iter().find_map(|(what, value)| {
        sql::unsafe_literal(value).map(|problem| {
            format!(
                "the {what} `{}` {problem}, which cannot be written into Redshift SQL safely",
                value.escape_debug()
            )
        })
    })
}

/// The first statement over the Data API's size limit, named with its position, label and size.
fn oversized_statement(request: &LoadRequest, steps: &[Step]) -> Option<String> {
    let (index, step) = steps.iter().enumerate().find(|(_, step)| step.sql.len() > MAX_STATEMENT_BYTES)?;
    Some(format!(
        "statement {} ({}) of table {}'s load is {} bytes, more than the Data API's {MAX_STATEMENT_BYTES} \
         bytes (100 KB) per statement; map fewer or shorter-named columns for the table in tables.toml",
        index + 1,
        step.label,
        request.table.name,
        step.sql.len(),
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::contract::staged::StagedFile;
    use crate::store::LocalStore;
    use crate::warehouse::step::{render_steps as render, stage_two_files};
    use crate::warehouse::testkit;

    const ROLE: &str = "arn:aws:iam::123456789012:role/redshift-copy";

    /// A warehouse in eu-north-1: line_items' bucket is in eu-west-1, customers' in the
    /// warehouse's Region, orders' unknown (taken to be the warehouse's).
    fn copy_settings() -> CopySettings {
        let bucket_regions =
            [("line_items", "eu-west-1"), ("customers", "eu-north-1")].map(|(t, r)| (t.into(), r.into()));
        CopySettings {
            iam_role: ROLE.into(),
            warehouse_region: "eu-north-1".into(),
            bucket_regions: bucket_regions.into_iter().collect(),
            region_override: None,
        }
    }

    fn copy_of(request: &LoadRequest, copy: &CopySettings) -> String {
        steps(request, copy, RunsShape::Current).into_iter().find(|s| s.action == Role::Copy).unwrap().sql
    }

    #[test]
    fn soft_deletes_incremental_on_a_target_that_lacks_the_column() {
        let table = crate::config::TableConfig {
            deletes: crate::config::Deletes::Soft,
            ..testkit::customers_table()
        };
        let request = staged_request(table, Mode::Incremental, "run-10");
        let upgrades = TargetUpgrades { deleted_at: true, columns: Vec::new() };
        insta::assert_snapshot!(render(&steps_upgrading(
            &request,
            &copy_settings(),
            RunsShape::Current,
            &upgrades
        )));
    }

    /// A full load adds the columns tables.toml maps that the target lacks before it fills it;
    /// an incremental load never does (the run stops before, see `target_columns`).
    #[test]
    fn a_full_load_adds_the_columns_the_target_lacks() {
        let column = MissingColumn { name: "nickname".into(), add: "ALTER TABLE x ADD COLUMN y".into() };
        let upgrades = TargetUpgrades { deleted_at: false, columns: vec![column] };
        let added = |mode| {
            let request = staged_request(testkit::customers_table(), mode, "run-13");
            let steps = steps_upgrading(&request, &copy_settings(), RunsShape::Current, &upgrades);
            steps.iter().position(|s| s.sql == "ALTER TABLE x ADD COLUMN y")
        };
        let at = added(Mode::Full).expect("a full load adds the column");
        let request = staged_request(testkit::customers_table(), Mode::Full, "run-13");
        let steps = steps_upgrading(&request, &copy_settings(), RunsShape::Current, &upgrades);
        let insert = steps.iter().position(|s| s.label.starts_with("insert staged rows")).unwrap();
        assert!(at < insert, "the column is added before the rows are inserted");
        assert_eq!(steps[at].label, "add column nickname to \"customers\"");
        assert_eq!(added(Mode::Incremental), None);
    }

    /// `history_target` with soft deletes, a staged and a pushdown load: the history rows come
    /// from the stage (the pushdown's folded one) before the change.
    #[test]
    fn history_incremental() {
        let history = TargetTable { schema: Some("audit".into()), table: "customers_history".into() };
        let table = crate::config::TableConfig {
            deletes: crate::config::Deletes::Soft,
            history_target: Some(history),
            ..testkit::customers_table()
        };
        let request = staged_request(table.clone(), Mode::Incremental, "run-12");
        insta::assert_snapshot!(render(&steps(&request, &copy_settings(), RunsShape::Current)));
        let pushdown = steps(&changes_request(table, "run-13"), &copy_settings(), RunsShape::Current);
        let labels: Vec<&str> = pushdown.iter().map(|s| s.label.as_str()).collect();
        let folded = labels.iter().position(|l| l.starts_with("fold the changes")).unwrap();
        let appended = labels.iter().position(|l| l.starts_with("append the applied changes")).unwrap();
        let changed = labels.iter().position(|l| *l == "mark keys staged as deletes deleted").unwrap();
        assert!(folded < appended && appended < changed, "{labels:?}");
    }

    #[test]
    fn soft_deletes_full() {
        let table = crate::config::TableConfig {
            deletes: crate::config::Deletes::Soft,
            ..testkit::customers_table()
        };
        let request = staged_request(table, Mode::Full, "run-11");
        insta::assert_snapshot!(render(&steps(&request, &copy_settings(), RunsShape::Current)));
    }

    #[test]
    fn each_copy_names_its_buckets_region_only_when_it_is_not_the_warehouses() {
        let copy = copy_settings();
        let remote = staged_request(testkit::line_items_table(), Mode::Incremental, "r");
        assert!(copy_of(&remote, &copy).contains("\nREGION 'eu-west-1'\n"), "{}", copy_of(&remote, &copy));
        let local = staged_request(testkit::customers_table(), Mode::Full, "r");
        assert!(!copy_of(&local, &copy).contains("REGION"), "{}", copy_of(&local, &copy));
        let pushdown = pushdown_request(testkit::line_items_table(), "r");
        assert!(copy_of(&pushdown, &copy).contains("\nREGION 'eu-west-1'\n"));
        let overridden = CopySettings { region_override: Some("us-east-1".into()), ..copy };
        for request in [&remote, &local] {
            assert!(copy_of(request, &overridden).contains("\nREGION 'us-east-1'\n"));
        }
    }

    /// A store whose URLs are S3 URLs, as the Redshift adapter requires.
    #[derive(Debug)]
    struct S3Urls(LocalStore);

    #[async_trait::async_trait]
    impl crate::store::ObjectStore for S3Urls {
        fn root_url(&self) -> String {
            "s3://acme-exports/dynashift/".into()
        }
        fn url_of(&self, key: &str) -> String {
            format!("s3://acme-exports/dynashift/{key}")
        }
        async fn get(&self, key: &str) -> Result<Vec<u8>, crate::store::StoreError> {
            self.0.get(key).await
        }
        async fn open(&self, key: &str) -> Result<crate::store::ObjectReader, crate::store::StoreError> {
            self.0.open(key).await
        }
        async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), crate::store::StoreError> {
            self.0.put(key, bytes).await
        }
        async fn put_file(&self, key: &str, file: &std::path::Path) -> Result<(), crate::store::StoreError> {
            self.0.put_file(key, file).await
        }
        async fn create_new(&self, key: &str, bytes: Vec<u8>) -> Result<(), crate::store::StoreError> {
            self.0.create_new(key, bytes).await
        }
        async fn list(
            &self,
            prefix: &str,
        ) -> Result<Vec<crate::store::ObjectMeta>, crate::store::StoreError> {
            self.0.list(prefix).await
        }
        async fn delete(&self, key: &str) -> Result<(), crate::store::StoreError> {
            self.0.delete(key).await
        }
        async fn head(
            &self,
            key: &str,
        ) -> Result<Option<crate::store::ObjectMeta>, crate::store::StoreError> {
            self.0.head(key).await
        }
    }

    fn staged_request(table: crate::config::TableConfig, mode: Mode, run_id: &str) -> LoadRequest {
        let mut request = testkit::request_for(table, mode, run_id);
        request.store = Arc::new(S3Urls(LocalStore::new(std::env::temp_dir())));
        request.staged.manifest_key = format!("{}/staged/{run_id}/copy.manifest", request.table.name);
        request.staged.jsonpaths_key = format!("{}/staged/{run_id}/jsonpaths.json", request.table.name);
        stage_two_files(&mut request, run_id);
        request
    }

    /// A pushdown full load: the stage lists an export's own data files.
    /// Its `timestamp` columns are `timestamptz`, as `--check` requires of a pushdown table.
    fn pushdown_request(table: crate::config::TableConfig, run_id: &str) -> LoadRequest {
        let mut table = table;
        table.full_load = crate::config::FullLoad::Pushdown;
        for column in table.columns.iter_mut().filter(|c| c.ty == crate::config::ColumnType::Timestamp) {
            column.ty = crate::config::ColumnType::TimestampTz;
        }
        let mut request = staged_request(table, Mode::Full, run_id);
        request.staged.format = StagedFormat::ExportItems;
        request.staged.columns = crate::config::target_columns(&request.table);
        request.staged.files = (0..3)
            .map(|i| StagedFile {
                key: format!("{}/exports/AWSDynamoDB/01-e/data/f{i}.json.gz", request.table.name),
                rows: 40,
                bytes: 0,
            })
            .collect();
        (request.staged.upserts, request.staged.deletes) = (120, 0);
        request
    }

    /// An incremental pushdown load: the stage lists two windows' own files in the shared
    /// `data/` folder, 120 change lines in all.
    fn changes_request(table: crate::config::TableConfig, run_id: &str) -> LoadRequest {
        let mut table = table;
        table.incremental_load = crate::config::IncrementalLoad::Pushdown;
        let mut request = staged_request(table, Mode::Incremental, run_id);
        request.staged.format = StagedFormat::ExportChanges;
        request.staged.columns = crate::config::change_columns(&request.table);
        request.staged.files = ["w1-00", "w2-00"]
            .map(|f| StagedFile {
                key: format!("{}/exports/AWSDynamoDB/data/{f}.json.gz", request.table.name),
                rows: 60,
                bytes: 0,
            })
            .to_vec();
        (request.staged.upserts, request.staged.deletes) = (120, 0);
        request
    }

    #[test]
    fn incremental_pushdown_folds_the_windows_in_sql_then_applies_them_as_staged() {
        let request = changes_request(testkit::line_items_table(), "run-14");
        let steps = steps(&request, &copy_settings(), RunsShape::Current);
        assert_eq!(unloadable(&request, &steps), None);
        insta::assert_snapshot!(render(&steps));
        let mut full = changes_request(testkit::customers_table(), "r");
        full.mode = Mode::Full;
        let problem = unloadable(&full, &super::steps(&full, &copy_settings(), RunsShape::Current)).unwrap();
        assert!(problem.contains("only an incremental load can apply"), "{problem}");
    }

    fn all_plans() -> Vec<(&'static str, Vec<Step>)> {
        vec![
            (
                "incremental pushdown",
                steps(
                    &changes_request(testkit::orders_table(), "run-15"),
                    &copy_settings(),
                    RunsShape::Current,
                ),
            ),
            (
                "incremental",
                steps(
                    &staged_request(testkit::line_items_table(), Mode::Incremental, "run-7"),
                    &copy_settings(),
                    RunsShape::Current,
                ),
            ),
            (
                "full",
                steps(
                    &staged_request(testkit::customers_table(), Mode::Full, "run-8"),
                    &copy_settings(),
                    RunsShape::Current,
                ),
            ),
            (
                "super",
                steps(
                    &staged_request(testkit::orders_table(), Mode::Incremental, "run-9"),
                    &copy_settings(),
                    RunsShape::Current,
                ),
            ),
            (
                "pushdown",
                steps(
                    &pushdown_request(testkit::customers_table(), "run-10"),
                    &copy_settings(),
                    RunsShape::Current,
                ),
            ),
            (
                "pushdown super",
                steps(
                    &pushdown_request(testkit::orders_table(), "run-11"),
                    &copy_settings(),
                    RunsShape::Current,
                ),
            ),
            (
                "incremental upgrading the runs table",
                steps(
                    &staged_request(testkit::line_items_table(), Mode::Incremental, "run-13"),
                    &copy_settings(),
                    RunsShape::Old,
                ),
            ),
            (
                "pushdown in a schema",
                steps(
                    &pushdown_request(testkit::line_items_table(), "run-12"),
                    &copy_settings(),
                    RunsShape::Current,
                ),
            ),
        ]
    }

    #[test]
    fn incremental_with_a_composite_key_in_a_schema() {
        let request = staged_request(testkit::line_items_table(), Mode::Incremental, "run-7");
        insta::assert_snapshot!(render(&steps(&request, &copy_settings(), RunsShape::Current)));
    }

    #[test]
    fn an_old_runs_table_is_upgraded_after_the_lock_and_before_the_guards() {
        let request = staged_request(testkit::orders_table(), Mode::Incremental, "r");
        let current = steps(&request, &copy_settings(), RunsShape::Current);
        let old = steps(&request, &copy_settings(), RunsShape::Old);
        assert!(!current.iter().any(|s| s.label.starts_with("upgrade")));
        let upgrade: Vec<usize> =
            (0..old.len()).filter(|i| old[*i].label.starts_with("upgrade dynashift_runs")).collect();
        assert_eq!(upgrade.len(), 4);
        let lock = old.iter().position(|s| s.sql.starts_with("LOCK")).unwrap();
        let guard = old.iter().position(|s| s.action == Role::GuardRun).unwrap();
        assert_eq!(upgrade, (lock + 1..guard).collect::<Vec<_>>());
        assert_eq!(old.len(), current.len() + 4);
        insta::assert_snapshot!(render(&old[lock..=guard + 1]));
    }

    #[test]
    fn full_replace() {
        let request = staged_request(testkit::customers_table(), Mode::Full, "run-8");
        insta::assert_snapshot!(render(&steps(&request, &copy_settings(), RunsShape::Current)));
    }

    #[test]
    fn super_columns_and_the_whole_item_column() {
        let request = staged_request(testkit::orders_table(), Mode::Incremental, "run-9");
        insta::assert_snapshot!(render(&steps(&request, &copy_settings(), RunsShape::Current)));
    }

    #[test]
    fn pushdown_full_replace() {
        let request = pushdown_request(testkit::customers_table(), "run-10");
        insta::assert_snapshot!(render(&steps(&request, &copy_settings(), RunsShape::Current)));
    }

    #[test]
    fn a_pushdown_load_copies_the_target_columns_and_inserts_every_stage_row() {
        let request = pushdown_request(testkit::orders_table(), "run-11");
        let steps = steps(&request, &copy_settings(), RunsShape::Current);
        let copy = steps.iter().find(|s| s.action == Role::Copy).unwrap();
        assert_eq!(copy.label, "COPY 3 export files into stage (pushdown: $.Item jsonpaths)");
        assert!(
            copy.sql.starts_with("COPY \"dynashift_stage\" (\"customer_id\", \"order_id\","),
            "{}",
            copy.sql
        );
        assert!(copy.sql.contains("\"lines\", \"item\")\n"), "{}", copy.sql);
        assert!(!steps.iter().any(|s| s.sql.contains("dynashift_op")), "export items carry no op");
        let delete = steps.iter().position(|s| s.sql.starts_with("DELETE FROM \"orders\"")).unwrap();
        assert!(steps[delete + 1].sql.starts_with("INSERT INTO \"orders\""));
        assert!(
            steps.iter().any(|s| s.sql.contains("'full', '2024-05-01T12:00:00.000000Z', GETDATE(), 120, 0"))
        );
        assert_eq!(unloadable(&request, &steps), None);
    }

    #[test]
    fn a_pushdown_set_is_refused_for_an_incremental_load_or_an_unreadable_path() {
        let mut incremental = pushdown_request(testkit::customers_table(), "r");
        incremental.mode = Mode::Incremental;
        let problem =
            unloadable(&incremental, &steps(&incremental, &copy_settings(), RunsShape::Current)).unwrap();
        assert!(problem.contains("only a full load can apply"), "{problem}");
        let mut table = testkit::customers_table();
        table.columns[1].path = crate::config::AttrPath::parse("names[0]").unwrap();
        let indexed = pushdown_request(table, "r");
        let problem = unloadable(&indexed, &steps(&indexed, &copy_settings(), RunsShape::Current)).unwrap();
        assert!(problem.starts_with("column `name` reads `names[0]`"), "{problem}");
        let mut naive = pushdown_request(testkit::orders_table(), "r");
        let mut table = crate::config::TableConfig::clone(&naive.table);
        table.columns.iter_mut().find(|c| c.name == "placed_at").unwrap().ty =
            crate::config::ColumnType::Timestamp;
        naive.table = table.into();
        let problem = unloadable(&naive, &steps(&naive, &copy_settings(), RunsShape::Current)).unwrap();
        assert!(problem.starts_with("column `placed_at` of table orders is `timestamp`"), "{problem}");
    }

    /// The SQL's words, upper-cased, outside quoted identifiers and literals.
    fn keywords(sql: &str) -> Vec<String> {
        let mut words = Vec::new();
        let mut quote: Option<char> = None;
        let mut word = String::new();
        for c in sql.chars() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c.is_alphanumeric() || c == '_' => word.push(c.to_ascii_uppercase()),
                None => words.push(std::mem::take(&mut word)),
            }
        }
        words.push(word);
        words.retain(|w| !w.is_empty());
        words
    }

    #[test]
    fn no_plan_truncates_or_exceeds_a_batch() {
        for (name, steps) in all_plans() {
            assert!(steps.len() <= MAX_BATCH, "{name}: {} statements", steps.len());
            for step in &steps {
                let words = keywords(&step.sql);
                assert!(!words.iter().any(|w| w == "TRUNCATE"), "{name}: TRUNCATE commits: {}", step.sql);
                let first = words.first().map(String::as_str);
                assert!(
                    !matches!(first, Some("BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK")),
                    "{name}: the Data API frames the batch's transaction: {}",
                    step.sql
                );
            }
        }
    }

    #[test]
    fn no_merge_has_a_conditional_when_clause_and_each_clause_appears_once() {
        for (name, steps) in all_plans() {
            for step in steps.iter().filter(|s| s.sql.starts_with("MERGE")) {
                let when: Vec<&str> =
                    step.sql.lines().filter(|l| l.trim_start().starts_with("WHEN")).collect();
                assert_eq!(when.len(), 2, "{name}: {}", step.sql);
                assert!(when.iter().all(|l| !l.contains(" AND ")), "{name}: {}", step.sql);
                assert!(
                    step.sql.contains("WHEN MATCHED THEN UPDATE")
                        && step.sql.contains("WHEN NOT MATCHED THEN INSERT")
                );
            }
        }
    }

    #[test]
    fn every_configured_identifier_is_quoted_and_no_credential_appears() {
        let names = [
            "LINE_ITEMS",
            "SALES",
            "CUSTOMERS",
            "ORDERS",
            "CUSTOMER_ID",
            "ORDER_ID",
            "ITEM",
            "DYNASHIFT_STAGE",
            "DYNASHIFT_RUNS",
            "LINE_NO",
            "SKU",
            "NAME",
            "VISITS",
        ];
        for (name, steps) in all_plans() {
            for step in &steps {
                let words = keywords(&step.sql);
                for identifier in names {
                    assert!(
                        !words.iter().any(|w| w == identifier),
                        "{name}: {identifier} unquoted in {}",
                        step.sql
                    );
                }
                let upper = step.sql.to_uppercase();
                for credential in
                    ["CREDENTIALS", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "SESSION_TOKEN", "AKIA", "PASSWORD"]
                {
                    assert!(!upper.contains(credential), "{name}: {credential} in {}", step.sql);
                }
            }
        }
    }

    #[test]
    fn the_keyword_scan_sees_unquoted_names_only() {
        assert_eq!(keywords("DELETE FROM \"orders\" WHERE x = 'commit'"), ["DELETE", "FROM", "WHERE", "X"]);
        assert_eq!(keywords("SELECT committed_at"), ["SELECT", "COMMITTED_AT"]);
    }

    #[test]
    fn the_watermark_guard_exists_only_for_incremental_loads_and_comes_before_any_change() {
        let incremental = steps(
            &staged_request(testkit::orders_table(), Mode::Incremental, "r"),
            &copy_settings(),
            RunsShape::Current,
        );
        let guard = incremental.iter().position(|s| s.action == Role::GuardWatermark).unwrap();
        let first_change = incremental.iter().position(|s| s.sql.starts_with("DELETE")).unwrap();
        assert!(guard < first_change);
        let full = steps(
            &staged_request(testkit::orders_table(), Mode::Full, "r"),
            &copy_settings(),
            RunsShape::Current,
        );
        assert!(!full.iter().any(|s| s.action == Role::GuardWatermark));
        assert!(full.iter().any(|s| s.action == Role::GuardRun));
        assert_eq!(full.last().map(|s| s.action), Some(Role::GuardReconciled));
    }

    #[test]
    fn the_runs_table_is_locked_after_the_copy_and_read_only_after_the_lock() {
        for (name, steps) in all_plans() {
            let position = |pred: &dyn Fn(&Step) -> bool| steps.iter().position(pred).unwrap();
            let copy = position(&|s| s.action == Role::Copy);
            let lock = position(&|s| s.sql.starts_with("LOCK"));
            let guard = position(&|s| s.action == Role::GuardRun);
            let first_change = position(&|s| {
                s.sql.starts_with("DELETE") || s.sql.starts_with("INSERT INTO \"dynashift_runs\"")
            });
            assert!(copy < lock && lock < guard && guard < first_change, "{name}: {copy} {lock} {guard}");
            if let Some(watermark) = steps.iter().position(|s| s.action == Role::GuardWatermark) {
                assert!(lock < watermark && watermark < first_change, "{name}");
            }
        }
    }

    #[test]
    fn a_statement_over_100_kb_is_refused_naming_it_and_its_size() {
        let mut table = testkit::customers_table();
        let template = table.columns.last().unwrap().clone();
        for i in 0..900 {
            let mut column = template.clone();
            column.name = format!("a_rather_long_column_name_number_{i:04}_padding_padding_padding");
            column.path = crate::config::AttrPath::parse(&format!("attribute_{i}")).unwrap();
            table.columns.push(column);
        }
        let request = staged_request(table, Mode::Incremental, "r");
        let steps = steps(&request, &copy_settings(), RunsShape::Current);
        let problem = unloadable(&request, &steps).expect("refused");
        let (index, merge) =
            steps.iter().enumerate().find(|(_, s)| s.label == "merge staged upserts").unwrap();
        assert!(merge.sql.len() > MAX_STATEMENT_BYTES, "the test needs a statement over the limit");
        let first_too_big = steps.iter().position(|s| s.sql.len() > MAX_STATEMENT_BYTES).unwrap();
        assert!(first_too_big <= index);
        let named = format!("statement {} ({})", first_too_big + 1, steps[first_too_big].label);
        assert!(problem.starts_with(&named), "{problem}");
        assert!(problem.contains(&format!("is {} bytes", steps[first_too_big].sql.len())), "{problem}");
        assert!(problem.contains("table customers"), "{problem}");
    }

    #[test]
    fn a_dry_run_which_stages_nothing_still_shows_the_copy() {
        let mut request = staged_request(testkit::orders_table(), Mode::Incremental, "r");
        request.staged.files.clear();
        let steps = steps(&request, &copy_settings(), RunsShape::Current);
        let copy = steps.iter().find(|s| s.action == Role::Copy).expect("a COPY step");
        assert_eq!(copy.label, "COPY the staged files into stage");
    }

    #[test]
    fn a_local_store_or_an_unsafe_value_is_refused_before_anything_runs() {
        let local = testkit::request_for(testkit::orders_table(), Mode::Full, "r");
        let problem = unloadable(&local, &steps(&local, &copy_settings(), RunsShape::Current)).unwrap();
        assert!(problem.contains("Redshift COPY reads from S3"), "{problem}");
        let mut odd = staged_request(testkit::orders_table(), Mode::Full, r"run\1");
        odd.run_id = r"run\1".into();
        let problem = unloadable(&odd, &steps(&odd, &copy_settings(), RunsShape::Current)).unwrap();
        assert!(problem.contains("holds a backslash"), "{problem}");
        let fine = staged_request(testkit::orders_table(), Mode::Full, "r");
        assert_eq!(unloadable(&fine, &steps(&fine, &copy_settings(), RunsShape::Current)), None);
    }
}
