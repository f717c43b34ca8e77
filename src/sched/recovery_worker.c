/* recovery_worker.c: recovery threads (see recovery_worker.h).
 *
 * Each worker thread owns a slot: the recovery it runs, its live counters and its cancel flag (the
 * engine polls that flag). The engine's progress callback only copies counters into the slot; a
 * monitor thread writes every active slot's counters to the catalog twice a second and raises the
 * slot's flag when the catalog says a cancel was requested or the daemon is stopping, so a cancel
 * lands within half a second even while one large file is being written. The monitor also removes
 * download archives whose time is up.
 *
 * Restores call eng_restore once per distinct target (original paths, an alternate directory, a
 * per-item destination). Downloads run eng_write_tar on a helper thread into a pipe; the worker
 * copies the pipe into DATA_DIR/downloads/<id>.tar.tmp-XXXXXX, counting bytes and watching the
 * cancel flag (closing the pipe stops the helper with EPIPE), then fsyncs and renames the archive
 * into place and fsyncs the directory: an archive that exists under its final name is complete. */
#include "sched/recovery_worker.h"
#include "catalog/cat_recovery.h"
#include "engine/engine.h"
#include "sched/clock.h"
#include "util/fsio.h"
#include "util/log.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MONITOR_PERIOD_MS 500
#define CLEANUP_PERIOD_USECS (60LL * 1000000)
#define MAX_MESSAGES 100      /* messages naming failed files; the rest is counted */
#define MAX_FILE_ERRORS 1000  /* {"path","message"} kept with the recovery */

struct slot {
    struct sched_recovery *w;
    pthread_t thread;
    int started;
    /* guarded by w->mu */
    int active;
    char tenant[300], id[80];
    struct cat_recovery_stats st, base;   /* base: counters of earlier engine calls of this job */
    volatile int cancel;                  /* read by the engine */
    int user_cancel;                      /* the cancel came from the API (not from stop) */
};

struct sched_recovery {
    struct sched_recovery_config cfg;
    char owner[96];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    pthread_t monitor;
    int monitor_started;
    struct slot *slots;
    int nslots;
    int test_delay_ms;        /* COFFER_TEST_RECOVERY_DELAY_MS (test hook) */
};

/* Process-wide wake-up, so the API can notify without holding a pointer to the workers. */
static pthread_mutex_t g_wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_wake_cv = PTHREAD_COND_INITIALIZER;
static uint64_t g_wake_gen;

void sched_recovery_notify(void)
{
    pthread_mutex_lock(&g_wake_mu);
    g_wake_gen++;
    pthread_cond_broadcast(&g_wake_cv);
    pthread_mutex_unlock(&g_wake_mu);
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* wait_wake: sleeps until notified (a generation after seen) or ms pass. */
static void wait_wake(uint64_t seen, int ms)
{
    struct timespec ts;
    deadline_in(&ts, ms);
    pthread_mutex_lock(&g_wake_mu);
    while (g_wake_gen == seen) {
        if (pthread_cond_timedwait(&g_wake_cv, &g_wake_mu, &ts) != 0) break;
    }
    pthread_mutex_unlock(&g_wake_mu);
}

static uint64_t wake_gen(void)
{
    uint64_t g;
    pthread_mutex_lock(&g_wake_mu);
    g = g_wake_gen;
    pthread_mutex_unlock(&g_wake_mu);
    return g;
}

int sched_recovery_archive_path(const char *data_dir, const char *id, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/downloads/%s.tar", data_dir, id);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---------- the result being built ---------- */

struct outcome {
    json_t *messages;      /* strings */
    json_t *file_errors;   /* {"path","message"} */
    int64_t n_failed;      /* files named in errors, all of them */
};

static void outcome_problem(struct outcome *o, const char *verb, const char *path, const char *message)
{
    if (o->n_failed < MAX_MESSAGES) {
        char m[1024];
        snprintf(m, sizeof m, "failed to %s %s: %s", verb, path, message);
        json_array_append_new(o->messages, json_string(m));
    }
    if (o->n_failed < MAX_FILE_ERRORS)
        json_array_append_new(o->file_errors, json_pack("{s:s,s:s}", "path", path, "message", message));
    o->n_failed++;
}

static void outcome_errors(struct outcome *o, const char *verb, json_t *errors)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) {
        const char *p = json_string_value(json_object_get(e, "path"));
        const char *m = json_string_value(json_object_get(e, "message"));
        outcome_problem(o, verb, p ? p : "?", m ? m : "error");
    }
}

