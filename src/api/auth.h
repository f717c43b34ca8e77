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
#include <stddef.h>
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
}/* ---- keys and the authentication state (auth.c) ----
 *
 * An API key's token is "cfk_<id>_<secret>": <id> is API_KEY_ID_HEX hex characters (public: listed,
 * logged, audited), <secret> API_KEY_SECRET_HEX hex characters from 256 random bits (RAND_bytes).
 * The catalog keeps only SHA-256(token): for a 256-bit random secret a fast unsalted hash is safe
 * (nobody can guess or brute-force 2^256 values; salt and slow hashing exist for low-entropy
 * passwords, where an attacker tries likely ones). Tokens are compared as digests in constant time. */
#define API_KEY_PREFIX "cfk_"
#define API_KEY_ID_HEX 16
#define API_KEY_SECRET_HEX 64
#define API_KEY_TOKEN_LEN (4 + API_KEY_ID_HEX + 1 + API_KEY_SECRET_HEX) /* without the NUL */
#define API_ADMIN_KEY_ID "admin"
#define API_DATA_SECURITY_KEY_ID "data-security"

struct cat;
struct sockaddr;
struct api_auth_state;

/* How failed authentication is limited per client address: at most fail_limit failures within
 * window_secs, then every request from that address is 429 for cooldown_secs. fail_limit 0: no limit. */
struct api_auth_limits {
    unsigned fail_limit;    /* default 10 */
    unsigned window_secs;   /* default 60 */
    unsigned cooldown_secs; /* default 60 */
};
#define API_AUTH_LIMITS_DEFAULT { 10, 60, 60 }

/* api_auth_new: the authentication state: the admin key (admin_key_path: the file it was read from
 * and where a rotation writes the next one; NULL when it came from COFFER_ADMIN_KEY and cannot be
 * rotated), the data-security key (NULL: none), the failure limits. 0 or -ENOMEM. api_auth_free. */
int api_auth_new(const char *admin_key, const char *admin_key_path, const char *ds_key,
                 const struct api_auth_limits *limits, struct api_auth_state **out);
void api_auth_free(struct api_auth_state *a);
/* api_auth_set_admin_key: the admin key from now on (the previous one stops working at once). */
int api_auth_set_admin_key(struct api_auth_state *a, const char *key);
/* api_auth_admin_key_path: the admin key file (NULL: the key came from the environment). */
const char *api_auth_admin_key_path(const struct api_auth_state *a);
/* api_auth_lookup: the principal of an Authorization header value ("Bearer <token>"; may be NULL):
 * the admin key, the data-security key or an unrevoked, unexpired API key of the catalog. 0 with
 * *out filled, -1 when the header names no valid key. */
int api_auth_lookup(struct api_auth_state *a, struct cat *cat, const char *authorization, struct api_principal *out);
/* api_auth_blocked: whether the client address is cooling down after too many failures (1, with the
 * seconds left in *retry_after) or not (0). api_auth_failed: counts one failure of that address
 * (and logs it with the address). Both take a bounded table: memory does not grow with addresses. */
int api_auth_blocked(struct api_auth_state *a, const struct sockaddr *addr, unsigned *retry_after);
void api_auth_failed(struct api_auth_state *a, const struct sockaddr *addr);
/* api_key_new_token: a new key's id (API_KEY_ID_HEX + 1 bytes), its token (API_KEY_TOKEN_LEN + 1)
 * and the token's SHA-256 (32 bytes). 0, or -1 when the random generator fails. */
int api_key_new_token(char *id, char *token, unsigned char *sha256);
/* api_admin_key_new: a new admin key (64 hex characters from 256 random bits) into key (65 bytes). */
int api_admin_key_new(char *key);
/* api_role_names: the role bits as "Viewer,Operator" into buf; api_role_parse: one name's bit (0 when
 * unknown). Names: Viewer, Operator, Admin, DataSecurity, Agent. */
const char *api_role_names(unsigned roles, char *buf, size_t len);
unsigned api_role_parse(const char *name);
#endif
