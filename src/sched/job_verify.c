/* job_verify.c: the daemon's verify runner (job_verify.h): one maintenance thread that runs the
 * verify requested through the API or queued by its schedule, one at a time, and keeps the last
 * result and the rotating subset's cursor (the last pack read: the next subset starts after it).
 * Everything shared is guarded by r->mu; the verify itself runs without it. */
#include "sched/job_verify.h"
#include "sched/nodes.h"
#include "catalog/cat.h"
#include "catalog/cat_nodes.h"
#include "sched/sched_int.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct verify_runner {
    struct verify_runner_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, stopping;
    volatile int cancel;
    int has_current, has_last;
    struct verify_run current, last;
    int64_t next_id;
    int64_t last_scheduled_real;
    char cursor[REPO_ID_HEX_LEN + 1];
};

static void run_one(struct verify_runner *r, struct verify_run *run, const char *cursor)
{
    struct repo_verify_opts o = { .read_data = run->read_data, .subset_pct = run->subset_pct,
                                  .resume_after = cursor, .cancel = &r->cancel };
    json_t *rep = NULL;
    char holder[160];
    int rc;
    if (node_prune_elsewhere(r->cfg.cat, r->cfg.node, holder, sizeof holder)) {
        run->state = VERIFY_FAILED;
        snprintf(run->message, sizeof run->message, "another node (%s) is pruning the repository: verify again "
                 "once it is done", holder);
        log_warn("verify %lld refused: %s", (long long)run->id, run->message);
        return;
    }
    for (int pass = 0;; pass++) {
        struct cat_repo_sync s0, s1;
        int shared = r->cfg.cat && cat_shared(r->cfg.cat), moved;
        if (shared) {
            (void)repo_index_refresh(r->cfg.repo, NULL); /* others' packs too */
            if (cat_repo_sync_get(r->cfg.cat, &s0) != 0) shared = 0;
        }
        rc = repo_verify_ex(r->cfg.repo, &o, &rep);
        if (rc != 0 || !shared || json_is_true(json_object_get(rep, "ok"))) break;
        /* Damage found while another node pruned (its prune deletes packs this node's index still
         * named: not damage): verify once more after a refresh; a second prune meanwhile fails it. */
        moved = cat_repo_sync_get(r->cfg.cat, &s1) != 0 || s1.prune_gen != s0.prune_gen ||
                node_prune_elsewhere(r->cfg.cat, r->cfg.node, NULL, 0);
        if (!moved) break;
        json_decref(rep);
        rep = NULL;
        if (pass == 1) {
            run->state = VERIFY_FAILED;
            snprintf(run->message, sizeof run->message, "other nodes pruned the repository during the verify twice: "
                     "verify again once they are done");
            log_warn("verify %lld: %s", (long long)run->id, run->message);
            return;
        }
        log_info("verify %lld: another node pruned the repository meanwhile; verifying again", (long long)run->id);
    }
    run->state = rc == 0 ? VERIFY_SUCCEEDED : VERIFY_FAILED;
    run->report = rep;
    if (rc != 0) {
        snprintf(run->message, sizeof run->message, "%s", rc == -ECANCELED
                 ? "verify cancelled (the daemon is stopping)" : strerror(-rc));
        log_error("verify %lld failed: %s", (long long)run->id, run->message);
    } else if (!json_is_true(json_object_get(rep, "ok"))) {
        log_error("verify %lld: the repository is damaged: %zu errors, %lld paths hurt in %zu "
                  "snapshots (GET /v2/coffer/repository/verify)", (long long)run->id,
                  json_array_size(json_object_get(rep, "errors")),
                  (long long)json_integer_value(json_object_get(rep, "hurt_count")),
                  json_array_size(json_object_get(rep, "snapshots_hurt")));
    } else {
        log_info("verify %lld: the repository is whole", (long long)run->id);
    }
}

