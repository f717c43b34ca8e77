/* restore.c: writing a snapshot's files back to disk, safely and in parallel.
 *
 * The calling thread resolves every requested path first (a missing one fails before anything is
 * written), then walks the trees: it creates directories (mkdirat, then openat with O_NOFOLLOW so
 * a symlink planted in the target is never followed), symlinks and special files itself, and
 * queues regular files in groups sorted by the pack and offset of their first chunk. Workers (several
 * per core: they often wait on cold pack reads) create each file unnamed in its directory
 * (O_TMPFILE), ftruncate to the size and pwrite only the data chunks (holes stay holes), set
 * attributes and only then link it under its name (linkat never follows the new name; an existing
 * entry is replaced by linking a temporary name and renaming it). Where O_TMPFILE is unsupported
 * the file is created under a temporary name (openat with O_EXCL|O_NOFOLLOW) and renamed into
 * place. Either way a damaged or partial file never appears under its final name. In a directory
 * this restore created, nothing can be in the way, so entries are not checked with fstatat.
 *
 * A reader thread reads the trees the walk needs ahead of it, in its order (see "tree read-ahead").
 * As it queues files the walker hints the pack ranges their chunks lie in to the repository
 * (repo_pack_prefetch: the reads start before a worker asks). Chunks are read with
 * repo_blob_get_fast (authenticated by AES-GCM, the id not recomputed). A flusher thread writes the
 * file system back every RS_SYNC_STEP bytes written through the page cache, and the restore ends
 * with a sync pass (syncfs of every file system written to): what a successful restore wrote is
 * durable when it returns.
 *
 * A whole file (no holes) of RS_DIRECT_MIN bytes or more is written with direct I/O where the file
 * system announces its alignment (statx STATX_DIOALIGN): the worker gathers the file's chunks into
 * an aligned staging buffer (one of RS_DIRECT_SLOTS; a file that finds none free is written
 * buffered), decompressing each chunk that fits straight into it, and writes it out in aligned
 * pieces, the unaligned tail buffered. On this project's VM that took the page cache copy, the page
 * allocations and the writeback off the CPU (see rs_direct_begin); files below the size stay
 * buffered, where one write is cheaper than a synchronous disk request.
 *
 * Every directory is an rs_dir holding an open fd and a count: the walker while listing it, each
 * queued file, each subdirectory and each pending hardlink hold one. Whoever drops the last count
 * sets the directory's mode, owner, xattrs and times (so its content can no longer change its
 * mtime), closes it and drops the parent's count. Hardlinks are made after all files are written:
 * link() to the restored first path, or, when that path was not part of the restore, the content
 * is written once from the first path's entry and later links point to it. Names from the trees
 * are checked again here (tree_name_valid) even though the decoder already refuses unsafe ones. */
#include "engine/engine.h"
#include "engine/eng_internal.h"
#include "util/fsio.h"
#include "util/thread.h"
#include "util/time.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define RS_GROUP 128          /* files sorted together by pack position */
#define RS_QUEUE_MAX 512      /* queued files before the walker waits (bounds open dir fds too) */
#define RS_WORKERS_PER_CORE 6 /* default writers: per core, at least MIN, at most MAX */
#define RS_WORKERS_MIN 8
#define RS_WORKERS_MAX 64
#define RS_SYNC_STEP (64u << 20) /* default bytes through the page cache between write-back passes */
#define RS_RA_SPAN (4u << 20)  /* pack read-ahead: hints of at most this many bytes */
#define RS_RA_GAP (256u << 10) /* blobs this close together join one hint */
#define RS_DIRECT_MIN (1u << 20) /* whole files this large are written with direct I/O */
#define RS_STAGE (2u << 20)      /* a staging buffer for direct writes */
#define RS_DIRECT_SLOTS 12       /* staging buffers: files written direct at once */
#define RS_STAGE_ALIGN 4096u     /* its alignment: the largest direct I/O alignment accepted */

struct rs_dir {
    int fd;
    atomic_int refs;
    struct rs_dir *parent;
    int apply;                /* set attributes at the end (directories this restore made) */
    int fresh;                /* made empty by this restore: no entry to check before creating */
    struct tree_entry meta;
    char *spath;              /* snapshot path, for messages */
};

struct rs_first {             /* where the first link of a hardlinked inode was restored */
    struct rs_dir *dir;       /* holds a count */
    char *name;
    atomic_int ok;
};

struct rs_link {              /* a later link, made after every file is written */
    struct rs_dir *dir;       /* holds a count */
    char *name;
    char *spath;
    char *first_spath;
    struct rs_link *next;
};

struct rs_job {
    struct rs_dir *dir;       /* holds a count */
    char *name;
    char *spath;
    struct tree_entry e;      /* owned copy (content chunks) */
    struct rs_first *first;   /* non-NULL: mark ok when written */
    uint32_t pack;
    uint64_t off;
    struct rs_job *next;
};

struct rs_tra;

struct rs {
    struct repo *repo;
    const struct eng_restore_opts *o;
    repo_id_t root;
    int is_root;              /* euid 0: owners are restored */
    uid_t euid;
    gid_t egid;
    long pid;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_space;
    struct rs_job *q_head, *q_tail;
    size_t q_len;
    int closing;
    pthread_t *workers;
    int n_workers;
    struct rs_job **group;
    size_t n_group;
    struct eng_smap firsts;   /* snapshot path of a first link -> struct rs_first (walker) */
    struct rs_link *links;
    atomic_int stop;          /* first fatal error, or -ECANCELED */
    atomic_uint tmp_counter;
    atomic_int no_tmpfile;    /* O_TMPFILE or naming it through /proc failed: named temporaries */
    atomic_int no_empty_path; /* linkat AT_EMPTY_PATH refused (no CAP_DAC_READ_SEARCH): through /proc */
    atomic_int no_direct;     /* a target refused direct I/O or does not announce it: buffered only */
    atomic_uint_fast64_t direct_files;
    uint8_t *stages[RS_DIRECT_SLOTS]; /* guarded by mu (rs_stage_get): owned here, freed at the end */
    unsigned stage_busy;      /* guarded by mu: the slots in use */
    atomic_uint_fast64_t files, bytes;
    uint64_t dirs, symlinks, other, skipped;   /* walker-only */
    atomic_uint_fast64_t n_errors;
    json_t *errors;           /* guarded by mu */
    char errmsg[512];         /* guarded by mu: the error that stopped the restore */
    uint64_t last_progress;
    uint64_t t0;              /* util_time_mono at the call, for the result's timings */
    atomic_uint_fast64_t first_file;
    int *sync_fds;            /* walker: one open directory per file system written to (syncfs) */
    pthread_mutex_t fl_mu;    /* the flusher: a file whose file system it is to write back */
    pthread_cond_t fl_cv;
    int fl_fd;                /* guarded by fl_mu: owned, closed by the flusher; -1 when none waits */
    atomic_uint_fast64_t fl_bytes; /* bytes written through the page cache so far */
    uint64_t fl_step;         /* o->sync_step, or RS_SYNC_STEP */
    atomic_uint_fast64_t fl_passes; /* write-back passes the flusher ran */
    int fl_closing, fl_started;
    pthread_t flusher;
    struct rs_tra *tra;       /* tree read-ahead (owned: rs_tra_end frees it), or NULL */
    uint32_t ra_pack;         /* walker: the pack range read-ahead is collecting (UINT32_MAX: none) */
    uint64_t ra_off, ra_end;
    size_t n_sync;
};

/* ---------- errors ---------- */

/* rs_fail_text: records a failed path with its whole message; without continue_on_error the first
 * one stops the restore (its code is what eng_restore returns). */
static void rs_fail_text(struct rs *r, const char *spath, int rc, const char *msg)
{
    pthread_mutex_lock(&r->mu);
    eng_problem(r->errors, spath, "%s", msg);
    if (!r->o->continue_on_error && !atomic_load(&r->stop)) {
        snprintf(r->errmsg, sizeof r->errmsg, "%s: %s", spath, msg);
        atomic_store(&r->stop, rc);
    }
    pthread_mutex_unlock(&r->mu);
    atomic_fetch_add(&r->n_errors, 1);
}

