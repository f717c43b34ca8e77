/* job_backup.c: the backup run kind and the runs queue (job.h): lease a queued run, back up each of
 * its group's objects with the mover of the group's environment (mover.h), record every result,
 * finish the run.
 *
 * For a file-level group each object (or the run's requested subset) is backed up from its include
 * paths and excludes plus the group's global excludes (from the group's typed spec, sched/spec.h,
 * never from its wire document); an object without include paths is backed up whole (its path: "/" for a host, the mount
 * point for a volume). A kRegular run gives the mover the object's newest snapshot from this group as
 * parent (unchanged files are not read again); a kFull run and the first run read everything.
 *
 * A kSQL group's run takes the SQL path instead (job_backup_sql.c): one snapshot per instance.
 *
 * Order of commits: the mover makes the snapshot durable in the repository, then one catalog
 * transaction inserts the snapshot row and the object's result; the run's final status comes last.
 * A crash in between leaves a repository snapshot the catalog does not know (harmless; the next run
 * reuses its data) and never a catalog row without its snapshot.
 *
 * Progress: the mover's callback copies its counters into the run's live state (under the job lock);
 * the core's monitor calls backup_flush twice a second, which writes them. The percentage comes from
 * an estimate of the object's size: the sizes of its newest snapshot, or for a first backup a walk
 * of the include paths (bounded in time) on a thread beside the backup.
 *
 * Shutdown: a run stopped by the daemon's stop is queued again (its finished objects are kept; the
 * data it wrote is reused by dedup on the next attempt). Disk full: when the mover fails (a full
 * disk, say), the repository is flushed at once, so the complete part of the open pack is sealed and
 * kept or, when even that cannot be written, the temporary pack is removed. A result the catalog
 * refuses with -ENOSPC is retried after releasing the catalog's space reserve (cat.h); the run's end
 * is retried with a growing pause (up to 10 s) until it is recorded, the daemon stops or the run is
 * taken away, so a run never stays Running without a worker. A pack seal that fails (a full disk)
 * voids the snapshots of the backups writing at that moment (repo_write_epoch); runs that start
 * after it write at once.
 *
 * The policy's asks (docs/architecture.md "Retention the policy asks for"): a successful run's end
 * applies extendedRetention (gfs_promote, sched/gfs.h); a Failed attempt with retries left waits in
 * the queue for its interval (retry_later, cat_run_retry); a pause request stops the mover at a
 * checkpoint snapshot and the run becomes Paused (cat_run_pause), its objects resuming from their
 * checkpoints later. */
#include "sched/sched_int.h"
#include "sched/job_backup_int.h"
#include "sched/nodes.h"
#include "catalog/cat_agent.h"
#include "catalog/cat_group.h"
#include "catalog/cat_snapshot.h"
#include "catalog/cat_source.h"
#include "engine/mover.h"
#include "engine/remote.h"
#include "repo/repo.h"
#include "svc/svc.h"
#include "sched/gfs.h"
#include "sched/spec.h"
#include "util/log.h"
#include "util/thread.h"
#include "util/time.h"
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#define PREWALK_MAX_USECS (3LL * 1000000)
#define PREWALK_MAX_ENTRIES 2000000


/* ---------- size estimate ---------- */

struct prewalk {
    const char *const *excludes;
    size_t n_ex;
    int64_t files, bytes, entries, deadline;
    int aborted;
    const atomic_int *stop; /* set when the backup ended first: the estimate is no longer wanted */
};
static _Thread_local struct prewalk *tl_walk;

static int excluded_prefix(const struct prewalk *w, const char *path)
{
    for (size_t i = 0; i < w->n_ex; i++) {
        const char *e = w->excludes[i];
        size_t n = strlen(e);
        if (strpbrk(e, "*?[")) continue; /* globs are the mover's business; the estimate ignores them */
        while (n > 1 && e[n - 1] == '/') n--;
        if (strncmp(path, e, n) == 0 && (path[n] == '\0' || path[n] == '/')) return 1;
    }
    return 0;
}

static int prewalk_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    struct prewalk *w = tl_walk;
    (void)ftw;
    if (atomic_load(w->stop) ||
        ((++w->entries & 1023) == 0 && (util_time_real() > w->deadline || w->entries > PREWALK_MAX_ENTRIES))) {
        w->aborted = 1;
        return FTW_STOP;
    }
    if (excluded_prefix(w, path)) return type == FTW_D ? FTW_SKIP_SUBTREE : FTW_CONTINUE;
    if (type == FTW_F && S_ISREG(st->st_mode)) {
        w->files++;
        w->bytes += st->st_size;
    }
    return FTW_CONTINUE;
}

/* estimate: files and bytes under the include paths; -1 each when the walk was cut short. */
static void estimate(const char *const *incs, size_t n_inc, const char *const *excs, size_t n_ex,
                     const atomic_int *stop, int64_t *files, int64_t *bytes)
{
    struct prewalk w = { .excludes = excs, .n_ex = n_ex, .deadline = util_time_real() + PREWALK_MAX_USECS,
                         .stop = stop };
    tl_walk = &w;
    for (size_t i = 0; i < n_inc && !w.aborted; i++)
        if (nftw(incs[i], prewalk_cb, 32, FTW_PHYS | FTW_ACTIONRETVAL) == -1 && errno != ENOENT) break;
    tl_walk = NULL;
    *files = w.aborted ? -1 : w.files;
    *bytes = w.aborted ? -1 : w.bytes;
}

/* The estimate runs on its own thread beside the backup (a first backup has no earlier snapshot to
 * size it): walking the tree first would delay the backup by a cold walk of every directory. When it
 * finishes it publishes the totals the progress percentage divides by; if the backup ends first it
 * is told to stop. */
