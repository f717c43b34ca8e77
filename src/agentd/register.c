/* register.c: agentd_register (agentd.h): the agent sends its registration token to cofferd's
 * POST /v2/coffer/agents/register with no key (the token is the credential), pins the server's key
 * (given, or the one it presents: trust on first use), and writes the state it gets back durably
 * (state.c). Its own file so that the connector-side local API (local_api.c), which registers too,
 * and the heartbeat loop (core.c), which serves that API, do not call each other. */
#include "agentd/core.h"
#include "util/time.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

