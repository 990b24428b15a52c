#!/usr/bin/env bash
# A private PostgreSQL cluster on loopback for the outbox tests (never the system's cluster).
#   postgres.sh start PORT   initdb into a fresh temp dir, start on 127.0.0.1:PORT, wait until ready
#   postgres.sh restart      fast restart of that cluster (the outbox's reconnect test runs this)
#   postgres.sh stop         stop it (by the server PID recorded at start) and remove the temp dir
# Recorded under run/: postgres.base (the temp dir; the data dir is BASE/data), postgres.pid (the
# postmaster's PID, the first line of BASE/data/postmaster.pid), postgres.url
# (postgres://postgres@127.0.0.1:PORT/postgres, trust authentication on loopback only; the Unix
# socket is in BASE, never /var/run) and postgres.ca (the PEM file of a CA made at start, which
# signed the server's certificate for 127.0.0.1 and localhost: TLS is on, plaintext still
# accepted). Durability stays on (fsync=on, synchronous_commit=on): the
# queue's durability is what the tests are about.
# initdb and postgres refuse to run as root: as root they run as the `postgres` user (runuser),
# otherwise as the current user. The binaries are those of the newest /usr/lib/postgresql/*/bin
# (scripts/peers/install.sh installs Debian's postgresql when missing).
set -euo pipefail
. "$(dirname "$0")/common.sh"

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/peers/install.sh" >&2
    exit 1
fi

# as_pg CMD...: runs CMD as the cluster's owner.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# record_pid DATA: the postmaster's PID, from the first line of its pid file.
record_pid() {
    head -n 1 "$1/postmaster.pid" >"$RUN/postgres.pid"
}

case "${1:?start, restart or stop}" in
start)
    port=${2:?port}
    base=$(mktemp -d /tmp/squall-postgres.XXXXXX)
    echo "$base" >"$RUN/postgres.base"
    chmod 755 "$base"
    [ "$(id -u)" = 0 ] && chown postgres: "$base"
    as_pg "$bin/initdb" -D "$base/data" -A trust -U postgres -E UTF8 --no-locale >"$base/initdb.log" 2>&1 || {
        cat "$base/initdb.log" >&2
        exit 1
    }
    # A private CA and a server certificate for 127.0.0.1 and localhost (valid for a day: the
    # cluster lives for one test run). The key is the server's alone (0600, owned by its user).
    tls="$base/tls"
    mkdir -p "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=squall test PostgreSQL CA" -keyout "$tls/ca.key" -out "$tls/ca.pem" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
        -keyout "$base/data/server.key" -out "$tls/server.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tls/ext"
    openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
        -days 1 -extfile "$tls/ext" -out "$base/data/server.crt" 2>/dev/null
    rm -f "$tls/ca.key"
    chmod 600 "$base/data/server.key"
    chmod 644 "$tls/ca.pem"
    [ "$(id -u)" = 0 ] && chown postgres: "$base/data/server.key" "$base/data/server.crt"
    cat >>"$base/data/postgresql.conf" <<CONF
# Added by scripts/peers/postgres.sh for squall's outbox tests.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$base'
fsync = on
synchronous_commit = on
max_connections = 200
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
CONF
    # Trust on loopback only: no other host may connect. The role squall_scram (which the TLS
    # tests create) logs in with a SCRAM password over TLS, so that channel binding is used.
    cat >"$base/data/pg_hba.conf" <<HBA
local all all trust
hostssl all squall_scram 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
HBA
    as_pg "$bin/pg_ctl" -D "$base/data" -l "$base/postgres.log" -w -t 60 start >/dev/null || {
        cat "$base/postgres.log" >&2
        exit 1
    }
    record_pid "$base/data"
    url="postgres://postgres@127.0.0.1:$port/postgres"
    echo "$url" >"$RUN/postgres.url"
    cp "$tls/ca.pem" "$RUN/postgres.ca"
    echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on $url (data $base/data, PID $(cat "$RUN/postgres.pid"), TLS CA $RUN/postgres.ca)"
    ;;
restart)
    base=$(cat "$RUN/postgres.base")
    as_pg "$bin/pg_ctl" -D "$base/data" -l "$base/postgres.log" -w -t 60 -m fast restart >/dev/null
    record_pid "$base/data"
    ;;
stop)
    base=$(cat "$RUN/postgres.base" 2>/dev/null || true)
    if [ -n "$base" ] && [ -d "$base/data" ]; then
        as_pg "$bin/pg_ctl" -D "$base/data" -w -t 30 -m fast stop >/dev/null 2>&1 || true
    fi
    # Whatever pg_ctl did, the PID we recorded is gone afterwards.
    stop_pidfile "$RUN/postgres.pid"
    case "$base" in /tmp/squall-postgres.*) rm -rf "$base" ;; esac
    rm -f "$RUN/postgres.base" "$RUN/postgres.url" "$RUN/postgres.ca"
    ;;
*)
    echo "usage: $0 start PORT | restart | stop" >&2
    exit 64
    ;;
esac
