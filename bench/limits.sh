#!/usr/bin/env bash
# limits.sh: what this machine allows at best for a corpus, the floor each row of bench_backup.sh is
# measured against (issue 14: "report each row as a fraction of its limit").
#
# Measures, on CORPUS (default bench_backup.sh's):
#   - reading it cold (page cache dropped) with 16 parallel readers, and with one: the time, and for
#     the one reader the machine's CPU (busy time of every core in /proc/stat: the page cache fill,
#     the copy, the kernel's I/O completion), which a backup's reading costs whatever reads;
#   - the CPU of every per-byte step of a backup and a restore, one thread, with the repository's own
#     code (bench/limits.c: chunk cuts, HMAC-SHA-256 ids, zstd with the repository's parameters,
#     AES-256-GCM; GCM opening and zstd decompression), each distinct chunk compressed once as a
#     backup does, hard links read once;
#   - writing the corpus's byte count durably (4 dd in parallel, conv=fdatasync): buffered, direct,
#     and as a restore does (the bytes of files of 1 MiB or more direct, the rest buffered), with
#     the machine's CPU for that last one (dd's reads of /dev/zero are in it too);
#   - reading as many bytes as the repository stores cold, from large files (the machine's CPU), and
#     the same read while the restore's write runs (the time: the disk's bandwidth is shared);
#   - creating the tree's directories and files empty (the machine's CPU);
#   - one lstat walk of the tree (find -printf, page cache warm, as after a first backup).
# The limits on NPROC cores (default: this machine's):
#   first backup   max(cold read with 16 readers, (cold read CPU + cut + id + zstd + seal CPU) / NPROC)
#   unchanged      the lstat walk / NPROC
#   full restore   max(the restore's durable write while the stored bytes are read cold,
#                      (cold read of the stored bytes + open + unzstd + create + write CPU) / NPROC)
# Each assumes perfect parallelism and no other cost: real programs stay above them. Prints a table;
# with a bench_backup.sh output file as TABLE, also each coffer row as a fraction of its limit
# (limit / coffer's time: 1.00 would be the machine's best). Not a test: nothing is asserted.
#
#   bench/limits.sh [CORPUS] [WORKDIR] [TABLE]   (defaults /tmp/coffer-bench/corpus, /tmp/coffer-limits)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib_restore.sh
CORPUS=${1:-/tmp/coffer-bench/corpus}
W=${2:-/tmp/coffer-limits}
TABLE=${3:-}
NPROC=${NPROC:-$(nproc)}
[ -d "$CORPUS" ] || { echo "no corpus at $CORPUS (run bench/bench_backup.sh once)" >&2; exit 2; }
PKGS="libmicrohttpd jansson sqlite3 libpq libcrypto libzstd libcurl"
make -s build/libcoffer.a
cc -std=c17 -D_GNU_SOURCE -O2 -march=x86-64-v2 -Isrc -o build/limits bench/limits.c build/libcoffer.a \
   $(pkg-config --cflags --libs $PKGS) -lpthread -lm
rm -rf "$W"; mkdir -p "$W"
trap 'bench_remove "$W"' EXIT

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc -l | xargs printf '%.2f'; }
# busy: the CPU seconds every core has spent so far (/proc/stat's first line: user, nice, system, irq,
# softirq; idle, iowait and the hypervisor's steal left out)
HZ=$(getconf CLK_TCK)
busy() { awk -v hz="$HZ" '$1 == "cpu" { printf "%.3f", ($2 + $3 + $4 + $7 + $8) / hz; exit }' /proc/stat; }
busy_since() { echo "$(busy) - $1" | bc -l | xargs printf '%.2f'; }

# One path per inode (hard links are read once by a backup), in path order.
find "$CORPUS" -type f -printf '%i\t%p\n' | sort -u -k1,1 | cut -f2- | sort > "$W/files"
BYTES=$(tr '\n' '\0' < "$W/files" | du -cb --files0-from=- | tail -1 | cut -f1)
echo "corpus $CORPUS: $(wc -l < "$W/files") files (one per inode), $BYTES bytes; $NPROC cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

bench_removal_wait   # the cold reads: not beside another bench's removal
drop_caches; t0=$(now)
tr '\n' '\0' < "$W/files" | xargs -0 -P16 -n64 cat > /dev/null
READ16=$(since "$t0")
drop_caches; t0=$(now); c0=$(busy)
tr '\n' '\0' < "$W/files" | xargs -0 -n256 cat > /dev/null
READ1=$(since "$t0"); READ_CPU=$(busy_since "$c0")

# page cache warm from here on
build/limits "$W/scratch" < "$W/files" > "$W/steps"
step() { awk -v k="$1" '$1 == k {print $2}' "$W/steps"; }

t0=$(now)
find "$CORPUS" -printf '%s %T@ %i\n' > /dev/null
WALK=$(since "$t0")

