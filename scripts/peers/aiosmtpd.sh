#!/usr/bin/env bash
# aiosmtpd (Python) on loopback, through scripts/peers/aiosmtpd_server.py.
#   aiosmtpd.sh start PORT MAILDIR [aiosmtpd_server.py options...]
#   aiosmtpd.sh stop PORT
set -euo pipefail
. "$(dirname "$0")/common.sh"

cmd=${1:?start or stop}
port=${2:?port}
pidfile="$RUN/aiosmtpd-$port.pid"
case "$cmd" in
start)
    maildir=${3:?mail directory}
    shift 3
    "$RUN/venv/bin/python" "$(dirname "$0")/aiosmtpd_server.py" --port "$port" --maildir "$maildir" "$@" \
        >"$RUN/aiosmtpd-$port.log" 2>&1 &
    echo $! >"$pidfile"
    wait_port "$port" || { echo "aiosmtpd did not start; see $RUN/aiosmtpd-$port.log" >&2; exit 1; }
    ;;
stop)
    stop_pidfile "$pidfile"
    ;;
*)
    echo "usage: $0 start PORT MAILDIR [options] | stop PORT" >&2
    exit 64
    ;;
esac
