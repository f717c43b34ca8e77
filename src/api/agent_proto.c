/* agent_proto.c: the agent protocol's routes on cofferd (docs/agent-protocol.md): what a remote
 * coffer-agent calls. Coffer extensions under /v2/coffer/agents/, no tenant header:
 *   POST /v2/coffer/agents/register   no key: the body's registration token is the credential. The
 *        connection's unexpired, unused token (GenerateDataSourceConnectionRegistrationToken) is taken
 *        (single use), and in one transaction the connector (a DataSourceConnector document), the
 *        agent's API key (role Agent, the connection's tenant) and the agent row are made. Refused:
 *        401 for a token no connection has (it counts as a failed authentication of the address),
 *        403 for an expired or already used one; the audit log records every attempt (dispatch).
 *   POST /v2/coffer/agents/heartbeat  an Agent key: the agent reports its host name, addresses,
 *        version and volumes; the hosts it serves (kPhysical registrations whose endpoint is its
 *        host name or one of its addresses) are refreshed from that report when it changed, and the
 *        answer carries the heartbeat interval, the work queued for it (engine/remote.h) and an
 *        upgrade directive from svc_agent_upgrade_heartbeat; a heartbeat with "busy": true (sent
 *        while the agent carries out work) gets neither work nor an upgrade.
 *   POST /v2/coffer/agents/work/{workId}/...  the steps of a backup or restore work item
 *        (work_json: the body and the caller's own taken work, else 404/409).
 * The principal of an agent route is resolved to its agent row by key id (cat_agent_by_key): an
 * Agent-role key that is no agent's credential is 404 (no such agent; other roles are 403 by the
 * route table), and everything a handler reads or writes is scoped to that row's tenant and
 * connector id.
 *
 * The heartbeat interval is COFFER_AGENT_HEARTBEAT_SECS (1..3600, default 30); a connector counts
 * as connected while its last heartbeat is at most three intervals old (api_agent_connected). */
#include "agent/agent.h"
#include "api/agent_proto.h"
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "api/resid.h"
#include "api/routes.h"
#include "catalog/cat_agent.h"
#include "catalog/cat_source.h"
#include "engine/remote.h"
#include "svc/agent_upgrade.h"
#include "svc/pg_discover.h"
#include "util/log.h"
#include "util/time.h"
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGENT_MAX_VOLUMES 4096
#define AGENT_MAX_ADDRESSES 64
#define AGENT_MAX_TEXT 4096

int api_agent_heartbeat_secs(void)
{
    const char *e = getenv("COFFER_AGENT_HEARTBEAT_SECS");
    long v = e ? strtol(e, NULL, 10) : 0;
    return v >= 1 && v <= 3600 ? (int)v : 30;
}

int api_agent_connected(int64_t last_seen_usecs, int64_t now_usecs)
{
    return last_seen_usecs > 0 && now_usecs - last_seen_usecs <= 3LL * api_agent_heartbeat_secs() * 1000000;
}

/* ---- shared checks of the report an agent sends (register and heartbeat) ---- */

static int short_str(struct api_resp *resp, json_t *body, const char *field, int required, size_t max,
                     const char **out)
{
    *out = NULL;
    if (!jv_str_nonempty(resp, body, "", field, required, out)) return -1;
    if (*out && strlen(*out) > max) {
        api_error(resp, 400, "InvalidField", "field '%s' is longer than %zu bytes", field, max);
        return -1;
    }
    return 0;
}

/* check_addresses: optional array of at most AGENT_MAX_ADDRESSES host addresses. */
static int check_addresses(struct api_resp *resp, json_t *body, json_t **out)
{
    size_t i;
    json_t *v;
    *out = NULL;
    if (!jv_str_array(resp, body, "", "addresses", 0, 0, out)) return -1;
    if (json_array_size(*out) > AGENT_MAX_ADDRESSES) {
        api_error(resp, 400, "InvalidField", "field 'addresses' lists more than %d addresses", AGENT_MAX_ADDRESSES);
        return -1;
    }
    json_array_foreach(*out, i, v) {
        if (!agent_endpoint_valid(json_string_value(v))) {
            api_error(resp, 400, "InvalidField", "field 'addresses[%zu]' is not a host name or an IP address", i);
            return -1;
        }
    }
    return 0;
}