struct estimate_job {
    struct backup_run *b;
    const char *const *incs, *const *excs;
    size_t n_inc, n_ex;
    atomic_int stop;
    pthread_t thread;
};

static void *estimate_main(void *arg)
{
    struct estimate_job *e = arg;
    int64_t files, bytes;
    util_thread_name("bk-estimate");
    estimate(e->incs, e->n_inc, e->excs, e->n_ex, &e->stop, &files, &bytes);
    job_lock(e->b->j);
    if (e->b->live.has_obj && files >= 0 && !atomic_load(&e->stop)) {
        e->b->live.obj.files_total = files;
        e->b->live.obj.bytes_total = bytes;
        e->b->live.obj.walk_done = 1;
        e->b->live.dirty = 1;
    }
    job_unlock(e->b->j);
    return NULL;
}

/* estimate_start: the estimate thread, or NULL when it cannot start (the run goes on without). */
static struct estimate_job *estimate_start(struct backup_run *b, const char *const *incs, size_t n_inc,
                                           const char *const *excs, size_t n_ex)
{
    struct estimate_job *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    *e = (struct estimate_job){ .b = b, .incs = incs, .excs = excs, .n_inc = n_inc, .n_ex = n_ex };
    atomic_init(&e->stop, 0);
    if (pthread_create(&e->thread, NULL, estimate_main, e) != 0) {
        free(e);
        return NULL;
    }
    return e;
}

static void estimate_stop(struct estimate_job *e)
{
    if (!e) return;
    atomic_store(&e->stop, 1);
    pthread_join(e->thread, NULL);
    free(e);
}

/* ---------- mover callbacks and progress ---------- */


/* fail_marked: the COFFER_TEST_FAIL_MARK hook: whether an include directory holds the marker entry. */
static int fail_marked(const struct sched *s, const char **inc, size_t n)
{
    char p[4096];
    struct stat st;
    if (!s->fail_mark) return 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", inc[i], s->fail_mark);
        if (lstat(p, &st) == 0) return 1;
    }
    return 0;
}

