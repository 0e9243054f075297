//! The one frame every warehouse's load plan fills in. [`plan`] owns the order of the phases and
//! the labels they share; a warehouse's [`Dialect`] writes each phase's SQL and says, through its
//! own action type, how its executor treats a statement.
//!
//! The frame, in order:
//! begin (and the locks held from it) → create `dynashift_runs` if missing → bring it up to date →
//! create the schema if missing → [guards] → create the target if missing → create the stage →
//! COPY → [guards] → (incremental: count the target and the staged keys; with a history table:
//! create it if missing, check it, append the changes about to be applied) → change the target
//! (incremental: apply the staged changes; full: replace the rows) → record the run (counting the
//! target's rows) → check the reconciliation → drop the stage → commit.
//!
//! The reconciliation ([`super::reconcile`]) fails the load, inside its transaction, when the
//! target's row count after the change is not the one the change implies. It reads the count the
//! run's record made, so the target is scanned once after the change, not once per use.
//!
//! The guards — the checks that read `dynashift_runs`, ending with the committed-watermark check of
//! an incremental load — stand at one of the two places marked, as the dialect's
//! [`Dialect::GUARDS`] says. A warehouse that wraps the whole plan in a transaction itself
//! (Redshift's one Data API batch) has no begin and no commit; a phase a warehouse does not need
//! (a schema, a stage it must drop) is a hook that returns nothing. Every hook reads the load
//! through one [`Load`]: the request, the table's shape and the target as the dialect quotes it.

use crate::config::{Mode, TargetTable, quote_identifier};

use super::reconcile::Check;
use super::shape::TableShape;
use super::step::Step;
use super::{LoadRequest, RUNS_TABLE};

/// The load being planned, as every hook reads it.
pub struct Load<'a> {
    pub request: &'a LoadRequest,
    pub shape: TableShape,
    /// The target as the warehouse's SQL names it (quoted).
    pub target: String,
}

impl Load<'_> {
    /// What the reconciliation of a full load expects: one row per staged upsert. An
    /// incremental load's expectation is counted in SQL before its change.
    pub fn reconcile_check(&self) -> Check {
        reconcile_check_of(self.request)
    }

    /// The condition on a target row aliased `t` that it counts as present: `None` (every row)
    /// unless the table deletes softly.
    pub fn live(&self) -> Option<&'static str> {
        self.shape.soft_deletes.then_some(super::soft_deletes::LIVE)
    }

    /// Whether the target keeps deleted rows (`deletes = "soft"`).
    pub fn soft_deletes(&self) -> bool {
        self.shape.soft_deletes
    }

    /// The counts before the change as a warehouse that reads them back in its executor runs
    /// them (SQLite, PostgreSQL): one statement over the target and `stage`, treated as `action`.
    pub fn count_before_step<A>(&self, stage: &str, action: A) -> Vec<Step<A>> {
        let sql = super::reconcile::count_before(&self.target, stage, &self.shape, self.live());
        vec![Step::new(super::reconcile::COUNT_BEFORE_LABEL, sql, action)]
    }

    /// The reconciliation as a warehouse that checks it in its executor runs it (SQLite,
    /// PostgreSQL): the target's rows as the run's record counted them, compared as `action` of
    /// this load's check says. `quote` writes the run id as the dialect's string literal.
    pub fn check_step<A>(
        &self,
        quote: fn(&str) -> String,
        action: impl FnOnce(super::reconcile::Check) -> A,
    ) -> Vec<Step<A>> {
        let sql = self.recorded_rows(quote);
        vec![Step::new(super::reconcile::CHECK_LABEL, sql, action(self.reconcile_check()))]
    }

    /// The statement reading back the target's rows this load's record counted.
    pub fn recorded_rows(&self, quote: fn(&str) -> String) -> String {
        super::reconcile::recorded_rows(&quote_identifier(RUNS_TABLE), &quote(&self.request.run_id))
    }

    /// The schema `history` is in when the frame did not create it for the target already:
    /// the one the history table's own steps must create if missing.
    pub fn history_schema<'h>(&self, history: &'h TargetTable) -> Option<&'h str> {
        history.schema.as_deref().filter(|_| history.schema != self.request.table.target.schema)
    }

    /// What a load's record counts as the target's rows: the FROM of its `count(*)` (live rows
    /// only when the table deletes softly, like the reconciliation).
    pub fn counted_rows(&self) -> String {
        super::reconcile::counted_rows(&self.target, self.live())
    }
}

