#!/usr/bin/env bash
# bench_backup.sh: Coffer against restic and borg on one corpus, side by side, in one run.
#
# Corpus: about 1.5 GB copied from /usr (include, share/doc, lib/x86_64-linux-gnu, lib/python3,
# lib/gcc, share/locale, bin). Phases, for each tool: first backup, unchanged re-backup, re-backup
# after changing 5% of the files, full restore; plus repository size and peak memory (coffer: the
# whole daemon's VmHWM; peers: /usr/bin/time's maximum RSS). Coffer is driven through its REST API
# (release build), timed from just before the POST (curl's start, as a peer's time includes its
# process start) to the end the daemon records for the run or recovery (endTimeUsecs, same clock):
# the bench polls for the end (bench/lib_poll.sh: a light poll, as the daemon shares the cores with
# it), and the polling's delay is not the daemon's time. Each tool's restore is also reported on disk:
# its time plus a sync right after it (the peers end before their data is written: lib_restore.sh).
# Prints a table of absolute figures and the ratios coffer/peer. Not a test: nothing is asserted.
#
#   bench/bench_backup.sh [WORKDIR]     (default /tmp/coffer-bench; needs ~8 GB free)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib_restore.sh
. bench/lib_poll.sh
W=${1:-/tmp/coffer-bench}
CORPUS=$W/corpus
command -v restic >/dev/null && command -v borg >/dev/null && command -v jq >/dev/null || {
  apt-get install -y -qq restic borgbackup jq time >/dev/null; }
make -s -j"$(nproc)" all

# The corpus is built once and reused by later runs (its stamp says it is complete); everything
# else in WORKDIR is made afresh. A run's 5% change is undone at its end (change_undo), so every
# run backs up the same bytes. BENCH_FRESH_CORPUS=1 builds it again.
mkdir -p "$W"
bench_trash_init "$W"   # the last run's repositories and restores: removed at the end (bench_settle)
bench_trash_except corpus corpus.stamp changed.list
[ "${BENCH_FRESH_CORPUS:-0}" = 1 ] && rm -rf "$CORPUS"
[ -f "$CORPUS.stamp" ] || rm -rf "$CORPUS"
echo "== corpus"
if [ ! -d "$CORPUS" ]; then
  mkdir -p "$CORPUS"
  for d in include share/doc lib/x86_64-linux-gnu lib/python3 lib/gcc share/locale bin; do
    mkdir -p "$CORPUS/$(dirname $d)"; cp -a "/usr/$d" "$CORPUS/$d" 2>/dev/null || true
  done
  sync
  touch "$CORPUS.stamp"
else
  echo "reusing $CORPUS"
fi
CORPUS_BYTES=$(du -sb "$CORPUS" | cut -f1); CORPUS_FILES=$(find "$CORPUS" -type f | wc -l)
echo "corpus: $CORPUS_BYTES bytes, $CORPUS_FILES files"

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
change_5pct() { # append to every 20th file (deterministic); their sizes are kept for change_undo
  find "$CORPUS" -type f | sort | awk 'NR % 20 == 0' | while read -r f; do
    sz=$(stat -c %s "$f") || continue
    printf '%s\t%s\n' "$sz" "$f" >> "$W/changed.list"
    printf 'coffer-bench-change %s\n' "$RANDOM" >> "$f" 2>/dev/null || true; done
}
change_undo() { # the changed files back to their sizes before change_5pct
  [ -f "$W/changed.list" ] || return 0
  while IFS=$'\t' read -r sz f; do truncate -s "$sz" "$f" 2>/dev/null || true; done < "$W/changed.list"
  rm -f "$W/changed.list"
}
change_undo; trap 'change_undo; bench_trash_empty' EXIT   # also what an interrupted run left changed
# The corpus changes once; each tool's third backup sees the same change. So: snapshot the corpus
# state by running all first+second backups, then change, then all third backups.

declare -A T M S
timed() { # key, command...  (records time and max RSS in KB)
  local key=$1; shift; local t0; t0=$(now)
  /usr/bin/time -f '%M' -o "$W/time.$key" "$@" >"$W/log.$key" 2>&1
  T[$key]=$(elapsed "$t0"); M[$key]=$(cat "$W/time.$key" | tail -1)
}

