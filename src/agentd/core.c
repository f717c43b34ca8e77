/* core.c: the agent core: the heartbeat loop (agentd_run; registration is register.c): every
 * interval the agent reports its host (discover.c) to POST /v2/coffer/agents/heartbeat; the work
 * items of the answer are carried out in turn (backup.c), the answer's interval is the next wait,
 * its "upgrade" directive goes to agentd_upgrade_apply (fleet side). While work items run, a second
 * thread goes on heartbeating every interval with "busy": true (the server then hands out no work
 * and no upgrade), so the connector stays connected during a long backup or restore. A transport
 * failure is retried with a backoff doubling from 1 s to the interval; a 401/403 means the
 * credential was revoked (the connector was deleted): the loop ends with -EACCES. Waits are slept
 * in steps of at most a second so a stop request ends the loop promptly. The event log is log.c. */
#include "agentd/core.h"
#include "util/thread.h"
#include "util/time.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- heartbeat ---- */

/* send_beat: one heartbeat POST; busy: sent while a work item runs (the server hands out no work and
 * no upgrade then, and no upgrade report is sent). The answer (status 200) into *a; -EACCES when the
 * credential was refused, -EPROTO for another status, a transport code otherwise. */
static int send_beat(const struct agentd_state *st, const struct agentd_run_opts *o, int busy,
                     struct agentd_answer *a, char *err, size_t errlen)
{
    struct agentd_conn c = { .url = st->server_url, .pin = st->server_pin, .credential = st->credential,
                             .rate_limit = o->rate_limit, .timeout_secs = 60, .uncounted = busy };
    char mbuf[256];
    json_t *rep = agentd_host_report(o->hostname, o->addresses, err, errlen);
    int rc;
    memset(a, 0, sizeof *a);
    if (!rep) return -EIO;
    if (busy) {
        json_object_set_new(rep, "busy", json_true());
    } else {
        json_t *r = agentd_upgrade_report(st);
        if (r) json_object_set_new(rep, "upgrade_report", r);
    }
    rc = agentd_http_json(&c, "POST", "/v2/coffer/agents/heartbeat", rep, a, err, errlen);
    json_decref(rep);
    if (rc != 0) return rc;
    if (a->status == 401 || a->status == 403) {
        snprintf(err, errlen, "the server refused this agent's credential (HTTP %ld: %s): the connector was deleted "
                 "or its key revoked; register again with a new token", a->status,
                 agentd_answer_message(a, mbuf, sizeof mbuf));
        agentd_answer_release(a);
        return -EACCES;
    }
    if (a->status != 200) {
        snprintf(err, errlen, "heartbeat refused (HTTP %ld): %s", a->status, agentd_answer_message(a, mbuf, sizeof mbuf));
        agentd_answer_release(a);
        return -EPROTO;
    }
    return 0;
}

/* The heartbeats sent while work items run (one thread, started before the first item and joined
 * after the last): every interval a busy heartbeat, so the connector stays connected during a long
 * backup or restore; failures are only recorded (the work's own requests decide its fate). */
struct busy_beats {
    const struct agentd_state *st;
    const struct agentd_run_opts *o;
    int interval;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    int failing;  /* the last busy heartbeat failed (logged once per failing stretch) */
};