static int check_volume(struct api_resp *resp, json_t *e, const char *path, void *ud)
{
    const char *p = NULL;
    json_t *used;
    (void)ud;
    if (!jv_str_nonempty(resp, e, path, "path", 1, &p) || !jv_str(resp, e, path, "fstype", 0, NULL) ||
        !jv_str(resp, e, path, "device", 0, NULL) || !jv_bool(resp, e, path, "network", 0, NULL, NULL))
        return 0;
    if (p[0] != '/' || strlen(p) > AGENT_MAX_TEXT) return jv_fail(resp, path, "path", "must be an absolute path of at most %d bytes", AGENT_MAX_TEXT);
    used = json_object_get(e, "used_bytes");
    if (used && (!json_is_integer(used) || json_integer_value(used) < -1))
        return jv_fail(resp, path, "used_bytes", "must be an integer >= -1");
    return 1;
}

/* ---- POST /v2/coffer/agents/register ---- */

static const char *refusal_text(enum cat_token_refusal why)
{
    switch (why) {
    case CAT_TOKEN_EXPIRED: return "it has expired (generate a new one with POST "
                                   "/v2/data-source-connections/{connectionId}/registrationToken)";
    case CAT_TOKEN_USED: return "it was already used (a token registers one connector; generate a new one with "
                                "POST /v2/data-source-connections/{connectionId}/registrationToken)";
    default: return "it is not the registration token of any data-source connection";
    }
}

static json_t *connector_doc(const char *id, const char *connection, const char *host, const char *version,
                             json_t *addresses)
{
    json_t *d = json_pack("{s:s,s:s,s:s,s:s}", "connectorId", id, "connectionId", connection, "connectorName", host,
                          "softwareVersion", version);
    if (d && json_array_size(addresses) > 0) json_object_set(d, "tenantSideIp", json_array_get(addresses, 0));
    return d;
}

