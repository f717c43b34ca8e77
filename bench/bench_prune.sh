#!/usr/bin/env bash
# bench_prune.sh: prune of Coffer against `restic prune` and `borg compact` on the same history.
#
# History: a corpus copied from /usr (by default include, share/doc, lib/python3: a few hundred MB;
# DIRS="..." to choose), backed up 10 times by each tool, 5% of the files changing between runs
# (every 20th file, a different 20th each run, gets a line appended). Then the first five backups
# are forgotten (coffer: PUT .../runs deleteSnapshot on the first five runs; restic forget; borg
# delete) and the prune is timed: coffer POST /v2/coffer/repository/prune until the report is in,
# `restic prune`, `borg compact`. Peak memory: coffer is restarted before its prune (so its VmHWM
# is the open of the repository plus the prune, not the backups'); peers: /usr/bin/time's maximum
# RSS. Bytes reclaimed: the repository directory's size before and after (du -sb). Prints a table
# with the ratios coffer/peer. Not a test: nothing is asserted.
#
#   bench/bench_prune.sh [WORKDIR]     (default /tmp/coffer-bench-prune; needs ~4x the corpus free)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/coffer-bench-prune}
CORPUS=$W/corpus
DIRS=${DIRS:-"include share/doc lib/python3"}
RUNS=10
command -v restic >/dev/null && command -v borg >/dev/null && command -v jq >/dev/null || {
  apt-get install -y -qq restic borgbackup jq time >/dev/null; }
make -s -j"$(nproc)" all

rm -rf "$W"; mkdir -p "$W" "$CORPUS"
for d in $DIRS; do mkdir -p "$CORPUS/$(dirname "$d")"; cp -a "/usr/$d" "$CORPUS/$d" 2>/dev/null || true; done
sync
echo "corpus: $(du -sb "$CORPUS" | cut -f1) bytes, $(find "$CORPUS" -type f | wc -l) files"

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && [ "$2" != 0 ] && echo "$1 / $2" | bc -l | xargs printf '%.2f' || echo -; }
change_5pct() { # run k: every 20th file, offset k
  find "$CORPUS" -type f | sort | awk -v k="$1" 'NR % 20 == k % 20' | while read -r f; do
    printf 'coffer-bench-prune change %s\n' "$1" >> "$f" 2>/dev/null || true; done
}

declare -A T M B A
timed() { # key, command...: time and max RSS (KB)
  local key=$1; shift; local t0; t0=$(now)
  /usr/bin/time -f '%M' -o "$W/time.$key" "$@" >"$W/log.$key" 2>&1
  T[$key]=$(elapsed "$t0"); M[$key]=$(tail -1 "$W/time.$key")
}

# ---- coffer: backups through the API
KEY=bench-key-$$
CDATA=$W/coffer-data
start_cofferd() {
  COFFER_ADMIN_KEY=$KEY COFFER_PRUNE_INTERVAL_SECS=0 build/cofferd --data-dir "$CDATA" --listen 127.0.0.1:0 \
    >"$W/cofferd.log" 2>&1 &
  CPID=$!
  PORT=
  for _ in $(seq 200); do PORT=$(sed -n 's/^cofferd ready port=//p' "$W/cofferd.log"); [ -n "$PORT" ] && break; sleep 0.1; done
  URL=http://127.0.0.1:$PORT/v2
}
api() { curl -sS -X "$1" -H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: bench" \
        -H 'Content-Type: application/json' "$URL$2" ${3:+-d "$3"}; }
start_cofferd
OBJ=$(api POST /data-protect/sources/registrations '{"environment":"kPhysical","physicalParams":{"endpoint":"127.0.0.1","hostType":"kLinux"}}' | jq -r '.sourceInfo.id // .id')
POL=$(api POST /data-protect/policies '{"name":"bench","backupPolicy":{"regular":{"incremental":{"schedule":{"unit":"Days","daySchedule":{"frequency":1}}},"retention":{"unit":"Days","duration":7}}}}' | jq -r .id)
GRP=$(api POST /data-protect/protection-groups "{\"name\":\"bench\",\"policyId\":\"$POL\",\"environment\":\"kPhysical\",\"physicalParams\":{\"protectionType\":\"kFile\",\"fileProtectionTypeParams\":{\"objects\":[{\"id\":$OBJ,\"filePaths\":[{\"includedPath\":\"$CORPUS\"}]}]}}}" | jq -r .id)
coffer_run() {
  local rid s
  rid=$(api POST "/data-protect/protection-groups/$GRP/runs" '{"runType":"kRegular"}' | jq -r .runId)
  while :; do
    s=$(api GET "/data-protect/protection-groups/$GRP/runs/$rid" | jq -r '.localBackupInfo.status // empty')
    case "$s" in Succeeded|SucceededWithWarning|Failed|Canceled) break;; esac
    sleep 0.1
  done
  echo "$rid"
}

