/* cat_snapshot.h: the snapshots protection runs produced (table snapshots, migration 4).
 *
 * One row per object per run that produced a snapshot. The snapshot's id in the API is the id of the
 * snapshot document in the repository (64 hex digits, repo_snapshot_read / eng_restore take it as is),
 * so the two never need a mapping; the row adds what the API lists and filters on: the object, its
 * group and run, times, sizes, retention, legal hold, and whether it was deleted (expired or by
 * request: the repository's snapshot document is then forgotten, and prune reclaims the data).
 *
 * Every function taking a tenant is scoped by it; returns 0, CAT_NOT_FOUND or <0 (logged). */
#ifndef COFFER_CATALOG_CAT_SNAPSHOT_H
#define COFFER_CATALOG_CAT_SNAPSHOT_H
#include "catalog/cat.h"
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct cat_snapshot {
    char *tenant;
    char *id;                  /* repository snapshot id (hex) */
    int64_t object_id;
    char *object_name;
    int64_t source_id;
    char *environment;         /* kPhysical, kSQL */
    char *group_id, *group_name;
    int64_t group_seq;
    int64_t run_usecs;         /* the run's start time (its id with group_seq) */
    int64_t instance_id;       /* the run's protectionGroupInstanceId */
    char *run_type;            /* kRegular, kFull */
    int64_t snapshot_usecs;    /* when the object's backup began */
    int64_t end_usecs;
    char *status;              /* kSuccessful, kWarning */
    int64_t logical_bytes, bytes_read, bytes_written, files, dirs;
    char *parent_id;           /* the snapshot this one was incremental to, or NULL */
    int64_t expiry_usecs;      /* 0 = kept */
    int on_legal_hold;
    int is_deleted;
};
void cat_snapshot_release(struct cat_snapshot *s);

/* cat_snapshot_insert: stores a row (inside the caller's transaction; see cat_run_object_finish). */
int cat_snapshot_insert(struct cat *cat, const struct cat_snapshot *s);
/* cat_snapshot_get: by id, deleted ones too (check is_deleted). */
int cat_snapshot_get(struct cat *cat, const char *tenant, const char *id, struct cat_snapshot *out);
/* cat_snapshot_latest: the newest not deleted snapshot of object made by group (the parent of the
 * next incremental backup); *id malloc'd. CAT_NOT_FOUND when there is none. */
int cat_snapshot_latest(struct cat *cat, const char *tenant, const char *group_id, int64_t object_id, char **id);

/* Listing, oldest first. Every filter is optional (0 / NULL / -1 absent). */
struct cat_snapshot_filter {
    int64_t object_id;                 /* -1 any */
    int64_t from_usecs, to_usecs;      /* snapshot time in [from, to] (0 = open) */
    int64_t run_from_usecs, run_to_usecs;
    json_t *run_types;                 /* strings */
    json_t *group_ids;                 /* strings */
    json_t *instance_ids;              /* integers: the runs' protectionGroupInstanceId */
    const char *environment;
    int64_t source_id;                 /* -1 any: the object's registration, or the object itself */
    int include_deleted;
};
typedef int (*cat_snapshot_fn)(void *ud, const struct cat_snapshot *s);
int cat_snapshot_list(struct cat *cat, const char *tenant, const struct cat_snapshot_filter *f, cat_snapshot_fn fn,
                      void *ud);
/* cat_snapshot_expired: every tenant's not deleted, not legal-held snapshots whose expiry is in
 * (0, now]; fn nonzero stops. */
int cat_snapshot_expired(struct cat *cat, int64_t now_usecs, cat_snapshot_fn fn, void *ud);
/* cat_snapshot_mark_deleted: flags the row deleted; when it was the last live snapshot of its run,
 * the run shows isLocalSnapshotsDeleted. */
int cat_snapshot_mark_deleted(struct cat *cat, const char *tenant, const char *id);

#endif
