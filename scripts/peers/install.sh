#!/usr/bin/env bash
# Installs the real SMTP servers the interop tests run against, when missing:
#   Postfix (smtp-sink and the daemon), Cyrus SASL tools, OpenSSL, git send-email (for the
#   sendmail drop-in test), uidmap (an unprivileged Postfix), Dovecot's LMTP server, Dante
#   (SOCKS5), dnsmasq and PostgreSQL (the outbox's shared backend) from Debian, aiosmtpd from PyPI into run/venv (pinned in
#   requirements-aiosmtpd.txt), and dkimpy, which checks DKIM signatures (requirements-dkim.txt).
set -euo pipefail
. "$(dirname "$0")/common.sh"

packages=()
command -v python3 >/dev/null 2>&1 || packages+=(python3)
command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ] || packages+=(postfix)
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
command -v saslpasswd2 >/dev/null 2>&1 || packages+=(sasl2-bin)
dpkg -s libsasl2-modules >/dev/null 2>&1 || packages+=(libsasl2-modules)
command -v script >/dev/null 2>&1 || packages+=(bsdutils)
# newuidmap: lets scripts/test.sh run Postfix unprivileged, in a user namespace, when not root.
command -v newuidmap >/dev/null 2>&1 || packages+=(uidmap)
{ git send-email -h 2>&1 || true; } | grep -q 'git send-email' || packages+=(git-email)
# --- issue 15 (protocol breadth): Dovecot's LMTP server for the LMTP interop tests. ---
command -v dovecot >/dev/null 2>&1 && [ -x /usr/lib/dovecot/lmtp ] || packages+=(dovecot-core dovecot-lmtpd)
# Dante's SOCKS5 server for the proxy tests.
command -v danted >/dev/null 2>&1 || [ -x /usr/sbin/danted ] || packages+=(dante-server)
# dnsmasq as the DNS server of the direct-delivery (MX) tests.
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || packages+=(dnsmasq-base)
# --- end issue 15 ---
# --- issue 12: PostgreSQL for the outbox's PostgreSQL backend (a private cluster, postgres.sh). ---
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    packages+=(python3-venv)
fi
if [ ${#packages[@]} -gt 0 ]; then
    echo "installing Debian packages: ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Install Postfix without configuring or starting a system mail server.
    echo "postfix postfix/main_mailer_type select No configuration" | as_root debconf-set-selections
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

venv="$RUN/venv"
if ! "$venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
    echo "installing aiosmtpd into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$(dirname "$0")/requirements-aiosmtpd.txt"
fi
if ! "$venv/bin/python" -c 'import dkim, nacl' >/dev/null 2>&1; then
    echo "installing dkimpy (the independent DKIM verifier) into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$(dirname "$0")/requirements-dkim.txt"
fi

# --- issue 13: headless Chromium for the mail catcher's page tests ---
"$(dirname "$0")/chromium.sh" install
# --- end issue 13 ---
