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
