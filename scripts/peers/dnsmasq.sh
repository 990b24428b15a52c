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
# MTA-STS (RFC 8461): each domain has a _mta-sts TXT record, and mta-sts.DOMAIN is 127.0.0.6,
# where the test serves the policies over HTTPS (interop_mta_sts.rs):
#   enforce.test    MX 10 mx2.pref.test, MX 20 mx.enforce.test (127.0.0.5); policy lists only .5
#   strict.test     MX 10 mx2.pref.test; enforce policy listing only mx.enforce.test
#   testing.test    MX 10 mx2.pref.test; testing policy listing only mx.enforce.test
#   badpolicy.test  MX 10 mx2.pref.test; the policy server sends a malformed policy
#   badcert.test    MX 10 mx2.pref.test; the policy server's certificate lacks this name
#   badtls.test     MX 10 mx.badtls.test (127.0.0.7, its certificate lacks that name),
#                   MX 20 mx.enforce.test; enforce policy listing both
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
        --mx-host=enforce.test,mx2.pref.test,10 --mx-host=enforce.test,mx.enforce.test,20 \
        --host-record=mx.enforce.test,127.0.0.5 \
        --mx-host=strict.test,mx2.pref.test,10 --mx-host=testing.test,mx2.pref.test,10 \
        --mx-host=badpolicy.test,mx2.pref.test,10 --mx-host=badcert.test,mx2.pref.test,10 \
        --txt-record=_mta-sts.enforce.test,"v=STSv1; id=e1" \
        --txt-record=_mta-sts.strict.test,"v=STSv1; id=s1" \
        --txt-record=_mta-sts.testing.test,"v=STSv1; id=t1" \
        --txt-record=_mta-sts.badpolicy.test,"v=STSv1; id=b1" \
        --txt-record=_mta-sts.badcert.test,"v=STSv1; id=c1" \
        --host-record=mta-sts.enforce.test,127.0.0.6 --host-record=mta-sts.strict.test,127.0.0.6 \
        --host-record=mta-sts.testing.test,127.0.0.6 --host-record=mta-sts.badpolicy.test,127.0.0.6 \
        --host-record=mta-sts.badcert.test,127.0.0.6 \
        --mx-host=badtls.test,mx.badtls.test,10 --mx-host=badtls.test,mx.enforce.test,20 \
        --host-record=mx.badtls.test,127.0.0.7 --host-record=mta-sts.badtls.test,127.0.0.6 \
        --txt-record=_mta-sts.badtls.test,"v=STSv1; id=x1" \
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
