/* cat_snapshot.h: the snapshots protection runs produced (table snapshots, migration 4).
 *
 * One row per object per run that produced a snapshot. The snapshot's id in the API is the id of the
 * snapshot document in the repository (64 hex digits, repo_snapshot_read / eng_restore take it as is),
 * so the two never need a mapping; the row adds what the API lists and filters on: the object, its
 * group and run, times, sizes, retention, legal hold, and whether it was deleted (expired or by
 * request: the repository's snapshot document is then forgotten, and prune reclaims the data).
 *
 * A SQL snapshot (environment kSQL, migration 11) is of one kInstance object (object_id) and adds
 * struct cat_snapshot_sql: a base backup (run type kFull or kRegular) its start/stop LSN, timeline and
 * stop time (the consistent point it restores to); a sealed WAL snapshot (run type kLog) its LSN
 * range and the time range its WAL covers. A base backup also lists the databases and tables the
 * instance held at backup time (table snapshot_objects, cat_snapshot_objects_list).
 *
 * Every function taking a tenant is scoped by it; returns 0, CAT_NOT_FOUND or <0 (logged). */
#ifndef COFFER_CATALOG_CAT_SNAPSHOT_H
#define COFFER_CATALOG_CAT_SNAPSHOT_H
#include "catalog/cat.h"
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* What a SQL snapshot adds (all zero / NULL for other environments). */
struct cat_snapshot_sql {
    int present;                /* 1: this is a SQL snapshot with the fields below */
    uint64_t start_lsn;         /* base backup: pg_backup_start's LSN; kLog: the first segment's start */
    uint64_t end_lsn;           /* base backup: the stop LSN; kLog: the last segment's end */
    int64_t timeline;
    int64_t consistent_usecs;   /* base backup: pg_backup_stop's time (the moment it restores to); kLog 0 */
    int64_t wal_from_usecs;     /* kLog: when its first segment was complete ... */
    int64_t wal_to_usecs;       /* ... and its last one: every commit in its WAL is before this */
    json_t *databases;          /* owned: the database names the run asked for; NULL = the whole instance */
};

/* One database or table a SQL base backup held (read from the instance at backup time). */
struct cat_snapshot_object {
    const char *kind;           /* "database" or "table" */
    const char *name;           /* database name, or "schema.table" */
    const char *parent;         /* a table's database; NULL for a database */
    int64_t bytes;              /* pg_database_size / pg_total_relation_size at backup time */
};

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
    struct cat_snapshot_sql sql;
    /* Insert only (borrowed; get and list leave them NULL): the objects of a SQL base backup. */
    const struct cat_snapshot_object *objects;
    size_t n_objects;
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
/* cat_snapshot_mark_expired: the same, only while the row is not deleted, not legal-held and expired
 * at now (one conditional UPDATE): of several nodes' retention passes expiring it at once, exactly one
 * gets 0, the others CAT_NOT_FOUND (as does a snapshot whose expiry was extended meanwhile). */
int cat_snapshot_mark_expired(struct cat *cat, const char *tenant, const char *id, int64_t now_usecs);

/* cat_snapshot_objects_list: the databases and tables a SQL base backup held, databases first, then
 * each database's tables by name; fn (its strings borrowed for the call) nonzero stops and is
 * returned. CAT_NOT_FOUND when tenant has no such snapshot; 0 with no call for a snapshot without
 * objects (a kLog snapshot, a physical one). */
typedef int (*cat_snapshot_object_fn)(void *ud, const struct cat_snapshot_object *o);
int cat_snapshot_objects_list(struct cat *cat, const char *tenant, const char *snapshot_id,
                              cat_snapshot_object_fn fn, void *ud);

#endif
