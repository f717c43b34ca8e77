/* worker.c: a worker thread: lease a queued run, back up each of its group's objects with the engine,
 * record every result, finish the run.
 *
 * For a kPhysical group with protectionType kFile, each object of
 * physicalParams.fileProtectionTypeParams.objects (or the run's requested subset) is backed up from
 * its filePaths (includedPath, excludedPaths) plus the group's globalExcludePaths; an object without
 * filePaths is backed up whole (its path: "/" for a host, the mount point for a volume). A kRegular
 * run gives the engine the object's newest snapshot from this group as parent (unchanged files are
 * not read again); a kFull run and the first run read everything.
 *
 * Order of commits: the engine makes the snapshot durable in the repository, then one catalog
 * transaction inserts the snapshot row and the object's result; the run's final status comes last.
 * A crash in between leaves a repository snapshot the catalog does not know (harmless; the next run
 * reuses its data) and never a catalog row without its snapshot.
 *
 * Progress: the engine's callback copies its counters into the worker (under the scheduler's lock);
 * the monitor (sched.c) writes them to the catalog twice a second and raises the cancel flag. The
 * percentage comes from an estimate of the object's size: the sizes of its newest snapshot, or for a
 * first backup a walk of the include paths (bounded in time) on a thread beside the backup.
 *
 * Disk full: when the engine fails (a full disk, say), the repository is flushed at once, so the
 * complete part of the open pack is sealed and kept (the next backup deduplicates against it) or,
 * when even that cannot be written, the temporary pack is removed. A result the catalog refuses
 * with -ENOSPC is retried after releasing the catalog's space reserve (cat.h); the run's end is
 * retried with a growing pause (up to 10 s) until it is recorded, the daemon stops or the run is
 * taken away, so a run never stays Running without a worker. Before a run starts with no other
 * run in progress, a sticky repository write error from an earlier failure is cleared
 * (repo_write_error_reset): no backup that could have deduplicated against a lost pack is left. */
