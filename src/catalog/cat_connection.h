/* cat_connection.h: data-source connections and the connectors inside them.
 *
 * A connection is a tenant's named channel through which connectors (agents on the tenant's network)
 * reach this cluster. Its id is a decimal string from cat_next_seq("connection"); its name is unique
 * per tenant. A registration token for connectors is never stored: only its SHA-256 and expiry are.
 * Connectors are created when an agent registers with a token (not yet implemented by any agent);
 * until then the table stays empty, and listing, renaming and deleting them work on what is there.
 *
 * All functions are scoped by tenant and return 0, CAT_NOT_FOUND, CAT_CONFLICT or another negative
 * code (logged): cat.h.
 * Strings in structs are malloc'd, released with the matching *_release. */
#ifndef COFFER_CATALOG_CAT_CONNECTION_H
#define COFFER_CATALOG_CAT_CONNECTION_H
#include "catalog/cat.h"
#include <stdint.h>
#include <jansson.h>

#define CAT_TOKEN_SHA256_LEN 32

struct cat_connection {
    char *id;
    char *name;
    char *env_type;          /* connectionEnvType or NULL */
    int64_t created_ms;
    int64_t token_expires_ms; /* 0 = no token was ever generated */
    json_t *connector_ids;   /* JSON array of the ids of its connectors, owned */
};
void cat_connection_release(struct cat_connection *c);

/* cat_connection_insert: a new connection named name; its id (malloc'd) in *id_out. CAT_CONFLICT
 * when tenant already has a connection of that name. */
int cat_connection_insert(struct cat *cat, const char *tenant, const char *name, const char *env_type,
                          int64_t created_ms, char **id_out);
int cat_connection_get(struct cat *cat, const char *tenant, const char *id, struct cat_connection *out);
/* cat_connection_list: tenant's connections in creation order; ids and names are optional JSON arrays
 * of strings (a connection is listed when it matches every given filter). */
typedef int (*cat_connection_fn)(void *ud, const struct cat_connection *c);
int cat_connection_list(struct cat *cat, const char *tenant, json_t *ids, json_t *names, cat_connection_fn fn,
                        void *ud);
/* cat_connection_rename: CAT_NOT_FOUND, CAT_CONFLICT (name taken by another connection). */
int cat_connection_rename(struct cat *cat, const char *tenant, const char *id, const char *name);
/* cat_connection_delete: removes the connection and its connectors. CAT_NOT_FOUND. */
int cat_connection_delete(struct cat *cat, const char *tenant, const char *id);
/* cat_connection_set_token: records the SHA-256 of a newly generated registration token and its
 * expiry, replacing any earlier token. CAT_NOT_FOUND. */
int cat_connection_set_token(struct cat *cat, const char *tenant, const char *id,
                             const unsigned char sha256[CAT_TOKEN_SHA256_LEN], int64_t expires_ms);
/* cat_connection_by_token: the connection whose unexpired token has this SHA-256 (for a connector
 * registering itself): fills *tenant_out and *id_out (malloc'd). CAT_NOT_FOUND when none or expired. */
int cat_connection_by_token(struct cat *cat, const unsigned char sha256[CAT_TOKEN_SHA256_LEN], int64_t now_ms,
                            char **tenant_out, char **id_out);

struct cat_connector {
    char *id;
    char *connection_id;
    char *name;
    json_t *doc;             /* the connector as the API shows it (DataSourceConnector), owned */
};
void cat_connector_release(struct cat_connector *c);

/* cat_connector_insert: records a connector that registered with a connection (doc borrowed). */
int cat_connector_insert(struct cat *cat, const char *tenant, const struct cat_connector *c);
/* cat_connector_list: ids, names: optional JSON arrays of strings; connection_id optional. */
typedef int (*cat_connector_fn)(void *ud, const struct cat_connector *c);
int cat_connector_list(struct cat *cat, const char *tenant, json_t *ids, json_t *names, const char *connection_id,
                       cat_connector_fn fn, void *ud);
int cat_connector_get(struct cat *cat, const char *tenant, const char *id, struct cat_connector *out);
int cat_connector_rename(struct cat *cat, const char *tenant, const char *id, const char *name);
int cat_connector_delete(struct cat *cat, const char *tenant, const char *id);
#endif