static void outcome_summary(struct outcome *o, const char *verb)
{
    if (o->n_failed > MAX_MESSAGES) {
        char m[128];
        snprintf(m, sizeof m, "... and %" PRId64 " more files failed to %s", o->n_failed - MAX_MESSAGES, verb);
        json_array_append_new(o->messages, json_string(m));
    }
}

/* ---------- progress ---------- */

static void on_progress(void *ctx, const struct eng_progress *p)
{
    struct slot *s = ctx;
    pthread_mutex_lock(&s->w->mu);
    s->st.files = s->base.files + (int64_t)p->files;
    s->st.dirs = s->base.dirs + (int64_t)p->dirs;
    s->st.bytes = s->base.bytes + (int64_t)p->bytes_done;
    s->st.errors = s->base.errors + (int64_t)p->errors;
    pthread_mutex_unlock(&s->w->mu);
}

static void slot_set_bytes(struct slot *s, int64_t bytes)
{
    pthread_mutex_lock(&s->w->mu);
    s->st.bytes = bytes;
    pthread_mutex_unlock(&s->w->mu);
}

/* ---------- restore ---------- */

static int same_target(json_t *a, json_t *b)
{
    if (json_is_null(a) || !a) return json_is_null(b) || !b;
    if (json_is_null(b) || !b) return 0;
    return strcmp(json_string_value(a), json_string_value(b)) == 0;
}

/* run_restore: returns 0 (done, maybe with file errors in o), -ECANCELED, or another error with err. */
static int run_restore(struct slot *s, const struct cat_recovery *r, struct outcome *o, struct cat_recovery_stats *tot,
                       char *err, size_t errlen)
{
    struct repo *repo = s->w->cfg.repo;
    json_t *items = json_object_get(r->request, "items");
    size_t n = json_array_size(items);
    const char *snap = json_string_value(json_object_get(r->request, "snapshotId"));
    int overwrite = json_is_true(json_object_get(r->request, "overwrite"));
    int preserve = !json_is_false(json_object_get(r->request, "preserveAttributes"));
    int coe = json_is_true(json_object_get(r->request, "continueOnError"));
    char *done = calloc(n ? n : 1, 1);
    const char **paths = calloc(n ? n : 1, sizeof *paths);
    int rc = 0;
    if (!done || !paths || !snap) {
        free(done);
        free(paths);
        snprintf(err, errlen, "the recovery's request is malformed");
        return -EINVAL;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *target;
        struct eng_restore_opts opts;
        struct eng_restore_result res;
        size_t np = 0;
        if (done[i]) continue;
        target = json_object_get(json_array_get(items, i), "target");
        for (size_t k = i; k < n; k++) { /* every item going to the same place, in one call */
            json_t *it = json_array_get(items, k);
            if (!done[k] && same_target(target, json_object_get(it, "target"))) {
                paths[np++] = json_string_value(json_object_get(it, "path"));
                done[k] = 1;
            }
        }
        memset(&opts, 0, sizeof opts);
        opts.paths = paths;
        opts.n_paths = np;
        opts.target_dir = json_is_string(target) ? json_string_value(target) : NULL;
        opts.overwrite = overwrite;
        opts.preserve_attrs = preserve;
        opts.continue_on_error = coe;
        opts.progress = on_progress;
        opts.progress_ctx = s;
        opts.cancel = &s->cancel;
        memset(&res, 0, sizeof res);
        rc = eng_restore(repo, snap, &opts, &res, err, errlen);
        tot->files += (int64_t)(res.files + res.symlinks + res.other);
        tot->dirs += (int64_t)res.dirs;
        tot->bytes += (int64_t)res.bytes;
        tot->skipped += (int64_t)res.skipped;
        tot->errors += (int64_t)json_array_size(res.errors);
        outcome_errors(o, "restore", res.errors);
        eng_restore_result_release(&res);
        pthread_mutex_lock(&s->w->mu);
        s->base = *tot;
        s->st = *tot;
        pthread_mutex_unlock(&s->w->mu);
    }
    if (tot->skipped > 0) {
        char m[160];
        snprintf(m, sizeof m, "%" PRId64 " existing entries were left as they are (overwriteExisting is false)",
                 tot->skipped);
        json_array_append_new(o->messages, json_string(m));
    }
    free(done);
    free(paths);
    return rc;
}

