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
#   bench/bench_search.sh [--pg] [N] [Q]   (defaults 1000000 200)
#
# --pg: the catalog on PostgreSQL 15 (Debian's /usr/lib/postgresql/15/bin; a private server in the
# work directory on a unix socket, run as the postgres user when root), searched through its pg_trgm
# GIN indexes; otherwise the default SQLite catalog.db with its FTS5 trigram tables.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE=sqlite
if [ "${1:-}" = --pg ]; then ENGINE=pg; shift; fi
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
PGBIN=/usr/lib/postgresql/15/bin
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  if [ -f "$W/pg/postmaster.pid" ]; then as_pg $PGBIN/pg_ctl -D "$W/pg" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/data"
CATALOG_ARGS=()
if [ "$ENGINE" = pg ]; then
  mkdir -p "$W/sock"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$W" && chmod 0755 "$W"
  as_pg $PGBIN/initdb -D "$W/pg" -U postgres -A trust --no-sync >/dev/null
  printf "listen_addresses = ''\nunix_socket_directories = '%s'\nport = 5432\nshared_buffers = 128MB\nmax_connections = 100\n" \
    "$W/sock" >>"$W/pg/postgresql.conf"
  as_pg $PGBIN/pg_ctl -D "$W/pg" -l "$W/pg.log" -w -t 60 start >/dev/null
  as_pg psql -h "$W/sock" -U postgres -qAtX -c "CREATE DATABASE coffer" postgres
  export COFFER_CATALOG="host=$W/sock port=5432 user=postgres dbname=coffer"
  CATALOG_ARGS=(--catalog "$COFFER_CATALOG")
fi
echo "filling the index with $N paths ($ENGINE) ..."
build/bench_search fill "$W/data" "$TENANT" "$N"
if [ "$ENGINE" = pg ]; then
  as_pg psql -h "$W/sock" -U postgres -qAtX -c "VACUUM ANALYZE" coffer
  as_pg psql -h "$W/sock" -U postgres -qAtX -c "SELECT 'catalog database: ' || pg_database_size('coffer') / 1048576 || ' MiB'" coffer
else
  ls -l "$W/data/catalog.db" | awk '{printf "catalog.db: %.0f MiB\n", $5/1048576}'
fi

COFFER_ADMIN_KEY=$KEY build/cofferd --data-dir "$W/data" --listen 127.0.0.1:0 "${CATALOG_ARGS[@]}" >"$W/log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  PORT=$(sed -n 's/^cofferd ready port=\([0-9]*\)$/\1/p' "$W/log")
  [ -n "$PORT" ] && break
  sleep 0.1
done
[ -n "${PORT:-}" ] || { echo "cofferd did not start"; cat "$W/log"; exit 1; }
build/bench_search query "http://127.0.0.1:$PORT" "$KEY" "$TENANT" "$Q"
