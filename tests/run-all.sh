#!/usr/bin/env bash
# run-all.sh: runs every test binary that tests/unit/test_*.c and tests/e2e/e2e_*.c name (built as
# build/asan/tests/<name> by `make test-bin`), tests/layers.sh, the web console's browser test
# (tests/console/run.sh), the schemathesis run and the Go conformance suite, counts the PASS/FAIL/SKIP
# lines of each and prints the grand total. A binary that is missing or older than its source, that
# runs longer than TEST_TIMEOUT seconds (default 600), whose own "N passed, N failed[, N skipped]"
# line is absent or disagrees with the lines counted, or that exits non-zero without a FAIL line,
# counts as failed. Exit status 0 only when nothing failed and something ran. TESTS_FILTER=regex
# limits which suites run. The suites that use the catalog (PG_CATALOG_SUITES) then run a second
# time as "<name>[pg]" with COFFER_TEST_CATALOG=pg: their catalogs (and their daemons') live on a
# private PostgreSQL server each binary starts (tests/e2e/pgtest.c, pgtest_catalog). Then "tmp_clean":
# the run left nothing in /tmp (see below). The last line is "N passed, N failed" (", N skipped" when there were).
# TEST_JOBS suites (default 2) run at once: many suites mostly wait (clocks, leases, timeouts). The slow
# ones start first (SLOW_FIRST), the few that need the machine run alone (RUN_ALONE); each suite's line
# is still printed in the order above, once it and every suite before it have finished.
set -uo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$0")/.."
# /tmp stays clean ("tmp_clean" below): as root, where a mount namespace can be made, the whole run
# happens with a private, empty /tmp (a directory of the real /tmp, mode 1777, bound over /tmp in the
# namespace), so that what a suite leaves in /tmp is exactly what that directory holds at the end,
# whatever else runs on the machine; the directory is removed afterwards. Elsewhere (another user, no
# unshare, or a checkout under /tmp, which would vanish under the bound directory) the check compares
# /tmp's listing before and after the run instead.
root_real=$(pwd -P)
case "$root_real/" in /tmp/*) under_tmp=1 ;; *) under_tmp=0 ;; esac
if [ -z "${COFFER_PRIVATE_TMP:-}" ] && [ "$under_tmp" = 0 ] && [ "$(id -u)" = 0 ] &&
   unshare -m --propagation private true 2>/dev/null; then
  ptmp=$(mktemp -d /tmp/coffer-private-tmp-XXXXXX) && chmod 1777 "$ptmp" || exit 1
  trap 'rm -rf "$ptmp"' EXIT
  COFFER_PRIVATE_TMP=$ptmp unshare -m --propagation private \
    bash -c 'mount --bind "$COFFER_PRIVATE_TMP" /tmp && exec "$0" "$@"' "$self" "$@"
  exit "$?"
fi
tmp_before=$(ls -A /tmp 2>/dev/null)
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
filter="${TESTS_FILTER:-.}"
limit="${TEST_TIMEOUT:-600}"
jobs_max="${TEST_JOBS:-2}"
[[ "$jobs_max" =~ ^[1-9][0-9]*$ ]] || { echo "TEST_JOBS must be a positive number, not '$jobs_max'" >&2; exit 2; }
passed=0; failed=0; skipped=0
# Logs go to build/test-logs/<run> (the five newest runs are kept). Every suite gets a private TMPDIR
# under one scratch directory that is removed at the end, so a run leaves nothing behind in /tmp; a
# failing suite's daemon logs (*.log in its TMPDIR) are moved beside its log first.
mkdir -p build/test-logs
logdir=$(mktemp -d "build/test-logs/$(date +%Y%m%d-%H%M%S)-XXXX")
logdir=$(cd "$logdir" && pwd)
ls -1dt build/test-logs/*/ 2>/dev/null | tail -n +6 | xargs -r rm -rf
scratch=$(mktemp -d "${TMPDIR:-/tmp}/coffer-tests-XXXXXX")
# 0711: the PostgreSQL servers the suites start run as the postgres user, which must traverse into
# its directories under the suites' TMPDIRs (mktemp's 0700 made every initdb fail: Permission denied)
chmod 711 "$scratch"
# (a run stopped early stops the suites it started: their runners, whose timeout then ends the suite)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$scratch"' EXIT

