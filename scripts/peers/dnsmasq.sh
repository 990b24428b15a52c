#!/usr/bin/env bash
# dnsmasq (Debian dnsmasq-base) as the DNS server of the direct-delivery (MX) tests, on a
# loopback port, answering only for the test zones below (no upstream, no /etc/hosts).
#   dnsmasq.sh start PORT
#   dnsmasq.sh stop PORT
# Zones (the MX hosts are loopback addresses; the tests listen on them):
#   pref.test      MX 10 mx1.pref.test (127.0.0.2), MX 20 mx2.pref.test (127.0.0.3)
#   equal.test     MX 10 mx2.pref.test, MX 10 mx3.pref.test (127.0.0.4)
#   implicit.test  no MX, A 127.0.0.4
#   null.test      MX 0 .  (RFC 7505 null MX)
#   dead.test      MX 10 mx1.pref.test, MX 20 mx9.dead.test (127.0.0.9)
#   hole.test      MX 10 mx9.dead.test, MX 20 mx2.pref.test
set -euo pipefail
. "$(dirname "$0")/common.sh"

case "${1:?start or stop}" in
start)
    port=${2:?port}
    command -v dnsmasq >/dev/null 2>&1 || { echo "dnsmasq is not installed (scripts/peers/install.sh)" >&2; exit 1; }
    log="$RUN/dnsmasq-$port.log"
    # A null MX is preference 0 and the root name: raw RDATA 0000 00 (type 15).
    dnsmasq --port "$port" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
        --no-daemon --log-facility="$log" --pid-file= --user="$(id -un)" \
        --mx-host=pref.test,mx1.pref.test,10 --mx-host=pref.test,mx2.pref.test,20 \
        --mx-host=equal.test,mx2.pref.test,10 --mx-host=equal.test,mx3.pref.test,10 \
        --mx-host=dead.test,mx1.pref.test,10 --mx-host=dead.test,mx9.dead.test,20 \
        --mx-host=hole.test,mx9.dead.test,10 --mx-host=hole.test,mx2.pref.test,20 \
        --host-record=mx1.pref.test,127.0.0.2 --host-record=mx2.pref.test,127.0.0.3 \
        --host-record=mx3.pref.test,127.0.0.4 --host-record=implicit.test,127.0.0.4 \
        --host-record=mx9.dead.test,127.0.0.9 \
        --dns-rr=null.test,15,000000 \
        --local=/test/ &
    echo $! >"$RUN/dnsmasq-$port.pid"
    for _ in $(seq 1 50); do
        python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); s.connect(('127.0.0.1',$port))" 2>/dev/null && exit 0
        sleep 0.1
    done
    echo "dnsmasq did not listen on $port; see $log" >&2
    exit 1
    ;;
stop)
    stop_pidfile "$RUN/dnsmasq-${2:?port}.pid"
    ;;
*)
    echo "usage: $0 start PORT | stop PORT" >&2
    exit 64
    ;;
esac
