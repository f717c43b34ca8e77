/* recovery_worker.h: the threads that carry out recoveries queued by the API (cat_recovery.h):
 * restores of files to a host (eng_restore) and archives prepared for download (eng_write_tar).
 * They are separate from the backup workers (sched.h), so a long backup never delays a restore.
 *
 * A worker leases the oldest Accepted recovery (Running), runs it, writes its counters to the
 * catalog about twice a second (the answer carries a cancel request, which stops the engine at its
 * next check) and finishes it: Succeeded, SucceededWithWarning (files that could not be restored or
 * read are named in messages, the rest is done), Failed or Canceled. On start, recoveries a previous
 * daemon left Running are failed ("interrupted by daemon restart") and half-written archives are
 * removed; on stop, running ones are stopped and failed ("interrupted by daemon shutdown").
 *
 * The job, as the API stores it in the recovery's request (cat_recovery.request):
 *   {"snapshotId": hex,
 *    "items": [{"path": "/abs/path", "isDirectory": bool, "target": "/dir" | null}, ...],
 *    "overwrite": bool, "preserveAttributes": bool, "continueOnError": bool}     (kind "restore")
 * An item whose target is null goes back to its original path; else it is restored as
 * target/<basename of path> (eng_restore's layout). A "download" job has snapshotId and items only;
 * its archive (POSIX pax tar, eng_write_tar's layout) is written to DATA_DIR/downloads/<id>.tar by
 * the temp + fsync + rename protocol and kept SCHED_DOWNLOAD_TTL_USECS after the recovery ended.
 *
 * Test hook, read once at start when COFFER_TEST_HOOKS=1: COFFER_TEST_RECOVERY_DELAY_MS=<n> makes a
 * worker hold each recovery Running for n ms before doing it (a cancel or a SIGKILL lands then). */
#ifndef COFFER_SCHED_RECOVERY_WORKER_H
#define COFFER_SCHED_RECOVERY_WORKER_H
#include <stddef.h>
#include <stdint.h>

struct cat;
struct repo;
struct sched_recovery;

#define SCHED_DOWNLOAD_TTL_USECS (7LL * 24 * 3600 * 1000000)

struct sched_recovery_config {
    struct cat *cat;
    struct repo *repo;        /* NULL: recoveries fail with "the repository is not available" */
    const char *data_dir;     /* archives go to data_dir/downloads */
    int workers;              /* threads (>= 1) */
};

/* sched_recovery_start: recovers what a previous daemon left behind, then starts the threads. The
 * config's pointers must outlive the workers. */
int sched_recovery_start(const struct sched_recovery_config *cfg, struct sched_recovery **out, char *err,
                         size_t errlen);
/* sched_recovery_stop: stops running recoveries at a safe point (they end Failed), joins the threads
 * and frees w. NULL is fine. */
void sched_recovery_stop(struct sched_recovery *w);
/* sched_recovery_notify: a recovery was queued or cancelled: wakes the workers (process-wide; a
 * no-op when none run). */
void sched_recovery_notify(void);

/* sched_recovery_archive_path: data_dir/downloads/<id>.tar into buf; -ENAMETOOLONG if it does not fit. */
int sched_recovery_archive_path(const char *data_dir, const char *id, char *buf, size_t len);
#endif