static void *busy_beat_main(void *arg)
{
    struct busy_beats *b = arg;
    util_thread_name("agent-beat");
    pthread_mutex_lock(&b->mu);
    while (!b->stop) {
        struct timespec ts;
        char herr[512] = "";
        struct agentd_answer a;
        int rc;
        util_deadline_ms(&ts, (int64_t)b->interval * 1000);
        /* bounded: a stop wakes it; otherwise one beat per interval */
        if (pthread_cond_timedwait(&b->cv, &b->mu, &ts) != ETIMEDOUT || b->stop) continue;
        pthread_mutex_unlock(&b->mu);
        rc = send_beat(b->st, b->o, 1, &a, herr, sizeof herr);
        if (rc == 0) agentd_answer_release(&a);
        else if (!b->failing) agentd_log(AGENTD_WARNING, "heartbeat during work failed: %s", herr);
        b->failing = rc != 0;
        agentd_set_connected(rc == 0);
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int agentd_heartbeat_once(const struct agentd_state *st, const struct agentd_run_opts *o, int *interval_secs,
                          char *err, size_t errlen)
{
    struct agentd_answer a;
    json_t *up, *work;
    int rc = send_beat(st, o, 0, &a, err, errlen), interval = 30;
    if (rc != 0) return rc;
    {
        json_t *i = json_object_get(a.json, "heartbeat_secs");
        interval = json_is_integer(i) && json_integer_value(i) >= 1 && json_integer_value(i) <= 3600
                       ? (int)json_integer_value(i) : 30;
        if (interval_secs) *interval_secs = interval;
    }
    work = json_object_get(a.json, "work");
    if (json_array_size(work) > 0) {
        struct busy_beats b = { .st = st, .o = o, .interval = interval };
        pthread_t th;
        int started;
        pthread_mutex_init(&b.mu, NULL);
        pthread_cond_init(&b.cv, NULL);
        started = pthread_create(&th, NULL, busy_beat_main, &b) == 0;
        if (!started) agentd_log(AGENTD_WARNING, "cannot start the heartbeat thread: no heartbeats during this work");
        for (size_t i = 0; i < json_array_size(work); i++) agentd_work_run(st, o, json_array_get(work, i));
        if (started) {
            pthread_mutex_lock(&b.mu);
            b.stop = 1;
            pthread_cond_signal(&b.cv);
            pthread_mutex_unlock(&b.mu);
            pthread_join(th, NULL);
        }
        pthread_cond_destroy(&b.cv);
        pthread_mutex_destroy(&b.mu);
    }
    up = json_object_get(a.json, "upgrade");
    if (json_is_object(up)) {
        char uerr[512] = "";
        if (agentd_upgrade_apply(st, up, uerr, sizeof uerr) != 0) agentd_log(AGENTD_ERROR, "upgrade failed: %s", uerr);
    }
    agentd_answer_release(&a);
    return 0;
}

/* nap: sleeps secs seconds in steps of at most one, returning early when *stop is set. */
static void nap(int secs, volatile sig_atomic_t *stop)
{
    for (int i = 0; i < secs && !(stop && *stop); i++) {
        struct timespec ts = { 1, 0 };
        nanosleep(&ts, NULL);
    }
}

int agentd_run(const struct agentd_run_opts *o, char *err, size_t errlen)
{
    struct agentd_state st;
    int rc = agentd_state_load(o->state_dir, &st, err, errlen), interval = 30, backoff = 1, beats = 0, was_ok = -1;
    int serving = 0;
    if (rc == -ENOENT && o->local_listen) {
        /* Not registered yet, and the connector-side API is asked for: serve it and wait for a
         * RegisterDataSourceConnector call on it (the data-protect API's way to register a
         * connector) to write the state, then go on as a registered agent. */
        char lerr[512] = "";
        agentd_state_release(&st);
        agentd_log_open(o->state_dir);
        if (agentd_local_api_start(o->state_dir, o->local_listen, lerr, sizeof lerr) != 0) {
            snprintf(err, errlen, "not registered, and cannot serve the connector-side API on %s: %s",
                     o->local_listen, lerr);
            return -EINVAL;
        }
        serving = 1;
        agentd_log(AGENTD_INFO, "not registered yet: waiting for RegisterDataSourceConnector on %s", o->local_listen);
        while (rc == -ENOENT && !(o->stop && *o->stop)) {
            nap(1, o->stop);
            rc = agentd_state_load(o->state_dir, &st, err, errlen);
            if (rc == -ENOENT) agentd_state_release(&st);
        }
        if (rc == -ENOENT) { /* stopped before anyone registered it */
            agentd_local_api_stop();
            return 0;
        }
    }
    if (rc != 0) {
        agentd_state_release(&st);
        if (serving) agentd_local_api_stop();
        return rc;
    }
    agentd_log_open(o->state_dir);
    if (o->local_listen && !serving) {
        char lerr[512] = "";
        if (agentd_local_api_start(o->state_dir, o->local_listen, lerr, sizeof lerr) != 0)
            agentd_log(AGENTD_ERROR, "cannot serve the connector-side API on %s: %s", o->local_listen, lerr);
    }
    agentd_log(AGENTD_INFO, "connector %s of tenant %s: heartbeats to %s", st.connector_id, st.tenant, st.server_url);
    while (!(o->stop && *o->stop)) {
        char herr[512] = "";
        rc = agentd_heartbeat_once(&st, o, &interval, herr, sizeof herr);
        agentd_set_connected(rc == 0);
        if (rc == -EACCES) {
            agentd_log(AGENTD_ERROR, "%s", herr);
            snprintf(err, errlen, "%s", herr);
            break;
        }
        if (rc == 0) {
            if (was_ok != 1) agentd_log(AGENTD_INFO, "heartbeat reached %s", st.server_url);
            was_ok = 1;
            backoff = 1;
            if (o->max_beats > 0 && ++beats >= o->max_beats) break;
            nap(interval, o->stop);
        } else {
            if (was_ok != 0) agentd_log(AGENTD_WARNING, "heartbeat failed, retrying: %s", herr);
            was_ok = 0;
            nap(backoff, o->stop);
            backoff = backoff * 2 > interval ? interval : backoff * 2;
        }
        rc = 0;
    }
    if (o->local_listen) agentd_local_api_stop();
    agentd_state_release(&st);
    return rc;
}
