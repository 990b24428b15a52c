#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, with the fuzzer (libFuzzer, through cargo-fuzz):
# first it replays the committed seeds in fuzz/seeds/TARGET (any failure fails the run), then
# it fuzzes for SECONDS from them, into a scratch corpus under run/fuzz (the committed seeds are
# only read). Prints, per target, the executions, the time and the coverage reached.
#   scripts/fuzz.sh [SECONDS [TARGET...]]      (default: 20 s each, every target)
#
# cargo-fuzz passes -Z flags to rustc, which a stable toolchain accepts with RUSTC_BOOTSTRAP=1;
# no sanitizer is used (--sanitizer none: ASan needs nightly's prebuilt std to be useful, and
# the code under test forbids unsafe), but overflow checks and debug assertions are on (-a).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/peers/common.sh

secs=${1:-20}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(reply_parser dot_stuffer session sink_command sendmail_headers)
fi

command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked --quiet cargo-fuzz --version 0.13.2
export RUSTC_BOOTSTRAP=1
(cd fuzz && cargo fuzz build --sanitizer none -O -a)
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="fuzz/target/$host/release"

total=0
for t in "${targets[@]}"; do
    seeds="fuzz/seeds/$t"
    work="$RUN/fuzz/$t"
    rm -rf "$work"
    mkdir -p "$work" "$seeds"
    log="$work.log"
    n_seeds=$(find "$seeds" -type f | wc -l)
    # Replay: every seed once, nothing new generated.
    if ! "$bin_dir/$t" -runs=0 -timeout=10 -artifact_prefix="$work/" "$seeds" >"$log" 2>&1; then
        tail -30 "$log" >&2
        echo "fuzz $t: a committed seed fails; the input is in $work/" >&2
        exit 1
    fi
    # Fuzz: new inputs go to the scratch corpus (the first directory), the seeds are read.
    start=$(date +%s)
    if ! "$bin_dir/$t" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$work/" "$work" "$seeds" >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz $t: FAILED; the input that fails is in $work/ (replay: $bin_dir/$t FILE)" >&2
        exit 1
    fi
    took=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    found=$(find "$work" -maxdepth 1 -type f | wc -l)
    echo "fuzz $t: $n_seeds seeds replayed; ${execs:-?} executions in ${took} s (${rate:-?}/s), coverage ${cov:-?}, $found new inputs"
    total=$((total + ${execs:-0}))
done
echo "fuzz: ${#targets[@]} targets, $total executions in all"