static void agent_register(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    json_t *body = api_body_object(req, resp), *addresses = NULL, *doc = NULL;
    const char *token = NULL, *host = NULL, *version = NULL;
    unsigned char digest[CAT_TOKEN_SHA256_LEN];
    unsigned dlen = 0;
    char *tenant = NULL, *connection = NULL, cid[24], key_id[API_KEY_ID_HEX + 1], secret[API_KEY_TOKEN_LEN + 1];
    enum cat_token_refusal why = CAT_TOKEN_UNKNOWN;
    int64_t want = 0, seq = 0, now = util_time_now();
    int has_want = 0, rc;
    struct cat_key k;
    struct cat_agent a;
    memset(&k, 0, sizeof k);
    secret[0] = '\0';
    if (!body) return;
    if (short_str(resp, body, "token", 1, 512, &token) != 0 || short_str(resp, body, "hostname", 1, 255, &host) != 0 ||
        short_str(resp, body, "version", 1, 64, &version) != 0 || check_addresses(resp, body, &addresses) != 0 ||
        !jv_int_range(resp, body, "", "connector_id", 0, 1, INT64_MAX, &want, &has_want))
        goto out;
    if (!agent_endpoint_valid(host)) {
        api_error(resp, 400, "InvalidField", "field 'hostname' is not a host name or an IP address");
        goto out;
    }
    if (EVP_Digest(token, strlen(token), digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != sizeof digest) {
        api_error(resp, 500, "InternalError", "cannot hash the token");
        goto out;
    }
    if (cat_begin(cat) != 0) {
        api_catalog_error(resp, 0, "starting a transaction");
        goto out;
    }
    rc = cat_agent_token_take(cat, digest, now / 1000, &tenant, &connection, &why);
    if (rc == 0 && !has_want) rc = cat_next_seq(cat, "connector", &seq);
    if (rc == 0) {
        snprintf(cid, sizeof cid, "%lld", (long long)(has_want ? want : seq));
        if (api_key_new_token(key_id, secret, k.sha256) != 0) rc = -1;
    }
    if (rc == 0) {
        char name[64];
        snprintf(name, sizeof name, "coffer-agent connector %s", cid);
        k.id = key_id;
        k.tenant = tenant;
        k.name = name;
        k.roles = API_ROLE_AGENT;
        k.created_usecs = now;
        a = (struct cat_agent){ .tenant = tenant, .connector_id = cid, .connection_id = connection, .key_id = key_id,
                                .hostname = (char *)host, .version = (char *)version, .addresses = addresses,
                                .registered_usecs = now };
        doc = connector_doc(cid, connection, host, version, addresses);
        rc = doc ? cat_agent_insert(cat, &a, doc, &k) : -1;
    }
    if (rc == 0) rc = cat_commit(cat);
    else cat_rollback(cat);
    if (rc == CAT_NOT_FOUND && !tenant) {
        /* an unknown token is a failed authentication of the address (auth.h limits); a used or expired
         * one was a real token: the caller had it */
        const union MHD_ConnectionInfo *ci =
            req->conn ? MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
        if (why == CAT_TOKEN_UNKNOWN && api_ctx(req)->auth) api_auth_failed(api_ctx(req)->auth, ci ? ci->client_addr : NULL);
        api_error(resp, why == CAT_TOKEN_UNKNOWN ? 401 : 403, why == CAT_TOKEN_UNKNOWN ? "Unauthorized" : "Forbidden",
                  "field 'token': the registration token is refused: %s", refusal_text(why));
    } else if (rc == CAT_CONFLICT) {
        api_error(resp, 409, "Conflict", "field 'connector_id': a connector with id %s exists already", cid);
    } else if (rc != 0) {
        api_catalog_error(resp, rc, "registering the agent");
    } else {
        log_info("agent registered: tenant %s, connection %s, connector %s, host %s, key %s", tenant, connection, cid,
                 host, key_id);
        api_json(resp, 201, json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "connector_id", cid, "tenant", tenant,
                                      "connection_id", connection, "key_id", key_id, "credential", secret,
                                      "heartbeat_secs", api_agent_heartbeat_secs()));
    }
out:
    OPENSSL_cleanse(secret, sizeof secret);
    json_decref(doc);
    free(tenant);
    free(connection);
    json_decref(body);
}

/* ---- the caller of an agent route ---- */

int api_agent_of(struct api_req *req, struct api_resp *resp, struct cat_agent *out)
{
    int rc = cat_agent_by_key(api_ctx(req)->cat, req->who->key_id, out);
    if (rc == 0 && (out->revoked_usecs != 0 || strcmp(out->tenant, req->who->tenant) != 0)) {
        cat_agent_release(out);
        rc = CAT_NOT_FOUND;
    }
    if (rc == CAT_NOT_FOUND) /* the key holds the role; what it lacks is an agent (so not 403) */
        api_error(resp, 404, "NotFound", "no registered coffer-agent has key '%s' as its credential (agent keys are "
                  "made by coffer-agent register)", req->who->key_id);
    else if (rc != 0)
        api_catalog_error(resp, rc, "looking up the agent of this key");
    return rc == 0 ? 0 : -1;
}

/* ---- POST /v2/coffer/agents/heartbeat ---- */

struct serve_ctx {
    const struct cat_agent *agent;
    int changed;           /* the report differs from the stored one */
    int64_t ids[256];
    char *endpoints[256];
    size_t n;
};

