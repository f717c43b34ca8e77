/* job.h: the job core. Every long piece of work the daemon does for a request or a schedule (a
 * backup run, a restore, a download; later prune, verify, SQL log sealing, agent upgrade) is a job
 * of a kind, kept in a catalog queue and carried out by a pool of worker threads.
 *
 * Lifecycle: queued (Accepted) -> leased (Running, lease_owner = the pool, lease until real now +
 * lease_usecs) -> running (the kind's run) -> finished (the kind records the end). The pool's monitor
 * thread, every monitor_ms, flushes each running job's progress (kind->flush; a full disk pauses
 * progress writes for 5 s), extends its lease every renew_usecs and otherwise reads whether it is
 * still ours and whether a cancel was requested: a cancel sets the job's cancel flag (the mover
 * stops at its next check) with user_cancel; a lost lease sets it with lease_lost. Every
 * housekeeping_usecs it fails the jobs whose lease expired under another owner ("the worker running
 * it stopped answering (lease expired)") and asks the queue for its own orphans. On start, a pool
 * fails every job a previous daemon left Running ("interrupted by daemon restart"); on stop it raises
 * every running job's cancel flag with job_stopping true: each kind then does what it does on a
 * shutdown (a backup run is queued again, a recovery ends Failed). One wake-up per pool
 * (job_pool_notify), no process-wide state.
 *
 * Adding a kind: one file that defines a struct job_kind (its run, and flush / start / housekeeping
 * when it has them) on an existing queue, plus one row in job_kinds (job_kinds.c). A queue is the
 * catalog's storage of a family of kinds (runs: job_backup.c; recoveries: job_recovery.c). */
#ifndef COFFER_SCHED_JOB_H
#define COFFER_SCHED_JOB_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct cat;
struct repo;
struct job;
struct job_pool;

#define JOB_LEASE_USECS (60LL * 1000000)
#define JOB_RENEW_USECS (10LL * 1000000)
#define JOB_MONITOR_MS 500
#define JOB_HOUSEKEEPING_USECS (30LL * 1000000)
#define JOB_PROGRESS_PAUSE_USECS (5LL * 1000000)

/* A queue: the catalog functions behind one family of kinds. Each returns 0, CAT_NOT_FOUND or <0. */
struct job_queue {
    const char *noun; /* "run", "recovery": log lines */
    /* lease_next: the oldest queued job becomes Running, leased by owner until lease_until; fills
     * j->row, j->tenant, j->id, j->start_usecs and j->kind_name. CAT_NOT_FOUND: nothing queued. */
    int (*lease_next)(struct cat *cat, const char *owner, int64_t lease_until, struct job *j);
    /* renew / check: the lease is extended (renew) or only read (check); *cancel receives whether a
     * cancel was requested (1), or a pause (2: the job's pause flag is raised, for kinds that can
     * pause: backups). CAT_NOT_FOUND: owner no longer holds it. */
    int (*renew)(struct cat *cat, const struct job *j, const char *owner, int64_t lease_until, int *cancel);
    int (*check)(struct cat *cat, const struct job *j, const char *owner, int *cancel);
    /* fail_running: Running jobs not leased by owner (NULL: any) whose lease expired before
     * expired_before (0: any) end Failed with message at now; *n receives how many. */
    int (*fail_running)(struct cat *cat, const char *owner, int64_t expired_before, const char *message, int64_t now,
                        int *n);
    /* fail_orphans (may be NULL): the pool's own Running jobs whose lease expired before
     * expired_before and that no worker of the pool runs (job_pool_runs) end Failed. -ENOSPC: full. */
    int (*fail_orphans)(struct job_pool *p, int64_t expired_before, const char *message, int64_t now, int *n);
    /* fail: ends the leased job j Failed with message (a kind no worker of this pool knows). */
    int (*fail)(struct cat *cat, const struct job *j, const char *message, int64_t now);
    void (*release)(struct job *j); /* frees j->row */
};

struct job_kind {
    const char *name;              /* as the queue stores it */
    const struct job_queue *queue; /* where jobs of this kind wait */
    void (*run)(struct job *j);    /* does the job and records its end (or requeues it on a stop) */
    /* flush (may be NULL): writes the job's progress if it changed (monitor thread; it reads the
     * job's state and identity under job_lock, which the worker may reuse once unlocked); -ENOSPC
     * pauses progress writes. */
    int (*flush)(struct job *j);
    /* start (may be NULL): once per pool start, after the restart recovery (e.g. partial files). */
    void (*start)(struct job_pool *p);
    /* housekeeping (may be NULL): every housekeeping_usecs on the monitor thread. */
    void (*housekeeping)(struct job_pool *p, int64_t real);
};