/// What the reconciliation of `request` compares the target's rows after the change with.
pub fn reconcile_check_of(request: &LoadRequest) -> Check {
    match request.mode {
        Mode::Full => Check::Rows(request.staged.upserts),
        Mode::Incremental => Check::CountedBefore,
    }
}

/// A statement whose label the frame writes: its SQL and how the executor treats it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<A> {
    pub sql: String,
    pub action: A,
}

impl<A> Statement<A> {
    pub fn new(sql: impl Into<String>, action: A) -> Statement<A> {
        Statement { sql: sql.into(), action }
    }

    fn labelled(self, label: impl Into<String>) -> Step<A> {
        Step::new(label, self.sql, self.action)
    }
}

/// The transaction a warehouse opens and commits around the plan itself.
pub struct Transaction<A> {
    pub begin: Statement<A>,
    /// Taken right after the begin and held to the commit (PostgreSQL: the table's load lock).
    pub locks: Vec<Step<A>>,
    pub commit: Statement<A>,
}

/// Where the guards stand in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardPlacement {
    /// Before the target is created: the transaction holds its locks from the begin, so the
    /// guards see the committed state from there on.
    BeforeTarget,
    /// After the COPY: the guards' own lock is taken late, so a long COPY into the load's private
    /// stage does not hold up other loads' reads of `dynashift_runs` (Redshift).
    AfterCopy,
}

/// How one warehouse writes the phases of [`plan`]. Hooks with a default are phases only some
/// warehouses have.
pub trait Dialect {
    /// How the warehouse's executor treats a statement (each warehouse has its own).
    type Action;

    /// Where the guards stand.
    const GUARDS: GuardPlacement;

    /// The target as this warehouse's SQL names it (quoted).
    fn quoted_target(&self, target: &TargetTable) -> String;

    /// The transaction around the plan; `None` where the warehouse wraps the statements in one
    /// itself.
    fn transaction(&self, load: &Load) -> Option<Transaction<Self::Action>>;

    /// `CREATE TABLE dynashift_runs IF NOT EXISTS`, as the warehouse writes it.
    fn create_runs_table(&self, load: &Load) -> Statement<Self::Action>;

    /// What brings a `dynashift_runs` written by an older version up to date, right after it is
    /// created; empty where that must wait for a lock taken later (Redshift's guards do it).
    fn upgrade_runs_table(&self, _load: &Load) -> Vec<Step<Self::Action>> {
        Vec::new()
    }

    /// Creates the target's `schema` if missing; `None` where the warehouse has no schemas.
    fn create_schema(&self, _load: &Load, _schema: &str) -> Option<Statement<Self::Action>> {
        None
    }

    /// The guards before the watermark check: the lock they need and the checks of every mode.
    fn guards(&self, _load: &Load) -> Vec<Step<Self::Action>> {
        Vec::new()
    }

    /// Fails unless the table's committed watermark is the one an incremental load continues
    /// from; the frame runs it for incremental loads only (a full load starts over).
    fn check_watermark(&self, load: &Load) -> Statement<Self::Action>;

    /// Creates the target if missing; `None` when the load's mode builds it another way.
    fn create_target(&self, load: &Load) -> Option<Statement<Self::Action>>;

    /// Brings an existing target up to what the table's settings need (a soft-deleting target
    /// created before: its `dynashift_deleted_at`), right after it is created if missing.
    fn upgrade_target(&self, _load: &Load) -> Vec<Step<Self::Action>> {
        Vec::new()
    }

    /// Creates the stage the COPY fills.
    fn create_stage(&self, load: &Load) -> Statement<Self::Action>;

    /// The COPY into the stage (labelled by the warehouse: what it reads differs).
    fn copy(&self, load: &Load) -> Step<Self::Action>;

    /// Turns what the COPY loaded into the staged rows, where the warehouse does that itself
    /// (Redshift's incremental pushdown folds change lines in SQL); none by default.
    fn fold_stage(&self, _load: &Load) -> Vec<Step<Self::Action>> {
        Vec::new()
    }