#include "sched/sched_int.h"
#include "catalog/cat_group.h"
#include "catalog/cat_snapshot.h"
#include "catalog/cat_source.h"
#include "engine/engine.h"
#include "repo/repo.h"
#include "sched/clock.h"
#include "util/log.h"
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUN_MESSAGES 50
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
        if (strpbrk(e, "*?[")) continue; /* globs are the engine's business; the estimate ignores them */
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
        ((++w->entries & 1023) == 0 && (sched_clock_real() > w->deadline || w->entries > PREWALK_MAX_ENTRIES))) {
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
    struct prewalk w = { .excludes = excs, .n_ex = n_ex, .deadline = sched_clock_real() + PREWALK_MAX_USECS,
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
    struct sched_worker *w;
    const char *const *incs, *const *excs;
    size_t n_inc, n_ex;
    atomic_int stop;
    pthread_t thread;
};

static void *estimate_main(void *arg)
{
    struct estimate_job *j = arg;
    int64_t files, bytes;
    estimate(j->incs, j->n_inc, j->excs, j->n_ex, &j->stop, &files, &bytes);
    pthread_mutex_lock(&j->w->s->lock);
    if (j->w->has_obj && files >= 0 && !atomic_load(&j->stop)) {
        j->w->obj.files_total = files;
        j->w->obj.bytes_total = bytes;
        j->w->obj.walk_done = 1;
        j->w->dirty = 1;
    }
    pthread_mutex_unlock(&j->w->s->lock);
    return NULL;
}

/* ---------- engine callbacks ---------- */

static void on_progress(void *ctx, const struct eng_progress *p)
{
    struct sched_worker *w = ctx;
    struct cat_run_object *o = &w->obj;
    pthread_mutex_lock(&w->s->lock);
    o->files = (int64_t)p->files;
    o->dirs = (int64_t)p->dirs;
    o->bytes_read = (int64_t)p->bytes_done;
    o->bytes_written = (int64_t)p->bytes_added;
    o->logical_bytes = (int64_t)p->logical_bytes;
    if (o->bytes_total > 0) o->pct = 100.0 * (double)p->logical_bytes / (double)o->bytes_total;
    else if (o->files_total > 0) o->pct = 100.0 * (double)p->files / (double)o->files_total;
    if (o->pct > 99) o->pct = 99; /* 100 only once finished */
    w->dirty = 1;
    pthread_mutex_unlock(&w->s->lock);
}

static void on_before_open(void *ctx, const char *path)
{
    struct sched_worker *w = ctx;
    if (w->s->slow_open_ms > 0) {
        struct timespec ts = { w->s->slow_open_ms / 1000, (long)(w->s->slow_open_ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (w->s->vanish && strstr(path, w->s->vanish)) unlink(path);
}

/* ---------- one object ---------- */

struct run_tally {
    int ok, warned, failed, canceled;
    json_t *messages;     /* the run's messages */
    int stop;             /* cancelled or stopping: no more objects */
};

static void add_message(struct run_tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_message(struct run_tally *t, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    if (json_array_size(t->messages) >= MAX_RUN_MESSAGES) return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(t->messages, json_string(buf));
}

static int str_array(json_t *arr, json_t *into)
{
    size_t i;
    json_t *v;
    if (!arr) return 0;
    if (!json_is_array(arr)) return -1;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)) return -1;
        json_array_append(into, v);
    }
    return 0;
}

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

static void publish(struct sched_worker *w, const struct cat_run_object *o, int on)
{
    pthread_mutex_lock(&w->s->lock);
    w->has_obj = on;
    if (on) {
        memset(&w->obj, 0, sizeof w->obj);
        w->obj.object_id = o->object_id;
        w->obj.begin_usecs = o->begin_usecs;
        w->obj.files_total = o->files_total;
        w->obj.bytes_total = o->bytes_total;
        w->obj.walk_done = o->walk_done;
        w->dirty = 1;
    }
    pthread_mutex_unlock(&w->s->lock);
}

/* disk_full: a catalog result, with a failure the catalog saw as a full disk made -ENOSPC. */
static int disk_full(int rc)
{
    return rc < 0 && cat_last_error() == -ENOSPC ? -ENOSPC : rc;
}

static void finish_object(struct sched_worker *w, const struct cat_run *run, struct cat_run_object *o,
                          const char *status, const char *message, const struct cat_snapshot *snap, struct run_tally *t)
{
    int rc;
    o->status = (char *)status;
    free(o->message);
    o->message = message ? strdup(message) : NULL;
    o->end_usecs = sched_clock_now();
    if (strcmp(status, "kSuccessful") == 0 || strcmp(status, "kWarning") == 0) o->pct = 100;
    rc = disk_full(cat_run_object_finish(w->s->cfg.cat, run->tenant, run->group_id, run->start_usecs, o, snap));
    if (rc == -ENOSPC && cat_reserve_release(w->s->cfg.cat))
        rc = cat_run_object_finish(w->s->cfg.cat, run->tenant, run->group_id, run->start_usecs, o, snap);
    if (rc != 0) {
        log_error("run %s:%" PRId64 ": cannot record the result of object %" PRId64 "%s", run->group_id,
                  run->start_usecs, o->object_id, rc == -ENOSPC ? ": No space left on device" : "");
        t->failed++;
        add_message(t, "object %" PRId64 ": the result could not be recorded in the catalog%s", o->object_id,
                    rc == -ENOSPC ? ": No space left on device while writing the catalog" : "");
        o->status = NULL;
        return;
    }
    if (strcmp(status, "kSuccessful") == 0) t->ok++;
    else if (strcmp(status, "kWarning") == 0) t->warned++;
    else if (strcmp(status, "kCanceled") == 0) t->canceled++;
    else t->failed++;
    o->status = NULL; /* borrowed */
}

static void backup_object(struct sched_worker *w, const struct cat_run *run, const struct cat_group *g,
                          json_t *objspec, json_t *global_ex, struct run_tally *t)
{
    struct cat *cat = w->s->cfg.cat;
    struct cat_object co = { 0 };
    struct cat_run_object o = { 0 };
    struct eng_backup_opts opts = { 0 };
    struct estimate_job *est = NULL;
    struct eng_backup_result res = { 0 };
    json_t *incs = json_array(), *excs = json_array(), *meta = NULL;
    const char **inc_v = NULL, **exc_v = NULL;
    char *parent = NULL, *latest = NULL, err[512] = "", msg[1024], run_id[CAT_RUN_ID_MAX];
    int64_t id = json_integer_value(json_object_get(objspec, "id"));
    int rc, have_obj;
    size_t n_inc = 0, n_exc = 0, i;
    json_t *fp, *v;

    o.object_id = id;
    o.files_total = o.bytes_total = -1;
    o.environment = (char *)"kPhysical";
    rc = cat_object_get(cat, run->tenant, id, &co);
    have_obj = rc == 0;
    o.object_name = have_obj ? co.name : (char *)json_string_value(json_object_get(objspec, "name"));
    o.source_id = have_obj ? co.source_id : 0;
    o.source_name = have_obj ? co.source_name : NULL;
    o.object_type = have_obj ? co.object_type : NULL;
    rc = cat_run_object_add(cat, run->tenant, run->group_id, run->start_usecs, &o);
    o.object_name = o.source_name = o.object_type = o.environment = NULL; /* borrowed above; not freed */
    if (rc != 0) {
        t->failed++;
        add_message(t, "object %" PRId64 ": cannot record it in the catalog", id);
        goto out;
    }
    if (!have_obj) {
        snprintf(msg, sizeof msg, "object %" PRId64 " is not a registered object of this tenant", id);
        finish_object(w, run, &o, "kFailed", msg, NULL, t);
        add_message(t, "%s", msg);
        goto out;
    }
    if (co.is_deleted || cat_object_is_local(cat, run->tenant, id) != 1) {
        snprintf(msg, sizeof msg, "object %" PRId64 " (%s): %s", id, co.name ? co.name : "?",
                 co.is_deleted ? "it was not found at the last refresh of its source"
                               : "no agent can reach its host (only this machine's local agent exists)");
        finish_object(w, run, &o, "kFailed", msg, NULL, t);
        add_message(t, "%s", msg);
        goto out;
    }
    /* What to read. */
    fp = json_object_get(objspec, "filePaths");
    json_array_foreach(fp, i, v) {
        const char *p = json_string_value(json_object_get(v, "includedPath"));
        if (p) json_array_append_new(incs, json_string(p));
        if (str_array(json_object_get(v, "excludedPaths"), excs) != 0) json_array_clear(excs);
    }
    if (json_array_size(incs) == 0) json_array_append_new(incs, json_string(co.path && *co.path ? co.path : "/"));
    str_array(global_ex, excs);
    json_array_foreach(incs, i, v) {
        if (json_string_value(v)[0] != '/') {
            snprintf(msg, sizeof msg, "object %" PRId64 " (%s): includedPath '%s' is not an absolute path", id, co.name,
                     json_string_value(v));
            finish_object(w, run, &o, "kFailed", msg, NULL, t);
            add_message(t, "%s", msg);
            goto out;
        }
    }
    inc_v = c_strings(incs, &n_inc);
    exc_v = c_strings(excs, &n_exc);
    if (!inc_v || !exc_v) {
        finish_object(w, run, &o, "kFailed", "out of memory", NULL, t);
        goto out;
    }
    /* Parent (kRegular) and the size estimate. */
    if (cat_snapshot_latest(cat, run->tenant, run->group_id, id, &latest) == 0) {
        struct cat_snapshot ls;
        if (cat_snapshot_get(cat, run->tenant, latest, &ls) == 0) {
            o.files_total = ls.files;
            o.bytes_total = ls.logical_bytes;
            cat_snapshot_release(&ls);
        }
        if (strcmp(run->run_type, "kRegular") == 0) parent = latest, latest = NULL;
    }
    o.begin_usecs = sched_clock_now();
    o.walk_done = o.files_total >= 0;
    publish(w, &o, 1);
    if (o.files_total < 0) {
        est = calloc(1, sizeof *est);
        if (est) {
            *est = (struct estimate_job){ .w = w, .incs = inc_v, .excs = exc_v, .n_inc = n_inc, .n_ex = n_exc };
            atomic_init(&est->stop, 0);
            if (pthread_create(&est->thread, NULL, estimate_main, est) != 0) {
                free(est);
                est = NULL;
            }
        }
    }

    cat_run_id_format(run_id, sizeof run_id, run->group_seq, run->start_usecs);
    meta = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:s}", "tenant", run->tenant, "protectionGroupId", run->group_id,
                     "protectionGroupName", g->name, "runId", run_id, "runType", run->run_type, "objectId",
                     (json_int_t)id, "objectName", co.name ? co.name : "", "environment", "kPhysical");
    opts.include_paths = inc_v;
    opts.n_include = n_inc;
    opts.exclude_paths = exc_v;
    opts.n_exclude = n_exc;
    opts.parent_snapshot_id = parent;
    opts.snapshot_meta = meta;
    opts.progress = on_progress;
    opts.progress_ctx = w;
    opts.cancel = &w->cancel;
    opts.threads = 0;
    if (w->s->vanish || w->s->slow_open_ms > 0) {
        opts.on_before_open = on_before_open;
        opts.hook_ctx = w;
    }
    if (!w->s->cfg.repo) {
        rc = -ENODEV;
        snprintf(err, sizeof err, "the repository is not available");
    } else {
        rc = eng_backup(w->s->cfg.repo, &opts, &res, err, sizeof err);
    }
    if (est) {
        atomic_store(&est->stop, 1);
        pthread_join(est->thread, NULL);
        free(est);
        est = NULL;
    }
    publish(w, NULL, 0);
    o.files = (int64_t)res.files;
    o.dirs = (int64_t)res.dirs;
    o.logical_bytes = (int64_t)res.logical_bytes;
    o.bytes_read = (int64_t)res.bytes_read;
    o.bytes_written = (int64_t)res.bytes_added;
    o.files_read = res.files >= res.files_unchanged ? (int64_t)(res.files - res.files_unchanged) : 0;
    if (rc == 0) {
        struct cat_snapshot snap = {
            .tenant = run->tenant, .id = res.snapshot_id, .object_id = id, .object_name = co.name,
            .source_id = co.source_id, .environment = "kPhysical", .group_id = run->group_id,
            .group_name = g->name, .group_seq = run->group_seq, .run_usecs = run->start_usecs,
            .instance_id = run->instance_id, .run_type = run->run_type, .snapshot_usecs = o.begin_usecs,
            .end_usecs = sched_clock_now(), .logical_bytes = o.logical_bytes, .bytes_read = o.bytes_read,
            .bytes_written = o.bytes_written, .files = o.files, .dirs = o.dirs, .parent_id = parent,
            .expiry_usecs = run->expiry_usecs, .on_legal_hold = run->on_legal_hold,
        };
        size_t nw = json_array_size(res.warnings);
        snap.status = nw ? "kWarning" : "kSuccessful";
        if (nw) {
            o.warnings = json_array();
            json_array_foreach(res.warnings, i, v) {
                char line[1200];
                snprintf(line, sizeof line, "%s: %s", json_string_value(json_object_get(v, "path")),
                         json_string_value(json_object_get(v, "message")));
                if (json_array_size(o.warnings) < 1000) json_array_append_new(o.warnings, json_string(line));
                add_message(t, "object %" PRId64 " (%s): %s", id, co.name, line);
            }
        }
        o.snapshot_id = strdup(res.snapshot_id);
        finish_object(w, run, &o, snap.status, NULL, &snap, t);
        log_info("run %s of group %s: object %" PRId64 " backed up as snapshot %.16s (files %" PRId64 ", read %" PRId64
                 " bytes, added %" PRId64 " bytes, %zu warnings)", run_id, run->group_id, id, res.snapshot_id, o.files,
                 o.bytes_read, o.bytes_written, nw);
    } else if (rc == -ECANCELED) {
        t->stop = 1;
        if (sched_stopping(w->s) && !w->user_cancel) {
            /* Requeued by the caller; this object's row is dropped with the requeue. */
        } else {
            finish_object(w, run, &o, "kCanceled", w->lease_lost ? "the run was taken away from this worker" : "canceled",
                          NULL, t);
        }
    } else {
        /* Seal what is complete of the open pack (kept: the next backup reuses it), or remove the
         * temporary pack when that cannot be written either (the disk is full). */
        if (w->s->cfg.repo) {
            int frc = repo_flush(w->s->cfg.repo);
            if (frc != 0)
                log_warn("run %s of group %s: after the failure, the open pack could not be kept: %s", run_id,
                         run->group_id, strerror(-frc));
        }
        snprintf(msg, sizeof msg, "object %" PRId64 " (%s): backup failed: %s%s", id, co.name,
                 err[0] ? err : strerror(-rc),
                 rc == -ENOSPC && !strstr(err, "No space") ? " (No space left on device)" : "");
        finish_object(w, run, &o, "kFailed", msg, NULL, t);
        add_message(t, "%s", msg);
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
    free(latest);
}

/* ---------- one run ---------- */

/* pause_ms: sleeps up to ms, returning early when the daemon stops. */
static void pause_ms(struct sched *s, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    while (!s->stopping)
        if (pthread_cond_timedwait(&s->work_cond, &s->lock, &ts) == ETIMEDOUT) break;
    pthread_mutex_unlock(&s->lock);
}

/* record_end: cat_run_finish until it is recorded. On a full disk the catalog's reserve is released
 * first; then (and for other errors, for up to a minute) it is retried with a growing pause while the
 * daemon runs and the run is still ours. Returns what the last attempt returned. */
static int record_end(struct sched_worker *w, const struct cat_run *run, const char *run_id, const char *status,
                      json_t *messages)
{
    struct cat *cat = w->s->cfg.cat;
    int64_t give_up = sched_clock_real() + 60LL * 1000000;
    int wait = 250, rc, lost;
    for (;;) {
        rc = disk_full(cat_run_finish(cat, run->tenant, run->group_id, run->start_usecs, status, messages,
                                      sched_clock_now()));
        if (rc == 0 || rc == CAT_NOT_FOUND) return rc;
        if (rc == -ENOSPC && cat_reserve_release(cat)) continue;
        pthread_mutex_lock(&w->s->lock);
        lost = w->lease_lost;
        pthread_mutex_unlock(&w->s->lock);
        if (sched_stopping(w->s) || lost || (rc != -ENOSPC && sched_clock_real() > give_up)) return rc;
        log_warn("run %s of group %s: cannot record its end (%s) yet; retrying", run_id, run->group_id,
                 rc == -ENOSPC ? "No space left on device" : "catalog error");
        pause_ms(w->s, wait);
        if (wait < 10000) wait *= 2;
    }
}

/* others_idle: whether no other worker is running a backup. */
static int others_idle(struct sched_worker *w)
{
    int idle = 1;
    pthread_mutex_lock(&w->s->lock);
    for (int i = 0; i < w->s->nworkers; i++)
        if (&w->s->workers[i] != w && w->s->workers[i].busy) idle = 0;
    pthread_mutex_unlock(&w->s->lock);
    return idle;
}

static int id_in(json_t *arr, int64_t id)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_integer_value(v) == id) return 1;
    return 0;
}

