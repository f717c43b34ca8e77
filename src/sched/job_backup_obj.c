/* job_backup_obj.c: recording one object of a backup run (job_backup_int.h): its live progress for
 * the monitor, its result and snapshot row in one catalog transaction, the run's messages. Shared by
 * the file-level path (job_backup.c) and the SQL path (job_backup_sql.c). */
#include "sched/job_backup_int.h"
#include "catalog/cat_snapshot.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUN_MESSAGES 50

void backup_on_progress(void *ctx, const struct eng_progress *p)
{
    struct backup_run *b = ctx;
    struct cat_run_object *o = &b->live.obj;
    job_lock(b->j);
    o->files = (int64_t)p->files;
    o->dirs = (int64_t)p->dirs;
    o->bytes_read = (int64_t)p->bytes_done;
    o->bytes_written = (int64_t)p->bytes_added;
    o->logical_bytes = (int64_t)p->logical_bytes;
    if (o->bytes_total > 0) o->pct = 100.0 * (double)p->logical_bytes / (double)o->bytes_total;
    else if (o->files_total > 0) o->pct = 100.0 * (double)p->files / (double)o->files_total;
    if (o->pct > 99) o->pct = 99; /* 100 only once finished */
    b->live.dirty = 1;
    job_unlock(b->j);
}

void backup_publish(struct backup_run *b, const struct cat_run_object *o, int on)
{
    job_lock(b->j);
    b->live.has_obj = on;
    if (on) {
        memset(&b->live.obj, 0, sizeof b->live.obj);
        b->live.obj.object_id = o->object_id;
        b->live.obj.begin_usecs = o->begin_usecs;
        b->live.obj.files_total = o->files_total;
        b->live.obj.bytes_total = o->bytes_total;
        b->live.obj.walk_done = o->walk_done;
        b->live.dirty = 1;
    }
    job_unlock(b->j);
}

void backup_add_message(struct run_tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void backup_add_message(struct run_tally *t, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    if (json_array_size(t->messages) >= MAX_RUN_MESSAGES) return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(t->messages, json_string(buf));
}

/* backup_disk_full: a catalog result, with a failure the catalog saw as a full disk made -ENOSPC. */
int backup_disk_full(int rc)
{
    return rc < 0 && rc != CAT_NOT_FOUND && rc != CAT_CONFLICT && cat_last_error() == -ENOSPC ? -ENOSPC : rc;
}

void backup_finish_object(struct backup_run *b, struct cat_run_object *o, const char *status, const char *message,
                          const struct cat_snapshot *snap, struct run_tally *t)
{
    const struct cat_run *run = b->run;
    struct cat *cat = job_cat(b->j);
    int rc;
    o->status = (char *)status;
    free(o->message);
    o->message = message ? strdup(message) : NULL;
    o->end_usecs = util_time_now();
    if (strcmp(status, "kSuccessful") == 0 || strcmp(status, "kWarning") == 0) o->pct = 100;
    rc = backup_disk_full(cat_run_object_finish(cat, run->tenant, run->group_id, run->start_usecs, o, snap));
    if (rc == -ENOSPC && cat_reserve_release(cat))
        rc = cat_run_object_finish(cat, run->tenant, run->group_id, run->start_usecs, o, snap);
    if (rc != 0) {
        log_error("run %s:%" PRId64 ": cannot record the result of object %" PRId64 "%s", run->group_id,
                  run->start_usecs, o->object_id, rc == -ENOSPC ? ": No space left on device" : "");
        t->failed++;
        backup_add_message(t, "object %" PRId64 ": the result could not be recorded in the catalog%s", o->object_id,
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

/* backup_object_fail: the object ends kFailed with msg, which also goes to the run's messages. */
void backup_object_fail(struct backup_run *b, struct cat_run_object *o, const char *msg, struct run_tally *t)
{
    backup_finish_object(b, o, "kFailed", msg, NULL, t);
    backup_add_message(t, "%s", msg);
}