#!/usr/bin/env bash
# bench_api.sh: HTTP throughput and latency of the policy and protection-group read paths.
#
# Starts the release cofferd (build/cofferd) on a fresh temporary data directory and a free loopback
# port, registers this machine as a physical source, creates 1 policy and N protection groups (kFile
# over the registered host; default 1,000), then runs wrk on
#   GET /v2/data-protect/policies/{id}        (one policy)
#   GET /v2/data-protect/protection-groups    (the list of all N groups; also with 8 and 1 connections)
#   GET /v2/data-protect/protection-groups?includeLastRunInfo=true   (the list with last runs)
#   GET /v2/data-protect/policies             (the list of policies)
#   GET /v2/data-protect/sources/registrations and GET .../protection-groups/{id}/runs (small lists)
# with the Authorization and X-IBM-Tenant-Id headers, and GET /healthz (no key, one cheap catalog query,
# a few hundred bytes: the floor
# any route can reach under the same connections and machine load), and prints requests/s, p50 and
# p99 latency of each, and the daemon's CPU time (user + system) per request, which the load of other
# processes on the machine changes much less than the latencies (the load average is printed per round),
# with wrk's own CPU per request and the mean latency both together allow on this machine's cores at
# that many connections ("mean floor": connections x (daemon + client CPU per request) / cores).
# Targets: policy GET >= 20,000 req/s at p99 < 10 ms; group list p99 < 20 ms. Not a test: nothing is
# asserted.
#
#   bench/bench_api.sh [GROUPS] [CONNECTIONS] [DURATION]     (defaults 1000 64 10s)
#
# Environment:
#   COFFERD="build/cofferd /tmp/old-cofferd"   daemons to compare (default build/cofferd); each gets its
#                                              own data directory with the same groups
#   REPEAT=3                                   rounds; each round runs every daemon once, in turn, so a
#                                              comparison shares the machine's load (the spread is shown)
#   PERF=1                                     perf record -g on the daemon during the 64-connection list
#                                              (the report's top lines are printed; perf must be installed)
set -euo pipefail
cd "$(dirname "$0")/.."
NGROUPS=${1:-1000}
CONNS=${2:-64}
DUR=${3:-10s}
REPEAT=${REPEAT:-1}
. bench/lib_api.sh
api_require
if [ -z "${COFFERD:-}" ]; then
  make -s build/cofferd
  COFFERD=build/cofferd
fi
read -r -a BINS <<<"$COFFERD"
for b in "${BINS[@]}"; do [ -x "$b" ] || { echo "bench_api: $b is not an executable" >&2; exit 1; }; done

W=$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench-api-XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT

# start N BINARY: starts daemon N on its own data directory; sets PID_N, BASE_N.
start() {
  api_start "$W/cofferd$1.log" "$2" "$W/data$1"
  eval "PID_$1=$API_PID BASE_$1=http://127.0.0.1:$API_PORT/v2/data-protect"
}

# populate N: 1 policy and NGROUPS groups on daemon N; sets POLICY_N.
populate() {
  api_populate "$(eval echo "\$BASE_$1")" "$NGROUPS" "$W/codes$1" "${BINS[$1]}: "
  eval "POLICY_$1=$API_POLICY"
}

