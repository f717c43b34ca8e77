#!/usr/bin/env bash
# bench_scale.sh: Coffer against restic on a generated tree of many small files, in one run.
#
# The tree: FILES small files (default 1,000,000; 64 to 4,159 bytes each, different content per
# file) in directories of PER_DIR files each (default 1,000), two levels deep. Phases, for each
# tool: first backup, unchanged re-backup, full restore; the peak memory of each (coffer: the
# daemon's VmHWM during the phase, reset at its start through /proc/PID/clear_refs; restic:
# /usr/bin/time's maximum RSS of the phase). Coffer is driven through its REST API (release build),
# timed from the POST to the end of the run; each restore is also reported on disk, plus a sync right
# after it (restic's restore ends before its data is written: lib_restore.sh). The file index of each
# snapshot (built after its run) is waited for between phases and its peak reported too. Prints a
# table of absolute figures and the ratios coffer/restic. Not a test: nothing is asserted. Run it
# twice with different PER_DIR to see how memory grows with the files per directory (it must grow
# less than linearly); with NO_RESTIC=1 only coffer runs (for such memory runs). COFFERD=path runs
# that daemon binary.
#
#   bench/bench_scale.sh [FILES] [PER_DIR] [WORKDIR]   (default 1000000 1000 /tmp/coffer-scale)
#
# The tree is generated once per (FILES, PER_DIR) and reused by later runs. With PERF=DIR set,
# each coffer phase is profiled (perf record -a -F 199: the whole machine, as a profile attached to
# the daemon's threads lost the workers a later phase started; `perf report --comm cofferd`) into
# DIR/perf.<phase>.data.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib_restore.sh
. bench/lib_poll.sh
N=${1:-1000000}; PER=${2:-1000}; W=${3:-/tmp/coffer-scale}
TREE=$W/tree-$N-$PER
command -v restic >/dev/null && command -v jq >/dev/null || apt-get install -y -qq restic jq time >/dev/null
CBIN=${COFFERD:-build/cofferd}   # COFFERD=path: another daemon binary (e.g. a baseline's)
[ -n "${COFFERD:-}" ] || make -s -j"$(nproc)" build/cofferd

mkdir -p "$W"
bench_trash_init "$W"   # the last run's repositories and restores: removed at the end (bench_settle)
bench_trash_except 'tree-*'
if [ ! -f "$TREE.stamp" ]; then
  echo "== generating $N files, $PER per directory"
  rm -rf "$TREE"; mkdir -p "$TREE"
  ND=$(( (N + PER - 1) / PER ))
  # directories d<top>/<dir>: at most 1,000 per top-level directory
  seq 0 $((ND - 1)) | awk -v t="$TREE" '{ printf "%s/t%03d/d%06d\n", t, int($1 / 1000), $1 }' | xargs mkdir -p
  awk -v t="$TREE" -v n="$N" -v per="$PER" 'BEGIN {
    pad = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_"; s = pad
    while (length(s) < 4096) s = s s
    for (i = 0; i < n; i++) {
      d = int(i / per); f = sprintf("%s/t%03d/d%06d/f%07d.txt", t, int(d / 1000), d, i)
      len = 64 + (i * 7919) % 4096
      printf "file %d of %d\n%s\n", i, n, substr(s, 1 + i % 61, len) > f
      close(f)
    }
  }'
  sync; touch "$TREE.stamp"
fi
BYTES=$(du -sb "$TREE" | cut -f1)
echo "tree: $N files, $PER per directory, $BYTES bytes (du)"

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
declare -A T M
timed() { # key, command...  (records time and max RSS in KB)
  local key=$1; shift; local t0; t0=$(now)
  /usr/bin/time -f '%M' -o "$W/time.$key" "$@" >"$W/log.$key" 2>&1
  T[$key]=$(elapsed "$t0"); M[$key]=$(tail -1 "$W/time.$key")
}

