#!/usr/bin/env bash
# Real-terminal smoke test of the console, under tmux.
#
#   scripts/tui-smoke.sh [BINARY]        (default: target/debug/dynashift, built if missing)
#
# On a temporary copy of tables.toml with fast demo settings, it:
#   1. gives the first table a watermark with a headless full sync;
#   2. opens the console in a detached 120x40 tmux pane, presses `i` on the first table and
#      waits (60 s at most) until the run panes show that incremental run committed;
#   3. presses `q` (and `y` if asked), then checks that dynashift exited with 0 and the terminal
#      was restored: the alternate screen is gone, the console's panes are gone, the shell prompt
#      is back and the tty is in cooked mode again.
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
    echo "tui-smoke: SKIPPED: tmux is not installed and could not be installed (needs root or sudo)"
    exit 77
fi
if [ ! -x "$BINARY" ]; then
    echo "tui-smoke: building $BINARY"
    cargo build --quiet --bin dynashift
fi
BINARY=$(cd "$(dirname "$BINARY")" && pwd)/$(basename "$BINARY")

# A copy of tables.toml whose demo runs fast: one simulated hour per real second (so an
# incremental window opens within a second), small tables, half-second exports.
CONFIG="$WORK/tables.toml"
sed -E \
    -e 's/^speed = .*/speed = 3600.0/' \
    -e 's/^initial_items = .*/initial_items = 200/' \
    -e 's/^export_seconds = .*/export_seconds = 0.5/' \
    -e 's|^log_file = .*|log_file = "dynashift.log"|' \
    tables.toml >"$CONFIG"
for setting in 'speed = 3600.0' 'initial_items = 200' 'export_seconds = 0.5' 'log_file = "dynashift.log"'; do
    grep -qx "$setting" "$CONFIG" || fail "could not set \`$setting\` in the copy of tables.toml"
done
TABLE=$(awk '/^\[\[table\]\]/ { in_table = 1 } in_table && /^name *=/ { gsub(/^name *= *"|".*$/, ""); print; exit }' "$CONFIG")
[ -n "$TABLE" ] || fail "no [[table]] name found in tables.toml"

echo "tui-smoke: full sync of $TABLE (headless) so an incremental sync has a watermark"
"$BINARY" --config "$CONFIG" --headless --table "$TABLE" --mode full >"$WORK/full-sync.txt" 2>&1 \
    || { cat "$WORK/full-sync.txt" >&2; fail "the headless full sync of $TABLE failed"; }

echo "tui-smoke: opening the console in tmux (120x40)"
tmux_ new-session -d -s "$SESSION" -x 120 -y 40 -- env PS1='smoke$ ' TERM=xterm-256color bash --norc --noprofile
tmux_ send-keys -t "$SESSION" "cd '$WORK' && '$BINARY' --config '$CONFIG'; echo \"dynashift exited with \$?\"" Enter
wait_for 20 'Tables · ' || fail "the console did not draw its tables pane"
[ "$(tmux_ display-message -p -t "$SESSION" '#{alternate_on}')" = 1 ] || fail "the console is not on the alternate screen"
wait_for 20 "^. ?$TABLE +" || fail "the tables pane does not list $TABLE"

echo "tui-smoke: pressing i on $TABLE"
committed=no
for attempt in 1 2 3 4 5; do
    sleep 1
    tmux_ send-keys -t "$SESSION" i
    sleep 0.5
    deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
        shot=$(screen)
        if grep -q 'incremental · ✓ committed' <<<"$shot"; then committed=yes; break 2; fi
        if grep -q 'incremental · ✓ up to date' <<<"$shot"; then break; fi
        if grep -q 'incremental · ✗ failed' <<<"$shot"; then fail "the incremental run failed"; fi
        sleep 0.25
    done
    [ "$SECONDS" -lt "$deadline" ] || fail "no committed incremental run within 60 s (attempt $attempt)"
    echo "tui-smoke: up to date already (attempt $attempt); trying again once the demo clock moved"
done
[ "$committed" = yes ] || fail "every incremental run was up to date; no window opened"
echo "tui-smoke: the run committed"
screen | grep -q 'Statements · ' || fail "the statements pane shows no statements"

echo "tui-smoke: quitting"
tmux_ send-keys -t "$SESSION" q
sleep 0.5
if screen | grep -q 'Quit?'; then tmux_ send-keys -t "$SESSION" y; fi
wait_for 15 '^dynashift exited with [0-9]+' || fail "dynashift did not exit"
screen | grep -q '^dynashift exited with 0$' || fail "dynashift exited with a failure status"
[ "$(tmux_ display-message -p -t "$SESSION" '#{alternate_on}')" = 0 ] || fail "the alternate screen is still on"
if screen | grep -q 'Tables · '; then fail "the console's panes are still on the screen"; fi
tmux_ send-keys -t "$SESSION" "stty -a | tr ' ;' '\n\n' | grep -xE -- '-?(icanon|echo)' | tr '\n' ' '; echo" Enter
wait_for 10 '^-?icanon -?echo ?$' || fail "could not read the tty modes"
screen | grep -Eq '^icanon echo ?$' || fail "the tty was left in raw mode (no icanon/echo)"
wait_for 5 '^smoke\$ ?$' || fail "the shell prompt is not back"
echo "tui-smoke: OK (terminal restored)"