/* rs_fail: a failure on the target side ("what: strerror"). */
static void rs_fail(struct rs *r, const char *spath, int rc, const char *what)
{
    char msg[400];
    snprintf(msg, sizeof msg, "%s: %s", what, strerror(-rc));
    rs_fail_text(r, spath, rc, msg);
}

/* rs_fail_read: a failure to read the repository, named as such (the damaged or missing pack,
 * blob or snapshot), never as a failure of the target. */
static void rs_fail_read(struct rs *r, const char *spath, int rc, const char *what)
{
    char msg[480], why[400];
    snprintf(msg, sizeof msg, "%s: %s", what, eng_damage_text(rc, why, sizeof why));
    rs_fail_text(r, spath, rc, msg);
}

static int rs_stopped(struct rs *r)
{
    if (r->o->cancel && *r->o->cancel) {
        int zero = 0;
        atomic_compare_exchange_strong(&r->stop, &zero, -ECANCELED);
    }
    return atomic_load(&r->stop) != 0;
}

/* ---------- attributes ---------- */

static void rs_times(const struct tree_entry *e, struct timespec ts[2])
{
    ts[0].tv_sec = e->atime_ns / 1000000000;
    ts[0].tv_nsec = e->atime_ns % 1000000000;
    ts[1].tv_sec = e->mtime_ns / 1000000000;
    ts[1].tv_nsec = e->mtime_ns % 1000000000;
    for (int i = 0; i < 2; i++)
        if (ts[i].tv_nsec < 0) { ts[i].tv_nsec += 1000000000; ts[i].tv_sec--; }
}

/* Owner, mode, xattrs, times on an open file or directory. Returns the first error. */
static int rs_apply_fd(struct rs *r, int fd, const struct tree_entry *e)
{
    struct timespec ts[2];
    int rc = 0;
    if (r->is_root && (e->uid != r->euid || e->gid != r->egid) && fchown(fd, e->uid, e->gid) != 0)
        rc = -errno;
    if (fchmod(fd, e->mode) != 0 && !rc) rc = -errno;
    for (size_t i = 0; i < e->n_xattrs; i++)
        fsetxattr(fd, e->xattrs[i].name, e->xattrs[i].value ? (const void *)e->xattrs[i].value : "",
                  e->xattrs[i].len, 0);   /* best effort: some namespaces need privileges */
    rs_times(e, ts);
    if (futimens(fd, ts) != 0 && !rc) rc = -errno;
    return rc;
}

/* Owner, mode (not for symlinks) and times of a non-regular entry at dfd/name. */
static int rs_apply_at(struct rs *r, int dfd, const char *name, const struct tree_entry *e)
{
    struct timespec ts[2];
    int rc = 0;
    if (r->is_root && fchownat(dfd, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) != 0) rc = -errno;
    if (e->type != TREE_SYMLINK && fchmodat(dfd, name, e->mode, 0) != 0 && !rc) rc = -errno;
    rs_times(e, ts);
    if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0 && !rc) rc = -errno;
    return rc;
}

/* ---------- directories ---------- */

static void rs_dir_release(struct rs *r, struct rs_dir *d)
{
    while (d && atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) == 1) {
        struct rs_dir *parent = d->parent;
        if (d->apply && r->o->preserve_attrs) {
            int rc = rs_apply_fd(r, d->fd, &d->meta);
            if (rc) rs_fail(r, d->spath, rc, "cannot set directory attributes");
        }
        if (d->fd >= 0) close(d->fd);
        tree_entry_release(&d->meta);
        free(d->spath);
        free(d);
        d = parent;
    }
}

static void rs_dir_hold(struct rs_dir *d)
{
    atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
}

static struct rs_dir *rs_dir_new(int fd, struct rs_dir *parent, const char *spath)
{
    struct rs_dir *d = calloc(1, sizeof *d);
    if (!d || !(d->spath = strdup(spath))) {
        free(d);
        return NULL;
    }
    d->fd = fd;
    atomic_init(&d->refs, 1);
    d->parent = parent;
    if (parent) rs_dir_hold(parent);
    return d;
}

/* A temporary name for an entry being created in a directory of the target. */
static void rs_tmpname(struct rs *r, char *buf, size_t len)
{
    snprintf(buf, len, ".coffer-restore.%ld.%u", r->pid, atomic_fetch_add(&r->tmp_counter, 1));
}

/* Checks what exists at dfd/name before creating a non-directory there: 0 go ahead, 1 skip (exists,
 * no overwrite), <0 error. */
static int rs_check_existing(struct rs *r, int dfd, const char *name, const char *spath)
{
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? 0 : -errno;
    if (!r->o->overwrite) {
        r->skipped++;
        return 1;
    }
    if (S_ISDIR(st.st_mode)) return -EISDIR;  /* never remove a directory tree to make room */
    return 0;
}

