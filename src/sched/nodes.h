/* nodes.h: a node's part in a cluster of cofferd nodes sharing one catalog (PostgreSQL,
 * COFFER_SHARED_CATALOG=1) and one repository (docs/operations.md "Scale-out",
 * docs/repository-format.md section 18).
 *
 * - node_sync_before: before a job reads or writes the repository, the node reloads the index files
 *   other nodes wrote, only when the catalog's counters (cat_nodes.h) say another node wrote or
 *   pruned since its last reload: one SELECT per job, a listing of index/ only when needed.
 * - node_sync_wrote: after a backup wrote index files, the node bumps the counter.
 * - node_prune_elsewhere: another node holds the prune lease: this node starts no backup.
 * - node_retry_expired: runs whose node stopped answering (lease expired) are retried on any node
 *   when their policy's retryOptions allow another attempt (the rest end Failed as on one node).
 * None of these does anything on a catalog that is not shared (node_sync_new gives NULL). */
#ifndef COFFER_SCHED_NODES_H
#define COFFER_SCHED_NODES_H
#include <stddef.h>
#include <stdint.h>

struct cat;
struct repo;
struct node_sync;

/* node_sync_new: NULL (and 0) unless the catalog is shared and there is a repository; the repository
 * is then marked shared (repo_set_shared). *out is owned (node_sync_free). */
int node_sync_new(struct cat *cat, struct repo *repo, struct node_sync **out);
void node_sync_free(struct node_sync *ns);
/* node_sync_before: refreshes the repository's index when another node wrote or pruned since the
 * last refresh; 0, or a negative code (logged; the caller may go on: a stale index only stores data
 * again). NULL ns: 0. */
int node_sync_before(struct node_sync *ns);
/* node_sync_wrote: this node wrote index files (a backup ended). NULL ns: nothing. */
void node_sync_wrote(struct node_sync *ns);
/* node_prune_elsewhere: 1 when a node other than node holds an unexpired prune lease (its id in
 * holder), else 0. Also for a catalog that is not shared (always 0 there). */
int node_prune_elsewhere(struct cat *cat, const char *node, char *holder, size_t holder_len);
/* node_retry_expired: the housekeeping of the runs queue on a shared catalog: runs Running under
 * another owner whose lease expired before now_real are taken over (lease moved to owner) and, when
 * their policy allows another attempt, queued again at once (cat_run_retry); *n retried. The others
 * are left to the caller's expiry pass (Failed). */
int node_retry_expired(struct cat *cat, const char *owner, int64_t now_real, int64_t lease_until, int *n);
/* node_lease_config: the job lease (COFFER_LEASE_SECS, 2..3600; default JOB_LEASE_USECS), with the
 * renewal period (a sixth of it, at most 10 s) and the expiry pass period (half, at most 30 s). */
void node_lease_config(int64_t *lease_usecs, int64_t *renew_usecs, int64_t *housekeeping_usecs);
#endif