static void execute(struct sched_worker *w, struct cat_run *run)
{
    struct cat *cat = w->s->cfg.cat;
    struct cat_group g = { 0 };
    struct run_tally t = { .messages = json_array() };
    struct cat_run_object *done = NULL;
    size_t ndone = 0, i;
    json_t *doc = NULL, *params, *objs, *v;
    const char *status, *ptype;
    int rc, considered = 0;
    char run_id[CAT_RUN_ID_MAX];

    cat_run_id_format(run_id, sizeof run_id, run->group_seq, run->start_usecs);
    log_info("run %s of group %s (tenant %s, %s) started", run_id, run->group_id, run->tenant, run->run_type);
    if (w->s->cfg.repo && others_idle(w)) repo_write_error_reset(w->s->cfg.repo);
    rc = cat_group_get(cat, run->tenant, run->group_id, &g);
    if (rc != 0 || g.is_deleted) {
        add_message(&t, "the protection group %s", rc == CAT_NOT_FOUND || rc == 0 ? "was deleted" : "cannot be read");
        t.failed++;
        goto finish;
    }
    doc = json_loadb(g.doc, g.doc_len, 0, NULL);
    params = json_object_get(json_object_get(doc, "physicalParams"), "fileProtectionTypeParams");
    ptype = json_string_value(json_object_get(json_object_get(doc, "physicalParams"), "protectionType"));
    if (strcmp(g.environment, "kPhysical") != 0 || !ptype || strcmp(ptype, "kFile") != 0 || !params) {
        add_message(&t, "only kPhysical protection groups with protectionType kFile can be backed up yet (this group: %s)",
                    g.environment);
        t.failed++;
        goto finish;
    }
    /* A run queued again after a shutdown keeps the objects it already finished. */
    if (cat_run_objects(cat, run->tenant, run->group_id, run->start_usecs, &done, &ndone) != 0) ndone = 0;
    for (i = 0; i < ndone; i++) {
        const char *st = done[i].status;
        if (strcmp(st, "kSuccessful") == 0) t.ok++;
        else if (strcmp(st, "kWarning") == 0) t.warned++;
        else if (strcmp(st, "kCanceled") == 0) t.canceled++;
        else t.failed++;
    }
    objs = json_object_get(params, "objects");
    json_array_foreach(objs, i, v) {
        int64_t id = json_integer_value(json_object_get(v, "id"));
        int skip = 0;
        if (run->objects && !id_in(run->objects, id)) continue;
        considered++;
        for (size_t k = 0; k < ndone; k++)
            if (done[k].object_id == id) skip = 1;
        if (skip) continue;
        if (t.stop || w->cancel) {
            t.stop = 1;
            break;
        }
        backup_object(w, run, &g, v, json_object_get(params, "globalExcludePaths"), &t);
    }
    if (considered == 0) {
        add_message(&t, "the protection group has no objects to back up");
        t.failed++;
    }
finish:
    for (i = 0; i < ndone; i++) cat_run_object_release(&done[i]);
    free(done);
    if (w->lease_lost) {
        log_warn("run %s of group %s: the lease was lost; its new owner decides its status", run_id, run->group_id);
        goto out;
    }
    if (t.stop && sched_stopping(w->s) && !w->user_cancel) {
        cat_run_requeue(cat, run->tenant, run->group_id, run->start_usecs,
                        "interrupted by a daemon shutdown; queued again");
        log_info("run %s of group %s: interrupted by the shutdown, queued again", run_id, run->group_id);
        goto out;
    }
    if (w->user_cancel || t.canceled) {
        status = "Canceled";
        add_message(&t, "canceled by request");
    } else if (t.failed) {
        status = "Failed";
    } else if (t.warned) {
        status = "SucceededWithWarning";
    } else {
        status = "Succeeded";
    }
    rc = record_end(w, run, run_id, status, t.messages);
    if (rc != 0 && rc != CAT_NOT_FOUND) {
        log_error("run %s of group %s: cannot record its end (%s): it stays Running until housekeeping fails it",
                  run_id, run->group_id, rc == -ENOSPC ? "No space left on device" : "catalog error");
        goto out;
    }
    log_info("run %s of group %s finished: %s (%d ok, %d with warnings, %d failed)", run_id, run->group_id, status,
             t.ok, t.warned, t.failed);
out:
    json_decref(doc);
    json_decref(t.messages);
    cat_group_release(&g);
}