static void on_before_open(void *ctx, const char *path)
{
    struct sched *s = ctx;
    if (s->slow_open_ms > 0) {
        struct timespec ts = { s->slow_open_ms / 1000, (long)(s->slow_open_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (s->vanish && strstr(path, s->vanish)) unlink(path);
}

/* backup_flush: the monitor's progress write (job_kind.flush). */
static int backup_flush(struct job *j)
{
    struct backup_live *l;
    struct cat_run_object o;
    char tenant[sizeof j->tenant], group[sizeof j->id];
    int64_t start = 0;
    int has = 0;
    job_lock(j); /* the job's identity too: the worker may move on to another job once unlocked */
    l = j->state;
    if (l && l->has_obj && l->dirty) {
        has = 1;
        o = l->obj;
        l->dirty = 0;
        memcpy(tenant, j->tenant, sizeof tenant);
        memcpy(group, j->id, sizeof group);
        start = j->start_usecs;
    }
    job_unlock(j);
    return has ? cat_run_object_progress(job_cat(j), tenant, group, start, &o) : 0;
}


/* ---------- results ---------- */


/* c_strings: the strings of a JSON array as a borrowed vector (free the vector only). */
static const char **c_strings(json_t *arr, size_t *n)
{
    const char **v = calloc(json_array_size(arr) + 1, sizeof *v);
    size_t i;
    json_t *x;
    *n = 0;
    if (!v) return NULL;
    json_array_foreach(arr, i, x) v[(*n)++] = json_string_value(x);
    return v;
}


/* ---------- one object ---------- */

/* object_register: reads the catalog's object (*have: whether it is registered) and records the run's
 * row for it. 0, or <0 when the row cannot be recorded. */
static int object_register(struct backup_run *b, int64_t id, const struct spec_object *so, struct cat_object *co, int *have,
                           struct cat_run_object *o)
{
    const struct cat_run *run = b->run;
    struct cat *cat = job_cat(b->j);
    int rc;
    o->object_id = id;
    o->files_total = o->bytes_total = -1;
    o->environment = (char *)mover_env_catalog_name(b->env);
    *have = cat_object_get(cat, run->tenant, id, co) == 0;
    o->object_name = *have ? co->name : so->name;
    o->source_id = *have ? co->source_id : 0;
    o->source_name = *have ? co->source_name : NULL;
    o->object_type = *have ? co->object_type : NULL;
    rc = cat_run_object_add(cat, run->tenant, run->group_id, run->start_usecs, o);
    o->object_name = o->source_name = o->object_type = o->environment = NULL; /* borrowed above; not freed */
    return rc;
}

/* remote_connector: the connector id (malloc'd) of the registered coffer-agent that serves the
 * object's host (its source's endpoint is the agent's host name or address), or NULL when the object
 * is not a remote agent's (the remote mover, engine/remote.h, then backs it up through that agent). */
static char *remote_connector(struct backup_run *b, int have, const struct cat_object *co)
{
    struct cat *cat = job_cat(b->j);
    struct cat_source s;
    struct cat_agent a;
    char *conn = NULL;
    if (!have || co->agent != CAT_AGENT_REMOTE || cat_source_get(cat, b->run->tenant, co->source_id, &s) != 0)
        return NULL;
    if (s.endpoint_key && cat_agent_for_host(cat, b->run->tenant, s.endpoint_key, &a) == 0) {
        conn = strdup(a.connector_id);
        cat_agent_release(&a);
    }
    cat_source_release(&s);
    return conn;
}

/* object_unreachable: why the object cannot be backed up now (msg filled, 1), or 0 when it can
 * (remote: a coffer-agent serves its host). */
static int object_unreachable(struct backup_run *b, int64_t id, int have, const struct cat_object *co, int remote,
                              char *msg, size_t len)
{
    if (!have) {
        snprintf(msg, len, "object %" PRId64 " is not a registered object of this tenant", id);
        return 1;
    }
    if (co->is_deleted || (!remote && cat_object_is_local(job_cat(b->j), b->run->tenant, id) != 1)) {
        snprintf(msg, len, "object %" PRId64 " (%s): %s", id, co->name ? co->name : "?",
                 co->is_deleted ? "it was not found at the last refresh of its source"
                                : "no agent can reach its host (it is not this machine, and no registered "
                                  "coffer-agent serves it)");
        return 1;
    }
    return 0;
}

/* object_paths: the include and exclude paths (JSON string arrays filled); 0, or 1 with msg when an
 * include path is not absolute. */
static int object_paths(const struct spec_object *so, const struct spec_group *gs, const struct cat_object *co,
                        int64_t id, json_t *incs, json_t *excs, char *msg, size_t len)
{
    size_t i;
    json_t *v;
    for (size_t k = 0; k < so->npaths; k++) {
        json_array_append_new(incs, json_string(so->paths[k].include));
        for (size_t e = 0; e < so->paths[k].nexcludes; e++) json_array_append_new(excs, json_string(so->paths[k].excludes[e]));
    }
    if (json_array_size(incs) == 0) json_array_append_new(incs, json_string(co->path && *co->path ? co->path : "/"));
    for (size_t e = 0; e < gs->nexcludes; e++) json_array_append_new(excs, json_string(gs->excludes[e]));
    json_array_foreach(incs, i, v) {
        if (json_string_value(v)[0] != '/') {
            snprintf(msg, len, "object %" PRId64 " (%s): includedPath '%s' is not an absolute path", id, co->name,
                     json_string_value(v));
            return 1;
        }
    }
    return 0;
}

/* object_parent: the object's newest snapshot of this group sizes the estimate (o's totals) and, for
 * a kRegular run, is the parent (*parent, malloc'd) whose unchanged files are not read again. */
static void object_parent(struct backup_run *b, int64_t id, struct cat_run_object *o, char **parent)
{
    struct cat *cat = job_cat(b->j);
    char *latest = NULL;
    if (cat_snapshot_latest(cat, b->run->tenant, b->run->group_id, id, &latest) == 0) {
        struct cat_snapshot ls;
        if (cat_snapshot_get(cat, b->run->tenant, latest, &ls) == 0) {
            o->files_total = ls.files;
            o->bytes_total = ls.logical_bytes;
            cat_snapshot_release(&ls);
        }
        if (strcmp(b->run->run_type, "kRegular") == 0) *parent = latest, latest = NULL;
    }
    free(latest);
}

/* ---------- pause checkpoints ---------- */

static void cp_key(int64_t id, char *buf, size_t len)
{
    snprintf(buf, len, "%" PRId64, id);
}

/* checkpoint_forget: a checkpoint snapshot no longer needed (a later snapshot holds its content)
 * leaves the repository; a failure only leaves its document (prune keeps its blobs). */
static void checkpoint_forget(struct backup_run *b, const char *id)
{
    int rc = job_repo(b->j) ? repo_snapshot_forget(job_repo(b->j), id) : -ENODEV;
    if (rc != 0)
        log_warn("run %s: checkpoint %s could not be forgotten (%s); its document stays", b->run_id, id, strerror(-rc));
}

/* object_succeeded: records the snapshot row and the object's result (one transaction). */
static void object_succeeded(struct backup_run *b, const struct cat_object *co, struct cat_run_object *o,
                             const struct eng_backup_result *res, const char *parent, struct run_tally *t)
{
    const struct cat_run *run = b->run;
    size_t i, nw = json_array_size(res->warnings);
    json_t *v;
    struct cat_snapshot snap = {
        .tenant = run->tenant, .id = (char *)res->snapshot_id, .object_id = o->object_id, .object_name = co->name,
        .source_id = co->source_id, .environment = (char *)mover_env_catalog_name(b->env), .group_id = run->group_id,
        .group_name = b->g->name, .group_seq = run->group_seq, .run_usecs = run->start_usecs,
        .instance_id = run->instance_id, .run_type = run->run_type, .snapshot_usecs = o->begin_usecs,
        .end_usecs = util_time_now(), .logical_bytes = o->logical_bytes, .bytes_read = o->bytes_read,
        .bytes_written = o->bytes_written, .files = o->files, .dirs = o->dirs, .parent_id = (char *)parent,
        .expiry_usecs = run->expiry_usecs, .on_legal_hold = run->on_legal_hold,
    };
    snap.status = nw ? "kWarning" : "kSuccessful";
    if (nw) {
        o->warnings = json_array();
        json_array_foreach(res->warnings, i, v) {
            char line[1200];
            snprintf(line, sizeof line, "%s: %s", json_string_value(json_object_get(v, "path")),
                     json_string_value(json_object_get(v, "message")));
            if (json_array_size(o->warnings) < 1000) json_array_append_new(o->warnings, json_string(line));
            backup_add_message(t, "object %" PRId64 " (%s): %s", o->object_id, co->name, line);
        }
    }
    o->snapshot_id = strdup(res->snapshot_id);
    backup_finish_object(b, o, snap.status, NULL, &snap, t);
    log_info("run %s of group %s: object %" PRId64 " backed up as snapshot %.16s (files %" PRId64 ", read %" PRId64
             " bytes, added %" PRId64 " bytes, %zu warnings)", b->run_id, run->group_id, o->object_id,
             res->snapshot_id, o->files, o->bytes_read, o->bytes_written, nw);
}

/* object_failed: the mover failed (not cancelled): seal what is complete of the open pack (kept:
 * the next backup reuses it), or remove the temporary pack when that cannot be written either. */
static void object_failed(struct backup_run *b, const struct cat_object *co, struct cat_run_object *o, int rc,
                          const char *err, struct run_tally *t)
{
    char msg[1024];
    if (job_repo(b->j)) {
        int frc = repo_flush(job_repo(b->j));
        if (frc != 0)
            log_warn("run %s of group %s: after the failure, the open pack could not be kept: %s", b->run_id,
                     b->run->group_id, strerror(-frc));
    }
    snprintf(msg, sizeof msg, "object %" PRId64 " (%s): backup failed: %s%s", o->object_id, co->name,
             err[0] ? err : strerror(-rc), rc == -ENOSPC && !strstr(err, "No space") ? " (No space left on device)" : "");
    backup_object_fail(b, o, msg, t);
}

static void backup_object(struct backup_run *b, const struct spec_object *so, const struct spec_group *gs,
                          struct run_tally *t)
{
    const struct cat_run *run = b->run;
    struct job *j = b->j;
    struct cat_object co = { 0 };
    struct cat_run_object o = { 0 };
    struct eng_backup_opts opts = { 0 };
    struct estimate_job *est = NULL;
    struct eng_backup_result res = { 0 };
    json_t *incs = json_array(), *excs = json_array(), *meta = NULL;
    const char **inc_v = NULL, **exc_v = NULL;
    char *parent = NULL, err[512] = "", msg[1024], cpk[24], *conn = NULL;
    const struct mover *mover = b->mover;
    const char *checkpoint = NULL;
    int64_t id = so->id;
    int rc, have_obj = 0;
    size_t n_inc = 0, n_exc = 0;

    if (object_register(b, id, so, &co, &have_obj, &o) != 0) {
        t->failed++;
        backup_add_message(t, "object %" PRId64 ": cannot record it in the catalog", id);
        goto out;
    }
    conn = remote_connector(b, have_obj, &co);
    if (object_unreachable(b, id, have_obj, &co, conn != NULL, msg, sizeof msg) ||
        object_paths(so, gs, &co, id, incs, excs, msg, sizeof msg)) {
        backup_object_fail(b, &o, msg, t);
        goto out;
    }
    inc_v = c_strings(incs, &n_inc);
    exc_v = c_strings(excs, &n_exc);
    if (!inc_v || !exc_v) {
        backup_finish_object(b, &o, "kFailed", "out of memory", NULL, t);
        goto out;
    }
    object_parent(b, id, &o, &parent);
    o.begin_usecs = util_time_now();
    o.walk_done = o.files_total >= 0;
    backup_publish(b, &o, 1);
    if (o.files_total < 0 && !conn) est = estimate_start(b, inc_v, n_inc, exc_v, n_exc); /* local paths only */

    /* The snapshot document's tags, in Coffer's names (docs/repository-format.md). */
    meta = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s}", "tenant", run->tenant, "group_id", run->group_id,
                     "group_name", b->g->name, "run_id", b->run_id, "run_type", run->run_type, "object_id",
                     (json_int_t)id, "object_name", co.name ? co.name : "", "environment",
                     mover_env_catalog_name(b->env));
    if (conn && meta) { /* the host is a coffer-agent's: the remote mover backs it up through that agent */
        json_object_set_new(meta, ENG_REMOTE_META_CONNECTOR, json_string(conn));
        mover = &mover_remote;
    }
    opts.include_paths = inc_v;
    opts.n_include = n_inc;
    opts.exclude_paths = exc_v;
    opts.n_exclude = n_exc;
    /* A resumed run's object starts from its checkpoint: what the paused attempt stored is not read
     * again (the catalog's parent stays the group's latest snapshot). */
    cp_key(id, cpk, sizeof cpk);
    checkpoint = json_string_value(json_object_get(t->checkpoints, cpk));
    opts.parent_snapshot_id = checkpoint ? checkpoint : parent;
    opts.pause = &j->pause;
    opts.snapshot_meta = meta;
    opts.progress = backup_on_progress;
    opts.progress_ctx = b;
    opts.cancel = &j->cancel;
    opts.threads = 0;
    if (b->s->vanish || b->s->slow_open_ms > 0) {
        opts.on_before_open = on_before_open;
        opts.hook_ctx = b->s;
    }
    if (!job_repo(j)) {
        rc = -ENODEV;
        snprintf(err, sizeof err, "the repository is not available");
    } else if (fail_marked(b->s, inc_v, n_inc)) {
        rc = -EIO;
        snprintf(err, sizeof err, "injected failure (test hook COFFER_TEST_FAIL_MARK)");
    } else {
        int64_t t0 = util_time_mono();
        rc = mover->backup(job_repo(j), &opts, &res, err, sizeof err);
        log_info("run %s of group %s: object %" PRId64 ": the mover took %" PRId64 " ms (%" PRIu64 " files, %" PRIu64
                 " unchanged; reader in reads %" PRIu64 " ms, waiting for the workers %" PRIu64 " ms; workers idle %"
                 PRIu64 " ms; reader listing %" PRIu64 " ms, waiting for the listing ahead %" PRIu64 " ms; parent trees "
                 "loaded in %" PRIu64 " ms, trees stored in %" PRIu64 " ms; snapshot written in %" PRIu64 " ms)",
                 b->run_id, run->group_id, id, (util_time_mono() - t0) / 1000, res.files, res.files_unchanged,
                 res.read_usecs / 1000, res.batch_wait_usecs / 1000, res.worker_idle_usecs / 1000,
                 res.list_usecs / 1000, res.la_wait_usecs / 1000, res.tree_load_usecs / 1000,
                 res.tree_store_usecs / 1000, res.snapshot_usecs / 1000);
    }
    estimate_stop(est);
    backup_publish(b, NULL, 0);
    o.files = (int64_t)res.files;
    o.dirs = (int64_t)res.dirs;
    o.logical_bytes = (int64_t)res.logical_bytes;
    o.bytes_read = (int64_t)res.bytes_read;
    o.bytes_written = (int64_t)res.bytes_added;
    o.files_read = res.files >= res.files_unchanged ? (int64_t)(res.files - res.files_unchanged) : 0;
    if (rc == 0 && res.paused) {
        /* Paused: the snapshot is the object's checkpoint (the run's end records it); the one it
         * replaces is forgotten (this one holds all of it). */
        t->stop = 1;
        if (checkpoint) checkpoint_forget(b, checkpoint);
        json_object_set_new(t->checkpoints, cpk, json_string(res.snapshot_id));
        log_info("run %s of group %s: object %" PRId64 " paused after %" PRIu64 " files; checkpoint %s", b->run_id,
                 run->group_id, id, res.files, res.snapshot_id);
    } else if (rc == 0) {
        object_succeeded(b, &co, &o, &res, parent, t);
        if (checkpoint) {
            checkpoint_forget(b, checkpoint);
            json_object_del(t->checkpoints, cpk);
        }
    } else if (rc == -ECANCELED) {
        t->stop = 1;
        if (job_stopping(j) && !job_user_canceled(j)) {
            /* Requeued by the caller; this object's row is dropped with the requeue. */
        } else {
            backup_finish_object(b, &o, "kCanceled", job_lease_lost(j) ? "the run was taken away from this worker" : "canceled",
                          NULL, t);
        }
    } else {
        object_failed(b, &co, &o, rc, err, t);
    }
out:
    eng_backup_result_release(&res);
    cat_run_object_release(&o);
    if (have_obj) cat_object_release(&co);
    json_decref(incs);
    json_decref(excs);
    json_decref(meta);
    free(inc_v);
    free(exc_v);
    free(parent);
    free(conn);
}

/* ---------- one run ---------- */

/* record_end: cat_run_finish until it is recorded. On a full disk the catalog's reserve is released
 * first; then (and for other errors, for up to a minute) it is retried with a growing pause while the
 * daemon runs and the run is still ours. Returns what the last attempt returned. */
static int record_end(struct backup_run *b, const char *status, json_t *messages)
{
    struct cat *cat = job_cat(b->j);
    const struct cat_run *run = b->run;
    int64_t give_up = util_time_real() + 60LL * 1000000;
    int wait = 250, rc;
    for (;;) {
        rc = backup_disk_full(cat_run_finish(cat, run->tenant, run->group_id, run->start_usecs, status, messages,
                                      util_time_now()));
        if (rc == 0 || rc == CAT_NOT_FOUND) return rc;
        if (rc == -ENOSPC && cat_reserve_release(cat)) continue;
        if (job_stopping(b->j) || job_lease_lost(b->j) || (rc != -ENOSPC && util_time_real() > give_up)) return rc;
        log_warn("run %s of group %s: cannot record its end (%s) yet; retrying", b->run_id, run->group_id,
                 rc == -ENOSPC ? "No space left on device" : "catalog error");
        job_pause_ms(b->j, wait);
        if (wait < 10000) wait *= 2;
    }
}

static int id_in(json_t *arr, int64_t id)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_integer_value(v) == id) return 1;
    return 0;
}

