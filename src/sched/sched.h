/* sched.h: the job side of Coffer: the scheduler thread that turns policies into runs, and the job
 * core's pools (job.h) that carry out what is queued: backup runs (job_backup.c) and recoveries
 * (restores and downloads: job_restore.c, job_download.c), each pool with its own workers so a long
 * backup never delays a restore.
 *
 * The queues live in the catalog (cat_run.h, cat_recovery.h): the API and the scheduler insert jobs
 * (sched_enqueue for runs) and call sched_notify; a worker leases one (Running, with a 60 s lease the
 * monitor extends every 10 s), runs it and finishes it. On start, jobs left Running by a previous
 * daemon are marked Failed ("interrupted by daemon restart"); on stop, running backups are cancelled
 * at a safe point and their runs queued again (the data they wrote is reused by dedup on the next
 * attempt), running recoveries end Failed ("interrupted by daemon shutdown").
 *
 * A full disk never leaves a run Running: its end is recorded with the catalog's space reserve
 * (cat.h) and retried until it is; a job of this daemon that no worker runs any more is failed by
 * the housekeeping pass once its lease has run out, and so is a job whose lease expired under
 * another daemon. A failing catalog makes the scheduler back off.
 *
 * Test hooks, read once at start when COFFER_TEST_HOOKS=1: COFFER_TEST_VANISH=<substring> deletes
 * a file whose path contains it just before the mover opens it (a file that vanishes during the
 * backup); COFFER_TEST_SLOW_OPEN_MS=<n> sleeps n ms before each file is opened (slow runs for
 * cancel and crash tests); COFFER_TEST_RECOVERY_DELAY_MS=<n> holds each recovery Running for n ms
 * before doing it (a cancel or a SIGKILL lands then); COFFER_TEST_RECOVERY_GATE=<absolute path> holds
 * each recovery, after it reloaded the index files other nodes wrote, while that path exists (120 s
 * at most: another node prunes meanwhile); COFFER_TEST_FAIL_MARK=<name> fails a file
 * object's backup (before anything is read) while one of its include directories holds an entry of
 * that name (an injected failure that heals when the entry is removed: retryOptions tests). */
#ifndef COFFER_SCHED_SCHED_H
#define COFFER_SCHED_SCHED_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct cat;
struct repo;
struct cat_group;
struct sched;
struct job_run_spec;

#define SCHED_DOWNLOAD_TTL_USECS (7LL * 24 * 3600 * 1000000)

struct sched_config {
    struct cat *cat;
    struct repo *repo;     /* NULL: jobs fail with "the repository is not available" */
    int workers;           /* backup worker threads (>= 1) */
    int recovery_workers;  /* recovery worker threads (>= 1) */
    const char *data_dir;  /* download archives go to data_dir/downloads */
    int tick_ms;           /* scheduler period; <= 0 = 1000 */
    int64_t prune_interval_usecs; /* a prune after the retention pass this often; 0 = daily, < 0 = never
                                   * (job_prune.h) */
    int64_t verify_interval_usecs; /* a verify this often; <= 0 = never (job_verify.h) */
    unsigned verify_read_pct;      /* what a scheduled verify reads: 0 = structure only, else 1..100 % */
};

/* sched_start: recovers jobs interrupted by a previous daemon, then starts the pools and the
 * scheduler thread. The config's pointers must outlive the scheduler. */
int sched_start(const struct sched_config *cfg, struct sched **out, char *err, size_t errlen);
/* sched_stop: stops the scheduler and the pools (running backups are requeued, running recoveries
 * fail), joins every thread and frees s. NULL is fine. */
void sched_stop(struct sched *s);
/* sched_notify: a job was queued or cancelled (wakes the workers). NULL is fine. */
void sched_notify(struct sched *s);
/* sched_tick_now: runs one scheduler pass on the calling thread (after the test clock moved), then
 * returns. Serialized with the scheduler thread's own passes. */
void sched_tick_now(struct sched *s);

/* sched_enqueue: queues a run of group g (a group of the tenant, not deleted) at now as spec says
 * (job_spec.h). The snapshots' expiry comes from the policy's retention. Returns 0 with *start_usecs
 * (the run's id with the group's n), CAT_CONFLICT when the group already has a run queued or
 * running, <0. */
int sched_enqueue(struct cat *cat, const struct cat_group *g, const struct job_run_spec *spec, int64_t now,
                  int64_t *start_usecs);

/* sched_recovery_archive_path: data_dir/downloads/<id>.tar into buf; -ENAMETOOLONG if it does not fit. */
int sched_recovery_archive_path(const char *data_dir, const char *id, char *buf, size_t len);

/* sched_retention_pass: forgets the snapshots whose expiry is at or before now (not on legal hold):
 * the catalog marks them deleted, then the repository forgets their documents. Returns how many. */
int sched_retention_pass(struct cat *cat, struct repo *repo, int64_t now);
#endif
