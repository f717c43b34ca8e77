/* cat_run.h: protection runs in the catalog (tables runs, run_objects, sched_state; migration 4).
 *
 * A run is one backup of a protection group: queued (Accepted) by the API or the scheduler, leased
 * by a worker (Running, lease_owner + lease_expiry so that a restarted daemon knows which runs were
 * interrupted), and finished as Succeeded, SucceededWithWarning, Failed or Canceled. A scheduled slot
 * that came while the group's previous run was still going is recorded as a Missed run. Its
 * identity within the tenant is (group, start time); the API forms its run id from the group's n
 * (group_seq) and the start time (api/run_json.h).
 *
 * run_objects holds one row per object of a run: its status (kInProgress, kSuccessful, kWarning,
 * kFailed), progress (updated while it runs), stats and the snapshot it produced.
 *
 * Every function taking a tenant is scoped by it. Functions return 0, CAT_NOT_FOUND, CAT_CONFLICT or
 * <0 on an internal error (logged). The catalog never reads a clock: times are parameters. */
#ifndef COFFER_CATALOG_CAT_RUN_H
#define COFFER_CATALOG_CAT_RUN_H
#include "catalog/cat.h"
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* A run as read back; strings and JSON are owned, released by cat_run_release. */
struct cat_run {
    char *tenant;
    char *group_id;
    char *group_name;
    int64_t group_seq;
    int64_t start_usecs;       /* the run's start (queue) time; with group_seq its id */
    int64_t end_usecs;         /* 0 while not finished */
    int64_t instance_id;       /* protectionGroupInstanceId: unique, increasing */
    char *run_type;            /* kRegular, kFull */
    char *status;              /* Accepted, Running, Succeeded, SucceededWithWarning, Failed, Canceled, Missed */
    int scheduled;             /* started by the scheduler, not by the API */
    json_t *objects;           /* the requested subset (array of object ids) or NULL = every object */
    json_t *messages;          /* array of strings */
    int64_t logical_bytes, bytes_read, bytes_written;
    int cancel_requested;
    int on_legal_hold;
    int local_deleted;         /* its local snapshots were deleted (by request or expiry) */
    int64_t expiry_usecs;      /* retention of its snapshots; 0 = kept */
    char *data_lock;           /* Administrative, Compliance or NULL */
    char *lease_owner;         /* NULL when not leased */
    int64_t lease_expiry;
    /* Derived from the run's objects when read: */
    int64_t objects_total, objects_ok, objects_failed, objects_canceled, files, dirs;
    char *environment;         /* the group's (kPhysical, kSQL), read with the run; NULL if unknown */
    /* retryOptions (migration 15): */
    int64_t attempt;           /* 1, then 1 more per retry */
    int64_t retry_at;          /* an Accepted run is not leased before this time (0: at once) */
    json_t *failed_attempts;   /* NULL or [{"object_id","begin_usecs","end_usecs","message"}] */
    /* pause and resume (migration 15): */
    int pause_requested;       /* a pause was asked of the Running run; its worker stops at a checkpoint */
    json_t *checkpoints;       /* NULL or {"<object id>":"<snapshot id>"}: what a Paused run has stored */
};
void cat_run_release(struct cat_run *r);

/* One object of a run. */
struct cat_run_object {
    int64_t object_id;
    char *object_name, *source_name, *environment, *object_type;
    int64_t source_id;
    char *status;              /* kInProgress, kSuccessful, kWarning, kFailed */
    char *message;             /* why it failed, or NULL */
    char *snapshot_id;         /* the snapshot it produced, or NULL */
    int64_t begin_usecs, end_usecs;  /* 0 = not started / not finished */
    int64_t logical_bytes, bytes_read, bytes_written;
    int64_t files, dirs;       /* entries done (final counts once finished) */
    int64_t files_read;        /* files whose data was read (not taken unchanged from the parent) */
    int64_t files_total, bytes_total; /* estimates for progress; -1 unknown */
    int walk_done;             /* the estimate is complete */
    double pct;                /* 0..100 */
    json_t *warnings;          /* array of strings, or NULL */
};
void cat_run_object_release(struct cat_run_object *o);

/* cat_run_insert: a new run of group. status is "Accepted" (then CAT_CONFLICT when the group already
 * has a run Accepted or Running: never two runs of a group at once) or "Missed" (finished at once
 * with message). *start_usecs is the wished start time; it is moved forward by microseconds until
 * unique within the group and returned. objects (borrowed, may be NULL) is the requested subset.
 * Runs its own transaction. */
