#!/usr/bin/env bash
# Real-terminal smoke test of the console as an on-call screen, under tmux.
#
#   scripts/tui-oncall-smoke.sh BINARY unreachable|foreign
#
# unreachable: with a PostgreSQL warehouse on a closed loopback port, the console must draw at
#   once (tables pane and connection pane within 3 s, no blank screen), then show its retries
#   ("retry n of about m after connection refused") while it keeps trying, and quit at once on q.
# foreign: with the demo, a console is open (80x24 or 120x40) while a headless sync of the
#   first table runs from another process: without any key press, the console must show
#   "▶ running (pid PID on HOST)" for it, then the table's new watermark once it committed.
# Exit status: 0 passed, 1 failed (the last screen is printed), 77 skipped (no tmux, and it could
# not be installed).
set -euo pipefail
cd "$(dirname "$0")/.."

BINARY=${1:?usage: tui-oncall-smoke.sh BINARY unreachable|foreign}
SCENARIO=${2:?usage: tui-oncall-smoke.sh BINARY unreachable|foreign}
SMOKE="tui-oncall-smoke-$SCENARIO"
HEADLESS_PID=
cleanup_extra() { [ -n "$HEADLESS_PID" ] && kill "$HEADLESS_PID" >/dev/null 2>&1 || true; }
source scripts/lib/console-smoke.sh
if ! command -v tmux >/dev/null 2>&1; then
    echo "$SMOKE: SKIPPED: tmux is not installed (scripts/tui-smoke.sh installs it)"
    exit 77
fi
BINARY=$(resolve_binary "$BINARY")
# Exports stay IN_PROGRESS long enough (2 s) for a watch tick to see the run.
CONFIG=$(fast_config 2.0)
TABLE=$(first_table "$CONFIG")

case "$SCENARIO" in
unreachable)
    # Port 1 on loopback: nothing listens there, so every connection is refused at once.
    sed -i -E -e 's|^kind = "sqlite"|kind = "postgres"|' \
        -e 's|^path = ".dynashift/warehouse.sqlite"|url = "postgres://loader@127.0.0.1:1/analytics"\ntls = "disable"|' \
        "$CONFIG"
    grep -q '^url = "postgres://loader@127.0.0.1:1/analytics"' "$CONFIG" || fail "could not point the copy at PostgreSQL"
    open_console "$BINARY" "$CONFIG" 80 24
    wait_for 3 'Tables · ' || fail "no tables pane within 3 s"
    wait_for 3 'Connecting to postgres loader@127.0.0.1:1/analytics' || fail "no connection pane within 3 s"
    wait_for 10 'retry [0-9]+ of about [0-9]+ after connection refused' || fail "no retry shown within 10 s"
    screen | grep -Eq "^┃$TABLE +.*connecting…" || fail "the tables pane does not say the table is connecting"
    quit_console 5
    ;;
foreign)
    echo "tui-oncall-smoke: full sync of $TABLE (headless) so the table has a watermark"
    "$BINARY" --config "$CONFIG" --headless --table "$TABLE" --mode full >"$WORK/full-sync.txt" 2>&1 \
        || { cat "$WORK/full-sync.txt" >&2; fail "the headless full sync of $TABLE failed"; }
    open_console "$BINARY" "$CONFIG" 120 40
    wait_for 10 "^┃ ?$TABLE +.* [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} " || fail "the console shows no watermark for $TABLE"
    before=$(screen | grep -E "^┃ ?$TABLE " | head -1)
    sleep 1
    echo "tui-oncall-smoke: incremental sync of $TABLE from another process"
    "$BINARY" --config "$CONFIG" --headless --table "$TABLE" >"$WORK/incremental.txt" 2>&1 &
    HEADLESS_PID=$!
    wait_for 10 "▶ running \(pid $HEADLESS_PID on [^)]+\)" \
        || fail "the console did not show the run of pid $HEADLESS_PID within 10 s"
    echo "tui-oncall-smoke: the console shows the foreign run"
    wait "$HEADLESS_PID" || { cat "$WORK/incremental.txt" >&2; HEADLESS_PID=; fail "the headless sync failed"; }
    HEADLESS_PID=
    grep -q 'committed' "$WORK/incremental.txt" || { cat "$WORK/incremental.txt" >&2; fail "the headless sync did not commit"; }
    deadline=$((SECONDS + 8))
    while :; do
        after=$(screen | grep -E "^┃ ?$TABLE " | head -1)
        if [ "$after" != "$before" ] && ! grep -q '▶ running' <<<"$after"; then break; fi
        [ "$SECONDS" -lt "$deadline" ] || fail "the new watermark did not show within 8 s of the commit (row: $after)"
        sleep 0.2
    done
    echo "tui-oncall-smoke: before: $before"
    echo "tui-oncall-smoke: after:  $after"
    quit_console 5
    ;;
*) fail "unknown scenario $SCENARIO" ;;
esac
echo "$SMOKE: OK"
