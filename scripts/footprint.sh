#!/usr/bin/env bash
# Prints the README's footprint table: how many crates, and how long a clean release build of
# the library takes, for squall (default features, and a minimal set) next to lettre with the
# features the same job needs (async on tokio, rustls, the message builder, a connection pool).
# One build each, one after another, on this machine; downloads happen before the timing.
# CPU seconds (user + system) are printed beside the wall time: they move far less with the
# machine's other load, so they are the figure to compare on a busy machine.
# Usage: scripts/footprint.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/squall-footprint.XXXXXX)
trap 'rm -rf "$work"' EXIT

# name|dependency line
cases=(
  "squall (default features)|squall = { path = \"$root/crates/squall\" }"
  "squall (ring, webpki-roots, builder)|squall = { path = \"$root/crates/squall\", default-features = false, features = [\"ring\", \"webpki-roots\", \"builder\"] }"
  "lettre 0.11 (tokio1-rustls-tls, builder, pool)|lettre = { version = \"0.11\", default-features = false, features = [\"smtp-transport\", \"pool\", \"hostname\", \"builder\", \"tokio1-rustls-tls\"] }"
)

echo "| library | crates built | clean release build (wall) | CPU time (user + sys) |"
echo "|---|---|---|---|"
n=0
for c in "${cases[@]}"; do
    n=$((n + 1))
    name=${c%%|*}
    dep=${c#*|}
    dir="$work/case$n"
    mkdir -p "$dir/src"
    printf '[package]\nname = "footprint%s"\nversion = "0.0.0"\nedition = "2024"\nrust-version = "1.95"\n\n[dependencies]\n%s\n' "$n" "$dep" >"$dir/Cargo.toml"
    echo 'fn main() {}' >"$dir/src/main.rs"
    (cd "$dir" && cargo fetch --quiet)
    # Every package in the build graph but the case itself (build scripts and proc macros count).
    crates=$(cd "$dir" && cargo tree --prefix none --edges normal,build --format '{p}' | sed 's/ (.*//' | sort -u | grep -vc "^footprint")
    (cd "$dir" && CARGO_TARGET_DIR="$dir/target" /usr/bin/time -f '%e %U %S' -o "$dir/time" \
        cargo build --release --quiet)
    read -r wall user sys <"$dir/time"
    printf '| %s | %s | %.0f s | %.0f s |\n' "$name" "$crates" "$wall" "$(echo "$user + $sys" | bc)"
done
echo
echo "($(nproc) cores, load average $(cut -d' ' -f1 /proc/loadavg) at the end, $(rustc --version | cut -d' ' -f1-2), $(date -u +%Y-%m-%d))"
