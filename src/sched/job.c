/* job.c: the job core (see job.h): a pool of worker threads on one queue, its monitor thread, the
 * lease protocol (lease, renew, check, expiry, failure on restart) and the pool's one wake-up.
 *
 * A worker loops: note the wake-up sequence, lease the next job (lease until real now + lease), run
 * it with its kind, release it; with nothing queued it waits for the sequence to move or a second
 * (2, 4, ... 32 s after catalog errors). The monitor walks the workers every monitor_ms: it copies a
 * busy worker's key under the lock, does its catalog calls without the lock, then publishes what
 * they said (cancel, lease lost, renewal time) if the worker still holds the same job. */
#include "sched/job.h"
#include "catalog/cat.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/thread.h"
#include "util/time.h"
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct job_worker {
    struct job_pool *p;
    pthread_t thread;
    int started, index;
    struct job job;
};

struct job_pool {
    struct job_pool_config cfg;
    char owner[200];
    pthread_mutex_t lock;
    pthread_cond_t work_cond;     /* workers wait for work_seq to move */
    pthread_cond_t monitor_cond;  /* the monitor waits for its period or the stop */
    unsigned work_seq;
    int stopping;
    pthread_t monitor;
    int monitor_started;
    struct job_worker *workers;
    int nworkers;
    int64_t progress_paused_until; /* real time (monitor only) */
    int64_t last_house;            /* real time (monitor only) */
};

/* ---------- for the kinds ---------- */

void job_lock(struct job *j) { pthread_mutex_lock(&j->pool->lock); }
void job_unlock(struct job *j) { pthread_mutex_unlock(&j->pool->lock); }
struct cat *job_cat(const struct job *j) { return j->pool->cfg.cat; }
struct repo *job_repo(const struct job *j) { return j->pool->cfg.repo; }
void *job_ctx(const struct job *j) { return j->pool->cfg.ctx; }
const char *job_pool_owner(const struct job_pool *p) { return p->owner; }
struct cat *job_pool_cat(const struct job_pool *p) { return p->cfg.cat; }
const char *job_pool_data_dir(const struct job_pool *p) { return p->cfg.data_dir; }

int job_stopping(const struct job *j)
{
    int v;
    pthread_mutex_lock(&j->pool->lock);
    v = j->pool->stopping;
    pthread_mutex_unlock(&j->pool->lock);
    return v;
}

int job_user_canceled(struct job *j)
{
    int v;
    job_lock(j);
    v = j->user_cancel;
    job_unlock(j);
    return v;
}

int job_lease_lost(struct job *j)
{
    int v;
    job_lock(j);
    v = j->lease_lost;
    job_unlock(j);
    return v;
}

void job_set_state(struct job *j, void *state)
{
    job_lock(j);
    j->state = state;
    job_unlock(j);
}

void job_pause_ms(struct job *j, int ms)
{
    struct timespec ts;
    util_deadline_ms(&ts, ms);
    pthread_mutex_lock(&j->pool->lock);
    while (!j->pool->stopping)
        if (pthread_cond_timedwait(&j->pool->work_cond, &j->pool->lock, &ts) == ETIMEDOUT) break;
    pthread_mutex_unlock(&j->pool->lock);
}

int job_pool_runs(struct job_pool *p, const char *tenant, const char *id, int64_t start_usecs)
{
    int yes = 0;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->nworkers && !yes; i++) {
        const struct job *j = &p->workers[i].job;
        yes = j->busy && j->start_usecs == start_usecs && strcmp(j->id, id) == 0 && strcmp(j->tenant, tenant) == 0;
    }
    pthread_mutex_unlock(&p->lock);
    return yes;
}

int job_pool_busy(struct job_pool *p)
{
    int n = 0;
    if (!p) return 0;
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->nworkers; i++) n += p->workers[i].job.busy != 0;
    pthread_mutex_unlock(&p->lock);
    return n;
}

void job_pool_notify(struct job_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->work_seq++;
    pthread_cond_broadcast(&p->work_cond);
    pthread_mutex_unlock(&p->lock);
}

