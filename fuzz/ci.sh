#!/usr/bin/env bash
# A short, bounded fuzzing run for CI: the decoder target, seeded with the
# captured fixtures, for FUZZ_SECONDS (default 60). Fails on any crash.
set -euo pipefail
cd "$(dirname "$0")"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
mkdir -p corpus/decode
for f in ../fixtures/pdus/*.hex; do
    python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(open(sys.argv[1]).read().splitlines()[1].strip()))' "$f" \
        >"corpus/decode/$(basename "$f" .hex)"
done
# Stable Rust: RUSTC_BOOTSTRAP lets cargo-fuzz pass its sanitizer flags.
RUSTC_BOOTSTRAP=1 cargo fuzz run decode corpus/decode -- \
    -max_total_time="${FUZZ_SECONDS:-60}" -max_len=4096 -print_final_stats=1 2>&1 | tail -20
