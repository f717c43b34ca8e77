#!/usr/bin/env bash
# bench_s3.sh: Coffer's S3 backend against its local backend and against restic's S3 backend, on
# one corpus and one S3 server (versitygw on loopback, posix backend in WORKDIR, versioning on, the
# Coffer bucket with Object Lock enabled as a real deployment would have it).
#
# Corpus: bench_backup.sh's (about 1.5 GB from /usr), or with BENCH_SMALL=1 /usr/include alone (a
# quick proof that the script works). Phases, for each: first backup, unchanged re-backup, full
# restore (compared with the corpus by diff -r). Coffer runs the release build through its REST
# API, timed from the POST to the run's end; restic runs its CLI. Prints the absolute figures and
# the ratios coffer-S3/coffer-local (the issue's target: backup within 1.3x) and coffer-S3/restic-S3,
# the requests the S3 daemon made (its log at stop) and the load average before and after (on a
# shared machine the ratios of one run move by tens of percent). Not a test: nothing is asserted.
#
#   bench/bench_s3.sh [WORKDIR]     (default /tmp/coffer-bench-s3; needs ~3x the corpus free)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib_restore.sh
. bench/lib_poll.sh
W=${1:-/tmp/coffer-bench-s3}
CORPUS=$W/corpus
VGW=${COFFER_VERSITYGW:-$HOME/.cache/coffer/versitygw-v1.8.0/versitygw}
[ -x "$VGW" ] || { echo "versitygw not found at $VGW (scripts/setup.sh --test builds it)" >&2; exit 1; }
command -v restic >/dev/null && command -v jq >/dev/null && command -v bc >/dev/null || {
  apt-get install -y -qq restic jq bc time >/dev/null; }
make -s -j2 all

bench_trash_init "$W"   # the last run's files: removed at the end (bench_settle)
bench_trash_except
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== corpus"
mkdir -p "$CORPUS"
if [ "${BENCH_SMALL:-0}" = 1 ]; then DIRS="include"; else DIRS="include share/doc lib/x86_64-linux-gnu lib/python3 lib/gcc share/locale bin"; fi
for d in $DIRS; do mkdir -p "$CORPUS/$(dirname "$d")"; cp -a "/usr/$d" "$CORPUS/$d" 2>/dev/null || true; done
sync
CORPUS_BYTES=$(du -sb "$CORPUS" | cut -f1); CORPUS_FILES=$(find "$CORPUS" -type f | wc -l)
echo "corpus: $CORPUS_BYTES bytes, $CORPUS_FILES files"

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
declare -A T V

# ---- the S3 server
S3ROOT=$W/s3; mkdir -p "$S3ROOT/data" "$S3ROOT/versions"
S3PORT=$(shuf -i 20000-40000 -n 1)
export AWS_ACCESS_KEY_ID=benchkey AWS_SECRET_ACCESS_KEY=bench-secret-0123456789
ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
  "$VGW" --port "127.0.0.1:$S3PORT" --quiet posix --versioning-dir "$S3ROOT/versions" "$S3ROOT/data" >"$W/versitygw.log" 2>&1 &
