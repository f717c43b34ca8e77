#!/usr/bin/env bash
# bench_restore.sh: full restores only, Coffer against restic, side by side, several rounds in one run.
#
# For iterating on restore speed without bench_backup.sh's ten minutes: the corpus (bench_backup.sh's,
# about 1.7 GB copied from /usr, or CORPUS=DIR) is backed up once by each tool, then each round drops
# the page cache and restores it with Coffer (through its REST API, release build, timed from the
# POST to the recovery's end) and then with restic. Prints each round's times, the daemon's peak RSS
# and CPU time, the engine's own figures from its log (paths resolved, first file, sync pass, total)
# and the ratio coffer/restic;
# the first round's restore is compared with the corpus (diff -r). OTHERS="PATH..." (other builds of
# cofferd, e.g. main's, copied aside) restore with those daemons too in every round (B, C, ...), on
# the same repository: an A/B comparison in one run. The daemon is started afresh before each of its
# restores (repository open and index load are part of the timed restore, as after a restart).
# PERF=1 records a CPU profile of the machine during the last round's restore (WORKDIR/perf.data;
# `perf report -i` it, with --comm cofferd for the daemon: a profile attached to the daemon's threads
# lost the restore's workers). Not a test: nothing is asserted.
#
#   bench/bench_restore.sh [WORKDIR]   (default /tmp/coffer-bench-restore;
#                                       env ROUNDS=3, CORPUS, PEER=restic|none, PERF=0, OTHERS, KEEP=0)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib_restore.sh
. bench/lib_poll.sh
W=${1:-/tmp/coffer-bench-restore}
ROUNDS=${ROUNDS:-3}; PEER=${PEER:-restic}; PERF=${PERF:-0}
command -v jq >/dev/null && { [ "$PEER" = none ] || command -v restic >/dev/null; } || apt-get install -y -qq restic jq >/dev/null
make -s -j"$(nproc)" build/cofferd

mkdir -p "$W"; bench_trash_init "$W"   # earlier restores: removed at the end (bench_settle)
# KEEP=1 keeps the repositories of the last run (its backups are not made again)
if [ "${KEEP:-0}" = 1 ] && [ -f "$W/state" ]; then
  bench_trash_except corpus corpus.stamp state coffer-data restic
else
  bench_trash_except corpus corpus.stamp
fi
if [ -z "${CORPUS:-}" ]; then
  CORPUS=$W/corpus
  [ -f "$CORPUS.stamp" ] || rm -rf "$CORPUS"
  if [ ! -d "$CORPUS" ]; then
    echo "== corpus (once)"
    for d in include share/doc lib/x86_64-linux-gnu lib/python3 lib/gcc share/locale bin; do
      mkdir -p "$CORPUS/$(dirname $d)"; cp -a "/usr/$d" "$CORPUS/$d" 2>/dev/null || true
    done
    sync; touch "$CORPUS.stamp"
  fi
fi
echo "corpus $CORPUS: $(du -sb "$CORPUS" | cut -f1) bytes, $(find "$CORPUS" -type f | wc -l) files"

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }

