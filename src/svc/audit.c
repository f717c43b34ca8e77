/* audit.c: the audit trail (audit.h): the catalog row first (the record of truth, durable), then a
 * JSON line appended to DIR/audit.log, then the retention sweep when it is due.
 *
 * Process-wide state, set once by svc_audit_configure before any thread records: the file's path and
 * the retention. The due time of the next sweep is an atomic that one thread claims with a
 * compare-and-swap, so concurrent requests never sweep twice; the file's lines are written under a
 * mutex so two lines never interleave (O_APPEND also keeps other writers' lines whole). */
#include "svc/audit.h"
#include "catalog/cat_audit.h"
#include "util/fsio.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_file[PATH_MAX];              /* "" = no file */
static int g_retention_days = SVC_AUDIT_DEFAULT_RETENTION_DAYS;
static _Atomic int64_t g_next_sweep;       /* util_time_now when the next sweep is due (0: at once) */
static _Atomic uint64_t g_counter;
static _Atomic int64_t g_boot;             /* the first request id's time (request ids) */
static pthread_mutex_t g_file_mu = PTHREAD_MUTEX_INITIALIZER;

int svc_audit_configure(const char *data_dir, int retention_days)
{
    struct stat sb;
    if (retention_days < 1 || retention_days > SVC_AUDIT_MAX_RETENTION_DAYS) return -EINVAL;
    g_retention_days = retention_days;
    g_file[0] = '\0';
    if (data_dir && snprintf(g_file, sizeof g_file, "%s/" SVC_AUDIT_FILE, data_dir) >= (int)sizeof g_file) {
        g_file[0] = '\0';
        return -ENAMETOOLONG;
    }
    if (g_file[0] && stat(g_file, &sb) == 0 && (sb.st_mode & 077) != 0) {
        if (chmod(g_file, 0600) != 0) log_warn("audit: cannot chmod 0600 %s: %s", g_file, strerror(errno));
        else log_warn("audit: %s was readable by others: set to 0600", g_file);
    }
    atomic_store(&g_next_sweep, 0);
    return 0;
}

void svc_audit_request_id(char *buf, size_t size)
{
    uint64_t n = atomic_fetch_add(&g_counter, 1) + 1;
    int64_t boot = atomic_load(&g_boot), zero = 0;
    if (!boot) { /* the first id: one thread's time wins, every thread uses it */
        boot = util_time_real();
        if (!atomic_compare_exchange_strong(&g_boot, &zero, boot)) boot = zero;
    }
    snprintf(buf, size, "%013llx-%llx", (unsigned long long)boot, (unsigned long long)n);
}

/* file_line: the event as one JSON line (a malloc'd string ending in '\n'), or NULL. */
static char *file_line(const struct cat_audit_entry *e)
{
    json_t *o = json_object(), *detail = NULL;
    char *text, *line = NULL;
    size_t n;
    if (!o) return NULL;
    if (e->detail && !(detail = json_loads(e->detail, 0, NULL))) detail = json_string(e->detail);
#define STR_OR_NULL(s) ((s) ? json_string(s) : json_null())
    json_object_set_new(o, "seq", e->seq ? json_integer(e->seq) : json_null());
    json_object_set_new(o, "time_usecs", json_integer(e->time_usecs));
    json_object_set_new(o, "request_id", STR_OR_NULL(e->request_id));
    json_object_set_new(o, "actor", STR_OR_NULL(e->actor));
    json_object_set_new(o, "key_id", STR_OR_NULL(e->key_id));
    json_object_set_new(o, "tenant", STR_OR_NULL(e->tenant));
    json_object_set_new(o, "roles", STR_OR_NULL(e->roles));
    json_object_set_new(o, "client", STR_OR_NULL(e->client));
    json_object_set_new(o, "method", STR_OR_NULL(e->method));
    json_object_set_new(o, "route", STR_OR_NULL(e->route));
    json_object_set_new(o, "path", STR_OR_NULL(e->path));
    json_object_set_new(o, "resource_id", STR_OR_NULL(e->resource_id));
    json_object_set_new(o, "status", json_integer(e->status));
    json_object_set_new(o, "detail", detail ? detail : json_null());
#undef STR_OR_NULL
    text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text) return NULL;
    n = strlen(text);
    if ((line = malloc(n + 2)) != NULL) {
        memcpy(line, text, n);
        line[n] = '\n';
        line[n + 1] = '\0';
    }
    free(text);
    return line;
}

