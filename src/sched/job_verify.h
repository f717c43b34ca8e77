/* job_verify.h: verify of the repository as daemon work: on demand (the API, `coffer verify`) and on
 * a schedule (COFFER_VERIFY_INTERVAL_SECS, off by default). One verify at a time per daemon, on its
 * own maintenance thread (the skeleton of maint.h; repo_verify_ex waits for a running prune and the
 * other way round: they share the repository's maintenance mutex).
 *
 * Like prune (job_prune.h) it is not a queue of the job core: no tenant, no catalog resource, no
 * history beyond the last result, which is kept in memory with the rotating subset's cursor (the
 * last pack read). A daemon restart starts the rotation over from the first pack; a verify running
 * when the daemon stops is cancelled. */
#ifndef COFFER_SCHED_JOB_VERIFY_H
#define COFFER_SCHED_JOB_VERIFY_H
#include <jansson.h>
#include <stdint.h>
#include "repo/repo.h"
#include "sched/maint.h"

struct sched;
struct verify_runner;

#define VERIFY_DEFAULT_READ_PCT 10u /* a scheduled verify reads this share of the packs */

/* the states of a run (maint.h) */
#define VERIFY_QUEUED MAINT_QUEUED
#define VERIFY_RUNNING MAINT_RUNNING
#define VERIFY_SUCCEEDED MAINT_SUCCEEDED
#define VERIFY_FAILED MAINT_FAILED

/* One verify, as the API shows it: the fields of every maintenance run (maint.h: id, scheduled,
 * state, queued_usecs, start_usecs, end_usecs, message) and its own. Succeeded means it ran to its end
 * (report->ok says whether the repository is whole); Failed means it could not run (message). */
struct verify_run {
    union {
        struct maint_run head;
        struct { MAINT_RUN_HEAD };
    };
    int read_data;
    unsigned subset_pct;          /* 100 = every pack */
    json_t *report;               /* repo_verify_ex's report (owned), once succeeded */
};

struct verify_status {
    int64_t interval_usecs;       /* 0: no scheduled verify */
    unsigned scheduled_read_pct;  /* what a scheduled verify reads (0: structure only) */
    int64_t next_usecs;           /* util_time_real of the next scheduled one, 0 if off */
    int has_current, has_last;
    struct verify_run current, last; /* reports are references the caller owns (decref) */
};

struct cat;
struct verify_runner_config {
    struct repo *repo;            /* NULL: every request is refused */
    int64_t interval_usecs;       /* <= 0: no scheduled verify */
    unsigned read_pct;            /* a scheduled verify: 0 = structure only, else --read-data of
                                   * this share (1..100) */
    struct cat *cat;              /* several nodes (nodes.h; NULL or a catalog of our own: nothing): a */
    const char *node;             /* verify first reloads other nodes' index files, and is refused
                                   * while another node prunes (it would see its packs go) */
};

int verify_runner_start(const struct verify_runner_config *cfg, struct verify_runner **out);
/* verify_runner_cancel: raises the cancel flag of a running verify and refuses new ones, without
 * waiting: the scheduler calls it before stopping the prune runner, since a prune and a verify wait
 * for each other (the repository's maintenance mutex) and each must be cancelled to end soon. */
void verify_runner_cancel(struct verify_runner *r);
/* verify_runner_stop: cancels a running verify, joins the thread and frees r; NULL is fine. */
void verify_runner_stop(struct verify_runner *r);
/* verify_runner_tick: the scheduler calls it every pass (real = util_time_real): queues a scheduled
 * verify once interval_usecs passed since the last one (or the start). */
void verify_runner_tick(struct verify_runner *r, int64_t real);

/* verify_runner_request / verify_runner_peek: sched_verify_request and sched_verify_status of a
 * runner (tests). */
int verify_runner_request(struct verify_runner *r, int read_data, unsigned subset_pct, int64_t *id);
int verify_runner_peek(struct verify_runner *r, struct verify_status *out);

/* sched_verify_request: queues a verify; -EBUSY when one is queued or running (its id in *id),
 * -ENODEV without a repository. subset_pct 1..100 (100: every pack). */
int sched_verify_request(struct sched *s, int read_data, unsigned subset_pct, int64_t *id);
/* sched_verify_status: the current and last verify; release with verify_status_release. */
int sched_verify_status(struct sched *s, struct verify_status *out);
void verify_status_release(struct verify_status *st);
#endif
