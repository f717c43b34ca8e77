/* job_recovery.c: the recoveries queue and the common course of a recovery (see job_recovery.h). */
#include "sched/job_recovery.h"
#include "sched/sched_int.h"
#include "sched/nodes.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------- the result ---------- */

static void outcome_problem(struct recovery_outcome *o, const char *verb, const char *path, const char *message)
{
    if (o->n_failed < RECOVERY_MAX_MESSAGES) {
        char m[1024];
        snprintf(m, sizeof m, "failed to %s %s: %s", verb, path, message);
        json_array_append_new(o->messages, json_string(m));
    }
    if (o->n_failed < RECOVERY_MAX_FILE_ERRORS)
        json_array_append_new(o->file_errors, json_pack("{s:s,s:s}", "path", path, "message", message));
    o->n_failed++;
}

void recovery_outcome_errors(struct recovery_outcome *o, const char *verb, json_t *errors)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        const char *p = json_string_value(json_object_get(e, "path"));
        const char *m = json_string_value(json_object_get(e, "message"));
        outcome_problem(o, verb, p ? p : "?", m ? m : "error");
    }
}

static void outcome_summary(struct recovery_outcome *o, const char *verb)
{
    if (o->n_failed > RECOVERY_MAX_MESSAGES) {
        char m[128];
        snprintf(m, sizeof m, "... and %" PRId64 " more files failed to %s", o->n_failed - RECOVERY_MAX_MESSAGES, verb);
        json_array_append_new(o->messages, json_string(m));
    }
}

/* ---------- progress ---------- */

void recovery_set_live(struct recovery_exec *x, const struct cat_recovery_stats *st)
{
    job_lock(x->j);
    x->live.st = *st;
    job_unlock(x->j);
}

int recovery_flush(struct job *j)
{
    struct recovery_live *l;
    struct cat_recovery_stats st;
    char tenant[sizeof j->tenant], id[sizeof j->id];
    int have = 0;
    job_lock(j); /* the job's identity too: the worker may move on to another job once unlocked */
    if ((l = j->state) != NULL) {
        st = l->st;
        memcpy(tenant, j->tenant, sizeof tenant);
        memcpy(id, j->id, sizeof id);
        have = 1;
    }
    job_unlock(j);
    if (!have) return 0;
    return cat_recovery_progress(job_cat(j), tenant, id, job_pool_owner(j->pool), &st, NULL);
}

/* ---------- one recovery ---------- */

static int record_end(struct recovery_exec *x, const char *status)
{
    struct cat *cat = job_cat(x->j);
    const struct cat_recovery *r = x->r;
    int rc = cat_recovery_finish(cat, r->tenant, r->id, status, x->o.messages, x->o.file_errors, &x->tot,
                                 x->archive_bytes, util_time_now());
    if (rc != 0 && (rc == -ENOSPC || cat_last_error() == -ENOSPC) && cat_reserve_release(cat))
        rc = cat_recovery_finish(cat, r->tenant, r->id, status, x->o.messages, x->o.file_errors, &x->tot,
                                 x->archive_bytes, util_time_now()); /* a full disk: with the reserve's space */
    return rc;
}

