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

SMOKE=tui-schedule-smoke
source scripts/lib/console-smoke.sh
require_tmux
BINARY=$(resolve_binary "${1:-target/debug/dynashift}")
CONFIG=$(fast_config 0.5 's/^\[defaults\]$/[defaults]\nevery = "2s"/')
grep -qx 'every = "2s"' "$CONFIG" || fail "could not set every in the copy of tables.toml"
TABLE=$(first_table "$CONFIG")

echo "tui-schedule-smoke: opening the console in tmux (120x40); no key starts a run"
open_console "$BINARY" "$CONFIG" 120 40
wait_for 20 'Tables · ' || fail "the console did not draw its tables pane"
wait_for 20 ' Next ' || fail "the tables pane has no Next column"
wait_for 60 "^. ?$TABLE .*✓ committed" || fail "no scheduled run of $TABLE committed within 60 s"
echo "tui-schedule-smoke: a scheduled run of $TABLE committed"

tmux_ send-keys -t "$SESSION" p
wait_for 10 'schedules paused \(p resumes\)' || fail "p did not pause the schedules"
wait_for 10 "^. ?$TABLE .* paused " || fail "the Next column does not read paused"
tmux_ send-keys -t "$SESSION" p
wait_for 10 'schedules resumed' || fail "p did not resume the schedules"

quit_console 15
echo "tui-schedule-smoke: OK"
