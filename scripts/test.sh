#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test (unit, integration,
# snapshot, the end-to-end syncs and the real-terminal console smoke test).
# Installs what the tests need and a fresh machine may lack first (tmux, PostgreSQL 15 and the
# benchmark smoke's command-line tools via apt, moto via pip into a virtualenv), starts the
# stand-ins on 127.0.0.1 and stops them on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ensure_tmux() {
    command -v tmux >/dev/null 2>&1 && return 0
    echo "test.sh: installing tmux for the console smoke test"
    if [ "$(id -u)" -eq 0 ]; then
        (apt-get update -qq && apt-get install -y -qq tmux) >/dev/null
    else
        (sudo apt-get update -qq && sudo apt-get install -y -qq tmux) >/dev/null
    fi
}

# Local stand-ins the integration tests talk to, on loopback only; stopped on exit.
start_stand_ins() {
    DYNASHIFT_MOTO_ENDPOINT="$(scripts/moto.sh start)"
    export DYNASHIFT_MOTO_ENDPOINT
    DYNASHIFT_PG_URL="$(scripts/pg.sh start)"
    export DYNASHIFT_PG_URL
}
stop_stand_ins() {
    scripts/moto.sh stop || true
    scripts/pg.sh stop || true
}

ensure_tmux
scripts/bench-tools.sh  # zcat, sqlite3, psql, GNU time for tests/bench_smoke.rs
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo build --locked --bin dynashift
trap stop_stand_ins EXIT
start_stand_ins
# cargo-nextest (on CI machines) runs each test in a process of its own and tests of different
# binaries side by side (.config/nextest.toml); plain cargo test is the fallback.
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --locked
else
    cargo test --locked -- --test-threads 2
fi
# Each benchmark at a smoke size in the debug build (the timed runs are scripts/bench.sh; the sync
# benchmark's smoke is tests/bench_smoke.rs): it runs end to end, and the spill benchmark checks
# that its spilling configurations spill and the in-memory one does not.
STAGE_BENCH_ITEMS=2000 cargo test --locked --bench stage
SPILL_BENCH_KEYS=2000,5000 cargo test --locked --bench spill
DEMO_BENCH_ITEMS=300 cargo test --locked --bench demo
