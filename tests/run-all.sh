#!/usr/bin/env bash
# run-all.sh: runs every built test binary (build/asan/tests/test_* then e2e_*) and the Go
# conformance suite, counts the PASS/FAIL lines of each and prints the grand total. Exit status 0 only
# when nothing failed and something ran. TESTS_FILTER=regex limits which binaries run.
set -uo pipefail
cd "$(dirname "$0")/.."
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TMPDIR="${TMPDIR:-/tmp}"
filter="${TESTS_FILTER:-.}"
passed=0; failed=0
logdir=$(mktemp -d "${TMPDIR}/coffer-test-logs-XXXXXX")

run_suite() { # name, command...
  local name=$1; shift
  local log="$logdir/$name.log" start end p f rc
  start=$(date +%s)
  "$@" >"$log" 2>&1; rc=$?
  end=$(date +%s)
  p=$(grep -cE '^(PASS |--- PASS)' "$log")
  f=$(grep -cE '^(FAIL |--- FAIL)' "$log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1; echo "FAIL $name: exited with status $rc without a FAIL line" >>"$log"
  fi
  passed=$((passed + p)); failed=$((failed + f))
  printf '%-28s %4d passed %3d failed  (%ss)\n' "$name" "$p" "$f" "$((end - start))"
  if [ "$f" -ne 0 ]; then
    grep -E '^(FAIL |--- FAIL)' "$log" | head -20 | sed 's/^/    /'
    echo "    --- last lines of $log:"; tail -n 25 "$log" | sed 's/^/    /'
  fi
}

for t in build/asan/tests/test_* build/asan/tests/e2e_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  [[ "$name" =~ $filter ]] || continue
  run_suite "$name" "$t"
done

if [[ "conformance" =~ $filter ]] && [ -f tests/conformance/go.mod ]; then
  export PATH="$PATH:/usr/local/go/bin"
  run_suite conformance tests/conformance/run.sh
fi

echo "logs: $logdir"
echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
