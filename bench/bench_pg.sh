#!/usr/bin/env bash
# bench_pg.sh: Coffer's PostgreSQL protection against pg_basebackup and pgBackRest, side by side, in one run.
#
# Instance: a private PostgreSQL 15 (Debian's packages) initialised in WORKDIR, loaded with pgbench at scale
# SCALE (default 100: about 1.5 GB). Phases:
#   base backup   coffer kFull run (REST API, release build)  |  pg_basebackup -Fp -X stream (uncompressed,
#                 to a local directory)  |  pgbackrest backup --type=full (compress-type=zst)
#   PITR restore  to a moment after a pgbench -T burst that follows the base backup: coffer recovery of the
#                 instance to a new data directory and port (started, accepts queries)  |  pgbackrest restore
#                 --type=time into a new directory + server start until it accepts queries
#   one database  coffer: the pgbench database restored under a new name beside the original (mssqlParams
#                 RecoverApps: private server + pg_dump/pg_restore), timed from the POST to Succeeded
#   one table     coffer: pgbench_accounts copied under a new name beside the original (the site restore API,
#                 run_as_a_copy_job with rename_to), timed from the POST to COMPLETED
# Every restored copy is checked (row count of pgbench_accounts and the sum of pgbench_history deltas equal
# to the source's at the target moment). Prints absolute figures and ratios. Not a test: nothing is
# asserted; a check that does not hold is printed as MISMATCH.
#
#   bench/bench_pg.sh [WORKDIR] [SCALE]     (default /tmp/coffer-bench-pg, 100; needs ~12 GB free)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/coffer-bench-pg}
SCALE=${2:-100}
BIN=/usr/lib/postgresql/15/bin
PORT_SRC=56001 PORT_COFFER=56002 PORT_BR=56003
command -v jq >/dev/null && command -v pgbackrest >/dev/null && [ -x /usr/bin/time ] || {
  apt-get install -y -qq jq pgbackrest time bc >/dev/null; }
make -s -j"$(nproc)" all

