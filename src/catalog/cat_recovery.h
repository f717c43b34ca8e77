/* cat_recovery.h: recoveries in the catalog (table recoveries, migration 5).
 *
 * A recovery is one restore of files from a snapshot to a host ("restore": RecoverFiles) or one
 * archive of chosen files prepared for download ("download": DownloadFilesAndFolders). The API
 * inserts it Accepted; a recovery worker leases it (Running, lease_owner = that daemon's worker
 * token, lease_expiry = the real time the lease runs out, renewed by the job core: migration 6),
 * reports progress (counters; the answer says whether a cancel was requested) and finishes
 * it as Succeeded, SucceededWithWarning (some files failed and are named), Failed or Canceled. A
 * cancel of an Accepted recovery ends it at once; a Running one becomes Canceling until its worker
 * stops. On start, a daemon fails the recoveries a previous one left Running ("interrupted by
 * daemon restart").
 *
 * request is the job as the API validated it (snapshot, paths, target, options: the worker's
 * input); doc holds the Recovery fields fixed at creation (name, recoveryAction, physicalParams as
 * the client sent them); both are JSON the catalog stores without looking inside.
 *
 * Every function taking a tenant is scoped by it. Returns 0, CAT_NOT_FOUND, CAT_CONFLICT or <0 on
 * an internal error (logged). The catalog never reads a clock: times are parameters. */
#ifndef COFFER_CATALOG_CAT_RECOVERY_H
#define COFFER_CATALOG_CAT_RECOVERY_H
#include "catalog/cat.h"
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* A recovery as read back; strings and JSON are owned, released by cat_recovery_release. */
struct cat_recovery {
    char *tenant, *id;
    int64_t seq;                 /* n of the id "clusterId:incarnationId:n" */
    char *name;
    char *kind;                  /* "restore" or "download" */
    char *snapshot_environment;  /* kPhysical */
    char *recovery_action;       /* RecoverFiles, DownloadFilesAndFolders */
    char *status;                /* Accepted, Running, Canceling, Succeeded, SucceededWithWarning, Failed, Canceled */
    int64_t start_usecs, end_usecs;  /* end 0 while not finished */
    char *snapshot_id;
    int64_t object_id;
    json_t *request, *doc;       /* objects */
    json_t *messages;            /* array of strings */
    json_t *file_errors;         /* array of {"path","message"} */
    int64_t files, dirs, bytes, errors, skipped;
    int64_t archive_bytes;       /* download: the archive's size once ready, else -1 */
    int cancel_requested;
    char *lease_owner;           /* NULL when not leased */
};
void cat_recovery_release(struct cat_recovery *r);

/* What the API inserts (everything borrowed). The recovery starts Accepted at start_usecs. */
struct cat_recovery_new {
    const char *tenant, *id;
    int64_t seq;
    const char *name, *kind, *snapshot_environment, *recovery_action, *snapshot_id;
    int64_t object_id, start_usecs;
    json_t *request, *doc;
};
int cat_recovery_insert(struct cat *cat, const struct cat_recovery_new *n);
int cat_recovery_get(struct cat *cat, const char *tenant, const char *id, struct cat_recovery *out);

/* Listing (GET /recoveries), newest first. Filters: NULL / 0 = absent; arrays hold strings. */
struct cat_recovery_filter {
    json_t *ids, *statuses, *actions, *environments;
    int64_t start_from, start_to;    /* start time in [from, to] */
    int64_t limit;                   /* at most this many (0 = 1000) */
};
typedef int (*cat_recovery_fn)(void *ud, const struct cat_recovery *r);
/* cat_recovery_list: fn for each match; a nonzero return stops and is returned. */
int cat_recovery_list(struct cat *cat, const char *tenant, const struct cat_recovery_filter *f, cat_recovery_fn fn,
                      void *ud);

/* ---------- the worker's side ---------- */

/* cat_recovery_lease_next: the oldest Accepted recovery of any tenant becomes Running, leased by
 * owner until lease_until (real time; migration 6). CAT_NOT_FOUND when there is nothing to do. */
int cat_recovery_lease_next(struct cat *cat, const char *owner, int64_t lease_until, struct cat_recovery *out);
/* cat_recovery_renew: owner's lease is extended to lease_until; *cancel (may be NULL) receives
 * whether a cancel was requested. CAT_NOT_FOUND when owner no longer holds it. */
int cat_recovery_renew(struct cat *cat, const char *tenant, const char *id, const char *owner, int64_t lease_until,
                       int *cancel);
/* cat_recovery_check: cat_recovery_renew without writing (the lease is kept as it is). */
int cat_recovery_check(struct cat *cat, const char *tenant, const char *id, const char *owner, int *cancel);

/* Counters a worker reports. */
struct cat_recovery_stats { int64_t files, dirs, bytes, errors, skipped; };
/* cat_recovery_progress: stores the counters; *cancel (may be NULL) receives whether a cancel was
 * requested. CAT_NOT_FOUND when owner no longer holds it. */
int cat_recovery_progress(struct cat *cat, const char *tenant, const char *id, const char *owner,
                          const struct cat_recovery_stats *st, int *cancel);
/* cat_recovery_finish: the final status, messages (borrowed array of strings, appended to those
 * recorded), file errors (borrowed array, may be NULL), counters, archive size (-1 none) and end
 * time; clears the lease. */
int cat_recovery_finish(struct cat *cat, const char *tenant, const char *id, const char *status, json_t *messages,
                        json_t *file_errors, const struct cat_recovery_stats *st, int64_t archive_bytes,
                        int64_t end_usecs);
/* cat_recovery_fail_running: every Running or Canceling recovery whose lease is not owner's (owner
 * NULL: every one) and, when expired_before is not 0, whose lease expired before it, ends Failed
 * (Canceled when it was Canceling) with message. *n (may be NULL) receives how many. */
int cat_recovery_fail_running(struct cat *cat, const char *owner, int64_t expired_before, const char *message,
                              int64_t end_usecs, int *n);

/* ---------- actions from the API ---------- */

/* cat_recovery_cancel: an Accepted recovery becomes Canceled at once (end_usecs); a Running one
 * Canceling with cancel_requested (its worker stops soon). Canceling or Canceled: nothing to do (0).
 * CAT_CONFLICT when it already finished otherwise. *was_running (may be NULL) says which. */
int cat_recovery_cancel(struct cat *cat, const char *tenant, const char *id, int64_t end_usecs, int *was_running);

/* cat_recovery_downloads_before: download recoveries of every tenant that finished before
 * end_before and still have an archive (archive_bytes >= 0); fn sees each (nonzero stops). */
/* cat_recovery_count_active: the queue's depth: fn(ud, kind, status, count) for each kind and status
 * among Accepted (waiting), Running and Canceling; fn returning non-zero stops. 0 or -1. */
typedef int (*cat_recovery_count_fn)(void *ud, const char *kind, const char *status, int64_t count);
int cat_recovery_count_active(struct cat *cat, cat_recovery_count_fn fn, void *ud);
int cat_recovery_downloads_before(struct cat *cat, int64_t end_before, cat_recovery_fn fn, void *ud);
/* cat_recovery_archive_gone: the archive was removed (archive_bytes = -1, message appended). */
int cat_recovery_archive_gone(struct cat *cat, const char *tenant, const char *id, const char *message);
#endif
