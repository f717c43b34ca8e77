/* cat_agent.h: remote agents (coffer-agent, docs/agent-protocol.md) in the catalog.
 *
 * An agent is a data-source connector that registered itself with a connection's registration
 * token. Its row ties the connector (cat_connection.h) to the API key it authenticates with (an
 * Agent-role key of the connection's tenant, cat_key.h) and keeps what its heartbeats report: host
 * name, addresses, volumes, software version and when it was last heard from. Revoking an agent
 * revokes its key in the same transaction, so the next request with it is refused.
 *
 * Functions return 0, CAT_NOT_FOUND, CAT_CONFLICT or another negative code (cat.h). Strings in
 * struct cat_agent are malloc'd, JSON members owned; release with cat_agent_release. */
#ifndef COFFER_CATALOG_CAT_AGENT_H
#define COFFER_CATALOG_CAT_AGENT_H
#include "catalog/cat.h"
#include "catalog/cat_connection.h"
#include "catalog/cat_key.h"
#include <stdint.h>
#include <jansson.h>

struct cat_agent {
    char *tenant;
    char *connector_id;
    char *connection_id;
    char *key_id;            /* api_keys.id of its credential */
    char *hostname;          /* as reported (registration, then heartbeats) */
    char *version;           /* its software version */
    json_t *addresses;       /* JSON array of address strings, or NULL (never reported) */
    json_t *volumes;         /* JSON array of {path, fstype, device, used_bytes, network}, or NULL */
    int64_t registered_usecs;
    int64_t last_seen_usecs; /* 0: never heard from since registering */
    int64_t revoked_usecs;   /* 0: not revoked */
};
void cat_agent_release(struct cat_agent *a);

/* Why a registration token was refused (cat_agent_token_take). */
enum cat_token_refusal { CAT_TOKEN_UNKNOWN = 1, CAT_TOKEN_EXPIRED = 2, CAT_TOKEN_USED = 3 };

/* cat_agent_token_take: consumes the registration token whose SHA-256 is given, if it is unexpired
 * at now_ms and unused: the token is marked used (it cannot be taken again) and the connection's
 * tenant and id are returned (malloc'd). CAT_NOT_FOUND with *why set when it is refused. Call inside
 * cat_begin/cat_commit together with cat_agent_insert. */
int cat_agent_token_take(struct cat *cat, const unsigned char sha256[CAT_TOKEN_SHA256_LEN], int64_t now_ms,
                         char **tenant_out, char **connection_out, enum cat_token_refusal *why);

/* cat_agent_insert: records an agent (a; its volumes and addresses may be NULL), its connector (doc:
 * the DataSourceConnector document, borrowed) and its key (k), in the caller's transaction.
 * CAT_CONFLICT when the connector id is taken. */
int cat_agent_insert(struct cat *cat, const struct cat_agent *a, const json_t *connector_doc, const struct cat_key *k);

/* cat_agent_get: by tenant and connector id (revoked ones too). cat_agent_by_key: by its key id. */
int cat_agent_get(struct cat *cat, const char *tenant, const char *connector_id, struct cat_agent *out);
int cat_agent_by_key(struct cat *cat, const char *key_id, struct cat_agent *out);

/* cat_agent_list: every unrevoked agent of tenant, by connector id. */
typedef int (*cat_agent_fn)(void *ud, const struct cat_agent *a);
int cat_agent_list(struct cat *cat, const char *tenant, cat_agent_fn fn, void *ud);

/* cat_agent_for_host: the unrevoked agent of tenant that serves host (its reported host name or one
 * of its addresses, compared without case; the most recently heard from when several do). */
int cat_agent_for_host(struct cat *cat, const char *tenant, const char *host, struct cat_agent *out);

/* cat_agent_heartbeat: records a heartbeat at now: host name, version, addresses and volumes
 * (borrowed; NULL keeps the stored value). CAT_NOT_FOUND when there is no such unrevoked agent. */
int cat_agent_heartbeat(struct cat *cat, const char *tenant, const char *connector_id, const char *hostname,
                        const char *version, const json_t *addresses, const json_t *volumes, int64_t now_usecs);

/* cat_agent_pg_set: records the PostgreSQL instances the agent reported (a JSON array, borrowed;
 * migration 24). cat_agent_pg_get: the last one recorded (new reference into *out, NULL when it
 * never reported any). CAT_NOT_FOUND when there is no such unrevoked agent. */
int cat_agent_pg_set(struct cat *cat, const char *tenant, const char *connector_id, const json_t *instances);
int cat_agent_pg_get(struct cat *cat, const char *tenant, const char *connector_id, json_t **out);

/* cat_agent_revoke: marks the agent revoked and revokes its key (an agent already revoked keeps its
 * first time). CAT_NOT_FOUND when the tenant has no such agent. Runs its own transaction unless the
 * caller is in one. */
int cat_agent_revoke(struct cat *cat, const char *tenant, const char *connector_id, int64_t now_usecs);
#endif
