/* routes.h: every resource module exports one route table, terminated by an entry whose method is
 * NULL; routes.c lists them all. */
#ifndef COFFER_API_ROUTES_H
#define COFFER_API_ROUTES_H
#include "api/api.h"

/* api_routes_all: a NULL-terminated list of route tables. */
extern const struct api_route *const api_route_tables[];
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
extern const struct api_route api_routes_connector_side[];  /* connector_side.c */
#endif
