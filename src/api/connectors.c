/* connectors.c: /v2/data-source-connectors: list a tenant's connectors, the connector metadata,
 * rename (PATCH) and delete a connector.
 *
 * Connectors are agents that registered themselves with a connection's token; no agent does that
 * yet, so the list is empty and PATCH / DELETE of an id answer 404 with a JSON message, while the
 * code paths for existing connectors (catalog table connectors) are in place. The metadata lists no
 * connector images: there are none to download from this server. */
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "catalog/cat_connection.h"
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

/* connector_json: the stored DataSourceConnector document with the catalog's own columns on top. */
static json_t *connector_json(const struct cat_connector *c)
{
    json_t *j = json_deep_copy(c->doc);
    if (!json_is_object(j)) {
        json_decref(j);
        j = json_object();
    }
    json_object_set_new(j, "connectorId", json_string(c->id));
    json_object_set_new(j, "connectionId", json_string(c->connection_id));
    json_object_set_new(j, "connectorName", json_string(c->name));
    return j;
}

static int list_one(void *ud, const struct cat_connector *c)
{
    json_array_append_new(ud, connector_json(c));
    return 0;
}

static void connector_list(struct api_req *req, struct api_resp *resp)
{
    json_t *ids = api_query_list(req, "connectorIds"), *names = api_query_list(req, "connectorNames");
    json_t *arr = json_array();
    const char *conn = api_query(req, "connectionId");
    if (conn && !*conn) conn = NULL;
    if (cat_connector_list(api_ctx(req)->cat, req->tenant, ids, names, conn, list_one, arr) != 0) {
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
        api_json(resp, 200, connector_json(&c));
        cat_connector_release(&c);
    }
out:
    json_decref(body);
}

static void connector_delete(struct api_req *req, struct api_resp *resp)
{
    const char *id = path_connector(req, resp);
    int rc;
    if (!id) return;
    rc = cat_connector_delete(api_ctx(req)->cat, req->tenant, id);
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
