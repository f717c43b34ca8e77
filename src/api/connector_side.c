/* connector_side.c: the operations the wire contract marks [connector-side]. They are served by a
 * data-source connector on the host it runs on: coffer-agent's local API (src/agentd/local_api.c,
 * `coffer-agent run --api ADDR:PORT`), not by the cluster. cofferd answers each with 501
 * NotImplemented and a JSON message naming where it is served, instead of a bare 404 that would read
 * as a typo in the path (501 rather than 404: the path is right, this server does not implement it):
 *   POST /access-tokens                        CreateAccessToken
 *   GET  /data-source-connector/logs           GetDataSourceConnectorLogs
 *   POST /data-source-connector/registration   RegisterDataSourceConnector
 *   GET  /data-source-connector/status         GetDataSourceConnectorStatus
 *   GET  /irisservices/api/v1/public/users     GetUsers
 *   PUT  /irisservices/api/v1/public/users     UpdateUser
 * The official client sends the first four relative to the connector's URL (which may or may not end
 * in /v2) and the users calls at the root (it strips /v2), so each path is served both at the root
 * and under /v2. These requests carry no X-IBM-Tenant-Id (the connector has none to give), so the
 * table has no tenant rule (routes.c); the bearer key is still checked by the server like everywhere else.
 * Other methods on these paths are 405 (the router's answer for a known path). None of the paths
 * overlaps a cluster route: /data-source-connector/ (singular) is not /data-source-connectors/. */
#include "api/api.h"
#include "api/auth.h"
#include <string.h>

struct connector_op {
    const char *method;
    const char *suffix;     /* the path without a leading /v2 */
    const char *operation;  /* the client's name for it */
    const char *hint;       /* what to do instead, or "" */
};

static const struct connector_op ops[] = {
    { "POST", "/access-tokens", "CreateAccessToken",
      " cofferd itself takes its API keys directly as the bearer token: no access token is needed." },
    { "GET", "/data-source-connector/logs", "GetDataSourceConnectorLogs", "" },
    { "POST", "/data-source-connector/registration", "RegisterDataSourceConnector",
      " A connector's registration token comes from POST "
      "/v2/data-source-connections/{connectionId}/registrationToken." },
    { "GET", "/data-source-connector/status", "GetDataSourceConnectorStatus",
      " The cluster's view of connectors is GET /v2/data-source-connectors." },
    { "GET", "/irisservices/api/v1/public/users", "GetUsers", "" },
    { "PUT", "/irisservices/api/v1/public/users", "UpdateUser", "" },
    { NULL, NULL, NULL, NULL },
};

static void connector_side(struct api_req *req, struct api_resp *resp)
{
    const char *path = req->path;
    if (strncmp(path, "/v2/", 4) == 0) path += 3;
    for (const struct connector_op *o = ops; o->method; o++) {
        if (strcmp(o->method, req->method) == 0 && strcmp(o->suffix, path) == 0) {
            api_error(resp, 501, "NotImplemented", "%s %s (%s) is served by a data-source connector, not by "
                      "cofferd: by coffer-agent's local API on the connector's host (coffer-agent run --api "
                      "ADDR:PORT).%s", o->method, o->suffix, o->operation, o->hint);
            return;
        }
    }
    api_error(resp, 501, "NotImplemented", "%s %s is served by a data-source connector, not by cofferd: by "
              "coffer-agent's local API on the connector's host", req->method, req->path);
}

#define BOTH(m, p) { m, p, connector_side, 0, API_ROLE_VIEWER }, { m, "/v2" p, connector_side, 0, API_ROLE_VIEWER }

const struct api_route api_routes_connector_side[] = {
    BOTH("POST", "/access-tokens"),
    BOTH("GET", "/data-source-connector/logs"),
    BOTH("POST", "/data-source-connector/registration"),
    BOTH("GET", "/data-source-connector/status"),
    BOTH("GET", "/irisservices/api/v1/public/users"),
    BOTH("PUT", "/irisservices/api/v1/public/users"),
    { NULL, NULL, NULL, 0, 0 },
};
