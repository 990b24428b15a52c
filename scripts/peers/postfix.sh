#!/usr/bin/env bash
# A real Postfix daemon on loopback, configured in its own directory (never /etc/postfix), as root.
#   postfix.sh start MX_PORT SUBMISSION_PORT SMTPS_PORT   user test / password test (realm postfix.test)
#   postfix.sh stop
# With SQUALL_POSTFIX_RELAY_PORT=PORT it relays everything to 127.0.0.1:PORT instead.
# Mail for any address lands in /tmp/squall-postfix.MX_PORT/mail/maildir/new/.
set -euo pipefail
. "$(dirname "$0")/common.sh"

here=$(cd "$(dirname "$0")" && pwd)
# Postfix's daemons run as the postfix user and must reach every directory on the way to their
# queue, SASL database and Maildir. A clone may sit under a directory only root can enter (such
# as one made by mktemp -d), so the instance lives under /tmp; run/postfix.base records where.
if [ "${1:-}" = start ]; then
    base="/tmp/squall-postfix.${2:?mx port}"
    echo "$base" >"$RUN/postfix.base"
else
    base=$(cat "$RUN/postfix.base" 2>/dev/null || echo /nonexistent)
fi
etc="$base/etc"

# Postfix reports configuration errors only to a terminal or syslog; give it a terminal.
pf() { script -qec "postfix -c $etc $*" /dev/null; }

case "${1:?start or stop}" in
start)
    [ "$(id -u)" = 0 ] || { echo "postfix.sh needs root (the Postfix master runs as root)" >&2; exit 77; }
    mx=${2:?mx port} sub=${3:?submission port} smtps=${4:?smtps port}
    rm -rf "$base"
    mkdir -p "$etc/sasl" "$base/queue" "$base/data" "$base/mail"
    chmod 755 "$base"
    "$here/make-certs.sh" "$RUN/tls"
    uid=$(id -u postfix) gid=$(id -g postfix)
    render() {
        sed -e "s|@RUN@|$base|g" -e "s|@CERTS@|$RUN/tls|g" -e "s|@UID@|$uid|g" -e "s|@GID@|$gid|g" \
            -e "s|@MX_PORT@|$mx|g" -e "s|@SUBMISSION_PORT@|$sub|g" -e "s|@SMTPS_PORT@|$smtps|g" "$1" >"$2"
    }
    render "$here/postfix/main.cf.in" "$etc/main.cf"
    # SQUALL_POSTFIX_RELAY_PORT=PORT (the queue benchmark): a local relay queue, passing every
    # message on to 127.0.0.1:PORT instead of the Maildir.
    if [ -n "${SQUALL_POSTFIX_RELAY_PORT:-}" ]; then
        postconf -c "$etc" -e "relayhost = [127.0.0.1]:$SQUALL_POSTFIX_RELAY_PORT" \
            "virtual_mailbox_domains =" "smtp_tls_security_level = none"
    fi
    render "$here/postfix/master.cf.in" "$etc/master.cf"
    render "$here/postfix/smtpd.conf.in" "$etc/sasl/smtpd.conf"
    cp "$here/postfix/rcpt_access" "$etc/rcpt_access"
    echo test | saslpasswd2 -p -c -f "$etc/sasl/sasldb2" -u postfix.test test
    # A password outside ASCII, for SCRAM's SASLprep (the SCRAM interop test logs in with it).
    printf 'p\303\244ssw\303\266rd' | saslpasswd2 -p -c -f "$etc/sasl/sasldb2" -u postfix.test intl
    chown postfix:postfix "$etc/sasl/sasldb2" "$base/data" "$base/mail"
    chmod 640 "$etc/sasl/sasldb2"
    pf check >"$base/check.log" 2>&1 || { cat "$base/check.log" >&2; exit 1; }
    pf start >"$base/start.log" 2>&1 || { cat "$base/start.log" >&2; exit 1; }
    for p in "$mx" "$sub" "$smtps"; do
        wait_port "$p" 15 || { echo "Postfix did not listen on $p; see $base/maillog" >&2; exit 1; }
    done
    cp "$base/queue/pid/master.pid" "$RUN/postfix.pid" 2>/dev/null || true
    ;;
stop)
    if [ -f "$etc/main.cf" ] && [ -f "$RUN/postfix.pid" ]; then
        pf stop >/dev/null 2>&1 || true
        # The master stops its children; make sure the one we started is gone.
        pid=$(tr -d ' \n' <"$RUN/postfix.pid")
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        stop_pidfile "$RUN/postfix.pid"
    fi
    case "$base" in /tmp/squall-postfix.*) rm -rf "$base" ;; esac
    rm -f "$RUN/postfix.base"
    ;;
*)
    echo "usage: $0 start MX_PORT SUBMISSION_PORT SMTPS_PORT | stop" >&2
    exit 64
    ;;
esac
