//! The history through its API: generation, determinism, restarts, sharing and compaction.
use std::collections::BTreeMap;

use chrono::{Duration, TimeZone};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::source::demo::log::WriteRecord;

const SETTINGS: WorkloadSettings = WorkloadSettings { seed: 42, initial_items: 30, writes_per_hour: 600 };

fn origin() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0).unwrap()
}

fn at(minutes: i64) -> DateTime<Utc> {
    origin() + Duration::minutes(minutes)
}

fn open(dir: &Path, settings: WorkloadSettings) -> History {
    History::open(dir, DemoTable::Orders, settings).unwrap()
}

fn generated(dir: &Path, settings: WorkloadSettings, through: DateTime<Utc>) -> Vec<u8> {
    open(dir, settings).prepare(origin(), through).unwrap();
    std::fs::read(dir.join("writes.jsonl")).unwrap()
}

fn records(dir: &Path) -> Vec<WriteRecord> {
    let text = std::fs::read_to_string(dir.join("writes.jsonl")).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn by_key(items: Vec<Item>) -> BTreeMap<ItemKey, Item> {
    let key = ["pk".to_owned(), "sk".to_owned()];
    items.into_iter().map(|item| (ItemKey::of(&item, &key).unwrap(), item)).collect()
}

#[test]
fn the_table_starts_with_its_initial_items_spread_over_the_hour_before() {
    let dir = tempfile::tempdir().unwrap();
    let mut history = open(dir.path(), SETTINGS);
    let created = history.prepare(origin(), origin()).unwrap();
    assert_eq!(created, at(-60));
    assert!(history.items_at(at(-60)).unwrap().is_empty());
    assert_eq!(history.items_at(origin()).unwrap().len(), 30);
    let half = history.items_at(at(-30)).unwrap().len();
    assert!((5..25).contains(&half), "inserts are spread over the hour, {half} in the first half");
    assert!(
        records(dir.path())
            .iter()
            .all(|r| r.ts >= at(-60).timestamp_micros() && r.ts < origin().timestamp_micros())
    );
}

#[test]
fn the_same_seed_gives_the_same_history_and_another_seed_another() {
    let (a, b, c) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = generated(a.path(), SETTINGS, at(120));
    assert_eq!(first, generated(b.path(), SETTINGS, at(120)));
    assert_ne!(first, generated(c.path(), WorkloadSettings { seed: 7, ..SETTINGS }, at(120)));
}

#[test]
fn generating_in_steps_and_across_restarts_gives_the_same_history() {
    let (whole, steps) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let expected = generated(whole.path(), SETTINGS, at(120));
    let mut history = open(steps.path(), SETTINGS);
    for minutes in [10, 37, 37, 61] {
        history.prepare(origin(), at(minutes)).unwrap();
    }
    drop(history);
    // A restart goes on from the log, whatever origin the clock now suggests.
    open(steps.path(), SETTINGS).prepare(at(500), at(120)).unwrap();
    assert_eq!(std::fs::read(steps.path().join("writes.jsonl")).unwrap(), expected);
}

#[test]
fn two_processes_take_turns_and_see_each_others_writes() {
    let (shared, reference) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut one = open(shared.path(), SETTINGS);
    let mut two = open(shared.path(), SETTINGS);
    one.prepare(origin(), at(30)).unwrap();
    two.prepare(origin(), at(60)).unwrap();
    one.prepare(origin(), at(90)).unwrap();
    let mut alone = open(reference.path(), SETTINGS);
    alone.prepare(origin(), at(90)).unwrap();
    assert_eq!(one.items_at(at(80)).unwrap(), alone.items_at(at(80)).unwrap());
    assert_eq!(two.items_at(at(45)).unwrap(), alone.items_at(at(45)).unwrap());
    assert_eq!(
        std::fs::read(shared.path().join("writes.jsonl")).unwrap(),
        std::fs::read(reference.path().join("writes.jsonl")).unwrap()
    );
}

#[test]
fn writes_are_strictly_increasing_at_the_configured_rate_and_mix() {
    let dir = tempfile::tempdir().unwrap();
    generated(dir.path(), SETTINGS, at(600));
    let records = records(dir.path());
    assert!(records.windows(2).all(|w| w[0].ts < w[1].ts));
    let in_hour = |h: i64| {
        let (from, to) = (at(h * 60).timestamp_micros(), at(h * 60 + 60).timestamp_micros());
        records.iter().filter(|r| (from..to).contains(&r.ts)).count()
    };
    assert_eq!((in_hour(0), in_hour(5), in_hour(9)), (600, 600, 600));
    let deletes = records.iter().filter(|r| r.image.is_none()).count();
    assert!((700..1100).contains(&deletes), "about 15% of 6000 writes are deletes: {deletes}");
}

#[test]
fn state_at_the_start_plus_the_changes_of_a_window_is_the_state_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut history = open(dir.path(), SETTINGS);
    history.prepare(origin(), at(240)).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..12 {
        let from = at(rng.random_range(-70..200)) + Duration::microseconds(rng.random_range(0..60_000_000));
        let to = from + Duration::microseconds(rng.random_range(1..3_600_000_000));
        let mut state = by_key(history.items_at(from).unwrap());
        for change in history.changes(from, to).unwrap() {
            let key = ItemKey::of(&change.keys, &["pk".into(), "sk".into()]).unwrap();
            assert_eq!(state.get(&key), change.old.as_ref(), "the old image is the state at `from`");
            assert!(
                change.last_write_micros >= from.timestamp_micros()
                    && change.last_write_micros < to.timestamp_micros()
            );
            match change.new {
                Some(image) => state.insert(key, image),
                None => state.remove(&key),
            };
        }
        assert_eq!(state, by_key(history.items_at(to).unwrap()), "window {from} .. {to}");
    }
}