/* ---------- workers ---------- */

static const struct job_kind *find_kind(const struct job_pool *p, const char *name)
{
    const struct job_kind *const *t = p->cfg.kinds;
    for (; *t; t++)
        if ((*t)->queue == p->cfg.queue && strcmp((*t)->name, name) == 0) return *t;
    return NULL;
}

void job_set_outcome(struct job *j, const char *status, int64_t bytes_read, int64_t bytes_stored, int recovery)
{
    j->outcome.set = 1;
    j->outcome.recovery = recovery;
    snprintf(j->outcome.status, sizeof j->outcome.status, "%s", status ? status : "");
    j->outcome.bytes_read = bytes_read;
    j->outcome.bytes_stored = bytes_stored;
}

/* run_leased: runs one leased job with its identity in the thread's log context (kind, tenant, and
 * group for a run, recovery for a recovery, else job), then reports its end to the metrics. */
static void run_leased(struct job_worker *w)
{
    struct job_pool *p = w->p;
    struct job *j = &w->job;
    const struct job_kind *kind = find_kind(p, j->kind_name);
    const char *noun = p->cfg.queue->noun;
    int64_t t0 = util_time_mono();
    memset(&j->outcome, 0, sizeof j->outcome);
    log_ctx_set("kind", j->kind_name);
    log_ctx_set("tenant", j->tenant);
    log_ctx_set(strcmp(noun, "run") == 0 ? "group" : strcmp(noun, "recovery") == 0 ? "recovery" : "job", j->id);
    pthread_mutex_lock(&p->lock);
    j->kind = kind;
    j->state = NULL;
    j->cancel = p->stopping;
    j->pause = 0;
    j->user_cancel = j->lease_lost = 0;
    j->renewed_at = util_time_real();
    j->busy = 1;
    pthread_mutex_unlock(&p->lock);
    if (kind) {
        kind->run(j);
    } else {
        char m[160];
        snprintf(m, sizeof m, "no worker of this daemon runs jobs of kind '%.40s'", j->kind_name);
        log_error("%s %s of tenant %s: %s", p->cfg.queue->noun, j->id, j->tenant, m);
        p->cfg.queue->fail(p->cfg.cat, j, m, util_time_now());
    }
    pthread_mutex_lock(&p->lock);
    j->busy = 0;
    j->state = NULL;
    pthread_mutex_unlock(&p->lock);
    if (j->outcome.set)
        metrics_job_finished(j->kind_name, j->outcome.status, (double)(util_time_mono() - t0) / 1e6,
                             j->outcome.bytes_read, j->outcome.bytes_stored, j->outcome.recovery);
    log_ctx_clear();
    p->cfg.queue->release(j);
    j->row = NULL;
}

static void *worker_main(void *arg)
{
    struct job_worker *w = arg;
    struct job_pool *p = w->p;
    int fails = 0;
    util_thread_name("%s-job", p->cfg.name);
    for (;;) {
        unsigned seq;
        int rc;
        pthread_mutex_lock(&p->lock);
        seq = p->work_seq;
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        pthread_mutex_unlock(&p->lock);
        w->job.row = NULL;
        w->job.kind_name[0] = '\0';
        rc = p->cfg.queue->lease_next(p->cfg.cat, p->owner, util_time_real() + p->cfg.lease_usecs, &w->job);
        if (rc == 0) {
            fails = 0;
            run_leased(w);
            continue;
        }
        if (rc != CAT_NOT_FOUND) {
            log_warn("%s worker %d: cannot lease a %s from the catalog%s", p->cfg.name, w->index, p->cfg.queue->noun,
                     rc == -ENOSPC ? ": No space left on device" : "");
            if (fails < 5) fails++; /* back off: 2, 4, ... 32 s, or until a job is queued */
        } else {
            fails = 0;
        }
        {
            struct timespec ts;
            util_deadline_ms(&ts, 1000LL << fails);
            pthread_mutex_lock(&p->lock);
            while (!p->stopping && p->work_seq == seq)
                if (pthread_cond_timedwait(&p->work_cond, &p->lock, &ts) == ETIMEDOUT) break;
            pthread_mutex_unlock(&p->lock);
        }
    }
    return NULL;
}

