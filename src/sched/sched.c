/* sched.c: the scheduler's lifecycle and its thread (see sched.h); the pools that run the jobs are
 * the job core's (job.h).
 *
 * The thread wakes every 250 ms: every tick_ms (or at once when kicked) it runs a scheduler pass,
 * every 5 s it has the WAL streamers follow the live kSQL groups (pg_stream.h), every 5 s it asks the catalog to re-create its space reserve (cat.h) if it was released and the
 * disk has room again, and every 30 s it runs the retention pass. A failing catalog is not hammered:
 * a scheduler pass that met a catalog error doubles the wait before the next (up to 32 s).
 *
 * A scheduler pass reads every schedulable group (cat_group_list_schedulable) into memory first, then
 * for each: its policy, its plan (schedule.h), the instant up to which its slots were handled
 * (sched_state; a group seen for the first time starts from its creation if that was within the last
 * minute, else from now), whether a run is queued or running; sched_decide says what to do, and the
 * new "handled up to" instant is stored. A kSQL group whose policy has a log rule also gets kLog runs
 * on it (plan_log, its own "handled up to" instant). The wall clock is util_time_now (test-movable).
 *
 * The groups listed and each one's specs and plan are kept from one pass to the next while neither
 * the groups' nor the policies' catalog generation changes (cat_gen.h: any write of either through
 * this process changes it; on a catalog shared with other daemons there is none, and every pass reads
 * everything): then a pass over unchanged groups lists nothing and decodes no spec, and only reads each
 * group's state and whether it has a run going. A spec the pass cannot use (none stored, or refused)
 * is warned about once per change, not at every pass. */
#include "sched/sched_int.h"
#include "sched/nodes.h"
#include "catalog/cat_gen.h"
#include "catalog/cat_group.h"
#include "catalog/cat_policy.h"
#include "sched/job_prune.h"
#include "sched/job_verify.h"
#include "sched/job_spec.h"
#include "sched/schedule.h"
#include "sched/spec.h"
#include "util/time.h"
#include "util/log.h"
#include "util/array.h"
#include "util/thread.h"
#include <errno.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RETENTION_USECS (30LL * 1000000)
#define RESERVE_CHECK_USECS (5LL * 1000000)
#define TICK_BACKOFF_MAX_USECS (32LL * 1000000)
#define PG_STREAM_SYNC_USECS (5LL * 1000000)
#define SCHED_STATE_REFRESH_USECS (60LL * 1000000)

/* ---------- scheduler pass ---------- */

struct group_vec {
    struct cat_group *v;
    size_t n, cap;
};

/* What a pass loaded for one group: its specs and plan, or that it is not scheduled. */
struct plan_entry {
    enum { PLAN_UNLOADED, PLAN_READY, PLAN_SKIP } state;
    struct spec_group gs;
    struct spec_policy ps;
    struct sched_plan plan;
};

/* The last pass's groups and plans (struct sched's pass), valid while ggen and pgen are current. */
struct sched_pass {
    uint64_t ggen, pgen;       /* 0: not kept (a shared catalog, or the list failed) */
    struct group_vec gv;
    struct plan_entry *pe;     /* gv.n entries */
};