/* backup_objects: every object of the group (or the run's subset) not finished by an earlier attempt. */
static void backup_objects(struct backup_run *b, const struct spec_group *gs, struct run_tally *t)
{
    struct cat_run_object *done = NULL;
    size_t ndone = 0, i;
    int considered = 0;
    /* A run queued again after a shutdown keeps the objects it already finished. */
    if (cat_run_objects(job_cat(b->j), b->run->tenant, b->run->group_id, b->run->start_usecs, &done, &ndone) != 0)
        ndone = 0;
    for (i = 0; i < ndone; i++) {
        const char *st = done[i].status;
        if (strcmp(st, "kSuccessful") == 0) t->ok++;
        else if (strcmp(st, "kWarning") == 0) t->warned++;
        else if (strcmp(st, "kCanceled") == 0) t->canceled++;
        else t->failed++;
    }
    for (i = 0; i < gs->nobjects; i++) {
        int64_t id = gs->objects[i].id;
        int skip = 0;
        if (b->run->objects && !id_in(b->run->objects, id)) continue;
        considered++;
        for (size_t k = 0; k < ndone; k++)
            if (done[k].object_id == id) skip = 1;
        if (skip) continue;
        if (t->stop || b->j->cancel || b->j->pause) {
            t->stop = 1;
            break;
        }
        backup_object(b, &gs->objects[i], gs, t);
    }
    if (considered == 0) {
        backup_add_message(t, "the protection group has no objects to back up");
        t->failed++;
    }
    for (i = 0; i < ndone; i++) cat_run_object_release(&done[i]);
    free(done);
}

