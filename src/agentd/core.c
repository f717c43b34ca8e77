/* core.c: the agent core: registration (agentd_register) and the heartbeat loop (agentd_run): every
 * interval the agent reports its host (discover.c) to POST /v2/coffer/agents/heartbeat; the work
 * items of the answer are carried out in turn (backup.c), the answer's interval is the next wait,
 * its "upgrade" directive goes to agentd_upgrade_apply (fleet side). A transport failure is retried with a backoff doubling from
 * 1 s to the interval; a 401/403 means the credential was revoked (the connector was deleted): the
 * loop ends with -EACCES. Waits are slept in steps of at most a second so a stop request ends the
 * loop promptly. The event log is log.c. */
#include "agentd/core.h"
#include "util/time.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* WEAK-UNTIL-FLEET: src/agentd/upgrade.c and local_api.c (branch i11-fleet) define these; until then
 * the references are NULL and the core calls them only when they are not. */
int agentd_upgrade_apply(const struct agentd_state *st, const json_t *directive, char *err, size_t errlen)
    __attribute__((weak)); /* WEAK-UNTIL-FLEET */
json_t *agentd_upgrade_report(const struct agentd_state *st) __attribute__((weak)); /* WEAK-UNTIL-FLEET */
int agentd_local_api_start(const char *state_dir, const char *listen, char *err, size_t errlen)
    __attribute__((weak)); /* WEAK-UNTIL-FLEET */
void agentd_local_api_stop(void) __attribute__((weak)); /* WEAK-UNTIL-FLEET */

/* ---- registration ---- */

int agentd_register(const char *state_dir, const char *server_url, const char *token, int64_t connector_id,
                    const char *pin, char *err, size_t errlen)
{
    struct agentd_state st = { 0 };
    struct agentd_conn c = { .url = server_url, .timeout_secs = 60 };
    struct agentd_answer a;
    char *tofu = NULL, mbuf[256];
    json_t *body, *rep;
    int rc;
    size_t n = strlen(server_url);
    if (n == 0 || n > 1024 || (strncmp(server_url, "http://", 7) != 0 && strncmp(server_url, "https://", 8) != 0)) {
        snprintf(err, errlen, "--server must be an http:// or https:// URL, not '%.100s'", server_url);
        return -EINVAL;
    }
    if (pin && strncmp(pin, "sha256//", 8) != 0) {
        snprintf(err, errlen, "--pin must be sha256//<base64 of the SHA-256 of the server's public key>");
        return -EINVAL;
    }
    if (!pin && strncmp(server_url, "https://", 8) == 0) {
        /* trust on first use: pin the key the server presents now, and say so */
        if ((rc = agentd_http_server_pin(server_url, &tofu, err, errlen)) != 0) return rc;
        pin = tofu;
        agentd_log(AGENTD_WARNING, "no --pin given: pinning the key %s presents now: %s", server_url, pin);
    }
    c.pin = pin;
    rep = agentd_host_report(getenv("COFFER_AGENT_HOSTNAME"), NULL, err, errlen);
    body = json_pack("{s:s,s:O,s:s,s:O}", "token", token, "hostname", json_object_get(rep, "hostname"), "version",
                     COFFER_VERSION, "addresses", json_object_get(rep, "addresses"));
    json_decref(rep);
    if (!body) {
        free(tofu);
        return -ENOMEM;
    }
    if (connector_id > 0) json_object_set_new(body, "connector_id", json_integer(connector_id));
    rc = agentd_http_json(&c, "POST", "/v2/coffer/agents/register", body, &a, err, errlen);
    json_decref(body);
    if (rc == 0 && a.status != 201) {
        snprintf(err, errlen, "registration refused (HTTP %ld): %s", a.status, agentd_answer_message(&a, mbuf, sizeof mbuf));
        rc = a.status == 401 || a.status == 403 ? -EACCES : -EPROTO;
    }
    if (rc == 0) {
        const char *cid = json_string_value(json_object_get(a.json, "connector_id"));
        const char *tenant = json_string_value(json_object_get(a.json, "tenant"));
        const char *cred = json_string_value(json_object_get(a.json, "credential"));
        if (!cid || !tenant || !cred) {
            snprintf(err, errlen, "the server's answer lacks connector_id, tenant or credential");
            rc = -EPROTO;
        } else {
            st.state_dir = strdup(state_dir);
            st.server_url = strdup(server_url);
            st.server_pin = pin ? strdup(pin) : NULL;
            st.connector_id = strdup(cid);
            st.tenant = strdup(tenant);
            st.credential = strdup(cred);
            rc = !st.state_dir || !st.server_url || (pin && !st.server_pin) || !st.connector_id || !st.tenant ||
                 !st.credential ? -ENOMEM : agentd_state_save(&st, err, errlen);
            if (rc == 0) {
                agentd_log_open(state_dir);
                agentd_log(AGENTD_INFO, "registered with %s as connector %s of tenant %s", server_url, cid, tenant);
            }
        }
    }
    if (a.body) memset(a.body, 0, strlen(a.body));
    agentd_answer_release(&a);
    agentd_state_release(&st);
    free(tofu);
    return rc;
}

