#!/usr/bin/env bash
# backup_loop.sh: Coffer's backups alone, for iterating on backup speed (bench_backup.sh is the
# side-by-side comparison; this is the quick loop between its runs).
#
# Each round starts the release daemon on a fresh data directory, protects CORPUS (default
# bench_backup.sh's corpus, read only: nothing here changes it) and runs a first backup (page cache
# dropped before it) and an unchanged re-backup. For each backup it prints the wall time from the
# POST to the end of the run (the daemon's endTimeUsecs: the polling's own delay is left out, as in
# bench_backup.sh), the daemon's CPU time (user+system, from /proc: less sensitive to other load
# than the wall time), its VmHWM, the bytes it caused to be read from disk, and the engine's own
# breakdown from the daemon's log. With
# BL_RESTIC=1 a restic first and unchanged backup run beside it, in the same round, for a ratio.
# BL_PERF=1 records a perf profile of the machine during each backup (perf.first.N.data,
# perf.unchanged.N.data in WORKDIR; perf report --comm cofferd for the daemon), BL_PERF=first or
# BL_PERF=unchanged of those only; BL_PERF_CG=dwarf for call graphs through code built without
# frame pointers; BL_PERF_EV=EVENT records that event instead of CPU cycles (e.g.
# sched:sched_switch: where threads block). BL_DAEMON=build/asan/cofferd runs the sanitized build.
# BL_UNCHANGED=N runs N unchanged re-backups per round (default 1). BL_COLD=1 (alt: every second one) drops the page cache
# before each of them and then stats the whole corpus, which is what bench_backup.sh's unchanged
# re-backup meets (the page cache is dropped before borg's first backup, which then reads the
# corpus again): the source's inodes are cached, the repository's packs (the parent's trees) and
# the catalog are not. BL_CHANGED=N then runs N re-backups each after appending a line to every 20th
# file (as bench_backup.sh's 5% change; again cold: borg reads with POSIX_FADV_DONTNEED, so in
# bench_backup.sh the changed files' content is not cached either); it changes CORPUS, so it needs a
# copy of its own (it refuses the bench's corpus).
# Not a test: nothing is asserted.
#
#   bench/backup_loop.sh [ROUNDS] [CORPUS] [WORKDIR]   (defaults 1, /tmp/coffer-bench/corpus,
#                                                       /tmp/coffer-bl)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib_poll.sh
ROUNDS=${1:-1}
CORPUS=${2:-/tmp/coffer-bench/corpus}
W=${3:-/tmp/coffer-bl}
[ -d "$CORPUS" ] || { echo "no corpus at $CORPUS (run bench/bench_backup.sh once)" >&2; exit 2; }
command -v jq >/dev/null || { echo "needs jq" >&2; exit 2; }
make -s -j2 all
mkdir -p "$W"

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
io_reads() { awk '/^read_bytes/{print $2}' "/proc/$1/io"; }  # bytes the daemon caused to be read from disk
HZ=$(getconf CLK_TCK)

