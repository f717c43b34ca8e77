/* routes.c: the list of every resource module's route table. A new resource adds its table here. */
#include "api/routes.h"

const struct api_route *const api_route_tables[] = {
    api_routes_policies,
    api_routes_groups,
    api_routes_sources,
    api_routes_search_objects,
    api_routes_connections,
    api_routes_connectors,
    api_routes_runs,
    api_routes_snapshots,
    api_routes_protected_objects,
    api_routes_recoveries,
    api_routes_downloads,
    api_routes_search_indexed,
    api_routes_protection_sources_v1,
    api_routes_agents,
    api_routes_meta_info,
    api_routes_connector_side,
    NULL
};