static int serve_one(void *ud, const struct cat_source *s)
{
    struct serve_ctx *c = ud;
    const char *ep = json_string_value(json_object_get(json_object_get(s->doc, "physicalParams"), "endpoint"));
    json_t *v;
    size_t i;
    int match = 0;
    if ((strcmp(s->environment, "kPhysical") != 0 && strcmp(s->environment, "kSQL") != 0) || !ep ||
        c->n >= sizeof c->ids / sizeof c->ids[0])
        return 0;
    match = strcasecmp(ep, c->agent->hostname) == 0;
    json_array_foreach(c->agent->addresses, i, v) match = match || strcasecmp(ep, json_string_value(v)) == 0;
    if (!match) return 0;
    if (!c->changed && s->agent == CAT_AGENT_REMOTE && s->auth_status && strcmp(s->auth_status, "Finished") == 0)
        return 0;
    c->ids[c->n] = s->id;
    c->endpoints[c->n] = strdup(ep);
    if (!c->endpoints[c->n]) return -1;
    c->n++;
    return 0;
}

/* refresh_served: refreshes the registrations of the hosts this agent serves (after its heartbeat
 * was recorded), all of them when changed, else those not yet shown as served by it. */
static void refresh_served(struct cat *cat, const struct cat_agent *a, int changed)
{
    struct serve_ctx c = { .agent = a, .changed = changed };
    if (cat_source_list(cat, a->tenant, NULL, serve_one, &c) != 0)
        log_warn("agent %s: cannot list the registrations it serves", a->connector_id);
    for (size_t i = 0; i < c.n; i++) {
        if (agent_refresh_source(cat, a->tenant, c.ids[i], c.endpoints[i]) != 0 ||
            svc_pg_refresh(cat, NULL, a->tenant, c.ids[i]) != 0) /* its PostgreSQL, from the agent's report */
            log_warn("agent %s: cannot refresh registration %lld", a->connector_id, (long long)c.ids[i]);
        free(c.endpoints[i]);
    }
}

static int agent_pg_report(struct cat *cat, struct api_resp *resp, const struct cat_agent *a, json_t *body,
                           int *changed);

static void agent_heartbeat(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    json_t *body = api_body_object(req, resp), *addresses = NULL, *volumes = NULL, *report = NULL, *answer, *up = NULL;
    const char *host = NULL, *version = NULL;
    struct cat_agent a, now_a;
    int64_t now = util_time_now();
    int rc, changed, busy = 0;
    if (!body) return;
    if (api_agent_of(req, resp, &a) != 0) goto out_body;
    if (short_str(resp, body, "hostname", 0, 255, &host) != 0 || short_str(resp, body, "version", 1, 64, &version) != 0 ||
        check_addresses(resp, body, &addresses) != 0 ||
        !jv_each_object(resp, body, "", "volumes", 0, 0, check_volume, NULL) ||
        !jv_obj(resp, body, "", "upgrade_report", 0, &report) || !jv_bool(resp, body, "", "busy", 0, &busy, NULL))
        goto out;
    volumes = json_object_get(body, "volumes");
    if (json_array_size(volumes) > AGENT_MAX_VOLUMES) {
        api_error(resp, 400, "InvalidField", "field 'volumes' lists more than %d volumes", AGENT_MAX_VOLUMES);
        goto out;
    }
    if (host && !agent_endpoint_valid(host)) {
        api_error(resp, 400, "InvalidField", "field 'hostname' is not a host name or an IP address");
        goto out;
    }
    changed = (host && strcmp(host, a.hostname) != 0) || (volumes && !json_equal(volumes, a.volumes)) ||
              (addresses && !json_equal(addresses, a.addresses));
    if (agent_pg_report(cat, resp, &a, body, &changed) != 0) goto out;
    rc = cat_agent_heartbeat(cat, a.tenant, a.connector_id, host, version, addresses, volumes, now);
    if (rc == 0) rc = cat_agent_get(cat, a.tenant, a.connector_id, &now_a);
    if (rc != 0) {
        api_catalog_error(resp, rc, "recording the heartbeat");
        goto out;
    }
    refresh_served(cat, &now_a, changed);
    cat_agent_release(&now_a);
    /* a busy agent (heartbeating while it carries out a work item) takes no new work and no
     * upgrade: both wait for its next idle heartbeat */
    up = busy ? NULL : svc_agent_upgrade_heartbeat(cat, a.tenant, a.connector_id, version, report, now);
    answer = json_pack("{s:s,s:i,s:o}", "connector_id", a.connector_id, "heartbeat_secs", api_agent_heartbeat_secs(),
                       "work", api_ctx(req)->repo && !busy
                                   ? eng_remote_take(api_ctx(req)->repo, a.tenant, a.connector_id) : json_array());
    if (up) json_object_set_new(answer, "upgrade", up);
    api_json(resp, 200, answer);
out:
    cat_agent_release(&a);
out_body:
    json_decref(body);
}