/* Creates (or reuses) the directory dfd/name and opens it without following symlinks. */
static int rs_mkdir(struct rs *r, struct rs_dir *parent, const char *name, const struct tree_entry *e,
                    const char *spath, struct rs_dir **out)
{
    int made = 0, fd;
    *out = NULL;
    if (mkdirat(parent->fd, name, r->o->preserve_attrs ? 0700 : 0777) == 0) {
        made = 1;
    } else if (errno != EEXIST) {
        return -errno;
    }
    fd = openat(parent->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && !made && (errno == ELOOP || errno == ENOTDIR)) {
        /* something else (a symlink perhaps) is in the way: replace it only when allowed */
        if (!r->o->overwrite) {
            r->skipped++;
            return 1;
        }
        if (unlinkat(parent->fd, name, 0) != 0) return -errno;
        if (mkdirat(parent->fd, name, r->o->preserve_attrs ? 0700 : 0777) != 0) return -errno;
        made = 1;
        fd = openat(parent->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) return -errno;
    struct rs_dir *d = rs_dir_new(fd, parent, spath);
    if (!d || (e && tree_entry_copy(&d->meta, e) != 0)) {
        if (d) rs_dir_release(r, d); else close(fd);
        return -ENOMEM;
    }
    d->apply = e != NULL && (made || r->o->overwrite);
    d->fresh = made;
    *out = d;
    return 0;
}

/* ---------- durability ---------- */

/* A restore reports success only once what it wrote is durable: a sync pass (syncfs) at the end. So
 * that the pass does not find all the data still to write, a flusher thread writes back while the
 * restore goes on: each time another fl_step bytes (RS_SYNC_STEP unless the caller asks for another
 * step) have been written through the page cache, the worker whose file crossed the step hands a
 * duplicate of its fd to the flusher, which runs a write-back pass of that file system (syncfs: it
 * blocks the flusher, not the workers). One pass writes every file written since the last one in a
 * single plugged sweep: the block layer merges neighbouring small files into large requests.
 * Starting each file's writeback on its own (sync_file_range, until 2026-12-07) issued a small
 * request per file and cost about 30 us of CPU per file on this project's VM (24,000 files of 27
 * KB: 1.7 s of machine CPU against 1.1-1.3 s with a pass every 64 MiB, 1.6 s against 1.05-1.1 s
 * wall, the final pass 20 ms either way). A pass may also write other programs' dirty data on that
 * file system earlier than the kernel would: the final pass does that too. An error of a pass is
 * not lost: the final pass syncs through its own descriptors, which still see the file system's
 * write-back error. */
static void *rs_flusher(void *arg)
{
    struct rs *r = arg;
    util_thread_name("rs-flusher");
    for (;;) {
        pthread_mutex_lock(&r->fl_mu);
        while (r->fl_fd < 0 && !r->fl_closing) pthread_cond_wait(&r->fl_cv, &r->fl_mu);
        int fd = r->fl_fd, closing = r->fl_closing;
        r->fl_fd = -1;
        pthread_mutex_unlock(&r->fl_mu);
        if (fd < 0) break;
        if (!closing && !rs_stopped(r)) {
            (void)syncfs(fd); /* its error: the final pass reports it (above) */
            atomic_fetch_add_explicit(&r->fl_passes, 1, memory_order_relaxed);
        }
        close(fd);
    }
    return NULL;
}

/* rs_flush_count: bytes a worker wrote through the page cache into the open file fd; the worker
 * whose bytes cross the next multiple of fl_step wakes the flusher with a duplicate of fd (none is
 * handed while one still waits). */
static void rs_flush_count(struct rs *r, int fd, uint64_t bytes)
{
    uint64_t before;
    if (!r->fl_started || !bytes) return;
    before = atomic_fetch_add_explicit(&r->fl_bytes, bytes, memory_order_relaxed);
    if (before / r->fl_step == (before + bytes) / r->fl_step) return;
    pthread_mutex_lock(&r->fl_mu);
    if (r->fl_fd < 0 && (r->fl_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) >= 0) pthread_cond_signal(&r->fl_cv);
    pthread_mutex_unlock(&r->fl_mu);
}

/* ---------- file jobs ---------- */

/* rs_pwrite_direct: fsio_pwrite_full on an fd in direct mode (*direct set). A write the file
 * system refuses (EINVAL: an alignment it did not announce) turns the fd back to buffered I/O and
 * direct writes off for the rest of the restore, and the same bytes are written again buffered. */
static int rs_pwrite_direct(struct rs *r, int fd, const uint8_t *p, size_t len, uint64_t off, int *direct)
{
    int rc = fsio_pwrite_full(fd, p, len, off);
    if (rc == -EINVAL && *direct) {
        atomic_store(&r->no_direct, 1);
        *direct = 0;
        if (fcntl(fd, F_SETFL, 0) != 0) return -errno;
        rc = fsio_pwrite_full(fd, p, len, off);
    }
    return rc;
}

/* rs_stage_get / rs_stage_put: the staging buffers of direct writes, RS_DIRECT_SLOTS of them
 * (RS_STAGE bytes each, RS_STAGE_ALIGN-aligned), allocated on first use and freed when the restore
 * ends. A file that finds none free is written buffered. The bound keeps a restore's memory from
 * growing with the writer count: from a fresh daemon, a restore of the bench corpus peaked at 45 MB
 * buffered, 72 MB with a 2 MiB buffer per writer (12), 62-64 MB with 12 of 1 MiB; 4 of 2 MiB
 * (53-56 MB) left two thirds of the large files buffered and the restore was 0.3 s slower. Since
 * chunks are decompressed straight into the stage (rs_write_chunks), the chunk's own buffer is gone
 * for every chunk that fits, and 2 MiB holds most chunks (average 1 MiB): with these 12 of 2 MiB the
 * restore peaked at 55-61 MB, and alternating restores against the copying version (12 of 1 MiB)
 * took 2.40-2.88 s against 2.41-2.95 s (means 2.62 and 2.76 s, 7 and 6 runs) and 8% less CPU. */
static uint8_t *rs_stage_get(struct rs *r)
{
    uint8_t *stage = NULL;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < RS_DIRECT_SLOTS && !stage; i++) {
        if (r->stage_busy & (1u << i)) continue;
        if (!r->stages[i]) { /* first use: at most RS_DIRECT_SLOTS allocations per restore */
            void *p = NULL;
            if (posix_memalign(&p, RS_STAGE_ALIGN, RS_STAGE) != 0) break;
            r->stages[i] = p;
        }
        r->stage_busy |= 1u << i;
        stage = r->stages[i];
    }
    pthread_mutex_unlock(&r->mu);
    return stage;
}

static void rs_stage_put(struct rs *r, const uint8_t *stage)
{
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < RS_DIRECT_SLOTS; i++)
        if (r->stages[i] == stage) r->stage_busy &= ~(1u << i);
    pthread_mutex_unlock(&r->mu);
}

/* rs_direct_begin: a staging buffer (rs_stage_get; the caller puts it back) when the whole file
 * behind fd is to be written with direct I/O, with *align its offset alignment; NULL for buffered.
 * Direct I/O needs an aligned buffer, offset and length; the file system says which (statx
 * STATX_DIOALIGN, Linux 6.1), and one that does not say, or asks more than RS_STAGE_ALIGN, or
 * refuses O_DIRECT, gets buffered writes for the rest of the restore.
 *
 * Why: the restore of bench_backup.sh's corpus (1.7 GB, 67% of it in files of 1 MiB or more) is
 * CPU-bound on two cores, and a third of that CPU was the kernel's buffered write path (the copy
 * into the page cache, page allocation and accounting, delayed allocation, then writeback), a cost
 * that grew with the file system's use. Direct writes from the staging buffer skip it: alternating
 * restores of one snapshot on a well-used file system were faster direct in 12 of 12 pairs
 * (2.06-2.82 s against 2.50-3.41 s), a draw on a nearly empty one (docs/architecture.md has the
 * series). It also leaves the page cache to the host's own work, not to a terabyte being restored. */
static uint8_t *rs_direct_begin(struct rs *r, int fd, const struct tree_entry *e, size_t *align)
{
    struct statx sx;
    uint8_t *stage;
    if (e->size < RS_DIRECT_MIN || atomic_load_explicit(&r->no_direct, memory_order_relaxed)) return NULL;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) != 0 || !(sx.stx_mask & STATX_DIOALIGN) ||
        !sx.stx_dio_offset_align || sx.stx_dio_offset_align > RS_STAGE_ALIGN ||
        !sx.stx_dio_mem_align || sx.stx_dio_mem_align > RS_STAGE_ALIGN) {
        atomic_store(&r->no_direct, 1);
        return NULL;
    }
    if (!(stage = rs_stage_get(r))) return NULL; /* buffered is correct too */
    if (fcntl(fd, F_SETFL, O_DIRECT) != 0) {
        atomic_store(&r->no_direct, 1);
        rs_stage_put(r, stage);
        return NULL;
    }
    *align = sx.stx_dio_offset_align;
    atomic_fetch_add_explicit(&r->direct_files, 1, memory_order_relaxed);
    return stage;
}

/* rs_stage_out: n bytes of the stage to the file at offset at (direct while *direct holds). */
static int rs_stage_out(struct rs *r, int fd, const uint8_t *stage, size_t n, uint64_t at, int *direct)
{
    return *direct ? rs_pwrite_direct(r, fd, stage, n, at, direct) : fsio_pwrite_full(fd, stage, n, at);
}

/* rs_write_chunks: writes the file's chunks to fd; *read_err is set when the failure came from
 * reading the repository. Without a stage each chunk is written where it lies. With one (a whole
 * file going direct: rs_direct_begin; its chunks follow each other from offset 0) the bytes are
 * gathered in it: a chunk that fits is decompressed straight into it (eng_chunk_get_into: no copy),
 * after writing out the stage's aligned part to make room when needed; a larger one is read on its
 * own and copied in. What is left at the end goes out aligned part direct, the tail (under the
 * alignment) buffered after turning O_DIRECT off. */
