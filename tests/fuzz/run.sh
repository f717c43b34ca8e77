#!/usr/bin/env bash
# run.sh: runs every libFuzzer target built under build/fuzz (make fuzz-bin): first each file of
# tests/fuzz/regressions/<target>/ once (inputs that once crashed: they must not again), then the
# target itself for FUZZ_SECS seconds (default 10) from its seed corpus tests/fuzz/corpus/<target>/
# (new inputs go to a scratch corpus, never into the tree). Prints "PASS <target>" or "FAIL <target>"
# (with the crashing input kept under FUZZ_ARTIFACTS, default the scratch dir) and the closing
# "N passed, N failed". bench/fuzz.sh runs the same targets longer.
set -uo pipefail
cd "$(dirname "$0")/../.."
secs="${FUZZ_SECS:-10}"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/coffer-fuzz-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
artifacts="${FUZZ_ARTIFACTS:-$scratch/artifacts}"
mkdir -p "$artifacts"
passed=0; failed=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  bin="build/fuzz/$name"
  if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ]; then
    echo "FAIL $name: $bin is missing or older than $src (run make fuzz-bin)"; failed=$((failed + 1)); continue
  fi
  ok=1
  regs=(tests/fuzz/regressions/"$name"/*)
  if [ -e "${regs[0]}" ]; then
    if ! "$bin" -rss_limit_mb=2048 -timeout=10 "${regs[@]}" >"$scratch/$name.reg.log" 2>&1; then
      echo "    $name: a regression input crashes again:"; tail -n 20 "$scratch/$name.reg.log" | sed 's/^/    /'
      ok=0
    fi
  fi
  mkdir -p "$scratch/corpus-$name"
  if [ "$ok" = 1 ] && ! timeout -k 10 $((secs + 60)) "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 -artifact_prefix="$artifacts/$name-" "$scratch/corpus-$name" "tests/fuzz/corpus/$name" \
      >"$scratch/$name.log" 2>&1; then
    echo "    $name: crashed; the input is under $artifacts (add it to tests/fuzz/regressions/$name/ with the fix):"
    grep -E 'ERROR|SUMMARY|==[0-9]+==' "$scratch/$name.log" | head -n 5 | sed 's/^/    /'
    ok=0
  fi
  if [ "$ok" = 1 ]; then
    echo "PASS $name ($(grep -oE 'stat::number_of_executed_units: [0-9]+' "$scratch/$name.log" | awk '{print $2}') runs in ${secs} s)"
    passed=$((passed + 1))
  else
    echo "FAIL $name"; failed=$((failed + 1))
  fi
done
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