export RESTIC_PASSWORD=bench RESTIC_REPOSITORY=$W/restic BORG_PASSPHRASE=bench BORG_REPO=$W/borg
restic init -q >/dev/null
borg init -e repokey-blake2 >/dev/null 2>&1
declare -a CRUNS
for k in $(seq 0 $((RUNS - 1))); do
  [ "$k" -gt 0 ] && change_5pct "$k"
  CRUNS[$k]=$(coffer_run)
  restic backup -q --tag "r$k" "$CORPUS" >/dev/null
  borg create --compression zstd,3 "::b$k" "$CORPUS" >/dev/null 2>&1
  echo "backup $k done"
done

# ---- forget the first half
for k in $(seq 0 $((RUNS / 2 - 1))); do
  api PUT "/data-protect/protection-groups/$GRP/runs" \
    "{\"updateProtectionGroupRunParams\":[{\"runId\":\"${CRUNS[$k]}\",\"localSnapshotConfig\":{\"deleteSnapshot\":true}}]}" >/dev/null
  restic forget -q $(restic snapshots --tag "r$k" --json | jq -r '.[].id') >/dev/null
  borg delete "::b$k" >/dev/null 2>&1
done
kill -TERM "$CPID"; wait "$CPID" || true
B[coffer]=$(du -sb "$CDATA/repo" | cut -f1); B[restic]=$(du -sb "$W/restic" | cut -f1); B[borg]=$(du -sb "$W/borg" | cut -f1)

# ---- prune
start_cofferd
t0=$(now)
PID_=$(api POST /coffer/repository/prune '{"dryRun":false}' | jq -r .id)
while :; do
  st=$(api GET /coffer/repository/prune)
  [ "$(echo "$st" | jq -r '.last.id // empty')" = "$PID_" ] && break
  sleep 0.05
done
T[coffer]=$(elapsed "$t0"); M[coffer]=$(awk '/VmHWM/{print $2}' /proc/$CPID/status)
echo "$st" | jq .last > "$W/coffer-prune.json"
kill -TERM "$CPID"; wait "$CPID" || true
timed restic restic prune
timed borg borg compact
A[coffer]=$(du -sb "$CDATA/repo" | cut -f1); A[restic]=$(du -sb "$W/restic" | cut -f1); A[borg]=$(du -sb "$W/borg" | cut -f1)

echo
echo "coffer report: $(jq -c .report "$W/coffer-prune.json")"
printf '%-20s %12s %12s %12s %14s %14s\n' "" coffer restic borg coffer/restic coffer/borg
printf '%-20s %11ss %11ss %11ss %14s %14s\n' "prune time" "${T[coffer]}" "${T[restic]}" "${T[borg]}" \
  "$(ratio "${T[coffer]}" "${T[restic]}")" "$(ratio "${T[coffer]}" "${T[borg]}")"
printf '%-20s %10sKB %10sKB %10sKB %14s %14s\n' "peak memory" "${M[coffer]}" "${M[restic]}" "${M[borg]}" \
  "$(ratio "${M[coffer]}" "${M[restic]}")" "$(ratio "${M[coffer]}" "${M[borg]}")"
declare -A R; for t in coffer restic borg; do R[$t]=$((B[$t] - A[$t])); done
printf '%-20s %12s %12s %12s %14s %14s\n' "repo before (B)" "${B[coffer]}" "${B[restic]}" "${B[borg]}" \
  "$(ratio "${B[coffer]}" "${B[restic]}")" "$(ratio "${B[coffer]}" "${B[borg]}")"
printf '%-20s %12s %12s %12s %14s %14s\n' "reclaimed (B)" "${R[coffer]}" "${R[restic]}" "${R[borg]}" \
  "$(ratio "${R[coffer]}" "${R[restic]}")" "$(ratio "${R[coffer]}" "${R[borg]}")"
echo "(coffer's memory: the daemon's VmHWM after a restart: opening the repository plus the prune)"
