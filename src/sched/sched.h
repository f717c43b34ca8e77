/* sched.h: the job side of Coffer: the scheduler thread that turns policies into runs, the pool of
 * worker threads that lease queued runs from the catalog and back them up with the engine, the
 * monitor that writes their progress and keeps their leases, and the retention hook that forgets
 * expired snapshots.
 *
 * The queue lives in the catalog (cat_run.h): the API and the scheduler insert Accepted runs with
 * sched_enqueue and call sched_notify; a worker leases one (Running, with a 60 s lease that the
 * monitor extends every 10 s), backs up each object of the group (engine.h), commits every object's
 * snapshot row and result in one transaction after the repository made the snapshot durable, and
 * finishes the run. On start, runs left Running by a previous daemon are marked Failed
 * ("interrupted by daemon restart"); on stop, running backups are cancelled at a safe point and
 * their runs queued again (the data they wrote is reused by dedup on the next attempt).
 *
 * A full disk never leaves a run Running: its end is recorded with the catalog's space reserve
 * (cat.h) and retried until it is; a run of this daemon that no worker runs any more is failed by
 * the housekeeping pass once its lease has run out. A failing catalog makes the scheduler back off.
 *
 * Test hooks, read once at start when COFFER_TEST_HOOKS=1: COFFER_TEST_VANISH=<substring> deletes
 * a file whose path contains it just before the engine opens it (a file that vanishes during the
 * backup); COFFER_TEST_SLOW_OPEN_MS=<n> sleeps n ms before each file is opened (slow runs for
 * cancel and crash tests). */
#ifndef COFFER_SCHED_SCHED_H
#define COFFER_SCHED_SCHED_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct cat;
struct repo;
struct cat_group;
struct sched;

struct sched_config {
    struct cat *cat;
    struct repo *repo;   /* NULL: runs fail with "the repository is not available" */
    int workers;         /* worker threads (>= 1) */
    int tick_ms;         /* scheduler period; <= 0 = 1000 */
};

/* sched_start: recovers runs interrupted by a previous daemon, then starts the threads. The config's
 * pointers must outlive the scheduler. */
int sched_start(const struct sched_config *cfg, struct sched **out, char *err, size_t errlen);
/* sched_stop: stops the scheduler, cancels running backups at a safe point, requeues their runs,
 * joins every thread and frees s. NULL is fine. */
void sched_stop(struct sched *s);
/* sched_notify: a run was queued (wakes a worker). NULL is fine. */
void sched_notify(struct sched *s);
/* sched_tick_now: runs one scheduler pass on the calling thread (after the test clock moved), then
 * returns. Serialized with the scheduler thread's own passes. */
void sched_tick_now(struct sched *s);

/* sched_enqueue: queues a run of group g (a group of the tenant, not deleted) at now: run_type
 * kRegular or kFull, objects the requested subset (borrowed JSON array of ids, or NULL for all).
 * The snapshots' expiry comes from the policy's retention. Returns 0 with *start_usecs (the run's
 * id with the group's n), CAT_CONFLICT when the group already has a run queued or running, <0. */
int sched_enqueue(struct cat *cat, const struct cat_group *g, const char *run_type, json_t *objects, int scheduled,
                  int64_t now, int64_t *start_usecs);

/* sched_retention_pass: forgets the snapshots whose expiry is at or before now (not on legal hold):
 * the catalog marks them deleted, then the repository forgets their documents. Returns how many. */
int sched_retention_pass(struct cat *cat, struct repo *repo, int64_t now);
#endif
