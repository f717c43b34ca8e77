/* cat_key.h: API keys (src/api/auth.c decides what they may do; docs/operations.md, "Access: keys,
 * roles, tenants").
 *
 * A key has a public id (hex, chosen by the caller), a tenant ("" for a cluster key), a name, a set
 * of role bits (opaque here: the API's API_ROLE_* values), the SHA-256 of its secret token (never the
 * secret), its creation time, an optional expiry (0 = never), a revocation time (0 = not revoked) and
 * the time it was last used (cat_key_touch; the API writes it at most once a minute per key).
 *
 * Functions return 0, CAT_NOT_FOUND, CAT_CONFLICT (an id that exists) or another negative code (cat.h).
 * Strings in struct cat_key are malloc'd and released with cat_key_release. */
#ifndef COFFER_CATALOG_CAT_KEY_H
#define COFFER_CATALOG_CAT_KEY_H
#include "catalog/cat.h"
#include <stdint.h>

#define CAT_KEY_SHA256_LEN 32

struct cat_key {
    char *id;
    char *tenant;       /* "" = a cluster key */
    char *name;
    unsigned roles;
    unsigned char sha256[CAT_KEY_SHA256_LEN];
    int64_t created_usecs;
    int64_t expires_usecs;   /* 0 = never */
    int64_t revoked_usecs;   /* 0 = not revoked */
    int64_t last_used_usecs; /* 0 = never used */
};
void cat_key_release(struct cat_key *k);

/* cat_key_insert: stores k (all fields but last_used_usecs and revoked_usecs, which start at 0). */
int cat_key_insert(struct cat *cat, const struct cat_key *k);
/* cat_key_get: the key id, in any tenant. CAT_NOT_FOUND when there is none. */
int cat_key_get(struct cat *cat, const char *id, struct cat_key *out);
/* cat_key_list: the keys of tenant (NULL: every key, cluster keys included; "": the cluster keys),
 * oldest first; fn's nonzero result stops the walk and is returned. */
typedef int (*cat_key_fn)(void *ud, const struct cat_key *k);
int cat_key_list(struct cat *cat, const char *tenant, cat_key_fn fn, void *ud);
/* cat_key_revoke: marks the key revoked at now (an already revoked key keeps its first time). tenant
 * NULL: any tenant; else the key must belong to it. CAT_NOT_FOUND otherwise. */
int cat_key_revoke(struct cat *cat, const char *tenant, const char *id, int64_t now_usecs);
/* cat_key_touch: records a use of the key at now. */
int cat_key_touch(struct cat *cat, const char *id, int64_t now_usecs);
#endif
