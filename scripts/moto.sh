#!/usr/bin/env bash
# moto, the AWS stand-in the AWS adapter tests run against, on loopback.
#
#   scripts/moto.sh start     installs moto[server] into a virtualenv (once), starts it on
#                             127.0.0.1 on a free port and prints its endpoint URL on stdout;
#                             when it is already running, prints the running one's endpoint
#   scripts/moto.sh endpoint  prints the running server's endpoint (exit 1 when none runs)
#   scripts/moto.sh stop      stops the server this script started (no-op when none runs)
#   scripts/moto.sh install   only installs (or checks) the virtualenv
#
# Typical use (what scripts/test.sh does):
#   DYNASHIFT_MOTO_ENDPOINT="$(scripts/moto.sh start)"; export DYNASHIFT_MOTO_ENDPOINT
#   trap 'scripts/moto.sh stop' EXIT
#
# Everything but the endpoint goes to stderr. The virtualenv lives in ~/.cache (shared by every
# checkout, so it is installed once per machine); the server's pid, port and log live in
# target/moto/ of this checkout. Override with DYNASHIFT_MOTO_VENV / DYNASHIFT_MOTO_STATE.
set -euo pipefail

MOTO_VERSION="5.2.5"
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${DYNASHIFT_MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/dynashift/moto-$MOTO_VERSION}"
state="${DYNASHIFT_MOTO_STATE:-${CARGO_TARGET_DIR:-$repo/target}/moto}"
pid_file="$state/pid"
port_file="$state/port"
log_file="$state/server.log"

say() { echo "moto.sh: $*" >&2; }

install() {
    if [ -x "$venv/bin/moto_server" ]; then
        return 0
    fi
    command -v python3 >/dev/null 2>&1 || { say "python3 is needed to run moto; install it (apt-get install python3 python3-venv)"; exit 1; }
    say "installing moto[server]==$MOTO_VERSION into $venv (once per machine)"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" >&2 || { say "python3 -m venv failed; install python3-venv"; exit 1; }
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
}

# Whether the recorded server is alive and answers HTTP on its port.
running() {
    [ -f "$pid_file" ] && [ -f "$port_file" ] || return 1
    is_moto "$(cat "$pid_file")" || return 1
    answers "$(cat "$port_file")"
}

answers() {
    "$venv/bin/python" - "$1" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/data.json", timeout=1).read()
PY
}

free_port() {
    "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

endpoint() {
    echo "http://127.0.0.1:$(cat "$port_file")"
}

start() {
    install
    if running; then
        endpoint
        return 0
    fi
    stop_recorded
    mkdir -p "$state"
    local port
    port="$(free_port)"
    # setsid: the server gets its own process group, so it outlives this script and `stop`
    # can end exactly it.
    setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log_file" 2>&1 < /dev/null &
    echo $! >"$pid_file"
    echo "$port" >"$port_file"
    for _ in $(seq 1 100); do
        if answers "$port"; then
            say "moto $MOTO_VERSION listening on 127.0.0.1:$port (pid $(cat "$pid_file"), log $log_file)"
            endpoint
            return 0
        fi
        if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    say "moto did not start; its log ($log_file) ends with:"
    tail -n 20 "$log_file" >&2 || true
    stop_recorded
    exit 1
}

# Whether `pid` is a moto server (a recorded pid may have been reused by another process since).
is_moto() {
    kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q moto_server
}

# Ends the server recorded in the state folder, if any, and forgets it.
stop_recorded() {
    if [ -f "$pid_file" ]; then
        local pid
        pid="$(cat "$pid_file")"
        if is_moto "$pid"; then
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pid_file" "$port_file"
}

case "${1:-}" in
    start) start ;;
    stop) stop_recorded ;;
    install) install ;;
    endpoint)
        if running; then endpoint; else say "moto is not running (start it: scripts/moto.sh start)"; exit 1; fi
        ;;
    *)
        say "usage: scripts/moto.sh start|stop|endpoint|install"
        exit 2
        ;;
esac
