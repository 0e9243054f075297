#!/usr/bin/env bash
# Installs the command-line tools the benchmarks against the floor compare with (benches/sync.rs
# and its CI smoke, tests/bench_smoke.rs), with apt-get when any is missing:
#   zcat (gzip), sqlite3 (sqlite3), psql (postgresql-client), GNU time at /usr/bin/time (time;
#   it measures each child's peak RSS).
# As root it installs them; otherwise it names the packages and exits 1. Prints nothing when
# everything is there.
set -euo pipefail

missing=()
command -v zcat >/dev/null 2>&1 || missing+=(gzip)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
[ -x /usr/bin/time ] || missing+=(time)
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "bench-tools.sh: missing: ${missing[*]}; install them: sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
echo "bench-tools.sh: installing ${missing[*]} with apt-get" >&2
(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >&2
