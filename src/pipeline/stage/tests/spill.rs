//! A stage that spills its fold by key to disk ([`super::super::spill`]) stages exactly what the
//! in-memory fold stages: the same rows, the same counts, the same errors; and leaves no
//! partition file behind, however it ends.

use std::path::PathBuf;

use pretty_assertions::assert_eq;

use super::*;

/// A budget so small that every partition is split again before it is folded.
const TINY_BUDGET: u64 = 100;
/// A budget the changes pass, with partitions of a few hundred records.
const SMALL_BUDGET: u64 = 60_000;

fn spilling(budget: u64, change: impl FnOnce(&mut TableConfig)) -> TableConfig {
    table_with(|t| {
        t.stage_memory_bytes = budget;
        change(t);
    })
}

/// Deterministic pseudo-random numbers (an LCG: the test must not depend on a seed crate).
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % sides
    }
}

/// `windows` incremental exports of three files each over `keys` keys: each key changes in a
/// window with probability 2/3, as an update (or insert, or re-insert after a delete) or a delete;
/// one upsert in `bad_every` carries a total that does not fit `decimal(12,2)`.
async fn windows(
    store: &LocalStore,
    tag: &str,
    windows: u32,
    keys: u32,
    bad_every: u64,
) -> Vec<ExportDescription> {
    let mut dice = Dice(u64::from(windows) * 31 + u64::from(keys));
    let mut exports = Vec::new();
    for window in 0..windows {
        let mut files: [Vec<String>; 3] = Default::default();
        for key in 0..keys {
            if dice.roll(3) == 0 {
                continue;
            }
            let micros = i64::from(window) * 1_000_000 + i64::from(key);
            let pk = format!("o{key}");
            let line = match dice.roll(10) {
                0..=2 => delete_line(micros, &pk, key % 7, dice.roll(2) == 0),
                _ if bad_every > 0 && dice.roll(bad_every) == 0 => {
                    upsert_line(micros, &pk, key % 7, &order(&pk, key % 7, "1.005"))
                }
                _ => upsert_line(
                    micros,
                    &pk,
                    key % 7,
                    &order(&pk, key % 7, &format!("{window}.{}", key % 100)),
                ),
            };
            files[dice.roll(3) as usize].push(line);
        }
        let mut fixture = ExportFixture::incremental(&format!("{tag}-w{window}"));
        for file in &files {
            fixture = fixture.file(file);
        }
        exports.push(fixture.write(store).await);
    }
    exports
}

