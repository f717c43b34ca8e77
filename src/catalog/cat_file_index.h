/* cat_file_index.h: the file index behind indexed search (tables fidx_snapshots, fidx_paths,
 * fidx_name, fidx_path, fidx_versions; migration 5).
 *
 * Every path found in a snapshot of an object is stored once per (tenant, object) in fidx_paths
 * (path, name = last component, type as last indexed), with FTS5 trigram indexes over names and
 * over paths for substring and prefix queries (LIKE '%abc%', LIKE 'abc%': three characters or more use
 * the index; shorter patterns scan). fidx_versions says which snapshots hold a path, with its type,
 * size and mtime there, so a file deleted since is still found together with the snapshots that
 * have it. fidx_snapshots records each snapshot the indexer took (InProgress, Done, Error) under a
 * small integer `no` that version rows use instead of the 64-digit snapshot id.
 *
 * The indexer (the index job kind, src/sched/job_index.c) asks cat_fidx_next for work, walks the
 * snapshot and calls cat_fidx_add for every entry inside transactions of its own (cat_begin /
 * cat_commit), then cat_fidx_finish. When a snapshot is deleted (retention or request), cat_fidx_purge_step removes
 * its versions and the paths no snapshot holds any more.
 *
 * Every function taking a tenant is scoped by it. Returns 0, CAT_NOT_FOUND or another negative code
 * (logged): cat.h. */
#ifndef COFFER_CATALOG_CAT_FILE_INDEX_H
#define COFFER_CATALOG_CAT_FILE_INDEX_H
#include "catalog/cat.h"
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Entry types as stored (the API shows OTHER, a fifo, socket or device, as "File"). */
#define CAT_FIDX_FILE 1
#define CAT_FIDX_DIR 2
#define CAT_FIDX_SYMLINK 3
#define CAT_FIDX_OTHER 4

/* ---------- the indexer's side ---------- */

/* A snapshot to index; strings owned, released by cat_fidx_job_release. */
struct cat_fidx_job {
    char *tenant, *snapshot_id;
    int64_t object_id;
    int resumed;          /* a previous daemon began it and did not finish */
};
void cat_fidx_job_release(struct cat_fidx_job *j);
/* cat_fidx_next: the oldest live kPhysical snapshot not indexed yet, or one left InProgress by a
 * previous daemon. CAT_NOT_FOUND when there is none. */
int cat_fidx_next(struct cat *cat, struct cat_fidx_job *out);
/* cat_fidx_begin: records that indexing of the snapshot starts (status InProgress) and gives its
 * number for cat_fidx_add. A resumed snapshot keeps its number (adding again is idempotent). */
int cat_fidx_begin(struct cat *cat, const char *tenant, const char *snapshot_id, int64_t object_id,
                   int64_t now_usecs, int64_t *no);

struct cat_fidx_entry {
    const char *path;      /* absolute, as in the snapshot ("/etc/passwd") */
    int type;              /* CAT_FIDX_* */
    int64_t size;          /* bytes (files), 0 otherwise */
    int64_t mtime_usecs;
};
/* cat_fidx_add: path e->path of object holds e in snapshot no. Call inside cat_begin/cat_commit;
 * batching thousands of entries per transaction is what makes indexing fast. */
int cat_fidx_add(struct cat *cat, const char *tenant, int64_t object_id, int64_t no, const struct cat_fidx_entry *e);
/* cat_fidx_finish: status "Done" or "Error" (message says why), entries indexed, end time. */
int cat_fidx_finish(struct cat *cat, int64_t no, const char *status, const char *message, int64_t entries,
                    int64_t now_usecs);
/* cat_fidx_purge_step: takes one indexed snapshot that was deleted (or whose snapshot row is gone)
 * and removes up to max_rows of its version rows, with the paths left without any version, in one
 * transaction; the snapshot's own row goes with its last versions. *done (may be NULL) receives the
 * number of version rows removed (0: nothing to purge). */
int cat_fidx_purge_step(struct cat *cat, int max_rows, int *done);

/* cat_fidx_status: the snapshot's indexingStatus as the API shows it: "Done", "InProgress" (being
 * indexed or waiting for the indexer), "Error" or "NoIndex" (not a file snapshot, or deleted).
 * A static string; NULL when the snapshot is unknown to tenant or on error. */
const char *cat_fidx_status(struct cat *cat, const char *tenant, const char *snapshot_id);

/* ---------- search ---------- */

struct cat_fidx_query {
    const char *like;        /* LIKE pattern (case-insensitive for ASCII) on the name, or on the
                                whole path when on_path; NULL = every path */
    int on_path;
    json_t *object_ids;      /* array of integers, or NULL */
    json_t *source_ids;      /* array of integers (registrations), or NULL */
    json_t *group_ids;       /* array of strings: held by a live snapshot of these groups, or NULL */
    unsigned type_mask;      /* bit (1 << CAT_FIDX_*) per wanted type; 0 = any */
    int64_t after_id;        /* only paths whose id is greater (pagination) */
};
/* A match, valid during the callback only. */
struct cat_fidx_hit {
    int64_t path_id, object_id;
    const char *path, *name;
    int type;
};
/* cat_fidx_search: calls fn for each match in path id order; fn returns 0 to go on, nonzero to
 * stop (that value is returned). fn may call other catalog functions. */
typedef int (*cat_fidx_hit_fn)(void *ud, const struct cat_fidx_hit *h);
int cat_fidx_search(struct cat *cat, const char *tenant, const struct cat_fidx_query *q, cat_fidx_hit_fn fn,
                    void *ud);

/* One live snapshot holding a path, valid during the callback only. */
struct cat_fidx_version {
    const char *snapshot_id, *group_id, *group_name, *policy_id, *policy_name;
    int64_t group_seq, run_usecs, snapshot_usecs;
    int type;
    int64_t size, mtime_usecs;
};
/* cat_fidx_versions: the live snapshots holding path_id, newest first; fn nonzero stops. */
typedef int (*cat_fidx_version_fn)(void *ud, const struct cat_fidx_version *v);
int cat_fidx_versions(struct cat *cat, const char *tenant, int64_t path_id, cat_fidx_version_fn fn, void *ud);

/* cat_fidx_count: indexed paths of tenant (for tests and the bench). */
int cat_fidx_count(struct cat *cat, const char *tenant, int64_t *paths, int64_t *versions);
#endif