/* ---- heartbeat ---- */

int agentd_heartbeat_once(const struct agentd_state *st, const struct agentd_run_opts *o, int *interval_secs,
                          char *err, size_t errlen)
{
    struct agentd_conn c = { .url = st->server_url, .pin = st->server_pin, .credential = st->credential,
                             .rate_limit = o->rate_limit, .timeout_secs = 60 };
    struct agentd_answer a;
    char mbuf[256];
    json_t *rep = agentd_host_report(o->hostname, o->addresses, err, errlen), *up;
    int rc;
    if (!rep) return -EIO;
    if (agentd_upgrade_report) { /* WEAK-UNTIL-FLEET */
        json_t *r = agentd_upgrade_report(st);
        if (r) json_object_set_new(rep, "upgrade_report", r);
    }
    rc = agentd_http_json(&c, "POST", "/v2/coffer/agents/heartbeat", rep, &a, err, errlen);
    json_decref(rep);
    if (rc != 0) return rc;
    if (a.status == 401 || a.status == 403) {
        snprintf(err, errlen, "the server refused this agent's credential (HTTP %ld: %s): the connector was deleted "
                 "or its key revoked; register again with a new token", a.status,
                 agentd_answer_message(&a, mbuf, sizeof mbuf));
        agentd_answer_release(&a);
        return -EACCES;
    }
    if (a.status != 200) {
        snprintf(err, errlen, "heartbeat refused (HTTP %ld): %s", a.status, agentd_answer_message(&a, mbuf, sizeof mbuf));
        agentd_answer_release(&a);
        return -EPROTO;
    }
    if (interval_secs) {
        json_t *i = json_object_get(a.json, "heartbeat_secs");
        *interval_secs = json_is_integer(i) && json_integer_value(i) >= 1 && json_integer_value(i) <= 3600
                             ? (int)json_integer_value(i) : 30;
    }
    {
        json_t *work = json_object_get(a.json, "work");
        for (size_t i = 0; i < json_array_size(work); i++) agentd_work_run(st, o, json_array_get(work, i));
    }
    up = json_object_get(a.json, "upgrade");
    if (json_is_object(up)) {
        if (agentd_upgrade_apply) { /* WEAK-UNTIL-FLEET */
            char uerr[512] = "";
            if (agentd_upgrade_apply(st, up, uerr, sizeof uerr) != 0)
                agentd_log(AGENTD_ERROR, "upgrade failed: %s", uerr);
        } else {
            agentd_log(AGENTD_WARNING, "the server asks for an upgrade, which this build cannot apply");
        }
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
    if (rc != 0) {
        agentd_state_release(&st);
        return rc;
    }
    agentd_log_open(o->state_dir);
    if (o->local_listen && agentd_local_api_start) { /* WEAK-UNTIL-FLEET */
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
    if (o->local_listen && agentd_local_api_stop) agentd_local_api_stop(); /* WEAK-UNTIL-FLEET */
    agentd_state_release(&st);
    return rc;
}
