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

SMOKE=tui-smoke
source scripts/lib/console-smoke.sh
require_tmux
BINARY=$(resolve_binary "${1:-target/debug/dynashift}")
CONFIG=$(fast_config 0.5)
TABLE=$(first_table "$CONFIG")

echo "tui-smoke: full sync of $TABLE (headless) so an incremental sync has a watermark"
"$BINARY" --config "$CONFIG" --headless --table "$TABLE" --mode full >"$WORK/full-sync.txt" 2>&1 \
    || { cat "$WORK/full-sync.txt" >&2; fail "the headless full sync of $TABLE failed"; }

echo "tui-smoke: opening the console in tmux (120x40)"
open_console "$BINARY" "$CONFIG" 120 40
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
quit_console 15
[ "$(tmux_ display-message -p -t "$SESSION" '#{alternate_on}')" = 0 ] || fail "the alternate screen is still on"
if screen | grep -q 'Tables · '; then fail "the console's panes are still on the screen"; fi
tmux_ send-keys -t "$SESSION" "stty -a | tr ' ;' '\n\n' | grep -xE -- '-?(icanon|echo)' | tr '\n' ' '; echo" Enter
wait_for 10 '^-?icanon -?echo ?$' || fail "could not read the tty modes"
screen | grep -Eq '^icanon echo ?$' || fail "the tty was left in raw mode (no icanon/echo)"
wait_for 5 '^smoke\$ ?$' || fail "the shell prompt is not back"
echo "tui-smoke: OK (terminal restored)"