/// What a stage produced, for comparison: its sorted rows and its counts (timing and the spill
/// left out).
async fn outcome(store: &LocalStore, staged: &Staged) -> (Vec<Value>, [u64; 6]) {
    let c = staged.counts;
    let counts = [c.files_done, c.items_read, c.upserts, c.deletes, c.superseded, c.nulled_values];
    assert_eq!((staged.set.upserts, staged.set.deletes), (c.upserts, c.deletes));
    (rows(store, &staged.set).await, counts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spilled_fold_stages_what_the_in_memory_fold_stages() {
    let (_dir, store) = store_in();
    let exports = windows(&store, "same", 4, 300, 0).await;
    let in_memory = run_stage(shared(&store), orders_table(), exports.clone()).await.unwrap();
    assert_eq!(in_memory.counts.spill_partitions, 0, "the default budget holds 300 keys");
    let expected = outcome(&store, &in_memory).await;
    assert!(expected.1[4] > 100 && expected.1[3] > 30, "superseded and deleted: {:?}", expected.1);
    for budget in [TINY_BUDGET, SMALL_BUDGET] {
        let spilled = run_stage(shared(&store), spilling(budget, |_| ()), exports.clone()).await.unwrap();
        assert!(spilled.counts.spill_partitions >= 2, "budget {budget}: {:?}", spilled.counts);
        assert_eq!(outcome(&store, &spilled).await, expected, "budget {budget}");
        let finished = spilled.events.iter().find_map(|e| match e {
            EventKind::StagingFinished { counts, .. } => Some(counts.spill_partitions),
            _ => None,
        });
        assert_eq!(finished, Some(spilled.counts.spill_partitions), "the summary says it spilled");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_loaded_as_null_count_the_same_when_spilled() {
    let (_dir, store) = store_in();
    let exports = windows(&store, "nulls", 3, 200, 4).await;
    let lenient = |t: &mut TableConfig| t.on_type_error = TypeErrorPolicy::Null;
    let in_memory = run_stage(shared(&store), table_with(lenient), exports.clone()).await.unwrap();
    let expected = outcome(&store, &in_memory).await;
    assert!(expected.1[5] > 5, "values nulled: {:?}", expected.1);
    let spilled = run_stage(shared(&store), spilling(TINY_BUDGET, lenient), exports).await.unwrap();
    assert_eq!(outcome(&store, &spilled).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_error_fails_a_spilled_stage_only_when_its_change_wins() {
    let (_dir, store) = store_in();
    let bad = |micros| upsert_line(micros, "a", 1, &order("a", 1, "1.005"));
    let good = |micros| upsert_line(micros, "a", 1, &order("a", 1, "2"));
    let filler: Vec<String> = (0..20).map(|i| delete_line(i, &format!("f{i}"), 1, true)).collect();
    let older = ExportFixture::incremental("t1").file(&[bad(1)]).file(&filler).write(&store).await;
    let newer = ExportFixture::incremental("t2").file(&[good(2)]).write(&store).await;
    for table in [orders_table(), spilling(TINY_BUDGET, |_| ())] {
        let staged = run_stage(shared(&store), table, vec![older.clone(), newer.clone()]).await.unwrap();
        assert_eq!(staged.counts.superseded, 1);
    }
    let newest = ExportFixture::incremental("t3").file(&filler[..3]).file(&[bad(3)]).write(&store).await;
    let exports = vec![older, newer, newest];
    let in_memory = run_stage(shared(&store), orders_table(), exports.clone()).await.err().unwrap();
    let spilled = run_stage(shared(&store), spilling(TINY_BUDGET, |_| ()), exports).await.err().unwrap();
    assert!(
        matches!(&spilled, StageError::Type { line: 1, key, .. } if key.ends_with("t3-01.json.gz")),
        "{spilled}"
    );
    assert_eq!(spilled.to_string(), in_memory.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_twice_fails_a_spilled_stage_in_the_winning_export_only() {
    let (_dir, store) = store_in();
    let twice = ExportFixture::incremental("d1")
        .file(&[upsert_line(1, "a", 1, &order("a", 1, "1"))])
        .file(&[delete_line(2, "a", 1, true), delete_line(3, "b", 1, true)])
        .write(&store)
        .await;
    let error =
        run_stage(shared(&store), spilling(TINY_BUDGET, |_| ()), vec![twice.clone()]).await.err().unwrap();
    match &error {
        StageError::DuplicateKey { export_arn, key, file } => {
            assert!(export_arn.ends_with("/export/d1"), "{error}");
            assert!(key.contains(r#""a""#), "{error}");
            assert!(file.contains("d1-0"), "{error}");
        }
        other => panic!("{other}"),
    }
    let one_file = ExportFixture::incremental("d3")
        .file(&[
            delete_line(1, "z", 2, true),
            upsert_line(2, "y", 1, &order("y", 1, "1")),
            delete_line(3, "z", 2, false),
        ])
        .write(&store)
        .await;
    let in_memory = run_stage(shared(&store), orders_table(), vec![one_file.clone()]).await.err().unwrap();
    let spilled =
        run_stage(shared(&store), spilling(TINY_BUDGET, |_| ()), vec![one_file]).await.err().unwrap();
    assert_eq!(spilled.to_string(), in_memory.to_string());
    let newer = ExportFixture::incremental("d2")
        .file(&[upsert_line(4, "a", 1, &order("a", 1, "9"))])
        .write(&store)
        .await;
    let exports = vec![twice, newer];
    let in_memory = run_stage(shared(&store), orders_table(), exports.clone()).await.unwrap();
    let expected = outcome(&store, &in_memory).await;
    let spilled = run_stage(shared(&store), spilling(TINY_BUDGET, |_| ()), exports).await.unwrap();
    assert_eq!(expected.1[4], 2, "both of the older export's lines are superseded");
    assert_eq!(outcome(&store, &spilled).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_redshift_a_spilled_stage_still_refuses_blank_twins() {
    let (_dir, store) = store_in();
    let older = ExportFixture::incremental("r1")
        .file(&[upsert_line(1, "a", 1, &order("a", 1, "1")), upsert_line(2, "b ", 1, &order("b ", 1, "1"))])
        .write(&store)
        .await;
    let newer = ExportFixture::incremental("r2").file(&[delete_line(3, "a", 1, true)]).write(&store).await;
    let twin = ExportFixture::incremental("r3").file(&[delete_line(4, "b", 1, true)]).write(&store).await;
    for table in [orders_table(), spilling(TINY_BUDGET, |_| ())] {
        let staged = run_stage_as(
            "redshift",
            shared(&store),
            table.clone(),
            vec![older.clone(), newer.clone()],
            StageRules::REDSHIFT,
            CancellationToken::new(),
        )
        .await;
        assert_eq!(staged.unwrap().counts.superseded, 1, "a key in two windows is no twin");
        let error = stage_for_redshift(&store, table, vec![older.clone(), newer.clone(), twin.clone()]).await;
        assert!(matches!(error, StageError::BlankTwinKeys { .. }), "{error}");
    }
}

/// Stages `exports` as run `run` with a budget so tiny that everything spills.
async fn stage_tiny_as(
    run: &str,
    store: &LocalStore,
    exports: Vec<ExportDescription>,
) -> Result<Staged, StageError> {
    let table = spilling(TINY_BUDGET, |_| ());
    run_stage_as(run, shared(store), table, exports, StageRules::EXACT, CancellationToken::new()).await
}

/// The error of staging `exports` for Redshift (trailing blanks of keys ignored), which must fail.
async fn stage_for_redshift(
    store: &LocalStore,
    table: TableConfig,
    exports: Vec<ExportDescription>,
) -> StageError {
    let staged = run_stage_as(
        "redshift",
        shared(store),
        table,
        exports,
        StageRules::REDSHIFT,
        CancellationToken::new(),
    );
    staged.await.err().expect("staging for Redshift fails")
}

/// The spool folders of stages run as `run_id` that still exist.
fn spool_folders_of(run_id: &str) -> Vec<PathBuf> {
    let root = std::env::temp_dir().join("dynashift-spool");
    let prefix = format!("{run_id}-{}-", std::process::id());
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().contains(&prefix))
        .map(|entry| entry.path())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_files_are_gone_after_the_stage_also_on_error_and_cancel() {
    let (_dir, store) = store_in();
    let mut exports = windows(&store, "gone", 2, 300, 0).await;
    let tiny = || spilling(TINY_BUDGET, |_| ());
    let run = "spill-cleanup-ok";
    let staged = stage_tiny_as(run, &store, exports.clone());
    assert!(staged.await.unwrap().counts.spill_partitions > 0);
    assert_eq!(spool_folders_of(run), Vec::<PathBuf>::new());

    // Fails in the fold, once every partition file is written.
    let bad = upsert_line(9_000_000, "o1", 1, &order("o1", 1, "1.005"));
    exports.push(ExportFixture::incremental("gone-bad").file(&[bad]).write(&store).await);
    let run = "spill-cleanup-error";
    let failed = stage_tiny_as(run, &store, exports.clone());
    assert!(matches!(failed.await.err().unwrap(), StageError::Type { .. }));
    assert_eq!(spool_folders_of(run), Vec::<PathBuf>::new());

    let cancel = CancellationToken::new();
    let cancelling: Arc<dyn ObjectStore> =
        Arc::new(PrefixedStore::cancelling_on_open(store.clone(), cancel.clone()));
    let run = "spill-cleanup-cancel";
    let cancelled =
        run_stage_as(run, cancelling, tiny(), exports, StageRules::EXACT, cancel).await.err().unwrap();
    assert!(matches!(cancelled, StageError::Cancelled), "{cancelled}");
    assert_eq!(spool_folders_of(run), Vec::<PathBuf>::new());
}

/// A full export of `items` orders over three files, with `extra` lines appended to the last.
async fn full_export(store: &LocalStore, id: &str, items: u32, extra: &[String]) -> ExportDescription {
    let mut files: [Vec<String>; 3] = Default::default();
    for key in 0..items {
        let pk = format!("o{key}");
        files[(key % 3) as usize].push(full_line(&order(&pk, key % 7, &format!("{}.5", key % 100))));
    }
    files[2].extend_from_slice(extra);
    let mut fixture = ExportFixture::full(id);
    for file in &files {
        fixture = fixture.file(file);
    }
    fixture.write(store).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_export_past_the_budget_checks_its_keys_on_disk_and_stages_the_same() {
    let (_dir, store) = store_in();
    let export = full_export(&store, "big", 600, &[]).await;
    let in_memory = run_stage(shared(&store), orders_table(), vec![export.clone()]).await.unwrap();
    assert_eq!(in_memory.counts.spill_partitions, 0, "the default budget holds 600 keys");
    let expected = outcome(&store, &in_memory).await;
    assert_eq!(expected.1[2], 600);
    let run = "digest-spill-ok";
    let spilled = stage_tiny_as(run, &store, vec![export]).await.unwrap();
    assert!(spilled.counts.spill_partitions >= 2, "{:?}", spilled.counts);
    assert_eq!(outcome(&store, &spilled).await, expected);
    assert_eq!(spool_folders_of(run), Vec::<PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_twice_in_a_full_export_past_the_budget_fails_naming_both_lines() {
    let (_dir, store) = store_in();
    // The third file holds keys 2, 5, 8…: o5 is its line 2, and the repeat is appended as line 11.
    let again = full_line(&order("o5", 5, "1"));
    let export = full_export(&store, "twice", 30, &[again]).await;
    let in_memory = run_stage(shared(&store), orders_table(), vec![export.clone()]).await.err().unwrap();
    let run = "digest-spill-error";
    let spilled = stage_tiny_as(run, &store, vec![export]).await.err().unwrap();
    let lines = |error: &StageError| match error {
        StageError::RepeatedKey { export_arn, key, first_file, first_line, file, line } => {
            assert!(export_arn.ends_with("/export/twice"), "{error}");
            assert!(key.contains("o5"), "{error}");
            (first_file.clone(), *first_line, file.clone(), *line)
        }
        other => panic!("{other}"),
    };
    let (first_file, first_line, file, line) = lines(&spilled);
    assert_eq!((first_line, line), (2, 11), "{spilled}");
    assert!(first_file.ends_with("twice-02.json.gz") && file == first_file, "{spilled}");
    assert_eq!(lines(&in_memory), lines(&spilled));
    assert_eq!(spool_folders_of(run), Vec::<PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_redshift_a_full_export_past_the_budget_still_refuses_blank_twins() {
    let (_dir, store) = store_in();
    let twin = full_line(&order("o5 ", 5, "1"));
    let export = full_export(&store, "twin", 30, &[twin]).await;
    for table in [orders_table(), spilling(TINY_BUDGET, |_| ())] {
        let error = stage_for_redshift(&store, table, vec![export.clone()]).await;
        match &error {
            StageError::BlankTwinKeys { key, first_key, first_line, line, .. } => {
                assert!(key.contains("o5 ") && first_key.contains("o5"), "{error}");
                assert_eq!((*first_line, *line), (2, 11), "{error}");
            }
            other => panic!("{other}"),
        }
    }
}