    /// Appends the changes an incremental load is about to apply to the table's history table
    /// (`history_target`, see [`super::history`]): create it (and its schema) if missing, check
    /// its columns, insert. Right before the change, so "applied" is judged against the target
    /// as it was; the frame runs it only for incremental loads of a table with a history table
    /// (a full load appends nothing). No default: a warehouse that ignored it would lose history.
    fn append_history(&self, load: &Load, history: &TargetTable) -> Vec<Step<Self::Action>>;

    /// Changes the target as the load's mode (and staged format) asks: apply the staged changes,
    /// or replace the target's rows. One hook, so each variant is one match arm.
    fn change_target(&self, load: &Load) -> Vec<Step<Self::Action>>;

    /// Counts, right before an incremental load's change, what its reconciliation needs (the
    /// target's rows, the staged new keys and the staged deletes present); the frame runs it for
    /// incremental loads only. Labelled by the dialect: Redshift keeps the counts in a table.
    fn count_before_change(&self, load: &Load) -> Vec<Step<Self::Action>>;

    /// Records the run in `dynashift_runs`, with the target's rows after the change counted
    /// over [`Load::counted_rows`].
    fn record_run(&self, load: &Load) -> Statement<Self::Action>;

    /// Fails the load unless the target's rows after the change, as the run's record counted
    /// them, are what [`Load::reconcile_check`] says (see [`super::reconcile`]). The load reports
    /// its `reconciled` counts from here.
    fn check_reconciled(&self, load: &Load) -> Vec<Step<Self::Action>>;

    /// Drops the stage; `None` where the warehouse drops it with the transaction.
    fn drop_stage(&self, _load: &Load) -> Option<Statement<Self::Action>> {
        None
    }
}

/// Every statement of the load `request`, as `dialect` writes it, in execution order.
pub fn plan<D: Dialect>(dialect: &D, request: &LoadRequest) -> Vec<Step<D::Action>> {
    let load = &Load {
        request,
        shape: TableShape::of(&request.table),
        target: dialect.quoted_target(&request.table.target),
    };
    let target = load.target.as_str();
    let mut steps = Vec::new();
    let commit = dialect.transaction(load).map(|transaction| {
        steps.push(transaction.begin.labelled("begin transaction"));
        steps.extend(transaction.locks);
        transaction.commit
    });
    steps.push(dialect.create_runs_table(load).labelled(format!("create {RUNS_TABLE} if missing")));
    steps.extend(dialect.upgrade_runs_table(load));
    if let Some(schema) = &request.table.target.schema
        && let Some(create) = dialect.create_schema(load, schema)
    {
        steps.push(create.labelled(format!("create schema {} if missing", quote_identifier(schema))));
    }
    if D::GUARDS == GuardPlacement::BeforeTarget {
        steps.extend(guards(dialect, load));
    }
    if let Some(create) = dialect.create_target(load) {
        steps.push(create.labelled(format!("create {target} if missing")));
    }
    steps.extend(dialect.upgrade_target(load));
    steps.push(dialect.create_stage(load).labelled("create stage table"));
    steps.push(dialect.copy(load));
    steps.extend(dialect.fold_stage(load));
    if D::GUARDS == GuardPlacement::AfterCopy {
        steps.extend(guards(dialect, load));
    }
    if request.mode == Mode::Incremental {
        steps.extend(dialect.count_before_change(load));
        if let Some(history) = &request.table.history_target {
            steps.extend(dialect.append_history(load, history));
        }
    }
    steps.extend(dialect.change_target(load));
    steps.push(dialect.record_run(load).labelled(format!("record run in {RUNS_TABLE}")));
    steps.extend(dialect.check_reconciled(load));
    steps.extend(dialect.drop_stage(load).map(|drop| drop.labelled("drop stage table")));
    steps.extend(commit.map(|commit| commit.labelled("commit")));
    steps
}

/// The dialect's guards, then the watermark check of an incremental load.
fn guards<D: Dialect>(dialect: &D, load: &Load) -> Vec<Step<D::Action>> {
    let mut steps = dialect.guards(load);
    if load.request.mode == Mode::Incremental {
        steps.push(dialect.check_watermark(load).labelled("check the committed watermark"));
    }
    steps
}

