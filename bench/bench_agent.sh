#!/usr/bin/env bash
# bench_agent.sh: backups through coffer-agent against the local agent, on one cofferd.
#
# Starts the release cofferd (build/cofferd) on a fresh data directory and a free loopback port
# (COFFER_AGENT_HEARTBEAT_SECS=1), makes two trees of MB MiB each (random files of 4 MiB), registers
# two coffer-agents (build/coffer-agent, separate state directories, host names bench-a.test and
# bench-b.test) with registration tokens, and measures:
#   1. both agents backing up their trees at once (two groups run together): wall time and MB/s;
#   2. the local agent backing up two trees of the same size and kind (fresh random data, so nothing
#      deduplicates against step 1) at once (groups on 127.0.0.1);
#   3. an unchanged re-backup through each agent: the wire bytes and blob bytes the agent logged,
#      against the data size (target: under 1%);
#   4. cofferd's CPU (user + system, /proc/PID/stat) per GiB received during step 1.
# Not a test: nothing is asserted. Run it alone (it loads both cores).
#
#   bench/bench_agent.sh [MB]      (default 256)
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-256}
. bench/lib_api.sh
command -v curl >/dev/null || { echo "bench_agent: curl is required" >&2; exit 1; }
make -s build/cofferd build/coffer-agent

W=$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench-agent-XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT

api_start "$W/cofferd.log" build/cofferd "$W/data" COFFER_AGENT_HEARTBEAT_SECS=1
DPID=$API_PID
URL=http://127.0.0.1:$API_PORT
post() { curl -sf "${H[@]}" -X POST "$URL$1" -d "$2"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$DPID/stat"; }

# the trees
for h in a b c d; do
  mkdir -p "$W/host-$h/data"
  for i in $(seq 1 $((MB / 4))); do head -c $((4 << 20)) /dev/urandom >"$W/host-$h/data/f$i.bin"; done
done

POLICY=$(post /v2/data-protect/policies '{"name":"p","backupPolicy":{"regular":{"incremental":{"schedule":
  {"unit":"Days","daySchedule":{"frequency":1}}},"retention":{"unit":"Days","duration":7}}}}' | field id)
CONN=$(post /v2/data-source-connections '{"connectionName":"bench"}' | field connectionId)

group() { # name host-id dir -> group id
  post /v2/data-protect/protection-groups "{\"name\":\"$1\",\"policyId\":\"$POLICY\",\"environment\":\"kPhysical\",
    \"physicalParams\":{\"protectionType\":\"kFile\",\"fileProtectionTypeParams\":{\"objects\":[{\"id\":$2,
    \"filePaths\":[{\"includedPath\":\"$3\"}]}]}}}" | field id
}
run_start() { post "/v2/data-protect/protection-groups/$1/runs" '{"runType":"kRegular"}' | field runId; }
run_wait() { # group run
  for _ in $(seq 1 36000); do
    st=$(curl -sf "${H[@]}" "$URL/v2/data-protect/protection-groups/$1/runs/$2" | grep -o '"status":"[A-Za-z]*"' | head -n1 | cut -d'"' -f4)
    case "$st" in Succeeded) return 0 ;; Failed|Canceled) echo "bench_agent: run $2 $st" >&2; return 1 ;; esac
    sleep 0.2
  done
  return 1
}

declare -A GROUP
for h in a b; do
  TOK=$(curl -sf "${H[@]}" -X POST "$URL/v2/data-source-connections/$CONN/registrationToken" | tr -d '"')
  build/coffer-agent register --server "$URL" --token "$TOK" --state-dir "$W/state-$h" --hostname "bench-$h.test" >/dev/null
  build/coffer-agent run --state-dir "$W/state-$h" --hostname "bench-$h.test" 2>"$W/agent-$h.err" &
  PIDS+=("$!")
done
sleep 3
for h in a b; do
  HOST=$(post /v2/data-protect/sources/registrations "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":
    \"bench-$h.test\",\"hostType\":\"kLinux\"}}" | field id)
  GROUP[$h]=$(group "agent-$h" "$HOST" "$W/host-$h/data")
done
LOCAL=$(post /v2/data-protect/sources/registrations '{"environment":"kPhysical","physicalParams":{"endpoint":"127.0.0.1",
  "hostType":"kLinux"}}' | field id)
GL_A=$(group local-c "$LOCAL" "$W/host-c/data")
GL_B=$(group local-d "$LOCAL" "$W/host-d/data")

echo "data: 2 trees of $MB MiB"
# 1. both agents at once
C0=$(cpu_ticks); T0=$(date +%s.%N)
RA=$(run_start "${GROUP[a]}"); RB=$(run_start "${GROUP[b]}")
run_wait "${GROUP[a]}" "$RA"; run_wait "${GROUP[b]}" "$RB"
T1=$(date +%s.%N); C1=$(cpu_ticks)
HZ=$(getconf CLK_TCK)
awk -v t0="$T0" -v t1="$T1" -v mb="$MB" 'BEGIN { printf "two agents at once:   %.1f s, %.1f MiB/s\n", t1 - t0, 2 * mb / (t1 - t0) }'
awk -v c="$((C1 - C0))" -v hz="$HZ" -v mb="$MB" 'BEGIN { printf "cofferd CPU:          %.2f s per GiB received\n", c / hz / (2 * mb / 1024) }'
# 2. the local agent on the same data
T0=$(date +%s.%N)
RA=$(run_start "$GL_A"); RB=$(run_start "$GL_B")
run_wait "$GL_A" "$RA"; run_wait "$GL_B" "$RB"
T1=$(date +%s.%N)
awk -v t0="$T0" -v t1="$T1" -v mb="$MB" 'BEGIN { printf "local agent, same load: %.1f s, %.1f MiB/s\n", t1 - t0, 2 * mb / (t1 - t0) }'
# 3. unchanged re-backups
for h in a b; do
  R=$(run_start "${GROUP[$h]}"); run_wait "${GROUP[$h]}" "$R"
done
sleep 1
for h in a b; do
  line=$(grep "bytes sent" "$W/state-$h/agent.log" | tail -n1)
  sent=$(printf '%s' "$line" | sed -n 's/.*bytes sent \([0-9]*\).*/\1/p')
  wire=$(printf '%s' "$line" | sed -n 's/.*wire bytes \([0-9]*\).*/\1/p')
  awk -v s="$sent" -v w="$wire" -v mb="$MB" -v h="$h" 'BEGIN { printf "unchanged re-backup %s: blob bytes %d, wire bytes %d = %.3f%% of the data (target < 1%%)\n", h, s, w, 100 * w / (mb * 1048576) }'
done