static void pass_clear(struct sched_pass *p)
{
    for (size_t i = 0; i < p->gv.n; i++) {
        cat_group_release(&p->gv.v[i]);
        if (p->pe) spec_group_free(&p->pe[i].gs);
    }
    free(p->gv.v);
    free(p->pe);
    memset(p, 0, sizeof *p);
}

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
    c->doc = NULL; /* the pass reads the group's typed spec, never its wire document */
    c->doc_len = 0;
    if (!c->id || !c->tenant || !c->name || !c->policy_id) {
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

/* plan_log: the log rule of an SQL group's policy. Its "handled up to" instant is kept in sched_state
 * under "<group id>#log"; a group seen for the first time starts from now. A due slot queues a kLog
 * run; when a run of the group is queued or running the slot is skipped (the next log run seals what
 * this one would have: nothing is lost, the spool keeps it). 0, or -1 when the catalog failed. */
static int plan_log(struct sched *s, struct cat_group *g, const struct spec_group *gs, const struct spec_policy *ps,
                    int64_t now)
{
    struct cat *cat = s->cfg.cat;
    char key[sizeof ((struct job *)0)->id + 8];
    int64_t last = 0, slot, start;
    int active, rc;
    if (!ps->has_log || gs->env != SPEC_ENV_SQL || g->is_paused) return 0;
    snprintf(key, sizeof key, "%s#log", g->id);
    if (cat_sched_get(cat, g->tenant, key, &last) != 0) return -1;
    if (last == 0 || last > now) return cat_sched_put(cat, g->tenant, key, now) < 0 ? -1 : 0;
    slot = spec_log_due(gs, ps, g->created_usecs, last, now);
    if (slot == SCHED_NEVER) return 0;
    if ((active = cat_run_active(cat, g->tenant, g->id)) < 0) return -1;
    if (!active) {
        struct job_run_spec spec = { .type = JOB_RUN_LOG, .scheduled = 1 };
        rc = sched_enqueue(cat, g, &spec, now, &start);
        if (rc == 0) {
            log_info("scheduler: queued a kLog run of group %s (tenant %s)", g->id, g->tenant);
            sched_notify(s);
        } else if (rc != CAT_CONFLICT) {
            return -1;
        }
    }
    return cat_sched_put(cat, g->tenant, key, slot) < 0 ? -1 : 0;
}

static int plan_regular(struct sched *s, struct cat_group *g, struct sched_plan *pl, int64_t now);

/* plan_load: the group's specs and plan into e (PLAN_READY), or PLAN_SKIP when it is not scheduled
 * (warned about). 0, or -1 when the catalog failed (e stays PLAN_UNLOADED: tried again next pass). */
static int plan_load(struct sched *s, struct cat_group *g, struct plan_entry *e)
{
    struct cat *cat = s->cfg.cat;
    char err[256] = "";
    int rc;
    memset(e, 0, sizeof *e);
    rc = spec_group_load(cat, g->tenant, g->id, &e->gs, err, sizeof err);
    if (rc == 0) {
        rc = spec_policy_load(cat, g->tenant, e->gs.policy_id ? e->gs.policy_id : g->policy_id, &e->ps, err,
                              sizeof err);
        if (rc == 0) rc = spec_plan(&e->gs, &e->ps, g->created_usecs, &e->plan, err, sizeof err);
    }
    if (rc >= 0) {
        e->state = PLAN_READY;
        return 0;
    }
    spec_group_free(&e->gs);
    memset(&e->gs, 0, sizeof e->gs);
    if (rc == -ENODATA) /* a row written before typed specs that the backfill could not translate */
        log_warn("scheduler: group %s of tenant %s is not scheduled: its settings (or its policy's) have no typed "
                 "spec; update the group or policy through the API to store one", g->id, g->tenant);
    else if (rc == -EINVAL)
        log_warn("scheduler: group %s of tenant %s: %s", g->id, g->tenant, err);
    else if (rc != -ENOENT)
        return -1;        /* a catalog failure: the pass backs off */
    e->state = PLAN_SKIP;
    return 0;
}

/* plan_group: 0, or -1 when the catalog failed (the pass backs off). */
static int plan_group(struct sched *s, struct cat_group *g, struct plan_entry *e, int64_t now)
{
    int rc;
    if (e->state == PLAN_UNLOADED && plan_load(s, g, e) != 0) return -1;
    if (e->state != PLAN_READY) return 0;
    rc = plan_regular(s, g, &e->plan, now);
    if (rc == 0 && !e->plan.paused && !(e->plan.end_usecs > 0 && now >= e->plan.end_usecs))
        rc = plan_log(s, g, &e->gs, &e->ps, now);
    return rc;
}

/* plan_regular: the regular and full slots of the group's plan. 0, or -1 when the catalog failed. */
static int plan_regular(struct sched *s, struct cat_group *g, struct sched_plan *pl, int64_t now)
{
    struct cat *cat = s->cfg.cat;
    struct sched_plan plan = *pl;
    struct sched_decision d;
    char when[32];
    int64_t last = 0, start;
    int active, rc = 0, fresh;
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
    if (d.verdict == SCHED_DO_START || d.verdict == SCHED_DO_MISSED) {
        /* Several daemons on one catalog: the slot is acted on by the one that claims it. */
        char node[128] = "";
        int claimed;
        gethostname(node, sizeof node - 16);
        snprintf(node + strlen(node), 16, ":%d", (int)getpid());
        claimed = cat_sched_claim(cat, g->tenant, g->id, d.slot_usecs, node, now);
        if (claimed < 0) return -1;
        if (claimed == 0) {
            log_info("scheduler: group %s (tenant %s): the slot at %s was taken by another scheduler", g->id,
                     g->tenant, when);
            d.verdict = SCHED_DO_NOTHING;
        }
    }
    switch (d.verdict) {
    case SCHED_DO_START: {
        struct job_run_spec spec = { .type = d.full ? JOB_RUN_FULL : JOB_RUN_REGULAR, .scheduled = 1 };
        rc = sched_enqueue(cat, g, &spec, now, &start);
        if (rc == 0) {
            log_info("scheduler: queued a %s run of group %s (tenant %s) for the slot at %s",
                     d.full ? "kFull" : "kRegular", g->id, g->tenant, when);
            sched_notify(s);
            break;
        }
        if (rc != CAT_CONFLICT) return -1; /* retried at the next pass */
        /* A run was queued by the API since we looked: the slot is missed. */
    }
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
    /* The "handled up to" instant is stored when a slot was handled, and otherwise at most once a
     * SCHED_STATE_REFRESH_USECS: the next pass decides over (last, now] again and finds no slot in
     * it, so the decisions are the same; storing it at every pass was one durable commit per group
     * per second (1,000 groups: about 450 fdatasync/s on an idle daemon). What the lag changes: a
     * plan edited less than that long ago is judged over that lag too. */
    if ((fresh || d.verdict != SCHED_DO_NOTHING || d.evaluated_to - last >= SCHED_STATE_REFRESH_USECS) &&
        cat_sched_put(cat, g->tenant, g->id, d.evaluated_to) < 0)
        return -1;
    return 0;
}

int sched_tick(struct sched *s, int64_t now)
{
    struct sched_pass *p;
    struct cat *cat = s->cfg.cat;
    int failed = 0;
    uint64_t ggen, pgen;
    pthread_mutex_lock(&s->tick_lock);
    if (!s->pass && !(s->pass = calloc(1, sizeof *s->pass))) {
        pthread_mutex_unlock(&s->tick_lock);
        return -1;
    }
    p = s->pass;
    /* read before the rows: a write after this changes them, and the next pass reads again */
    ggen = cat_gen(cat, CAT_GEN_GROUPS);
    pgen = cat_gen(cat, CAT_GEN_POLICIES);
    if (!p->ggen || ggen != p->ggen || pgen != p->pgen) {
        pass_clear(p);
        if (cat_group_list_schedulable(cat, collect_group, &p->gv) < 0) {
            log_warn("scheduler: cannot list protection groups");
            failed = 1;
        } else if (p->gv.n && !(p->pe = calloc(p->gv.n, sizeof *p->pe))) {
            failed = 1;
        } else {
            p->ggen = ggen && pgen ? ggen : 0;
            p->pgen = pgen;
        }
    }
    for (size_t i = 0; p->pe && i < p->gv.n; i++)
        if (plan_group(s, &p->gv.v[i], &p->pe[i], now) < 0) failed = 1;
    if (!p->ggen) pass_clear(p); /* nothing kept: read again next pass */
    pthread_mutex_unlock(&s->tick_lock);
    return failed ? -1 : 0;
}

void sched_tick_now(struct sched *s)
{
    if (s) (void)sched_tick(s, util_time_now());
}

/* ---------- the thread ---------- */

static void *sched_main(void *arg)
{
    struct sched *s = arg;
    int64_t last_tick = 0, last_retention = util_time_real(), last_reserve = 0, last_pg_sync = 0;
    int64_t tick_usecs = (s->cfg.tick_ms > 0 ? s->cfg.tick_ms : 1000) * 1000LL, tick_wait = tick_usecs;
    util_thread_name("scheduler");
    for (;;) {
        struct timespec ts;
        int64_t real;
        pthread_mutex_lock(&s->lock);
        if (!s->stopping) {
            util_deadline_ms(&ts, 250);
            pthread_cond_timedwait(&s->tick_cond, &s->lock, &ts);
        }
        if (s->stopping) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        pthread_mutex_unlock(&s->lock);
        real = util_time_real();
        if (real - last_tick >= tick_wait) {
            if (sched_tick(s, util_time_now()) < 0) {
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
        if (s->pg_stream && real - last_pg_sync >= PG_STREAM_SYNC_USECS) {
            (void)pg_stream_sync(s->pg_stream); /* a WAL streamer per instance of a live kSQL group */
            last_pg_sync = real;
        }
        if (real - last_retention >= RETENTION_USECS) {
            sched_retention_pass(s->cfg.cat, s->cfg.repo, util_time_now());
            prune_runner_after_retention(s->prune, util_time_real()); /* job_prune.c */
            verify_runner_tick(s->verify, util_time_real());          /* job_verify.c */
            last_retention = real;
        }
    }
    return NULL;
}

void sched_notify(struct sched *s)
{
    if (!s) return;
    job_pool_notify(s->backups);
    job_pool_notify(s->recoveries);
    job_pool_notify(s->indexer);
}

static void read_hooks(struct sched *s)
{
    const char *on = getenv("COFFER_TEST_HOOKS"), *v;
    if (!on || strcmp(on, "1") != 0) return;
    v = getenv("COFFER_TEST_VANISH");
    if (v && *v) s->vanish = strdup(v);
    v = getenv("COFFER_TEST_SLOW_OPEN_MS");
    if (v && *v) s->slow_open_ms = atoi(v);
    v = getenv("COFFER_TEST_FAIL_MARK");
    if (v && *v && !strchr(v, '/')) s->fail_mark = strdup(v);
    v = getenv("COFFER_TEST_RECOVERY_DELAY_MS");
    if (v && *v) s->recovery_delay_ms = atoi(v);
    v = getenv("COFFER_TEST_RECOVERY_GATE");
    if (v && *v == '/') s->recovery_gate = strdup(v);
    log_warn("scheduler: test hooks enabled (vanish '%s', slow open %d ms, recovery delay %d ms)",
             s->vanish ? s->vanish : "", s->slow_open_ms, s->recovery_delay_ms);
}

int sched_start(const struct sched_config *cfg, struct sched **out, char *err, size_t errlen)
{
    struct sched *s = calloc(1, sizeof *s);
    struct job_pool_config bc = { .name = "backup", .cat = cfg->cat, .repo = cfg->repo, .data_dir = cfg->data_dir,
                                  .workers = cfg->workers, .queue = &job_queue_runs };
    struct job_pool_config rc = { .name = "recovery", .cat = cfg->cat, .repo = cfg->repo, .data_dir = cfg->data_dir,
                                  .workers = cfg->recovery_workers, .queue = &job_queue_recoveries };
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    s->cfg = *cfg;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->tick_lock, NULL);
    pthread_cond_init(&s->tick_cond, NULL);
    read_hooks(s);
    {
        /* Before the pools: a base backup leased at once asks for its instance's streamer. */
        struct pg_stream_config pc = { .cat = cfg->cat, .repo = cfg->repo, .data_dir = cfg->data_dir };
        if (pg_stream_start(&pc, &s->pg_stream) != 0) log_warn("scheduler: WAL streaming is not available");
    }
    struct job_pool_config ic = { .name = "indexer", .cat = cfg->cat, .repo = cfg->repo, .workers = 1,
                                  .queue = &job_queue_file_index };
    bc.ctx = rc.ctx = ic.ctx = s;
    /* Several nodes: the lease (COFFER_LEASE_SECS) decides how soon a dead node's runs are taken over. */
    node_lease_config(&bc.lease_usecs, &bc.renew_usecs, &bc.housekeeping_usecs);
    rc.lease_usecs = ic.lease_usecs = bc.lease_usecs;
    rc.renew_usecs = ic.renew_usecs = bc.renew_usecs;
    rc.housekeeping_usecs = ic.housekeeping_usecs = bc.housekeeping_usecs;
    if (node_sync_new(cfg->cat, cfg->repo, &s->nodes) != 0) {
        snprintf(err, errlen, "out of memory");
        sched_stop(s);
        return -ENOMEM;
    }
    bc.kinds = rc.kinds = ic.kinds = job_kinds; /* the kind table (job_kinds.c): the core itself never names it */
    if (job_pool_start(&bc, &s->backups, err, errlen) != 0 || job_pool_start(&rc, &s->recoveries, err, errlen) != 0 ||
        (cfg->repo && job_pool_start(&ic, &s->indexer, err, errlen) != 0) ||
        (cfg->repo && prune_runner_start(&(struct prune_runner_config){ cfg->cat, cfg->repo,
             cfg->prune_interval_usecs ? cfg->prune_interval_usecs : PRUNE_DEFAULT_INTERVAL_USECS,
             job_pool_owner(s->backups), bc.lease_usecs }, &s->prune) != 0) ||
        (cfg->repo && verify_runner_start(&(struct verify_runner_config){ cfg->repo,
             cfg->verify_interval_usecs, cfg->verify_read_pct, cfg->cat, job_pool_owner(s->backups) },
             &s->verify) != 0)) {
        sched_stop(s);
        return -EIO;
    }
    if (pthread_create(&s->thread, NULL, sched_main, s) != 0) {
        snprintf(err, errlen, "cannot start the scheduler thread");
        sched_stop(s);
        return -EAGAIN;
    }
    s->thread_started = 1;
    log_info("scheduler: started");
    *out = s;
    return 0;
}

void sched_stop(struct sched *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->tick_cond);
    pthread_mutex_unlock(&s->lock);
    if (s->thread_started) pthread_join(s->thread, NULL);
    verify_runner_cancel(s->verify); /* first: a prune may be waiting for it (maintenance mutex) */
    prune_runner_stop(s->prune);  /* a running prune is cancelled before it deletes anything */
    verify_runner_stop(s->verify);
    job_pool_stop(s->indexer);    /* a snapshot being indexed is resumed on the next start */
    job_pool_stop(s->recoveries); /* running recoveries stop at a safe point and end Failed */
    job_pool_stop(s->backups);    /* running backups stop at a safe point and are queued again */
    pg_stream_stop(s->pg_stream); /* every WAL streamer: status sent, stream closed, thread joined */
    node_sync_free(s->nodes);
    if (s->pass) pass_clear(s->pass);
    free(s->pass);
    free(s->vanish);
    free(s->recovery_gate);
    free(s->fail_mark);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->tick_lock);
    pthread_cond_destroy(&s->tick_cond);
    free(s);
}
