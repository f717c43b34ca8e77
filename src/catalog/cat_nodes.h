/* cat_nodes.h: what several cofferd nodes sharing one catalog and one repository coordinate through
 * the catalog (docs/operations.md "Scale-out", docs/repository-format.md section 18).
 *
 * One row (table repo_sync, migration 22) per catalog: index_gen counts the times a node wrote index
 * files (a backup's end), so a node reloads the repository's index files only when another node wrote
 * some; prune_owner/prune_expiry are the prune lease (one prune across the nodes; while it is held, no
 * other node starts a backup); prune_gen counts the prunes that ended. Times are util_time_real.
 *
 * Functions return 0, CAT_NOT_FOUND, -EBUSY or another negative code (cat.h). */
#ifndef COFFER_CATALOG_CAT_NODES_H
#define COFFER_CATALOG_CAT_NODES_H
#include "catalog/cat.h"
#include <stdint.h>

struct cat_repo_sync {
    int64_t index_gen, prune_gen;
    char prune_owner[160];        /* "" when no node holds the prune lease */
    int64_t prune_expiry;
};

/* cat_repo_sync_get: the row. */
int cat_repo_sync_get(struct cat *cat, struct cat_repo_sync *out);
/* cat_repo_index_bump: node wrote index files; *gen receives the new index_gen. */
int cat_repo_index_bump(struct cat *cat, const char *node, int64_t *gen);
/* cat_repo_prune_acquire: node takes the prune lease until expiry, unless another node holds one
 * that has not expired at now (-EBUSY, its holder in holder). Taking it again as its holder renews it. */
int cat_repo_prune_acquire(struct cat *cat, const char *node, int64_t now, int64_t expiry, char *holder,
                           size_t holder_len);
/* cat_repo_prune_renew: extends node's lease; CAT_NOT_FOUND when node no longer holds it. */
int cat_repo_prune_renew(struct cat *cat, const char *node, int64_t expiry);
/* cat_repo_prune_release: node gives the lease up and prune_gen grows. */
int cat_repo_prune_release(struct cat *cat, const char *node);
/* cat_run_count_running_elsewhere: runs Running under another lease owner than owner whose lease has
 * not expired at now (backups of other nodes that may be writing). */
int cat_run_count_running_elsewhere(struct cat *cat, const char *owner, int64_t now, int64_t *n);

/* A Running run whose lease expired under another owner (its node stopped answering). */
struct cat_run_expired { char *tenant, *group_id, *owner; int64_t start_usecs, attempt; };
/* cat_run_list_expired: at most max of them (owner: this pool's, excluded), *out malloc'd, released
 * with cat_run_expired_free. */
int cat_run_list_expired(struct cat *cat, const char *owner, int64_t now, size_t max, struct cat_run_expired **out,
                         size_t *n);
void cat_run_expired_free(struct cat_run_expired *v, size_t n);
/* cat_run_take_expired: moves the lease of a Running run from old_owner (NULL: none) to owner until
 * lease_until, only if it still expired before now under old_owner; CAT_NOT_FOUND otherwise. */
int cat_run_take_expired(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                         const char *old_owner, const char *owner, int64_t now, int64_t lease_until);
#endif
