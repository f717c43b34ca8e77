/* keys_api.c: Coffer's API keys resource (a Coffer extension beside the IBM API; docs/api-coverage.md,
 * docs/operations.md "Access: keys, roles, tenants"). Its table takes no tenant header: the tenant of
 * a key is in the body (tenantId) or is the caller's own.
 *
 *   POST   /v2/coffer/keys                {name, tenantId | cluster:true, roles[], expiresAtUsecs?}
 *          -> 201 the key with its "secret" (the token "cfk_<id>_<secret>"), shown this once only
 *   GET    /v2/coffer/keys[?tenantId=T]   -> {"keys":[...]} (never a secret or a hash)
 *   GET    /v2/coffer/keys/{id}           -> the key
 *   DELETE /v2/coffer/keys/{id}           -> 204, revoked from the next request on
 *   POST   /v2/coffer/keys/admin/rotate   -> 200 {"id":"admin","secret":...}: a new admin key written
 *          (0600, durably) to the admin key file and in force at once; the old one is refused at once
 *
 * Who may do what: a tenant Admin key manages the keys of its own tenant only (another tenant's key
 * is 404) and grants only roles it holds (implied ones included), never a cluster key, never
 * DataSecurity; a cluster Admin manages every key and may grant Viewer, Operator, Admin and Agent;
 * DataSecurity is granted only by a cluster key holding DataSecurity itself (the data-security key),
 * which may create keys with its own roles (it reaches POST through API_ROUTE_DATA_SECURITY). */
#include "api/auth.h"
#include "api/jv.h"
#include "api/routes.h"
#include "catalog/cat_key.h"
#include "util/fsio.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_NAME_MAX 128
#define KEY_TENANT_MAX 256

static json_t *key_json(const struct cat_key *k, int64_t now)
{
    char names[96];
    json_t *roles = json_array(), *j;
    const char *state = k->revoked_usecs ? "Revoked"
                        : k->expires_usecs && now >= k->expires_usecs ? "Expired" : "Active";
    api_role_names(k->roles, names, sizeof names);
    for (char *p = names, *save = NULL, *r; (r = strtok_r(p, ",", &save)) != NULL; p = NULL)
        json_array_append_new(roles, json_string(r));
    j = json_pack("{s:s,s:s,s:b,s:o,s:I,s:s}", "id", k->id, "name", k->name, "cluster", k->tenant[0] == '\0',
                  "roles", roles, "createdAtUsecs", (json_int_t)k->created_usecs, "state", state);
    if (!j) return NULL;
    if (k->tenant[0]) json_object_set_new(j, "tenantId", json_string(k->tenant));
    if (k->expires_usecs) json_object_set_new(j, "expiresAtUsecs", json_integer(k->expires_usecs));
    if (k->revoked_usecs) json_object_set_new(j, "revokedAtUsecs", json_integer(k->revoked_usecs));
    if (k->last_used_usecs) json_object_set_new(j, "lastUsedAtUsecs", json_integer(k->last_used_usecs));
    return j;
}

/* grantable: the roles who may put on a new key (see the file comment). */
static unsigned grantable(const struct api_principal *who)
{
    unsigned r = who->roles;
    if (r & API_ROLE_ADMIN) r |= API_ROLE_OPERATOR;
    if (r & API_ROLE_OPERATOR) r |= API_ROLE_VIEWER;
    if (who->cluster && (who->roles & API_ROLE_ADMIN)) r |= API_ROLE_AGENT;
    if (!who->cluster) r &= ~(unsigned)API_ROLE_DATA_SECURITY;
    return r;
}

