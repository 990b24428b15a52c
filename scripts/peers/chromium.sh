#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver (Debian's chromium + chromium-driver) when
# missing, for the catcher page's browser tests (crates/squall-sink/tests/browser.rs). The
# test starts chromedriver itself on a free loopback port and stops it by PID.
# Usage: scripts/peers/chromium.sh install
set -euo pipefail
. "$(dirname "$0")/common.sh"

case "${1:-install}" in
install)
    if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
        exit 0
    fi
    echo "installing Debian packages: chromium chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq chromium chromium-driver >/dev/null
    ;;
*)
    echo "usage: $0 install" >&2
    exit 64
    ;;
esac