struct cat_run_new {
    const char *tenant, *group_id, *group_name;
    int64_t group_seq;
    const char *run_type, *status, *message;
    int scheduled;
    json_t *objects;
    int64_t expiry_usecs;      /* 0 = kept */
};
int cat_run_insert(struct cat *cat, const struct cat_run_new *n, int64_t *start_usecs);

int cat_run_get(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs, struct cat_run *out);
/* cat_run_find: by the run id's parts (the group is found by its n). */
int cat_run_find(struct cat *cat, const char *tenant, int64_t group_seq, int64_t start_usecs, struct cat_run *out);
/* cat_run_active: 1 when group has a run Accepted or Running, 0 when not, <0 on error. */
int cat_run_active(struct cat *cat, const char *tenant, const char *group_id);

/* cat_run_count_by_status: calls fn once per run status present in the catalog (every tenant) with
 * the number of runs in it, in status order; fn nonzero stops and is returned. 0, or -1 on error. */
typedef int (*cat_run_count_fn)(void *ud, const char *status, int64_t count);
int cat_run_count_by_status(struct cat *cat, cat_run_count_fn fn, void *ud);

/* cat_run_objects: the objects of a run in object id order; *out malloc'd (release each, then free). */
int cat_run_objects(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                    struct cat_run_object **out, size_t *n);

/* Listing (GET .../runs): newest first. Filters: 0 / NULL = absent. */
struct cat_run_filter {
    int64_t start_from, start_to;  /* start time in [from, to] */
    int64_t only_start;            /* runId's start time (exact) */
    json_t *run_types;             /* strings: kRegular, kFull (kIncremental = kRegular, kAll = any) */
    json_t *statuses;              /* strings */
    int restorable_only;           /* has a snapshot not deleted */
    int64_t limit;                 /* at most this many (0 = 100) */
};
typedef int (*cat_run_fn)(void *ud, const struct cat_run *r);
/* cat_run_list: calls fn for each match (fn nonzero stops and is returned); *total (may be NULL)
 * receives the number of matches regardless of limit. */
int cat_run_list(struct cat *cat, const char *tenant, const char *group_id, const struct cat_run_filter *f,
                 cat_run_fn fn, void *ud, int64_t *total);

/* cat_group_list_last_run: cat_group_list (cat_group.h: same filters, order and doc) with each
 * group's newest run (the run GET ?includeLastRunInfo shows), or NULL when it has none: two
 * statements stepped side by side, not one per group. Both valid during the call; fn returns 0 to go on, nonzero to stop (returned). */
struct cat_group_filter;
typedef int (*cat_group_run_fn)(void *ud, const char *id, const char *doc, size_t len, const struct cat_run *last);
int cat_group_list_last_run(struct cat *cat, const char *tenant, const struct cat_group_filter *f,
                            cat_group_run_fn fn, void *ud);

/* ---------- the worker's side ---------- */

/* cat_run_lease_next: takes the oldest Accepted run whose group has no Running run: it becomes
 * Running, leased by owner until lease_until. CAT_NOT_FOUND when there is nothing to do. */
int cat_run_lease_next(struct cat *cat, const char *owner, int64_t lease_until, struct cat_run *out);
/* cat_run_lease_next_at: the same, among runs whose retry_at is at most now (cat_run_lease_next: any). */
int cat_run_lease_next_at(struct cat *cat, const char *owner, int64_t lease_until, int64_t now, struct cat_run *out);
/* cat_run_renew: extends the lease; *cancel (may be NULL) receives cancel_requested. CAT_NOT_FOUND
 * when owner no longer holds the run (it was taken away). */
int cat_run_renew(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                  const char *owner, int64_t lease_until, int *cancel);
/* cat_run_check: whether owner still holds the run (CAT_NOT_FOUND when not) and, in *cancel,
 * whether a cancel was requested. Read-only (the monitor asks twice a second). */
int cat_run_check(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                  const char *owner, int *cancel);
/* cat_run_object_add: records the objects the run will back up (status kInProgress, not begun). */
int cat_run_object_add(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                       const struct cat_run_object *o);
/* cat_run_object_progress: the object's running counters (status stays kInProgress). */
int cat_run_object_progress(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                            const struct cat_run_object *o);
/* cat_run_object_finish: the object's result; with snap (may be NULL) the snapshot row is inserted
 * in the same transaction, and the run's totals grow by the object's bytes. Runs its transaction. */
struct cat_snapshot;
int cat_run_object_finish(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                          const struct cat_run_object *o, const struct cat_snapshot *snap);
/* cat_run_finish: the run's final status, messages (borrowed array of strings, appended) and end
 * time; clears the lease. Objects still kInProgress become kFailed with the first message. */