static void key_create(struct api_req *req, struct api_resp *resp)
{
    static const char *const fields[] = { "name", "tenantId", "cluster", "roles", "expiresAtUsecs", NULL };
    const struct api_principal *who = req->who;
    json_t *body = api_body_object(req, resp), *roles = NULL, *v, *out;
    const char *name = NULL, *tenant = NULL, *field;
    int cluster = 0, has_cluster = 0, has_exp = 0, rc;
    int64_t expires = 0, now = util_time_now();
    unsigned want = 0, allowed;
    char token[API_KEY_TOKEN_LEN + 1], id[API_KEY_ID_HEX + 1], names[96];
    struct cat_key k;
    if (!body) return;
    json_object_foreach(body, field, v) {
        if (!jv_enum_ok(field, fields)) {
            jv_fail(resp, "", field, "is not a field of a key (name, tenantId, cluster, roles, expiresAtUsecs)");
            goto out;
        }
    }
    if (!jv_str_nonempty(resp, body, "", "name", 1, &name) || !jv_str_nonempty(resp, body, "", "tenantId", 0, &tenant) ||
        !jv_bool(resp, body, "", "cluster", 0, &cluster, &has_cluster) ||
        !jv_str_array(resp, body, "", "roles", 1, 1, &roles) ||
        !jv_int_range(resp, body, "", "expiresAtUsecs", 0, 1, INT64_MAX, &expires, &has_exp))
        goto out;
    if (strlen(name) > KEY_NAME_MAX) {
        jv_fail(resp, "", "name", "is longer than %d bytes", KEY_NAME_MAX);
        goto out;
    }
    if (tenant && strlen(tenant) > KEY_TENANT_MAX) {
        jv_fail(resp, "", "tenantId", "is longer than %d bytes", KEY_TENANT_MAX);
        goto out;
    }
    if (tenant && cluster) {
        jv_fail(resp, "", "cluster", "cannot be true with a tenantId (a key is a tenant's or the cluster's)");
        goto out;
    }
    if (has_exp && expires <= now) {
        jv_fail(resp, "", "expiresAtUsecs", "must be in the future (now is %lld)", (long long)now);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(roles); i++) {
        const char *r = json_string_value(json_array_get(roles, i));
        unsigned bit = api_role_parse(r);
        if (!bit) {
            char p[32];
            snprintf(p, sizeof p, "roles[%zu]", i);
            jv_fail(resp, "", p, "has unknown value '%s' (Viewer, Operator, Admin, DataSecurity, Agent)", r);
            goto out;
        }
        want |= bit;
    }
    if (!tenant && !cluster) {
        if (who->cluster) {
            jv_fail(resp, "", "tenantId", "is required (or 'cluster': true for a cluster key)");
            goto out;
        }
        tenant = who->tenant;
    }
    if (!who->cluster && (cluster || strcmp(tenant, who->tenant) != 0)) {
        api_error(resp, 403, "Forbidden", "key %s of tenant '%s' may create keys of its own tenant only", who->key_id,
                  who->tenant);
        goto out;
    }
    if ((want & API_ROLE_DATA_SECURITY) && !(who->cluster && (who->roles & API_ROLE_DATA_SECURITY))) {
        api_error(resp, 403, "Forbidden", "field 'roles': DataSecurity is granted only by a cluster key that holds it");
        goto out;
    }
    allowed = grantable(who);
    if (want & ~allowed) {
        api_error(resp, 403, "Forbidden", "field 'roles': key %s may grant only %s", who->key_id,
                  api_role_names(allowed, names, sizeof names));
        goto out;
    }
    if (api_key_new_token(id, token, k.sha256) != 0) {
        api_error(resp, 500, "InternalError", "the random generator failed");
        goto out;
    }
    k.id = id;
    k.tenant = (char *)(cluster ? "" : tenant);
    k.name = (char *)name;
    k.roles = want;
    k.created_usecs = now;
    k.expires_usecs = expires;
    k.revoked_usecs = k.last_used_usecs = 0;
    rc = cat_key_insert(api_ctx(req)->cat, &k);
    if (rc != 0) {
        api_catalog_error(resp, rc, "store the key");
        goto out_token;
    }
    log_info("api: key %s (%s) created for %s%s with roles %s by key %s", id, name, cluster ? "the cluster" : "tenant ",
             cluster ? "" : tenant, api_role_names(want, names, sizeof names), who->key_id);
    out = key_json(&k, now);
    if (!out) {
        api_error(resp, 500, "InternalError", "out of memory");
        goto out_token;
    }
    json_object_set_new(out, "secret", json_string(token));
    api_json(resp, 201, out);
out_token:
    OPENSSL_cleanse(token, sizeof token);
out:
    json_decref(body);
}

struct list_ctx {
    json_t *arr;
    int64_t now;
};

static int list_one(void *ud, const struct cat_key *k)
{
    struct list_ctx *l = ud;
    json_t *j = key_json(k, l->now);
    return j ? json_array_append_new(l->arr, j) : -1;
}