# ---- coffer
NO_RESTIC=${NO_RESTIC:-}
declare -A R   # the daemon's VmRSS when a phase starts (what earlier phases left resident)
hwm_reset() { echo 5 > "/proc/$CPID/clear_refs" 2>/dev/null || true; }
rss() { awk '/VmRSS/{print $2}' "/proc/$CPID/status"; }
hwm() { awk '/VmHWM/{print $2}' "/proc/$CPID/status"; }
KEY=bench-key-$$
CDATA=$W/coffer-data
COFFER_ADMIN_KEY=$KEY "$CBIN" --data-dir "$CDATA" --listen 127.0.0.1:0 >"$W/cofferd.log" 2>&1 &
CPID=$!
trap 'kill -TERM $CPID 2>/dev/null || true; bench_trash_empty' EXIT
for i in $(seq 300); do PORT=$(sed -n 's/^cofferd ready port=//p' "$W/cofferd.log" 2>/dev/null || true); [ -n "$PORT" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$PORT/v2
api() { curl -sS -X "$1" -H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: bench" \
        -H 'Content-Type: application/json' "$URL$2" ${3:+-d "$3"}; }
SRC=$(api POST /data-protect/sources/registrations '{"environment":"kPhysical","physicalParams":{"endpoint":"127.0.0.1","hostType":"kLinux","physicalType":"kHost"}}')
OBJ=$(echo "$SRC" | jq -r '.sourceInfo.id // .id')
POL=$(api POST /data-protect/policies '{"name":"bench","backupPolicy":{"regular":{"incremental":{"schedule":{"unit":"Days","daySchedule":{"frequency":1}}},"retention":{"unit":"Days","duration":7}}}}' | jq -r .id)
GRP=$(api POST /data-protect/protection-groups "{\"name\":\"bench\",\"policyId\":\"$POL\",\"environment\":\"kPhysical\",\"physicalParams\":{\"protectionType\":\"kFile\",\"fileProtectionTypeParams\":{\"objects\":[{\"id\":$OBJ,\"filePaths\":[{\"includedPath\":\"$TREE\"}]}]}}}" | jq -r .id)
PERF=${PERF:-}
perf_start() { [ -n "$PERF" ] || return 0; mkdir -p "$PERF"
  perf record -a -F 199 -o "$PERF/perf.$1.data" >"$W/perf.$1.log" 2>&1 & PPID_PERF=$!; }
perf_stop() { [ -n "$PERF" ] || return 0; kill -INT "$PPID_PERF" 2>/dev/null || true; wait "$PPID_PERF" || true; }
coffer_run() { # key
  local t0 st s; perf_start "$1"; hwm_reset; R[$1]=$(rss); t0=$(now)
  api POST "/data-protect/protection-groups/$GRP/runs" '{"runType":"kRegular"}' >/dev/null
  st=$(bench_wait_end "/data-protect/protection-groups/$GRP/runs?numRuns=1&includeObjectDetails=true"); s=$(bench_status "$st")
  T[$1]=$(bench_end_s "$t0" "$st"); perf_stop; echo "$st" > "$W/run.$1.json"
  M[$1]=$(hwm)
  echo "coffer $1: $s in ${T[$1]} s"
}
# the file index of the first snapshot is built after its run: waited for, so it does not run beside the next phase
index_wait() { # count, key: waits for the count-th snapshot's file index; its peak memory in M[key]
  hwm_reset; R[$2]=$(rss)
  for i in $(seq 3600); do [ "$(grep -c 'indexer: snapshot' "$W/cofferd.log")" -ge "$1" ] && break; sleep 0.5; done
  M[$2]=$(hwm); }

export RESTIC_PASSWORD=bench RESTIC_REPOSITORY=$W/restic
[ -n "$NO_RESTIC" ] || restic init -q >/dev/null
restic_timed() { if [ -n "$NO_RESTIC" ]; then T[$1]=-; M[$1]=-; else timed "$@"; fi; }

bench_removal_wait   # the first backups read the tree cold: not beside another bench's removal
echo "== first backup; $(uptime)"
drop_caches; coffer_run coffer1; index_wait 1 index1
drop_caches; restic_timed restic1 restic backup -q "$TREE"
echo "== unchanged re-backup; $(uptime)"
coffer_run coffer2; index_wait 2 index2
restic_timed restic2 restic backup -q "$TREE"
echo "== restore; $(uptime)"
sid=$(jq -r '.runs[0].objects[0].localSnapshotInfo.snapshotInfo.snapshotId' "$W/run.coffer2.json")
mkdir -p "$W/restore-coffer"; bench_settle "$W"; drop_caches; perf_start coffer_restore; hwm_reset; R[coffer_restore]=$(rss); t0=$(now)
rid=$(api POST /data-protect/recoveries "$(restore_body "$sid" "$TREE" "$OBJ" "$W/restore-coffer")" | jq -r .id)
doc=$(bench_wait_end "/data-protect/recoveries/$rid"); s=$(bench_status "$doc")
T[coffer_restore]=$(bench_end_s "$t0" "$doc"); perf_stop; M[coffer_restore]=$(hwm); T[coffer_sync]=$(bench_sync_s)
echo "coffer restore: $s in ${T[coffer_restore]} s, then sync ${T[coffer_sync]} s"
bench_settle "$W"; drop_caches; restic_timed restic_restore restic restore latest -q --target "$W/restore-restic"
T[restic_sync]=-; [ -n "$NO_RESTIC" ] || T[restic_sync]=$(bench_sync_s)
if diff -r --no-dereference -q "$TREE" "$W/restore-coffer/$(basename "$TREE")" >/dev/null 2>&1; then VERIFY=identical; else VERIFY=DIFFERENT; fi
SC=$(du -sb "$CDATA/repo" | cut -f1); SR=-; [ -n "$NO_RESTIC" ] || SR=$(du -sb "$W/restic" | cut -f1)
kill -TERM $CPID; wait $CPID || true
trap bench_trash_empty EXIT

ratio() { case "$1$2" in *-*) echo -;; *) echo "$1 / $2" | bc -l | xargs printf '%.2f';; esac; }
echo
echo "tree $N files, $PER per directory, $BYTES bytes; coffer restore is $VERIFY to the tree"
printf '%-18s %10s %10s %14s %12s %12s %10s %12s\n' phase coffer restic coffer/restic "coffer KB" "restic KB" "mem ratio" "coffer at start"
for p in 1:first-backup 2:re-backup _restore:restore; do k=${p%%:*}; n=${p#*:}
  printf '%-18s %9ss %9ss %14s %12s %12s %10s %12s\n' "$n" "${T[coffer$k]}" "${T[restic$k]}" \
    "$(ratio "${T[coffer$k]}" "${T[restic$k]}")" "${M[coffer$k]}" "${M[restic$k]}" "$(ratio "${M[coffer$k]}" "${M[restic$k]}")" "${R[coffer$k]}"
done
T[coffer_disk]=$(bench_on_disk "${T[coffer_restore]}" "${T[coffer_sync]}")
T[restic_disk]=$(bench_on_disk "${T[restic_restore]}" "${T[restic_sync]}")
printf '%-18s %9ss %9ss %14s\n' "restore, on disk" "${T[coffer_disk]}" "${T[restic_disk]}" "$(ratio "${T[coffer_disk]}" "${T[restic_disk]}")"
printf '%-18s %10s %10s %14s\n' "repo bytes" "$SC" "$SR" "$(ratio "$SC" "$SR")"
echo "coffer file index peak KB: first ${M[index1]} (from ${R[index1]}), second ${M[index2]} (from ${R[index2]})"
echo "(coffer KB: the daemon's peak during the phase; restic KB: that phase's peak)"
echo "load at the end: $(uptime)"
