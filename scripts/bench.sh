#!/usr/bin/env bash
# The benchmarks against the floor, in one command (results: docs/performance.md):
#   - benches/sync.rs: at 50k, 200k and 800k items, the stage beside zcat, the whole SQLite sync
#     beside `sqlite3` importing the staged rows and their TSV, the whole PostgreSQL sync beside
#     `psql \copy`, with CPU time and peak RSS of each;
#   - benches/stage.rs: the incremental stage (fold of 200k changes) beside zcat.
# Installs the tools (scripts/bench-tools.sh), starts a throwaway PostgreSQL unless
# DYNASHIFT_PG_URL is already set (stopped again on exit), builds in release.
#
#   DYNASHIFT_BENCH_SIZES=50000,200000   items per size (default 50000,200000,800000)
#   DYNASHIFT_BENCH_REPEATS=5            runs per measurement; the fastest counts (default 3)
#   DYNASHIFT_BENCH_NO_PG=1              skip PostgreSQL (the bench prints that it skipped it)
#   scripts/bench.sh sync                only benches/sync.rs
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bench-tools.sh
if [ -n "${DYNASHIFT_BENCH_NO_PG:-}" ]; then
    unset DYNASHIFT_PG_URL
elif [ -z "${DYNASHIFT_PG_URL:-}" ]; then
    DYNASHIFT_PG_URL="$(scripts/pg.sh start)"
    export DYNASHIFT_PG_URL
    trap 'scripts/pg.sh stop' EXIT
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), \
$(awk '/MemTotal/ {printf "%.1f GiB RAM", $2 / 1048576}' /proc/meminfo), $(uname -sr)"
cargo bench --locked --bench sync
if [ "${1:-}" != "sync" ]; then
    cargo bench --locked --bench stage
fi
