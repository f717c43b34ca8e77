#!/usr/bin/env bash
# bench_search.sh: indexed file search with a large index, through the HTTP API.
#
# Builds the release cofferd and bench/bench_search.c (against build/libcoffer.a), fills a fresh
# data directory's file index with N synthetic paths of one snapshot through the catalog's own
# functions (what the indexer writes after backing up such a tree), starts cofferd on it, and times
# Q substring searches (POST /v2/data-protect/search/indexed-objects, page of 100, one keep-alive
# connection): p50 / p90 / p99 / max overall and for narrow, medium and broad queries.
# Target: 1,000,000 indexed paths, substring query p99 < 50 ms. Not a test: nothing is asserted.
#
#   bench/bench_search.sh [N] [Q]          (defaults 1000000 200)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
Q=${2:-200}
KEY=bench-admin-key-0123456789abcdef
TENANT=bench-tenant
PKGS="libmicrohttpd jansson sqlite3 libpq libcrypto libzstd libcurl"
make -s build/cofferd build/libcoffer.a
cc -std=c17 -D_GNU_SOURCE -O2 -Isrc -o build/bench_search bench/bench_search.c build/libcoffer.a \
   $(pkg-config --cflags --libs $PKGS) -lpthread -lm

W=$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench-search-XXXXXX")
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/data"
echo "filling the index with $N paths ..."
build/bench_search fill "$W/data" "$TENANT" "$N"
ls -l "$W/data/catalog.db" | awk '{printf "catalog.db: %.0f MiB\n", $5/1048576}'

COFFER_ADMIN_KEY=$KEY build/cofferd --data-dir "$W/data" --listen 127.0.0.1:0 >"$W/log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/^cofferd ready port=\([0-9]*\)$/\1/p' "$W/log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "${PORT:-}" ] || { echo "cofferd did not start"; cat "$W/log"; exit 1; }
build/bench_search query "http://127.0.0.1:$PORT" "$KEY" "$TENANT" "$Q"