/* ---------- extendedRetention (GFS, sched/gfs.h) ---------- */

struct gfs_hist {
    struct cat *cat;
    const struct cat_run *run;
};

static int gfs_nop(void *ud, const struct cat_run *r)
{
    (void)ud;
    (void)r;
    return 0;
}

/* gfs_count: the group's successful runs of the rule's run types started in [from, before). */
static int gfs_count(void *ud, const struct spec_ext *rule, int64_t from, int64_t before, int64_t *count)
{
    static const char *const types[][2] = { { "kRegular", "kFull" }, { "kRegular", NULL }, { "kFull", NULL },
                                            { "kLog", NULL } };
    const struct gfs_hist *h = ud;
    struct cat_run_filter f = { .start_from = from > 0 ? from : 0, .start_to = before - 1, .limit = 1 };
    int rc;
    f.statuses = json_pack("[s,s]", "Succeeded", "SucceededWithWarning");
    f.run_types = json_array();
    for (int k = 0; k < 2; k++)
        if (types[rule->run][k]) json_array_append_new(f.run_types, json_string(types[rule->run][k]));
    rc = cat_run_list(h->cat, h->run->tenant, h->run->group_id, &f, gfs_nop, NULL, count);
    json_decref(f.statuses);
    json_decref(f.run_types);
    return rc < 0 ? rc : 0;
}

