#!/usr/bin/env bash
# A crate's modules must form a DAG (arrows from the public API down to the driver and the
# vocabulary, never back): cargo-modules extracts who uses whom, each item counted in its
# top-level module (a module and its own submodules are one node), and tsort refuses a loop.
# test.sh checks squall and squall-outbox; squall-proto and squall-sink still have one loop each.
# Usage: scripts/check-modules.sh [PACKAGE...]   (default: squall)
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.27.0
if ! cargo modules --version 2>/dev/null | grep -q "$version"; then
    echo "installing cargo-modules $version (once; it takes a few minutes)"
    cargo install --locked --quiet cargo-modules --version "$version"
fi

status=0
for package in "${@:-squall}"; do
    crate=${package//-/_}
    edges=$(cargo modules dependencies --package "$package" --lib --no-externs --no-sysroot \
        --no-fns --no-traits --no-types --no-owns 2>/dev/null |
        awk -v crate="$crate" -F'"' '/ -> / && /"uses"/ {
            n = split($2, a, "::"); m = split($4, b, "::")
            # The crate root only re-exports; an edge within one top-level module is internal.
            if (n < 2 || m < 2 || a[2] == b[2] || a[1] != crate || b[1] != crate) next
            print a[2], b[2]
        }' | sort -u)
    if ! out=$(tsort <<<"$edges" 2>&1 >/dev/null) || [ -n "$out" ]; then
        echo "$package: its modules import each other in a loop:" >&2
        echo "$out" >&2
        echo "edges (user used):" >&2
        echo "$edges" >&2
        status=1
    else
        echo "$package: $(wc -l <<<"$edges") module dependencies, no loop"
    fi
done
exit $status
