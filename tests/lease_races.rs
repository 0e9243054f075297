//! The table lease between real processes: racers for a killed run's lease, and hosts whose
//! clocks are wrong. Each racer is this test binary run again with `LEASE_RACER` set: it waits
//! for the start signal, asks for the lease once, prints `WON` or `LOST <why>`, and a winner
//! holds the lease until it is killed — leaving a killed run's lease for the next round.
//!
//! `DYNASHIFT_SOAK_ROUNDS=1000` runs the six-process race a thousand rounds instead of 30.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use dynashift::config::{self, TableConfig};
use dynashift::pipeline::lock::{Lease, LeaseTiming};
use dynashift::store::LocalStore;

const RACER_ENV: &str = "LEASE_RACER";

fn table() -> TableConfig {
    let text = "[[table]]\nname = \"customers\"\nkey = [\"customer_id\"]\n";
    config::load_str(text, Path::new("/tmp/tables.toml")).unwrap().tables.remove(0)
}

/// In a racer process: `LEASE_RACER=<store root>|<start signal file>|<test name>`. Returns
/// whether this process is a racer (it then never returns from a win).
fn act_as_racer() -> bool {
    let Ok(spec) = std::env::var(RACER_ENV) else { return false };
    let mut parts = spec.split('|');
    let (root, signal) = (parts.next().unwrap(), parts.next().unwrap());
    while !Path::new(signal).exists() {
        std::thread::sleep(Duration::from_micros(200));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let store = LocalStore::new(root);
    let run_id = format!("racer-{}", std::process::id());
    match runtime.block_on(Lease::acquire(&store, &table(), &run_id)) {
        Ok(_lease) => {
            println!("WON");
            std::thread::sleep(Duration::from_secs(600));
        }
        Err(err) => println!("LOST {err}"),
    }
    true
}

/// A racer process for `test`, on the store at `root`, starting when `signal` exists.
fn spawn_racer(
    test: &str,
    root: &Path,
    signal: &Path,
    env: &[(&str, String)],
) -> (Child, BufReader<ChildStdout>) {
    let spec = format!("{}|{}|{test}", root.display(), signal.display());
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", test, "--nocapture", "--test-threads", "1", "-q"]).env(RACER_ENV, spec);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    (child, stdout)
}

/// The racer's verdict: its `WON` or `LOST …` line.
fn verdict(stdout: &mut BufReader<ChildStdout>) -> String {
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        if line.starts_with("WON") || line.starts_with("LOST") {
            return line.trim().to_owned();
        }
        line.clear();
    }
    panic!("a racer ended without a verdict")
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    child.wait().unwrap();
}

struct Round {
    won: usize,
    lost: Vec<String>,
}

/// Starts `racers` processes together and collects their verdicts; the winners are killed
/// once every loser answered.
fn race(test: &str, root: &Path, signal: &Path, envs: &[Vec<(&str, String)>]) -> Round {
    let _ = std::fs::remove_file(signal);
    let mut racers: Vec<_> = envs.iter().map(|env| spawn_racer(test, root, signal, env)).collect();
    std::fs::write(signal, b"go").unwrap();
    let verdicts: Vec<_> = racers.iter_mut().map(|(_, stdout)| verdict(stdout)).collect();
    for (child, _) in &mut racers {
        kill(child);
    }
    let won = verdicts.iter().filter(|v| *v == "WON").count();
    Round { won, lost: verdicts.into_iter().filter(|v| v != "WON").collect() }
}

fn rounds() -> usize {
    std::env::var("DYNASHIFT_SOAK_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(30)
}

#[test]
fn six_processes_racing_for_a_killed_runs_lease_let_exactly_one_through() {
    if act_as_racer() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (root, signal) = (dir.path().join("bucket"), dir.path().join("go"));
    let test = "six_processes_racing_for_a_killed_runs_lease_let_exactly_one_through";
    let started = Instant::now();
    let total = rounds();
    for round in 0..total {
        // Each round's winner is killed holding the lease: the next round races for it.
        let outcome = race(test, &root, &signal, &vec![Vec::new(); 6]);
        assert_eq!(outcome.won, 1, "round {round}: {} winners; losers said {:?}", outcome.won, outcome.lost);
        for lost in &outcome.lost {
            assert!(lost.contains("racer-"), "round {round}: refused without naming the winner: {lost}");
        }
    }
    eprintln!("{total} rounds of six racers, exactly one winner each, in {:?}", started.elapsed());
}

#[test]
fn hosts_with_wrong_clocks_never_take_over_a_live_lease() {
    if act_as_racer() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (root, signal) = (dir.path().join("bucket"), dir.path().join("go"));
    let test = "hosts_with_wrong_clocks_never_take_over_a_live_lease";
    let timing = LeaseTiming { ttl: Duration::from_secs(3), clock_offset: chrono::Duration::zero() };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = std::sync::Arc::new(LocalStore::new(&root));
    let mut lease = runtime.block_on(Lease::acquire_with(store.as_ref(), &table(), "live", timing)).unwrap();
    let renewing = {
        let store = store.clone();
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(lease.renew_every()).await;
                lease.renew(store.as_ref()).await.unwrap();
            }
        })
    };
    // A period long enough that a loaded CI box still renews in time (every 750 ms).
    let skewed = |offset: &str| {
        vec![("DYNASHIFT_CLOCK_OFFSET", offset.to_owned()), ("DYNASHIFT_LEASE_TTL_MS", "3000".to_owned())]
    };
    // An hour behind, the lease looks live for an hour; ten minutes ahead, it looks expired
    // and is watched — and seen renewed.
    for round in 0..3 {
        let outcome = race(test, &root, &signal, &[skewed("-3600"), skewed("600")]);
        assert_eq!(outcome.won, 0, "round {round}: a live lease was taken over: {:?}", outcome.lost);
        for lost in &outcome.lost {
            assert!(lost.contains("run live"), "round {round}: {lost}");
        }
    }
    // The holder stops renewing (hung, or its host died): the host ahead takes over after a
    // lease period of its own clock.
    renewing.abort();
    let outcome = race(test, &root, &signal, &[skewed("600")]);
    assert_eq!(outcome.won, 1, "{:?}", outcome.lost);
}
