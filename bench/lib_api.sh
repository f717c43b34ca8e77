# bench/lib_api.sh: the setup bench_api.sh, bench_api_cluster.sh and bench_agent.sh share; sourced by
# them, not run.
#
# It defines the credentials (KEY, TENANT, the curl header array H), api_require (wrk and curl are
# there), field (a JSON field of stdin without a JSON tool), api_start (one cofferd on a fresh data
# directory and a free loopback port, waiting for its "cofferd ready port=" line) and api_populate
# (1 policy and N protection groups through the REST API, counting the 201 answers). The caller owns
# the work directory W and the array PIDS (every daemon started is added to it, for the caller's
# cleanup trap).

KEY=bench-admin-key-0123456789abcdef
TENANT=bench-tenant
H=(-H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: $TENANT" -H "Content-Type: application/json")

# api_require: exits unless wrk and curl are installed.
api_require() {
  command -v wrk >/dev/null || { echo "bench_api: wrk is required (apt-get install wrk)" >&2; exit 1; }
  command -v curl >/dev/null || { echo "bench_api: curl is required" >&2; exit 1; }
}

# field NAME: the first "NAME":value (string or number) of stdin.
field() { grep -o "\"$1\":\"\{0,1\}[^\",}]*" | head -n1 | sed "s/^\"$1\":\"\{0,1\}//"; }

# api_start LOG BINARY DATADIR [NAME=VALUE...]: starts BINARY on DATADIR with the admin key and the
# given environment, appends its pid to PIDS; sets API_PID and API_PORT (exits if it does not start
# within 10 s).
api_start() {
  local log=$1 bin=$2 dir=$3 port=
  shift 3
  env "$@" COFFER_ADMIN_KEY=$KEY "$bin" --data-dir "$dir" --listen 127.0.0.1:0 >"$log" 2>&1 &
  API_PID=$!
  PIDS+=("$API_PID")
  for _ in $(seq 1 100); do
    port=$(sed -n 's/^cofferd ready port=\([0-9]*\)$/\1/p' "$log" | head -n1)
    [ -n "$port" ] && break
    kill -0 "$API_PID" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "bench_api: $bin did not start" >&2; cat "$log" >&2; exit 1; }
  API_PORT=$port
}

# api_populate BASE NGROUPS CODES LABEL: creates 1 policy and NGROUPS protection groups on the daemon
# at BASE (.../v2/data-protect): kPhysical/kFile groups over this machine registered as a physical
# source, or kSQL groups where registration fails. The HTTP codes go to the file CODES; exits unless
# every group was created. Sets API_POLICY.
api_populate() {
  local base=$1 ngroups=$2 codes=$3 label=$4 policy src host kind start batch args created i j
  policy=$(curl -sf "${H[@]}" -X POST "$base/policies" -d '{"name":"bench-policy","description":"benchmark",
    "backupPolicy":{"regular":{"incremental":{"schedule":{"unit":"Hours","hourSchedule":{"frequency":4}}},
    "retention":{"unit":"Days","duration":30}}},"retryOptions":{"retries":3,"retryIntervalMins":5},
    "blackoutWindow":[{"day":"Sunday","startTime":{"hour":1,"minute":0},"endTime":{"hour":3,"minute":0}}]}' | field id)
  [ -n "$policy" ] || { echo "bench_api: cannot create the policy" >&2; exit 1; }
  src=$(curl -sf "${H[@]}" -X POST "$base/sources/registrations" \
    -d '{"environment":"kPhysical","physicalParams":{"endpoint":"127.0.0.1","hostType":"kLinux"}}' || true)
  host=$(printf '%s' "$src" | field sourceId)
  if [ -n "$host" ]; then
    group_body() { printf '{"name":"bench-group-%d","policyId":"%s","environment":"kPhysical","description":"bench",
      "priority":"kMedium","startTime":{"hour":22,"minute":0},"physicalParams":{"protectionType":"kFile",
      "fileProtectionTypeParams":{"objects":[{"id":%s,"filePaths":[{"includedPath":"/home","excludedPaths":
      ["/home/tmp"]}]}],"globalExcludePaths":["*.swp"]}}}' "$1" "$2" "$3"; }
    kind="kPhysical/kFile over host object $host"
  else # no source registrations: groups that need no registered objects
    group_body() { printf '{"name":"bench-group-%d","policyId":"%s","environment":"kSQL","description":"bench",
      "mssqlParams":{"protectionType":"kNative","nativeProtectionTypeParams":{"objects":[{"id":%d}]}}}' \
      "$1" "$2" "$((1000 + $1))"; }
    kind="kSQL"
  fi
  echo "== ${label}creating 1 policy and $ngroups protection groups ($kind)"
  start=$(date +%s.%N)
  # One curl process for many requests (--next), in batches.
  batch=100
  for ((i = 1; i <= ngroups; i += batch)); do
    args=()
    for ((j = i; j < i + batch && j <= ngroups; j++)); do
      [ "$j" -gt "$i" ] && args+=(--next)
      args+=(-s -o /dev/null -w '%{http_code}\n' "${H[@]}" -X POST "$base/protection-groups" \
        -d "$(group_body "$j" "$policy" "$host")")
    done
    curl "${args[@]}" >>"$codes"
  done
  created=$(grep -c '^201$' "$codes" || true)
  echo "created $created groups in $(echo "$(date +%s.%N) - $start" | bc -l | xargs printf '%.1f') s"
  [ "$created" -eq "$ngroups" ] || { echo "bench_api: only $created of $ngroups groups were created" >&2; exit 1; }
  API_POLICY=$policy
}