/* ---------- download ---------- */

struct tar_job {
    struct repo *repo;
    const char *snap;
    const char **paths;
    size_t n;
    int fd;
    json_t *errors;
    int rc;
    char damage[480];      /* the helper's sentence when rc is -EBADMSG (repository damage) */
};

static void *tar_main(void *arg)
{
    struct tar_job *t = arg;
    t->rc = eng_write_tar(t->repo, t->snap, t->paths, t->n, t->fd, t->errors);
    if (t->rc == -EBADMSG) eng_damage_text(t->rc, t->damage, sizeof t->damage); /* thread's own note */
    close(t->fd);
    return NULL;
}

static int run_download(struct slot *s, const struct cat_recovery *r, struct outcome *o,
                        struct cat_recovery_stats *tot, int64_t *archive_bytes, char *err, size_t errlen)
{
    const char *data_dir = s->w->cfg.data_dir;
    json_t *items = json_object_get(r->request, "items");
    size_t n = json_array_size(items);
    struct tar_job t = { .repo = s->w->cfg.repo, .snap = json_string_value(json_object_get(r->request, "snapshotId")),
                         .n = n, .errors = json_array(), .rc = 0 };
    char dir[4096], final[4096], tmp[4200] = "";
    int pfd[2] = { -1, -1 }, out = -1, rc = 0;
    pthread_t th;
    char *mine = NULL;
    int64_t total = 0;
    t.paths = calloc(n ? n : 1, sizeof *t.paths);
    if (!t.paths || !t.snap || !t.errors) {
        snprintf(err, errlen, "the recovery's request is malformed");
        rc = -EINVAL;
        goto done;
    }
    for (size_t i = 0; i < n; i++) t.paths[i] = json_string_value(json_object_get(json_array_get(items, i), "path"));
    if ((size_t)snprintf(dir, sizeof dir, "%s/downloads", data_dir) >= sizeof dir ||
        sched_recovery_archive_path(data_dir, r->id, final, sizeof final) != 0) {
        snprintf(err, errlen, "the data directory's path is too long");
        rc = -ENAMETOOLONG;
        goto done;
    }
    if ((rc = fsio_mkdir_p(dir, 0700)) != 0) {
        snprintf(err, errlen, "cannot create %.900s: %s", dir, strerror(-rc));
        goto done;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", final);
    if ((out = mkstemp(tmp)) < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot create the archive %.900s: %s", tmp, strerror(errno));
        tmp[0] = '\0';
        goto done;
    }
    if (pipe2(pfd, O_CLOEXEC) != 0) {
        rc = -errno;
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto done;
    }
    t.fd = pfd[1];
    if (pthread_create(&th, NULL, tar_main, &t) != 0) {
        rc = -EAGAIN;
        snprintf(err, errlen, "cannot start the archive writer thread");
        goto done;
    }
    pfd[1] = -1; /* the helper closes it */
    mine = malloc(1 << 16);
    if (!mine) {
        rc = -ENOMEM;
        snprintf(err, errlen, "out of memory");
    }
    while (rc == 0) {
        ssize_t k;
        if (s->cancel) {
            rc = -ECANCELED;
            break;
        }
        k = read(pfd[0], mine, 1 << 16);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            rc = -errno;
            snprintf(err, errlen, "reading the archive stream: %s", strerror(errno));
            break;
        }
        if (k == 0) break;
        if ((rc = fsio_write_full(out, mine, (size_t)k)) != 0) {
            snprintf(err, errlen, "writing %.900s: %s", tmp, strerror(-rc));
            break;
        }
        total += k;
        slot_set_bytes(s, total);
    }
    close(pfd[0]); /* on an early stop the helper's next write fails with EPIPE */
    pfd[0] = -1;
    pthread_join(th, NULL);
    if (rc == 0 && t.rc != 0) {
        rc = t.rc;
        if (rc == -ENOENT)
            snprintf(err, errlen, "a requested path is no longer in snapshot %s", t.snap);
        else if (rc == -EBADMSG) /* a read of the repository failed: never a write error */
            snprintf(err, errlen, "cannot read snapshot %s: %s", t.snap, t.damage);
        else
            snprintf(err, errlen, "cannot write the archive: %s", strerror(-rc));
    }
    if (rc == 0 && fsync(out) != 0) {
        rc = -errno;
        snprintf(err, errlen, "fsync %.900s: %s", tmp, strerror(errno));
    }
    if (rc == 0 && close(out) != 0) {
        rc = -errno;
        snprintf(err, errlen, "close %.900s: %s", tmp, strerror(errno));
    }
    out = -1;
    if (rc == 0 && rename(tmp, final) != 0) {
        rc = -errno;
        snprintf(err, errlen, "rename %.900s: %s", tmp, strerror(errno));
    }
    if (rc == 0) {
        fsio_fsync_dir(dir);
        tmp[0] = '\0';
        *archive_bytes = total;
        tot->bytes = total;
        tot->files = (int64_t)n;
        outcome_errors(o, "read", t.errors);
        tot->errors = (int64_t)json_array_size(t.errors);
        if (json_array_size(t.errors) > 0)
            json_array_append_new(o->messages,
                                  json_string("files that could not be read are in the archive as zeros of their size"));
    }
done:
    if (out >= 0) close(out);
    if (pfd[0] >= 0) close(pfd[0]);
    if (pfd[1] >= 0) close(pfd[1]);
    if (rc != 0 && tmp[0]) unlink(tmp);
    free(mine);
    free(t.paths);
    json_decref(t.errors);
    return rc;
}

