/* maint.c: the maintenance runner skeleton of maint.h. One thread waits on m->cv for a queued run,
 * marks it running, copies it and works on the copy without the lock (the kind's work hook); the
 * ended copy becomes the last run. Everything shared is guarded by m->mu; the cancel flag is read by
 * the work without it. */
#include "sched/maint.h"
#include "util/log.h"
#include "util/thread.h"
#include "util/time.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct maint {
    const struct maint_kind *kind;
    void *owner;
    int64_t interval_usecs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, stopping;
    volatile int cancel;
    int has_current, has_last;
    struct maint_run *current, *last, *work; /* run_size bytes each */
    int64_t next_id;
    int64_t last_scheduled_real; /* the last scheduled run's queueing, or the start */
};

static void *maint_main(void *arg)
{
    struct maint *m = arg;
    const struct maint_kind *k = m->kind;
    util_thread_name("maint-%s", k->name);
    pthread_mutex_lock(&m->mu);
    for (;;) {
        struct maint_run *tmp;
        while (!m->stopping && !(m->has_current && m->current->state == MAINT_QUEUED))
            pthread_cond_wait(&m->cv, &m->mu);
        if (m->stopping) break;
        m->current->state = MAINT_RUNNING;
        m->current->start_usecs = util_time_now();
        m->cancel = 0;
        memcpy(m->work, m->current, k->run_size);
        if (k->started) k->started(m->owner, m->work);
        pthread_mutex_unlock(&m->mu);
        k->work(m->owner, m, m->work);
        m->work->end_usecs = util_time_now();
        pthread_mutex_lock(&m->mu);
        if (k->ended) k->ended(m->owner, m->work);
        if (m->has_last && k->drop) k->drop(m->last);
        tmp = m->last; /* the ended copy becomes the last; the old last's buffer is the next copy's */
        m->last = m->work;
        m->work = tmp;
        m->has_last = 1;
        m->has_current = 0;
        pthread_cond_broadcast(&m->cv);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

int maint_start(const struct maint_kind *kind, void *owner, int64_t interval_usecs, struct maint **out)
{
    struct maint *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m) return -ENOMEM;
    m->kind = kind;
    m->owner = owner;
    m->interval_usecs = interval_usecs > 0 ? interval_usecs : 0;
    m->last_scheduled_real = util_time_real();
    m->current = calloc(1, kind->run_size);
    m->last = calloc(1, kind->run_size);
    m->work = calloc(1, kind->run_size);
    if (!m->current || !m->last || !m->work) goto fail;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (pthread_create(&m->thread, NULL, maint_main, m) != 0) {
        pthread_mutex_destroy(&m->mu);
        pthread_cond_destroy(&m->cv);
        goto fail;
    }
    m->started = 1;
    *out = m;
    return 0;
fail:
    free(m->current);
    free(m->last);
    free(m->work);
    free(m);
    return -EAGAIN;
}

void maint_cancel(struct maint *m)
{
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    m->stopping = 1;
    m->cancel = 1;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void maint_stop(struct maint *m)
{
    if (!m) return;
    maint_cancel(m);
    if (m->started) pthread_join(m->thread, NULL);
    if (m->has_last && m->kind->drop) m->kind->drop(m->last);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    free(m->current);
    free(m->last);
    free(m->work);
    free(m);
}

volatile int *maint_cancel_flag(struct maint *m)
{
    return &m->cancel;
}

/* queue: lock held. */
static int queue(struct maint *m, const struct maint_run *proto, int scheduled, int64_t *id)
{
    if (m->stopping) return -ENODEV;
    if (m->has_current) {
        if (id) *id = m->current->id;
        return -EBUSY;
    }
    memcpy(m->current, proto, m->kind->run_size);
    m->current->id = ++m->next_id;
    m->current->scheduled = scheduled;
    m->current->state = MAINT_QUEUED;
    m->current->queued_usecs = util_time_now();
    m->current->start_usecs = m->current->end_usecs = 0;
    m->current->message[0] = '\0';
    m->has_current = 1;
    if (id) *id = m->current->id;
    pthread_cond_broadcast(&m->cv);
    return 0;
}

int maint_request(struct maint *m, const struct maint_run *proto, int64_t *id)
{
    int rc;
    if (!m) return -ENODEV;
    pthread_mutex_lock(&m->mu);
    rc = queue(m, proto, proto->scheduled, id);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

void maint_tick(struct maint *m, int64_t real, const struct maint_run *proto)
{
    if (!m || m->interval_usecs <= 0) return;
    pthread_mutex_lock(&m->mu);
    if (real - m->last_scheduled_real >= m->interval_usecs && !m->has_current && queue(m, proto, 1, NULL) == 0) {
        m->last_scheduled_real = real;
        log_info("%s: scheduled %s %lld queued", m->kind->name, m->kind->name, (long long)m->current->id);
    }
    pthread_mutex_unlock(&m->mu);
}

void maint_peek(struct maint *m, struct maint_run *current, int *has_current, struct maint_run *last,
                int *has_last, int64_t *interval, int64_t *next)
{
    pthread_mutex_lock(&m->mu);
    *interval = m->interval_usecs;
    *next = m->interval_usecs ? m->last_scheduled_real + m->interval_usecs : 0;
    *has_current = m->has_current;
    memcpy(current, m->current, m->kind->run_size);
    *has_last = m->has_last;
    memcpy(last, m->last, m->kind->run_size);
    if (m->has_last && m->kind->hold) m->kind->hold(last);
    pthread_mutex_unlock(&m->mu);
}
