/* routes.h: every resource module exports one route table (an array of struct api_route ending with
 * an entry whose method is NULL); routes.c lists them all in api_route_tables, and that list is where
 * each table declares how its requests are authenticated and where their tenant comes from.
 *
 * Dispatch (server.c) for a request, in this order:
 *   0. a client address cooling down after too many failed authentications: 429 with Retry-After
 *      (auth.c), whatever the request;
 *   1. match the path against every table: the patterns with the most literal segments that match
 *      name the resource (".../runs/actions" is not run "actions"); among them the first route with
 *      the method wins, and when none has it the answer is 405 with Allow listing their methods;
 *   2. authenticate with the scheme of the matched route's table, which gives the principal
 *      (req->who, auth.h); a path that matches no route (404) or no route with this method (405) is
 *      authenticated with API_AUTH_DEFAULT first, so that an unauthenticated client learns nothing
 *      about which paths exist: 401 before 404/405/413; a failure that presented a key counts
 *      against the address;
 *   3. a body over API_MAX_BODY_BYTES: 413;
 *   4. 404 / 405;
 *   5. the route's role (api_route.role; API_ROUTE_DATA_SECURITY admits DataSecurity too): else 403
 *      Forbidden naming the role needed;
 *   6. the tenant: a table without a tenant rule, or a route with API_ROUTE_NO_TENANT, needs a cluster
 *      key (403) unless the route carries API_ROUTE_TENANT_KEYS; otherwise the named header must be at
 *      most max_len bytes (400 InvalidTenant); for a tenant key it must be absent (req->tenant is then
 *      the key's tenant) or name the key's own tenant (else 403); for a cluster key it is required
 *      when the rule says so (400 MissingTenant) and req->tenant is its value;
 *   7. req->data_security (the principal holds DataSecurity), req->route; call the handler.
 * A new API gets its own table here with its own rule (the site restore API of
 * vantagecloud-baas-restore-api.txt has its own table, "site", with the data-protect API's key and
 * tenant header); a new auth scheme is one enum value below and one case in server.c's auth_ok. */
#ifndef COFFER_API_ROUTES_H
#define COFFER_API_ROUTES_H
#include "api/api.h"
#include "api/auth.h"

/* How a table's requests prove who they are. */
enum api_auth {
    /* "Authorization: Bearer <key>": the admin key, the data-security key or an API key (auth.c),
     * compared as SHA-256 digests in constant time. */
    API_AUTH_ADMIN_BEARER = 1,
    /* none: anyone may call (the web console's static files, console.c; they hold no data) */
    API_AUTH_NONE = 2,
};
#define API_AUTH_DEFAULT API_AUTH_ADMIN_BEARER

/* Where a table's requests name their tenant. header NULL: the routes take no tenant. */
struct api_tenant_rule {
    const char *header;  /* header field name, e.g. "X-IBM-Tenant-Id" */
    int required;        /* absent or empty is a 400 */
    size_t max_len;      /* longer is a 400 */
};
/* The data-protect v2 API's rule: X-IBM-Tenant-Id, required, at most 256 bytes. */
#define API_TENANT_IBM { "X-IBM-Tenant-Id", 1, 256 }
#define API_TENANT_NONE { NULL, 0, 0 }

struct api_route_table {
    const char *name;                /* for logs and tests */
    const struct api_route *routes;  /* NULL ends api_route_tables */
    enum api_auth auth;
    struct api_tenant_rule tenant;
};

/* api_route_tables: every table with its rules, ended by an entry whose routes is NULL. */
extern const struct api_route_table api_route_tables[];

extern const struct api_route api_routes_policies[];   /* policies.c */
extern const struct api_route api_routes_groups[];     /* groups.c */
extern const struct api_route api_routes_sources[];         /* sources.c */
extern const struct api_route api_routes_search_objects[];  /* search_objects.c */
extern const struct api_route api_routes_connections[];     /* connections.c */
extern const struct api_route api_routes_connectors[];      /* connectors.c */
extern const struct api_route api_routes_runs[];            /* runs.c */
extern const struct api_route api_routes_snapshots[];       /* snapshots.c */
extern const struct api_route api_routes_protected_objects[]; /* protected_objects.c */
extern const struct api_route api_routes_recoveries[];      /* recoveries.c */
extern const struct api_route api_routes_downloads[];       /* downloads.c */
extern const struct api_route api_routes_search_indexed[];  /* search_indexed.c */
extern const struct api_route api_routes_protection_sources_v1[]; /* protection_sources_v1.c */
extern const struct api_route api_routes_agents[];          /* agents.c */
extern const struct api_route api_routes_meta_info[];       /* meta_info.c */
extern const struct api_route api_routes_coffer_agent_package[]; /* agents.c: GET /v2/coffer/agents/package */
extern const struct api_route api_routes_connector_side[];  /* connector_side.c */
extern const struct api_route api_routes_coffer_repository[]; /* repo_ops.c (Coffer extension) */
extern const struct api_route api_routes_coffer_audit[];    /* audit.c (Coffer extension) */
extern const struct api_route api_routes_site[];            /* site_api.c: the site restore API */
extern const struct api_route api_routes_coffer_keys[];     /* keys_api.c (Coffer extension) */
extern const struct api_route api_routes_coffer_agent_register[]; /* agent_proto.c: POST /v2/coffer/agents/register */
extern const struct api_route api_routes_coffer_agents[];   /* agent_proto.c: the agent protocol (Agent keys) */
extern const struct api_route api_routes_console[];         /* console.c: the web console's files */
extern const struct api_route api_routes_openapi[];         /* openapi.c: GET /v2/openapi.json (Coffer extension) */
extern const struct api_route api_routes_health[];          /* health.c: GET /healthz (no key) */
extern const struct api_route api_routes_metrics[];         /* health.c: GET /metrics (Prometheus text) */
/* A route flag: with COFFER_METRICS_PUBLIC=1 in cofferd's environment at start, this route of an admin
 * key table needs no key (server.c authenticates it as API_AUTH_NONE); otherwise the table's rules. */
#define API_ROUTE_PUBLIC_OPT 8
/* api_metrics_observe: server.c's report of one answered request (route NULL: none matched) and the
 * microseconds from its arrival to its answer; health.c counts it for GET /metrics. Thread-safe. */
void api_metrics_observe(const struct api_route *route, const char *method, int status, uint64_t usecs);
/* api_openapi_json: the description served there (openapi/coffer.json embedded at build time), not
 * NUL-terminated; *len is its length. Static: never freed. */
const unsigned char *api_openapi_json(size_t *len);
#endif
