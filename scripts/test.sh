#!/usr/bin/env bash
# Runs every test of the project: formatting, lints, unit, property, transcript and doc tests.
# Usage: scripts/test.sh            (from anywhere inside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install the Rust toolchain (rust-version 1.95) first" >&2
    exit 1
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked

step "fuzz targets build"
# cargo-fuzz needs nightly flags; the targets are plain binaries, so check they compile with the
# same cfg the fuzzer uses (no sanitizer needed for that).
(cd fuzz && RUSTFLAGS="--cfg fuzzing" cargo check --locked --bins --quiet)

step "all tests passed"