static int rs_write_chunks(struct rs *r, int fd, const struct tree_entry *e, uint64_t *written,
                           int *read_err, uint8_t *stage, size_t align)
{
    uint64_t staged_at = 0;
    size_t fill = 0;
    int rc, direct = stage != NULL;
    for (size_t i = 0; i < e->n_chunks; i++) {
        const struct tree_chunk *c = &e->chunks[i];
        void *data = NULL;
        size_t len = c->len;
        if (rs_stopped(r)) return -ECANCELED;
        if (c->offset + len > e->size) { /* tree_decode refuses this: a bug if seen */
            *read_err = 1;
            repo_damage_setf("a chunk lies beyond the end of the file in its tree");
            return -EBADMSG;
        }
        if (stage && len > RS_STAGE - fill && fill >= align) { /* room: the aligned part out */
            size_t out = fill / align * align;
            if ((rc = rs_stage_out(r, fd, stage, out, staged_at, &direct)) != 0) return rc;
            staged_at += out;
            memmove(stage, stage + out, fill - out);
            fill -= out;
        }
        if (stage && len <= RS_STAGE - fill) {
            if ((rc = eng_chunk_get_into(r->repo, c, stage + fill)) != 0) {
                *read_err = 1;
                return rc;
            }
            fill += len; /* a full stage goes out with the next chunk's room, or at the end */
        } else {
            if ((rc = eng_chunk_get(r->repo, c, &data, &len)) != 0) {
                *read_err = 1;
                return rc;
            }
            if (!stage)
                rc = fsio_pwrite_full(fd, data, len, c->offset);
            else /* a chunk larger than the stage's room: copied in, a full stage at a time */
                for (size_t done = 0; done < len && !rc;) {
                    size_t n = len - done < RS_STAGE - fill ? len - done : RS_STAGE - fill;
                    memcpy(stage + fill, (uint8_t *)data + done, n);
                    fill += n;
                    done += n;
                    if (fill == RS_STAGE) {
                        rc = rs_stage_out(r, fd, stage, fill, staged_at, &direct);
                        staged_at += fill;
                        fill = 0;
                    }
                }
            free(data);
        }
        if (rc) return rc;
        *written += len;
        atomic_fetch_add_explicit(&r->bytes, len, memory_order_relaxed);
    }
    if (fill) { /* what is left in the stage: its aligned part direct, the tail buffered */
        size_t aligned = direct ? fill / align * align : 0;
        rc = aligned ? rs_pwrite_direct(r, fd, stage, aligned, staged_at, &direct) : 0;
        if (!rc && aligned < fill && direct && fcntl(fd, F_SETFL, 0) != 0) rc = -errno;
        if (!rc && aligned < fill)
            rc = fsio_pwrite_full(fd, stage + aligned, fill - aligned, staged_at + aligned);
        if (rc) return rc;
    }
    return 0;
}

/* rs_write_content: the file's content into fd. A file with holes gets its size first and only
 * its data written (the holes stay unallocated); a whole file may go direct (rs_direct_begin).
 * What went through the page cache counts towards the flusher's next pass (rs_flush_count). */
static int rs_write_content(struct rs *r, int fd, const struct tree_entry *e, uint64_t *written,
                            int *read_err)
{
    uint64_t end = 0;
    size_t align = 1;
    uint8_t *stage = NULL;
    int rc, holes = 0;
    for (size_t i = 0; i < e->n_chunks; i++) {
        if (e->chunks[i].offset != end) holes = 1;
        end = e->chunks[i].offset + e->chunks[i].len;
    }
    if (end != e->size) holes = 1;
    if (holes && ftruncate(fd, (off_t)e->size) != 0) return -errno;
    if (!holes) stage = rs_direct_begin(r, fd, e, &align);
    rc = rs_write_chunks(r, fd, e, written, read_err, stage, align);
    if (stage) rs_stage_put(r, stage);
    else if (!rc) rs_flush_count(r, fd, *written);
    return rc;
}

/* rs_linkfd: links the open file fd as dfd/name (the new name is never followed: an entry planted
 * there gives EEXIST). The fd itself (AT_EMPTY_PATH) where the daemon may (CAP_DAC_READ_SEARCH, as
 * root): it saves looking up /proc/self/fd/N, a third of linkat's CPU in a restore's profile; else
 * through /proc. 0 or -1 with errno, as linkat. */
static int rs_linkfd(struct rs *r, int fd, int dfd, const char *name)
{
    char proc[64];
    if (!atomic_load_explicit(&r->no_empty_path, memory_order_relaxed)) {
        if (linkat(fd, "", dfd, name, AT_EMPTY_PATH) == 0) return 0;
        if (errno != EPERM && errno != ENOENT && errno != EINVAL) return -1;
        atomic_store(&r->no_empty_path, 1);
    }
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW);
}

/* Gives the unnamed (O_TMPFILE) file fd its final name. EEXIST with overwrite: a named temporary
 * link, renamed over the existing entry. Returns 0 or a negative errno; -ENOSYS when the file
 * cannot be named this way at all (no /proc), so the caller falls back to named temporaries. */
static int rs_link_tmpfile(struct rs *r, struct rs_job *j, int fd)
{
    char tmp[64];
    if (rs_linkfd(r, fd, j->dir->fd, j->name) == 0) return 0;
    if (errno != EEXIST) return errno == ENOENT || errno == EPERM || errno == EACCES ? -ENOSYS : -errno;
    if (!r->o->overwrite) return -EEXIST;
    for (int tries = 0; tries < 100; tries++) {
        rs_tmpname(r, tmp, sizeof tmp);
        if (rs_linkfd(r, fd, j->dir->fd, tmp) == 0) {
            if (renameat(j->dir->fd, tmp, j->dir->fd, j->name) == 0) return 0;
            int rc = -errno;
            unlinkat(j->dir->fd, tmp, 0);
            return rc;
        }
        if (errno != EEXIST) return -errno;
    }
    return -EEXIST;
}

/* Writes one file. It is created unnamed (O_TMPFILE) and linked under its name once complete, or,
 * where O_TMPFILE is not available, created under a temporary name and renamed: either way no
 * partial file ever carries the final name. */
static void rs_job_run(struct rs *r, struct rs_job *j)
{
    char tmp[64];
    int fd = -1, rc, unnamed = 0, read_err = 0;
    uint64_t written = 0;
    if (rs_stopped(r)) return;
again:
    tmp[0] = '\0';
    if (!atomic_load_explicit(&r->no_tmpfile, memory_order_relaxed)) {
        fd = openat(j->dir->fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC,
                    r->o->preserve_attrs ? 0600 : 0666);
        if (fd >= 0) unnamed = 1;
        else if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL || errno == ENOENT)
            atomic_store(&r->no_tmpfile, 1);
        else {
            rs_fail(r, j->spath, -errno, "cannot create file");
            return;
        }
    }
    for (int tries = 0; !unnamed && tries < 100; tries++) {
        rs_tmpname(r, tmp, sizeof tmp);
        fd = openat(j->dir->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    r->o->preserve_attrs ? 0600 : 0666);
        if (fd >= 0 || errno != EEXIST) break;
    }
    if (fd < 0) {
        rs_fail(r, j->spath, -errno, "cannot create file");
        return;
    }
    rc = rs_write_content(r, fd, &j->e, &written, &read_err);
    if (!rc && r->o->preserve_attrs) {
        rc = rs_apply_fd(r, fd, &j->e);
        if (rc) {
            rs_fail(r, j->spath, rc, "cannot set attributes");
            rc = 0;   /* the data is good: keep the file */
        }
    }
    if (unnamed) {
        if (!rc) rc = rs_link_tmpfile(r, j, fd);
        if (close(fd) != 0 && !rc) {
            rc = -errno;
            unlinkat(j->dir->fd, j->name, 0);
        }
        if (rc == -ENOSYS) {   /* cannot name an unnamed file here: write it again, named */
            atomic_store(&r->no_tmpfile, 1);
            unnamed = 0;
            atomic_fetch_sub_explicit(&r->bytes, written, memory_order_relaxed);
            written = 0;
            goto again;
        }
    } else {
        if (close(fd) != 0 && !rc) rc = -errno;
        if (!rc && renameat(j->dir->fd, tmp, j->dir->fd, j->name) != 0) rc = -errno;
        if (rc) unlinkat(j->dir->fd, tmp, 0);
    }
    if (rc) {
        if (rc == -ECANCELED && atomic_load(&r->stop)) return;
        if (read_err) rs_fail_read(r, j->spath, rc, "cannot restore file");
        else rs_fail(r, j->spath, rc, "cannot write file");
        return;
    }
    if (atomic_fetch_add(&r->files, 1) == 0) {
        uint_fast64_t none = 0, t = (uint64_t)util_time_mono() - r->t0;
        atomic_compare_exchange_strong(&r->first_file, &none, t ? t : 1);
    }
    if (j->first) atomic_store(&j->first->ok, 1);
}

static void rs_job_free(struct rs *r, struct rs_job *j)
{
    rs_dir_release(r, j->dir);
    free(j->name);
    free(j->spath);
    tree_entry_release(&j->e);
    free(j);
}

