/* auth.h: who a request is. Every authenticated request carries a principal (the key that signed it,
 * its tenant and its roles); every route declares, in its route table entry (api_route.role), the one
 * role it needs. Dispatch (server.c) refuses a request whose principal lacks the route's role (403) or
 * names a tenant that is not the key's own (403; a cluster admin key may name any tenant; a tenant key
 * that sends no tenant header means its own tenant).
 *
 * Roles are bits. A key holds a set of them; Admin implies Operator, and Operator implies Viewer
 * (api_role_satisfies). DataSecurity and Agent imply nothing and are implied by nothing:
 *   VIEWER        reads (GET of every resource of its tenant)
 *   OPERATOR      runs, recoveries, downloads, search, pause/resume
 *   ADMIN         policies, groups, sources, connections, connectors, keys of its tenant
 *   DATA_SECURITY the only role that may shorten or lift an Administrative-mode data lock
 *   AGENT         write-only: what a remote coffer-agent may do for the objects registered to it */
#ifndef COFFER_API_AUTH_H
#define COFFER_API_AUTH_H
#include <stdint.h>

enum api_role {
    API_ROLE_VIEWER = 1u << 0,
    API_ROLE_OPERATOR = 1u << 1,
    API_ROLE_ADMIN = 1u << 2,
    API_ROLE_DATA_SECURITY = 1u << 3,
    API_ROLE_AGENT = 1u << 4,
};
#define API_ROLE_ALL (API_ROLE_VIEWER | API_ROLE_OPERATOR | API_ROLE_ADMIN | API_ROLE_DATA_SECURITY | API_ROLE_AGENT)

/* The authenticated caller of one request (filled by dispatch before the handler runs). */
struct api_principal {
    char key_id[48];    /* the key's public id ("admin" for the admin key file); never the secret */
    char tenant[260];   /* the key's tenant; "" for a cluster admin key */
    unsigned roles;     /* API_ROLE_* bits, as granted (before implication) */
    int cluster;        /* a cluster admin key: may name any tenant, and reaches tenant-less routes */
};

/* api_role_satisfies: whether a key holding roles may call a route needing need (1 yes, 0 no). */
static inline int api_role_satisfies(unsigned roles, unsigned need)
{
    if (roles & API_ROLE_ADMIN) roles |= API_ROLE_OPERATOR;
    if (roles & API_ROLE_OPERATOR) roles |= API_ROLE_VIEWER;
    return need != 0 && (roles & need) == need;
}
#endif