void recovery_job_run(struct job *j, recovery_body_fn body, const char *verb)
{
    const struct cat_recovery *r = j->row;
    struct sched *s = job_ctx(j);
    struct recovery_exec x = { .j = j, .r = r, .archive_bytes = -1,
                               .o = { .messages = json_array(), .file_errors = json_array() } };
    enum mover_env env;
    char err[1024] = "";
    const char *status;
    int rc;

    int64_t t_start = util_time_mono();
    /* The heap is trimmed before and after a recovery (malloc_trim: free memory in every arena goes
     * back to the system): a restore then grows from what the daemon really holds, not from what the
     * backups before it left free, and gives its own buffers back when it ends (RSS figures in
     * docs/architecture.md, "Backup and restore speed"). */
    malloc_trim(0);
    job_set_state(j, &x.live);
    log_info("recovery %s (%s) of tenant %s started, %" PRId64 " ms after it was accepted", r->id, r->recovery_action,
             r->tenant, (util_time_now() - r->start_usecs) / 1000);
    for (int t = 0; s && t < s->recovery_delay_ms && !j->cancel; t += 20) usleep(20 * 1000);
    if (s && !j->cancel) (void)node_sync_before(s->nodes); /* several nodes: other nodes' index files */
    if (s && s->recovery_gate && access(s->recovery_gate, F_OK) == 0) { /* the test hook (sched.h) */
        log_info("recovery %s: held by the test gate (its index loaded)", r->id);
        for (int t = 0; t < 120000 && !j->cancel && access(s->recovery_gate, F_OK) == 0; t += 20) usleep(20 * 1000);
    }
    if (j->cancel) {
        rc = -ECANCELED;
    } else if (!job_repo(j)) {
        rc = -ENODEV;
        snprintf(err, sizeof err, "the repository is not available");
    } else if ((rc = job_recovery_spec_parse(r->request, &x.spec, err, sizeof err)) != 0) {
        /* err says why */
    } else if (mover_env_from_catalog(r->snapshot_environment, &env) != 0 || !(x.mover = mover_for(env))) {
        rc = -ENOTSUP;
        snprintf(err, sizeof err, "no data mover serves the snapshot's environment %s", r->snapshot_environment);
    } else {
        rc = body(&x, err, sizeof err);
    }
    job_set_state(j, NULL);

    outcome_summary(&x.o, verb);
    if (rc == -ECANCELED && job_user_canceled(j)) {
        status = "Canceled";
        json_array_append_new(x.o.messages, json_string("canceled on request"));
    } else if (rc == -ECANCELED) {
        status = "Failed";
        json_array_append_new(x.o.messages, json_string(job_lease_lost(j) ? "the recovery was taken away from this worker"
                                                                          : "interrupted by daemon shutdown"));
    } else if (rc != 0) {
        status = "Failed";
        json_array_append_new(x.o.messages, json_string(err[0] ? err : strerror(-rc)));
    } else if (x.o.n_failed > 0) {
        status = "SucceededWithWarning";
    } else {
        status = "Succeeded";
    }
    if (job_lease_lost(j)) {
        log_warn("recovery %s: the lease was lost; its new owner decides its status", r->id);
    } else {
        if (record_end(&x, status) != 0) log_error("recovery %s: cannot record its end (%s)", r->id, status);
        job_set_outcome(j, status, x.tot.bytes, 0, 1);
        log_info("recovery %s ended %s (%" PRId64 " files, %" PRId64 " bytes, %" PRId64 " failed) in %" PRId64 " ms", r->id,
                 status, x.tot.files, x.tot.bytes, x.o.n_failed, (util_time_mono() - t_start) / 1000);
    }
    job_recovery_spec_release(&x.spec);
    json_decref(x.o.messages);
    json_decref(x.o.file_errors);
    malloc_trim(0);
}

/* ---------- the recoveries queue ---------- */

static int rec_lease_next(struct cat *cat, const char *owner, int64_t lease_until, struct job *j)
{
    struct cat_recovery *r = calloc(1, sizeof *r);
    int rc;
    if (!r) return -ENOMEM;
    rc = cat_recovery_lease_next(cat, owner, lease_until, r);
    if (rc != 0) {
        free(r);
        return rc;
    }
    j->row = r;
    snprintf(j->kind_name, sizeof j->kind_name, "%s", r->kind);
    snprintf(j->tenant, sizeof j->tenant, "%s", r->tenant);
    snprintf(j->id, sizeof j->id, "%s", r->id);
    j->start_usecs = 0;
    return 0;
}

static int rec_renew(struct cat *cat, const struct job *j, const char *owner, int64_t lease_until, int *cancel)
{
    return cat_recovery_renew(cat, j->tenant, j->id, owner, lease_until, cancel);
}

static int rec_check(struct cat *cat, const struct job *j, const char *owner, int *cancel)
{
    return cat_recovery_check(cat, j->tenant, j->id, owner, cancel);
}

static int rec_fail(struct cat *cat, const struct job *j, const char *message, int64_t now)
{
    json_t *m = json_pack("[s]", message);
    struct cat_recovery_stats st = { 0 };
    int rc = cat_recovery_finish(cat, j->tenant, j->id, "Failed", m, NULL, &st, -1, now);
    json_decref(m);
    return rc;
}

static void rec_release(struct job *j)
{
    if (!j->row) return;
    cat_recovery_release(j->row);
    free(j->row);
}

const struct job_queue job_queue_recoveries = {
    .noun = "recovery",
    .lease_next = rec_lease_next,
    .renew = rec_renew,
    .check = rec_check,
    .fail_running = cat_recovery_fail_running,
    .fail = rec_fail,
    .release = rec_release,
};