/* ---------- monitor ---------- */

static void monitor_job(struct job_pool *p, struct job *j)
{
    struct job key;
    int cancel = 0, rc, renewed = 0;
    int64_t real = util_time_real();
    pthread_mutex_lock(&p->lock);
    if (!j->busy) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    key = *j; /* the key fields and renewed_at; row and state stay the worker's */
    pthread_mutex_unlock(&p->lock);
    if (key.kind && key.kind->flush && real >= p->progress_paused_until && key.kind->flush(j) == -ENOSPC)
        p->progress_paused_until = real + JOB_PROGRESS_PAUSE_USECS;
    if (real - key.renewed_at >= p->cfg.renew_usecs) {
        rc = p->cfg.queue->renew(p->cfg.cat, &key, p->owner, real + p->cfg.lease_usecs, &cancel);
        renewed = rc == 0;
    } else {
        rc = p->cfg.queue->check(p->cfg.cat, &key, p->owner, &cancel);
    }
    pthread_mutex_lock(&p->lock);
    if (j->busy && j->start_usecs == key.start_usecs && strcmp(j->id, key.id) == 0 &&
        strcmp(j->tenant, key.tenant) == 0) {
        if (renewed) j->renewed_at = real;
        if (rc == CAT_NOT_FOUND) {
            j->lease_lost = 1;
            j->cancel = 1;
        } else if (rc == 0 && cancel == 2) {
            j->pause = 1;
        } else if (rc == 0 && cancel) {
            j->user_cancel = 1;
            j->cancel = 1;
        }
    }
    pthread_mutex_unlock(&p->lock);
}

void job_pool_housekeeping(struct job_pool *p)
{
    const struct job_kind *const *t = p->cfg.kinds;
    int64_t real = util_time_real();
    int n = 0;
    p->cfg.queue->fail_running(p->cfg.cat, p->owner, real, "the worker running it stopped answering (lease expired)",
                               util_time_now(), &n);
    if (n) log_warn("%s: %d %s(s) failed: their lease expired", p->cfg.name, n, p->cfg.queue->noun);
    n = 0;
    /* Our own jobs whose lease ran out with no worker on them: a worker that could not record the
     * end (a full disk) and gave up. A leased job always has a fresh lease before its worker is
     * marked busy, and the monitor renews busy ones, so only abandoned jobs match. */
    if (p->cfg.queue->fail_orphans &&
        p->cfg.queue->fail_orphans(p, real,
                                   "no worker runs it any more (its end could not be recorded; see the daemon's log)",
                                   util_time_now(), &n) == -ENOSPC)
        cat_reserve_release(p->cfg.cat);
    if (n) log_warn("%s: %d %s(s) of this daemon with no worker left were failed", p->cfg.name, n, p->cfg.queue->noun);
    for (; *t; t++)
        if ((*t)->queue == p->cfg.queue && (*t)->housekeeping) (*t)->housekeeping(p, real);
}

static void *monitor_main(void *arg)
{
    struct job_pool *p = arg;
    util_thread_name("%s-mon", p->cfg.name);
    for (;;) {
        struct timespec ts;
        int64_t real;
        util_deadline_ms(&ts, p->cfg.monitor_ms);
        pthread_mutex_lock(&p->lock);
        if (!p->stopping) pthread_cond_timedwait(&p->monitor_cond, &p->lock, &ts);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        pthread_mutex_unlock(&p->lock);
        for (int i = 0; i < p->nworkers; i++) monitor_job(p, &p->workers[i].job);
        real = util_time_real();
        if (real - p->last_house >= p->cfg.housekeeping_usecs) {
            job_pool_housekeeping(p);
            p->last_house = real;
        }
    }
    return NULL;
}

/* ---------- start / stop ---------- */

