/* job_download.c: the download kind: chosen files of a snapshot as an archive prepared for download
 * (recovery kind "download"). The mover's read writes a POSIX pax tar into a pipe on a helper
 * thread; the worker copies the pipe into DATA_DIR/downloads/<id>.tar.tmp-XXXXXX, counting bytes and
 * watching the cancel flag (closing the pipe stops the helper with EPIPE), then fsyncs and renames
 * the archive into place and fsyncs the directory: an archive that exists under its final name is
 * complete. Archives are kept SCHED_DOWNLOAD_TTL_USECS after the recovery ended (housekeeping
 * removes them); partial archives a crash left are removed when the pool starts. */
#include "sched/job_recovery.h"
#include "sched/sched.h"
#include "util/fsio.h"
#include "util/log.h"
#include "util/thread.h"
#include "util/time.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


int sched_recovery_archive_path(const char *data_dir, const char *id, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/downloads/%s.tar", data_dir, id);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

struct tar_job {
    const struct mover *mover;
    struct repo *repo;
    const char *snap;
    const char **paths;
    size_t n;
    int fd;
    json_t *errors;
    int rc;
    char damage[480]; /* the helper's sentence when rc is -EBADMSG (repository damage) */
};

static void *tar_main(void *arg)
{
    struct tar_job *t = arg;
    util_thread_name("download-tar");
    t->rc = t->mover->read(t->repo, t->snap, t->paths, t->n, t->fd, t->errors);
    if (t->rc == -EBADMSG) eng_damage_text(t->rc, t->damage, sizeof t->damage); /* thread's own note */
    close(t->fd);
    return NULL;
}

static void set_bytes(struct recovery_exec *x, int64_t bytes)
{
    job_lock(x->j);
    x->live.st.bytes = bytes;
    job_unlock(x->j);
}

static int download_body(struct recovery_exec *x, char *err, size_t errlen)
{
    const char *data_dir = job_pool_data_dir(x->j->pool);
    size_t n = x->spec.n_items;
    struct tar_job t = { .mover = x->mover, .repo = job_repo(x->j), .snap = x->spec.snapshot_id, .n = n,
                         .errors = json_array(), .rc = 0 };
    char dir[4096], final[4096], tmp[4200] = "";
    int pfd[2] = { -1, -1 }, out = -1, rc = 0;
    pthread_t th;
    char *mine = NULL;
    int64_t total = 0;
    t.paths = calloc(n ? n : 1, sizeof *t.paths);
    if (!t.paths || !t.errors || !data_dir) {
        snprintf(err, errlen, "%s", data_dir ? "out of memory" : "no data directory for download archives");
        rc = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) t.paths[i] = x->spec.items[i].path;
    if ((size_t)snprintf(dir, sizeof dir, "%s/downloads", data_dir) >= sizeof dir ||
        sched_recovery_archive_path(data_dir, x->r->id, final, sizeof final) != 0) {
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
        if (x->j->cancel) {
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
        set_bytes(x, total);
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
        x->archive_bytes = total;
        x->tot.bytes = total;
        x->tot.files = (int64_t)n;
        recovery_outcome_errors(&x->o, "read", t.errors);
        x->tot.errors = (int64_t)json_array_size(t.errors);
        if (json_array_size(t.errors) > 0)
            json_array_append_new(x->o.messages,
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

static void download_run(struct job *j) { recovery_job_run(j, download_body, "read"); }

/* ---------- archives: partial ones at start, expired ones in housekeeping ---------- */

static void download_housekeeping(struct job_pool *p, int64_t real);

/* download_start: DATA_DIR/downloads/ *.tar.tmp-* left by a crash. */
static void download_start(struct job_pool *p)
{
    const char *data_dir = job_pool_data_dir(p);
    char dir[4096], path[8192];
    DIR *d;
    struct dirent *e;
    if (!data_dir || (size_t)snprintf(dir, sizeof dir, "%s/downloads", data_dir) >= sizeof dir) return;
    if (!(d = opendir(dir))) return;
    while ((e = readdir(d)) != NULL) {
        if (strstr(e->d_name, ".tar.tmp-")) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            if (unlink(path) == 0) log_info("removed the partial archive %s", path);
        }
    }
    closedir(d);
    download_housekeeping(p, 0); /* archives whose time ran out while the daemon was down */
}

static int remove_archive(void *ud, const struct cat_recovery *r)
{
    struct job_pool *p = ud;
    char path[4096];
    if (sched_recovery_archive_path(job_pool_data_dir(p), r->id, path, sizeof path) == 0 && unlink(path) != 0 &&
        errno != ENOENT)
        log_warn("cannot remove the expired archive %s: %s", path, strerror(errno));
    cat_recovery_archive_gone(job_pool_cat(p), r->tenant, r->id, "the download archive expired and was removed");
    return 0;
}

static void download_housekeeping(struct job_pool *p, int64_t real)
{
    (void)real;
    if (!job_pool_data_dir(p)) return;
    cat_recovery_downloads_before(job_pool_cat(p), util_time_now() - SCHED_DOWNLOAD_TTL_USECS, remove_archive, p);
}

const struct job_kind job_kind_download = {
    .name = "download",
    .queue = &job_queue_recoveries,
    .run = download_run,
    .flush = recovery_flush,
    .start = download_start,
    .housekeeping = download_housekeeping,
};