/* ---------- one recovery ---------- */

static void run_one(struct slot *s, struct cat_recovery *r)
{
    struct sched_recovery *w = s->w;
    struct outcome o = { .messages = json_array(), .file_errors = json_array() };
    struct cat_recovery_stats tot = { 0 };
    int64_t archive_bytes = -1;
    char err[1024] = "";
    const char *status, *verb = strcmp(r->kind, "download") == 0 ? "read" : "restore";
    int rc;

    pthread_mutex_lock(&w->mu);
    snprintf(s->tenant, sizeof s->tenant, "%s", r->tenant);
    snprintf(s->id, sizeof s->id, "%s", r->id);
    memset(&s->st, 0, sizeof s->st);
    memset(&s->base, 0, sizeof s->base);
    s->cancel = w->stopping;
    s->user_cancel = 0;
    s->active = 1;
    pthread_mutex_unlock(&w->mu);
    log_info("recovery %s (%s) of tenant %s started", r->id, r->recovery_action, r->tenant);

    for (int t = 0; t < w->test_delay_ms && !s->cancel; t += 20) usleep(20 * 1000);
    if (s->cancel) {
        rc = -ECANCELED;
    } else if (!w->cfg.repo) {
        rc = -ENODEV;
        snprintf(err, sizeof err, "the repository is not available");
    } else if (strcmp(r->kind, "download") == 0) {
        rc = run_download(s, r, &o, &tot, &archive_bytes, err, sizeof err);
    } else {
        rc = run_restore(s, r, &o, &tot, err, sizeof err);
    }

    pthread_mutex_lock(&w->mu);
    s->active = 0;
    int user_cancel = s->user_cancel;
    pthread_mutex_unlock(&w->mu);

    outcome_summary(&o, verb);
    if (rc == -ECANCELED && user_cancel) {
        status = "Canceled";
        json_array_append_new(o.messages, json_string("canceled on request"));
    } else if (rc == -ECANCELED) {
        status = "Failed";
        json_array_append_new(o.messages, json_string("interrupted by daemon shutdown"));
    } else if (rc != 0) {
        status = "Failed";
        json_array_append_new(o.messages, json_string(err[0] ? err : strerror(-rc)));
    } else if (o.n_failed > 0) {
        status = "SucceededWithWarning";
    } else {
        status = "Succeeded";
    }
    rc = cat_recovery_finish(w->cfg.cat, r->tenant, r->id, status, o.messages, o.file_errors, &tot, archive_bytes,
                             sched_clock_now());
    if (rc != 0 && (rc == -ENOSPC || cat_last_error() == -ENOSPC) && cat_reserve_release(w->cfg.cat))
        rc = cat_recovery_finish(w->cfg.cat, r->tenant, r->id, status, o.messages, o.file_errors, &tot,
                                 archive_bytes, sched_clock_now()); /* a full disk: with the reserve's space */
    if (rc != 0) log_error("recovery %s: cannot record its end (%s)", r->id, status);
    log_info("recovery %s ended %s (%" PRId64 " files, %" PRId64 " bytes, %" PRId64 " failed)", r->id, status,
             tot.files, tot.bytes, o.n_failed);
    json_decref(o.messages);
    json_decref(o.file_errors);
}