static void *rs_worker(void *arg)
{
    struct rs *r = arg;
    util_thread_name("rs-writer");
    for (;;) {
        pthread_mutex_lock(&r->mu);
        while (!r->q_head && !r->closing) pthread_cond_wait(&r->cv_work, &r->mu);
        struct rs_job *j = r->q_head;
        if (j) {
            r->q_head = j->next;
            if (!r->q_head) r->q_tail = NULL;
            r->q_len--;
            pthread_cond_signal(&r->cv_space);
        }
        pthread_mutex_unlock(&r->mu);
        if (!j) break;
        rs_job_run(r, j);
        rs_job_free(r, j);
    }
    return NULL;
}

static int rs_job_cmp(const void *a, const void *b)
{
    const struct rs_job *x = *(struct rs_job *const *)a, *y = *(struct rs_job *const *)b;
    if (x->pack != y->pack) return x->pack < y->pack ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Sorts the current group by pack position and queues it (waiting while the queue is full). */
static void rs_flush_group(struct rs *r)
{
    if (r->n_group == 0) return;
    qsort(r->group, r->n_group, sizeof *r->group, rs_job_cmp);
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->n_group; i++) {
        while (r->q_len >= RS_QUEUE_MAX && r->n_workers > 0) pthread_cond_wait(&r->cv_space, &r->mu);
        struct rs_job *j = r->group[i];
        j->next = NULL;
        if (r->q_tail) r->q_tail->next = j; else r->q_head = j;
        r->q_tail = j;
        r->q_len++;
        pthread_cond_signal(&r->cv_work);
    }
    pthread_mutex_unlock(&r->mu);
    r->n_group = 0;
}

/* ---------- pack read-ahead ---------- */

/* The walker queues files a few hundred ahead of the workers. As it queues them it tells the
 * repository which pack ranges their chunks lie in (neighbouring blobs joined into hints of up to
 * RS_RA_SPAN), so the reads are under way before a worker asks for them: many large reads in
 * flight instead of one small read per worker. */
static void rs_ra_flush(struct rs *r)
{
    if (r->ra_pack != UINT32_MAX) repo_pack_prefetch(r->repo, r->ra_pack, r->ra_off, r->ra_end - r->ra_off);
    r->ra_pack = UINT32_MAX;
}

static void rs_ra_add(struct rs *r, uint32_t pack, uint64_t off, uint64_t len)
{
    if (r->ra_pack == pack && off >= r->ra_off && off <= r->ra_end + RS_RA_GAP) {
        if (off + len > r->ra_end) r->ra_end = off + len;
        if (r->ra_end - r->ra_off >= RS_RA_SPAN) rs_ra_flush(r);
        return;
    }
    rs_ra_flush(r);
    r->ra_pack = pack;
    r->ra_off = off;
    r->ra_end = off + len;
}

/* rs_ra_file: the hints for one queued file's chunks; its first chunk's place sorts the file. */
static void rs_ra_file(struct rs *r, struct rs_job *j)
{
    for (size_t i = 0; i < j->e.n_chunks; i++) {
        uint32_t pack, stored;
        uint64_t off;
        if (repo_blob_locate(r->repo, &j->e.chunks[i].id, &pack, &off, &stored, NULL) != 0) continue;
        if (i == 0) {
            j->pack = pack;
            j->off = off;
        }
        rs_ra_add(r, pack, off, stored);
    }
}

static int rs_queue_file(struct rs *r, struct rs_dir *dir, const char *name, const char *spath,
                         const struct tree_entry *meta, const struct tree_entry *content,
                         struct rs_first *first)
{
    struct rs_job *j = calloc(1, sizeof *j);
    if (!j) return -ENOMEM;
    if (tree_entry_copy(&j->e, meta) != 0 || !(j->name = strdup(name)) || !(j->spath = strdup(spath))) {
        tree_entry_release(&j->e);
        free(j->name);
        free(j);
        return -ENOMEM;
    }
    if (content != meta) {   /* content from the first link's entry */
        free(j->e.chunks);
        j->e.chunks = NULL;
        j->e.n_chunks = 0;
        free(j->e.hardlink);
        j->e.hardlink = NULL;
        j->e.size = content->size;
        if (content->n_chunks) {
            if (!(j->e.chunks = malloc(content->n_chunks * sizeof *j->e.chunks))) {
                tree_entry_release(&j->e);
                free(j->name);
                free(j->spath);
                free(j);
                return -ENOMEM;
            }
            memcpy(j->e.chunks, content->chunks, content->n_chunks * sizeof *j->e.chunks);
            j->e.n_chunks = content->n_chunks;
        }
    }
    j->dir = dir;
    rs_dir_hold(dir);
    j->first = first;
    j->pack = UINT32_MAX;
    rs_ra_file(r, j);
    r->group[r->n_group++] = j;
    if (r->n_group == RS_GROUP) rs_flush_group(r);
    return 0;
}

/* ---------- the walk ---------- */

static struct rs_first *rs_first_find(struct rs *r, const char *spath)
{
    return eng_smap_get(&r->firsts, spath);
}

/* Frees what a struct rs_first holds (the struct itself is freed with the map). */
static void rs_first_release(void *ctx, void *val)
{
    struct rs_first *f = val;
    rs_dir_release(ctx, f->dir);
    free(f->name);
    f->dir = NULL;
    f->name = NULL;
}

/* Records where the first link of spath is being restored (a path restored twice, by overlapping
 * requests, points to its latest copy). Only the walker calls this, before any job reads it. */
static struct rs_first *rs_first_add(struct rs *r, const char *spath, struct rs_dir *dir,
                                     const char *name)
{
    char *nm = strdup(name);
    struct rs_first *f = eng_smap_get(&r->firsts, spath);
    if (!nm) return NULL;
    if (f) {
        rs_first_release(r, f);
    } else {
        if (!(f = calloc(1, sizeof *f)) || eng_smap_put(&r->firsts, spath, f) != 0) {
            free(f);
            free(nm);
            return NULL;
        }
    }
    f->name = nm;
    f->dir = dir;
    rs_dir_hold(dir);
    atomic_init(&f->ok, 0);
    return f;
}

static void rs_progress(struct rs *r, const char *path, int force)
{
    if (!r->o->progress) return;
    uint64_t now = eng_mono_msecs();
    if (!force && now - r->last_progress < 500) return;
    r->last_progress = now;
    struct eng_progress p = {
        .files = atomic_load(&r->files), .dirs = r->dirs, .bytes_done = atomic_load(&r->bytes),
        .errors = atomic_load(&r->n_errors), .current_path = path,
    };
    r->o->progress(r->o->progress_ctx, &p);
}

/* ---------- tree read-ahead ---------- */

/* The walker needs a directory's tree before it can make anything in it, and a tree that is not in
 * the page cache is a synchronous read from a pack: with the cache cold the walker spent about a
 * quarter of a restore of bench_backup.sh's corpus waiting on such reads (thread states sampled
 * every 10 ms), while the writers, out of queued files, waited for it. So a reader thread reads
 * the trees ahead: it walks them in the walker's own order (depth first, entries in name order,
 * every directory below each requested path: the walker visits exactly these) and queues each
 * decoded tree, at most RS_TRA_TREES trees and RS_TRA_ENTRIES entries ahead (one tree at least,
 * however large). The walker takes the queue's head when it is the tree it asks for. Anything else
 * means the walker left a directory out (one in the way and kept, one it could not make): the
 * read-ahead stops and the walker reads its trees itself from then on. A tree the reader could not
 * load is queued without its content and not descended into: the walker loads it itself, and
 * reports a failure as it always did (from its own thread, with the damage it finds). */
#define RS_TRA_TREES 256
#define RS_TRA_ENTRIES 65536u

struct rs_tra_item {
    repo_id_t id;
    struct tree *t;             /* owned; NULL: the reader could not load it */
    struct rs_tra_item *next;
};

struct rs_tra_frame {           /* the reader's walk: a directory's subdirectories, the next one */
    repo_id_t *ids;             /* owned */
    size_t n, next;
};

