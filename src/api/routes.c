/* routes.c: the list of every resource module's route table. A new resource adds its table here. */
#include "api/routes.h"

const struct api_route *const api_route_tables[] = {
    api_routes_policies,
    api_routes_groups,
    NULL
};