static void key_list(struct api_req *req, struct api_resp *resp)
{
    const struct api_principal *who = req->who;
    const char *tenant = who->cluster ? api_query(req, "tenantId") : who->tenant;
    struct list_ctx l = { json_array(), util_time_now() };
    int rc;
    if (tenant && strlen(tenant) > KEY_TENANT_MAX) {
        api_error(resp, 400, "InvalidParameter", "query parameter 'tenantId' is longer than %d bytes", KEY_TENANT_MAX);
        json_decref(l.arr);
        return;
    }
    rc = cat_key_list(api_ctx(req)->cat, tenant, list_one, &l);
    if (rc != 0) {
        json_decref(l.arr);
        api_catalog_error(resp, rc, "list the keys");
        return;
    }
    api_json(resp, 200, json_pack("{s:o}", "keys", l.arr));
}

/* visible: whether who may see or revoke k (a tenant key: its own tenant's keys only). */
static int visible(const struct api_principal *who, const struct cat_key *k)
{
    return who->cluster || strcmp(k->tenant, who->tenant) == 0;
}

static void key_get(struct api_req *req, struct api_resp *resp)
{
    struct cat_key k;
    int rc = cat_key_get(api_ctx(req)->cat, req->params[0], &k);
    if (rc == 0 && !visible(req->who, &k)) {
        cat_key_release(&k);
        rc = CAT_NOT_FOUND;
    }
    if (rc == CAT_NOT_FOUND) {
        api_error(resp, 404, "NotFound", "no key '%s'", req->params[0]);
        return;
    }
    if (rc != 0) {
        api_catalog_error(resp, rc, "read the key");
        return;
    }
    api_json(resp, 200, key_json(&k, util_time_now()));
    cat_key_release(&k);
}

static void key_revoke(struct api_req *req, struct api_resp *resp)
{
    const struct api_principal *who = req->who;
    int rc = cat_key_revoke(api_ctx(req)->cat, who->cluster ? NULL : who->tenant, req->params[0], util_time_now());
    if (rc == CAT_NOT_FOUND) {
        api_error(resp, 404, "NotFound", "no key '%s'", req->params[0]);
        return;
    }
    if (rc != 0) {
        api_catalog_error(resp, rc, "revoke the key");
        return;
    }
    log_info("api: key %s revoked by key %s", req->params[0], who->key_id);
    api_empty(resp, 204);
}

static void admin_rotate(struct api_req *req, struct api_resp *resp)
{
    struct api_auth_state *auth = api_ctx(req)->auth;
    const char *path = auth ? api_auth_admin_key_path(auth) : NULL;
    char key[65], line[66];
    int rc;
    if (!path) {
        api_error(resp, 409, "AdminKeyFromEnvironment",
                  "the admin key was set by COFFER_ADMIN_KEY: change it there and restart cofferd");
        return;
    }
    if (api_admin_key_new(key) != 0) {
        api_error(resp, 500, "InternalError", "the random generator failed");
        return;
    }
    snprintf(line, sizeof line, "%s\n", key);
    rc = fsio_write_atomic(path, line, 65, 0600);
    OPENSSL_cleanse(line, sizeof line);
    if (rc != 0) {
        OPENSSL_cleanse(key, sizeof key);
        api_error(resp, rc == -ENOSPC ? 507 : 500, rc == -ENOSPC ? "InsufficientStorage" : "InternalError",
                  "cannot write the admin key file: %s", strerror(-rc));
        return;
    }
    api_auth_set_admin_key(auth, key);
    log_info("api: the admin key was rotated by key %s (written to %s); the old one is refused from now on",
             req->who->key_id, path);
    api_json(resp, 200, json_pack("{s:s,s:s}", "id", API_ADMIN_KEY_ID, "secret", key));
    OPENSSL_cleanse(key, sizeof key);
}

const struct api_route api_routes_coffer_keys[] = {
    { "POST", "/v2/coffer/keys", key_create, API_ROUTE_TENANT_KEYS | API_ROUTE_DATA_SECURITY, API_ROLE_ADMIN },
    { "GET", "/v2/coffer/keys", key_list, API_ROUTE_TENANT_KEYS, API_ROLE_ADMIN },
    { "GET", "/v2/coffer/keys/{id}", key_get, API_ROUTE_TENANT_KEYS, API_ROLE_ADMIN },
    { "DELETE", "/v2/coffer/keys/{id}", key_revoke, API_ROUTE_TENANT_KEYS, API_ROLE_ADMIN },
    { "POST", "/v2/coffer/keys/admin/rotate", admin_rotate, 0, API_ROLE_ADMIN },
    { NULL, NULL, NULL, 0, 0 },
};