struct rs_tra {
    struct repo *repo;
    struct rs_tra_frame *stack; /* reader-only; stack[0] holds the roots */
    size_t depth, cap;
    pthread_mutex_t mu;
    pthread_cond_t cv_item, cv_space;
    struct rs_tra_item *head, *tail;  /* guarded by mu */
    size_t n, n_entries;        /* guarded by mu: queued trees and their entries */
    int done, off;              /* guarded by mu: the reader walked everything; the walker stopped it */
    pthread_t th;
};

static int rs_tra_push(struct rs_tra *ta, const struct tree *t)
{
    size_t nk = 0, k = 0;
    for (size_t i = 0; i < t->n; i++) nk += t->entries[i].type == TREE_DIR;
    if (nk == 0) return 0;
    if (ta->depth == ta->cap) {
        size_t cap = ta->cap * 2;
        struct rs_tra_frame *s = realloc(ta->stack, cap * sizeof *s);
        if (!s) return -ENOMEM;
        ta->stack = s;
        ta->cap = cap;
    }
    repo_id_t *ids = malloc(nk * sizeof *ids);
    if (!ids) return -ENOMEM;
    for (size_t i = 0; i < t->n; i++)
        if (t->entries[i].type == TREE_DIR) ids[k++] = t->entries[i].subtree;
    ta->stack[ta->depth++] = (struct rs_tra_frame){ ids, nk, 0 };
    return 0;
}

static void *rs_tra_main(void *arg)
{
    struct rs_tra *ta = arg;
    int stop = 0;
    util_thread_name("rs-trees");
    while (ta->depth > 0 && !stop) {
        struct rs_tra_frame *f = &ta->stack[ta->depth - 1];
        if (f->next == f->n) {
            free(f->ids);
            ta->depth--;
            continue;
        }
        struct rs_tra_item *it = calloc(1, sizeof *it);
        if (!it) break;
        it->id = f->ids[f->next++];
        if (eng_tree_load(ta->repo, &it->id, &it->t) != 0) it->t = NULL;
        /* its subdirectories go on the stack before the walker can take (and free) the tree */
        if (it->t && rs_tra_push(ta, it->t) != 0) {
            tree_free(it->t);   /* the walker loads this one itself, and nothing after it */
            it->t = NULL;
            stop = 1;
        }
        size_t n = it->t ? it->t->n : 0;
        pthread_mutex_lock(&ta->mu);
        while (!ta->off && ta->n > 0 && (ta->n >= RS_TRA_TREES || ta->n_entries + n > RS_TRA_ENTRIES))
            pthread_cond_wait(&ta->cv_space, &ta->mu);
        if (ta->off) {
            stop = 1;
        } else {
            if (ta->tail) ta->tail->next = it; else ta->head = it;
            ta->tail = it;
            ta->n++;
            ta->n_entries += n;
            pthread_cond_signal(&ta->cv_item);
            it = NULL;
        }
        pthread_mutex_unlock(&ta->mu);
        if (it) {
            tree_free(it->t);
            free(it);
        }
    }
    pthread_mutex_lock(&ta->mu);   /* frames left on a stop: rs_tra_free */
    ta->done = 1;
    pthread_cond_signal(&ta->cv_item);
    pthread_mutex_unlock(&ta->mu);
    return NULL;
}

/* rs_tra_free: what the reader left (frames, queued trees), its sync objects and ta itself. */
static void rs_tra_free(struct rs_tra *ta)
{
    for (; ta->depth > 0; ta->depth--) free(ta->stack[ta->depth - 1].ids);
    for (struct rs_tra_item *it = ta->head, *next; it; it = next) {
        next = it->next;
        tree_free(it->t);
        free(it);
    }
    free(ta->stack);
    pthread_mutex_destroy(&ta->mu);
    pthread_cond_destroy(&ta->cv_item);
    pthread_cond_destroy(&ta->cv_space);
    free(ta);
}

/* rs_tra_start: the reader over the subtrees of the directories among the walk's requested entries
 * ents[0..n) (walked in that order). NULL when there is nothing to read ahead or it cannot start:
 * the walker then reads every tree itself. */
static struct rs_tra *rs_tra_start(struct repo *repo, const struct tree_entry *ents, size_t n)
{
    struct rs_tra *ta = calloc(1, sizeof *ta);
    if (!ta) return NULL;
    ta->repo = repo;
    pthread_mutex_init(&ta->mu, NULL);
    pthread_cond_init(&ta->cv_item, NULL);
    pthread_cond_init(&ta->cv_space, NULL);
    ta->cap = 16;
    if (!(ta->stack = calloc(ta->cap, sizeof *ta->stack)) ||
        !(ta->stack[0].ids = calloc(n, sizeof *ta->stack[0].ids))) {
        rs_tra_free(ta);
        return NULL;
    }
    ta->depth = 1;
    for (size_t i = 0; i < n; i++)
        if (ents[i].type == TREE_DIR) ta->stack[0].ids[ta->stack[0].n++] = ents[i].subtree;
    if (ta->stack[0].n == 0 || pthread_create(&ta->th, NULL, rs_tra_main, ta) != 0) {
        rs_tra_free(ta);
        return NULL;
    }
    return ta;
}

/* rs_tra_end: stops the reader and frees what it queued and itself. */
static void rs_tra_end(struct rs_tra *ta)
{
    if (!ta) return;
    pthread_mutex_lock(&ta->mu);
    ta->off = 1;
    pthread_cond_signal(&ta->cv_space);
    pthread_mutex_unlock(&ta->mu);
    pthread_join(ta->th, NULL);
    rs_tra_free(ta);
}

/* rs_tree_get: the walker's tree `id` (the caller frees *out with tree_free): the read-ahead's next
 * tree when it is this one, else read here (and the read-ahead, out of step, is stopped). */
static int rs_tree_get(struct rs *r, const repo_id_t *id, struct tree **out)
{
    struct rs_tra *ta = r->tra;
    if (ta) {
        struct rs_tra_item *it = NULL;
        pthread_mutex_lock(&ta->mu);
        while (!ta->head && !ta->done && !ta->off) pthread_cond_wait(&ta->cv_item, &ta->mu);
        if (ta->head && memcmp(&ta->head->id, id, sizeof *id) == 0) {
            it = ta->head;
            if (!(ta->head = it->next)) ta->tail = NULL;
            ta->n--;
            ta->n_entries -= it->t ? it->t->n : 0;
            pthread_cond_signal(&ta->cv_space);
        } else if (!ta->off) {
            ta->off = 1;
            pthread_cond_signal(&ta->cv_space);
        }
        pthread_mutex_unlock(&ta->mu);
        if (it) {
            struct tree *t = it->t;
            free(it);
            if (t) {
                *out = t;
                return 0;
            }
        }
    }
    return eng_tree_load(r->repo, id, out);
}

static int rs_entry(struct rs *r, struct rs_dir *parent, const char *name, const struct tree_entry *e,
                    struct eng_path *sp);

static int rs_dir_content(struct rs *r, struct rs_dir *d, const repo_id_t *subtree, struct eng_path *sp)
{
    struct tree *t = NULL;
    size_t base = sp->len;
    int rc = rs_tree_get(r, subtree, &t);
    if (rc) {
        rs_fail_read(r, sp->p, rc, "cannot list directory");
        return 0;
    }
    for (size_t i = 0; i < t->n && !rs_stopped(r); i++) {
        const struct tree_entry *e = &t->entries[i];
        if ((rc = eng_path_push(sp, e->name)) != 0) break;
        rc = rs_entry(r, d, e->name, e, sp);
        eng_path_pop(sp, base);
        if (rc) break;
    }
    tree_free(t);
    return rc;
}