start_daemon() {
  rm -rf "$W/data" "$W/cofferd.log"
  KEY=bl-key-$$
  COFFER_ADMIN_KEY=$KEY "${BL_DAEMON:-build/cofferd}" --data-dir "$W/data" --listen 127.0.0.1:0 >"$W/cofferd.log" 2>&1 &
  CPID=$!
  PORT=
  for _ in $(seq 100); do PORT=$(sed -n 's/^cofferd ready port=//p' "$W/cofferd.log"); [ -n "$PORT" ] && break; sleep 0.1; done
  [ -n "$PORT" ] || { echo "daemon did not start" >&2; cat "$W/cofferd.log" >&2; exit 1; }
  URL=http://127.0.0.1:$PORT/v2
  local src obj pol
  src=$(api POST /data-protect/sources/registrations '{"environment":"kPhysical","physicalParams":{"endpoint":"127.0.0.1","hostType":"kLinux","physicalType":"kHost"}}')
  obj=$(echo "$src" | jq -r '.sourceInfo.id // .id')
  pol=$(api POST /data-protect/policies '{"name":"bl","backupPolicy":{"regular":{"incremental":{"schedule":{"unit":"Days","daySchedule":{"frequency":1}}},"retention":{"unit":"Days","duration":7}}}}' | jq -r .id)
  GRP=$(api POST /data-protect/protection-groups "{\"name\":\"bl\",\"policyId\":\"$pol\",\"environment\":\"kPhysical\",\"physicalParams\":{\"protectionType\":\"kFile\",\"fileProtectionTypeParams\":{\"objects\":[{\"id\":$obj,\"filePaths\":[{\"includedPath\":\"$CORPUS\"}]}]}}}" | jq -r .id)
}
api() { curl -sS -X "$1" -H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: bench" \
        -H 'Content-Type: application/json' "$URL$2" ${3:+-d "$3"}; }

run_backup() { # label
  local t0 c0 c1 r0 st s perfpid=
  if [ "${BL_PERF:-0}" = 1 ] || [ "${BL_PERF:-0}" = "${1%%.*}" ]; then
    perf record -q ${BL_PERF_EV:+-e "$BL_PERF_EV"} --call-graph "${BL_PERF_CG:-fp}" -a -o "$W/perf.$1.data" >/dev/null 2>&1 & perfpid=$!
    sleep 0.5
  fi
  c0=$(cpu_ticks "$CPID"); r0=$(io_reads "$CPID"); t0=$(now)
  api POST "/data-protect/protection-groups/$GRP/runs" '{"runType":"kRegular"}' >/dev/null
  st=$(bench_wait_end "/data-protect/protection-groups/$GRP/runs?numRuns=1" 300); s=$(bench_status "$st")
  local wall; wall=$(bench_end_s "$t0" "$st")
  c1=$(cpu_ticks "$CPID")
  [ -n "$perfpid" ] && { kill -INT "$perfpid"; wait "$perfpid" || true; }
  printf '%-12s %-10s wall %6.2fs  cpu %6.2fs  VmHWM %7s KB  disk reads %6s KB\n' "$1" "$s" "$wall" \
    "$(echo "($c1 - $c0) / $HZ" | bc -l)" "$(awk '/VmHWM/{print $2}' /proc/$CPID/status)" \
    "$(( ($(io_reads "$CPID") - r0) / 1024 ))"
  grep -E 'the mover took|finished: .* in [0-9]+ ms' "$W/cofferd.log" | tail -2 | sed -e 's/^.*msg="//' -e 's/" kind=.*//' -e 's/^/    /'
}

wait_idle() { # the daemon's work after a run (the search indexer) ends before the next one starts,
  # as in bench_backup.sh where the peers' backups run in between: at most 120 s
  local a b
  for _ in $(seq 240); do
    a=$(cpu_ticks "$CPID"); sleep 0.5; b=$(cpu_ticks "$CPID")
    [ $((b - a)) -le 2 ] && return 0
  done
}

restic_backup() { # label
  local t0; t0=$(now)
  /usr/bin/time -f '%e %U %S %M' -o "$W/restic.time" restic backup -q "$CORPUS" >/dev/null 2>&1
  read -r e u s m < "$W/restic.time"
  printf '%-12s restic     wall %6.2fs  cpu %6.2fs  maxRSS %7s KB\n' "$1" "$e" "$(echo "$u + $s" | bc -l)" "$m"
}

uptime
for r in $(seq "$ROUNDS"); do
  start_daemon
  drop_caches; run_backup "first.$r"
  [ "${BL_NO_IDLE:-0}" = 1 ] || wait_idle   # BL_NO_IDLE=1: the first re-backup meets the indexer at work
  for u in $(seq "${BL_UNCHANGED:-1}"); do
    if [ "${BL_COLD:-0}" = 1 ] || { [ "${BL_COLD:-0}" = alt ] && [ $((u % 2)) = 0 ]; }; then
      drop_caches; find "$CORPUS" -printf '%s\n' >/dev/null; fi
    run_backup "unchanged.$r.$u"
    wait_idle
  done
  for c in $(seq "${BL_CHANGED:-0}"); do   # needs a corpus of its own (CORPUS argument): it is changed
    [ "$CORPUS" != /tmp/coffer-bench/corpus ] || { echo "BL_CHANGED changes the corpus: give one of your own" >&2; break; }
    find "$CORPUS" -type f | sort | awk 'NR % 20 == 0' > "$W/changed.list"
    while read -r f; do printf 'backup-loop-change %s\n' "$RANDOM" >> "$f"; done < "$W/changed.list"
    drop_caches; find "$CORPUS" -printf '%s\n' >/dev/null   # as bench_backup.sh: content cold, inodes cached
    run_backup "changed.$r.$c"
    wait_idle
  done
  echo "    repo bytes $(du -sb "$W/data/repo" | cut -f1)"
  kill -TERM "$CPID"; wait "$CPID" || true
  if [ "${BL_RESTIC:-0}" = 1 ]; then
    export RESTIC_PASSWORD=bench RESTIC_REPOSITORY=$W/restic
    rm -rf "$W/restic"; restic init -q >/dev/null
    drop_caches; restic_backup "first.$r"
    restic_backup "unchanged.$r"
    echo "    restic repo bytes $(du -sb "$W/restic" | cut -f1)"
  fi
done
uptime
