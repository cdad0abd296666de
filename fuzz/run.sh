#!/usr/bin/env bash
# Run every fuzz target for a bounded time (default 60 s each) and report executions.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); the stable toolchain runs it with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz passes nightly-only flags). Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-60}
shift || true
TARGETS=${*:-tokenizer features extractor model_file jsonl_row}
export RUSTC_BOOTSTRAP=1
for t in $TARGETS; do
  mkdir -p "corpus/$t"
  out=$(cargo fuzz run --sanitizer none "$t" "corpus/$t" -- -max_total_time="$SECS" -max_len=4096 2>&1) || {
    echo "$out" | tail -40
    echo "fuzz target $t FAILED"
    exit 1
  }
  echo "$t: $(echo "$out" | grep -E '^(#[0-9]+|Done)' | tail -1)"
done