run_wrk() { # daemon tag threads connections name url
  local out rps p50 p99 avg pid cpu0 cpu1 reqs cpu client both floor TIMEFORMAT='%U %S'
  pid=$(eval echo "\$PID_$1")
  cpu0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  # (bash's time: the CPU (user, system) wrk itself spent, into wrk-time-*.txt)
  { time out=$(wrk -t"$3" -c"$4" -d"$DUR" --latency -H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: $TENANT" "$6"); } \
    2>"$W/wrk-time-$1-$2.txt"
  cpu1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  printf '%s\n' "$out" >"$W/wrk-$1-$2.txt"
  if printf '%s\n' "$out" | grep -q 'Non-2xx'; then echo "bench_api: $5 had non-2xx answers" >&2; printf '%s\n' "$out" >&2; fi
  rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}')
  avg=$(printf '%s\n' "$out" | awk '$1 == "Latency" {print $2; exit}')
  p50=$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')
  p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
  # the daemon's CPU (user + system) per answered request: what the machine's load does not change much
  reqs=$(printf '%s\n' "$out" | awk '/requests in/ {print $1}')
  cpu=$(awk -v d="$((cpu1 - cpu0))" -v t="$(getconf CLK_TCK)" -v r="${reqs:-0}" \
    'BEGIN { if (r > 0) printf "%.1f", d * 1e6 / t / r; else print "-" }')
  # The client's CPU per request too: server and wrk share the machine's cores, so together they
  # bound the rate (cores / both) and, by Little's law, the mean latency at this many connections
  # (connections / that rate): the "floor" a faster server alone cannot go under.
  client=$(awk -v r="${reqs:-0}" 'NF == 2 { if (r > 0) printf "%.1f", ($1 + $2) * 1e6 / r; else print "-" }' \
    "$W/wrk-time-$1-$2.txt")
  both=$(awk -v a="$cpu" -v b="${client:--}" 'BEGIN { if (a != "-" && b != "-") printf "%.1f", a + b; else print "-" }')
  floor=$(awk -v u="$both" -v c="$4" -v n="$(nproc)" \
    'BEGIN { if (u != "-" && u > 0) printf "%.2fms", c * u / n / 1000; else print "-" }')
  printf '  %-58s -t%s -c%-3s %10s req/s   avg %-8s p50 %-8s p99 %-9s cpu %s us/req (client %s, mean floor %s)\n' \
    "$5" "$3" "$4" "$rps" "$avg" "$p50" "$p99" "$cpu" "${client:--}" "$floor"
}

# measure N: the wrk runs against daemon N.
measure() {
  local n=$1 base policy list_bytes last_bytes pol_bytes policies_bytes sources_bytes group runs_bytes perf_pid=
  base=$(eval echo "\$BASE_$n")
  policy=$(eval echo "\$POLICY_$n")
  list_bytes=$(curl -sf "${H[@]}" "$base/protection-groups" | wc -c)
  last_bytes=$(curl -sf "${H[@]}" "$base/protection-groups?includeLastRunInfo=true" | wc -c)
  pol_bytes=$(curl -sf "${H[@]}" "$base/policies/$policy" | wc -c)
  policies_bytes=$(curl -sf "${H[@]}" "$base/policies" | wc -c)
  sources_bytes=$(curl -sf "${H[@]}" "$base/sources/registrations" | wc -c)
  group=$(curl -sf "${H[@]}" "$base/protection-groups?names=bench-group-1" | field id)
  runs_bytes=$(curl -sf "${H[@]}" "$base/protection-groups/$group/runs" | wc -c)
  echo "== ${BINS[$n]}, round $2: wrk -d$DUR --latency; load average $(cut -d' ' -f1-3 /proc/loadavg)"
  # The floor: a trivial route (no key, one cheap query, a few bytes) under the same connections and load.
  run_wrk "$n" healthz 2 "$CONNS" "GET /healthz (the floor)" "${base%/v2/data-protect}/healthz"
  run_wrk "$n" policy 2 "$CONNS" "GET /policies/{id} ($pol_bytes bytes)" "$base/policies/$policy"
  if [ "${PERF:-}" = 1 ]; then
    perf record -g -o "$W/perf$n.data" -p "$(eval echo "\$PID_$n")" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  run_wrk "$n" groups 2 "$CONNS" "GET /protection-groups ($NGROUPS groups, $list_bytes bytes)" "$base/protection-groups"
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"; wait "$perf_pid" || true
    # (head closes the pipe early: under pipefail that is not a failure of the bench)
    { perf report -i "$W/perf$n.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | grep '%' |
      head -n 25; } || true
  fi
  # The list moves about 0.6 KB per group: with CONNS connections in flight its latency is bound by the
  # loopback byte rate two cores can copy (server and wrk share them), whatever the server does. So the
  # list is also measured with fewer connections and a single one.
  run_wrk "$n" groups-c8 2 8 "GET /protection-groups ($NGROUPS groups, $list_bytes bytes)" "$base/protection-groups"
  run_wrk "$n" groups-c1 1 1 "GET /protection-groups ($NGROUPS groups, $list_bytes bytes)" "$base/protection-groups"
  run_wrk "$n" groups-last 2 "$CONNS" "GET /protection-groups?includeLastRunInfo=true ($last_bytes bytes)" \
    "$base/protection-groups?includeLastRunInfo=true"
  run_wrk "$n" groups-last-c1 1 1 "GET /protection-groups?includeLastRunInfo=true ($last_bytes bytes)" \
    "$base/protection-groups?includeLastRunInfo=true"
  run_wrk "$n" policies 2 "$CONNS" "GET /policies ($policies_bytes bytes)" "$base/policies"
  # Smaller lists, for their p99 (the bench makes no runs: a run backs up real files).
  run_wrk "$n" sources 2 "$CONNS" "GET /sources/registrations ($sources_bytes bytes)" "$base/sources/registrations"
  run_wrk "$n" runs 2 "$CONNS" "GET /protection-groups/{id}/runs ($runs_bytes bytes)" "$base/protection-groups/$group/runs"
}

for n in "${!BINS[@]}"; do
  start "$n" "${BINS[$n]}"
  populate "$n"
done
# While one daemon is measured the others are stopped (SIGSTOP), so that their background work (the
# scheduler's passes over the groups) does not load the machine.
pause_others() { # n signal
  for m in "${!BINS[@]}"; do [ "$m" = "$1" ] || kill -"$2" "$(eval echo "\$PID_$m")"; done
}
for ((r = 1; r <= REPEAT; r++)); do
  for n in "${!BINS[@]}"; do
    pause_others "$n" STOP
    measure "$n" "$r"
    pause_others "$n" CONT
  done
done
