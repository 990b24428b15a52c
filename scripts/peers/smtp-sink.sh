#!/usr/bin/env bash
# Postfix smtp-sink on loopback.
#   smtp-sink.sh start PORT DUMPDIR [smtp-sink options...]   dumps each message into DUMPDIR
#   smtp-sink.sh stop PORT
set -euo pipefail
. "$(dirname "$0")/common.sh"

cmd=${1:?start or stop}
port=${2:?port}
pidfile="$RUN/smtp-sink-$port.pid"
case "$cmd" in
start)
    dump=${3:?dump directory}
    shift 3
    bin=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
    mkdir -p "$dump"
    user=()
    if [ "$(id -u)" = 0 ]; then
        # smtp-sink refuses to run as root; it drops to the postfix user, who must own the dump.
        user=(-u postfix)
        chown postfix "$dump"
    fi
    "$bin" "${user[@]}" -c -d "$dump/%Y%m%d%H%M%S." "$@" "127.0.0.1:$port" 256 \
        >"$RUN/smtp-sink-$port.log" 2>&1 &
    echo $! >"$pidfile"
    wait_port "$port" || { echo "smtp-sink did not start; see $RUN/smtp-sink-$port.log" >&2; exit 1; }
    ;;
stop)
    stop_pidfile "$pidfile"
    ;;
*)
    echo "usage: $0 start PORT DUMPDIR [options] | stop PORT" >&2
    exit 64
    ;;
esac