/* ---- /v2/coffer/agents/work/{workId}/...: carrying out a backup (engine/remote.h) ---- */

/* work_of: the caller's agent and its taken work named by the path; -1 after answering. */
static int work_of(struct api_req *req, struct api_resp *resp, struct eng_remote_work **w)
{
    struct cat_agent a;
    const char *id = req->params[0];
    int rc;
    *w = NULL;
    if (api_agent_of(req, resp, &a) != 0) return -1;
    rc = strlen(id) <= 64 ? eng_remote_get(id, a.tenant, a.connector_id, w) : -ENOENT;
    cat_agent_release(&a);
    if (rc == -ENOENT) api_error(resp, 404, "NotFound", "no work '%.64s' of this agent", id);
    else if (rc == -ECANCELED)
        api_error(resp, 409, "Conflict", "work '%.64s' has ended (canceled, timed out or finished): stop it", id);
    else if (!api_ctx(req)->repo) api_error(resp, 503, "Unavailable", "the repository is not available");
    if (rc == 0 && !api_ctx(req)->repo) {
        eng_remote_unref(*w);
        *w = NULL;
        rc = -1;
    }
    return rc == 0 ? 0 : -1;
}

/* work_json: the JSON body of a work request and the caller's work named by the path (both to be
 * released with work_release); -1 after answering, with nothing to release. */
static int work_json(struct api_req *req, struct api_resp *resp, json_t **body, struct eng_remote_work **w)
{
    *w = NULL;
    if (!(*body = api_body_object(req, resp))) return -1;
    if (work_of(req, resp, w) == 0) return 0;
    json_decref(*body);
    *body = NULL;
    return -1;
}

static void work_release(json_t *body, struct eng_remote_work *w)
{
    eng_remote_unref(w);
    json_decref(body);
}

static void work_exists(struct api_req *req, struct api_resp *resp)
{
    struct eng_remote_work *w;
    json_t *body, *ids = NULL, *missing = NULL;
    char err[256];
    if (work_json(req, resp, &body, &w) != 0) return;
    if (jv_arr(resp, body, "", "ids", 1, &ids)) {
        if (eng_remote_missing(w, api_ctx(req)->repo, ids, &missing, err, sizeof err) == 0)
            api_json(resp, 200, json_pack("{s:o}", "missing", missing));
        else api_error(resp, 400, "InvalidField", "field 'ids' %s", err);
    }
    work_release(body, w);
}

static void work_blobs(struct api_req *req, struct api_resp *resp)
{
    struct eng_remote_work *w;
    char err[512] = "";
    size_t stored = 0;
    int rc;
    if (work_of(req, resp, &w) != 0) return;
    rc = eng_remote_blobs(w, api_ctx(req)->repo, req->body, req->body ? req->body_len : 0, &stored, err, sizeof err);
    eng_remote_unref(w);
    if (rc == 0) api_json(resp, 200, json_pack("{s:I}", "stored", (json_int_t)stored));
    else if (rc == -EINVAL || rc == -EPERM) api_error(resp, 400, "InvalidBlob", "%s", err);
    else api_catalog_error(resp, rc, "storing the blobs");
}

