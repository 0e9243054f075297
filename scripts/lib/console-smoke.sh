# Shared by the console's tmux smoke tests (scripts/tui-*.sh): a private tmux server, a work
# folder removed on exit, a fast copy of tables.toml, and helpers that read the pane.
#
# Before sourcing, a script sets SMOKE (its name, for messages). It may define
# `cleanup_extra` (run on exit before tmux stops). After sourcing it has: tmux_, screen, fail,
# wait_for, ensure_tmux, resolve_binary, fast_config, first_table, open_console, quit_console,
# and WORK, SESSION.

export LANG=C.UTF-8 LC_ALL=C.UTF-8
SOCKET="dynashift-$SMOKE-$$"
SESSION=smoke
WORK=$(mktemp -d)
tmux_() { tmux -u -L "$SOCKET" "$@"; }
cleanup() {
    if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
    tmux_ kill-server >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# tmux, installed with apt-get when missing and possible (root or passwordless sudo).
ensure_tmux() {
    command -v tmux >/dev/null 2>&1 && return 0
    echo "$SMOKE: tmux is missing; installing it with apt-get"
    if [ "$(id -u)" -eq 0 ]; then
        (apt-get update -qq && apt-get install -y -qq tmux) >/dev/null 2>&1 || true
    elif command -v sudo >/dev/null 2>&1; then
        (sudo -n apt-get update -qq && sudo -n apt-get install -y -qq tmux) >/dev/null 2>&1 || true
    fi
    command -v tmux >/dev/null 2>&1
}

screen() { tmux_ capture-pane -p -t "$SESSION" 2>/dev/null || true; }

# fail MESSAGE: prints it with the last screen and the end of the console's log; exits 1.
fail() {
    echo "$SMOKE: FAILED: $*" >&2
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
        sleep 0.2
    done
    return 1
}

# Exits 77 (skipped) when tmux is missing and cannot be installed.
require_tmux() {
    if ! ensure_tmux; then
        echo "$SMOKE: SKIPPED: tmux is not installed and could not be installed (needs root or sudo)"
        exit 77
    fi
}

# resolve_binary PATH: the absolute path of the binary, built first when it is missing.
resolve_binary() {
    local binary=$1
    if [ ! -x "$binary" ]; then
        echo "$SMOKE: building $binary" >&2
        cargo build --quiet --bin dynashift
    fi
    echo "$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")"
}

# fast_config EXPORT_SECONDS [SED_EXPRESSION…]: writes $WORK/tables.toml, a copy of tables.toml
# whose demo runs one simulated hour per real second (an incremental window opens within a
# second), with small tables, exports IN_PROGRESS for EXPORT_SECONDS and the log in $WORK;
# prints its path.
fast_config() {
    local export_seconds=$1
    shift
    local config="$WORK/tables.toml" extra=() expression
    for expression in "$@"; do extra+=(-e "$expression"); done
    sed -E \
        -e 's/^speed = .*/speed = 3600.0/' \
        -e 's/^initial_items = .*/initial_items = 200/' \
        -e "s/^export_seconds = .*/export_seconds = $export_seconds/" \
        -e 's|^log_file = .*|log_file = "dynashift.log"|' \
        "${extra[@]}" tables.toml >"$config"
    local setting
    for setting in 'speed = 3600.0' 'initial_items = 200' "export_seconds = $export_seconds" 'log_file = "dynashift.log"'; do
        grep -qx "$setting" "$config" || fail "could not set \`$setting\` in the copy of tables.toml"
    done
    echo "$config"
}

# first_table CONFIG: the name of its first [[table]].
first_table() {
    local table
    table=$(awk '/^\[\[table\]\]/ { in_table = 1 } in_table && /^name *=/ { gsub(/^name *= *"|".*$/, ""); print; exit }' "$1")
    [ -n "$table" ] || fail "no [[table]] name found in $1"
    echo "$table"
}

# open_console BINARY CONFIG WIDTH HEIGHT: the console in a detached tmux pane of that size,
# in a shell that prints "dynashift exited with N" when it ends.
open_console() {
    tmux_ new-session -d -s "$SESSION" -x "$3" -y "$4" -- env PS1='smoke$ ' TERM=xterm-256color bash --norc --noprofile
    tmux_ send-keys -t "$SESSION" "cd '$WORK' && '$1' --config '$2'; echo \"dynashift exited with \$?\"" Enter
}

# quit_console SECONDS: presses q (and y if asked), then checks dynashift exited with 0.
quit_console() {
    tmux_ send-keys -t "$SESSION" q
    sleep 0.5
    if screen | grep -q 'Quit?'; then tmux_ send-keys -t "$SESSION" y; fi
    wait_for "$1" '^dynashift exited with [0-9]+' || fail "dynashift did not exit within $1 s of q"
    screen | grep -q '^dynashift exited with 0$' || fail "dynashift exited with a failure status"
}
