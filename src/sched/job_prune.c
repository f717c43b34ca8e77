/* job_prune.c: the daemon's prune runner (job_prune.h): the maintenance thread of maint.h runs the prune
 * requested through the API or queued by the schedule after a retention pass, one at a time.
 *
 * Before calling repo_prune it collects the snapshot documents the repository still holds but the
 * catalog marked deleted (svc_snapshot_delete deletes the catalog row first and then the document;
 * a crash in between leaves the document), and hands them to repo_prune to forget first. A document
 * the catalog does not know is kept (it may be a backup whose catalog row is being written). */
#include "sched/job_prune.h"
#include "sched/maint.h"
#include "sched/sched_int.h"
#include "catalog/cat_snapshot.h"
#include "catalog/cat_nodes.h"
#include "sched/job.h"
#include "svc/audit.h"
#include "util/log.h"
#include "util/thread.h"
#include "util/time.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct prune_runner {
    struct prune_runner_config cfg;
    struct maint *m;          /* the thread, the runs and the cancel flag (maint.h) */
    volatile int *cancel;     /* maint_cancel_flag(m) */
};

/* catalog_deleted: the snapshot documents whose catalog rows are deleted; *out is a malloc'd array
 * of malloc'd ids. */
static int catalog_deleted(struct prune_runner *r, char ***out, size_t *n)
{
    json_t *ids = NULL, *v;
    char **list;
    size_t i, k = 0;
    int rc = repo_snapshot_list(r->cfg.repo, &ids);
    *out = NULL;
    *n = 0;
    if (rc < 0) return rc;
    if (!(list = calloc(json_array_size(ids) + 1, sizeof *list))) {
        json_decref(ids);
        return -ENOMEM;
    }
    json_array_foreach(ids, i, v) {
        const char *sid = json_string_value(v), *tenant;
        json_t *doc = NULL;
        struct cat_snapshot cs;
        if (!sid || repo_snapshot_read(r->cfg.repo, sid, &doc) != 0) continue;
        tenant = json_string_value(json_object_get(doc, "tenant"));
        memset(&cs, 0, sizeof cs);
        if (tenant && r->cfg.cat && cat_snapshot_get(r->cfg.cat, tenant, sid, &cs) == 0) {
            if (cs.is_deleted && (list[k] = strdup(sid)) != NULL) k++;
            cat_snapshot_release(&cs);
        }
        json_decref(doc);
    }
    json_decref(ids);
    *out = list;
    *n = k;
    return 0;
}

/* ---- several nodes: the catalog's prune lease (job_prune.h) ---- */

struct lease_keeper {
    struct prune_runner *r;
    int64_t lease;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, lost;
};