static void work_tree(struct api_req *req, struct api_resp *resp)
{
    struct eng_remote_work *w;
    json_t *body;
    const char *id = NULL;
    void *data = NULL;
    size_t len = 0;
    int rc;
    if (work_json(req, resp, &body, &w) != 0) return;
    if (short_str(resp, body, "id", 1, 64, &id) == 0) {
        rc = eng_remote_tree(w, api_ctx(req)->repo, id, &data, &len);
        if (rc == -EPERM) {
            api_error(resp, 403, "Forbidden", "field 'id': tree %s is not part of this work's parent snapshot", id);
        } else if (rc != 0) {
            api_error(resp, 500, "InternalError", "cannot read tree %s: %s", id, strerror(-rc));
        } else {
            char *b64 = malloc(4 * ((len + 2) / 3) + 1);
            if (b64) EVP_EncodeBlock((unsigned char *)b64, data, (int)len);
            if (b64) api_json(resp, 200, json_pack("{s:s}", "data", b64));
            else api_error(resp, 500, "InternalError", "out of memory");
            free(b64);
        }
        free(data);
    }
    work_release(body, w);
}

/* POST .../read {"ids": [...]}: blobs of the work's snapshot, framed (application/octet-stream). */
static void work_read(struct api_req *req, struct api_resp *resp)
{
    struct eng_remote_work *w;
    json_t *body, *ids = NULL;
    void *out = NULL;
    size_t len = 0, n = 0;
    char err[512] = "";
    int rc;
    if (work_json(req, resp, &body, &w) != 0) return;
    if (jv_arr(resp, body, "", "ids", 1, &ids)) {
        rc = eng_remote_read(w, api_ctx(req)->repo, ids, &out, &len, &n, err, sizeof err);
        if (rc == -EPERM) api_error(resp, 403, "Forbidden", "field 'ids' %s", err);
        else if (rc == -EINVAL) api_error(resp, 400, "InvalidField", "field 'ids' %s", err);
        else if (rc != 0) api_error(resp, 500, "InternalError", "%s", err);
        else if (!(resp->raw = MHD_create_response_from_buffer(len, out, MHD_RESPMEM_MUST_FREE))) {
            free(out);
            api_error(resp, 500, "InternalError", "out of memory");
        } else {
            MHD_add_response_header(resp->raw, "Content-Type", "application/octet-stream");
            resp->status = 200;
        }
    }
    work_release(body, w);
}

static void work_parent(struct api_req *req, struct api_resp *resp)
{
    struct eng_remote_work *w;
    json_t *body, *doc = NULL;
    const char *id = NULL;
    if (work_json(req, resp, &body, &w) != 0) return;
    if (short_str(resp, body, "id", 1, 64, &id) == 0) {
        if (eng_remote_parent(w, api_ctx(req)->repo, id, &doc) == 0) api_json(resp, 200, json_pack("{s:o}", "doc", doc));
        else api_error(resp, 404, "NotFound", "field 'id': snapshot %s is not this work's parent", id);
    }
    work_release(body, w);
}

static void work_snapshot(struct api_req *req, struct api_resp *resp)
{
    struct eng_remote_work *w;
    json_t *body, *doc = NULL;
    char id[REPO_ID_HEX_LEN + 1], err[512] = "";
    int rc;
    if (work_json(req, resp, &body, &w) != 0) return;
    if (jv_obj(resp, body, "", "doc", 1, &doc)) {
        rc = eng_remote_commit(w, api_ctx(req)->repo, doc, id, err, sizeof err);
        if (rc == 0) api_json(resp, 201, json_pack("{s:s}", "snapshot_id", id));
        else if (rc == -EINVAL || rc == -ENOENT) api_error(resp, 400, "InvalidSnapshot", "field 'doc': %s", err);
        else if (rc == -EALREADY) api_error(resp, 409, "Conflict", "%s", err);
        else api_catalog_error(resp, rc, err);
    }
    work_release(body, w);
}

static void work_done(struct api_req *req, struct api_resp *resp)
{
    struct eng_remote_work *w;
    json_t *body, *result = NULL;
    const char *failure = NULL;
    char err[256] = "";
    if (work_json(req, resp, &body, &w) != 0) return;
    if (jv_obj(resp, body, "", "result", 0, &result) && short_str(resp, body, "error", 0, 1024, &failure) == 0) {
        if (!result && !failure) api_error(resp, 400, "InvalidField", "give field 'result' or field 'error'");
        else if (eng_remote_finish(w, result, failure, err, sizeof err) == 0) api_empty(resp, 204);
        else api_error(resp, 409, "Conflict", "%s", err);
    }
    work_release(body, w);
}

