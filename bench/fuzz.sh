#!/usr/bin/env bash
# fuzz.sh: the libFuzzer targets for longer than the test suite does (FUZZ_SECS per target, default
# 300), keeping what each finds in build/fuzz/corpus-<target> across runs and crashing inputs in
# build/fuzz/artifacts. Builds the targets first (clang, libclang-rt-14-dev: scripts/setup.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j"$(nproc)" fuzz-bin
export FUZZ_SECS="${FUZZ_SECS:-300}" FUZZ_ARTIFACTS="$PWD/build/fuzz/artifacts"
mkdir -p "$FUZZ_ARTIFACTS"
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  mkdir -p "build/fuzz/corpus-$name"
  echo "== $name: ${FUZZ_SECS} s"
  "build/fuzz/$name" -max_total_time="$FUZZ_SECS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$FUZZ_ARTIFACTS/$name-" "build/fuzz/corpus-$name" "tests/fuzz/corpus/$name" 2>&1 |
    grep -E 'DONE|ERROR|SUMMARY|stat::number_of_executed_units' || true
done
echo "crashing inputs (if any): $FUZZ_ARTIFACTS"
