/* cat_group.h: protection groups in the catalog (tables protection_groups and
 * protection_group_objects, migration 2).
 *
 * A group row holds its tenant, id ("clusterId:incarnationId:n"), n (list order), name (unique among
 * the tenant's live groups), policy id, environment (kPhysical, kSQL), the flags lists filter on
 * (is_active, is_paused, is_deleted), modification time and doc: the whole ProtectionGroupResponse
 * JSON text as the API last wrote it. The ids of the objects the group protects are kept in
 * protection_group_objects (for policy statistics and for finding the groups of an object).
 *
 * Deletion is soft: is_deleted = 1 keeps the row, so runs and snapshots still find their group, and
 * frees the name. Runs are added by a later migration (last-run columns or a runs table joined by
 * group id); nothing here needs to change for that.
 *
 * Every function taking a tenant is scoped by it: another tenant's group is CAT_NOT_FOUND and never
 * listed. Returns 0, CAT_NOT_FOUND, CAT_CONFLICT or <0 on an internal error (logged). */
#ifndef COFFER_CATALOG_CAT_GROUP_H
#define COFFER_CATALOG_CAT_GROUP_H
#include "catalog/cat.h"
#include <stddef.h>
#include <stdint.h>

/* A group as read back; strings and doc are malloc'd, released by cat_group_release. */
struct cat_group {
    char *id;
    char *tenant;
    char *name;
    char *policy_id;
    char *environment;       /* kPhysical, kSQL */
    int64_t seq;
    int is_active, is_paused, is_deleted;
    int64_t mtime_usecs, created_usecs;
    char *doc;               /* ProtectionGroupResponse JSON text, kept to echo back (API only) */
    size_t doc_len;
};
void cat_group_release(struct cat_group *g);

/* What a create or update writes; everything borrowed. */
struct cat_group_write {
    const char *tenant;
    const char *id;
    int64_t seq;               /* insert only */
    const char *name;
    const char *policy_id;
    const char *environment;
    int is_active, is_paused;
    const char *doc;
    const char *spec;          /* the internal document (sched/spec.h: spec_group_encode); may be NULL */
    int64_t mtime_usecs;
    const int64_t *object_ids; /* the objects the group protects (may repeat; stored once) */
    size_t nobjects;
};

/* cat_group_insert: a new live group and its objects. CAT_CONFLICT when tenant has a live group with
 * this name. Call inside cat_begin/cat_commit (several statements). */
int cat_group_insert(struct cat *cat, const struct cat_group_write *w);
/* cat_group_update: replaces name, policy, environment, flags, doc, time and objects of a live
 * group. CAT_NOT_FOUND (also for a deleted group), CAT_CONFLICT (name). Inside cat_begin/cat_commit. */
int cat_group_update(struct cat *cat, const struct cat_group_write *w);
/* cat_group_mark_deleted: soft-deletes a live group, storing its final doc (isDeleted true). */
int cat_group_mark_deleted(struct cat *cat, const char *tenant, const char *id, const char *doc,
                           int64_t mtime_usecs);

/* cat_group_get: the group (deleted ones too: check is_deleted) with its doc. For the scheduler and
 * the runs: policy_id, is_paused, is_active, is_deleted and doc (physicalParams / mssqlParams). */
int cat_group_get(struct cat *cat, const char *tenant, const char *id, struct cat_group *out);
/* cat_group_get_doc: the GET hot path: only the doc text (malloc'd, may be NULL to skip), its
 * modification time and deleted flag (each may be NULL). */
int cat_group_get_doc(struct cat *cat, const char *tenant, const char *id, char **doc, size_t *len,
                      int64_t *mtime_usecs, int *is_deleted);
/* cat_group_objects: the object ids a group protects, ascending; *ids malloc'd (NULL when n = 0). */
int cat_group_objects(struct cat *cat, const char *tenant, const char *id, int64_t **ids, size_t *n);

/* List filters: JSON arrays of strings (NULL = no filter); flags -1 = any, 0 or 1 to match.
 * is_deleted is 0 (live groups, the default of the API) or 1 (deleted ones). */
struct cat_group_filter {
    json_t *ids, *names, *policy_ids, *environments;
    int is_active, is_paused, is_deleted;
};
/* cat_group_list: calls fn for each of tenant's groups matching f, in creation order, with its id
 * and doc text (valid during the call). fn returns 0 to go on, nonzero to stop (returned). */
typedef int (*cat_group_doc_fn)(void *ud, const char *id, const char *doc, size_t len);
int cat_group_list(struct cat *cat, const char *tenant, const struct cat_group_filter *f, cat_group_doc_fn fn,
                   void *ud);

/* cat_group_list_schedulable: for the scheduler: every active, not deleted group of every tenant
 * (paused ones included, with is_paused set: the scheduler skips them), ordered by tenant then
 * creation. The struct is valid during the call only. fn returns 0 to go on, nonzero to stop. */
typedef int (*cat_group_fn)(void *ud, const struct cat_group *g);
int cat_group_list_schedulable(struct cat *cat, cat_group_fn fn, void *ud);

/* cat_group_count_by_policy: live (not deleted) groups of tenant using the policy. */
int cat_group_count_by_policy(struct cat *cat, const char *tenant, const char *policy_id, int64_t *n);

/* cat_group_get_spec: the typed spec (sched/spec.h) of a group as its internal document, written
 * beside doc (migration 7); *spec malloc'd, NULL when not written yet. CAT_NOT_FOUND. (Not a member of
 * struct cat_group: copies of that struct made elsewhere stay complete.) */
int cat_group_get_spec(struct cat *cat, const char *tenant, const char *id, char **spec, size_t *len);
/* cat_group_set_spec: replaces the internal document of a group (deleted ones too). CAT_NOT_FOUND. */
int cat_group_set_spec(struct cat *cat, const char *tenant, const char *id, const char *spec);

/* cat_spec_missing: up to limit rows of policies (groups 0) or protection_groups (groups 1) whose spec
 * is still NULL, each passed to fn with its tenant, id and wire doc after the read has finished (fn
 * may write the row). Returns the number of rows seen, or the first nonzero value of fn, or <0. */
typedef int (*cat_spec_missing_fn)(void *ud, const char *tenant, const char *id, const char *doc);
int cat_spec_missing(struct cat *cat, int groups, size_t limit, cat_spec_missing_fn fn, void *ud);
#endif