/* Creates a symlink, fifo, socket or device under a temporary name, then renames it into place. */
static int rs_special(struct rs *r, struct rs_dir *parent, const char *name, const struct tree_entry *e)
{
    char tmp[64];
    int rc = -EEXIST;
    for (int tries = 0; tries < 100 && rc == -EEXIST; tries++) {
        rs_tmpname(r, tmp, sizeof tmp);
        int ok;
        switch (e->type) {
        case TREE_SYMLINK: ok = symlinkat(e->symlink_target, parent->fd, tmp); break;
        case TREE_FIFO: ok = mknodat(parent->fd, tmp, S_IFIFO | 0600, 0); break;
        case TREE_SOCKET: ok = mknodat(parent->fd, tmp, S_IFSOCK | 0600, 0); break;
        case TREE_CHARDEV: ok = mknodat(parent->fd, tmp, S_IFCHR | 0600, (dev_t)e->rdev); break;
        case TREE_BLOCKDEV: ok = mknodat(parent->fd, tmp, S_IFBLK | 0600, (dev_t)e->rdev); break;
        default: return -EINVAL;
        }
        rc = ok == 0 ? 0 : -errno;
    }
    if (rc) return rc;
    if (r->o->preserve_attrs) {
        rc = rs_apply_at(r, parent->fd, tmp, e);
        if (rc) rc = 0;   /* best effort on special files (e.g. times on symlinks) */
    } else if (e->type != TREE_SYMLINK) {
        fchmodat(parent->fd, tmp, 0666 & e->mode, 0);
    }
    if (renameat(parent->fd, tmp, parent->fd, name) != 0) {
        rc = -errno;
        unlinkat(parent->fd, tmp, 0);
    }
    return rc;
}

static int rs_entry(struct rs *r, struct rs_dir *parent, const char *name, const struct tree_entry *e,
                    struct eng_path *sp)
{
    int rc;
    if (!tree_name_valid(name, strlen(name))) {
        rs_fail(r, sp->p, -EINVAL, "unsafe name in snapshot refused");
        return 0;
    }
    rs_progress(r, sp->p, 0);
    if (e->type == TREE_DIR) {
        struct rs_dir *d = NULL;
        rc = rs_mkdir(r, parent, name, e, sp->p, &d);
        if (rc == 1) return 0;
        if (rc < 0) {
            rs_fail(r, sp->p, rc, "cannot create directory");
            return rc == -ENOMEM ? rc : 0;
        }
        r->dirs++;
        rc = rs_dir_content(r, d, &e->subtree, sp);
        rs_dir_release(r, d);
        return rc;
    }
    rc = parent->fresh ? 0 : rs_check_existing(r, parent->fd, name, sp->p);
    if (rc == 1) return 0;
    if (rc < 0) {
        rs_fail(r, sp->p, rc, "cannot replace existing entry");
        return 0;
    }
    if (e->type != TREE_FILE) {
        if ((rc = rs_special(r, parent, name, e)) != 0) {
            rs_fail(r, sp->p, rc, "cannot create");
            return 0;
        }
        if (e->type == TREE_SYMLINK) r->symlinks++; else r->other++;
        return 0;
    }
    if (e->hardlink) {
        struct rs_first *f = rs_first_find(r, e->hardlink);
        if (f) {   /* link once every file is written */
            struct rs_link *l = calloc(1, sizeof *l);
            if (!l || !(l->name = strdup(name)) || !(l->spath = strdup(sp->p)) ||
                !(l->first_spath = strdup(e->hardlink))) {
                if (l) { free(l->name); free(l->spath); free(l); }
                return -ENOMEM;
            }
            l->dir = parent;
            rs_dir_hold(parent);
            l->next = r->links;
            r->links = l;
            return 0;
        }
        /* the first link is not part of this restore: write the content here, once */
        struct tree_entry first;
        rc = eng_resolve(r->repo, &r->root, e->hardlink, &first);
        if (rc == 0 && (first.type != TREE_FILE || first.hardlink)) {
            tree_entry_release(&first);
            repo_damage_setf("hardlink target %.300s is not a regular file in the snapshot", e->hardlink);
            rc = -EBADMSG;
        }
        if (rc == -EBADMSG) {
            rs_fail_read(r, sp->p, rc, "cannot read hardlink target");
            return 0;
        }
        if (rc) {
            rs_fail(r, sp->p, rc, "hardlink target missing from the snapshot");
            return 0;
        }
        f = rs_first_add(r, e->hardlink, parent, name);
        rc = f ? rs_queue_file(r, parent, name, sp->p, e, &first, f) : -ENOMEM;
        tree_entry_release(&first);
        return rc;
    }
    struct rs_first *f = NULL;
    if (e->nlink > 1 && !(f = rs_first_add(r, sp->p, parent, name))) return -ENOMEM;
    return rs_queue_file(r, parent, name, sp->p, e, e, f);
}

/* Makes the deferred hardlinks (after every file job has finished). */
static void rs_make_links(struct rs *r)
{
    for (struct rs_link *l = r->links; l; l = l->next) {
        struct rs_first *f = rs_first_find(r, l->first_spath);
        int rc = 0;
        if (rs_stopped(r)) break;
        if (!f || !atomic_load(&f->ok)) {
            rs_fail(r, l->spath, -ENOENT, "hardlink target was not restored");
            continue;
        }
        if (linkat(f->dir->fd, f->name, l->dir->fd, l->name, 0) != 0) {
            rc = -errno;
            if (rc == -EEXIST && r->o->overwrite) {
                char tmp[64];
                rs_tmpname(r, tmp, sizeof tmp);
                rc = 0;
                if (linkat(f->dir->fd, f->name, l->dir->fd, tmp, 0) != 0) rc = -errno;
                else if (renameat(l->dir->fd, tmp, l->dir->fd, l->name) != 0) {
                    rc = -errno;
                    unlinkat(l->dir->fd, tmp, 0);
                }
            } else if (rc == -EEXIST) {
                r->skipped++;
                continue;
            }
        }
        if (rc) rs_fail(r, l->spath, rc, "cannot create hardlink");
        else atomic_fetch_add(&r->files, 1);
    }
}

/* Opens (creating if needed) the directory that receives a requested path. */
static int rs_open_base(const char *dir, int *fd)
{
    int rc = fsio_mkdir_p(dir, 0755);
    if (rc) return rc;
    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return *fd < 0 ? -errno : 0;
}

/* Remembers the file system of a directory written to (one fd per file system, for the sync pass). */
static int rs_sync_add(struct rs *r, int fd, size_t max)
{
    struct stat st, other;
    if (fstat(fd, &st) != 0) return -errno;
    for (size_t i = 0; i < r->n_sync; i++)
        if (fstat(r->sync_fds[i], &other) == 0 && other.st_dev == st.st_dev) return 0;
    if (r->n_sync >= max) return -EINVAL;   /* cannot happen: one per requested path at most */
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return -errno;
    r->sync_fds[r->n_sync++] = dup_fd;
    return 0;
}

/* The sync pass: everything written is durable before the restore reports success (syncfs of each
 * file system written to: file data, the new entries and the directories' attributes; the flusher's
 * passes have written all but about the last step's bytes already). */
static int rs_sync_all(struct rs *r, char *err, size_t errlen)
{
    int rc = 0;
    for (size_t i = 0; i < r->n_sync; i++) {
        if (!rc && syncfs(r->sync_fds[i]) != 0) {
            rc = -errno;
            eng_errf(err, errlen, "cannot make the restored files durable: %s", strerror(-rc));
        }
        close(r->sync_fds[i]);
    }
    r->n_sync = 0;
    return rc;
}

void eng_restore_result_release(struct eng_restore_result *res)
{
    if (!res) return;
    json_decref(res->errors);
    res->errors = NULL;
}

