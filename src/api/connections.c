/* connections.c: /v2/data-source-connections: create, list, rename (PATCH) and delete a tenant's
 * data-source connections, and generate a registration token for connectors.
 *
 * A connection's id is a positive decimal string; its name is unique within the tenant (409). A
 * connection that a source registration uses cannot be deleted (409). The registration token is 32
 * random bytes (RAND_bytes) written as 64 hex digits; the answer is the token as a JSON string (the
 * SDK decodes it into a *string). Only its SHA-256 and its expiry (24 hours) are stored, and a new
 * token replaces the previous one; a token is single use (taken by POST /v2/coffer/agents/register,
 * agent_proto.c). Deleting a connection revokes the credentials of its connectors (coffer-agents). */
#include "api/api.h"
#include "util/hex.h"
#include "api/auth.h"
#include "api/jv.h"
#include "catalog/cat_agent.h"
#include "catalog/cat_connection.h"
#include "catalog/cat_source.h"
#include "api/resid.h"
#include "util/time.h"
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_BYTES 32
#define TOKEN_LIFETIME_MS (24ll * 3600 * 1000)

static const char *const env_types[] = { "kIksClassic", "kIksVpc", "kRoksClassic", "kRoksVpc", NULL };

static void internal(struct api_resp *resp, const char *what)
{
    api_catalog_error(resp, 0, what);
}

/* path_connection: the {connectionId} path parameter when it has the shape of one; NULL after a 400. */
static const char *path_connection(struct api_req *req, struct api_resp *resp)
{
    const char *s = req->params[0];
    size_t n = strlen(s);
    int ok = n > 0 && n <= 19 && s[0] != '0';
    for (size_t i = 0; ok && i < n; i++) ok = isdigit((unsigned char)s[i]);
    if (ok) return s;
    api_error(resp, 400, "InvalidId", "path parameter 'connectionId' must be a connection id (a positive decimal "
              "number), not '%.64s'", s);
    return NULL;
}

static void not_found(struct api_resp *resp, const char *id)
{
    api_error(resp, 404, "NotFound", "no data-source connection with id '%.64s'", id);
}

static void name_taken(struct api_resp *resp, const char *name)
{
    api_error(resp, 409, "Conflict", "field 'connectionName': a data-source connection named '%.200s' already exists",
              name);
}

static json_t *connection_json(const char *tenant, const struct cat_connection *c)
{
    json_t *j = json_object();
    json_object_set_new(j, "connectionId", json_string(c->id));
    json_object_set_new(j, "connectionName", json_string(c->name));
    if (c->env_type) json_object_set_new(j, "connectionEnvType", json_string(c->env_type));
    json_object_set(j, "connectorIds", c->connector_ids);
    json_object_set_new(j, "tenantId", json_string(tenant));
    return j;
}

static void respond_connection(struct api_req *req, struct api_resp *resp, int status, const char *id)
{
    struct cat_connection c;
    int rc = cat_connection_get(api_ctx(req)->cat, req->tenant, id, &c);
    if (rc == CAT_NOT_FOUND) {
        not_found(resp, id);
        return;
    }
    if (rc != 0) {
        internal(resp, "reading the connection");
        return;
    }
    api_json(resp, status, connection_json(req->tenant, &c));
    cat_connection_release(&c);
}

/* valid_name: connectionName, required, 1 to 255 bytes; 0, or -1 after a 400. */
static int valid_name(struct api_resp *resp, json_t *body, const char **name)
{
    if (!jv_str_nonempty(resp, body, "", "connectionName", 1, name)) return -1;
    if (strlen(*name) > 255) {
        api_error(resp, 400, "InvalidField", "field 'connectionName' is longer than 255 bytes");
        return -1;
    }
    return 0;
}

static void connection_create(struct api_req *req, struct api_resp *resp)
{
    json_t *body = api_body_object(req, resp);
    const char *name = NULL, *env = NULL;
    char *id = NULL;
    int rc;
    if (!body) return;
    if (valid_name(resp, body, &name) != 0 || !jv_enum(resp, body, "", "connectionEnvType", 0, env_types, &env)) goto out;
    rc = cat_connection_insert(api_ctx(req)->cat, req->tenant, name, env, api_now_usecs() / 1000, &id);
    if (rc == CAT_CONFLICT) name_taken(resp, name);
    else if (rc != 0) internal(resp, "creating the connection");
    else respond_connection(req, resp, 201, id);
    free(id);
out:
    json_decref(body);
}

static int list_one(void *ud, const struct cat_connection *c)
{
    void **p = ud;
    json_array_append_new(p[0], connection_json(p[1], c));
    return 0;
}