static void *runner_main(void *arg)
{
    struct verify_runner *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        struct verify_run run;
        char cursor[REPO_ID_HEX_LEN + 1];
        const char *next;
        while (!r->stopping && !(r->has_current && r->current.state == VERIFY_QUEUED))
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->stopping) break;
        r->current.state = VERIFY_RUNNING;
        r->current.start_usecs = util_time_now();
        r->cancel = 0;
        run = r->current;
        memcpy(cursor, r->cursor, sizeof cursor);
        pthread_mutex_unlock(&r->mu);
        run_one(r, &run, cursor);
        run.end_usecs = util_time_now();
        pthread_mutex_lock(&r->mu);
        next = json_string_value(json_object_get(run.report, "next_cursor"));
        if (next && run.subset_pct < 100) snprintf(r->cursor, sizeof r->cursor, "%s", next);
        if (r->has_last) json_decref(r->last.report);
        r->last = run;
        r->has_last = 1;
        r->has_current = 0;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

int verify_runner_start(const struct verify_runner_config *cfg, struct verify_runner **out)
{
    struct verify_runner *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r) return -ENOMEM;
    r->cfg = *cfg;
    r->last_scheduled_real = util_time_real();
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    if (pthread_create(&r->thread, NULL, runner_main, r) != 0) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->cv);
        free(r);
        return -EAGAIN;
    }
    r->started = 1;
    *out = r;
    return 0;
}

void verify_runner_cancel(struct verify_runner *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    r->cancel = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void verify_runner_stop(struct verify_runner *r)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    r->stopping = 1;
    r->cancel = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (r->started) pthread_join(r->thread, NULL);
    if (r->has_last) json_decref(r->last.report);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

/* queue: lock held. */
static int queue(struct verify_runner *r, int read_data, unsigned pct, int scheduled, int64_t *id)
{
    if (!r->cfg.repo || r->stopping) return -ENODEV;
    if (r->has_current) {
        if (id) *id = r->current.id;
        return -EBUSY;
    }
    memset(&r->current, 0, sizeof r->current);
    r->current.id = ++r->next_id;
    r->current.read_data = read_data;
    r->current.subset_pct = pct == 0 || pct > 100 ? 100 : pct;
    r->current.scheduled = scheduled;
    r->current.state = VERIFY_QUEUED;
    r->current.queued_usecs = util_time_now();
    r->has_current = 1;
    if (id) *id = r->current.id;
    pthread_cond_broadcast(&r->cv);
    return 0;
}

void verify_runner_tick(struct verify_runner *r, int64_t real)
{
    if (!r || r->cfg.interval_usecs <= 0) return;
    pthread_mutex_lock(&r->mu);
    if (real - r->last_scheduled_real >= r->cfg.interval_usecs && !r->has_current &&
        queue(r, r->cfg.read_pct > 0, r->cfg.read_pct, 1, NULL) == 0) {
        r->last_scheduled_real = real;
        log_info("verify: scheduled verify %lld queued", (long long)r->current.id);
    }
    pthread_mutex_unlock(&r->mu);
}

int verify_runner_request(struct verify_runner *r, int read_data, unsigned subset_pct, int64_t *id)
{
    int rc;
    if (!r) return -ENODEV;
    pthread_mutex_lock(&r->mu);
    rc = queue(r, read_data, subset_pct, 0, id);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int sched_verify_request(struct sched *s, int read_data, unsigned subset_pct, int64_t *id)
{
    return verify_runner_request(s ? s->verify : NULL, read_data, subset_pct, id);
}

int sched_verify_status(struct sched *s, struct verify_status *out)
{
    return verify_runner_peek(s ? s->verify : NULL, out);
}

int verify_runner_peek(struct verify_runner *r, struct verify_status *out)
{
    memset(out, 0, sizeof *out);
    if (!r) return -ENODEV;
    pthread_mutex_lock(&r->mu);
    out->interval_usecs = r->cfg.interval_usecs > 0 ? r->cfg.interval_usecs : 0;
    out->scheduled_read_pct = r->cfg.read_pct;
    out->next_usecs = out->interval_usecs ? r->last_scheduled_real + r->cfg.interval_usecs : 0;
    out->has_current = r->has_current;
    out->current = r->current;
    out->current.report = NULL;
    out->has_last = r->has_last;
    out->last = r->last;
    if (r->has_last) json_incref(out->last.report);
    pthread_mutex_unlock(&r->mu);
    return 0;
}

void verify_status_release(struct verify_status *st)
{
    if (st->has_last) json_decref(st->last.report);
    st->last.report = NULL;
}