/* append_line: writes the line to the file; failures are logged (the caller goes on). */
static void append_line(const struct cat_audit_entry *e)
{
    char *line;
    int fd, rc;
    if (!g_file[0]) return;
    if (!(line = file_line(e))) {
        log_error("audit: cannot format the line of event %lld", (long long)e->seq);
        return;
    }
    pthread_mutex_lock(&g_file_mu);
    fd = open(g_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
    } else {
        rc = fsio_write_full(fd, line, strlen(line));
        if (close(fd) != 0 && rc == 0) rc = -errno;
    }
    pthread_mutex_unlock(&g_file_mu);
    if (rc != 0) log_error("audit: cannot append to %s: %s (the catalog holds the record)", g_file, strerror(-rc));
    free(line);
}

int64_t svc_audit_sweep(struct cat *cat, int64_t now_usecs)
{
    int64_t before = now_usecs - (int64_t)g_retention_days * 86400 * 1000000, total = 0;
    for (int b = 0; b < SVC_AUDIT_SWEEP_BATCHES; b++) {
        int64_t removed = 0;
        int rc = cat_audit_sweep(cat, before, SVC_AUDIT_SWEEP_ROWS, &removed);
        if (rc != 0) {
            log_error("audit: the retention sweep failed (%d)", rc);
            return total ? total : rc;
        }
        total += removed;
        if (removed < SVC_AUDIT_SWEEP_ROWS) return total;
    }
    return total; /* more to do: the next event continues (maybe_sweep) */
}

/* maybe_sweep: the sweep when it is due (one thread claims it). */
static void maybe_sweep(struct cat *cat, int64_t now)
{
    int64_t due = atomic_load(&g_next_sweep), removed;
    if (now < due || !atomic_compare_exchange_strong(&g_next_sweep, &due, now + SVC_AUDIT_SWEEP_EVERY_USECS))
        return;
    removed = svc_audit_sweep(cat, now);
    if (removed > 0) log_info("audit: retention sweep removed %lld entries older than %d days", (long long)removed,
                              g_retention_days);
    if (removed >= (int64_t)SVC_AUDIT_SWEEP_BATCHES * SVC_AUDIT_SWEEP_ROWS)
        atomic_store(&g_next_sweep, now); /* more left: the next event goes on */
}

int svc_audit_record(struct cat *cat, const struct svc_audit_event *ev)
{
    char rid[48];
    struct cat_audit_entry e = {
        .time_usecs = ev->time_usecs ? ev->time_usecs : util_time_now(), .request_id = ev->request_id,
        .actor = ev->actor, .key_id = ev->key_id, .tenant = ev->tenant ? ev->tenant : "",
        .roles = ev->roles ? ev->roles : "", .client = ev->client, .method = ev->method, .route = ev->route,
        .path = ev->path, .resource_id = ev->resource_id, .status = ev->status, .detail = ev->detail,
    };
    int rc;
    if (!e.request_id) {
        svc_audit_request_id(rid, sizeof rid);
        e.request_id = rid;
    }
    rc = cat_audit_append(cat, &e);
    /* a change that was made must be recorded: on a full disk it may use the catalog's reserve (cat.h);
     * a refused or failed request (which changed nothing) does not take it from the runs' failures */
    if (rc == -ENOSPC && e.status >= 200 && e.status < 300 && cat_reserve_release(cat) > 0)
        rc = cat_audit_append(cat, &e);
    if (rc != 0)
        log_error("audit: cannot record %s %s (status %d, key %s) in the catalog (%d)", e.method ? e.method : "?",
                  e.route ? e.route : e.path ? e.path : "-", e.status, e.key_id ? e.key_id : "-", rc);
    append_line(&e);
    if (rc == 0) maybe_sweep(cat, e.time_usecs);
    return rc;
}
