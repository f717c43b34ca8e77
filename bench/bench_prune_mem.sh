#!/usr/bin/env bash
# bench_prune_mem.sh: peak memory of a prune of a repository whose index holds N blobs (default
# 10 million; issue 10's target: under 1 GiB). Builds bench/prune_mem.c against build/libcoffer.a,
# builds the repository (N tiny blobs, trees, two snapshots; a few minutes and ~2 GB of disk for
# 10 million), then prunes it in a fresh process with one snapshot forgotten and prints the
# report, the process's VmHWM and /usr/bin/time's maximum RSS. Not a test: nothing is asserted.
#
#   bench/bench_prune_mem.sh [N] [WORKDIR]    (default 10000000, a new directory under /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000000}
W=${2:-$(mktemp -d "${TMPDIR:-/tmp}/coffer-bench-prune-mem-XXXXXX")}
PKGS="libmicrohttpd jansson sqlite3 libpq libcrypto libzstd libcurl"
make -s build/libcoffer.a
cc -std=c17 -D_GNU_SOURCE -O2 -Isrc -o build/prune_mem bench/prune_mem.c build/libcoffer.a \
   $(pkg-config --cflags --libs $PKGS) -lpthread -lm
trap 'rm -rf "$W"' EXIT
echo "building a repository of $N blobs in $W ..."
t0=$(date +%s)
SID=$(build/prune_mem build "$W" "$N")
echo "built in $(( $(date +%s) - t0 )) s; repository $(du -sb "$W/repo" | cut -f1) bytes"
/usr/bin/time -f 'maximum RSS (time): %M KiB, %e s' build/prune_mem prune "$W" "$SID"
echo "repository after prune: $(du -sb "$W/repo" | cut -f1) bytes"
