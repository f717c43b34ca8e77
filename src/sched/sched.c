/* sched.c: the scheduler's lifecycle, its thread and the monitor (see sched.h).
 *
 * One thread wakes every 250 ms: every half second it runs the monitor (for each busy worker: write
 * the object's progress counters to the catalog if they changed, read whether the run is still ours
 * and whether a cancel was requested, which it passes to the engine through the worker's flag, and
 * every 10 s extend the run's 60 s lease), every
 * tick_ms (or at once when kicked) a scheduler pass, and every 30 s the retention pass and a check
 * for runs whose lease expired under another owner, and for runs of this daemon that no worker runs
 * any more (their end could not be recorded, say: they are failed here, never left Running).
 *
 * A failing catalog is not hammered: a scheduler pass that met a catalog error doubles the wait
 * before the next (up to 32 s), and progress writes pause for 5 s after one failed because the disk
 * was full. Every 5 s the monitor asks the catalog to re-create its space reserve (cat.h) if it was
 * released and the disk has room again.
 *
 * A scheduler pass reads every schedulable group (cat_group_list_schedulable) into memory first, then
 * for each: its policy, its plan (schedule.h), the instant up to which its slots were handled
 * (sched_state; a group seen for the first time starts from its creation if that was within the last
 * minute, else from now), whether a run is queued or running; sched_decide says what to do, and the
 * new "handled up to" instant is stored. The wall clock is sched_clock_now (test-movable). */
#include "sched/sched_int.h"
#include "catalog/cat_group.h"
#include "catalog/cat_policy.h"
#include "sched/clock.h"
#include "sched/schedule.h"
#include "util/log.h"
#include "util/array.h"
#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MONITOR_MS 500
#define HOUSEKEEPING_USECS (30LL * 1000000)
#define RESERVE_CHECK_USECS (5LL * 1000000)
#define PROGRESS_PAUSE_USECS (5LL * 1000000)
#define TICK_BACKOFF_MAX_USECS (32LL * 1000000)

/* ---------- scheduler pass ---------- */

struct group_vec {
    struct cat_group *v;
    size_t n, cap;
};

static char *dup0(const char *s) { return s ? strdup(s) : NULL; }

/* collect_group: copies what a pass needs, so that no statement is open while the pass writes. */
static int collect_group(void *ud, const struct cat_group *g)
{
    struct group_vec *gv = ud;
    struct cat_group *c;
    if (ARRAY_RESERVE(gv->v, gv->cap, gv->n + 1) != 0) return -1;
    c = &gv->v[gv->n];
    *c = *g;
    c->id = dup0(g->id);
    c->tenant = dup0(g->tenant);
    c->name = dup0(g->name);
    c->policy_id = dup0(g->policy_id);
    c->environment = dup0(g->environment);
    c->doc = dup0(g->doc);
    if (!c->id || !c->tenant || !c->name || !c->policy_id || !c->doc) {
        cat_group_release(c);
        return -1;
    }
    gv->n++;
    return 0;
}

