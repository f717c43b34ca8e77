# bench/lib_restore.sh: the body of a Coffer file restore through the REST API, which
# bench_backup.sh, bench_restore.sh, bench_scale.sh and bench_s3.sh post; sourced by them, not run.
#
# restore_body SNAPSHOT_ID PATH OBJECT_ID TARGET_DIR: a kPhysical RecoverFiles of the directory PATH of
# the snapshot into TARGET_DIR on the registered host OBJECT_ID (not to the original paths,
# overwriting, keeping attributes), as one line of JSON on stdout.
restore_body() {
  printf '{"name":"bench","snapshotEnvironment":"kPhysical","physicalParams":{"objects":[{"snapshotId":"%s"}],"recoveryAction":"RecoverFiles","recoverFileAndFolderParams":{"filesAndFolders":[{"absolutePath":"%s","isDirectory":true}],"targetEnvironment":"kPhysical","physicalTargetParams":{"recoverTarget":{"id":%s},"restoreToOriginalPaths":false,"alternateRestoreDirectory":"%s","overwriteExisting":true,"preserveAttributes":true}}}}' \
    "$1" "$2" "$3" "$4"
}

# Freeing files before a timed restore. On ext4 without a journal (as on this project's test VMs)
# ext4 does not reuse an inode freed in the last 60 s, nor in the last 6 minutes once its inode-table
# block is dirty again (RECENTCY_MIN and RECENTCY_DIRTY in fs/ext4/ialloc.c), and a restore's own
# new inodes in those blocks make it dirty: the allocator then checks and walks past every such
# inode for each file it creates. A restore of the bench corpus right after the previous one was
# removed spent a third of its CPU there (find_get_block_common, recently_deleted, find_inode_bit)
# and took 3.7-5.4 s instead of 2.2-3.1 s, worse with each round; the peers pay it too, unevenly.
# So the benches free nothing while they time: bench_trash moves what is to go into the workdir's
# .trash (a rename frees no inode), bench_trash_empty removes it at the end of the run and stamps
# the time (bench_freed), and bench_settle waits before a timed restore until 361 s after that stamp,
# only where the target is ext4 without a journal (a run started right after another one waits; a
# journaled file system never does).

# The stamp is one for every bench, whatever its workdir: limits.sh removes a tree of the corpus's
# size too, and a bench started right after it timed a restore 30% slower.
BENCH_FREED_STAMP=${TMPDIR:-/tmp}/coffer-bench.freed
# bench_freed: stamps now as the time of the last large deletion.
bench_freed() { date +%s > "$BENCH_FREED_STAMP"; }

# bench_trash_init WORKDIR: the trash is WORKDIR/.trash (made here).
bench_trash_init() { BENCH_TRASH=$1/.trash; mkdir -p "$BENCH_TRASH"; }
# bench_trash PATH...: moves each existing PATH into the trash.
bench_trash() {
  local p
  for p in "$@"; do
    [ -e "$p" ] || [ -L "$p" ] || continue
    mv "$p" "$BENCH_TRASH/$(date +%s%N)-$(basename "$p")"
  done
}
# bench_trash_except NAME...: moves everything in the workdir into the trash but the entries named
# (find -name patterns) and the trash itself.
bench_trash_except() {
  local n args=()
  for n in "$@"; do args+=(! -name "$n"); done
  bench_trash $(find "${BENCH_TRASH%/.trash}" -mindepth 1 -maxdepth 1 "${args[@]}" ! -name '.trash*')
}
# bench_remove PATH...: removes them and stamps when. While it removes, BENCH_FREED_STAMP.removing
# holds this shell's pid: removing bench_scale.sh's two million files takes minutes after its table
# is printed, and a bench started meanwhile would time its backups and restores against that I/O.
bench_remove() {
  echo $$ > "$BENCH_FREED_STAMP.removing"
  rm -rf "$@"
  bench_freed
  # another bench's bench_remove may have taken the marker meanwhile: leave its own in place
  [ "$(cat "$BENCH_FREED_STAMP.removing" 2>/dev/null)" != $$ ] || rm -f "$BENCH_FREED_STAMP.removing"
}
# bench_removal_wait: waits while another bench's bench_remove runs (a live pid in the marker that
# is not this shell's; a marker left by a killed run names a dead pid and is ignored), an hour at
# most (a killed run's pid may have been reused).
bench_removal_wait() {
  local pid end=$(( $(date +%s) + 3600 ))
  pid=$(cat "$BENCH_FREED_STAMP.removing" 2>/dev/null) || return 0
  [ -n "$pid" ] && [ "$pid" != $$ ] && kill -0 "$pid" 2>/dev/null || return 0
  echo "(waiting for another bench's removal, pid $pid, to end)"
  while kill -0 "$pid" 2>/dev/null && [ "$(cat "$BENCH_FREED_STAMP.removing" 2>/dev/null)" = "$pid" ]; do
    [ "$(date +%s)" -lt "$end" ] || { echo "(pid $pid still holds the removal marker after an hour: not waiting)"; return 0; }
    sleep 2
  done
}
# bench_trash_empty: removes the trash's content and stamps when (for the next run's bench_settle).
bench_trash_empty() {
  [ -n "${BENCH_TRASH:-}" ] && [ -d "$BENCH_TRASH" ] || return 0
  [ -n "$(ls -A "$BENCH_TRASH")" ] || return 0
  bench_remove "${BENCH_TRASH:?}"/*   # bench_trash's names start with a timestamp: no dot files
}
# bench_settle DIR: before a timed restore into DIR (or a directory on its file system).
bench_settle() {
  local dev left last
  bench_removal_wait
  [ "$(findmnt -no FSTYPE -T "$1" 2>/dev/null)" = ext4 ] || return 0
  dev=$(basename "$(readlink -f "/sys/dev/block/$(findmnt -no MAJ:MIN -T "$1" | tr -d " ")")") || return 0
  [ "$(cat "/sys/fs/ext4/$dev/journal_task" 2>/dev/null)" = "<none>" ] || return 0  # journaled
  last=$(cat "$BENCH_FREED_STAMP" 2>/dev/null || echo 0)
  left=$(( last + 361 - $(date +%s) ))
  [ "$left" -gt 0 ] || return 0
  echo "(waiting $left s before the restore: ext4 without a journal skips inodes freed in the last 6 minutes)"
  sleep "$left"
}

# The peers' restores end before what they wrote is on disk: restic 0.14 and borg 1.2 call no fsync,
# fdatasync or syncfs on the files they restore (strace -f -c of each), and restic left the bench
# corpus's 1.7 GB dirty in the page cache (Dirty in /proc/meminfo), which a sync right after took
# 1.0 s to write. A Coffer restore ends with its own sync pass, so its end is when its data is
# durable. The benches therefore also report each tool's restore "on disk": its time plus that of a
# sync started right after it ends (Coffer's own is then near zero).
# bench_sync_s: runs sync; prints its seconds.
bench_sync_s() {
  local t0
  t0=$(date +%s.%N)
  sync
  echo "$(date +%s.%N) - $t0" | bc -l | xargs printf '%.2f'
}
# bench_on_disk RESTORE_S SYNC_S: their sum (a restore on disk); "-" when either is "-" (not run).
bench_on_disk() {
  case "$1$2" in *-*) echo -;; *) echo "$1 + $2" | bc -l | xargs printf '%.2f';; esac
}
