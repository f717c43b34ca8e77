/* job_backup_int.h: what the backup kind's files share (job_backup.c: the run and the file-level
 * objects; job_backup_sql.c: the objects of a kSQL group; job_backup_obj.c: recording an object's
 * progress and result). Not for use outside src/sched. */
#ifndef COFFER_SCHED_JOB_BACKUP_INT_H
#define COFFER_SCHED_JOB_BACKUP_INT_H
#include "catalog/cat_group.h"
#include "catalog/cat_run.h"
#include "engine/mover.h"
#include "sched/job.h"
#include "sched/spec.h"
#include <jansson.h>

/* The live state of a run, read by backup_flush (guarded by the job lock). */
struct backup_live {
    int has_obj;               /* an object is being backed up: obj holds its counters */
    struct cat_run_object obj; /* numeric fields only (no strings) */
    int dirty;                 /* obj changed since the monitor last wrote it */
};

/* One run being executed. */
struct backup_run {
    struct job *j;
    const struct cat_run *run;
    const struct cat_group *g;
    const struct mover *mover;
    enum mover_env env;
    struct sched *s;
    struct backup_live live;
    char run_id[48];           /* "<group n>:<start usecs>": the run in logs and snapshot documents */
};

struct run_tally {
    int ok, warned, failed, canceled;
    json_t *messages; /* the run's messages */
    int stop;         /* cancelled or stopping: no more objects */
    json_t *checkpoints; /* {"<object id>":"<snapshot id>"}: the run's pause checkpoints (owned) */
};

/* backup_on_progress: the mover's progress callback (ctx: the backup_run): copies the counters into
 * the run's live state for the monitor's flush. */
void backup_on_progress(void *ctx, const struct eng_progress *p);
/* backup_publish: on: the object o is now the one being backed up (its totals published); off: none. */
void backup_publish(struct backup_run *b, const struct cat_run_object *o, int on);
/* backup_add_message: appends to the run's messages (at most 50). */
void backup_add_message(struct run_tally *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* backup_disk_full: a catalog result, a failure the catalog saw as a full disk made -ENOSPC. */
int backup_disk_full(int rc);
/* backup_finish_object: records o's result (status, message) with snap (may be NULL) in one catalog
 * transaction (the catalog's space reserve released once on a full disk) and counts it in t. */
struct cat_snapshot;
void backup_finish_object(struct backup_run *b, struct cat_run_object *o, const char *status, const char *message,
                          const struct cat_snapshot *snap, struct run_tally *t);
/* backup_object_fail: o ends kFailed with msg, which also goes to the run's messages. */
void backup_object_fail(struct backup_run *b, struct cat_run_object *o, const char *msg, struct run_tally *t);

/* backup_sql_objects (job_backup_sql.c): the objects of a kSQL group's run, one snapshot per instance. */
void backup_sql_objects(struct backup_run *b, const struct spec_group *gs, struct run_tally *t);
#endif
