/* sched_int.h: what the scheduler's own files share (sched.c: lifecycle and the scheduler thread;
 * queue.c: enqueue and retention; job_*.c: the kinds, which reach the scheduler's test hooks through
 * job_ctx). Not for use outside src/sched. */
#ifndef COFFER_SCHED_SCHED_INT_H
#define COFFER_SCHED_SCHED_INT_H
#include "catalog/cat_run.h"
#include "sched/job.h"
#include "sched/sched.h"
#include "sched/pg_stream.h"
#include <pthread.h>

struct sched {
    struct sched_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t tick_cond;  /* the scheduler thread waits for its period or a kick */
    int stopping;
    pthread_mutex_t tick_lock; /* one scheduler pass at a time */
    pthread_t thread;
    int thread_started;
    struct job_pool *backups, *recoveries, *indexer; /* indexer: NULL without a repository */
    struct pg_stream *pg_stream; /* WAL streamers (pg_stream.h); NULL without a repository or data dir */
    struct prune_runner *prune;                      /* job_prune.c; NULL without a repository */
    struct verify_runner *verify;                    /* job_verify.c; NULL without a repository */
    struct node_sync *nodes;   /* nodes.c: several nodes on one catalog; NULL on a catalog of our own */
    struct sched_pass *pass;   /* sched.c: the last pass's groups and plans (under tick_lock) */
    /* test hooks (COFFER_TEST_HOOKS=1) */
    char *vanish;
    int slow_open_ms;
    int recovery_delay_ms;
    char *recovery_gate;        /* COFFER_TEST_RECOVERY_GATE (sched.h), or NULL */
    char *fail_mark;           /* COFFER_TEST_FAIL_MARK: an object fails while an include path holds it */
};

extern const struct job_queue job_queue_runs;
extern const struct job_queue job_queue_recoveries;
extern const struct job_queue job_queue_file_index;

/* sched_tick: one scheduler pass; -1 when the catalog failed for some group (the caller backs off). */
int sched_tick(struct sched *s, int64_t now);
#endif
