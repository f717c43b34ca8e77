#!/usr/bin/env bash
# bench_api.sh: HTTP throughput and latency of the policy and protection-group read paths.
#
# Starts the release cofferd (build/cofferd) on a fresh temporary data directory and a free loopback
# port, registers this machine as a physical source, creates 1 policy and N protection groups (kFile
# over the registered host; default 1,000), then runs wrk on
#   GET /v2/data-protect/policies/{id}        (one policy)
#   GET /v2/data-protect/protection-groups    (the list of all N groups)
# with the Authorization and X-IBM-Tenant-Id headers, and prints requests/s and p99 latency of each.
# Targets: policy GET >= 20,000 req/s at p99 < 10 ms; group list p99 < 20 ms. Not a test: nothing is
# asserted.
#
#   bench/bench_api.sh [GROUPS] [CONNECTIONS] [DURATION]     (defaults 1000 64 10s)
set -euo pipefail
cd "$(dirname "$0")/.."
NGROUPS=${1:-1000}
CONNS=${2:-64}
DUR=${3:-10s}
KEY=bench-admin-key-0123456789abcdef
TENANT=bench-tenant
command -v wrk >/dev/null || { echo "bench_api: wrk is required (apt-get install wrk)" >&2; exit 1; }
command -v curl >/dev/null || { echo "bench_api: curl is required" >&2; exit 1; }
make -s build/cofferd

W=$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench-api-XXXXXX")
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT

COFFER_ADMIN_KEY=$KEY build/cofferd --data-dir "$W/data" --listen 127.0.0.1:0 >"$W/cofferd.log" 2>&1 &
PID=$!
PORT=
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/^cofferd ready port=\([0-9]*\)$/\1/p' "$W/cofferd.log" | head -n1)
  [ -n "$PORT" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$W/cofferd.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$PORT" ] || { echo "bench_api: cofferd did not start" >&2; cat "$W/cofferd.log" >&2; exit 1; }
BASE=http://127.0.0.1:$PORT/v2/data-protect
H=(-H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: $TENANT" -H "Content-Type: application/json")

# field NAME: the first "NAME":value (string or number) of stdin.
field() { grep -o "\"$1\":\"\{0,1\}[^\",}]*" | head -n1 | sed "s/^\"$1\":\"\{0,1\}//"; }

POLICY=$(curl -sf "${H[@]}" -X POST "$BASE/policies" -d '{"name":"bench-policy","description":"benchmark",
  "backupPolicy":{"regular":{"incremental":{"schedule":{"unit":"Hours","hourSchedule":{"frequency":4}}},
  "retention":{"unit":"Days","duration":30}}},"retryOptions":{"retries":3,"retryIntervalMins":5},
  "blackoutWindow":[{"day":"Sunday","startTime":{"hour":1,"minute":0},"endTime":{"hour":3,"minute":0}}]}' | field id)
[ -n "$POLICY" ] || { echo "bench_api: cannot create the policy" >&2; exit 1; }

SRC=$(curl -sf "${H[@]}" -X POST "$BASE/sources/registrations" \
  -d '{"environment":"kPhysical","physicalParams":{"endpoint":"127.0.0.1","hostType":"kLinux"}}' || true)
HOST=$(printf '%s' "$SRC" | field sourceId)
if [ -n "$HOST" ]; then
  group_body() { printf '{"name":"bench-group-%d","policyId":"%s","environment":"kPhysical","description":"bench",
    "priority":"kMedium","startTime":{"hour":22,"minute":0},"physicalParams":{"protectionType":"kFile",
    "fileProtectionTypeParams":{"objects":[{"id":%s,"filePaths":[{"includedPath":"/home","excludedPaths":
    ["/home/tmp"]}]}],"globalExcludePaths":["*.swp"]}}}' "$1" "$POLICY" "$HOST"; }
  KIND="kPhysical/kFile over host object $HOST"
else # no source registrations: groups that need no registered objects
  group_body() { printf '{"name":"bench-group-%d","policyId":"%s","environment":"kSQL","description":"bench",
    "mssqlParams":{"protectionType":"kNative","nativeProtectionTypeParams":{"objects":[{"id":%d}]}}}' \
    "$1" "$POLICY" "$((1000 + $1))"; }
  KIND="kSQL"
fi

echo "== creating 1 policy and $NGROUPS protection groups ($KIND)"
start=$(date +%s.%N)
# One curl process for many requests (--next), in batches.
batch=100
for ((i = 1; i <= NGROUPS; i += batch)); do
  args=()
  for ((j = i; j < i + batch && j <= NGROUPS; j++)); do
    [ "$j" -gt "$i" ] && args+=(--next)
    args+=(-s -o /dev/null -w '%{http_code}\n' "${H[@]}" -X POST "$BASE/protection-groups" -d "$(group_body "$j")")
  done
  curl "${args[@]}" >>"$W/codes"
done
created=$(grep -c '^201$' "$W/codes" || true)
echo "created $created groups in $(echo "$(date +%s.%N) - $start" | bc -l | xargs printf '%.1f') s"
[ "$created" -eq "$NGROUPS" ] || { echo "bench_api: only $created of $NGROUPS groups were created" >&2; exit 1; }
LIST_BYTES=$(curl -sf "${H[@]}" "$BASE/protection-groups" | wc -c)
POLICY_BYTES=$(curl -sf "${H[@]}" "$BASE/policies/$POLICY" | wc -c)

run_wrk() { # tag threads connections name url
  local out rps p99 avg
  out=$(wrk -t"$2" -c"$3" -d"$DUR" --latency -H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: $TENANT" "$5")
  printf '%s\n' "$out" >"$W/wrk-$1.txt"
  if printf '%s\n' "$out" | grep -q 'Non-2xx'; then echo "bench_api: $4 had non-2xx answers" >&2; printf '%s\n' "$out" >&2; fi
  rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ {print $2}')
  avg=$(printf '%s\n' "$out" | awk '$1 == "Latency" {print $2; exit}')
  p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
  printf '%-58s -t%s -c%-3s %10s req/s   avg %-8s p99 %s\n' "$4" "$2" "$3" "$rps" "$avg" "$p99"
}

echo "== wrk -d$DUR --latency"
run_wrk policy 2 "$CONNS" "GET /policies/{id} ($POLICY_BYTES bytes)" "$BASE/policies/$POLICY"
run_wrk groups 2 "$CONNS" "GET /protection-groups ($NGROUPS groups, $LIST_BYTES bytes)" "$BASE/protection-groups"
# The list moves about 0.6 KB per group: with CONNS connections in flight its latency is bound by the
# loopback byte rate two cores can copy (server and wrk share them), whatever the server does. So the
# list is also measured with fewer connections and a single one.
run_wrk groups-c8 2 8 "GET /protection-groups ($NGROUPS groups, $LIST_BYTES bytes)" "$BASE/protection-groups"
run_wrk groups-c1 1 1 "GET /protection-groups ($NGROUPS groups, $LIST_BYTES bytes)" "$BASE/protection-groups"