static void *keeper_main(void *arg)
{
    struct lease_keeper *k = arg;
    util_thread_name("prune-lease");
    pthread_mutex_lock(&k->mu);
    while (!k->stop) {
        struct timespec ts;
        int rc;
        util_deadline_ms(&ts, k->lease / 3000);
        pthread_cond_timedwait(&k->cv, &k->mu, &ts);
        if (k->stop) break;
        pthread_mutex_unlock(&k->mu);
        rc = cat_repo_prune_renew(k->r->cfg.cat, k->r->cfg.node, util_time_real() + k->lease);
        pthread_mutex_lock(&k->mu);
        if (rc == CAT_NOT_FOUND) { /* taken over: this prune must not delete anything more */
            log_error("prune: the catalog's prune lease was taken over by another node; cancelling");
            k->lost = 1;
            *k->r->cancel = 1;
            break;
        }
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

static void nodes_end(struct prune_runner *r, struct lease_keeper *k);

/* nodes_begin: takes the lease, starts its keeper, waits for other nodes' backups, reloads the index.
 * 0, or a negative code with err set (the lease, if it was taken, is then given back). */
static int nodes_begin(struct prune_runner *r, struct lease_keeper *k, char *err, size_t errlen)
{
    const char *v = getenv("COFFER_PRUNE_WAIT_SECS");
    long wait_secs = v && *v ? strtol(v, NULL, 10) : 3600;
    char holder[160];
    int64_t n = 0, start = util_time_mono();
    int rc;
    if (wait_secs < 1 || wait_secs > 86400) wait_secs = 3600;
    memset(k, 0, sizeof *k);
    k->r = r;
    k->lease = r->cfg.lease_usecs > 0 ? r->cfg.lease_usecs : JOB_LEASE_USECS;
    rc = cat_repo_prune_acquire(r->cfg.cat, r->cfg.node, util_time_real(), util_time_real() + k->lease, holder,
                                sizeof holder);
    if (rc == -EBUSY) {
        snprintf(err, errlen, "another node (%s) is pruning the repository", holder[0] ? holder : "?");
        return rc;
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot take the catalog's prune lease");
        return -EIO;
    }
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    if (pthread_create(&k->thread, NULL, keeper_main, k) != 0) {
        pthread_mutex_destroy(&k->mu);
        pthread_cond_destroy(&k->cv);
        (void)cat_repo_prune_release(r->cfg.cat, r->cfg.node);
        snprintf(err, errlen, "cannot start the prune lease's keeper");
        return -EAGAIN;
    }
    /* No other node starts a backup now; wait for those that started before (their writers may rely on
     * any blob, and R2 of section 15.3 only waits for this process's writers). */
    for (;;) {
        rc = cat_run_count_running_elsewhere(r->cfg.cat, r->cfg.node, util_time_real(), &n);
        if (rc != 0 || n == 0 || *r->cancel) break;
        if (util_time_mono() - start > (int64_t)wait_secs * 1000000) {
            rc = -ETIMEDOUT;
            break;
        }
        usleep(500 * 1000);
    }
    if (rc == 0 && *r->cancel) rc = -ECANCELED;
    if (rc == 0) {
        for (int tries = 0; tries < 50; tries++) { /* -EBUSY: a verify of this process holds maint_mu */
            rc = repo_index_refresh(r->cfg.repo, NULL);
            if (rc != -EBUSY || *r->cancel) break;
            usleep(200 * 1000);
        }
    }
    if (rc != 0) {
        snprintf(err, errlen, rc == -ETIMEDOUT ? "backups of other nodes were still running after %ld s"
                              : rc == -ECANCELED ? "canceled"
                              : "cannot wait for other nodes' backups or reload their index files (%ld)",
                 rc == -ETIMEDOUT ? wait_secs : (long)rc);
        nodes_end(r, k);
        return rc < 0 ? rc : -EIO;
    }
    log_info("prune: holds the catalog's prune lease; no backup of another node runs");
    return 0;
}

static void nodes_end(struct prune_runner *r, struct lease_keeper *k)
{
    pthread_mutex_lock(&k->mu);
    k->stop = 1;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thread, NULL);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    if (!k->lost && cat_repo_prune_release(r->cfg.cat, r->cfg.node) != 0)
        log_warn("prune: cannot give the catalog's prune lease back; it expires by itself");
}

static void run_one(struct prune_runner *r, struct prune_run *run)
{
    struct repo_prune_opts o = { .dry_run = run->dry_run, .cancel = r->cancel };
    char **forget = NULL, err[512] = "";
    size_t nf = 0;
    struct lease_keeper keeper;
    int shared = r->cfg.cat && r->cfg.node && cat_shared(r->cfg.cat), rc = 0;
    if (shared && (rc = nodes_begin(r, &keeper, err, sizeof err)) != 0) {
        run->state = PRUNE_FAILED;
        snprintf(run->message, sizeof run->message, "%s", err);
        log_error("prune %lld failed: %s", (long long)run->id, run->message);
        return; /* nodes_begin gave the lease back */
    }
    rc = catalog_deleted(r, &forget, &nf);
    if (rc == 0) {
        o.forget = (const char *const *)forget;
        o.n_forget = nf;
        rc = repo_prune(r->cfg.repo, &o, &run->report, err, sizeof err);
    } else {
        snprintf(err, sizeof err, "cannot list the repository's snapshots: %s", strerror(-rc));
    }
    for (size_t k = 0; k < nf; k++) free(forget[k]);
    free(forget);
    if (shared) nodes_end(r, &keeper);
    run->state = rc == 0 ? PRUNE_SUCCEEDED : PRUNE_FAILED;
    if (rc != 0) {
        snprintf(run->message, sizeof run->message, "%s", err[0] ? err : strerror(-rc));
        log_error("prune %lld failed: %s", (long long)run->id, run->message);
    }
}

/* audit_scheduled: a scheduled prune's end in the audit log (actor "scheduler"; one asked through
 * the API is recorded there, by its POST). */
static void audit_scheduled(struct prune_runner *r, const struct prune_run *run)
{
    char id[32];
    json_t *d = json_pack("{s:b, s:I, s:I, s:I, s:o}", "dry_run", run->dry_run,
                          "snapshots_forgotten", (json_int_t)run->report.snapshots_forgotten,
                          "packs_deleted", (json_int_t)run->report.packs_deleted,
                          "bytes_freed", (json_int_t)run->report.bytes_freed,
                          "message", run->state == PRUNE_SUCCEEDED ? json_null() : json_string(run->message));
    char *detail = d ? json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    struct svc_audit_event ev = { .actor = "scheduler", .method = "PRUNE", .resource_id = id,
                                  .status = run->state == PRUNE_SUCCEEDED ? 200 : 500, .detail = detail };
    snprintf(id, sizeof id, "%lld", (long long)run->id);
    if (r->cfg.cat) (void)svc_audit_record(r->cfg.cat, &ev);
    free(detail);
    json_decref(d);
}

/* prune_work: the work hook of the maintenance runner (maint.h). */
static void prune_work(void *owner, struct maint *m, struct maint_run *head)
{
    struct prune_runner *r = owner;
    struct prune_run *run = (struct prune_run *)head;
    (void)m;
    run_one(r, run);
    if (run->scheduled) audit_scheduled(r, run);
}

static const struct maint_kind prune_kind = { .name = "prune", .run_size = sizeof(struct prune_run),
                                              .work = prune_work };

int prune_runner_start(const struct prune_runner_config *cfg, struct prune_runner **out)
{
    struct prune_runner *r = calloc(1, sizeof *r);
    int rc;
    *out = NULL;
    if (!r) return -ENOMEM;
    r->cfg = *cfg;
    if ((rc = maint_start(&prune_kind, r, cfg->interval_usecs, &r->m)) != 0) {
        free(r);
        return rc;
    }
    r->cancel = maint_cancel_flag(r->m);
    *out = r;
    return 0;
}

void prune_runner_stop(struct prune_runner *r)
{
    if (!r) return;
    maint_stop(r->m);
    free(r);
}

void prune_runner_after_retention(struct prune_runner *r, int64_t real)
{
    struct prune_run proto = { .dry_run = 0 };
    if (r) maint_tick(r->m, real, &proto.head);
}

int sched_prune_request(struct sched *s, int dry_run, int64_t *id)
{
    struct prune_run proto = { .dry_run = dry_run };
    if (!s || !s->prune || !s->prune->cfg.repo) return -ENODEV;
    return maint_request(s->prune->m, &proto.head, id);
}

int sched_prune_status(struct sched *s, struct prune_status *out)
{
    return prune_runner_peek(s ? s->prune : NULL, out);
}

int prune_runner_peek(struct prune_runner *r, struct prune_status *out)
{
    memset(out, 0, sizeof *out);
    if (!r) return -ENODEV;
    maint_peek(r->m, &out->current.head, &out->has_current, &out->last.head, &out->has_last, &out->interval_usecs,
               &out->next_usecs);
    return 0;
}