VPID=$!
EP=http://127.0.0.1:$S3PORT
s3curl() { curl -sS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
           -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"; }
for i in $(seq 100); do s3curl -o /dev/null "$EP/" 2>/dev/null && break; sleep 0.1; done
s3curl -X PUT -H 'x-amz-bucket-object-lock-enabled: true' "$EP/coffer-bench" >/dev/null
s3curl -X PUT "$EP/restic-bench" >/dev/null
CPIDS=""
cleanup() { for p in $CPIDS; do kill -TERM "$p" 2>/dev/null || true; done; kill -TERM "$VPID" 2>/dev/null || true; bench_trash_empty; }
trap cleanup EXIT

# ---- coffer (one daemon per backend)
KEY=bench-key-$$
coffer_bench() { # name, extra environment...
  local name=$1; shift
  local data=$W/coffer-$name port=0 url src obj pol grp
  env "$@" COFFER_ADMIN_KEY=$KEY build/cofferd --data-dir "$data" --listen 127.0.0.1:0 >"$W/cofferd-$name.log" 2>&1 &
  local cpid=$!; CPIDS="$CPIDS $cpid"
  for i in $(seq 300); do port=$(sed -n 's/^cofferd ready port=//p' "$W/cofferd-$name.log"); [ -n "$port" ] && break; sleep 0.1; done
  url=http://127.0.0.1:$port/v2
  api() { curl -sS -X "$1" -H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: bench" \
          -H 'Content-Type: application/json' "$url$2" ${3:+-d "$3"}; }
  src=$(api POST /data-protect/sources/registrations '{"environment":"kPhysical","physicalParams":{"endpoint":"127.0.0.1","hostType":"kLinux","physicalType":"kHost"}}')
  obj=$(echo "$src" | jq -r '.sourceInfo.id // .id')
  pol=$(api POST /data-protect/policies '{"name":"bench","backupPolicy":{"regular":{"incremental":{"schedule":{"unit":"Days","daySchedule":{"frequency":1}}},"retention":{"unit":"Days","duration":7}}}}' | jq -r .id)
  grp=$(api POST /data-protect/protection-groups "{\"name\":\"bench\",\"policyId\":\"$pol\",\"environment\":\"kPhysical\",\"physicalParams\":{\"protectionType\":\"kFile\",\"fileProtectionTypeParams\":{\"objects\":[{\"id\":$obj,\"filePaths\":[{\"includedPath\":\"$CORPUS\"}]}]}}}" | jq -r .id)
  for phase in 1 2; do
    local t0 st s
    drop_caches; t0=$(now)
    api POST "/data-protect/protection-groups/$grp/runs" '{"runType":"kRegular"}' >/dev/null
    st=$(bench_wait_end "/data-protect/protection-groups/$grp/runs?numRuns=1&includeObjectDetails=true"); s=$(bench_status "$st")
    T[$name$phase]=$(bench_end_s "$t0" "$st"); echo "$st" > "$W/run.$name$phase.json"
    echo "coffer-$name backup $phase: $s in ${T[$name$phase]} s"
  done
  local sid rid t0 s
  sid=$(jq -r '.runs[0].objects[0].localSnapshotInfo.snapshotInfo.snapshotId' "$W/run.${name}2.json")
  mkdir -p "$W/restore-$name"; bench_settle "$W"; drop_caches; t0=$(now)
  rid=$(api POST /data-protect/recoveries "$(restore_body "$sid" "$CORPUS" "$obj" "$W/restore-$name")" | jq -r .id)
  doc=$(bench_wait_end "/data-protect/recoveries/$rid"); s=$(bench_status "$doc")
  T[${name}_restore]=$(bench_end_s "$t0" "$doc"); echo "coffer-$name restore: $s in ${T[${name}_restore]} s"
  if diff -r --no-dereference -q "$CORPUS" "$W/restore-$name/$(basename "$CORPUS")" >/dev/null 2>&1; then
    V[$name]=identical; else V[$name]=DIFFERENT; fi
  kill -TERM "$cpid"; wait "$cpid" || true
}

bench_removal_wait   # the first backups read the corpus cold: not beside another bench's removal
echo "== coffer, local backend"
coffer_bench local
echo "== coffer, S3 backend"
coffer_bench s3 COFFER_REPOSITORY=s3://coffer-bench/repo COFFER_S3_ENDPOINT="$EP" COFFER_S3_PATH_STYLE=1 \
  COFFER_S3_REGION=us-east-1

echo "== restic, S3 backend"
export RESTIC_PASSWORD=bench RESTIC_REPOSITORY=s3:$EP/restic-bench
restic init -q >/dev/null
for phase in 1 2; do
  drop_caches; t0=$(now); restic backup -q "$CORPUS" >"$W/restic$phase.log" 2>&1
  T[restic$phase]=$(elapsed "$t0"); echo "restic backup $phase: ${T[restic$phase]} s"
done
bench_settle "$W"; drop_caches; t0=$(now)
restic restore latest -q --target "$W/restore-restic" >"$W/restic-restore.log" 2>&1
T[restic_restore]=$(elapsed "$t0"); echo "restic restore: ${T[restic_restore]} s"
if diff -r --no-dereference -q "$CORPUS" "$W/restore-restic$CORPUS" >/dev/null 2>&1; then V[restic]=identical; else V[restic]=DIFFERENT; fi

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
echo
echo "corpus $CORPUS_BYTES bytes, $CORPUS_FILES files; restores: coffer-local ${V[local]}, coffer-s3 ${V[s3]}, restic-s3 ${V[restic]}"
printf '%-20s %12s %12s %12s %16s %16s\n' phase coffer-local coffer-s3 restic-s3 s3/local s3/restic-s3
for p in 1:first 2:unchanged; do k=${p%%:*}; n=${p#*:}
  printf '%-20s %11ss %11ss %11ss %16s %16s\n' "backup $n" "${T[local$k]}" "${T[s3$k]}" "${T[restic$k]}" \
    "$(ratio "${T[s3$k]}" "${T[local$k]}")" "$(ratio "${T[s3$k]}" "${T[restic$k]}")"
done
printf '%-20s %11ss %11ss %11ss %16s %16s\n' "full restore" "${T[local_restore]}" "${T[s3_restore]}" "${T[restic_restore]}" \
  "$(ratio "${T[s3_restore]}" "${T[local_restore]}")" "$(ratio "${T[s3_restore]}" "${T[restic_restore]}")"
echo "bucket bytes (versitygw data dir): coffer $(du -sb "$S3ROOT/data/coffer-bench" | cut -f1), restic $(du -sb "$S3ROOT/data/restic-bench" | cut -f1)"
echo "coffer-s3 requests: $(sed -n 's/.*INFO s3: s3:[^:]*: //p' "$W/cofferd-s3.log" | tail -1)"
echo "load average: $LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end ($(nproc) cores)"