# report: adds a suite's counts to the total and prints its line (and its failures).
report() { # name p f s seconds log
  local name=$1 p=$2 f=$3 s=$4 secs=$5 log=$6
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  printf '%-28s %4d passed %3d failed %3d skipped  (%ss)\n' "$name" "$p" "$f" "$s" "$secs"
  if [ "$s" -ne 0 ]; then grep -E '^(SKIP |--- SKIP)' "$log" | head -20 | sed 's/^/    /'; fi
  if [ "$f" -ne 0 ]; then
    grep -E '^(FAIL |--- FAIL)' "$log" | head -20 | sed 's/^/    /'
    echo "    --- last lines of $log:"; tail -n 25 "$log" | sed 's/^/    /'
  fi
}

# run_suite: runs one suite (in the background: it prints nothing) and writes "p f s seconds" to the
# file res; its log is $logdir/<name>.log.
run_suite() { # res name kind(c|go) command...
  local res=$1 name=$2 kind=$3; shift 3
  # the suite's TMPDIR: its name without glob characters ("e2e_runs[pg]" -> "e2e_runs_pg_"), because tests put
  # these paths into patterns (a group's excludedPaths are globs: "[pg]" would be a character class there)
  local log="$logdir/$name.log" start end p f s rc tally tp tf ts runs tmp="$scratch/${name//[^A-Za-z0-9_.-]/_}"
  mkdir -p "$tmp"
  start=$(date +%s)
  if [ "$kind" = c ]; then
    TMPDIR="$tmp" timeout -k 10 "$limit" "$@" >"$log" 2>&1; rc=$?
  else
    TMPDIR="$tmp" "$@" >"$log" 2>&1; rc=$?
  fi
  end=$(date +%s)
  p=$(grep -cE '^(PASS |--- PASS)' "$log")
  f=$(grep -cE '^(FAIL |--- FAIL)' "$log")
  s=$(grep -cE '^(SKIP |--- SKIP)' "$log")
  if [ "$kind" = c ] && { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && [ $((end - start)) -ge "$limit" ]; then
    f=$((f + 1)); echo "FAIL $name: killed after the ${limit} s timeout" >>"$log"
  elif [ "$kind" = c ]; then
    # The binary's own tally must agree with its lines (a crash, an exit before check_finish, a
    # failure that printed no line, or a test that printed two lines all show here).
    tally=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n 1)
    if [ -z "$tally" ]; then
      f=$((f + 1)); echo "FAIL $name: no \"N passed, N failed\" line (exit status $rc)" >>"$log"
    else
      tp=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$tally")
      tf=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$tally")
      ts=$(sed -nE 's/.*, ([0-9]+) skipped$/\1/p' <<<"$tally")
      if [ "$tp" -ne "$p" ] || [ "$tf" -ne "$f" ] || { [ -n "$ts" ] && [ "$ts" -ne "$s" ]; }; then
        echo "FAIL $name: its tally \"$tally\" disagrees with the lines counted ($p PASS, $f FAIL, $s SKIP)" >>"$log"
        f=$((f + 1))
      fi
    fi
  else
    # go test -v: every top-level "=== RUN   TestX" ends in one --- PASS/FAIL/SKIP line.
    runs=$(grep -cE '^=== RUN   [^/]+$' "$log")
    if [ "$runs" -ne $((p + f + s)) ]; then
      echo "FAIL $name: $runs tests started, $((p + f + s)) ended" >>"$log"
      f=$((f + 1))
    fi
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    f=1; echo "FAIL $name: exited with status $rc without a FAIL line" >>"$log"
  fi
  if [ "$f" -ne 0 ]; then
    mkdir -p "$logdir/$name.tmp"
    find "$tmp" -maxdepth 2 -name '*.log' -exec mv -t "$logdir/$name.tmp" {} + 2>/dev/null
  fi
  rm -rf "$tmp"
  echo "$p $f $s $((end - start))" >"$res.part" && mv "$res.part" "$res"
}

