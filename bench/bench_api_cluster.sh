#!/usr/bin/env bash
# bench_api_cluster.sh: HTTP throughput and latency of the policy and protection-group read paths on
# SQLite, on PostgreSQL, and on several nodes sharing one PostgreSQL catalog (bench_api.sh measures the
# read paths of one build, or compares builds, on one node).
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
#   bench/bench_api_cluster.sh [--pg] [--nodes K] [GROUPS] [CONNECTIONS] [DURATION]     (defaults 1000 64 10s)
#   bench/bench_api_cluster.sh --compare [GROUPS] [CONNECTIONS] [DURATION]
#
# --pg: the catalog on a private PostgreSQL 15 server (Debian's /usr/lib/postgresql/15/bin, in the work
# directory on a unix socket, run as the postgres user when root). --nodes K (with --pg): K cofferd
# nodes on that one catalog (COFFER_SHARED_CATALOG=1, each with its own data directory); wrk runs
# against every node at once (CONNECTIONS split between them, one wrk thread each) and the figures are
# the sum of requests/s and the worst p99. --compare: in one run on this machine, SQLite with one node,
# PostgreSQL with one node and PostgreSQL with three nodes, each measured the same way as the last
# (one wrk per node), then the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE=sqlite
NODES=1
COMPARE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --pg) ENGINE=pg; shift ;;
    --nodes) NODES=$2; shift 2 ;;
    --compare) COMPARE=1; shift ;;
    *) break ;;
  esac
done
NGROUPS=${1:-1000}
CONNS=${2:-64}
DUR=${3:-10s}
. bench/lib_api.sh
api_require
[ "$NODES" -ge 1 ] && [ "$NODES" -le 8 ] || { echo "bench_api: --nodes takes 1 to 8" >&2; exit 2; }
[ "$NODES" -eq 1 ] || [ "$ENGINE" = pg ] || { echo "bench_api: --nodes needs --pg (a shared catalog)" >&2; exit 2; }
make -s build/cofferd

if [ "$COMPARE" = 1 ]; then # three runs of this script, the same way, then the ratios
  R=$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench-cmp-XXXXXX")
  trap 'rm -rf "$R"' EXIT
  for cfg in "sqlite 1" "pg 1" "pg 3"; do
    set -- $cfg
    echo "==== catalog $1, $2 node(s)"
    args=(--nodes "$2"); [ "$1" = pg ] && args+=(--pg)
    "$0" "${args[@]}" "$NGROUPS" "$CONNS" "$DUR" --each-node | tee "$R/$1-$2.txt"
  done
  rps() { awk -v k="$2" '$0 ~ k {for (i = 1; i <= NF; i++) if ($i == "req/s") print $(i - 1)}' "$R/$1.txt" | head -n1; }
  echo "==== ratios (requests/s)"
  for k in "GET /policies" "GET /protection-groups .*-c$CONNS"; do
    a=$(rps sqlite-1 "$k"); b=$(rps pg-1 "$k"); c=$(rps pg-3 "$k")
    printf '%-28s PostgreSQL/SQLite (1 node) %s   3 nodes/1 node (PostgreSQL) %s\n' "${k%% .*}" \
      "$(echo "$b / $a" | bc -l | xargs printf '%.2f')" "$(echo "$c / $b" | bc -l | xargs printf '%.2f')"
  done
  exit 0
fi
EACH=0
[ "${4:-}" = --each-node ] && EACH=1

W=$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench-api-XXXXXX")
PIDS=()
PGBIN=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -f "$W/pg/postmaster.pid" ]; then as_pg $PGBIN/pg_ctl -D "$W/pg" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$W"
}
trap cleanup EXIT

NODE_ENV=()
if [ "$ENGINE" = pg ]; then
  mkdir -p "$W/sock"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$W" && chmod 0755 "$W"
  as_pg $PGBIN/initdb -D "$W/pg" -U postgres -A trust --no-sync >/dev/null
  printf "listen_addresses = ''\nunix_socket_directories = '%s'\nport = 5432\nshared_buffers = 128MB\nmax_connections = 400\n" \
    "$W/sock" >>"$W/pg/postgresql.conf"
  as_pg $PGBIN/pg_ctl -D "$W/pg" -l "$W/pg.log" -w -t 60 start >/dev/null
  as_pg psql -h "$W/sock" -U postgres -qAtX -c "CREATE DATABASE coffer" postgres
  NODE_ENV=(COFFER_CATALOG="host=$W/sock port=5432 user=postgres dbname=coffer")
  [ "$NODES" -gt 1 ] && NODE_ENV+=(COFFER_SHARED_CATALOG=1)