static int rs_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int eng_restore(struct repo *repo, const char *snapshot_id, const struct eng_restore_opts *o,
                struct eng_restore_result *out, char *err, size_t errlen)
{
    struct rs r;
    static const char *const everything[] = { "/" };
    const char *const *req = o->n_paths && o->paths ? o->paths : everything;
    size_t n_req = o->n_paths && o->paths ? o->n_paths : 1;
    char **paths = NULL;
    struct tree_entry *ents = NULL;
    struct eng_path sp = { 0 };
    int rc = 0;

    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    if (!(out->errors = json_array())) return -ENOMEM;
    memset(&r, 0, sizeof r);
    r.t0 = (uint64_t)util_time_mono();
    r.repo = repo;
    r.ra_pack = UINT32_MAX;
    r.o = o;
    if ((rc = eng_snapshot_root(repo, snapshot_id, &r.root)) != 0) {
        char why[400];
        eng_errf(err, errlen, "snapshot %.64s: %s", snapshot_id ? snapshot_id : "(null)",
                 eng_damage_text(rc, why, sizeof why));
        return rc;
    }
    /* Resolve every requested path before writing anything. */
    if (!(paths = calloc(n_req, sizeof *paths)) || !(ents = calloc(n_req, sizeof *ents))) {
        free(paths);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n_req && !rc; i++) {
        if ((rc = eng_path_normalize(req[i], &paths[i])) != 0)
            eng_errf(err, errlen, "\"%s\" is not an absolute path", req[i] ? req[i] : "(null)");
    }
    if (!rc) qsort(paths, n_req, sizeof *paths, rs_str_cmp);
    for (size_t i = 0; i < n_req && !rc; i++) {
        char why[400];
        if ((rc = eng_resolve(repo, &r.root, paths[i], &ents[i])) != 0)
            eng_errf(err, errlen, "%s: %s", paths[i],
                     rc == -ENOENT || rc == -ENOTDIR ? "not in the snapshot"
                                                     : eng_damage_text(rc, why, sizeof why));
        if (rc == -ENOTDIR) rc = -ENOENT;
    }
    if (rc) goto cleanup;
    out->resolve_usecs = (uint64_t)util_time_mono() - r.t0;

    r.is_root = geteuid() == 0;
    r.euid = geteuid();
    r.egid = getegid();
    r.pid = (long)getpid();
    r.errors = out->errors;
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv_work, NULL);
    pthread_cond_init(&r.cv_space, NULL);
    pthread_mutex_init(&r.fl_mu, NULL);
    pthread_cond_init(&r.fl_cv, NULL);
    r.fl_fd = -1;
    r.fl_step = o->sync_step ? o->sync_step : RS_SYNC_STEP;
    atomic_init(&r.stop, 0);
    struct rlimit rl;   /* open directories are fds: allow what the hard limit allows */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max && rl.rlim_cur < 65536) {
        rl.rlim_cur = rl.rlim_max < 65536 ? rl.rlim_max : 65536;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    /* Workers spend much of their time waiting: on pack reads when the cache is cold and on the
     * target directory's lock. Several per core keep every core busy (measured: 2 workers on 2
     * cores restore 1.5 GB in 3.7 s cold, 8 in 2.0 s, 16 in 1.9 s). With the pack reads hinted
     * ahead, 4 workers restored bench_backup.sh's corpus about 6% faster than 12 (2.29-2.40 s
     * against 2.43-2.56 s, means of 12 restores) but 1,000,000 small files about 12% slower (35.7
     * and 37.2 s against 29.9 and 34.2 s, alternating): new inodes and directory blocks wait on
     * the disk too. */
    r.n_workers = o->threads > 0 ? o->threads : RS_WORKERS_PER_CORE * eng_default_threads();
    if (o->threads <= 0 && r.n_workers < RS_WORKERS_MIN) r.n_workers = RS_WORKERS_MIN;
    if (o->threads <= 0 && r.n_workers > RS_WORKERS_MAX) r.n_workers = RS_WORKERS_MAX;
    if (!(r.workers = calloc((size_t)r.n_workers, sizeof *r.workers)) ||
        !(r.group = calloc(RS_GROUP, sizeof *r.group)) || !(r.sync_fds = calloc(n_req, sizeof *r.sync_fds))) {
        rc = -ENOMEM;
        goto done_threads;
    }
    r.fl_started = pthread_create(&r.flusher, NULL, rs_flusher, &r) == 0;
    for (int i = 0; i < r.n_workers; i++)
        if (pthread_create(&r.workers[i], NULL, rs_worker, &r) != 0) { r.n_workers = i; break; }

    r.tra = rs_tra_start(repo, ents, n_req);   /* the trees the walk below reads, in its order */
    for (size_t i = 0; i < n_req && !rc && !rs_stopped(&r); i++) {
        const char *p = paths[i];
        int base_fd = -1;
        char *basedir = NULL;
        if (o->target_dir) {
            basedir = strdup(o->target_dir);
        } else {
            basedir = strdup(p);
            if (basedir) {
                char *slash = strrchr(basedir, '/');
                if (slash == basedir) slash[1] = '\0'; else *slash = '\0';
            }
        }
        if (!basedir) { rc = -ENOMEM; break; }
        if ((rc = rs_open_base(basedir, &base_fd)) != 0) {
            eng_errf(err, errlen, "cannot open %s: %s", basedir, strerror(-rc));
            free(basedir);
            break;
        }
        if ((rc = rs_sync_add(&r, base_fd, n_req)) != 0) {
            eng_errf(err, errlen, "cannot open %s: %s", basedir, strerror(-rc));
            free(basedir);
            close(base_fd);
            break;
        }
        struct rs_dir *base = rs_dir_new(base_fd, NULL, basedir);
        free(basedir);
        if (!base) { close(base_fd); rc = -ENOMEM; break; }
        if ((rc = eng_path_set(&sp, p)) == 0) {
            if (strcmp(p, "/") == 0)
                rc = rs_dir_content(&r, base, &ents[i].subtree, &sp);
            else
                rc = rs_entry(&r, base, eng_basename(p), &ents[i], &sp);
        }
        rs_dir_release(&r, base);
        if (rc) eng_errf(err, errlen, "restore failed: %s", strerror(-rc));
    }
    rs_flush_group(&r);
    rs_ra_flush(&r);
    rs_tra_end(r.tra);
    r.tra = NULL;

done_threads:
    pthread_mutex_lock(&r.mu);
    r.closing = 1;
    pthread_cond_broadcast(&r.cv_work);
    pthread_mutex_unlock(&r.mu);
    for (int i = 0; i < r.n_workers; i++) pthread_join(r.workers[i], NULL);
    rs_worker(&r);    /* drains anything left (only if no worker could start) */
    if (r.fl_started) {
        pthread_mutex_lock(&r.fl_mu);
        r.fl_closing = 1;
        pthread_cond_signal(&r.fl_cv);
        pthread_mutex_unlock(&r.fl_mu);
        pthread_join(r.flusher, NULL);
        r.fl_started = 0;
    }
    rs_make_links(&r);
    for (struct rs_link *l = r.links, *next; l; l = next) {
        next = l->next;
        rs_dir_release(&r, l->dir);
        free(l->name);
        free(l->spath);
        free(l->first_spath);
        free(l);
    }
    eng_smap_each(&r.firsts, rs_first_release, &r);
    eng_smap_free(&r.firsts, free);
    rs_progress(&r, NULL, 1);
    if (!rc) rc = atomic_load(&r.stop);
    {   /* every directory is released (its attributes set): make it all durable, unless canceled */
        uint64_t ts = (uint64_t)util_time_mono();
        int src = rc == -ECANCELED ? 0 : rs_sync_all(&r, rc ? NULL : err, errlen);
        for (size_t i = 0; i < r.n_sync; i++) close(r.sync_fds[i]);
        if (!rc) rc = src;
        out->sync_usecs = (uint64_t)util_time_mono() - ts;
    }
    if (rc && err && errlen && !err[0])
        eng_errf(err, errlen, "%s", r.errmsg[0] ? r.errmsg : strerror(-rc));
    out->files = atomic_load(&r.files);
    out->dirs = r.dirs;
    out->symlinks = r.symlinks;
    out->other = r.other;
    out->bytes = atomic_load(&r.bytes);
    out->skipped = r.skipped;
    out->first_file_usecs = atomic_load(&r.first_file);
    out->direct_files = atomic_load(&r.direct_files);
    out->sync_passes = atomic_load(&r.fl_passes);
    free(r.workers);
    free(r.group);
    free(r.sync_fds);
    for (int i = 0; i < RS_DIRECT_SLOTS; i++) free(r.stages[i]);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv_work);
    pthread_cond_destroy(&r.cv_space);
    pthread_mutex_destroy(&r.fl_mu);
    pthread_cond_destroy(&r.fl_cv);
cleanup:
    eng_path_free(&sp);
    for (size_t i = 0; i < n_req; i++) {
        free(paths[i]);
        tree_entry_release(&ents[i]);
    }
    free(paths);
    free(ents);
    return rc;
}