static void format_usecs(int64_t usecs, char *buf, size_t len)
{
    time_t t = (time_t)(usecs / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int active_cb(void *ud, const struct cat_run *r)
{
    /* A run whose cancel was already requested is left to stop. */
    *(int64_t *)ud = r->cancel_requested ? -1 : r->start_usecs;
    return 1;
}

/* abort_in_blackout: cancels the group's queued or running run (abortInBlackouts). */
static void abort_in_blackout(struct sched *s, struct cat_group *g, int64_t now)
{
    struct cat_run_filter f = { .limit = 1 };
    json_t *st = json_pack("[ss]", "Accepted", "Running");
    int64_t start = -1;
    int was_running = 0;
    f.statuses = st;
    cat_run_list(s->cfg.cat, g->tenant, g->id, &f, active_cb, &start, NULL);
    json_decref(st);
    if (start < 0) return;
    if (cat_run_note(s->cfg.cat, g->tenant, g->id, start,
                     "a blackout window of the policy began and the group aborts in blackouts") != 0 ||
        cat_run_cancel(s->cfg.cat, g->tenant, g->id, start, now, &was_running) != 0)
        return;
    log_info("scheduler: group %s (tenant %s): run at %" PRId64 " canceled: blackout window (abortInBlackouts)", g->id,
             g->tenant, start);
}

/* plan_group: 0, or -1 when the catalog failed (the pass backs off). */
static int plan_group(struct sched *s, struct cat_group *g, int64_t now)
{
    struct cat *cat = s->cfg.cat;
    json_t *doc = json_loadb(g->doc, g->doc_len, 0, NULL), *policy = NULL;
    struct sched_plan plan;
    struct sched_decision d;
    char err[256] = "", when[32];
    int64_t last = 0, start;
    int active, rc = 0, fresh;
    if (!doc) return 0;
    if ((rc = cat_policy_get_json(cat, g->tenant, g->policy_id, &policy)) != 0) {
        json_decref(doc);
        return rc < 0 ? -1 : 0;
    }
    rc = sched_plan_from_json(doc, policy, g->created_usecs, &plan, err, sizeof err);
    json_decref(doc);
    json_decref(policy);
    if (rc < 0) {
        log_warn("scheduler: group %s of tenant %s: %s", g->id, g->tenant, err);
        return 0;
    }
    plan.paused = plan.paused || g->is_paused;
    if (cat_sched_get(cat, g->tenant, g->id, &last) != 0) return -1;
    fresh = last == 0;
    if (fresh) {
        last = (g->created_usecs > 0 && g->created_usecs <= now && now - g->created_usecs <= 60LL * 1000000)
                   ? g->created_usecs : now;
    }
    active = cat_run_active(cat, g->tenant, g->id);
    if (active < 0) return -1;
    if (active && sched_should_abort(&plan, now)) abort_in_blackout(s, g, now);
    sched_decide(&plan, last, now, active, &d);
    format_usecs(d.slot_usecs, when, sizeof when);
    switch (d.verdict) {
    case SCHED_DO_START:
        rc = sched_enqueue(cat, g, d.full ? "kFull" : "kRegular", NULL, 1, now, &start);
        if (rc == 0) {
            log_info("scheduler: queued a %s run of group %s (tenant %s) for the slot at %s",
                     d.full ? "kFull" : "kRegular", g->id, g->tenant, when);
            sched_notify(s);
            break;
        }
        if (rc != CAT_CONFLICT) return -1; /* retried at the next pass */
        /* A run was queued by the API since we looked: the slot is missed. */
        /* fall through */
    case SCHED_DO_MISSED: {
        char msg[160];
        struct cat_run_new n = { .tenant = g->tenant, .group_id = g->id, .group_name = g->name, .group_seq = g->seq,
                                 .run_type = d.full ? "kFull" : "kRegular", .status = "Missed", .message = msg,
                                 .scheduled = 1 };
        snprintf(msg, sizeof msg, "the run scheduled at %s was missed: the previous run was still going", when);
        start = d.slot_usecs;
        if (cat_run_insert(cat, &n, &start) != 0) return -1;
        log_info("scheduler: group %s (tenant %s): %s", g->id, g->tenant, msg);
        break;
    }
    case SCHED_DO_BLACKOUT:
        log_info("scheduler: group %s (tenant %s): the slot at %s falls in a blackout window: skipped", g->id,
                 g->tenant, when);
        break;
    case SCHED_DO_PAUSED:
    case SCHED_DO_NOTHING:
        break;
    }
    if ((fresh || d.evaluated_to != last) && cat_sched_put(cat, g->tenant, g->id, d.evaluated_to) < 0) return -1;
    return 0;
}

int sched_tick(struct sched *s, int64_t now)
{
    struct group_vec gv = { 0 };
    int failed = 0;
    pthread_mutex_lock(&s->tick_lock);
    if (cat_group_list_schedulable(s->cfg.cat, collect_group, &gv) < 0) {
        log_warn("scheduler: cannot list protection groups");
        failed = 1;
    }
    for (size_t i = 0; i < gv.n; i++) {
        if (plan_group(s, &gv.v[i], now) < 0) failed = 1;
        cat_group_release(&gv.v[i]);
    }
    pthread_mutex_unlock(&s->tick_lock);
    free(gv.v);
    return failed ? -1 : 0;
}

void sched_tick_now(struct sched *s)
{
    if (s) (void)sched_tick(s, sched_clock_now());
}

/* ---------- monitor ---------- */

static void monitor(struct sched *s)
{
    for (int i = 0; i < s->nworkers; i++) {
        struct sched_worker *w = &s->workers[i];
        struct cat_run_object o;
        char tenant[300], group[80];
        int64_t start, renewed_at;
        int has_obj, cancel = 0, rc, renewed = 0;
        pthread_mutex_lock(&s->lock);
        if (!w->busy) {
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        snprintf(tenant, sizeof tenant, "%s", w->tenant);
        snprintf(group, sizeof group, "%s", w->group_id);
        start = w->start_usecs;
        has_obj = w->has_obj && w->dirty;
        o = w->obj;
        w->dirty = 0;
        renewed_at = w->renewed_at;
        pthread_mutex_unlock(&s->lock);
        if (has_obj && sched_clock_real() >= s->progress_paused_until &&
            cat_run_object_progress(s->cfg.cat, tenant, group, start, &o) == -ENOSPC)
            s->progress_paused_until = sched_clock_real() + PROGRESS_PAUSE_USECS;
        /* The lease is written every SCHED_RENEW_USECS; in between, a read says whether it is still ours
         * and whether a cancel was requested. */
        if (sched_clock_real() - renewed_at >= SCHED_RENEW_USECS) {
            rc = cat_run_renew(s->cfg.cat, tenant, group, start, s->owner, sched_clock_real() + SCHED_LEASE_USECS,
                               &cancel);
            renewed = rc == 0;
        } else {
            rc = cat_run_check(s->cfg.cat, tenant, group, start, s->owner, &cancel);
        }
        pthread_mutex_lock(&s->lock);
        if (w->busy && w->start_usecs == start && strcmp(w->group_id, group) == 0) {
            if (renewed) w->renewed_at = sched_clock_real();
            if (rc == CAT_NOT_FOUND) {
                w->lease_lost = 1;
                w->cancel = 1;
            } else if (rc == 0 && cancel) {
                w->user_cancel = 1;
                w->cancel = 1;
            }
        }
        pthread_mutex_unlock(&s->lock);
    }
}

/* worker_runs: whether a worker of this daemon is running the run (cat_run_live_fn). */
static int worker_runs(void *ud, const char *tenant, const char *group_id, int64_t start_usecs)
{
    struct sched *s = ud;
    int yes = 0;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->nworkers && !yes; i++) {
        const struct sched_worker *w = &s->workers[i];
        yes = w->busy && w->start_usecs == start_usecs && strcmp(w->group_id, group_id) == 0 &&
              strcmp(w->tenant, tenant) == 0;
    }
    pthread_mutex_unlock(&s->lock);
    return yes;
}

void sched_housekeeping(struct sched *s, int64_t real)
{
    int n = 0;
    sched_retention_pass(s->cfg.cat, s->cfg.repo, sched_clock_now());
    cat_run_fail_running(s->cfg.cat, s->owner, real, "the worker running it stopped answering (lease expired)",
                         sched_clock_now(), &n);
    if (n) log_warn("scheduler: %d run(s) failed: their lease expired", n);
    n = 0;
    /* Our own runs whose lease ran out with no worker on them: a worker that could not record the
     * end (a full disk) and gave up. A leased run always has a fresh lease before its worker is
     * marked busy, and the monitor renews busy ones, so only abandoned runs match. */
    if (cat_run_fail_orphans(s->cfg.cat, s->owner, real, worker_runs, s,
                             "no worker runs it any more (its end could not be recorded; see the daemon's log)",
                             sched_clock_now(), &n) == -ENOSPC)
        cat_reserve_release(s->cfg.cat);
    if (n) log_warn("scheduler: %d run(s) of this daemon with no worker left were failed", n);
}

/* ---------- the thread ---------- */

static void *sched_main(void *arg)
{
    struct sched *s = arg;
    int64_t last_tick = 0, last_monitor = 0, last_house = sched_clock_real(), last_reserve = 0;
    int64_t tick_usecs = (s->cfg.tick_ms > 0 ? s->cfg.tick_ms : 1000) * 1000LL, tick_wait = tick_usecs;
    for (;;) {
        struct timespec ts;
        int64_t real;
        pthread_mutex_lock(&s->lock);
        if (!s->stopping) {
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 250 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->tick_cond, &s->lock, &ts);
        }
        if (s->stopping) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        pthread_mutex_unlock(&s->lock);
        real = sched_clock_real();
        if (real - last_monitor >= MONITOR_MS * 1000LL) {
            monitor(s);
            last_monitor = real;
        }
        if (real - last_tick >= tick_wait) {
            if (sched_tick(s, sched_clock_now()) < 0) {
                tick_wait = tick_wait * 2 > TICK_BACKOFF_MAX_USECS ? TICK_BACKOFF_MAX_USECS : tick_wait * 2;
                if (tick_wait < tick_usecs) tick_wait = tick_usecs;
            } else {
                tick_wait = tick_usecs;
            }
            last_tick = real;
        }
        if (real - last_reserve >= RESERVE_CHECK_USECS) {
            cat_reserve_restore(s->cfg.cat);
            last_reserve = real;
        }
        if (real - last_house >= HOUSEKEEPING_USECS) {
            sched_housekeeping(s, real);
            last_house = real;
        }
    }
    return NULL;
}

void sched_notify(struct sched *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    s->work_seq++;
    pthread_cond_broadcast(&s->work_cond);
    pthread_mutex_unlock(&s->lock);
}

int sched_stopping(struct sched *s)
{
    int v;
    pthread_mutex_lock(&s->lock);
    v = s->stopping;
    pthread_mutex_unlock(&s->lock);
    return v;
}

static void read_hooks(struct sched *s)
{
    const char *on = getenv("COFFER_TEST_HOOKS"), *v;
    if (!on || strcmp(on, "1") != 0) return;
    v = getenv("COFFER_TEST_VANISH");
    if (v && *v) s->vanish = strdup(v);
    v = getenv("COFFER_TEST_SLOW_OPEN_MS");
    if (v && *v) s->slow_open_ms = atoi(v);
    log_warn("scheduler: test hooks enabled (vanish '%s', slow open %d ms)", s->vanish ? s->vanish : "",
             s->slow_open_ms);
}

int sched_start(const struct sched_config *cfg, struct sched **out, char *err, size_t errlen)
{
    struct sched *s = calloc(1, sizeof *s);
    unsigned char rnd[6];
    char host[64] = "host";
    int n = 0;
    if (!s) return -1;
    s->cfg = *cfg;
    if (s->cfg.workers < 1) s->cfg.workers = 1;
    gethostname(host, sizeof host - 1);
    RAND_bytes(rnd, sizeof rnd);
    snprintf(s->owner, sizeof s->owner, "%s:%d:%02x%02x%02x%02x%02x%02x", host, (int)getpid(), rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5]);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->tick_lock, NULL);
    pthread_cond_init(&s->work_cond, NULL);
    pthread_cond_init(&s->tick_cond, NULL);
    read_hooks(s);
    /* Runs a previous daemon left Running were interrupted: nothing of them is in progress any more. */
    if (cat_run_fail_running(cfg->cat, NULL, 0, "interrupted by daemon restart", sched_clock_now(), &n) != 0) {
        snprintf(err, errlen, "cannot recover interrupted runs from the catalog");
        sched_stop(s);
        return -1;
    }
    if (n) log_warn("scheduler: %d run(s) interrupted by the previous daemon marked Failed", n);
    s->workers = calloc((size_t)s->cfg.workers, sizeof *s->workers);
    if (!s->workers) {
        snprintf(err, errlen, "out of memory");
        sched_stop(s);
        return -1;
    }
    for (int i = 0; i < s->cfg.workers; i++) {
        s->workers[i].s = s;
        s->workers[i].index = i;
        if (pthread_create(&s->workers[i].thread, NULL, sched_worker_main, &s->workers[i]) != 0) {
            snprintf(err, errlen, "cannot start worker threads");
            sched_stop(s);
            return -1;
        }
        s->nworkers = i + 1;
    }
    if (pthread_create(&s->thread, NULL, sched_main, s) != 0) {
        snprintf(err, errlen, "cannot start the scheduler thread");
        sched_stop(s);
        return -1;
    }
    s->thread_started = 1;
    log_info("scheduler: started with %d worker(s) (lease owner %s)", s->nworkers, s->owner);
    *out = s;
    return 0;
}

void sched_stop(struct sched *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    for (int i = 0; i < s->nworkers; i++)
        if (s->workers[i].busy) s->workers[i].cancel = 1; /* the engine stops at its next check */
    pthread_cond_broadcast(&s->work_cond);
    pthread_cond_broadcast(&s->tick_cond);
    pthread_mutex_unlock(&s->lock);
    if (s->thread_started) pthread_join(s->thread, NULL);
    for (int i = 0; i < s->nworkers; i++) pthread_join(s->workers[i].thread, NULL);
    free(s->workers);
    free(s->vanish);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->tick_lock);
    pthread_cond_destroy(&s->work_cond);
    pthread_cond_destroy(&s->tick_cond);
    free(s);
}