KEY=bench-key-$$
CDATA=$W/coffer-data
CPID=
trap '[ -n "$CPID" ] && kill -TERM $CPID 2>/dev/null || true; bench_trash_empty' EXIT
daemon_start() { # binary
  : >"$W/cofferd.log.new"
  COFFER_ADMIN_KEY=$KEY "$1" --data-dir "$CDATA" --listen 127.0.0.1:0 >"$W/cofferd.log.new" 2>&1 &
  CPID=$!
  for i in $(seq 100); do PORT=$(sed -n 's/^cofferd ready port=//p' "$W/cofferd.log.new"); [ -n "$PORT" ] && break; sleep 0.1; done
  URL=http://127.0.0.1:$PORT/v2
}
daemon_stop() { kill -TERM $CPID; wait $CPID || true; CPID=; cat "$W/cofferd.log.new" >>"$W/cofferd.log"; }
api() { curl -sS -X "$1" -H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: bench" \
        -H 'Content-Type: application/json' "$URL$2" ${3:+-d "$3"}; }

export RESTIC_PASSWORD=bench RESTIC_REPOSITORY=$W/restic
if [ -f "$W/state" ]; then
  . "$W/state"; echo "== backups of the last run kept (snapshot $SID)"
else
echo "== backups (once)"
daemon_start build/cofferd
SRC=$(api POST /data-protect/sources/registrations '{"environment":"kPhysical","physicalParams":{"endpoint":"127.0.0.1","hostType":"kLinux","physicalType":"kHost"}}')
OBJ=$(echo "$SRC" | jq -r '.sourceInfo.id // .id')
POL=$(api POST /data-protect/policies '{"name":"bench","backupPolicy":{"regular":{"incremental":{"schedule":{"unit":"Days","daySchedule":{"frequency":1}}},"retention":{"unit":"Days","duration":7}}}}' | jq -r .id)
GRP=$(api POST /data-protect/protection-groups "{\"name\":\"bench\",\"policyId\":\"$POL\",\"environment\":\"kPhysical\",\"physicalParams\":{\"protectionType\":\"kFile\",\"fileProtectionTypeParams\":{\"objects\":[{\"id\":$OBJ,\"filePaths\":[{\"includedPath\":\"$CORPUS\"}]}]}}}" | jq -r .id)
t0=$(now)
api POST "/data-protect/protection-groups/$GRP/runs" '{"runType":"kRegular"}' >/dev/null
st=$(bench_wait_end "/data-protect/protection-groups/$GRP/runs?numRuns=1&includeObjectDetails=true" 600)
s=$(bench_status "$st")
echo "coffer backup: $s in $(bench_end_s "$t0" "$st") s"
SID=$(echo "$st" | jq -r '.runs[0].objects[0].localSnapshotInfo.snapshotInfo.snapshotId')
# the file index of the snapshot is built after the run: waited for, so it does not run beside a restore
for i in $(seq 1200); do grep -q 'indexer: snapshot' "$W/cofferd.log.new" && break; sleep 0.5; done
daemon_stop
if [ "$PEER" = restic ]; then
  restic init -q >/dev/null
  t0=$(now); restic backup -q "$CORPUS" >/dev/null; echo "restic backup: $(elapsed "$t0") s"
fi
printf 'SID=%s\nOBJ=%s\n' "$SID" "$OBJ" >"$W/state"
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$CPID/stat"; }   # the daemon's user + system time
coffer_restore() { # binary label round -> prints the seconds; records the engine's figures in ENG
  local t0 rid s doc
  daemon_start "$1"
  bench_trash "$W/restore-coffer"; mkdir -p "$W/restore-coffer"; bench_settle "$W"
  drop_caches
  if [ "$PERF" = 1 ] && [ "$3" = "$ROUNDS" ] && [ "$2" = A ]; then
    perf record -q -a -o "$W/perf.data" >/dev/null 2>&1 & PERFPID=$!
    sleep 0.5
  fi
  c0=$(cpu_ticks); t0=$(now)
  rid=$(api POST /data-protect/recoveries "$(restore_body "$SID" "$CORPUS" "$OBJ" "$W/restore-coffer")" | jq -r .id)
  doc=$(bench_wait_end "/data-protect/recoveries/$rid" 600); s=$(bench_status "$doc")
  T=$(bench_end_s "$t0" "$doc"); c1=$(cpu_ticks); hwm=$(awk '/VmHWM/{print $2}' "/proc/$CPID/status")
  if [ -n "${PERFPID:-}" ]; then kill -INT "$PERFPID"; wait "$PERFPID" || true; PERFPID=; fi
  ENG="$s, peak RSS ${hwm} KB, daemon CPU $(echo "($c1 - $c0) / $(getconf CLK_TCK)" | bc -l | xargs printf '%.2f') s, engine $(grep -o "path(s) to $W/restore-coffer in [0-9]* ms ([^)]*)" "$W/cofferd.log.new" | tail -1 | sed 's/^path(s) to [^ ]* in //')"
  if [ "$3" = 1 ]; then
    if diff -r --no-dereference -q "$CORPUS" "$W/restore-coffer/$(basename "$CORPUS")" >/dev/null 2>&1; then
      ENG="$ENG, identical to the corpus"
    else
      ENG="$ENG, DIFFERENT from the corpus"
    fi
  fi
  daemon_stop
}

declare -A TC
declare -a TR
BINS=(build/cofferd ${OTHERS:-}); LABELS=(A B C D E F)
for round in $(seq "$ROUNDS"); do
  for k in "${!BINS[@]}"; do
    coffer_restore "${BINS[$k]}" "${LABELS[$k]}" "$round"; TC[$k,$round]=$T
    echo "round $round: coffer ${LABELS[$k]} $T s ($ENG); load $(cut -d' ' -f1 /proc/loadavg)"
  done
  TR[$round]=-
  if [ "$PEER" = restic ]; then
    bench_trash "$W/restore-restic"; bench_settle "$W"; drop_caches
    t0=$(now); restic restore latest -q --target "$W/restore-restic" >/dev/null; TR[$round]=$(elapsed "$t0")
    echo "round $round: restic ${TR[$round]} s; load $(cut -d' ' -f1 /proc/loadavg)"
  fi
done
trap bench_trash_empty EXIT

echo
for k in "${!BINS[@]}"; do echo "${LABELS[$k]}: ${BINS[$k]}"; done
printf '%-6s' round; for k in "${!BINS[@]}"; do printf ' %9s' "${LABELS[$k]}"; done
printf ' %9s' restic; for k in "${!BINS[@]}"; do printf ' %9s' "${LABELS[$k]}/restic"; done; echo
for round in $(seq "$ROUNDS"); do
  printf '%-6s' "$round"; for k in "${!BINS[@]}"; do printf ' %8ss' "${TC[$k,$round]}"; done
  printf ' %8ss' "${TR[$round]}"
  for k in "${!BINS[@]}"; do
    r=-; [ "${TR[$round]}" != - ] && r=$(ratio "${TC[$k,$round]}" "${TR[$round]}"); printf ' %9s' "$r"
  done
  echo
done