# ---- coffer
KEY=bench-key-$$
CDATA=$W/coffer-data
COFFER_ADMIN_KEY=$KEY build/cofferd --data-dir "$CDATA" --listen 127.0.0.1:0 >"$W/cofferd.log" 2>&1 &
CPID=$!
for i in $(seq 100); do PORT=$(sed -n 's/^cofferd ready port=//p' "$W/cofferd.log"); [ -n "$PORT" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$PORT/v2
api() { curl -sS -X "$1" -H "Authorization: Bearer $KEY" -H "X-IBM-Tenant-Id: bench" \
        -H 'Content-Type: application/json' "$URL$2" ${3:+-d "$3"}; }
SRC=$(api POST /data-protect/sources/registrations '{"environment":"kPhysical","physicalParams":{"endpoint":"127.0.0.1","hostType":"kLinux","physicalType":"kHost"}}')
OBJ=$(echo "$SRC" | jq -r '.sourceInfo.id // .id')
POL=$(api POST /data-protect/policies '{"name":"bench","backupPolicy":{"regular":{"incremental":{"schedule":{"unit":"Days","daySchedule":{"frequency":1}}},"retention":{"unit":"Days","duration":7}}}}' | jq -r .id)
GRP=$(api POST /data-protect/protection-groups "{\"name\":\"bench\",\"policyId\":\"$POL\",\"environment\":\"kPhysical\",\"physicalParams\":{\"protectionType\":\"kFile\",\"fileProtectionTypeParams\":{\"objects\":[{\"id\":$OBJ,\"filePaths\":[{\"includedPath\":\"$CORPUS\"}]}]}}}" | jq -r .id)
coffer_run() { # key runType
  local t0; t0=$(now)
  api POST "/data-protect/protection-groups/$GRP/runs" "{\"runType\":\"$2\"}" >/dev/null
  st=$(bench_wait_end "/data-protect/protection-groups/$GRP/runs?numRuns=1&includeObjectDetails=true"); s=$(bench_status "$st")
  T[$1]=$(bench_end_s "$t0" "$st"); echo "$st" > "$W/run.$1.json"
  echo "coffer $1: $s in ${T[$1]} s"
  M[$1]=$(awk '/VmHWM/{print $2}' /proc/$CPID/status)
}
coffer_restore() {
  local sid t0 rid s doc
  sid=$(jq -r '.runs[0].objects[0].localSnapshotInfo.snapshotInfo.snapshotId' "$W/run.coffer3.json")
  mkdir -p "$W/restore-coffer"; bench_settle "$W"; drop_caches; t0=$(now)
  rid=$(api POST /data-protect/recoveries "$(restore_body "$sid" "$CORPUS" "$OBJ" "$W/restore-coffer")" | jq -r .id)
  doc=$(bench_wait_end "/data-protect/recoveries/$rid"); s=$(bench_status "$doc")
  T[coffer_restore]=$(bench_end_s "$t0" "$doc"); T[coffer_restore_sync]=$(bench_sync_s)
  echo "coffer restore: $s in ${T[coffer_restore]} s, then sync ${T[coffer_restore_sync]} s"
  M[coffer_restore]=$(awk '/VmHWM/{print $2}' /proc/$CPID/status)
}

export RESTIC_PASSWORD=bench RESTIC_REPOSITORY=$W/restic BORG_PASSPHRASE=bench BORG_REPO=$W/borg
export BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
restic init -q >/dev/null
borg init -e repokey-blake2 >/dev/null 2>&1

bench_removal_wait   # the first backups read the corpus cold: not beside another bench's removal
echo "== first backup";       drop_caches; coffer_run coffer1 kRegular
drop_caches; timed restic1 restic backup -q "$CORPUS"
drop_caches; timed borg1 borg create --compression zstd,3 ::b1 "$CORPUS"
echo "== unchanged re-backup"; coffer_run coffer2 kRegular
timed restic2 restic backup -q "$CORPUS"
timed borg2 borg create --compression zstd,3 ::b2 "$CORPUS"
echo "== 5% changed";          change_5pct; coffer_run coffer3 kRegular
timed restic3 restic backup -q "$CORPUS"
timed borg3 borg create --compression zstd,3 ::b3 "$CORPUS"
echo "== restore"
coffer_restore
bench_settle "$W"; drop_caches; timed restic_restore restic restore latest -q --target "$W/restore-restic"
T[restic_restore_sync]=$(bench_sync_s)
mkdir -p "$W/restore-borg"; bench_settle "$W"; drop_caches
timed borg_restore sh -c "cd '$W/restore-borg' && borg extract ::b3"
T[borg_restore_sync]=$(bench_sync_s)
for k in coffer restic borg; do   # "on disk": lib_restore.sh, bench_sync_s
  T[${k}_restore_disk]=$(bench_on_disk "${T[${k}_restore]}" "${T[${k}_restore_sync]}")
done
# An alternate-location restore puts the folder at <dir>/<basename>.
if diff -r --no-dereference -q "$CORPUS" "$W/restore-coffer/$(basename "$CORPUS")" >/dev/null 2>&1; then VERIFY=identical; else VERIFY=DIFFERENT; fi

S[coffer]=$(du -sb "$CDATA/repo" | cut -f1); S[restic]=$(du -sb "$W/restic" | cut -f1); S[borg]=$(du -sb "$W/borg" | cut -f1)
kill -TERM $CPID; wait $CPID || true

ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
echo
echo "corpus $CORPUS_BYTES bytes, $CORPUS_FILES files; coffer restore is $VERIFY to the corpus"
printf '%-22s %10s %10s %10s %14s %14s\n' phase coffer restic borg coffer/restic coffer/borg
for p in 1:first 2:unchanged 3:changed-5%; do k=${p%%:*}; n=${p#*:}
  printf '%-22s %9ss %9ss %9ss %14s %14s\n' "backup $n" "${T[coffer$k]}" "${T[restic$k]}" "${T[borg$k]}" \
    "$(ratio ${T[coffer$k]} ${T[restic$k]})" "$(ratio ${T[coffer$k]} ${T[borg$k]})"
done
printf '%-22s %9ss %9ss %9ss %14s %14s\n' "full restore" "${T[coffer_restore]}" "${T[restic_restore]}" "${T[borg_restore]}" \
  "$(ratio ${T[coffer_restore]} ${T[restic_restore]})" "$(ratio ${T[coffer_restore]} ${T[borg_restore]})"
printf '%-22s %9ss %9ss %9ss %14s %14s\n' "restore, on disk" "${T[coffer_restore_disk]}" "${T[restic_restore_disk]}" \
  "${T[borg_restore_disk]}" "$(ratio ${T[coffer_restore_disk]} ${T[restic_restore_disk]})" \
  "$(ratio ${T[coffer_restore_disk]} ${T[borg_restore_disk]})"
printf '%-22s %10s %10s %10s %14s %14s\n' "repo bytes" "${S[coffer]}" "${S[restic]}" "${S[borg]}" \
  "$(ratio ${S[coffer]} ${S[restic]})" "$(ratio ${S[coffer]} ${S[borg]})"
pk_r=$(printf '%s\n' "${M[restic1]}" "${M[restic2]}" "${M[restic3]}" "${M[restic_restore]}" | sort -n | tail -1)
pk_b=$(printf '%s\n' "${M[borg1]}" "${M[borg2]}" "${M[borg3]}" "${M[borg_restore]:-0}" | sort -n | tail -1)
printf '%-22s %8sKB %8sKB %8sKB %14s %14s\n' "peak memory" "${M[coffer_restore]}" "$pk_r" "$pk_b" \
  "$(ratio ${M[coffer_restore]} $pk_r)" "$(ratio ${M[coffer_restore]} $pk_b)"
# The daemon's VmHWM only grows: the phase whose figure first reaches the peak is the one that set it.
echo "coffer VmHWM after each phase: first ${M[coffer1]} KB, unchanged ${M[coffer2]} KB," \
  "changed ${M[coffer3]} KB, restore ${M[coffer_restore]} KB"