/// "COPY 2 staged files into stage": the COPY label of a warehouse that reads the staged files.
pub fn copy_staged_files_label(files: usize) -> String {
    let noun = if files == 1 { "file" } else { "files" };
    format!("COPY {files} staged {noun} into stage")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    /// A dialect with every phase, whose SQL names the phase: the frame's order is readable in
    /// the SQL of the plan it builds.
    struct Toy<const AFTER_COPY: bool> {
        transaction: bool,
    }

    fn statement(sql: &str) -> Statement<()> {
        Statement::new(sql, ())
    }

    fn step(sql: &str) -> Step<()> {
        Step::new(format!("the {sql}"), sql, ())
    }

    impl<const AFTER_COPY: bool> Dialect for Toy<AFTER_COPY> {
        type Action = ();

        const GUARDS: GuardPlacement =
            if AFTER_COPY { GuardPlacement::AfterCopy } else { GuardPlacement::BeforeTarget };

        fn quoted_target(&self, target: &TargetTable) -> String {
            format!("<{}>", target.table)
        }

        fn transaction(&self, _load: &Load) -> Option<Transaction<()>> {
            self.transaction.then(|| Transaction {
                begin: statement("BEGIN"),
                locks: vec![step("LOCK")],
                commit: statement("COMMIT"),
            })
        }

        fn create_runs_table(&self, _load: &Load) -> Statement<()> {
            statement("CREATE RUNS")
        }

        fn upgrade_runs_table(&self, _load: &Load) -> Vec<Step<()>> {
            vec![step("UPGRADE RUNS")]
        }

        fn create_schema(&self, _load: &Load, schema: &str) -> Option<Statement<()>> {
            Some(statement(&format!("CREATE SCHEMA {schema}")))
        }

        fn guards(&self, _load: &Load) -> Vec<Step<()>> {
            vec![step("GUARD RUN")]
        }

        fn check_watermark(&self, _load: &Load) -> Statement<()> {
            statement("GUARD WATERMARK")
        }

        fn create_target(&self, load: &Load) -> Option<Statement<()>> {
            Some(statement(&format!("CREATE {}", load.target)))
        }

        fn create_stage(&self, _load: &Load) -> Statement<()> {
            statement("CREATE STAGE")
        }

        fn copy(&self, _load: &Load) -> Step<()> {
            step("COPY")
        }

        fn append_history(&self, _load: &Load, history: &TargetTable) -> Vec<Step<()>> {
            vec![step(&format!("HISTORY {}", history.table))]
        }

        fn change_target(&self, load: &Load) -> Vec<Step<()>> {
            vec![step(&format!("CHANGE {:?}", load.request.mode))]
        }

        fn count_before_change(&self, _load: &Load) -> Vec<Step<()>> {
            vec![step("COUNT BEFORE")]
        }

        fn check_reconciled(&self, _load: &Load) -> Vec<Step<()>> {
            vec![step("CHECK COUNT")]
        }

        fn record_run(&self, _load: &Load) -> Statement<()> {
            statement("RECORD")
        }

        fn drop_stage(&self, _load: &Load) -> Option<Statement<()>> {
            Some(statement("DROP STAGE"))
        }
    }

    /// The SQL of `dialect`'s plan for a load of line_items (a table in the schema `sales`).
    fn sql<D: Dialect>(dialect: &D, mode: Mode) -> Vec<String> {
        let request = testkit::request_for(testkit::line_items_table(), mode, "r");
        plan(dialect, &request).into_iter().map(|step| step.sql).collect()
    }

    #[test]
    fn the_frame_orders_every_phase_and_labels_the_shared_ones() {
        let request = testkit::request_for(testkit::line_items_table(), Mode::Incremental, "r");
        let steps = plan(&Toy::<false> { transaction: true }, &request);
        let lines: Vec<String> = steps.iter().map(|s| format!("{} | {}", s.sql, s.label)).collect();
        assert_eq!(
            lines,
            [
                "BEGIN | begin transaction",
                "LOCK | the LOCK",
                "CREATE RUNS | create dynashift_runs if missing",
                "UPGRADE RUNS | the UPGRADE RUNS",
                "CREATE SCHEMA sales | create schema \"sales\" if missing",
                "GUARD RUN | the GUARD RUN",
                "GUARD WATERMARK | check the committed watermark",
                "CREATE <line_items> | create <line_items> if missing",
                "CREATE STAGE | create stage table",
                "COPY | the COPY",
                "COUNT BEFORE | the COUNT BEFORE",
                "CHANGE Incremental | the CHANGE Incremental",
                "RECORD | record run in dynashift_runs",
                "CHECK COUNT | the CHECK COUNT",
                "DROP STAGE | drop stage table",
                "COMMIT | commit",
            ]
        );
    }

    #[test]
    fn guards_placed_after_the_copy_stand_between_the_copy_and_the_change() {
        let steps = sql(&Toy::<true> { transaction: true }, Mode::Incremental);
        let copy = steps.iter().position(|s| s == "COPY").unwrap();
        assert_eq!(
            steps[copy + 1..copy + 7],
            ["GUARD RUN", "GUARD WATERMARK", "COUNT BEFORE", "CHANGE Incremental", "RECORD", "CHECK COUNT"]
        );
        assert_eq!(steps.iter().filter(|s| s.starts_with("GUARD")).count(), 2, "{steps:?}");
    }

    #[test]
    fn a_full_load_changes_the_target_its_way_and_skips_the_watermark_check() {
        let before = sql(&Toy::<false> { transaction: true }, Mode::Full);
        let after = sql(&Toy::<true> { transaction: true }, Mode::Full);
        for steps in [before, after] {
            assert!(steps.contains(&"GUARD RUN".to_owned()), "{steps:?}");
            assert!(!steps.contains(&"GUARD WATERMARK".to_owned()), "{steps:?}");
            assert!(steps.contains(&"CHANGE Full".to_owned()), "{steps:?}");
            assert!(!steps.contains(&"COUNT BEFORE".to_owned()), "a full load starts over: {steps:?}");
            let change = steps.iter().position(|s| s == "CHANGE Full").unwrap();
            assert_eq!(steps[change + 1..change + 3], ["RECORD", "CHECK COUNT"], "{steps:?}");
        }
    }

    /// The history rows are judged against the target as it was: after the counts, before the
    /// change; a full load appends none.
    #[test]
    fn history_is_appended_right_before_an_incremental_change_and_never_by_a_full_load() {
        let mut table = testkit::line_items_table();
        table.history_target = Some(TargetTable { schema: None, table: "line_items_history".into() });
        let dialect = Toy::<true> { transaction: true };
        let incremental = testkit::request_for(table.clone(), Mode::Incremental, "r");
        let steps: Vec<String> = plan(&dialect, &incremental).into_iter().map(|s| s.sql).collect();
        let counted = steps.iter().position(|s| s == "COUNT BEFORE").unwrap();
        assert_eq!(steps[counted + 1..counted + 3], ["HISTORY line_items_history", "CHANGE Incremental"]);
        let full = testkit::request_for(table, Mode::Full, "r");
        assert!(!plan(&dialect, &full).iter().any(|s| s.sql.starts_with("HISTORY")));
        let without = sql(&dialect, Mode::Incremental);
        assert!(!without.iter().any(|s| s.starts_with("HISTORY")), "{without:?}");
    }

    #[test]
    fn a_warehouse_that_wraps_the_plan_itself_gets_no_begin_lock_or_commit() {
        let steps = sql(&Toy::<true> { transaction: false }, Mode::Incremental);
        assert_eq!(steps.first().map(String::as_str), Some("CREATE RUNS"));
        assert_eq!(steps.last().map(String::as_str), Some("DROP STAGE"));
        assert!(!steps.iter().any(|s| s == "BEGIN" || s == "LOCK" || s == "COMMIT"), "{steps:?}");
    }

    #[test]
    fn the_schema_phase_exists_only_for_a_schema_qualified_target() {
        let request = testkit::request_for(testkit::customers_table(), Mode::Full, "r");
        let steps = plan(&Toy::<false> { transaction: true }, &request);
        assert!(!steps.iter().any(|s| s.sql.starts_with("CREATE SCHEMA")));
    }

    #[test]
    fn the_copy_label_counts_the_staged_files() {
        assert_eq!(copy_staged_files_label(1), "COPY 1 staged file into stage");
        assert_eq!(copy_staged_files_label(0), "COPY 0 staged files into stage");
        assert_eq!(copy_staged_files_label(2), "COPY 2 staged files into stage");
    }
}