/* ---- PostgreSQL through the agent (docs/agent-protocol.md) ---- */

/* POST .../stage {"doc"}: a base backup's first run, checked and kept for this work (engine/remote.h
 * eng_remote_stage); answers {"snapshot_id"}: the id the final run names as its parent. */
static void work_stage(struct api_req *req, struct api_resp *resp)
{
    struct eng_remote_work *w;
    json_t *body = api_body_object(req, resp), *doc = NULL;
    char id[REPO_ID_HEX_LEN + 1], err[512] = "";
    int rc;
    if (!body) return;
    if (work_of(req, resp, &w) != 0) goto out;
    if (jv_obj(resp, body, "", "doc", 1, &doc)) {
        rc = eng_remote_stage(w, api_ctx(req)->repo, doc, id, err, sizeof err);
        if (rc == 0) api_json(resp, 201, json_pack("{s:s}", "snapshot_id", id));
        else if (rc == -EINVAL || rc == -ENOENT) api_error(resp, 400, "InvalidSnapshot", "field 'doc': %s", err);
        else if (rc == -EALREADY) api_error(resp, 409, "Conflict", "%s", err);
        else api_catalog_error(resp, rc, err);
    }
    eng_remote_unref(w);
out:
    json_decref(body);
}

#define AGENT_PG_MAX_INSTANCES 16
#define AGENT_PG_MAX_DBS 1000
#define AGENT_PG_MAX_TABLES 10000

static int check_pg_table(struct api_resp *resp, json_t *e, const char *path, void *ud)
{
    const char *name = NULL;
    json_t *b = json_object_get(e, "bytes");
    (void)ud;
    if (!jv_str_nonempty(resp, e, path, "name", 1, &name)) return 0;
    if (strlen(name) > 255) return jv_fail(resp, path, "name", "must be at most 255 bytes");
    if (b && (!json_is_integer(b) || json_integer_value(b) < -1)) return jv_fail(resp, path, "bytes", "must be an integer >= -1");
    return 1;
}

static int check_pg_db(struct api_resp *resp, json_t *e, const char *path, void *ud)
{
    const char *name = NULL, *owner = NULL;
    json_t *b = json_object_get(e, "bytes");
    (void)ud;
    if (!jv_str_nonempty(resp, e, path, "name", 1, &name) || !jv_str(resp, e, path, "owner", 0, &owner) ||
        !jv_bool(resp, e, path, "tables_cut", 0, NULL, NULL))
        return 0;
    if (strlen(name) > 63 || (owner && strlen(owner) > 63))
        return jv_fail(resp, path, strlen(name) > 63 ? "name" : "owner", "must be at most 63 bytes");
    if (b && (!json_is_integer(b) || json_integer_value(b) < -1)) return jv_fail(resp, path, "bytes", "must be an integer >= -1");
    if (json_array_size(json_object_get(e, "tables")) > AGENT_PG_MAX_TABLES)
        return jv_fail(resp, path, "tables", "lists more than %d tables", AGENT_PG_MAX_TABLES);
    return jv_each_object(resp, e, path, "tables", 0, 0, check_pg_table, NULL);
}

