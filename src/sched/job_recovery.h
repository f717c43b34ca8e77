/* job_recovery.h: what the recovery kinds (job_restore.c, job_download.c) share: the recoveries
 * queue (cat_recovery.h) and the common course of a recovery (job_recovery.c). Not for use outside
 * src/sched.
 *
 * A recovery job: its typed spec (job_spec.h) is parsed from the stored document, the kind's body
 * moves the data through the mover of the snapshot's environment, and the end is recorded: Succeeded,
 * SucceededWithWarning (files that could not be restored or read are named in messages, the rest is
 * done), Failed, Canceled (a cancel request) or Failed "interrupted by daemon shutdown" (a stop). A
 * full disk refusing the end is retried once with the catalog's space reserve released. */
#ifndef COFFER_SCHED_JOB_RECOVERY_H
#define COFFER_SCHED_JOB_RECOVERY_H
#include "catalog/cat_recovery.h"
#include "engine/mover.h"
#include "sched/job.h"
#include "sched/job_spec.h"

#define RECOVERY_MAX_MESSAGES 100     /* messages naming failed files; the rest is counted */
#define RECOVERY_MAX_FILE_ERRORS 1000 /* {"path","message"} kept with the recovery */

/* The live counters of a recovery, read by the monitor's flush (guarded by the job lock). */
struct recovery_live {
    struct cat_recovery_stats st, base; /* base: counters of earlier mover calls of this job */
};

/* The result being built. */
struct recovery_outcome {
    json_t *messages;    /* strings */
    json_t *file_errors; /* {"path","message"} */
    int64_t n_failed;    /* files named in errors, all of them */
};

/* One recovery being executed: what a kind's body gets. */
struct recovery_exec {
    struct job *j;
    const struct cat_recovery *r;
    struct job_recovery_spec spec;
    const struct mover *mover;
    struct recovery_live live;
    struct recovery_outcome o;
    struct cat_recovery_stats tot;
    int64_t archive_bytes; /* download: the archive's size once ready, else -1 */
};

typedef int (*recovery_body_fn)(struct recovery_exec *x, char *err, size_t errlen);

extern const struct job_queue job_queue_recoveries;
/* recovery_job_run: the common course of a recovery around body; verb names failed files ("restore"). */
void recovery_job_run(struct job *j, recovery_body_fn body, const char *verb);
/* recovery_flush: the monitor's progress write (job_kind.flush of both kinds). */
int recovery_flush(struct job *j);
void recovery_outcome_errors(struct recovery_outcome *o, const char *verb, json_t *errors);
/* recovery_set_live: publishes counters (the mover's progress or a body's own). */
void recovery_set_live(struct recovery_exec *x, const struct cat_recovery_stats *st);
#endif
