/* pg_stream.c: the daemon's WAL streamers (see pg_stream.h).
 *
 * The manager holds a list of streamers under one mutex; each streamer is a thread looping over the
 * SQL mover's wal_stream with the instance's conninfo (copied under the mutex at every attempt, so a
 * changed password takes effect at the next connect) and a cancel flag. The engine's on_started hook
 * marks the streamer started (its slot exists) and wakes pg_stream_ensure's waiters. Every wait is a
 * condition wait with a deadline (util_deadline_ms), every loop is bounded by cancel. Threads are
 * joined outside the mutex. */
#include "sched/pg_stream.h"
#include "catalog/cat_group.h"
#include "engine/mover.h"
#include "repo/repo.h"
#include "sched/spec.h"
#include "svc/pg_target.h"
#include "util/log.h"
#include "util/thread.h"
#include "util/time.h"
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000

struct streamer {
    struct pg_stream *m;
    int64_t instance_id;
    char *conninfo;            /* owned; holds the password: never logged */
    char slot[64];
    char spool[1024];
    pthread_t thread;
    volatile int cancel;
    int started;               /* a stream started (the slot exists) since the last failure */
    int failures;              /* consecutive failures */
    char last_err[256];
    int seen;                  /* pg_stream_sync's mark */
    struct streamer *next;
};

struct pg_stream {
    struct pg_stream_config cfg;
    const struct mover *mover;
    pthread_mutex_t lock;
    pthread_cond_t cond;       /* a streamer started or failed; a streamer's pause is interrupted */
    struct streamer *list;
    pthread_mutex_t seal_lock; /* pg_stream_seal_lock */
    char slot_prefix[24];      /* "coffer_<12 hex>" */
};

int pg_stream_spool_path(const char *data_dir, int64_t instance_id, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/pg-wal/%" PRId64, data_dir, instance_id);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int pg_stream_start(const struct pg_stream_config *cfg, struct pg_stream **out)
{
    struct pg_stream *m;
    static const char tag[] = "coffer postgresql replication slot";
    repo_id_t id;
    char hex[REPO_ID_HEX_LEN + 1];
    *out = NULL;
    if (!cfg->repo || !cfg->data_dir) return 0;
    if (!(m = calloc(1, sizeof *m))) return -ENOMEM;
    m->cfg = *cfg;
    m->mover = mover_for(MOVER_ENV_SQL);
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    pthread_mutex_init(&m->seal_lock, NULL);
    /* The slot names: a hash keyed by this repository, so two Coffer installations (or repositories)
     * protecting one server never share a slot. */
    {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/pg-wal", cfg->data_dir); /* the spools' parent (each spool made by the engine) */
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) log_warn("pg stream: cannot make %s: %s", dir, strerror(errno));
    }
    repo_blob_id(cfg->repo, tag, sizeof tag - 1, &id);
    repo_id_to_hex(&id, hex);
    snprintf(m->slot_prefix, sizeof m->slot_prefix, "coffer_%.12s", hex);
    *out = m;
    return 0;
}

void pg_stream_seal_lock(struct pg_stream *m, int on)
{
    if (!m) return;
    if (on) pthread_mutex_lock(&m->seal_lock);
    else pthread_mutex_unlock(&m->seal_lock);
}

static void on_started(void *ctx)
{
    struct streamer *st = ctx;
    pthread_mutex_lock(&st->m->lock);
    st->started = 1;
    st->failures = 0;
    st->last_err[0] = '\0';
    pthread_cond_broadcast(&st->m->cond);
    pthread_mutex_unlock(&st->m->lock);
}

static void *streamer_main(void *arg)
{
    struct streamer *st = arg;
    struct pg_stream *m = st->m;
    util_thread_name("pg-wal-stream");
    while (!st->cancel) {
        struct eng_pg_wal_stream_opts o = { .slot = st->slot, .spool_dir = st->spool, .cancel = &st->cancel,
                                            .on_started = on_started, .hook_ctx = st };
        struct eng_pg_wal_stream_result res = { 0 };
        char err[256] = "", *ci;
        int rc, wait_ms;
        pthread_mutex_lock(&m->lock);
        ci = strdup(st->conninfo);
        pthread_mutex_unlock(&m->lock);
        if (!ci) break;
        o.conninfo = ci;
        rc = m->mover->sql->wal_stream(&o, &res, err, sizeof err);
        free(ci);
        if (st->cancel) break;
        pthread_mutex_lock(&m->lock);
        st->started = 0;
        st->failures++;
        snprintf(st->last_err, sizeof st->last_err, "%s", err[0] ? err : strerror(rc < 0 ? -rc : EIO));
        wait_ms = BACKOFF_MIN_MS;
        for (int i = 1; i < st->failures && wait_ms < BACKOFF_MAX_MS; i++) wait_ms *= 2;
        if (wait_ms > BACKOFF_MAX_MS) wait_ms = BACKOFF_MAX_MS;
        log_warn("pg stream: instance %" PRId64 " (slot %s): the stream stopped (%s); restarting in %d ms",
                 st->instance_id, st->slot, st->last_err, wait_ms);
        pthread_cond_broadcast(&m->cond);
        {
            struct timespec ts;
            util_deadline_ms(&ts, wait_ms);
            while (!st->cancel && pthread_cond_timedwait(&m->cond, &m->lock, &ts) == 0) {
            }
        }
        pthread_mutex_unlock(&m->lock);
    }
    log_info("pg stream: instance %" PRId64 ": streamer stopped", st->instance_id);
    return NULL;
}