static void connection_list(struct api_req *req, struct api_resp *resp)
{
    json_t *ids = api_query_list(req, "connectionIds"), *names = api_query_list(req, "connectionNames");
    json_t *arr = json_array();
    void *ud[2] = { arr, (void *)req->tenant };
    if (cat_connection_list(api_ctx(req)->cat, req->tenant, ids, names, list_one, ud) != 0) {
        json_decref(arr);
        internal(resp, "listing connections");
    } else {
        api_json(resp, 200, json_pack("{s:o}", "connections", arr));
    }
    json_decref(ids);
    json_decref(names);
}

static void connection_patch(struct api_req *req, struct api_resp *resp)
{
    const char *id = path_connection(req, resp), *name = NULL;
    json_t *body;
    int rc;
    if (!id || !(body = api_body_object(req, resp))) return;
    if (valid_name(resp, body, &name) != 0) goto out;
    rc = cat_connection_rename(api_ctx(req)->cat, req->tenant, id, name);
    if (rc == CAT_NOT_FOUND) not_found(resp, id);
    else if (rc == CAT_CONFLICT) name_taken(resp, name);
    else if (rc != 0) internal(resp, "renaming the connection");
    else respond_connection(req, resp, 200, id);
out:
    json_decref(body);
}

struct revoke_ctx {
    struct cat *cat;
    const char *tenant;
};

static int revoke_one(void *ud, const struct cat_connector *c)
{
    struct revoke_ctx *r = ud;
    int rc = cat_agent_revoke(r->cat, r->tenant, c->id, util_time_now());
    return rc == CAT_NOT_FOUND ? 0 : rc;
}

/* revoke_agents: the credentials of the connection's connectors (coffer-agents) stop working with the
 * connection (inside the caller's transaction). */
static int revoke_agents(struct cat *cat, const char *tenant, const char *id)
{
    struct revoke_ctx r = { cat, tenant };
    return cat_connector_list(cat, tenant, NULL, NULL, id, revoke_one, &r);
}

static void connection_delete(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    const char *id = path_connection(req, resp);
    int rc;
    if (!id) return;
    if (cat_begin(cat) != 0) {
        internal(resp, "starting a transaction");
        return;
    }
    rc = cat_source_uses_connection(cat, req->tenant, id);
    if (rc == 1) {
        cat_rollback(cat);
        api_error(resp, 409, "Conflict", "data-source connection '%s' is used by a source registration: delete or "
                  "update the registration first", id);
        return;
    }
    if (rc == 0) rc = revoke_agents(cat, req->tenant, id);
    if (rc == 0) rc = cat_connection_delete(cat, req->tenant, id);
    if (rc == 0 && cat_commit(cat) == 0) {
        api_empty(resp, 204);
        return;
    }
    cat_rollback(cat);
    if (rc == CAT_NOT_FOUND) not_found(resp, id);
    else internal(resp, "deleting the connection");
}

static void connection_token(struct api_req *req, struct api_resp *resp)
{
    const char *id = path_connection(req, resp);
    unsigned char raw[TOKEN_BYTES], digest[CAT_TOKEN_SHA256_LEN];
    char hex[2 * TOKEN_BYTES + 1], *body;
    unsigned int dlen = 0;
    size_t n;
    int rc;
    if (!id) return;
    if (RAND_bytes(raw, sizeof raw) != 1) {
        api_error(resp, 500, "InternalError", "no randomness for a token");
        return;
    }
    util_hex_encode(raw, sizeof raw, hex);
    OPENSSL_cleanse(raw, sizeof raw);
    if (EVP_Digest(hex, strlen(hex), digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != sizeof digest) {
        api_error(resp, 500, "InternalError", "cannot hash the token");
        return;
    }
    rc = cat_connection_set_token(api_ctx(req)->cat, req->tenant, id, digest,
                                  api_now_usecs() / 1000 + TOKEN_LIFETIME_MS);
    if (rc == CAT_NOT_FOUND) {
        not_found(resp, id);
        return;
    }
    if (rc != 0) {
        internal(resp, "storing the token");
        return;
    }
    /* The body is the token as a JSON string; the hex digits need no escaping. */
    n = strlen(hex) + 2;
    body = malloc(n + 1);
    if (!body) {
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    snprintf(body, n + 1, "\"%s\"", hex);
    OPENSSL_cleanse(hex, sizeof hex);
    api_doc_response(resp, 200, body, n);
}

const struct api_route api_routes_connections[] = {
    { "POST", "/v2/data-source-connections", connection_create, 0, API_ROLE_ADMIN },
    { "GET", "/v2/data-source-connections", connection_list, 0, API_ROLE_VIEWER },
    { "PATCH", "/v2/data-source-connections/{connectionId}", connection_patch, 0, API_ROLE_ADMIN },
    { "DELETE", "/v2/data-source-connections/{connectionId}", connection_delete, 0, API_ROLE_ADMIN },
    { "POST", "/v2/data-source-connections/{connectionId}/registrationToken", connection_token, 0, API_ROLE_ADMIN },
    { NULL, NULL, NULL, 0, 0 },
};