as_pg() { runuser -u postgres -- "$@"; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
declare -A T

cleanup() {
  for d in "$W/src" "$W/br-restore"; do [ -f "$d/postmaster.pid" ] && as_pg $BIN/pg_ctl -D "$d" -m immediate stop >/dev/null 2>&1 || true; done
  [ -f "$W/coffer-restore/postmaster.pid" ] && as_pg $BIN/pg_ctl -D "$W/coffer-restore" -m immediate stop >/dev/null 2>&1 || true
  [ -n "${CPID:-}" ] && kill -TERM "$CPID" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
cleanup
rm -rf "$W"; mkdir -p "$W/sock"; chown -R postgres: "$W"; chmod 0755 "$W"

echo "== instance (pgbench scale $SCALE)"
as_pg $BIN/initdb -D "$W/src" -U postgres -A trust >/dev/null
cat >>"$W/src/postgresql.conf" <<EOF
port = $PORT_SRC
listen_addresses = ''
unix_socket_directories = '$W/sock'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
archive_mode = on
archive_command = 'pgbackrest --stanza=bench archive-push %p'
EOF
cat >"$W/pgbackrest.conf" <<EOF
[global]
repo1-path=$W/pgbr
repo1-retention-full=2
compress-type=zst
compress-level=3
process-max=2
log-level-console=warn
log-path=$W/pgbr-log
lock-path=$W/pgbr-lock
[bench]
pg1-path=$W/src
pg1-port=$PORT_SRC
pg1-socket-path=$W/sock
EOF
chown postgres: "$W/pgbackrest.conf"; mkdir -p "$W/pgbr" "$W/pgbr-log" "$W/pgbr-lock"; chown postgres: "$W"/pgbr*
export PGBACKREST_CONFIG=$W/pgbackrest.conf
as_pg $BIN/pg_ctl -D "$W/src" -l "$W/src.log" -w -t 120 start >/dev/null
psql_src() { as_pg psql -h "$W/sock" -p "$PORT_SRC" -U postgres -qAtX "$@"; }
as_pg pgbench -h "$W/sock" -p "$PORT_SRC" -U postgres -i -s "$SCALE" -q postgres >"$W/pgbench-init.log" 2>&1
psql_src -c checkpoint
SIZE=$(psql_src -c "select pg_database_size('postgres')")
echo "database postgres: $SIZE bytes"
as_pg env PGBACKREST_CONFIG="$W/pgbackrest.conf" pgbackrest --stanza=bench stanza-create >/dev/null

# ---- coffer daemon
KEY=bench-key-$$
CDATA=$W/coffer-data
COFFER_ADMIN_KEY=$KEY build/cofferd --data-dir "$CDATA" --listen 127.0.0.1:0 >"$W/cofferd.log" 2>&1 &
CPID=$!
for i in $(seq 100); do CPORT=$(sed -n 's/^cofferd ready port=//p' "$W/cofferd.log"); [ -n "$CPORT" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$CPORT/v2
api() { curl -sS -X "$1" -H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: bench" \
        -H 'Content-Type: application/json' "$URL$2" ${3:+-d "$3"}; }
REG=$(api POST /data-protect/sources/registrations "{\"environment\":\"kSQL\",\"physicalParams\":{\"endpoint\":\"127.0.0.1\",\"hostType\":\"kLinux\"},\"advancedConfigs\":[{\"key\":\"pgPort\",\"value\":\"$PORT_SRC\"},{\"key\":\"pgSocketDir\",\"value\":\"$W/sock\"}]}")
SRC_ID=$(echo "$REG" | jq -r .id)
INST=$(api GET "/data-protect/search/objects?environments=kSQL&sourceIds=$SRC_ID" | jq -r '[.objects[] | select(.objectType == "kInstance")][0].id')
DB_OBJ=$(api GET "/data-protect/search/objects?environments=kSQL&sourceIds=$SRC_ID" | jq -r '[.objects[] | select(.objectType == "kDatabase" and .name == "postgres")][0].id')
POL=$(api POST /data-protect/policies '{"name":"bench-pg","backupPolicy":{"regular":{"incremental":{"schedule":{"unit":"Days","daySchedule":{"frequency":1}}},"retention":{"unit":"Days","duration":7}},"log":{"schedule":{"unit":"Hours","hourSchedule":{"frequency":1}},"retention":{"unit":"Days","duration":7}}}}' | jq -r .id)
GRP=$(api POST /data-protect/protection-groups "{\"name\":\"bench-pg\",\"policyId\":\"$POL\",\"environment\":\"kSQL\",\"mssqlParams\":{\"protectionType\":\"kNative\",\"nativeProtectionTypeParams\":{\"objects\":[{\"id\":$INST}]}}}" | jq -r .id)
[ "$GRP" != null ] || { echo "cannot create the group"; exit 1; }
coffer_run() { # key runType: sets T[key], writes run.key.json
  local t0 s st; t0=$(now)
  api POST "/data-protect/protection-groups/$GRP/runs" "{\"runType\":\"$2\"}" >/dev/null
  while :; do
    st=$(api GET "/data-protect/protection-groups/$GRP/runs?numRuns=1&includeObjectDetails=true")
    s=$(echo "$st" | jq -r '.runs[0].localBackupInfo.status // empty')
    case "$s" in Succeeded|SucceededWithWarning|Failed|Canceled) break;; esac
    sleep 0.05
  done
  T[$1]=$(elapsed "$t0"); echo "$st" > "$W/run.$1.json"; echo "coffer $1 ($2): $s in ${T[$1]} s"
}
coffer_recovery() { # key body: sets T[key]
  local t0 rid s; t0=$(now)
  rid=$(api POST /data-protect/recoveries "$2" | jq -r .id)
  [ "$rid" != null ] || { echo "coffer $1: refused"; T[$1]=NaN; return; }
  while :; do
    s=$(api GET "/data-protect/recoveries/$rid" | jq -r .status)
    case "$s" in Succeeded|SucceededWithWarning|Failed|Canceled) break;; esac
    sleep 0.1
  done
  T[$1]=$(elapsed "$t0"); echo "coffer $1: $s in ${T[$1]} s"
}

echo "== base backup"
sleep 2   # the daemon's WAL streamer takes its slot before the first base backup
drop_caches; coffer_run coffer_base kFull
drop_caches; t0=$(now)
as_pg $BIN/pg_basebackup -h "$W/sock" -p "$PORT_SRC" -U postgres -D "$W/basebackup" -Fp -X stream -c fast
T[basebackup]=$(elapsed "$t0"); echo "pg_basebackup: ${T[basebackup]} s"
drop_caches; t0=$(now)
as_pg env PGBACKREST_CONFIG="$W/pgbackrest.conf" pgbackrest --stanza=bench --type=full --start-fast backup
T[pgbr_base]=$(elapsed "$t0"); echo "pgbackrest full: ${T[pgbr_base]} s"

echo "== WAL after the backups, a target moment, more WAL"
as_pg pgbench -h "$W/sock" -p "$PORT_SRC" -U postgres -T 20 -c 2 postgres >/dev/null 2>&1
sleep 1
TARGET=$(psql_src -c "select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
TARGET_USECS=$(psql_src -c "select (extract(epoch from clock_timestamp()) * 1000000)::bigint")
WANT=$(psql_src -c "select count(*) || ':' || coalesce(sum(delta), 0) from pgbench_history")
sleep 1
as_pg pgbench -h "$W/sock" -p "$PORT_SRC" -U postgres -T 5 -c 2 postgres >/dev/null 2>&1
psql_src -c "select pg_switch_wal()" >/dev/null
psql_src -c "select pg_switch_wal()" >/dev/null
sleep 2
coffer_run coffer_log kLog
echo "target $TARGET UTC: pgbench_history $WANT"

echo "== PITR restore"
SNAP=$(jq -r '.runs[0].objects[0].localSnapshotInfo.snapshotInfo.snapshotId' "$W/run.coffer_base.json")
drop_caches
coffer_recovery coffer_pitr "{\"name\":\"bench-pitr\",\"snapshotEnvironment\":\"kSQL\",\"mssqlParams\":{\"recoveryAction\":\"RecoverApps\",\"recoverAppParams\":[{\"snapshotId\":\"$SNAP\",\"pointInTimeUsecs\":$TARGET_USECS,\"targetEnvironment\":\"kSQL\",\"sqlTargetParams\":{\"recoverToNewSource\":true,\"newSourceConfig\":{\"host\":{\"id\":$SRC_ID},\"instanceName\":\"port:$PORT_COFFER\",\"dataFileDirectoryLocation\":\"$W/coffer-restore\",\"logFileDirectoryLocation\":\"$W/coffer-restore\"}}}]}}"
GOT_C=$(as_pg psql -h "$W/coffer-restore" -p "$PORT_COFFER" -U postgres -qAtX -c "select count(*) || ':' || coalesce(sum(delta), 0) from pgbench_history" postgres 2>/dev/null || echo unreachable)
drop_caches; t0=$(now)
as_pg env PGBACKREST_CONFIG="$W/pgbackrest.conf" pgbackrest --stanza=bench --pg1-path="$W/br-restore" --type=time \
  "--target=$TARGET+00" --target-action=promote restore
as_pg $BIN/pg_ctl -D "$W/br-restore" -l "$W/br-restore.log" -w -t 600 \
  -o "-c port=$PORT_BR -c unix_socket_directories=$W/sock -c archive_mode=off" start >/dev/null
for i in $(seq 600); do
  [ "$(as_pg psql -h "$W/sock" -p $PORT_BR -U postgres -qAtX -c 'select pg_is_in_recovery()' 2>/dev/null)" = f ] && break; sleep 0.1
done
T[pgbr_pitr]=$(elapsed "$t0"); echo "pgbackrest restore + recovery: ${T[pgbr_pitr]} s"
GOT_B=$(as_pg psql -h "$W/sock" -p "$PORT_BR" -U postgres -qAtX -c "select count(*) || ':' || coalesce(sum(delta), 0) from pgbench_history" postgres)

echo "== one database under a new name (mssqlParams), one table under a new name (site API)"
drop_caches
coffer_recovery coffer_db "{\"name\":\"bench-db\",\"snapshotEnvironment\":\"kSQL\",\"mssqlParams\":{\"recoveryAction\":\"RecoverApps\",\"recoverAppParams\":[{\"snapshotId\":\"$SNAP\",\"objectInfo\":{\"id\":$DB_OBJ},\"targetEnvironment\":\"kSQL\",\"sqlTargetParams\":{\"recoverToNewSource\":false,\"originalSourceConfig\":{\"newDatabaseName\":\"bench_copy\",\"overwritingPolicy\":\"FailIfExists\"}}}]}}"
COPY_ROWS=$(psql_src -d bench_copy -c "select count(*) from pgbench_accounts" 2>/dev/null || echo missing)
RUN_ID=$(jq -r '.runs[0].id' "$W/run.coffer_base.json")
SITE=http://127.0.0.1:$CPORT/data-protection/v2/sites/$INST
drop_caches; t0=$(now)
RID=$(curl -sS -X POST -H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: bench" -H 'Content-Type: application/json' \
  "$SITE/jobs/$GRP/executions/$RUN_ID/restores" \
  -d '{"name":"bench-table","job_settings":{"objects":[{"object_name":"public.pgbench_accounts","object_type":"TABLE","parent_name":"postgres","parent_type":"DATABASE","rename_to":"pgbench_accounts_restored"}],"run_as_a_copy_job":true}}' | jq -r .restore_job_id)
while :; do
  s=$(curl -sS -H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: bench" "$SITE/jobs/$GRP/executions/$RUN_ID/restores/$RID" | jq -r .status)
  case "$s" in COMPLETED_SUCCESSFULLY|COMPLETED_WITH_WARNINGS|FAILED|ABORTED|null) break;; esac
  sleep 0.1
done
T[coffer_table]=$(elapsed "$t0"); echo "coffer table (site API): $s in ${T[coffer_table]} s"
TABLE_ROWS=$(psql_src -c "select count(*) from pgbench_accounts_restored" 2>/dev/null || echo missing)

check() { [ "$1" = "$2" ] && echo ok || echo "MISMATCH ($1 != $2)"; }
echo
echo "pgbench scale $SCALE, database $SIZE bytes; target $TARGET UTC"
echo "coffer PITR copy: $(check "$GOT_C" "$WANT"); pgbackrest PITR copy: $(check "$GOT_B" "$WANT")"
echo "database copy rows: $(check "$COPY_ROWS" $((SCALE * 100000))); table copy rows: $(check "$TABLE_ROWS" $((SCALE * 100000)))"
printf '%-28s %10s %14s %14s %10s\n' phase coffer pg_basebackup pgbackrest ratio
printf '%-28s %9ss %13ss %13ss %10s\n' "base backup" "${T[coffer_base]}" "${T[basebackup]}" "${T[pgbr_base]}" \
  "$(ratio ${T[coffer_base]} ${T[basebackup]}) (vs pg_basebackup)"
printf '%-28s %9ss %14s %13ss %10s\n' "PITR restore, started" "${T[coffer_pitr]}" "-" "${T[pgbr_pitr]}" \
  "$(ratio ${T[coffer_pitr]} ${T[pgbr_pitr]}) (vs pgbackrest)"
printf '%-28s %9ss %14s %14s %10s\n' "one database, new name" "${T[coffer_db]}" "-" "-" "(target < 60 s)"
printf '%-28s %9ss %14s %14s %10s\n' "one table, new name" "${T[coffer_table]}" "-" "-" "(target < 60 s)"
printf '%-28s %10s %14s %14s\n' "repository bytes" "$(du -sb "$CDATA/repo" | cut -f1)" "$(du -sb "$W/basebackup" | cut -f1)" "$(du -sb "$W/pgbr" | cut -f1)"