static struct streamer *find(struct pg_stream *m, int64_t instance_id)
{
    for (struct streamer *s = m->list; s; s = s->next)
        if (s->instance_id == instance_id) return s;
    return NULL;
}

/* get_or_start: under m->lock: the instance's streamer, started when missing; conninfo updated. */
static struct streamer *get_or_start(struct pg_stream *m, int64_t instance_id, const char *conninfo, int *rc)
{
    struct streamer *st = find(m, instance_id);
    *rc = 0;
    if (st) {
        st->seen = 1; /* wanted now: a sync running meanwhile keeps it */
        if (strcmp(st->conninfo, conninfo) != 0) {
            char *c = strdup(conninfo);
            if (c) free(st->conninfo), st->conninfo = c;
        }
        return st;
    }
    if (!(st = calloc(1, sizeof *st)) || !(st->conninfo = strdup(conninfo))) {
        free(st);
        *rc = -ENOMEM;
        return NULL;
    }
    st->m = m;
    st->instance_id = instance_id;
    st->seen = 1; /* pg_stream_sync keeps it until a sync that began after it finds no group */
    snprintf(st->slot, sizeof st->slot, "%s_%" PRId64, m->slot_prefix, instance_id);
    if ((*rc = pg_stream_spool_path(m->cfg.data_dir, instance_id, st->spool, sizeof st->spool)) != 0 ||
        pthread_create(&st->thread, NULL, streamer_main, st) != 0) {
        if (*rc == 0) *rc = -EAGAIN;
        free(st->conninfo);
        free(st);
        return NULL;
    }
    st->next = m->list;
    m->list = st;
    log_info("pg stream: instance %" PRId64 ": streaming into %s (slot %s)", instance_id, st->spool, st->slot);
    return st;
}

int pg_stream_ensure(struct pg_stream *m, const char *tenant, int64_t instance_id, const char *conninfo,
                     int64_t wait_ms, volatile int *cancel, char *spool, size_t spool_len, char *err, size_t errlen)
{
    struct streamer *st;
    int rc, failures0;
    int64_t deadline = util_time_mono() + (wait_ms > 600000 ? 600000 : wait_ms < 0 ? 0 : wait_ms) * 1000;
    (void)tenant;
    if (!m) {
        snprintf(err, errlen, "WAL streaming needs a repository and a data directory");
        return -ENODEV;
    }
    pthread_mutex_lock(&m->lock);
    st = get_or_start(m, instance_id, conninfo, &rc);
    if (!st) {
        pthread_mutex_unlock(&m->lock);
        snprintf(err, errlen, "cannot start the WAL streamer: %s", strerror(-rc));
        return rc;
    }
    if (spool) snprintf(spool, spool_len, "%s", st->spool);
    failures0 = st->failures;
    while (!st->started && st->failures == failures0 && !st->cancel && !(cancel && *cancel) &&
           util_time_mono() < deadline) {
        struct timespec ts;
        util_deadline_ms(&ts, 250);
        (void)pthread_cond_timedwait(&m->cond, &m->lock, &ts);
    }
    rc = st->started                                       ? 0
         : cancel && *cancel                               ? -ECANCELED
         : st->failures != failures0 || st->failures > 0 ? -EIO
                                                           : -ETIMEDOUT;
    if (rc == -ECANCELED) snprintf(err, errlen, "canceled");
    else if (rc != 0)
        snprintf(err, errlen, "the WAL stream of instance %" PRId64 " %s%s", instance_id,
                 rc == -ETIMEDOUT ? "did not start in time" : "cannot start: ", rc == -ETIMEDOUT ? "" : st->last_err);
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* stop_one: cancels and joins a streamer (already out of the list); with drop, its slot is dropped
 * on the server too (no live group protects the instance: the slot would hold WAL for nobody). */
static void stop_one(struct streamer *st, int drop)
{
    pthread_mutex_lock(&st->m->lock);
    st->cancel = 1;
    pthread_cond_broadcast(&st->m->cond);
    pthread_mutex_unlock(&st->m->lock);
    pthread_join(st->thread, NULL);
    if (drop) {
        char err[256] = "";
        int rc = -1;
        /* The server may still see the slot active for a moment after the stream closed: 5 tries. */
        for (int i = 0; i < 5 && rc != 0; i++) {
            struct timespec ts = { 0, 200 * 1000000L };
            if (i) nanosleep(&ts, NULL);
            rc = st->m->mover->sql->drop_slot(st->conninfo, st->slot, err, sizeof err);
        }
        if (rc == 0)
            log_info("pg stream: instance %" PRId64 ": slot %s dropped", st->instance_id, st->slot);
        else
            log_warn("pg stream: instance %" PRId64 ": slot %s could not be dropped (%s): drop it on the server, it "
                     "holds WAL", st->instance_id, st->slot, err);
    }
    free(st->conninfo);
    free(st);
}

/* ---------- sync from the live kSQL groups ---------- */

struct group_ref {
    char *tenant, *id;
};

struct group_refs {
    struct group_ref *v;
    size_t n, cap;
};

static int collect(void *ud, const struct cat_group *g)
{
    struct group_refs *r = ud;
    if (!g->environment || strcmp(g->environment, "kSQL") != 0) return 0;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        struct group_ref *v = realloc(r->v, nc * sizeof *v);
        if (!v) return -1;
        r->v = v;
        r->cap = nc;
    }
    r->v[r->n].tenant = strdup(g->tenant);
    r->v[r->n].id = strdup(g->id);
    r->n++;
    return 0;
}

