/* routes.c: the list of every resource module's route table, each with its authentication scheme and
 * tenant rule (routes.h says how dispatch applies them). A new resource adds its table here. */
#include "api/routes.h"

#define IBM(name, routes) { name, routes, API_AUTH_ADMIN_BEARER, API_TENANT_IBM }

const struct api_route_table api_route_tables[] = {
    IBM("policies", api_routes_policies),
    IBM("groups", api_routes_groups),
    IBM("sources", api_routes_sources),
    IBM("search-objects", api_routes_search_objects),
    IBM("connections", api_routes_connections),
    IBM("connectors", api_routes_connectors),
    IBM("runs", api_routes_runs),
    IBM("snapshots", api_routes_snapshots),
    IBM("protected-objects", api_routes_protected_objects),
    IBM("recoveries", api_routes_recoveries),
    IBM("downloads", api_routes_downloads),
    IBM("search-indexed", api_routes_search_indexed),
    IBM("protection-sources-v1", api_routes_protection_sources_v1),
    IBM("agents", api_routes_agents),
    IBM("meta-info", api_routes_meta_info),
    /* Coffer extensions: the daemon's repository, shared by every tenant (repo_ops.c) */
    { "coffer-repository", api_routes_coffer_repository, API_AUTH_ADMIN_BEARER, API_TENANT_NONE },
    /* Coffer extension: the audit log (audit.c); the tenant header is optional (a tenant key without
     * it means its own tenant); which entries a key sees is the handler's rule */
    { "coffer-audit", api_routes_coffer_audit, API_AUTH_ADMIN_BEARER, { "X-IBM-Tenant-Id", 0, 256 } },
    /* Coffer extension: the OpenAPI description of every route here (openapi.c, openapi/coffer.json) */
    { "openapi", api_routes_openapi, API_AUTH_ADMIN_BEARER, API_TENANT_NONE },
    /* the site restore API (vantagecloud-baas-restore-api.txt, /data-protection/v2/sites/...): the same
     * key and tenant header; a site of another tenant is 404 (site_api.c) */
    IBM("site", api_routes_site),
    /* Coffer extension: API keys (keys_api.c); a key's tenant is in the body, not in a header */
    { "coffer-keys", api_routes_coffer_keys, API_AUTH_ADMIN_BEARER, API_TENANT_NONE },
    /* Coffer extension: the agent package for agents upgrading themselves (agents.c); Agent keys */
    { "coffer-agent-package", api_routes_coffer_agent_package, API_AUTH_ADMIN_BEARER, { "X-IBM-Tenant-Id", 0, 256 } },
    /* served by a connector, not by us: the client sends no tenant (connector_side.c) */
    { "connector-side", api_routes_connector_side, API_AUTH_ADMIN_BEARER, API_TENANT_NONE },
    /* Coffer extension: the agent protocol (agent_proto.c, docs/agent-protocol.md). Registration takes
     * no key (the body's registration token is the credential); the rest takes an agent's own key */
    { "coffer-agent-register", api_routes_coffer_agent_register, API_AUTH_NONE, API_TENANT_NONE },
    { "coffer-agents", api_routes_coffer_agents, API_AUTH_ADMIN_BEARER, API_TENANT_NONE },
    /* the web console's static files (console.c): no key, no tenant; the page asks for both */
    { "console", api_routes_console, API_AUTH_NONE, API_TENANT_NONE },
    /* liveness and readiness (health.c): no key, no tenant, for load balancers and orchestrators */
    { "health", api_routes_health, API_AUTH_NONE, API_TENANT_NONE },
    /* Prometheus metrics (health.c): a cluster key with Viewer; no key with COFFER_METRICS_PUBLIC=1 */
    { "metrics", api_routes_metrics, API_AUTH_ADMIN_BEARER, API_TENANT_NONE },
    { NULL, NULL, 0, API_TENANT_NONE },
};