static void *worker_main(void *arg)
{
    struct slot *s = arg;
    struct sched_recovery *w = s->w;
    for (;;) {
        struct cat_recovery r;
        uint64_t gen = wake_gen();
        int rc, stop;
        pthread_mutex_lock(&w->mu);
        stop = w->stopping;
        pthread_mutex_unlock(&w->mu);
        if (stop) break;
        rc = cat_recovery_lease_next(w->cfg.cat, w->owner, &r);
        if (rc == 0) {
            run_one(s, &r);
            cat_recovery_release(&r);
            continue;
        }
        if (rc != CAT_NOT_FOUND) log_warn("recovery worker: cannot read the queue");
        wait_wake(gen, 1000);
    }
    return NULL;
}

/* ---------- monitor: progress, cancel, expired archives ---------- */

static int remove_archive(void *ud, const struct cat_recovery *r)
{
    struct sched_recovery *w = ud;
    char p[4096];
    if (sched_recovery_archive_path(w->cfg.data_dir, r->id, p, sizeof p) == 0 && unlink(p) != 0 && errno != ENOENT)
        log_warn("cannot remove the expired archive %s: %s", p, strerror(errno));
    cat_recovery_archive_gone(w->cfg.cat, r->tenant, r->id, "the download archive expired and was removed");
    return 0;
}

static void *monitor_main(void *arg)
{
    struct sched_recovery *w = arg;
    int64_t next_cleanup = 0;
    for (;;) {
        struct timespec ts;
        int stop;
        for (int i = 0; i < w->nslots; i++) {
            struct slot *s = &w->slots[i];
            char tenant[300], id[80];
            struct cat_recovery_stats st;
            int active, cancel = 0;
            pthread_mutex_lock(&w->mu);
            active = s->active;
            if (active) {
                memcpy(tenant, s->tenant, sizeof tenant);
                memcpy(id, s->id, sizeof id);
                st = s->st;
            }
            if (w->stopping) s->cancel = 1;
            pthread_mutex_unlock(&w->mu);
            if (!active) continue;
            if (cat_recovery_progress(w->cfg.cat, tenant, id, w->owner, &st, &cancel) == 0 && cancel) {
                pthread_mutex_lock(&w->mu);
                if (s->active && strcmp(s->id, id) == 0) {
                    s->user_cancel = 1;
                    s->cancel = 1;
                }
                pthread_mutex_unlock(&w->mu);
            }
        }
        if (sched_clock_real() >= next_cleanup) {
            next_cleanup = sched_clock_real() + CLEANUP_PERIOD_USECS;
            cat_recovery_downloads_before(w->cfg.cat, sched_clock_now() - SCHED_DOWNLOAD_TTL_USECS, remove_archive, w);
        }
        deadline_in(&ts, MONITOR_PERIOD_MS);
        pthread_mutex_lock(&w->mu);
        if (!w->stopping) pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        stop = w->stopping;
        if (stop) {
            int busy = 0;
            for (int i = 0; i < w->nslots; i++) {
                w->slots[i].cancel = 1;
                busy |= w->slots[i].active;
            }
            stop = !busy; /* keep going until every worker let go of its recovery */
        }
        pthread_mutex_unlock(&w->mu);
        if (stop) break;
    }
    return NULL;
}