# Writing: 4 writers of a quarter each (one writer's request at a time leaves this virtual disk idle
# between them: one dd took 4.5 s where a restore wrote as much durably in 2.4 s), all through the
# page cache, all direct (oflag=direct), and as a restore writes: the bytes of files of 1 MiB or more
# direct, the rest through the page cache, both at once.
ddw() { # ddw TAG BYTES [FLAGS...]: starts 4 dd, each writing a quarter of BYTES durably
  local tag=$1 bytes=$2 i
  shift 2
  for i in 1 2 3 4; do
    dd if=/dev/zero of="$W/dd.$tag$i" bs=1M count=$(( bytes / 4 / 1048576 )) conv=fdatasync status=none "$@" &
  done
}
BIG=$(tr '\n' '\0' < "$W/files" | xargs -0 stat -c %s | awk '$1 >= 1048576 { s += $1 } END { print s + 0 }')
t0=$(now); ddw b "$BYTES"; wait; WRITE_BUF=$(since "$t0"); rm -f "$W"/dd.*
t0=$(now); ddw d "$BYTES" oflag=direct; wait; WRITE_DIRECT=$(since "$t0")
# A restore reads the repository's packs cold: as many bytes as it stores, read back from those 4
# files (large files, as packs are), the machine's CPU.
STORED=$(step bytes_stored)
packs_read() { local i; for i in 1 2 3 4; do head -c $(( STORED / 4 )) "$W/dd.d$i" > /dev/null & done; }
drop_caches; c0=$(busy); packs_read; wait
PACK_READ_CPU=$(busy_since "$c0")
t0=$(now); c0=$(busy); ddw rd "$BIG" oflag=direct; ddw rb "$((BYTES - BIG))"; wait
WRITE=$(since "$t0"); WRITE_CPU=$(busy_since "$c0"); rm -f "$W"/dd.r*
# A restore reads and writes at once, and this virtual disk's bandwidth is shared between the two
# (1 GiB direct with dd: read alone 0.69 s, written alone 0.60 s, both at once 1.37-1.40 s each). So
# the restore's I/O is timed as it happens: the stored bytes read cold while the restore's write runs.
drop_caches; t0=$(now); packs_read; ddw rd "$BIG" oflag=direct; ddw rb "$((BYTES - BIG))"; wait
RESTORE_IO=$(since "$t0"); rm -f "$W"/dd.*

# Creating the tree's directories and files, empty, with their times (touch): the machine's CPU for
# the per-file work a restore does besides writing data. On ext4 without a journal, inodes freed in
# the last 6 minutes make every creation slower (bench/lib_restore.sh): measured after
# bench_backup.sh had emptied its trash, this took 1.7 s of CPU instead of 0.5 s. So it waits, as
# the benches' restores do, for any bench's last deletion (bench_freed's stamp); the tree goes to its
# trash, emptied at the end.
bench_settle "$W"
bench_trash_init "$W"
mkdir -p "$W/tree"
c0=$(busy)
(cd "$CORPUS" && find . -type d -print0) | (cd "$W/tree" && xargs -0 mkdir -p)
(cd "$CORPUS" && find . -type f -print0) | (cd "$W/tree" && xargs -0 touch)
CREATE_CPU=$(busy_since "$c0")
bench_trash "$W/tree"

calc() { echo "$1" | bc -l | xargs printf '%.2f'; }
max() { calc "if ($1 > $2) $1 else $2"; }
CPU_BACKUP=$(calc "$READ_CPU + $(step cut) + $(step id) + $(step zstd) + $(step seal)")
CPU_RESTORE=$(calc "$PACK_READ_CPU + $(step open) + $(step unzstd) + $CREATE_CPU + $WRITE_CPU")
L_FIRST=$(max "$READ16" "$(calc "$CPU_BACKUP / $NPROC")")
L_UNCHANGED=$(calc "$WALK / $NPROC")
L_RESTORE=$(max "$RESTORE_IO" "$(calc "$CPU_RESTORE / $NPROC")")

echo
echo "measured                                  seconds"
printf '%-40s %8s\n' "cold read, 16 readers" "$READ16" "cold read, 1 reader" "$READ1" \
  "cold read, 1 reader: machine CPU" "$READ_CPU" "durable write, 4 writers, $BYTES bytes" "$WRITE_BUF" \
  "the same, direct (O_DIRECT)" "$WRITE_DIRECT" "the same, files of 1 MiB+ ($BIG) direct" "$WRITE" \
  "the same: machine CPU" "$WRITE_CPU" "cold read of the stored bytes: machine CPU" "$PACK_READ_CPU" \
  "that write while reading the stored bytes cold" "$RESTORE_IO" \
  "creating the tree empty: machine CPU" "$CREATE_CPU" \
  "lstat walk (warm)" "$WALK"
for s in read cut id zstd seal open unzstd; do printf '%-40s %8s\n' "CPU, one thread: $s" "$(step "$s")"; done
awk '$1 ~ /^(chunks|bytes_unique|bytes_stored)$/ {printf "%-40s %8s\n", $1, $2}' "$W/steps"
echo
echo "limit on $NPROC cores                          seconds"
printf '%-40s %8s\n' "first backup" "$L_FIRST" "unchanged re-backup" "$L_UNCHANGED" "full restore" "$L_RESTORE"

if [ -n "$TABLE" ] && [ -f "$TABLE" ]; then
  echo
  echo "coffer against the limit (limit / coffer: 1.00 is the machine's best)"
  row() { awk -v k="$1" 'index($0, k) == 1 { sub(/s$/, "", $(NF-4)); print $(NF-4) }' "$TABLE" | tail -1; }
  for r in "backup first:$L_FIRST" "backup unchanged:$L_UNCHANGED" "full restore:$L_RESTORE"; do
    name=${r%%:*}; lim=${r##*:}; t=$(row "$name")
    [ -n "$t" ] && printf '%-22s coffer %7ss  limit %7ss  fraction %s\n' "$name" "$t" "$lim" "$(calc "$lim / $t")"
  done
fi

# the created tree, removed last (its stamp makes the next run wait, see above)
bench_trash_empty
