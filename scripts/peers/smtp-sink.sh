#!/usr/bin/env bash
# Postfix smtp-sink on loopback.
#   smtp-sink.sh start PORT DUMPDIR|- [smtp-sink options...]   dumps each message into DUMPDIR
#   smtp-sink.sh stop PORT
set -euo pipefail
. "$(dirname "$0")/common.sh"

cmd=${1:?start or stop}
port=${2:?port}
pidfile="$RUN/smtp-sink-$port.pid"
case "$cmd" in
start)
    dump=${3:?dump directory, or - for none}
    shift 3
    bin=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
    user=()
    # smtp-sink refuses to run as root; it drops to the postfix user, who must own the dump.
    [ "$(id -u)" = 0 ] && user=(-u postfix)
    dumping=()
    if [ "$dump" != - ]; then
        mkdir -p "$dump"
        [ "$(id -u)" = 0 ] && chown postfix "$dump"
        dumping=(-d "$dump/%Y%m%d%H%M%S.")
    fi
    "$bin" "${user[@]}" -c "${dumping[@]}" "$@" "127.0.0.1:$port" 256 \
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
