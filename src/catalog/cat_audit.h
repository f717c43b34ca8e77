/* cat_audit.h: the audit log's rows in the catalog (migration 17, table audit_log). One row per
 * audited request or event: who (actor, key id, tenant, roles, client address), what (method, route
 * pattern, path, resource id, detail) and how it ended (status), at util_time_now.
 *
 * Append-only: cat_audit_append inserts; nothing updates a row (a trigger refuses UPDATE); the only
 * delete is cat_audit_sweep's, of rows older than the retention horizon it records in the same
 * transaction (a trigger refuses any other DELETE). Rows are ordered by seq, which only grows;
 * cat_audit_list answers newest first, a page at a time, with seq as the continuation cursor. */
#ifndef COFFER_CATALOG_CAT_AUDIT_H
#define COFFER_CATALOG_CAT_AUDIT_H
#include "catalog/cat.h"
#include <stdint.h>

/* One row. In cat_audit_append the strings are the caller's (NULL where a column may be NULL: key_id,
 * client, route, path, resource_id, detail); in a cat_audit_list callback they are borrowed for the
 * call. detail is a JSON document (text) of Coffer's own names, or NULL. */
struct cat_audit_entry {
    int64_t seq;           /* set by cat_audit_append */
    int64_t time_usecs;
    const char *request_id;
    const char *actor;     /* "api", "scheduler", "signal" */
    const char *key_id;    /* never a secret; NULL when the request was not authenticated */
    const char *tenant;    /* "" for the cluster (no tenant) */
    const char *roles;     /* comma-separated role names, "" for none */
    const char *client;    /* client address, NULL for an event */
    const char *method;
    const char *route;     /* route pattern; NULL when none matched */
    const char *path;      /* the path as sent (without the query), NULL for an event */
    const char *resource_id;
    int status;            /* HTTP status, or 200/500 for an event that succeeded/failed */
    const char *detail;
};

/* cat_audit_append: inserts e (its seq from the "audit" sequence, in one transaction: durable when
 * it returns 0) and sets e->seq. 0, -ENOSPC (disk full), or -1. */
int cat_audit_append(struct cat *cat, struct cat_audit_entry *e);

/* Filters of cat_audit_list; NULL / 0 means "any". */
struct cat_audit_filter {
    const char *tenant;       /* exactly this tenant ("" = the cluster's rows) */
    const char *key_id;
    const char *resource_id;
    const char *method;
    const char *route;        /* a route pattern, exactly */
    int status;               /* 0: any */
    int64_t start_usecs;      /* time_usecs >= start (0: any) */
    int64_t end_usecs;        /* time_usecs <= end (0: any) */
    int64_t before_seq;       /* seq < before_seq (the cursor; 0: from the newest) */
    int limit;                /* rows at most (1..1001: a page of 1000 and one to tell whether more follow) */
};
/* cat_audit_list: calls fn for each matching row, newest first, at most f->limit rows; fn returning
 * nonzero stops (returned). 0, or -1 (logged). */
typedef int (*cat_audit_fn)(void *ud, const struct cat_audit_entry *e);
int cat_audit_list(struct cat *cat, const struct cat_audit_filter *f, cat_audit_fn fn, void *ud);

/* cat_audit_sweep: the retention sweep. Moves the horizon to before_usecs and deletes at most
 * max_rows rows older than it (oldest first), in one transaction. *removed gets the count (fewer than
 * max_rows: none older is left). 0, -ENOSPC, or -1. */
int cat_audit_sweep(struct cat *cat, int64_t before_usecs, int max_rows, int64_t *removed);
#endif
