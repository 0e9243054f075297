#!/usr/bin/env bash
# Real-terminal smoke test of the console's schedules, under tmux.
#
#   scripts/tui-schedule-smoke.sh [BINARY]   (default: target/debug/dynashift, built if missing)
#
# On a temporary copy of tables.toml with fast demo settings and every = "2s" in [defaults], it
# opens the console in a detached 120x40 tmux pane and, without pressing a sync key:
#   1. waits (60 s at most) until the tables pane shows the "Next" column and a scheduled run of
#      the first table committed (its first run, a full sync, starts on its own);
#   2. presses `p` and checks the schedules read paused; presses `p` again;
#   3. quits with `q` (and `y` if asked) and checks dynashift exited with 0.
# Exit status: 0 passed, 1 failed (the last screen is printed), 77 skipped (no tmux, and it could
# not be installed).
set -euo pipefail
cd "$(dirname "$0")/.."

BINARY=${1:-target/debug/dynashift}
export LANG=C.UTF-8 LC_ALL=C.UTF-8
SOCKET="dynashift-smoke-$$"
SESSION=smoke
WORK=$(mktemp -d)
tmux_() { tmux -u -L "$SOCKET" "$@"; }
cleanup() {
    tmux_ kill-server >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

ensure_tmux() {
    command -v tmux >/dev/null 2>&1 && return 0
    echo "tui-smoke: tmux is missing; installing it with apt-get"
    if [ "$(id -u)" -eq 0 ]; then
        (apt-get update -qq && apt-get install -y -qq tmux) >/dev/null 2>&1 || true
    elif command -v sudo >/dev/null 2>&1; then
        (sudo -n apt-get update -qq && sudo -n apt-get install -y -qq tmux) >/dev/null 2>&1 || true
    fi
    command -v tmux >/dev/null 2>&1
}

screen() { tmux_ capture-pane -p -t "$SESSION" 2>/dev/null || true; }

fail() {
    echo "tui-smoke: FAILED: $*" >&2
    echo "---- last screen ----" >&2
    screen >&2
    echo "---- end of log ($WORK/dynashift.log) ----" >&2
    tail -n 20 "$WORK/dynashift.log" >&2 2>/dev/null || true
    exit 1
}

# wait_for SECONDS PATTERN: polls the pane until a line matches the extended regex.
wait_for() {
    local deadline=$((SECONDS + $1))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if screen | grep -Eq -- "$2"; then return 0; fi
        sleep 0.25
    done
    return 1
}

if ! ensure_tmux; then
    echo "tui-schedule-smoke: SKIPPED: tmux is not installed and could not be installed (needs root or sudo)"
    exit 77
fi
if [ ! -x "$BINARY" ]; then
    cargo build --quiet --bin dynashift
fi
BINARY=$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY")

CONFIG="$WORK/tables.toml"
sed -E \
    -e 's/^speed = .*/speed = 3600.0/' \
    -e 's/^initial_items = .*/initial_items = 200/' \
    -e 's/^export_seconds = .*/export_seconds = 0.5/' \
    -e 's|^log_file = .*|log_file = "dynashift.log"|' \
    -e 's/^\[defaults\]$/[defaults]\nevery = "2s"/' \
    tables.toml >"$CONFIG"
grep -qx 'every = "2s"' "$CONFIG" || fail "could not set every in the copy of tables.toml"
TABLE=$(awk '/^\[\[table\]\]/ { in_table = 1 } in_table && /^name *=/ { gsub(/^name *= *"|".*$/, ""); print; exit }' "$CONFIG")
[ -n "$TABLE" ] || fail "no [[table]] name found in tables.toml"

echo "tui-schedule-smoke: opening the console in tmux (120x40); no key starts a run"
tmux_ new-session -d -s "$SESSION" -x 120 -y 40 -- env PS1='smoke$ ' TERM=xterm-256color bash --norc --noprofile
tmux_ send-keys -t "$SESSION" "cd '$WORK' && '$BINARY' --config '$CONFIG'; echo \"dynashift exited with \$?\"" Enter
wait_for 20 'Tables · ' || fail "the console did not draw its tables pane"
wait_for 20 ' Next ' || fail "the tables pane has no Next column"
wait_for 60 "^. ?$TABLE .*✓ committed" || fail "no scheduled run of $TABLE committed within 60 s"
echo "tui-schedule-smoke: a scheduled run of $TABLE committed"

tmux_ send-keys -t "$SESSION" p
wait_for 10 'schedules paused \(p resumes\)' || fail "p did not pause the schedules"
wait_for 10 "^. ?$TABLE .* paused " || fail "the Next column does not read paused"
tmux_ send-keys -t "$SESSION" p
wait_for 10 'schedules resumed' || fail "p did not resume the schedules"

tmux_ send-keys -t "$SESSION" q
sleep 0.5
if screen | grep -q 'Quit?'; then tmux_ send-keys -t "$SESSION" y; fi
wait_for 15 '^dynashift exited with [0-9]+' || fail "dynashift did not exit"
screen | grep -q '^dynashift exited with 0$' || fail "dynashift exited with a failure status"
echo "tui-schedule-smoke: OK"
