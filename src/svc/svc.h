/* svc.h: the service layer: one function per operation the API asks of the planes below it
 * (catalog, repository, engine), so the API handlers do translation and validation only and every
 * caller of an operation goes through the same code.
 *
 *   svc_snapshot_delete        THE way a snapshot is deleted (run snapshot deletion, a group deleted
 *                              with deleteSnapshots; svc_snapshot_expire, its conditional variant, for
 *                              the retention pass).
 *   svc_recovery_check_path    whether a recovery's path is in a snapshot, and what it is.
 *   svc_download_plan          the regular file a single-file download streams (hardlinks followed).
 *
 * Errors are negative codes: -ENOENT (not there), -EBADMSG (the repository is damaged: svc_damage_text
 * names the damage), -EAGAIN (no repository open), other -errno. Nothing here builds a wire message. */
#ifndef COFFER_SVC_SVC_H
#define COFFER_SVC_SVC_H
#include "catalog/cat.h"
#include "repo/tree.h"
#include <stddef.h>
#include <stdint.h>

struct repo;

/* svc_snapshot_delete: flags the catalog row deleted (its run shows isLocalSnapshotsDeleted once it
 * was the last) and then has the repository forget the snapshot's document (prune reclaims the
 * data). Idempotent: a row already flagged is forgotten again (a repository that no longer has the
 * document is fine). repo may be NULL (catalog only). 0, -ENOENT (no such row), <0. */
int svc_snapshot_delete(struct cat *cat, struct repo *repo, const char *tenant, const char *snapshot_id);
/* svc_snapshot_delete_as: the same, first asking the repository's data lock (repo_retain_check):
 * -EPERM (Compliance lock in force), -EBUSY (legal hold) or -EACCES (Administrative lock in force and
 * data_security 0) changes nothing, is logged, and msg (may be NULL) names the lock and its end.
 * svc_snapshot_delete is this with data_security 0. */
int svc_snapshot_delete_as(struct cat *cat, struct repo *repo, const char *tenant, const char *snapshot_id,
                           int data_security, char *msg, size_t msglen);
/* svc_snapshot_expire: the retention pass's svc_snapshot_delete (data_security 0): the row is flagged
 * only while it is still live, not legal-held and expired at now (cat_snapshot_mark_expired), and only
 * then is the document forgotten; -ENOENT when it was not (several nodes' passes expiring the same
 * snapshots at once delete each once, and each counts only its own). */
int svc_snapshot_expire(struct cat *cat, struct repo *repo, const char *tenant, const char *snapshot_id, int64_t now);

/* svc_run_lock: the data lock of a group's run, kept in the repository on each of its snapshots.
 * mode: -1 keeps each snapshot's mode; until_usecs: the lock's end (REPO_RETAIN_FOREVER: none; -1
 * keeps); legal_hold: -1 keeps. With dry_run nothing is written: the answer says whether the change
 * would be allowed. Refusals as svc_snapshot_delete_as (msg names the lock and its end). A run
 * without snapshots is 0. */
int svc_run_lock(struct cat *cat, struct repo *repo, const char *tenant, const char *group_id, int64_t run_usecs,
                 int mode, int64_t until_usecs, int legal_hold, int data_security, int dry_run, char *msg,
                 size_t msglen);
/* svc_run_delete_check: 0 when every snapshot of the run may be deleted now, else the first refusal
 * (as svc_snapshot_delete_as, msg names the lock). */
int svc_run_delete_check(struct cat *cat, struct repo *repo, const char *tenant, const char *group_id,
                         int64_t run_usecs, int data_security, char *msg, size_t msglen);

/* svc_run_snapshots_delete: every snapshot of a group's run (deleted ones included: forgotten again).
 * Returns how many were deleted, or <0. */
int svc_run_snapshots_delete(struct cat *cat, struct repo *repo, const char *tenant, const char *group_id,
                             int64_t run_usecs);
/* svc_run_snapshots_delete_as: the same with the data-security right (an Administrative lock). */
int svc_run_snapshots_delete_as(struct cat *cat, struct repo *repo, const char *tenant, const char *group_id,
                                int64_t run_usecs, int data_security);

/* svc_group_snapshots_delete: every live snapshot of a group that is not on legal hold (a group deleted
 * with deleteSnapshots). Returns how many were deleted, or <0. */
int svc_group_snapshots_delete(struct cat *cat, struct repo *repo, const char *tenant, const char *group_id);

/* svc_recovery_check_path: the entry at an absolute path of a snapshot, in *out (released with
 * tree_entry_release) when 0. -ENOENT also for a path through a non-directory. */
int svc_recovery_check_path(struct repo *repo, const char *snapshot_id, const char *path, struct tree_entry *out);

/* svc_download_plan: the entry a download of path streams: hardlinks followed (at most 8 hops). 0 with
 * *out (released with tree_entry_release) a regular file; -EISDIR when the path is not a regular file
 * (*type_out says what it is); -ENOENT, -EBADMSG, other <0. */
int svc_download_plan(struct repo *repo, const char *snapshot_id, const char *path, struct tree_entry *out,
                      enum tree_type *type_out);

/* svc_damage_text: the sentence for a failed read on this thread (see eng_damage_text). */
const char *svc_damage_text(int rc, char *buf, size_t len);
/* svc_repo_usage: the repository's snapshot count and logical bytes (what the snapshots hold before
 * deduplication, summed from their documents; an unreadable document counts nothing): one pass over the
 * snapshot list, for GET /v2/coffer/repository/stats and /metrics. 0, or -1 when the list cannot be read. */
int svc_repo_usage(struct repo *repo, size_t *snapshots, uint64_t *logical_bytes);

#endif
