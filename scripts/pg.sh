#!/usr/bin/env bash
# A throwaway PostgreSQL 15 for the PostgreSQL warehouse tests, on loopback.
#
#   scripts/pg.sh start   installs the Debian packages postgresql-15 and openssl when missing (as
#                         root), creates a fresh cluster in a temporary folder (initdb as the
#                         `postgres` user when run as root), starts it on 127.0.0.1 on a free port
#                         with fsync off, trust authentication and TLS offered (a throwaway CA,
#                         `ca.pem` beside the server's certificate: `SHOW ssl_cert_file`), and
#                         prints its connection URL on stdout; when it is already running, prints
#                         the running one's URL
#   scripts/pg.sh url     prints the running server's URL (exit 1 when none runs)
#   scripts/pg.sh stop    stops the server this script started and deletes its folder (no-op when
#                         none runs)
#
# Typical use (what scripts/test.sh does):
#   DYNASHIFT_PG_URL="$(scripts/pg.sh start)"; export DYNASHIFT_PG_URL
#   trap 'scripts/pg.sh stop' EXIT
#
# Everything but the URL goes to stderr. The cluster is for tests only: no fsync, trust auth, no
# password — never point it at data you want to keep. The cluster's folder (data and log) is a
# fresh `mktemp -d`; this checkout remembers it in target/pg/ (override: DYNASHIFT_PG_STATE).
set -euo pipefail

PG_MAJOR=15
bin="/usr/lib/postgresql/$PG_MAJOR/bin"
repo="$(cd "$(dirname "$0")/.." && pwd)"
state="${DYNASHIFT_PG_STATE:-${CARGO_TARGET_DIR:-$repo/target}/pg}"
dir_file="$state/cluster_dir"
port_file="$state/port"

say() { echo "pg.sh: $*" >&2; }

is_root() { [ "$(id -u)" -eq 0 ]; }

install() {
    local missing=()
    [ -x "$bin/initdb" ] || missing+=("postgresql-$PG_MAJOR")
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    [ "${#missing[@]}" -eq 0 ] && return 0
    if ! is_root; then
        say "missing: ${missing[*]}; install it: sudo apt-get install ${missing[*]}"
        exit 1
    fi
    say "installing ${missing[*]} with apt-get"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >&2
}

# Runs a PostgreSQL binary as the user owning the cluster: PostgreSQL refuses to run as root.
as_owner() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A port nothing listens on: random in 20000..60999, probed with a connect.
free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 41000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    say "found no free port on 127.0.0.1"
    exit 1
}

url() {
    echo "postgresql://postgres@127.0.0.1:$(cat "$port_file")/postgres"
}

running() {
    [ -f "$dir_file" ] && [ -f "$port_file" ] || return 1
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$(cat "$port_file")" -d postgres -U postgres
}

# A throwaway CA and a server certificate it signs, for 127.0.0.1 and localhost.
create_certificates() {
    local dir="$1"
    (
        cd "$dir"
        openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=dynashift test CA" \
            -keyout ca.key -out ca.pem
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
        printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
            "keyUsage=digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >server.ext
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 7 \
            -extfile server.ext -out server.crt
        rm -f ca.key server.csr server.ext ca.srl
        chmod 0600 server.key
        chmod 0644 ca.pem server.crt
    ) >"$dir/openssl.log" 2>&1 || {
        say "creating the test certificates failed:"
        tail -n 20 "$dir/openssl.log" >&2
        return 1
    }
}

create_cluster() {
    local dir="$1"
    chmod 0755 "$dir"
    mkdir "$dir/data"
    create_certificates "$dir" || return 1
    if is_root; then
        chown -R postgres:postgres "$dir"
    fi
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale \
        --no-sync >"$dir/initdb.log" 2>&1 || {
        say "initdb failed:"
        tail -n 20 "$dir/initdb.log" >&2
        return 1
    }
}

# Starts the cluster in `dir` on `port`; fails when the port was taken meanwhile.
start_cluster() {
    local dir="$1" port="$2"
    as_owner "$bin/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/server.log" -o \
        "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
         -c ssl=on -c ssl_cert_file='$dir/server.crt' -c ssl_key_file='$dir/server.key'" \
        >/dev/null 2>&1
}

start() {
    install
    if running; then
        url
        return 0
    fi
    stop_recorded
    mkdir -p "$state"
    local dir port
    dir="$(mktemp -d "${TMPDIR:-/tmp}/dynashift-pg.XXXXXX")"
    echo "$dir" >"$dir_file"
    create_cluster "$dir" || { stop_recorded; exit 1; }
    for _ in 1 2 3 4 5; do
        port="$(free_port)"
        if start_cluster "$dir" "$port"; then
            echo "$port" >"$port_file"
            say "PostgreSQL $PG_MAJOR listening on 127.0.0.1:$port (cluster $dir, log $dir/server.log)"
            url
            return 0
        fi
        say "port $port was taken meanwhile; trying another"
    done
    say "PostgreSQL did not start; its log ($dir/server.log) ends with:"
    tail -n 20 "$dir/server.log" >&2 || true
    stop_recorded
    exit 1
}

# Stops the recorded cluster, if any, deletes its folder and forgets it.
stop_recorded() {
    if [ -f "$dir_file" ]; then
        local dir
        dir="$(cat "$dir_file")"
        if [ -f "$dir/data/postmaster.pid" ]; then
            as_owner "$bin/pg_ctl" stop -w -t 60 -m fast -D "$dir/data" >/dev/null 2>&1 ||
                say "pg_ctl stop failed; see $dir/server.log"
        fi
        case "$dir" in
            */dynashift-pg.*) rm -rf "$dir" ;;
        esac
    fi
    rm -f "$dir_file" "$port_file"
}

case "${1:-}" in
    start) start ;;
    stop) stop_recorded ;;
    url)
        if running; then url; else say "PostgreSQL is not running (start it: scripts/pg.sh start)"; exit 1; fi
        ;;
    *)
        say "usage: scripts/pg.sh start|stop|url"
        exit 2
        ;;
esac