static int check_pg_instance(struct api_resp *resp, json_t *e, const char *path, void *ud)
{
    const char *sock = NULL, *dd = NULL, *text = NULL;
    int64_t port = 0, vn = 0;
    (void)ud;
    if (!jv_int_range(resp, e, path, "port", 1, 1, 65535, &port, NULL) ||
        !jv_str_nonempty(resp, e, path, "socket_dir", 1, &sock) || !jv_str(resp, e, path, "data_directory", 0, &dd) ||
        !jv_str(resp, e, path, "version", 0, &text) || !jv_int_range(resp, e, path, "version_num", 0, 0, 9999999, &vn, NULL) ||
        !jv_str(resp, e, path, "error", 0, &text) || !jv_str(resp, e, path, "warnings", 0, &text) ||
        !jv_bool(resp, e, path, "databases_cut", 0, NULL, NULL))
        return 0;
    if (sock[0] != '/' || strlen(sock) > 80) return jv_fail(resp, path, "socket_dir", "must be an absolute path of at most 80 bytes");
    if (dd && (dd[0] != '/' || strlen(dd) > 1000)) return jv_fail(resp, path, "data_directory", "must be an absolute path of at most 1000 bytes");
    if (json_array_size(json_object_get(e, "databases")) > AGENT_PG_MAX_DBS)
        return jv_fail(resp, path, "databases", "lists more than %d databases", AGENT_PG_MAX_DBS);
    return jv_each_object(resp, e, path, "databases", 0, 0, check_pg_db, NULL);
}

/* agent_pg_report: the heartbeat's "pg_instances" (optional) checked whole, then recorded when it
 * differs from the agent's last (*changed set: the hosts it serves are refreshed). 0, or -1 after
 * answering 4xx/5xx (nothing changed). */
static int agent_pg_report(struct cat *cat, struct api_resp *resp, const struct cat_agent *a, json_t *body,
                           int *changed)
{
    json_t *pg = json_object_get(body, "pg_instances"), *old = NULL;
    int rc;
    if (!pg) return 0;
    if (json_array_size(pg) > AGENT_PG_MAX_INSTANCES) {
        api_error(resp, 400, "InvalidField", "field 'pg_instances' lists more than %d instances", AGENT_PG_MAX_INSTANCES);
        return -1;
    }
    if (!jv_each_object(resp, body, "", "pg_instances", 0, 0, check_pg_instance, NULL)) return -1;
    rc = cat_agent_pg_get(cat, a->tenant, a->connector_id, &old);
    if (rc == 0 && !json_equal(old, pg)) {
        rc = cat_agent_pg_set(cat, a->tenant, a->connector_id, pg);
        *changed = 1;
    }
    json_decref(old);
    if (rc != 0) {
        api_catalog_error(resp, rc, "recording the agent's PostgreSQL instances");
        return -1;
    }
    return 0;
}

const struct api_route api_routes_coffer_agent_register[] = {
    { "POST", "/v2/coffer/agents/register", agent_register, 0, API_ROLE_AGENT },
    { NULL, NULL, NULL, 0, 0 },
};

const struct api_route api_routes_coffer_agents[] = {
    { "POST", "/v2/coffer/agents/heartbeat", agent_heartbeat, API_ROUTE_TENANT_KEYS, API_ROLE_AGENT },
    { "POST", "/v2/coffer/agents/work/{workId}/exists", work_exists, API_ROUTE_TENANT_KEYS, API_ROLE_AGENT },
    { "POST", "/v2/coffer/agents/work/{workId}/blobs", work_blobs, API_ROUTE_TENANT_KEYS, API_ROLE_AGENT },
    { "POST", "/v2/coffer/agents/work/{workId}/tree", work_tree, API_ROUTE_TENANT_KEYS, API_ROLE_AGENT },
    { "POST", "/v2/coffer/agents/work/{workId}/parent", work_parent, API_ROUTE_TENANT_KEYS, API_ROLE_AGENT },
    { "POST", "/v2/coffer/agents/work/{workId}/read", work_read, API_ROUTE_TENANT_KEYS, API_ROLE_AGENT },
    { "POST", "/v2/coffer/agents/work/{workId}/snapshot", work_snapshot, API_ROUTE_TENANT_KEYS, API_ROLE_AGENT },
    { "POST", "/v2/coffer/agents/work/{workId}/done", work_done, API_ROUTE_TENANT_KEYS, API_ROLE_AGENT },
    { "POST", "/v2/coffer/agents/work/{workId}/stage", work_stage, API_ROUTE_TENANT_KEYS, API_ROLE_AGENT },
    { NULL, NULL, NULL, 0, 0 },
};