#[test]
fn a_crashed_writers_tail_is_cut_off() {
    let (dir, reference) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    open(dir.path(), SETTINGS).prepare(origin(), at(30)).unwrap();
    let mut file = std::fs::OpenOptions::new().append(true).open(dir.path().join("writes.jsonl")).unwrap();
    std::io::Write::write_all(&mut file, b"{\"ts_micros\":99999999999999999,\"keys\":{\"pk\"").unwrap();
    open(dir.path(), SETTINGS).prepare(origin(), at(60)).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("writes.jsonl")).unwrap(),
        generated(reference.path(), SETTINGS, at(60))
    );
}

#[test]
fn changed_settings_are_refused_with_a_way_out() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path(), SETTINGS).prepare(origin(), origin()).unwrap();
    let err =
        open(dir.path(), WorkloadSettings { seed: 1, ..SETTINGS }).prepare(origin(), origin()).unwrap_err();
    assert!(matches!(err, DemoError::SettingsChanged { setting: "seed", .. }), "{err}");
    assert!(err.to_string().contains("delete that folder"), "{err}");
    let more = WorkloadSettings { writes_per_hour: 6000, ..SETTINGS };
    open(dir.path(), more).prepare(origin(), at(1)).expect("the write rate may change");
}

#[test]
fn a_truncated_log_is_reported_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path(), SETTINGS).prepare(origin(), origin()).unwrap();
    std::fs::write(dir.path().join("writes.jsonl"), b"").unwrap();
    let err = open(dir.path(), SETTINGS).prepare(origin(), origin()).unwrap_err().to_string();
    assert!(err.contains("were committed") && err.contains("delete the folder"), "{err}");
}

