/* maint.h: the skeleton the daemon's maintenance runners share (job_prune.c, job_verify.c): one thread
 * that runs one request at a time, queued on demand (the API) or by a schedule (every interval), keeps
 * the run waiting or running and the last one that ended, in memory, and a cancel flag the work
 * polls. A kind gives its run's size and its hooks (struct maint_kind); the core owns the thread, the
 * lock, the ids, the states and the times.
 *
 * A kind's run struct begins with the common fields: an anonymous union of struct maint_run (the
 * core's view) and an anonymous struct of MAINT_RUN_HEAD (the same fields, reached by their own names:
 * run->id, run->state), so the kind's callers see one flat struct. */
#ifndef COFFER_SCHED_MAINT_H
#define COFFER_SCHED_MAINT_H
#include <stddef.h>
#include <stdint.h>

enum maint_state { MAINT_QUEUED = 0, MAINT_RUNNING, MAINT_SUCCEEDED, MAINT_FAILED };

/* The fields every maintenance run begins with. */
#define MAINT_RUN_HEAD                                                                                  \
    int64_t id;                                   /* 1, 2, ... since the daemon started */              \
    int scheduled;                                /* queued by the schedule (else on demand) */         \
    enum maint_state state;                                                                             \
    int64_t queued_usecs, start_usecs, end_usecs; /* util_time_now */                                   \
    char message[512];                            /* why it failed */

struct maint_run { MAINT_RUN_HEAD };

struct maint;

struct maint_kind {
    const char *name;  /* "prune", "verify": log lines */
    size_t run_size;   /* sizeof the kind's run, which begins with struct maint_run */
    /* started (lock held, optional): the run is about to be worked on (the copy work gets) */
    void (*started)(void *owner, struct maint_run *run);
    /* work (lock not held): does the run; sets state (MAINT_SUCCEEDED or MAINT_FAILED) and message */
    void (*work)(void *owner, struct maint *m, struct maint_run *run);
    /* ended (lock held, optional): the run ended and becomes the last */
    void (*ended)(void *owner, struct maint_run *run);
    /* hold (lock held, optional): a copy of the last run is handed out (maint_peek): take a reference
     * of what it owns; drop (optional): free what a run owns (the last one it replaces, at the stop) */
    void (*hold)(struct maint_run *run);
    void (*drop)(struct maint_run *run);
};

/* maint_start: starts the runner's thread; kind (static) and owner (passed to the hooks) outlive it.
 * interval_usecs <= 0: no scheduled run. *out is owned (maint_stop). */
int maint_start(const struct maint_kind *kind, void *owner, int64_t interval_usecs, struct maint **out);
/* maint_cancel: raises the cancel flag and refuses new requests, without waiting. */
void maint_cancel(struct maint *m);
/* maint_stop: cancels a running run, joins the thread, drops the last run and frees m; NULL is fine. */
void maint_stop(struct maint *m);
/* maint_cancel_flag: the flag the work polls (set by maint_cancel/maint_stop; the work may set it too). */
volatile int *maint_cancel_flag(struct maint *m);
/* maint_request: queues a copy of proto (run_size bytes; its kind's fields and scheduled are used, the
 * core sets id, state and queued time); *id (may be NULL) receives its id. -EBUSY when one is queued
 * or running (its id in *id), -ENODEV once stopping. */
int maint_request(struct maint *m, const struct maint_run *proto, int64_t *id);
/* maint_tick: queues proto as a scheduled run once interval_usecs passed since the last scheduled
 * one (or the start) at real (util_time_real), unless one is queued or running. */
void maint_tick(struct maint *m, int64_t real, const struct maint_run *proto);
/* maint_peek: copies the current and last runs (run_size bytes each; the kind's hold hook is called
 * on the last) and whether there are any; *interval and *next (util_time_real of the next scheduled
 * one; both 0 when there is no schedule). */
void maint_peek(struct maint *m, struct maint_run *current, int *has_current, struct maint_run *last,
                int *has_last, int64_t *interval, int64_t *next);
#endif