# The queue: every suite in the order its line is printed. q_pre holds a result known without running
# (a binary missing or stale), q_env an environment assignment, q_cmd the command (printf %q words).
q_name=(); q_kind=(); q_env=(); q_cmd=(); q_pre=()
queue() { # name kind env command...
  local name=$1 kind=$2 env=$3; shift 3
  q_name+=("$name"); q_kind+=("$kind"); q_env+=("$env"); q_cmd+=("$(printf '%q ' "$@")"); q_pre+=("")
}
queue_failed() { # name message
  echo "FAIL $1: $2" >"$logdir/$1.log"
  q_name+=("$1"); q_kind+=(-); q_env+=(""); q_cmd+=(""); q_pre+=("0 1 0 0")
}

# stale_dep: prints the first source the binary t is older than (its .c, the framework, the harness).
stale_dep() { # src t
  local dep deps=("$1" tests/check.c tests/check.h)
  case "$1" in tests/e2e/*) deps+=(tests/e2e/harness.c tests/e2e/harness.h) ;; esac
  for dep in "${deps[@]}"; do
    if [ "$dep" -nt "$2" ]; then echo "$dep"; return; fi
  done
}

# The expected binaries come from the sources, not from what happens to be built.
for src in tests/unit/test_*.c tests/e2e/e2e_*.c; do
  [ -f "$src" ] || continue
  name=$(basename "$src" .c)
  [[ "$name" =~ $filter ]] || continue
  t="build/asan/tests/$name"
  if [ ! -x "$t" ]; then
    queue_failed "$name" "$t was not built (run make test-bin)"
  elif stale=$(stale_dep "$src" "$t") && [ -n "$stale" ]; then
    queue_failed "$name" "$t is older than $stale (run make test-bin)"
  else
    queue "$name" c "" "$t"
  fi
done

# The second pass: the catalog on PostgreSQL.
PG_CATALOG_SUITES='^(test_cat_nodes|test_cat_repo_sync|e2e_audit|e2e_access|test_policy_catalog|test_policy_ids|test_recover_catalog|test_recover_worker|test_file_index|test_sched_runs|test_pg_runs|test_job|test_spec|test_svc|test_source_ids|e2e_runs|e2e_recover|e2e_search|e2e_policies|e2e_groups|e2e_retry|e2e_agent|e2e_agent_backup|e2e_upgrade_tasks)$'
for src in tests/unit/test_*.c tests/e2e/e2e_*.c; do
  name=$(basename "$src" .c)
  [[ "$name" =~ $PG_CATALOG_SUITES ]] || continue
  [[ "$name" =~ $filter || "$name[pg]" =~ $filter ]] || continue
  t="build/asan/tests/$name"
  [ -x "$t" ] || continue   # reported missing above
  queue "$name[pg]" c COFFER_TEST_CATALOG=pg "$t"
done

# libFuzzer targets (tests/fuzz): each briefly, from its seed corpus, after its regression inputs.
if [[ "fuzz" =~ $filter ]]; then
  queue fuzz c "" tests/fuzz/run.sh
fi

# The Debian package built from the tree: contents, install, the installed daemon, removal.
if [[ "package" =~ $filter ]]; then
  queue package c "" tests/package/run.sh
fi

# The CLI's completion and man pages against its --help, the README against --help, and a second build
# that does nothing (tests/cli/run.sh).
if [[ "cli_docs" =~ $filter ]]; then
  queue cli_docs c "" tests/cli/run.sh
fi

# The structure rules of docs/architecture.md, checked on the built objects.
if [[ "layers" =~ $filter ]]; then
  queue layers c "" tests/layers.sh
fi

# The web console in headless Chromium (Selenium) against the real daemon; screenshots of each page
# are kept under this run's log directory.
if [[ "console" =~ $filter ]]; then
  queue console c "" env CONSOLE_SCREENS="$logdir/console-screens" tests/console/run.sh
fi

# schemathesis from openapi/coffer.json against the real daemon (tests/schemathesis/run.sh).
if [[ "schemathesis" =~ $filter ]]; then
  queue schemathesis c "" tests/schemathesis/run.sh
fi

if [[ "conformance" =~ $filter ]] && [ -f tests/conformance/go.mod ]; then
  export PATH="$PATH:/usr/local/go/bin"
  queue conformance go "" tests/conformance/run.sh
fi

# Running the queue. SLOW_FIRST: the suites that took longest (tens of seconds to minutes, most of it
# waiting) start first, so that no long suite is left to run by itself at the end; the rest start in
# queue order. RUN_ALONE: suites that start only once nothing else runs, and nothing starts beside
# them; a suite that fails under another's load is otherwise a test to fix, not to shelter.
#   schemathesis: two schemathesis processes (Python, Hypothesis: CPU-bound) and the daemon keep two
#   cores busy by themselves; beside another suite it only ran longer (374 s, past its bound).
SLOW_FIRST=' schemathesis e2e_datalock fuzz e2e_nodes e2e_audit e2e_audit[pg] e2e_input_limits test_repo_prune e2e_pg_runs console conformance package e2e_hostile e2e_pg_recover e2e_agent_backup[pg] e2e_runs[pg] e2e_agent_backup e2e_access[pg] '
RUN_ALONE=' schemathesis '
order=()
read -r -a slow <<<"$SLOW_FIRST"   # (not a glob: "e2e_audit[pg]" would be one)
for w in "${slow[@]}"; do
  for i in "${!q_name[@]}"; do [ "${q_name[$i]}" = "$w" ] && [ -z "${q_pre[$i]}" ] && order+=("$i"); done
done
for i in "${!q_name[@]}"; do [[ "$SLOW_FIRST" == *" ${q_name[$i]} "* ]] && [ -z "${q_pre[$i]}" ] || order+=("$i"); done
results="$scratch/.results"
mkdir -p "$results"
shown=0
# show: prints the lines of the finished suites at the head of the queue, in queue order.
show() {
  local r
  while [ "$shown" -lt "${#q_name[@]}" ] && [ -f "$results/$shown" ]; do
    read -r -a r <"$results/$shown"
    report "${q_name[$shown]}" "${r[0]}" "${r[1]}" "${r[2]}" "${r[3]}" "$logdir/${q_name[$shown]}.log"
    shown=$((shown + 1))
  done
}
running() { jobs -rp | wc -l; }
# await: waits until fewer than n suites run (each suite's own timeout bounds it), printing what finished.
await() { # n
  while [ "$(running)" -ge "$1" ]; do wait -n; show; done
  show
}
for i in "${order[@]}"; do
  if [ -n "${q_pre[$i]}" ]; then echo "${q_pre[$i]}" >"$results/$i"; show; continue; fi
  alone=0; [[ "$RUN_ALONE" == *" ${q_name[$i]} "* ]] && alone=1
  if [ "$alone" = 1 ]; then await 1; else await "$jobs_max"; fi
  ( eval "${q_env[$i]:+export ${q_env[$i]};} run_suite \"\$results/\$i\" \"\${q_name[\$i]}\" \"\${q_kind[\$i]}\" ${q_cmd[$i]}" ) \
    </dev/null >/dev/null 2>&1 &
  if [ "$alone" = 1 ]; then await 1; fi
done
await 1
# a suite whose runner died without a result (it cannot, short of a signal) still gets its line
for i in "${!q_name[@]}"; do
  if [ ! -f "$results/$i" ]; then
    echo "FAIL ${q_name[$i]}: its runner ended without a result" >>"$logdir/${q_name[$i]}.log"; echo "0 1 0 0" >"$results/$i"
  fi
done
show

# Nothing left behind in /tmp: new entries since the start, other than this run's scratch directory.
if [[ "tmp_clean" =~ $filter ]]; then
  log="$logdir/tmp_clean.log"
  left=$(comm -13 <(sort <<<"$tmp_before") <(ls -A /tmp 2>/dev/null | sort) | grep -vxF "$(basename "$scratch")")
  if [ -z "$left" ]; then
    echo "PASS tmp_clean (${COFFER_PRIVATE_TMP:+a private /tmp: }nothing new in /tmp)" >"$log"; report tmp_clean 1 0 0 0 "$log"
  else
    echo "FAIL tmp_clean: left in /tmp: $(tr '\n' ' ' <<<"$left")" >"$log"; report tmp_clean 0 1 0 0 "$log"
  fi
fi

echo "logs: $logdir"
if [ "$skipped" -ne 0 ]; then
  echo "${passed} passed, ${failed} failed, ${skipped} skipped"
else
  echo "${passed} passed, ${failed} failed"
fi
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
