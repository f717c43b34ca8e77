/* job_index.c: the index kind and its queue: fills the file index behind indexed search
 * (cat_file_index.h) for every live file snapshot not indexed yet.
 *
 * The queue is the catalog's list of snapshots to index (cat_fidx_next); leasing one first purges a
 * bounded number of steps of deleted snapshots' rows. The lease is the pool's own: one pool, one
 * worker, so there is nothing to renew, and a snapshot interrupted by a stop or a crash stays
 * InProgress and is simply walked again on the next start (adding a path twice changes nothing):
 * that is this kind's rule on restart. Indexing keeps a transaction open across entries and commits
 * every BATCH_ENTRIES entries or BATCH_USECS of time, whichever comes first: thousands of inserts
 * per fsync instead of one, and never a long hold on the catalog's write lock: after each commit the
 * worker pauses INDEX_GAP_USECS, so a write waiting for the lock (an API request, a run's end; SQLite's
 * busy wait polls every millisecond) takes it before the next batch begins. A catalog error
 * pauses the worker (1, 2, ... 30 s).
 *
 * Indexing is background work: before each batch the worker waits while a backup run, a recovery or
 * a download is running on this node, checking every INDEX_YIELD_STEP_USECS, for at most
 * INDEX_YIELD_MAX_USECS (then that batch goes ahead, so that search results still come during hours
 * of runs: at least one batch every 2 s). Indexing a snapshot of bench_backup.sh's corpus (27,000
 * paths) takes about 1.8 s of a core; an unchanged re-backup started just after that snapshot's
 * backup shared the cores with it: 0.23-0.27 s from the POST to its end, against 0.12-0.15 s with
 * the indexer idle and 0.13-0.17 s (one of six 0.22 s) with the indexer waiting. */
#include "sched/indexer.h"
#include "sched/sched_int.h"
#include "sched/nodes.h"
#include "catalog/cat_file_index.h"
#include "sched/job.h"
#include "engine/engine.h"
#include "util/time.h"
#include "util/log.h"
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH_ENTRIES 5000
#define BATCH_USECS (50LL * 1000)
#define PURGE_ROWS 5000
#define INDEX_GAP_USECS 3000
#define INDEX_YIELD_STEP_USECS (20LL * 1000)
#define INDEX_YIELD_MAX_USECS (2LL * 1000000)
#define PURGE_STEPS_PER_LEASE 64

struct walk {
    struct cat *cat;
    const struct cat_fidx_job *job;
    int64_t no, entries, batch, batch_start;
    volatile int *stop;
    struct sched *sched;        /* NULL: never yield (sched_indexer_run_once) */
    int in_txn;
};

/* foreground_busy: whether a backup run, a recovery or a download runs on this node. */
static int foreground_busy(struct sched *s)
{
    return job_pool_busy(s->backups) > 0 || job_pool_busy(s->recoveries) > 0;
}

/* yield_to_runs: waits while foreground work runs on this node (at most INDEX_YIELD_MAX_USECS). */
static void yield_to_runs(struct walk *w)
{
    int64_t t0 = util_time_mono();
    while (w->sched && foreground_busy(w->sched) && !(w->stop && *w->stop) &&
           util_time_mono() - t0 < INDEX_YIELD_MAX_USECS)
        nanosleep(&(struct timespec){ 0, INDEX_YIELD_STEP_USECS * 1000 }, NULL);
}

static int type_of(enum tree_type t)
{
    switch (t) {
    case TREE_FILE: return CAT_FIDX_FILE;
    case TREE_DIR: return CAT_FIDX_DIR;
    case TREE_SYMLINK: return CAT_FIDX_SYMLINK;
    default: return CAT_FIDX_OTHER;
    }
}

static int walk_cb(void *ctx, const char *path, const struct tree_entry *e)
{
    struct walk *w = ctx;
    struct cat_fidx_entry fe = { .path = path, .type = type_of(e->type),
                                 .size = e->type == TREE_FILE ? (int64_t)e->size : 0,
                                 .mtime_usecs = e->mtime_ns / 1000 };
    if (w->stop && *w->stop) return -ECANCELED;
    if (!w->in_txn) {
        yield_to_runs(w);
        if (w->stop && *w->stop) return -ECANCELED;
        if (cat_begin(w->cat) != 0) return -EIO;
        w->in_txn = 1;
        w->batch = 0;
        w->batch_start = util_time_real();
    }
    if (cat_fidx_add(w->cat, w->job->tenant, w->job->object_id, w->no, &fe) != 0) return -EIO;
    w->entries++;
    if (++w->batch >= BATCH_ENTRIES || ((w->batch & 255) == 0 && util_time_real() - w->batch_start > BATCH_USECS)) {
        if (cat_commit(w->cat) != 0) return -EIO;
        w->in_txn = 0;
        nanosleep(&(struct timespec){ 0, INDEX_GAP_USECS * 1000 }, NULL);
    }
    return 0;
}

