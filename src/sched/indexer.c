/* indexer.c: the file indexer thread (see indexer.h).
 *
 * One loop: purge a step of a deleted snapshot's rows if there is one, else index the next pending
 * snapshot, else sleep a second. Indexing keeps a transaction open across entries and commits every
 * BATCH_ENTRIES entries or BATCH_USECS of time, whichever comes first: thousands of inserts per
 * fsync instead of one, and never a long hold on the catalog's write lock. */
#include "sched/indexer.h"
#include "catalog/cat_file_index.h"
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
#define BATCH_USECS (200LL * 1000)
#define PURGE_ROWS 5000
#define IDLE_MS 1000

struct sched_indexer {
    struct cat *cat;
    struct repo *repo;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    volatile int stopping;
};

struct walk {
    struct cat *cat;
    const struct cat_fidx_job *job;
    int64_t no, entries, batch, batch_start;
    volatile int *stop;
    int in_txn;
};

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
    }
    return 0;
}

/* index_one: 0 done (Done or Error recorded), -ECANCELED (left InProgress), <0 catalog trouble. */
static int index_one(struct cat *cat, struct repo *repo, const struct cat_fidx_job *job, volatile int *stop)
{
    struct walk w = { .cat = cat, .job = job, .stop = stop };
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
    rc = index_one(cat, repo, &job, stop);
    cat_fidx_job_release(&job);
    return rc == 0 ? 1 : rc;
}

int sched_indexer_run_once(struct cat *cat, struct repo *repo)
{
    int n = 0, rc;
    while ((rc = step(cat, repo, NULL)) > 0) n++;
    return rc < 0 ? rc : n;
}

static void *indexer_main(void *arg)
{
    struct sched_indexer *ix = arg;
    int failures = 0;
    while (!ix->stopping) {
        int rc = step(ix->cat, ix->repo, &ix->stopping);
        struct timespec ts;
        if (rc > 0) {
            failures = 0;
            continue;
        }
        if (rc < 0 && rc != -ECANCELED) failures++;
        util_deadline_ms(&ts, failures > 0 ? (failures < 30 ? failures : 30) * 1000LL : IDLE_MS);
        pthread_mutex_lock(&ix->mu);
        if (!ix->stopping) pthread_cond_timedwait(&ix->cv, &ix->mu, &ts);
        pthread_mutex_unlock(&ix->mu);
    }
    return NULL;
}

int sched_indexer_start(struct cat *cat, struct repo *repo, struct sched_indexer **out, char *err, size_t errlen)
{
    struct sched_indexer *ix = calloc(1, sizeof *ix);
    if (!ix) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ix->cat = cat;
    ix->repo = repo;
    pthread_mutex_init(&ix->mu, NULL);
    pthread_cond_init(&ix->cv, NULL);
    if (pthread_create(&ix->thread, NULL, indexer_main, ix) != 0) {
        snprintf(err, errlen, "cannot start the indexer thread");
        pthread_cond_destroy(&ix->cv);
        pthread_mutex_destroy(&ix->mu);
        free(ix);
        return -1;
    }
    *out = ix;
    return 0;
}

void sched_indexer_stop(struct sched_indexer *ix)
{
    if (!ix) return;
    pthread_mutex_lock(&ix->mu);
    ix->stopping = 1;
    pthread_cond_broadcast(&ix->cv);
    pthread_mutex_unlock(&ix->mu);
    pthread_join(ix->thread, NULL);
    pthread_cond_destroy(&ix->cv);
    pthread_mutex_destroy(&ix->mu);
    free(ix);
}