int cat_run_finish(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                   const char *status, json_t *messages, int64_t end_usecs);
/* cat_run_retry: a Running run whose attempt failed waits for its next one: the failed and unfinished
 * objects' rows become entries of failed_attempts and are dropped (finished objects stay done), the
 * run goes back to Accepted (lease cleared) with attempt + 1, not leased before retry_at, and
 * messages (borrowed array of strings) appended. CAT_NOT_FOUND when it is not Running. */
int cat_run_retry(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs, int64_t retry_at,
                  json_t *messages);
/* cat_run_pause_request: Pause (resume 0): a Running run gets pause_requested (its worker sees it
 * through cat_run_check / cat_run_renew, which answer 2), an Accepted one becomes Paused at once.
 * Resume (resume 1): a Paused run becomes Accepted (queued again), a Running one loses its pause
 * request. CAT_CONFLICT for any other status. */
int cat_run_pause_request(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                          int resume);
/* cat_run_pause: the worker's side: a Running run becomes Paused (lease cleared, unfinished objects'
 * rows dropped, finished ones kept) with checkpoints (borrowed, may be NULL) and message appended. */
int cat_run_pause(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs, json_t *checkpoints,
                  const char *message);
/* cat_run_requeue: a run interrupted by a daemon shutdown goes back to Accepted (lease cleared,
 * objects' progress forgotten, message recorded) so that the next start runs it again. */
int cat_run_requeue(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                    const char *message);
/* cat_run_fail_running: every Running run whose lease is not owner's (owner NULL: every one) and,
 * when expired_before > 0, whose lease expired before it, becomes Failed with message at end_usecs.
 * *n (may be NULL) receives how many. */
int cat_run_fail_running(struct cat *cat, const char *owner, int64_t expired_before, const char *message,
                         int64_t end_usecs, int *n);
/* cat_run_fail_orphans: every Running run leased by owner whose lease expired before expired_before
 * and for which is_live(ud, tenant, group_id, start_usecs) returns 0 (no thread of owner runs it)
 * becomes Failed with message. is_live is called inside the catalog's transaction: it must not use
 * the catalog. *n (may be NULL) receives how many. */
typedef int (*cat_run_live_fn)(void *ud, const char *tenant, const char *group_id, int64_t start_usecs);
int cat_run_fail_orphans(struct cat *cat, const char *owner, int64_t expired_before, cat_run_live_fn is_live, void *ud,
                         const char *message, int64_t end_usecs, int *n);

/* ---------- actions from the API ---------- */

/* cat_run_cancel: an Accepted run becomes Canceled at once (end_usecs); a Running one gets
 * cancel_requested (its worker stops at the next progress update). CAT_CONFLICT when it already
 * finished. *was_running (may be NULL) says which. */
int cat_run_cancel(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                   int64_t end_usecs, int *was_running);
/* cat_run_note: appends a message to a run's messages (actions that were recorded but not applied). */
int cat_run_note(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs, const char *message);
/* cat_run_update_local: UpdateLocalSnapshotConfig: legal hold (-1 keep), expiry (-1 keep), data lock
 * (NULL keep), and delete_snapshots (marks the run's snapshots deleted, not those on legal hold:
 * CAT_CONFLICT then). Applied to the run and its snapshots in one transaction. */
int cat_run_update_local(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                         int legal_hold, int64_t expiry_usecs, const char *data_lock, int delete_snapshots,
                         int64_t now_usecs);

/* cat_run_group_deleted: for DELETE protection-groups/{id}, inside the caller's transaction: the
 * group's queued run is Canceled, a running one is asked to cancel, and with delete_snapshots its
 * snapshots not on legal hold expire at now (the retention pass deletes them within a minute) and the
 * group remembers it, so a snapshot that a still-finishing run commits later expires at once too. */
int cat_run_group_deleted(struct cat *cat, const char *tenant, const char *group_id, int delete_snapshots,
                          int64_t now_usecs);

/* ---------- the scheduler's memory ---------- */

/* The last instant up to which a group's schedule was handled (0 = never seen). */
int cat_sched_get(struct cat *cat, const char *tenant, const char *group_id, int64_t *last_usecs);
int cat_sched_put(struct cat *cat, const char *tenant, const char *group_id, int64_t last_usecs);
/* cat_sched_claim: claims the firing of a group's schedule slot (table sched_fires, migration 19) for
 * node, so that of several schedulers on one catalog exactly one acts on it: 1 claimed (act on the
 * slot; also when node itself claimed it before: a pass retried after a failure), 0 another node
 * did, <0 error. */
int cat_sched_claim(struct cat *cat, const char *tenant, const char *group_id, int64_t slot_usecs, const char *node,
                    int64_t now_usecs);

#endif