/* gfs_promote: before a successful run's end is recorded, the extendedRetention rules of its policy
 * that promote it extend its snapshots' expiry (never shorten it); each promotion is a run message. */
static void gfs_promote(struct backup_run *b, const struct spec_group *gs, struct run_tally *t)
{
    struct cat *cat = job_cat(b->j);
    const struct cat_run *run = b->run;
    struct spec_policy p;
    struct gfs_hist h = { cat, run };
    char err[160], what[160];
    int64_t expiry;
    uint32_t promoted;
    if (!gs->policy_id || spec_policy_load(cat, run->tenant, gs->policy_id, &p, err, sizeof err) != 0 || p.next == 0)
        return;
    if (gfs_select(&p, run->run_type, run->start_usecs, run->expiry_usecs, gfs_count, &h, &expiry, &promoted) < 0)
        log_warn("run %s of group %s: extendedRetention: the catalog did not answer for every rule", b->run_id,
                 run->group_id);
    if (!promoted) return;
    for (size_t i = 0; i < p.next; i++) {
        if (!(promoted & (1u << i))) continue;
        gfs_describe(&p.ext[i], what, sizeof what);
        backup_add_message(t, "extendedRetention: %s", what);
    }
    if (expiry == run->expiry_usecs) return;
    if (cat_run_update_local(cat, run->tenant, run->group_id, run->start_usecs, -1, expiry, NULL, 0,
                             util_time_now()) != 0) {
        backup_add_message(t, "extendedRetention: the longer expiry could not be recorded (catalog error)");
        return;
    }
    log_info("run %s of group %s: extendedRetention keeps it until %" PRId64 " (was %" PRId64 ")", b->run_id,
             run->group_id, expiry, run->expiry_usecs);
}

/* policy_lock: a successful run's snapshots get the policy's data lock (dataLockConfig, or dataLock),
 * kept in the repository (svc_run_lock) and shown on the run. The lock covers the run's whole
 * retention, as a lock set through PUT runs does: it ends at the run's expiry (extendedRetention
 * included, which is why this comes after gfs_promote), and a dataLockConfig longer than that
 * extends the expiry to the lock's end (a locked snapshot cannot expire before it). */
static void policy_lock(struct backup_run *b, const struct spec_group *gs, struct run_tally *t)
{
    struct cat *cat = job_cat(b->j);
    const struct cat_run *run = b->run;
    struct spec_policy p;
    struct cat_run now;
    char err[160], msg[512];
    int64_t until, expiry;
    int mode;
    if (!gs->policy_id || !job_repo(b->j) || spec_policy_load(cat, run->tenant, gs->policy_id, &p, err, sizeof err) != 0 ||
        p.lock_mode == SPEC_LOCK_NONE || !(until = spec_policy_lock_until(&p, run->start_usecs)))
        return;
    if (cat_run_get(cat, run->tenant, run->group_id, run->start_usecs, &now) != 0) return;
    expiry = now.expiry_usecs;
    cat_run_release(&now);
    if (expiry == 0) return; /* kept without expiry: nothing to bound a lock by; PUT runs can lock it */
    if (expiry > until) until = expiry;
    mode = p.lock_mode == SPEC_LOCK_COMPLIANCE ? REPO_LOCK_COMPLIANCE : REPO_LOCK_ADMINISTRATIVE;
    if (svc_run_lock(cat, job_repo(b->j), run->tenant, run->group_id, run->start_usecs, mode, until, -1, 0, 0, msg,
                     sizeof msg) != 0) {
        backup_add_message(t, "dataLock: the policy's %s lock was not applied: %s", repo_lock_mode_name(mode), msg);
        return;
    }
    if (cat_run_update_local(cat, run->tenant, run->group_id, run->start_usecs, -1, until, repo_lock_mode_name(mode), 0,
                             util_time_now()) != 0)
        backup_add_message(t, "dataLock: the %s lock is in the repository but the catalog did not record it",
                           repo_lock_mode_name(mode));
}

/* ---------- retryOptions ---------- */

/* retry_later: a Failed attempt of a run whose policy allows more: the run waits in the queue for
 * retry_interval_min (the job core leases it again when due; no worker sleeps). 1 when queued again,
 * 0 when the run ends Failed (messages say after how many attempts). */
