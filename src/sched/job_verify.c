/* job_verify.c: the daemon's verify runner (job_verify.h): one maintenance thread that runs the
 * verify requested through the API or queued by its schedule, one at a time, and keeps the last
 * result and the rotating subset's cursor (the last pack read: the next subset starts after it).
 * The thread, the queue of one and the last result are the maintenance runner's (maint.h); this file
 * gives its hooks. */
#include "sched/job_verify.h"
#include "sched/maint.h"
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
    struct maint *m;                        /* the thread, the runs and the cancel flag (maint.h) */
    char cursor[REPO_ID_HEX_LEN + 1];       /* guarded by the maintenance runner's lock */
    char run_cursor[REPO_ID_HEX_LEN + 1];   /* the running verify's copy (the runner's thread only) */
};

static void run_one(struct verify_runner *r, struct verify_run *run, const char *cursor)
{
    struct repo_verify_opts o = { .read_data = run->read_data, .subset_pct = run->subset_pct,
                                  .resume_after = cursor, .cancel = maint_cancel_flag(r->m) };
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

/* The hooks of the maintenance runner (maint.h): the rotating subset's cursor is copied for the run
 * when it starts and moved when it ends (both under the runner's lock); the last run's report is
 * shared with the callers of verify_runner_peek by reference. */
static void verify_started(void *owner, struct maint_run *head)
{
    struct verify_runner *r = owner;
    (void)head;
    memcpy(r->run_cursor, r->cursor, sizeof r->cursor);
}

static void verify_work(void *owner, struct maint *m, struct maint_run *head)
{
    struct verify_runner *r = owner;
    (void)m;
    run_one(r, (struct verify_run *)head, r->run_cursor);
}

static void verify_ended(void *owner, struct maint_run *head)
{
    struct verify_runner *r = owner;
    struct verify_run *run = (struct verify_run *)head;
    const char *next = json_string_value(json_object_get(run->report, "next_cursor"));
    if (next && run->subset_pct < 100) snprintf(r->cursor, sizeof r->cursor, "%s", next);
}

static void verify_hold(struct maint_run *head)
{
    json_incref(((struct verify_run *)head)->report);
}

static void verify_drop(struct maint_run *head)
{
    struct verify_run *run = (struct verify_run *)head;
    json_decref(run->report);
    run->report = NULL;
}

static const struct maint_kind verify_kind = {
    .name = "verify", .run_size = sizeof(struct verify_run), .started = verify_started, .work = verify_work,
    .ended = verify_ended, .hold = verify_hold, .drop = verify_drop,
};

int verify_runner_start(const struct verify_runner_config *cfg, struct verify_runner **out)
{
    struct verify_runner *r = calloc(1, sizeof *r);
    int rc;
    *out = NULL;
    if (!r) return -ENOMEM;
    r->cfg = *cfg;
    if ((rc = maint_start(&verify_kind, r, cfg->interval_usecs, &r->m)) != 0) {
        free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void verify_runner_cancel(struct verify_runner *r)
{
    if (r) maint_cancel(r->m);
}

void verify_runner_stop(struct verify_runner *r)
{
    if (!r) return;
    maint_stop(r->m);
    free(r);
}

/* proto: a verify of read_data and pct (0 or over 100: every pack). */
static struct verify_run proto(int read_data, unsigned pct)
{
    return (struct verify_run){ .read_data = read_data, .subset_pct = pct == 0 || pct > 100 ? 100 : pct };
}

void verify_runner_tick(struct verify_runner *r, int64_t real)
{
    struct verify_run p;
    if (!r) return;
    p = proto(r->cfg.read_pct > 0, r->cfg.read_pct);
    maint_tick(r->m, real, &p.head);
}

int verify_runner_request(struct verify_runner *r, int read_data, unsigned subset_pct, int64_t *id)
{
    struct verify_run p = proto(read_data, subset_pct);
    if (!r || !r->cfg.repo) return -ENODEV;
    return maint_request(r->m, &p.head, id);
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
    maint_peek(r->m, &out->current.head, &out->has_current, &out->last.head, &out->has_last, &out->interval_usecs,
               &out->next_usecs);
    out->scheduled_read_pct = r->cfg.read_pct;
    out->current.report = NULL;
    return 0;
}

void verify_status_release(struct verify_status *st)
{
    if (st->has_last) json_decref(st->last.report);
    st->last.report = NULL;
}
