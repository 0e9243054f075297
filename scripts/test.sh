#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, then every test (unit, integration,
# snapshot, the end-to-end syncs and the real-terminal console smoke test).
# Installs what the tests need and a fresh machine may lack (tmux, via apt) first.
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

ensure_tmux
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo build --locked --bin dynashift
cargo test --locked -- --test-threads 2