static int retry_later(struct backup_run *b, const struct spec_group *gs, struct run_tally *t)
{
    struct cat *cat = job_cat(b->j);
    const struct cat_run *run = b->run;
    struct spec_policy p;
    char err[160];
    int64_t at;
    int rc;
    if (!gs->policy_id || spec_policy_load(cat, run->tenant, gs->policy_id, &p, err, sizeof err) != 0 ||
        p.retries <= 0)
        return 0;
    if (run->attempt > p.retries) {
        backup_add_message(t, "attempt %" PRId64 " of %" PRId64 " failed: no retries left", run->attempt,
                           p.retries + 1);
        return 0;
    }
    at = util_time_now() + p.retry_interval_min * 60LL * 1000000;
    backup_add_message(t, "attempt %" PRId64 " of %" PRId64 " failed; the next attempt starts at %" PRId64
                          " (retryIntervalMins %" PRId64 ")",
                       run->attempt, p.retries + 1, at, p.retry_interval_min);
    rc = cat_run_retry(cat, run->tenant, run->group_id, run->start_usecs, at, t->messages);
    if (rc != 0) {
        log_warn("run %s of group %s: cannot queue its next attempt (%d); it ends Failed", b->run_id, run->group_id, rc);
        return 0;
    }
    log_info("run %s of group %s: attempt %" PRId64 " failed; retried at %" PRId64, b->run_id, run->group_id,
             run->attempt, at);
    return 1;
}

static void backup_run(struct job *j)
{
    const struct cat_run *run = j->row;
    struct cat *cat = job_cat(j);
    struct cat_group g = { 0 };
    struct backup_run b = { .j = j, .run = run, .g = &g, .s = job_ctx(j) };
    struct run_tally t = { .messages = json_array(),
                           .checkpoints = run->checkpoints ? json_deep_copy(run->checkpoints) : json_object() };
    struct spec_group gs = { 0 };
    char err[256] = "";
    const char *status;
    int rc;

    int64_t t_start = util_time_mono();
    snprintf(b.run_id, sizeof b.run_id, "%" PRId64 ":%" PRId64, run->group_seq, run->start_usecs);
    log_ctx_set("run", b.run_id); /* every line of this run carries its id (the job core clears it) */
    {
        /* Several nodes (nodes.h): while another node prunes, no backup starts here (leased just before
         * the prune took its lease: queued again; the prune waits for the runs it sees Running), and
         * the index files other nodes wrote are loaded before any deduplication. */
        char holder[160];
        if (node_prune_elsewhere(cat, job_pool_owner(j->pool), holder, sizeof holder)) {
            log_info("run %s of group %s: queued again while node %s prunes the repository", b.run_id,
                     run->group_id, holder);
            if (cat_run_requeue(cat, run->tenant, run->group_id, run->start_usecs,
                                "queued again: another node was pruning the repository") != 0)
                log_warn("run %s of group %s: cannot queue it again; housekeeping decides", b.run_id, run->group_id);
            goto out_early;
        }
        if (b.s) (void)node_sync_before(b.s->nodes);
    }
    log_info("run %s of group %s (tenant %s, %s) started", b.run_id, run->group_id, run->tenant, run->run_type);
    job_set_state(j, &b.live);
    rc = cat_group_get(cat, run->tenant, run->group_id, &g);
    if (rc != 0 || g.is_deleted) {
        backup_add_message(&t, "the protection group %s", rc == CAT_NOT_FOUND || rc == 0 ? "was deleted" : "cannot be read");
        t.failed++;
        goto finish;
    }
    rc = spec_group_load(cat, run->tenant, run->group_id, &gs, err, sizeof err);
    if (rc != 0) {
        backup_add_message(&t, "the protection group's settings cannot be read: %s",
                    rc == -ENODATA ? "they were stored before this version and could not be translated"
                    : err[0]        ? err
                                    : "catalog error");
        t.failed++;
        goto finish;
    }
    if (gs.env == SPEC_ENV_SQL && (gs.protection == SPEC_PROT_NATIVE || gs.protection == SPEC_PROT_FILE) &&
        (b.mover = mover_for(b.env = MOVER_ENV_SQL)) && b.mover->sql) {
        backup_sql_objects(&b, &gs, &t); /* job_backup_sql.c: one snapshot per instance */
        goto finish;
    }
    if (strcmp(run->run_type, "kLog") == 0) {
        backup_add_message(&t, "kLog runs exist only for kSQL protection groups");
        t.failed++;
        goto finish;
    }
    if (gs.env != SPEC_ENV_PHYSICAL || gs.protection != SPEC_PROT_FILE || !(b.mover = mover_for(b.env = MOVER_ENV_PHYSICAL))) {
        backup_add_message(&t, "only kPhysical groups with protectionType kFile and kSQL groups with kNative or kFile can be "
                               "backed up (this group: %s)",
                    g.environment);
        t.failed++;
        goto finish;
    }
    backup_objects(&b, &gs, &t);
finish:
    job_set_state(j, NULL);
    if (job_lease_lost(j)) {
        log_warn("run %s of group %s: the lease was lost; its new owner decides its status", b.run_id, run->group_id);
        goto out;
    }
    if (t.stop && job_stopping(j) && !job_user_canceled(j)) {
        cat_run_requeue(cat, run->tenant, run->group_id, run->start_usecs,
                        "interrupted by a daemon shutdown; queued again");
        log_info("run %s of group %s: interrupted by the shutdown, queued again", b.run_id, run->group_id);
        goto out;
    }
    if (j->pause && t.stop && !job_user_canceled(j) && !t.canceled) { /* something is left to do */
        rc = cat_run_pause(cat, run->tenant, run->group_id, run->start_usecs, t.checkpoints,
                           "paused by request: what was stored so far is kept; Resume continues from there");
        if (rc == 0) {
            log_info("run %s of group %s paused", b.run_id, run->group_id);
            goto out;
        }
        log_warn("run %s of group %s: cannot record the pause (%d); the run ends instead", b.run_id, run->group_id, rc);
    }
    if (job_user_canceled(j) || t.canceled) {
        status = "Canceled";
        backup_add_message(&t, "canceled by request");
    } else if (t.failed) {
        status = "Failed";
    } else if (t.warned) {
        status = "SucceededWithWarning";
    } else {
        status = "Succeeded";
    }
    if (strcmp(status, "Failed") == 0 && retry_later(&b, &gs, &t)) goto out;
    if (strncmp(status, "Succeeded", 9) == 0 && run->attempt > 1)
        backup_add_message(&t, "succeeded at attempt %" PRId64, run->attempt);
    if (strncmp(status, "Succeeded", 9) == 0) {
        gfs_promote(&b, &gs, &t);
        policy_lock(&b, &gs, &t);
    }
    rc = record_end(&b, status, t.messages);
    if (rc != 0 && rc != CAT_NOT_FOUND) {
        log_error("run %s of group %s: cannot record its end (%s): it stays Running until housekeeping fails it",
                  b.run_id, run->group_id, rc == -ENOSPC ? "No space left on device" : "catalog error");
        goto out;
    }
    log_info("run %s of group %s finished: %s (%d ok, %d with warnings, %d failed) in %" PRId64 " ms, %" PRId64
             " ms after it was queued", b.run_id, run->group_id, status, t.ok, t.warned, t.failed,
             (util_time_mono() - t_start) / 1000, (util_time_now() - run->start_usecs) / 1000);
    { /* the metrics (job.h): the run's totals as the catalog summed them */
        struct cat_run done = { 0 };
        if (cat_run_get(cat, run->tenant, run->group_id, run->start_usecs, &done) == 0) {
            job_set_outcome(j, status, done.bytes_read, done.bytes_written, 0);
            cat_run_release(&done);
        } else {
            job_set_outcome(j, status, 0, 0, 0);
        }
    }
out:
    if (b.s) node_sync_wrote(b.s->nodes); /* the run flushed index files: other nodes reload them */
out_early:
    spec_group_free(&gs);
    json_decref(t.messages);
    json_decref(t.checkpoints);
    cat_group_release(&g);
}

