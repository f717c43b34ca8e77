/* job_prune.h: prune of the repository as daemon work: on demand (the API, `coffer prune`) and on a
 * schedule (after the retention pass, every interval). One prune at a time per daemon; the
 * repository's own lock (repo.h) keeps any other process out too.
 *
 * Not a queue of the job core: a prune has no tenant, no resource of the catalog and no history to
 * keep beyond the last result, so a catalog table (a migration) and a lease would add nothing. It is
 * a single maintenance thread that takes one request at a time (the skeleton of maint.h); the request
 * waiting and the one running are in memory. A daemon stopped during a prune cancels it (nothing is deleted unless the
 * deletions had begun; see repo_prune) and the next scheduled one starts over. */
#ifndef COFFER_SCHED_JOB_PRUNE_H
#define COFFER_SCHED_JOB_PRUNE_H
#include <stdint.h>
#include "repo/repo.h"
#include "sched/maint.h"

struct sched;
struct cat;
struct prune_runner;

#define PRUNE_DEFAULT_INTERVAL_USECS (86400LL * 1000000) /* daily */

/* the states of a run (maint.h) */
#define PRUNE_QUEUED MAINT_QUEUED
#define PRUNE_RUNNING MAINT_RUNNING
#define PRUNE_SUCCEEDED MAINT_SUCCEEDED
#define PRUNE_FAILED MAINT_FAILED

/* One prune, as the API shows it: the fields of every maintenance run (maint.h: id, scheduled, state,
 * queued_usecs, start_usecs, end_usecs, message) and its own. */
struct prune_run {
    union {
        struct maint_run head;
        struct { MAINT_RUN_HEAD };
    };
    int dry_run;
    struct repo_prune_report report;
};

struct prune_status {
    int64_t interval_usecs;       /* 0: no scheduled prune */
    int64_t next_usecs;           /* when the schedule next queues one (util_time_real), 0 if off */
    int has_current, has_last;
    struct prune_run current;     /* queued or running */
    struct prune_run last;        /* the last one that ended */
};

struct prune_runner_config {
    struct cat *cat;
    struct repo *repo;            /* NULL: every request is refused */
    int64_t interval_usecs;       /* <= 0: no scheduled prune */
    const char *node;             /* this node's id (its backup pool's lease owner) on a shared catalog */
    int64_t lease_usecs;          /* the prune lease on a shared catalog (<= 0: JOB_LEASE_USECS) */
};

/* Several nodes (a shared catalog, nodes.h): a prune first takes the catalog's prune lease (one prune
 * across the nodes; renewed while it runs, its loss cancels the prune), which also stops the other
 * nodes from starting backups; it waits (COFFER_PRUNE_WAIT_SECS, default 3600) until no backup of
 * another node runs, reloads the index files the other nodes wrote, prunes as on one node, and gives
 * the lease back (the other nodes then reload). The repository's own lock is still taken inside
 * repo_prune, for processes that share no catalog. */

/* prune_runner_start: starts the maintenance thread; *out is owned (prune_runner_stop). */
int prune_runner_start(const struct prune_runner_config *cfg, struct prune_runner **out);
/* prune_runner_stop: cancels a running prune, joins the thread and frees r; NULL is fine. */
void prune_runner_stop(struct prune_runner *r);
/* prune_runner_after_retention: the scheduler calls it after each retention pass (real =
 * util_time_real): queues a scheduled prune once interval_usecs passed since the last one (or the
 * start), unless one is queued or running. */
void prune_runner_after_retention(struct prune_runner *r, int64_t real);

/* prune_runner_peek: sched_prune_status of a runner (tests). */
int prune_runner_peek(struct prune_runner *r, struct prune_status *out);

/* sched_prune_request: queues a prune; *id receives its id. -EBUSY when one is queued or running
 * (its id in *id), -ENODEV without a repository. */
int sched_prune_request(struct sched *s, int dry_run, int64_t *id);
/* sched_prune_status: a copy of the current and last prune. -ENODEV without a runner. */
int sched_prune_status(struct sched *s, struct prune_status *out);
#endif
