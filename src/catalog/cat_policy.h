/* cat_policy.h: protection policies in the catalog (table policies, migration 2).
 *
 * A policy row holds its tenant, id ("clusterId:incarnationId:n"), the counter value n (list order),
 * name (unique per tenant), modification time, doc: the whole ProtectionPolicyResponse JSON text as
 * the API last wrote it, so reads serve it without building anything, and spec: the typed spec's
 * internal document (sched/spec.h), which is what the scheduler and retention read. Every function is scoped by
 * tenant: another tenant's policy is CAT_NOT_FOUND and never listed. Returns 0, CAT_NOT_FOUND,
 * CAT_CONFLICT or <0 on an internal error (logged). Text out-parameters are malloc'd; the caller frees. */
#ifndef COFFER_CATALOG_CAT_POLICY_H
#define COFFER_CATALOG_CAT_POLICY_H
#include "catalog/cat.h"
#include <stddef.h>
#include <stdint.h>

/* cat_policy_insert: a new policy. CAT_CONFLICT when tenant already has a policy with this name. */
int cat_policy_insert(struct cat *cat, const char *tenant, const char *id, int64_t seq, const char *name,
                      const char *doc, int64_t mtime_usecs);
/* cat_policy_get_doc: the stored response text (*doc, *len; either may be NULL to skip) and its
 * modification time (may be NULL). One indexed lookup on a cached statement (the GET hot path). */
int cat_policy_get_doc(struct cat *cat, const char *tenant, const char *id, char **doc, size_t *len,
                       int64_t *mtime_usecs);
/* cat_policy_get_json: the stored response parsed (a new reference in *out): for the scheduler and
 * retention, which read backupPolicy, blackoutWindow, retryOptions and extendedRetention from it. */
int cat_policy_get_json(struct cat *cat, const char *tenant, const char *id, json_t **out);
/* cat_policy_exists: 1 when tenant has this policy, 0 when not, <0 on error. */
int cat_policy_exists(struct cat *cat, const char *tenant, const char *id);
/* cat_policy_update: replaces name, doc and modification time. CAT_NOT_FOUND, CAT_CONFLICT (name). */
int cat_policy_update(struct cat *cat, const char *tenant, const char *id, const char *name, const char *doc,
                      int64_t mtime_usecs);
/* cat_policy_delete: removes the row. CAT_NOT_FOUND. Whether live groups still use it is the caller's
 * check (cat_group_count_by_policy), inside the same transaction. */
int cat_policy_delete(struct cat *cat, const char *tenant, const char *id);

/* cat_policy_list: calls fn for each of tenant's policies in creation order, with its id and doc
 * text. ids and names are optional JSON arrays of strings (NULL = no filter). fn returns 0 to go on,
 * nonzero to stop (that value is returned). */
typedef int (*cat_policy_fn)(void *ud, const char *id, const char *doc, size_t len);
int cat_policy_list(struct cat *cat, const char *tenant, json_t *ids, json_t *names, cat_policy_fn fn, void *ud);

/* cat_policy_stats: live (not deleted) protection groups using the policy and the distinct objects
 * they protect. */
int cat_policy_stats(struct cat *cat, const char *tenant, const char *id, int64_t *num_groups,
                     int64_t *num_objects);

/* The typed spec (sched/spec.h) of a policy as its internal document, written beside doc (migration 7).
 * cat_policy_set_spec: replaces it (CAT_NOT_FOUND). cat_policy_get_spec: *spec malloc'd, NULL when
 * not written yet (the row predates migration 7 and api_spec_backfill has not run). */
int cat_policy_set_spec(struct cat *cat, const char *tenant, const char *id, const char *spec);
int cat_policy_get_spec(struct cat *cat, const char *tenant, const char *id, char **spec, size_t *len);
#endif