int pg_stream_sync(struct pg_stream *m)
{
    struct group_refs refs = { 0 };
    struct streamer *stop = NULL, **pp;
    int incomplete = 0, rc;
    if (!m) return -ENODEV;
    /* Marks cleared before the groups are read: a streamer a run starts from now on is marked seen
     * (get_or_start), one started before belongs to a group the read below finds. */
    pthread_mutex_lock(&m->lock);
    for (struct streamer *s = m->list; s; s = s->next) s->seen = 0;
    pthread_mutex_unlock(&m->lock);
    if (cat_group_list_schedulable(m->cfg.cat, collect, &refs) < 0) incomplete = 1;
    for (size_t i = 0; i < refs.n; i++) {
        struct spec_group gs;
        char err[256];
        if (!refs.v[i].tenant || !refs.v[i].id ||
            spec_group_load(m->cfg.cat, refs.v[i].tenant, refs.v[i].id, &gs, err, sizeof err) != 0) {
            incomplete = 1;
            continue;
        }
        for (size_t k = 0; k < gs.nobjects; k++) {
            struct svc_pg_target t;
            struct streamer *st;
            if (svc_pg_target(m->cfg.cat, m->cfg.repo, refs.v[i].tenant, gs.objects[k].id, &t, err, sizeof err) != 0) {
                incomplete = 1; /* unknown now: its streamer (if any) is kept */
                continue;
            }
            if (t.connector) { /* on a coffer-agent's host: its WAL is not streamed (not built) */
                svc_pg_target_release(&t);
                continue;
            }
            pthread_mutex_lock(&m->lock);
            if ((st = get_or_start(m, t.instance_id, t.conninfo, &rc))) st->seen = 1;
            pthread_mutex_unlock(&m->lock);
            svc_pg_target_release(&t);
        }
        spec_group_free(&gs);
    }
    for (size_t i = 0; i < refs.n; i++) free(refs.v[i].tenant), free(refs.v[i].id);
    free(refs.v);
    if (incomplete) return 0;
    /* Instances no live group protects any more: their streamers stop (joined outside the lock). */
    pthread_mutex_lock(&m->lock);
    for (pp = &m->list; *pp;) {
        struct streamer *s = *pp;
        if (s->seen) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        s->next = stop;
        stop = s;
    }
    pthread_mutex_unlock(&m->lock);
    while (stop) {
        struct streamer *n = stop->next;
        log_info("pg stream: instance %" PRId64 " is no longer protected by a live group: its streamer stops",
                 stop->instance_id);
        stop_one(stop, 1);
        stop = n;
    }
    return 0;
}

void pg_stream_stop(struct pg_stream *m)
{
    struct streamer *list;
    if (!m) return;
    pthread_mutex_lock(&m->lock);
    list = m->list;
    m->list = NULL;
    for (struct streamer *s = list; s; s = s->next) s->cancel = 1;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    while (list) {
        struct streamer *n = list->next;
        stop_one(list, 0); /* shutdown: the slot keeps the WAL until the next start */
        list = n;
    }
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->seal_lock);
    pthread_cond_destroy(&m->cond);
    free(m);
}
