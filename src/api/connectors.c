/* connectors.c: /v2/data-source-connectors: list a tenant's connectors, the connector metadata,
 * rename (PATCH) and delete a connector.
 *
 * Connectors are coffer-agents that registered themselves with a connection's token (agent_proto.c).
 * A connector's live state comes from its agent row: connectivityStatus (connected while its last
 * heartbeat is at most three intervals old, api_agent_connected), softwareVersion and tenantSideIp
 * as last reported. DELETE revokes the agent's credential in the same transaction that removes the
 * connector, so its next request is 401. The metadata lists no connector images: there are none to
 * download from this server (the agent package is GET /v2/coffer/agents/package). */
#include "api/agent_proto.h"
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "catalog/cat_agent.h"
#include "catalog/cat_connection.h"
#include "engine/remote.h"
#include "util/time.h"
#include <string.h>

static void internal(struct api_resp *resp, const char *what)
{
    api_catalog_error(resp, 0, what);
}

static const char *path_connector(struct api_req *req, struct api_resp *resp)
{
    const char *s = req->params[0];
    if (strlen(s) <= 64) return s;
    api_error(resp, 400, "InvalidId", "path parameter 'connectorId' is longer than 64 bytes");
    return NULL;
}

static void not_found(struct api_resp *resp, const char *id)
{
    api_error(resp, 404, "NotFound", "no data-source connector with id '%.64s'", id);
}

/* live_status: the connector's agent's state on top of its document (nothing for a connector that has
 * no agent row). */
static void live_status(struct cat *cat, const char *tenant, const char *id, json_t *j)
{
    struct cat_agent a;
    int64_t now = util_time_now();
    json_t *st;
    char msg[160];
    if (cat_agent_get(cat, tenant, id, &a) != 0) return;
    if (a.revoked_usecs) snprintf(msg, sizeof msg, "the connector's credential is revoked");
    else if (!a.last_seen_usecs) snprintf(msg, sizeof msg, "registered; no heartbeat yet");
    else if (api_agent_connected(a.last_seen_usecs, now)) snprintf(msg, sizeof msg, "connected");
    else snprintf(msg, sizeof msg, "no heartbeat for %lld s", (long long)((now - a.last_seen_usecs) / 1000000));
    st = json_pack("{s:b,s:s}", "isConnected", !a.revoked_usecs && api_agent_connected(a.last_seen_usecs, now),
                   "message", msg);
    if (st && a.last_seen_usecs) json_object_set_new(st, "lastConnectedTimestampSecs", json_integer(a.last_seen_usecs / 1000000));
    json_object_set_new(j, "connectivityStatus", st);
    json_object_set_new(j, "softwareVersion", json_string(a.version));
    if (json_array_size(a.addresses) > 0) json_object_set(j, "tenantSideIp", json_array_get(a.addresses, 0));
    cat_agent_release(&a);
}

/* connector_json: the stored DataSourceConnector document with the catalog's own columns on top. */
static json_t *connector_json(struct cat *cat, const char *tenant, const struct cat_connector *c)
{
    json_t *j = json_deep_copy(c->doc);
    if (!json_is_object(j)) {
        json_decref(j);
        j = json_object();
    }
    json_object_set_new(j, "connectorId", json_string(c->id));
    json_object_set_new(j, "connectionId", json_string(c->connection_id));
    json_object_set_new(j, "connectorName", json_string(c->name));
    live_status(cat, tenant, c->id, j);
    return j;
}

struct list_ctx {
    struct cat *cat;
    const char *tenant;
    json_t *arr;
};

static int list_one(void *ud, const struct cat_connector *c)
{
    struct list_ctx *l = ud;
    json_array_append_new(l->arr, connector_json(l->cat, l->tenant, c));
    return 0;
}

static void connector_list(struct api_req *req, struct api_resp *resp)
{
    json_t *ids = api_query_list(req, "connectorIds"), *names = api_query_list(req, "connectorNames");
    json_t *arr = json_array();
    const char *conn = api_query(req, "connectionId");
    if (conn && !*conn) conn = NULL;
    struct list_ctx l = { api_ctx(req)->cat, req->tenant, arr };
    if (cat_connector_list(api_ctx(req)->cat, req->tenant, ids, names, conn, list_one, &l) != 0) {
        json_decref(arr);
        internal(resp, "listing connectors");
    } else {
        api_json(resp, 200, json_pack("{s:o}", "connectors", arr));
    }
    json_decref(ids);
    json_decref(names);
}

static void connector_metadata(struct api_req *req, struct api_resp *resp)
{
    (void)req;
    api_json(resp, 200, json_pack("{s:{s:[]},s:[]}", "connectorImageMetadata", "connectorImageFileList",
                                  "k8sConnectorInfoList"));
}

static void connector_patch(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    const char *id = path_connector(req, resp), *name = NULL;
    json_t *body;
    struct cat_connector c;
    int rc;
    if (!id || !(body = api_body_object(req, resp))) return;
    if (!jv_str_nonempty(resp, body, "", "connectorName", 0, &name)) goto out;
    if (name && strlen(name) > 255) {
        api_error(resp, 400, "InvalidField", "field 'connectorName' is longer than 255 bytes");
        goto out;
    }
    rc = name ? cat_connector_rename(cat, req->tenant, id, name) : 0;
    if (rc == 0) rc = cat_connector_get(cat, req->tenant, id, &c);
    if (rc == CAT_NOT_FOUND) {
        not_found(resp, id);
    } else if (rc != 0) {
        internal(resp, "updating the connector");
    } else {
        api_json(resp, 200, connector_json(cat, req->tenant, &c));
        cat_connector_release(&c);
    }
out:
    json_decref(body);
}

/* connector_delete: removes the connector and revokes its agent's credential, in one transaction. */
static void connector_delete(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    const char *id = path_connector(req, resp);
    int rc;
    if (!id) return;
    if (cat_begin(cat) != 0) {
        internal(resp, "starting a transaction");
        return;
    }
    rc = cat_agent_revoke(cat, req->tenant, id, util_time_now());
    if (rc == 0 || rc == CAT_NOT_FOUND) rc = cat_connector_delete(cat, req->tenant, id);
    if (rc == 0) rc = cat_commit(cat);
    else cat_rollback(cat);
    if (rc == 0) eng_remote_cancel_connector(req->tenant, id); /* its backups in flight fail now */
    if (rc == 0) api_empty(resp, 204);
    else if (rc == CAT_NOT_FOUND) not_found(resp, id);
    else internal(resp, "deleting the connector");
}

const struct api_route api_routes_connectors[] = {
    { "GET", "/v2/data-source-connectors", connector_list, 0, API_ROLE_VIEWER },
    { "GET", "/v2/data-source-connectors/metadata", connector_metadata, 0, API_ROLE_VIEWER },
    { "PATCH", "/v2/data-source-connectors/{connectorId}", connector_patch, 0, API_ROLE_ADMIN },
    { "DELETE", "/v2/data-source-connectors/{connectorId}", connector_delete, 0, API_ROLE_ADMIN },
    { NULL, NULL, NULL, 0, 0 },
};