/* index_one: 0 done (Done or Error recorded), -ECANCELED (left InProgress), <0 catalog trouble. */
static int index_one(struct cat *cat, struct repo *repo, struct sched *sched, const struct cat_fidx_job *job,
                     volatile int *stop)
{
    struct walk w = { .cat = cat, .job = job, .stop = stop, .sched = sched };
    int64_t t0 = util_time_real();
    int rc;
    if (cat_fidx_begin(cat, job->tenant, job->snapshot_id, job->object_id, util_time_now(), &w.no) != 0) return -EIO;
    rc = eng_snapshot_walk(repo, job->snapshot_id, walk_cb, &w);
    if (w.in_txn) {
        if (rc == 0 || rc == -ECANCELED) {
            if (cat_commit(cat) != 0) rc = -EIO;
        } else {
            cat_rollback(cat);
        }
    }
    if (rc == -ECANCELED) return rc;
    if (rc == -EIO) {
        log_warn("indexer: catalog error while indexing snapshot %s", job->snapshot_id);
        return rc;
    }
    if (rc != 0) {
        char m[256];
        char why[200];
        snprintf(m, sizeof m, "cannot read the snapshot: %s", eng_damage_text(rc, why, sizeof why));
        log_warn("indexer: snapshot %s of tenant %s: %s", job->snapshot_id, job->tenant, m);
        return cat_fidx_finish(cat, w.no, "Error", m, w.entries, util_time_now()) == 0 ? 0 : -EIO;
    }
    log_info("indexer: snapshot %s of tenant %s: %" PRId64 " paths indexed in %" PRId64 " ms%s", job->snapshot_id,
             job->tenant, w.entries, (util_time_real() - t0) / 1000, job->resumed ? " (resumed)" : "");
    return cat_fidx_finish(cat, w.no, "Done", NULL, w.entries, util_time_now()) == 0 ? 0 : -EIO;
}

/* step: one unit of work. 1 = did something, 0 = idle, <0 = error or stop. */
static int step(struct cat *cat, struct repo *repo, volatile int *stop)
{
    struct cat_fidx_job job;
    int done = 0, rc;
    if (cat_fidx_purge_step(cat, PURGE_ROWS, &done) != 0) return -EIO;
    if (done > 0) return 1;
    if (!repo) return 0;
    rc = cat_fidx_next(cat, &job);
    if (rc == CAT_NOT_FOUND) return 0;
    if (rc != 0) return -EIO;
    rc = index_one(cat, repo, NULL, &job, stop);
    cat_fidx_job_release(&job);
    return rc == 0 ? 1 : rc;
}

int sched_indexer_run_once(struct cat *cat, struct repo *repo)
{
    int n = 0, rc;
    while ((rc = step(cat, repo, NULL)) > 0) n++;
    return rc < 0 ? rc : n;
}

/* ---------- the kind ---------- */

static _Thread_local int tl_failures; /* consecutive catalog errors of this worker */

static void index_run(struct job *j)
{
    struct sched *s = job_ctx(j);
    int rc;
    if (s) (void)node_sync_before(s->nodes); /* several nodes: the snapshot may be another node's */
    rc = index_one(job_cat(j), job_repo(j), s, j->row, &j->cancel);
    if (rc < 0 && rc != -ECANCELED) {
        if (tl_failures < 30) tl_failures++;
        job_pause_ms(j, tl_failures * 1000);
    } else {
        tl_failures = 0;
    }
}

/* ---------- the queue ---------- */

static int fidx_lease_next(struct cat *cat, const char *owner, int64_t lease_until, struct job *j)
{
    struct cat_fidx_job *f;
    int done = 1, rc;
    (void)owner;
    (void)lease_until;
    for (int k = 0; k < PURGE_STEPS_PER_LEASE && done > 0; k++) {
        done = 0;
        if (cat_fidx_purge_step(cat, PURGE_ROWS, &done) != 0) return -EIO;
    }
    if (!(f = calloc(1, sizeof *f))) return -ENOMEM;
    if ((rc = cat_fidx_next(cat, f)) != 0) {
        free(f);
        return rc;
    }
    j->row = f;
    snprintf(j->kind_name, sizeof j->kind_name, "index");
    snprintf(j->tenant, sizeof j->tenant, "%s", f->tenant);
    snprintf(j->id, sizeof j->id, "%s", f->snapshot_id);
    j->start_usecs = 0;
    return 0;
}

/* The pool's single worker holds the only lease: nothing to renew, never a cancel request. */
static int fidx_renew(struct cat *cat, const struct job *j, const char *owner, int64_t until, int *cancel)
{
    *cancel = 0;
    return 0;
}

static int fidx_check(struct cat *cat, const struct job *j, const char *owner, int *cancel)
{
    *cancel = 0;
    return 0;
}

/* On restart an InProgress snapshot is resumed, never failed. */
static int fidx_fail_running(struct cat *cat, const char *owner, int64_t expired_before, const char *message,
                             int64_t now, int *n)
{
    if (n) *n = 0;
    return 0;
}

static int fidx_fail(struct cat *cat, const struct job *j, const char *message, int64_t now) { return 0; }

static void fidx_release(struct job *j)
{
    if (!j->row) return;
    cat_fidx_job_release(j->row);
    free(j->row);
}

const struct job_queue job_queue_file_index = {
    .noun = "snapshot to index",
    .lease_next = fidx_lease_next,
    .renew = fidx_renew,
    .check = fidx_check,
    .fail_running = fidx_fail_running,
    .fail = fidx_fail,
    .release = fidx_release,
};

const struct job_kind job_kind_index = {
    .name = "index",
    .queue = &job_queue_file_index,
    .run = index_run,
};