/// The lines of the current log file (after any compaction).
fn current_log(dir: &Path) -> Vec<WriteRecord> {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    let name = meta["log_file"].as_str().unwrap_or("writes.jsonl").to_owned();
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn writes_since(dir: &Path, t: DateTime<Utc>) -> Vec<WriteRecord> {
    current_log(dir).into_iter().filter(|r| r.ts >= t.timestamp_micros()).collect()
}

/// Asserts `history` answers like the uncompacted `reference` from `kept_from` on.
fn assert_same_from(
    history: &mut History,
    reference: &mut History,
    kept_from: DateTime<Utc>,
    end: DateTime<Utc>,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let span = (end - kept_from).num_microseconds().unwrap();
    let mut instants = vec![kept_from, kept_from + Duration::microseconds(1), end];
    instants.extend((0..6).map(|_| kept_from + Duration::microseconds(rng.random_range(0..span))));
    for &t in &instants {
        assert_eq!(history.items_at(t).unwrap(), reference.items_at(t).unwrap(), "state at {t}");
    }
    for &from in &instants {
        let to = (from + Duration::minutes(rng.random_range(15..24 * 60))).min(end);
        assert_eq!(
            history.changes(from, to).unwrap(),
            reference.changes(from, to).unwrap(),
            "window {from} .. {to}"
        );
    }
}

#[test]
fn compaction_keeps_every_state_and_window_after_its_instant_exact() {
    let (whole, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut reference = open(whole.path(), SETTINGS);
    reference.prepare(origin(), at(600)).unwrap();
    let mut history = open(dir.path(), SETTINGS);
    history.prepare(origin(), at(300)).unwrap();
    let uncompacted = std::fs::metadata(dir.path().join("writes.jsonl")).unwrap().len();

    let first = at(250) + Duration::microseconds(123_457);
    assert!(history.compact(first).unwrap(), "2500 of 3030 writes go");
    let compacted = std::fs::metadata(dir.path().join("writes-1.jsonl")).unwrap().len();
    assert!(compacted * 3 < uncompacted, "{compacted} bytes left of {uncompacted}");
    assert!(!dir.path().join("writes.jsonl").exists(), "the replaced log is removed");
    assert_same_from(&mut history, &mut reference, first, at(300));

    // Generation goes on from the snapshot exactly as without it, here and after a restart.
    history.prepare(origin(), at(480)).unwrap();
    let mut history = open(dir.path(), SETTINGS);
    history.prepare(origin(), at(600)).unwrap();
    assert_eq!(writes_since(dir.path(), first), writes_since(whole.path(), first));
    assert_same_from(&mut history, &mut reference, first, at(600));

    // A snapshot is compacted again like the log it replaced.
    let second = at(450);
    assert!(history.compact(second).unwrap());
    assert_same_from(&mut history, &mut reference, second, at(600));
    history.prepare(origin(), at(700)).unwrap();
    reference.prepare(origin(), at(700)).unwrap();
    assert_eq!(writes_since(dir.path(), second), writes_since(whole.path(), second));

    let err = history.items_at(second - Duration::microseconds(1)).unwrap_err();
    assert!(matches!(err, DemoError::Compacted { .. }), "{err}");
    assert!(err.to_string().contains("ask for a later instant"), "{err}");
    assert!(matches!(history.changes(at(400), at(500)), Err(DemoError::Compacted { .. })));
}

#[test]
fn compaction_waits_until_it_drops_a_worthwhile_part_of_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut history = open(dir.path(), SETTINGS);
    history.prepare(origin(), at(300)).unwrap();
    let before = std::fs::read(dir.path().join("writes.jsonl")).unwrap();
    assert!(!history.compact(at(50)).unwrap(), "500 writes are not worth a rewrite");
    assert!(!history.compact(at(60)).unwrap(), "600 writes are not worth a rewrite");
    assert_eq!(std::fs::read(dir.path().join("writes.jsonl")).unwrap(), before);
    assert!(history.compact(at(120)).unwrap());
    assert!(!history.compact(at(110)).unwrap(), "never back before the snapshot");
}

#[test]
fn another_process_follows_a_compaction() {
    let (whole, shared) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut reference = open(whole.path(), SETTINGS);
    reference.prepare(origin(), at(360)).unwrap();
    let mut one = open(shared.path(), SETTINGS);
    let mut two = open(shared.path(), SETTINGS);
    one.prepare(origin(), at(300)).unwrap();
    two.prepare(origin(), at(300)).unwrap();
    assert!(one.compact(at(250)).unwrap());
    two.prepare(origin(), at(360)).unwrap();
    one.prepare(origin(), at(360)).unwrap();
    assert_same_from(&mut two, &mut reference, at(250), at(360));
    assert_same_from(&mut one, &mut reference, at(250), at(360));
    assert_eq!(writes_since(shared.path(), at(250)), writes_since(whole.path(), at(250)));
}

#[test]
fn a_history_written_before_compaction_existed_opens_and_compacts() {
    let (whole, dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut reference = open(whole.path(), SETTINGS);
    reference.prepare(origin(), at(360)).unwrap();
    open(dir.path(), SETTINGS).prepare(origin(), at(300)).unwrap();
    // meta.json as versions without compaction wrote it.
    let path = dir.path().join("meta.json");
    let mut meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let fields = meta.as_object_mut().unwrap();
    assert!(fields.remove("log_file").is_some() && fields.remove("snapshot").is_some());
    std::fs::write(&path, serde_json::to_vec_pretty(&meta).unwrap()).unwrap();

    let mut history = open(dir.path(), SETTINGS);
    history.prepare(origin(), at(360)).unwrap();
    assert_same_from(&mut history, &mut reference, at(-60), at(360));
    assert!(history.compact(at(250)).unwrap());
    assert_same_from(&mut history, &mut reference, at(250), at(360));
}
