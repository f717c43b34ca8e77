/* sched_int.h: what the scheduler's own files share (sched.c: lifecycle, scheduler thread, monitor;
 * worker.c: executing a run; queue.c: enqueue and retention). Not for use outside src/sched. */
#ifndef COFFER_SCHED_SCHED_INT_H
#define COFFER_SCHED_SCHED_INT_H
#include "catalog/cat_run.h"
#include "sched/sched.h"
#include <pthread.h>

#define SCHED_LEASE_USECS (60LL * 1000000)
#define SCHED_RENEW_USECS (10LL * 1000000)  /* the monitor renews a lease this often */

/* A worker thread and the run it is executing. Fields below "shared" are guarded by sched.lock:
 * the worker publishes progress, the monitor reads it and raises cancel. */
struct sched_worker {
    struct sched *s;
    pthread_t thread;
    int index;
    /* shared */
    int busy;                  /* a run is leased: tenant, group_id, start_usecs are valid */
    char *tenant, *group_id;   /* owned by the worker while busy */
    int64_t start_usecs;
    int has_obj;               /* an object is being backed up: obj holds its counters */
    struct cat_run_object obj; /* numeric fields only (no strings) */
    int dirty;                 /* obj changed since the monitor last wrote it */
    volatile int cancel;       /* the engine's cancel flag */
    int user_cancel;           /* cancel requested through the API */
    int lease_lost;            /* the catalog no longer gives us the run */
    int64_t renewed_at;        /* real time of the last lease renewal (monitor only) */
};

struct sched {
    struct sched_config cfg;
    char owner[160];           /* lease owner: host:pid:random */
    pthread_mutex_t lock;
    pthread_cond_t work_cond;  /* workers wait for work_seq to move */
    pthread_cond_t tick_cond;  /* the scheduler thread waits for its period or a kick */
    unsigned work_seq;
    int stopping;
    pthread_mutex_t tick_lock; /* one scheduler pass at a time */
    pthread_t thread;
    int thread_started;
    struct sched_worker *workers;
    int nworkers;
    int64_t progress_paused_until; /* real time: progress writes wait after a full disk (monitor only) */
    /* test hooks (COFFER_TEST_HOOKS=1) */
    char *vanish;
    int slow_open_ms;
};

/* worker.c */
void *sched_worker_main(void *arg);
/* sched_worker_stopping: whether the daemon is stopping (workers then requeue what they run). */
int sched_stopping(struct sched *s);

/* sched.c */
/* sched_tick: one scheduler pass; -1 when the catalog failed for some group (the caller backs off). */
int sched_tick(struct sched *s, int64_t now);
/* sched_housekeeping: retention, runs whose lease expired under another owner, and runs of this
 * daemon that no worker runs (failed, never left Running). real: the real clock now. */
void sched_housekeeping(struct sched *s, int64_t real);
#endif