/* ---------- the runs queue ---------- */

static int runs_lease_next(struct cat *cat, const char *owner, int64_t lease_until, struct job *j)
{
    struct cat_run *r = calloc(1, sizeof *r);
    int rc;
    if (!r) return -ENOMEM;
    if (node_prune_elsewhere(cat, owner, NULL, 0)) { /* another node prunes: start no backup (nodes.h) */
        free(r);
        return CAT_NOT_FOUND;
    }
    rc = cat_run_lease_next_at(cat, owner, lease_until, util_time_now(), r); /* a retry waits for its time */
    if (rc != 0) {
        free(r);
        return rc;
    }
    j->row = r;
    snprintf(j->kind_name, sizeof j->kind_name, "backup");
    snprintf(j->tenant, sizeof j->tenant, "%s", r->tenant);
    snprintf(j->id, sizeof j->id, "%s", r->group_id);
    j->start_usecs = r->start_usecs;
    return 0;
}

static int runs_renew(struct cat *cat, const struct job *j, const char *owner, int64_t lease_until, int *cancel)
{
    return cat_run_renew(cat, j->tenant, j->id, j->start_usecs, owner, lease_until, cancel);
}

static int runs_check(struct cat *cat, const struct job *j, const char *owner, int *cancel)
{
    return cat_run_check(cat, j->tenant, j->id, j->start_usecs, owner, cancel);
}

static int runs_fail_running(struct cat *cat, const char *owner, int64_t expired_before, const char *message,
                             int64_t now, int *n)
{
    /* Several nodes: a dead node's runs whose policy allows another attempt are retried at once on any
     * node (nodes.h); the rest end Failed here. */
    if (expired_before > 0 && cat_shared(cat)) {
        int retried = 0;
        int64_t lease, renew, house;
        node_lease_config(&lease, &renew, &house);
        (void)node_retry_expired(cat, owner ? owner : "takeover", expired_before,
                                 expired_before + (lease > 0 ? lease : JOB_LEASE_USECS), &retried);
        if (retried) log_warn("backup: %d run(s) of a node that stopped answering queued for another attempt", retried);
    }
    return cat_run_fail_running(cat, owner, expired_before, message, now, n);
}

static int pool_runs(void *ud, const char *tenant, const char *group_id, int64_t start_usecs)
{
    return job_pool_runs(ud, tenant, group_id, start_usecs);
}

static int runs_fail_orphans(struct job_pool *p, int64_t expired_before, const char *message, int64_t now, int *n)
{
    return cat_run_fail_orphans(job_pool_cat(p), job_pool_owner(p), expired_before, pool_runs, p, message, now, n);
}

static int runs_fail(struct cat *cat, const struct job *j, const char *message, int64_t now)
{
    json_t *m = json_pack("[s]", message);
    int rc = cat_run_finish(cat, j->tenant, j->id, j->start_usecs, "Failed", m, now);
    json_decref(m);
    return rc;
}

static void runs_release(struct job *j)
{
    if (!j->row) return;
    cat_run_release(j->row);
    free(j->row);
}

const struct job_queue job_queue_runs = {
    .noun = "run",
    .lease_next = runs_lease_next,
    .renew = runs_renew,
    .check = runs_check,
    .fail_running = runs_fail_running,
    .fail_orphans = runs_fail_orphans,
    .fail = runs_fail,
    .release = runs_release,
};

const struct job_kind job_kind_backup = {
    .name = "backup",
    .queue = &job_queue_runs,
    .run = backup_run,
    .flush = backup_flush,
};