void *sched_worker_main(void *arg)
{
    struct sched_worker *w = arg;
    struct sched *s = w->s;
    int fails = 0;
    for (;;) {
        struct cat_run run;
        unsigned seq;
        int rc;
        pthread_mutex_lock(&s->lock);
        seq = s->work_seq;
        if (s->stopping) {
            pthread_mutex_unlock(&s->lock);
            break;
        }
        pthread_mutex_unlock(&s->lock);
        rc = cat_run_lease_next(s->cfg.cat, s->owner, sched_clock_real() + SCHED_LEASE_USECS, &run);
        if (rc == 0) {
            pthread_mutex_lock(&s->lock);
            w->tenant = run.tenant;
            w->group_id = run.group_id;
            w->start_usecs = run.start_usecs;
            w->cancel = s->stopping;
            w->user_cancel = w->lease_lost = w->has_obj = 0;
            w->renewed_at = sched_clock_real();
            w->busy = 1;
            pthread_mutex_unlock(&s->lock);
            execute(w, &run);
            pthread_mutex_lock(&s->lock);
            w->busy = 0;
            w->tenant = w->group_id = NULL;
            pthread_mutex_unlock(&s->lock);
            cat_run_release(&run);
            continue;
        }
        if (rc < 0) {
            log_warn("worker %d: cannot lease a run from the catalog%s", w->index,
                     rc == -ENOSPC ? ": No space left on device" : "");
            if (fails < 5) fails++; /* back off: 2, 4, ... 32 s, or until a run is queued */
        } else {
            fails = 0;
        }
        pthread_mutex_lock(&s->lock);
        while (!s->stopping && s->work_seq == seq) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1 << fails;
            if (pthread_cond_timedwait(&s->work_cond, &s->lock, &ts) == ETIMEDOUT) break;
        }
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}
