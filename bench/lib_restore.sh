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

# bench_rm PATH...: removes what a bench wrote (earlier restores, repositories) and notes when.
# bench_settle: called before a timed restore, waits until 61 s after the last bench_rm when the
# target's file system is ext4 without a journal. There ext4 does not reuse an inode freed in the
# last 60 s (RECENTCY_MIN in fs/ext4/ialloc.c) and walks past each one to allocate: a restore right
# after removing the previous one spent a third of its CPU in find_inode_bit and recently_deleted
# (bench_restore.sh round 2: 3.67 s and 6.2 s of CPU against round 1's 2.17 s and 3.2 s).
BENCH_RM_AT=0
bench_rm() {
  local p any=0
  for p in "$@"; do [ -e "$p" ] && any=1; done
  rm -rf "$@"
  [ "$any" = 0 ] || BENCH_RM_AT=$(date +%s)
}
bench_settle() { # DIR (the restore's target, or a directory on its file system)
  local dev left
  [ "$(findmnt -no FSTYPE -T "$1" 2>/dev/null)" = ext4 ] || return 0
  dev=$(basename "$(readlink -f "/sys/dev/block/$(findmnt -no MAJ:MIN -T "$1" | tr -d " ")")") || return 0
  [ "$(cat "/sys/fs/ext4/$dev/journal_task" 2>/dev/null)" = "<none>" ] || return 0  # journaled
  left=$(( BENCH_RM_AT + 61 - $(date +%s) ))
  [ "$left" -gt 0 ] || return 0
  echo "(waiting $left s before the restore: ext4 without a journal skips inodes freed in the last 60 s)"
  sleep "$left"
}
