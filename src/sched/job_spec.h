/* job_spec.h: the typed specs of jobs, what the API builds from a validated wire body and the job
 * kinds take. The core owns their persisted form: a versioned JSON document with its own field names
 * (never the wire's), {"v":1,...}, stored by the queue with the job and parsed back by the worker.
 *
 * Recovery spec (restore and download jobs), version 1:
 *   {"v":1, "snapshot":hex, "items":[{"path":"/abs", "dir":bool, "target":"/dir"|null}, ...],
 *    "overwrite":bool, "preserve_attrs":bool, "continue_on_error":bool, "agent":"<connector id>"?}
 * "agent" (optional): the target host is served by that coffer-agent; the restore is its work.
 * An item whose target is null goes back to its original path; else it is restored as
 * target/<basename of path> (eng_restore's layout). A download uses snapshot and items only.
 *
 * Run spec (a backup run of a protection group): its type and the requested subset of objects; the
 * runs queue keeps them in typed columns (run_type, objects). */
#ifndef COFFER_SCHED_JOB_SPEC_H
#define COFFER_SCHED_JOB_SPEC_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define JOB_SPEC_VERSION 1

struct job_recovery_item {
    char *path;   /* absolute path in the snapshot */
    int is_dir;
    char *target; /* NULL: the original location */
};

struct job_recovery_spec {
    char *snapshot_id;
    struct job_recovery_item *items;
    size_t n_items;
    int overwrite, preserve_attrs, continue_on_error;
    char *agent_connector; /* restore: the coffer-agent connector serving the target host (NULL: local) */
};

/* job_recovery_spec_add: appends an item (strings copied; target may be NULL). 0 or -ENOMEM. */
int job_recovery_spec_add(struct job_recovery_spec *s, const char *path, int is_dir, const char *target);
/* job_recovery_spec_doc: the versioned document of s (a new reference), or NULL without memory. */
json_t *job_recovery_spec_doc(const struct job_recovery_spec *s);
/* job_recovery_spec_parse: s from a document; -EINVAL (with err) when it is not a version this
 * daemon reads or is malformed. Release with job_recovery_spec_release. */
int job_recovery_spec_parse(json_t *doc, struct job_recovery_spec *s, char *err, size_t errlen);
void job_recovery_spec_release(struct job_recovery_spec *s);

enum job_run_type { JOB_RUN_REGULAR, JOB_RUN_FULL, JOB_RUN_LOG /* kSQL groups: seal the WAL */ };

struct job_run_spec {
    enum job_run_type type;
    const int64_t *objects; /* the requested subset (borrowed), or NULL with n_objects 0: every object */
    size_t n_objects;
    int scheduled;          /* queued by the scheduler (else by a request) */
};
#endif