int job_pool_start(const struct job_pool_config *cfg, struct job_pool **out, char *err, size_t errlen)
{
    struct job_pool *p = calloc(1, sizeof *p);
    const struct job_kind *const *t;
    unsigned char rnd[6];
    char host[64] = "host";
    int n = 0;
    if (!cfg->kinds) {
        free(p);
        snprintf(err, errlen, "job pool %s: no kind table", cfg->name);
        return -EINVAL;
    }
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    p->cfg = *cfg;
    if (p->cfg.workers < 1) p->cfg.workers = 1;
    if (p->cfg.lease_usecs <= 0) p->cfg.lease_usecs = JOB_LEASE_USECS;
    if (p->cfg.renew_usecs <= 0) p->cfg.renew_usecs = JOB_RENEW_USECS;
    if (p->cfg.housekeeping_usecs <= 0) p->cfg.housekeeping_usecs = JOB_HOUSEKEEPING_USECS;
    if (p->cfg.monitor_ms <= 0) p->cfg.monitor_ms = JOB_MONITOR_MS;
    gethostname(host, sizeof host - 1);
    if (RAND_bytes(rnd, sizeof rnd) != 1) memset(rnd, 0, sizeof rnd);
    snprintf(p->owner, sizeof p->owner, "%s:%s:%d:%02x%02x%02x%02x%02x%02x", cfg->name, host, (int)getpid(), rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work_cond, NULL);
    pthread_cond_init(&p->monitor_cond, NULL);
    p->last_house = util_time_real();
    /* Jobs a previous daemon left Running were interrupted: nothing of them is in progress any more. */
    /* Jobs left Running by the previous daemon: all of them on a catalog of our own; on a shared one
     * (several nodes) only those whose lease expired, the others' owners are alive. */
    if (cfg->queue->fail_running(cfg->cat, NULL, cat_shared(cfg->cat) ? util_time_real() : 0,
                                 "interrupted by daemon restart", util_time_now(), &n) != 0) {
        snprintf(err, errlen, "cannot recover interrupted %ss from the catalog", cfg->queue->noun);
        job_pool_stop(p);
        return -EIO;
    }
    if (n) log_warn("%s: %d %s(s) interrupted by the previous daemon marked Failed", cfg->name, n, cfg->queue->noun);
    for (t = p->cfg.kinds; *t; t++)
        if ((*t)->queue == cfg->queue && (*t)->start) (*t)->start(p);
    p->workers = calloc((size_t)p->cfg.workers, sizeof *p->workers);
    if (!p->workers) {
        snprintf(err, errlen, "out of memory");
        job_pool_stop(p);
        return -ENOMEM;
    }
    for (int i = 0; i < p->cfg.workers; i++) {
        struct job_worker *w = &p->workers[i];
        w->p = p;
        w->index = i;
        w->job.pool = p;
        p->nworkers = i + 1;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            snprintf(err, errlen, "cannot start %s worker threads", cfg->name);
            job_pool_stop(p);
            return -EAGAIN;
        }
        w->started = 1;
    }
    if (pthread_create(&p->monitor, NULL, monitor_main, p) != 0) {
        snprintf(err, errlen, "cannot start the %s monitor thread", cfg->name);
        job_pool_stop(p);
        return -EAGAIN;
    }
    p->monitor_started = 1;
    log_info("%s: started with %d worker(s) (lease owner %s)", cfg->name, p->nworkers, p->owner);
    *out = p;
    return 0;
}

void job_pool_stop(struct job_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    for (int i = 0; i < p->nworkers; i++)
        if (p->workers[i].job.busy) p->workers[i].job.cancel = 1; /* the mover stops at its next check */
    pthread_cond_broadcast(&p->work_cond);
    pthread_cond_broadcast(&p->monitor_cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nworkers; i++)
        if (p->workers[i].started) pthread_join(p->workers[i].thread, NULL);
    if (p->monitor_started) pthread_join(p->monitor, NULL);
    free(p->workers);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work_cond);
    pthread_cond_destroy(&p->monitor_cond);
    free(p);
}