/* The kind table (job_kinds.c), NULL-terminated. */
extern const struct job_kind *const job_kinds[];

/* A job as a worker holds it. Fields below "shared" are guarded by the pool's lock (job_lock). */
struct job {
    struct job_pool *pool;
    const struct job_kind *kind;
    char kind_name[32];
    char tenant[300], id[160]; /* the queue's key: tenant + (group id, start) or (recovery id) */
    int64_t start_usecs;
    void *row;                 /* the queue's leased row, owned while leased */
    /* shared */
    int busy;
    void *state;               /* the kind's live state (progress) while it runs; flush reads it */
    volatile int cancel;       /* the mover's cancel flag */
    volatile int pause;        /* a pause was requested (check/renew said 2): the mover's pause flag */
    int user_cancel;           /* a cancel was requested through the API */
    int lease_lost;            /* the catalog no longer gives us the job */
    int64_t renewed_at;        /* real time of the last renewal */
    /* the end, for the metrics (util/metrics.h): set by the kind with job_set_outcome when it records
     * the job's final status (a job queued again or paused sets nothing) */
    struct {
        int set, recovery;
        char status[32];
        int64_t bytes_read, bytes_stored;
    } outcome;
};

struct job_pool_config {
    const char *name;          /* "backup", "recovery": log lines and the lease owner */
    struct cat *cat;
    struct repo *repo;         /* NULL: the kinds fail their jobs ("the repository is not available") */
    const char *data_dir;      /* for kinds that write files (downloads) */
    void *ctx;                 /* the kinds' shared context (job_ctx) */
    int workers;               /* threads (>= 1) */
    const struct job_queue *queue;
    const struct job_kind *const *kinds; /* the kind table (sched.c passes job_kinds); only the kinds on queue are served */
    int64_t lease_usecs, renew_usecs, housekeeping_usecs; /* 0: the JOB_ defaults */
    int monitor_ms;            /* 0: JOB_MONITOR_MS */
};

/* job_pool_start: fails what a previous daemon left Running on the queue, runs the kinds' start
 * hooks, then starts the workers and the monitor. The config's pointers must outlive the pool. */
int job_pool_start(const struct job_pool_config *cfg, struct job_pool **out, char *err, size_t errlen);
/* job_pool_stop: raises every running job's cancel flag (job_stopping becomes true), joins the
 * threads and frees p. NULL is fine. */
void job_pool_stop(struct job_pool *p);
/* job_pool_notify: a job was queued or cancelled: wakes the workers. NULL is fine. */
void job_pool_notify(struct job_pool *p);
/* job_pool_housekeeping: the expiry pass now (the monitor does it every housekeeping_usecs). */
void job_pool_housekeeping(struct job_pool *p);
const char *job_pool_owner(const struct job_pool *p);
struct cat *job_pool_cat(const struct job_pool *p);
const char *job_pool_data_dir(const struct job_pool *p);
/* job_pool_runs: whether a worker of p holds the job (tenant, id, start_usecs). */
int job_pool_runs(struct job_pool *p, const char *tenant, const char *id, int64_t start_usecs);
/* job_pool_busy: how many of p's workers are running a job now (NULL: 0). */
int job_pool_busy(struct job_pool *p);

/* For the kinds. */
void job_lock(struct job *j);
void job_unlock(struct job *j);
struct cat *job_cat(const struct job *j);
struct repo *job_repo(const struct job *j);
void *job_ctx(const struct job *j);
/* job_stopping: whether the daemon is stopping (a cancel then means "shutdown", not a request). */
int job_stopping(const struct job *j);
int job_user_canceled(struct job *j);
int job_lease_lost(struct job *j);
/* job_pause_ms: sleeps up to ms, returning early when the pool stops. */
void job_pause_ms(struct job *j, int ms);
/* job_set_outcome: the job ended with status (recorded in the catalog); bytes read and stored; recovery:
 * a recovery (its throughput is measured). The job core reports it to the metrics when run returns. */
void job_set_outcome(struct job *j, const char *status, int64_t bytes_read, int64_t bytes_stored, int recovery);
/* job_set_state: publishes the kind's live state (NULL when done) under the lock. */
void job_set_state(struct job *j, void *state);
#endif