/* ---------- start / stop ---------- */

/* remove_partial_archives: DATA_DIR/downloads/ *.tar.tmp-* left by a crash. */
static void remove_partial_archives(const char *data_dir)
{
    char dir[4096], p[8192];
    DIR *d;
    struct dirent *e;
    if ((size_t)snprintf(dir, sizeof dir, "%s/downloads", data_dir) >= sizeof dir) return;
    if (!(d = opendir(dir))) return;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".tar.tmp-")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (unlink(p) == 0) log_info("removed the partial archive %s", p);
        }
    }
    closedir(d);
}

int sched_recovery_start(const struct sched_recovery_config *cfg, struct sched_recovery **out, char *err,
                         size_t errlen)
{
    struct sched_recovery *w = calloc(1, sizeof *w);
    unsigned char rnd[6];
    int n = 0;
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    w->cfg = *cfg;
    if (w->cfg.workers < 1) w->cfg.workers = 1;
    if (RAND_bytes(rnd, sizeof rnd) != 1) memset(rnd, 0, sizeof rnd);
    snprintf(w->owner, sizeof w->owner, "recovery:%d:%02x%02x%02x%02x%02x%02x", (int)getpid(), rnd[0], rnd[1], rnd[2],
             rnd[3], rnd[4], rnd[5]);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    {
        const char *hooks = getenv("COFFER_TEST_HOOKS"), *delay = getenv("COFFER_TEST_RECOVERY_DELAY_MS");
        if (hooks && strcmp(hooks, "1") == 0 && delay && *delay) {
            w->test_delay_ms = atoi(delay);
            log_warn("recoveries: test hook: each recovery is held Running for %d ms", w->test_delay_ms);
        }
    }
    if (cat_recovery_fail_running(cfg->cat, NULL, "interrupted by daemon restart", sched_clock_now(), &n) != 0) {
        snprintf(err, errlen, "cannot read the recoveries in the catalog");
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return -1;
    }
    if (n > 0) log_warn("%d recover%s interrupted by the previous daemon marked Failed", n, n == 1 ? "y" : "ies");
    if (cfg->data_dir) remove_partial_archives(cfg->data_dir);
    w->nslots = w->cfg.workers;
    w->slots = calloc((size_t)w->nslots, sizeof *w->slots);
    if (!w->slots) {
        snprintf(err, errlen, "out of memory");
        sched_recovery_stop(w);
        return -1;
    }
    for (int i = 0; i < w->nslots; i++) {
        w->slots[i].w = w;
        if (pthread_create(&w->slots[i].thread, NULL, worker_main, &w->slots[i]) != 0) {
            snprintf(err, errlen, "cannot start a recovery worker thread");
            sched_recovery_stop(w);
            return -1;
        }
        w->slots[i].started = 1;
    }
    if (pthread_create(&w->monitor, NULL, monitor_main, w) != 0) {
        snprintf(err, errlen, "cannot start the recovery monitor thread");
        sched_recovery_stop(w);
        return -1;
    }
    w->monitor_started = 1;
    log_info("recoveries: started %d worker(s) (lease owner %s)", w->nslots, w->owner);
    *out = w;
    return 0;
}

void sched_recovery_stop(struct sched_recovery *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    for (int i = 0; i < w->nslots; i++) w->slots[i].cancel = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    sched_recovery_notify();
    for (int i = 0; i < w->nslots; i++)
        if (w->slots[i].started) pthread_join(w->slots[i].thread, NULL);
    if (w->monitor_started) pthread_join(w->monitor, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->slots);
    free(w);
}