fi

# start_node K: cofferd number K on its own data directory; its port in PORTS[K].
PORTS=()
start_node() {
  local k=$1
  mkdir -p "$W/data$k"
  [ "$k" -gt 0 ] && cp "$W/data0/repo.key" "$W/data$k/repo.key" 2>/dev/null || true
  api_start "$W/cofferd$k.log" build/cofferd "$W/data$k" "${NODE_ENV[@]}"
  PORTS[$k]=$API_PORT
}
for ((k = 0; k < NODES; k++)); do start_node "$k"; done
PORT=${PORTS[0]}
BASE=http://127.0.0.1:$PORT/v2/data-protect
api_populate "$BASE" "$NGROUPS" "$W/codes" ""
POLICY=$API_POLICY
LIST_BYTES=$(curl -sf "${H[@]}" "$BASE/protection-groups" | wc -c)
POLICY_BYTES=$(curl -sf "${H[@]}" "$BASE/policies/$POLICY" | wc -c)

# run_wrk tag threads connections name path: wrk on every node at once (connections split between
# them; with one node and without --each-node, as many threads as asked), the sum of requests/s and
# the worst p99.
run_wrk() {
  local tag=$1 th=$2 conns=$3 name=$4 path=$5 k c t rps=0 p99 worst="" avg
  local n=${#PORTS[@]} wpids=()
  for ((k = 0; k < n; k++)); do
    c=$(( (conns + n - 1 - k) / n )); [ "$c" -ge 1 ] || c=1
    t=$th; { [ "$n" -gt 1 ] || [ "$EACH" = 1 ]; } && t=1
    [ "$t" -gt "$c" ] && t=$c
    wrk -t"$t" -c"$c" -d"$DUR" --latency -H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: $TENANT" \
      "http://127.0.0.1:${PORTS[$k]}/v2/data-protect$path" >"$W/wrk-$tag-$k.txt" &
    wpids+=($!)
  done
  wait "${wpids[@]}" || true
  for ((k = 0; k < n; k++)); do
    if grep -q 'Non-2xx' "$W/wrk-$tag-$k.txt"; then echo "bench_api: $name had non-2xx answers on node $k" >&2; fi
    rps=$(echo "$rps + $(awk '/^Requests\/sec:/ {print $2}' "$W/wrk-$tag-$k.txt")" | bc -l)
    p99=$(awk '$1 == "99%" {print $2}' "$W/wrk-$tag-$k.txt")
    avg=$(awk '$1 == "Latency" {print $2; exit}' "$W/wrk-$tag-$k.txt")
    worst="$worst $p99"
  done
  printf '%-58s -c%-3s x%d node(s) %10.2f req/s   avg(node 0) %-8s p99 per node%s\n' "$name" "$conns" "$n" "$rps" "$avg" "$worst"
}

echo "== wrk -d$DUR --latency (catalog $ENGINE, $NODES node(s))"
run_wrk policy 2 "$CONNS" "GET /policies/{id} ($POLICY_BYTES bytes)" "/policies/$POLICY"
run_wrk groups 2 "$CONNS" "GET /protection-groups ($NGROUPS groups, $LIST_BYTES bytes)" "/protection-groups"
# The list moves about 0.6 KB per group: with CONNS connections in flight its latency is bound by the
# loopback byte rate two cores can copy (server and wrk share them), whatever the server does. So the
# list is also measured with fewer connections and a single one.
run_wrk groups-c8 2 8 "GET /protection-groups ($NGROUPS groups, $LIST_BYTES bytes)" "/protection-groups"
run_wrk groups-c1 1 1 "GET /protection-groups ($NGROUPS groups, $LIST_BYTES bytes)" "/protection-groups"
