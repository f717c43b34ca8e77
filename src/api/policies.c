/* policies.c: /v2/data-protect/policies: create, list, get, update and delete protection policies.
 *
 * A request body is validated whole (schedule.c) before anything is written. The stored document is
 * the ProtectionPolicyResponse itself: the body as sent, minus the fields the server owns, plus id,
 * lastModificationTimeUsecs and isUsable. So GET by id is one indexed lookup whose text becomes the
 * response unparsed, and the list concatenates documents (numProtectionGroups / numProtectedObjects are
 * spliced in only when includeStats asks for them). Writes that read before they write (update,
 * delete) run in one BEGIN IMMEDIATE transaction: the stale check (lastModificationTimeUsecs, 412)
 * and the in-use check (409) see exactly what they change. Every write also stores the typed spec
 * (api/wire_spec.h: the internal document the scheduler and retention read) in the same transaction.
 * A list answer is kept in the list cache (list_cache.h) under its tenant, filters and the policies'
 * catalog generation (with includeStats, the groups' one too): served again until a write changes them. */
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "api/list_cache.h"
#include "api/resid.h"
#include "api/schedule.h"
#include "api/wire_spec.h"
#include "catalog/cat_gen.h"
#include "catalog/cat_group.h"
#include "catalog/cat_policy.h"
#include "util/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_LIMIT (256u * 1024 * 1024)

/* Fields of ProtectionPolicyResponse the server owns: ignored in a body. */
static const char *const server_fields[] = { "id", "lastModificationTimeUsecs", "isUsable", "isReplicated",
                                             "numProtectionGroups", "numProtectedObjects", NULL };

static int check_path_id(struct api_req *req, struct api_resp *resp)
{
    if (api_id_parse(req->params[0], NULL, NULL, NULL)) return 1;
    api_error(resp, 400, "InvalidId",
              "path parameter 'id' must be a protection policy id of the form clusterId:incarnationId:number, "
              "not '%.64s'", req->params[0]);
    return 0;
}

static void not_found(struct api_resp *resp, const char *id)
{
    api_error(resp, 404, "NotFound", "no protection policy with id '%.64s'", id);
}

static void internal(struct api_resp *resp, const char *what)
{
    api_catalog_error(resp, 0, what);
}

/* make_doc: the response document for a validated body: id first, the body's own fields, then the
 * server's. Returns malloc'd compact text. */
static char *make_doc(json_t *body, const char *id, int64_t mtime)
{
    json_t *doc = json_object();
    char *text;
    for (const char *const *f = server_fields; *f; f++) json_object_del(body, *f);
    json_object_set_new(doc, "id", json_string(id));
    json_object_update(doc, body);
    json_object_set_new(doc, "lastModificationTimeUsecs", json_integer(mtime));
    json_object_set_new(doc, "isUsable", json_true());
    text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return text;
}

/* make_spec: the typed spec's internal document of a validated body (malloc'd), or NULL when the
 * translator refuses what the validator let through (logged; the scheduler skips such a policy). */
static char *make_spec(json_t *body, const char *id)
{
    char err[256] = "", *spec = api_wire_policy_text(body, err, sizeof err);
    if (!spec) log_warn("policy %s: no typed spec: %s", id, err);
    return spec;
}

static void name_conflict(struct api_resp *resp, json_t *body)
{
    api_error(resp, 409, "Conflict", "field 'name': a protection policy named '%.200s' already exists",
              json_string_value(json_object_get(body, "name")));
}

static void policy_create(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    json_t *body = api_body_object(req, resp);
    char id[API_ID_MAX], *doc = NULL, *spec = NULL;
    int64_t seq, mtime = api_now_usecs();
    int rc;
    if (!body) return;
    if (!api_policy_validate(resp, body)) goto out;
    if (cat_begin(cat) != 0) {
        internal(resp, "starting a transaction");
        goto out;
    }
    if (api_id_new(cat, "policy", id, sizeof id, &seq) != 0 || !(doc = make_doc(body, id, mtime))) {
        cat_rollback(cat);
        internal(resp, "allocating an id");
        goto out;
    }
    spec = make_spec(body, id);
    rc = cat_policy_insert(cat, req->tenant, id, seq, json_string_value(json_object_get(body, "name")), doc, mtime);
    if (rc == 0) rc = cat_policy_set_spec(cat, req->tenant, id, spec);
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) {
        cat_rollback(cat);
        if (rc == CAT_CONFLICT) name_conflict(resp, body);
        else internal(resp, "storing the policy");
        goto out;
    }
    api_doc_response(resp, 201, doc, strlen(doc));
    doc = NULL;
out:
    free(doc);
    free(spec);
    json_decref(body);
}

static void policy_get(struct api_req *req, struct api_resp *resp)
{
    char *doc;
    size_t len;
    int rc;
    if (!check_path_id(req, resp)) return;
    rc = cat_policy_get_doc(api_ctx(req)->cat, req->tenant, req->params[0], &doc, &len, NULL);
    if (rc == 0) api_doc_response(resp, 200, doc, len);
    else if (rc == CAT_NOT_FOUND) not_found(resp, req->params[0]);
    else internal(resp, "reading the policy");
}

static void policy_update(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    json_t *body;
    char *doc = NULL, *spec = NULL;
    int64_t stored, sent = 0, mtime;
    int sent_here = 0, rc;
    if (!check_path_id(req, resp)) return;
    if (!(body = api_body_object(req, resp))) return;
    if (!api_policy_validate(resp, body)) goto out;
    jv_int(resp, body, "", "lastModificationTimeUsecs", 0, &sent, &sent_here);
    if (cat_begin(cat) != 0) {
        internal(resp, "starting a transaction");
        goto out;
    }
    rc = cat_policy_get_doc(cat, req->tenant, req->params[0], NULL, NULL, &stored);
    if (rc != 0) {
        cat_rollback(cat);
        if (rc == CAT_NOT_FOUND) not_found(resp, req->params[0]);
        else internal(resp, "reading the policy");
        goto out;
    }
    if (sent_here && sent != stored) {
        cat_rollback(cat);
        api_error(resp, 412, "StaleUpdate",
                  "field 'lastModificationTimeUsecs' is stale: it is %lld but the policy was last modified at %lld; "
                  "read the policy again and retry", (long long)sent, (long long)stored);
        goto out;
    }
    mtime = api_next_mtime(stored);
    if (!(doc = make_doc(body, req->params[0], mtime))) {
        cat_rollback(cat);
        internal(resp, "building the policy");
        goto out;
    }
    spec = make_spec(body, req->params[0]);
    rc = cat_policy_update(cat, req->tenant, req->params[0], json_string_value(json_object_get(body, "name")), doc,
                           mtime);
    if (rc == 0) rc = cat_policy_set_spec(cat, req->tenant, req->params[0], spec);
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) {
        cat_rollback(cat);
        if (rc == CAT_CONFLICT) name_conflict(resp, body);
        else internal(resp, "storing the policy");
        goto out;
    }
    api_doc_response(resp, 200, doc, strlen(doc));
    doc = NULL;
out:
    free(doc);
    free(spec);
    json_decref(body);
}

static void policy_delete(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    int64_t groups = 0;
    int rc;
    if (!check_path_id(req, resp)) return;
    if (cat_begin(cat) != 0) {
        internal(resp, "starting a transaction");
        return;
    }
    rc = cat_policy_exists(cat, req->tenant, req->params[0]);
    if (rc != 1) {
        cat_rollback(cat);
        if (rc == 0) not_found(resp, req->params[0]);
        else internal(resp, "reading the policy");
        return;
    }
    if (cat_group_count_by_policy(cat, req->tenant, req->params[0], &groups) != 0) {
        cat_rollback(cat);
        internal(resp, "counting the policy's protection groups");
        return;
    }
    if (groups > 0) {
        cat_rollback(cat);
        api_error(resp, 409, "PolicyInUse",
                  "protection policy '%.64s' is used by %lld protection group%s; delete those groups or move them to "
                  "another policy first", req->params[0], (long long)groups, groups == 1 ? "" : "s");
        return;
    }
    rc = cat_policy_delete(cat, req->tenant, req->params[0]);
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) {
        cat_rollback(cat);
        internal(resp, "deleting the policy");
        return;
    }
    api_empty(resp, 204);
}

/* list_filter: the values of a list query parameter, or NULL when it is absent or empty. */
static json_t *list_filter(struct api_req *req, const char *name)
{
    json_t *l = api_query_list(req, name);
    if (json_array_size(l) == 0) {
        json_decref(l);
        return NULL;
    }
    return l;
}

struct list_state {
    struct api_buf buf;
    struct cat *cat;
    const char *tenant;
    int stats, n;
};

static int list_one(void *ud, const char *id, const char *doc, size_t len)
{
    struct list_state *ls = ud;
    if (ls->n++ > 0) api_buf_add(&ls->buf, ",", 1);
    if (ls->stats) {
        int64_t groups = 0, objects = 0;
        char extra[96];
        if (cat_policy_stats(ls->cat, ls->tenant, id, &groups, &objects) != 0) return -1;
        snprintf(extra, sizeof extra, "\"numProtectionGroups\":%lld,\"numProtectedObjects\":%lld",
                 (long long)groups, (long long)objects);
        api_buf_add_doc_with(&ls->buf, doc, len, extra);
    } else {
        api_buf_add(&ls->buf, doc, len);
    }
    return ls->buf.failed ? -1 : 0;
}

static void policy_list(struct api_req *req, struct api_resp *resp)
{
    static const char *const types_allowed[] = { "Regular", "Internal", NULL };
    static const char *const bool_params[] = { "excludeLinkedPolicies", "includeReplicatedPolicies", NULL };
    struct list_state ls = { .cat = api_ctx(req)->cat, .tenant = req->tenant };
    json_t *ids = NULL, *names = NULL, *types = NULL, *v;
    char *key = NULL;
    uint64_t gen = 0, ggen = 0;
    int regular = 1, flag, rc;
    size_t i;
    if (api_query_bool(req, resp, "includeStats", &ls.stats) < 0) return;
    for (const char *const *b = bool_params; *b; b++)
        if (api_query_bool(req, resp, *b, &flag) < 0) return;
    types = api_query_list(req, "types");
    if (json_array_size(types) > 0) {
        regular = 0;
        json_array_foreach(types, i, v) {
            const char *t = json_string_value(v);
            if (!jv_enum_ok(t, types_allowed)) {
                api_error(resp, 400, "InvalidParameter",
                          "query parameter 'types' has unknown value '%.64s' (allowed: Regular, Internal)", t);
                json_decref(types);
                return;
            }
            if (strcmp(t, "Regular") == 0) regular = 1;
        }
    }
    json_decref(types);
    ids = list_filter(req, "ids");
    names = list_filter(req, "policyNames");
    /* Served from the list cache while the policies' generation (and, with includeStats, the groups'
     * one, which the statistics count) is what it was when the cached answer was read. */
    if ((gen = cat_gen(ls.cat, CAT_GEN_POLICIES)) != 0 && (!ls.stats || (ggen = cat_gen(ls.cat, CAT_GEN_GROUPS)) != 0)) {
        json_t *k = json_pack("[s,b,b,O?,O?,I]", req->tenant, regular, ls.stats, ids, names, (json_int_t)ggen);
        key = k ? json_dumps(k, JSON_COMPACT) : NULL;
        json_decref(k);
        if (key && api_list_cache_respond(API_LIST_POLICIES, ls.cat, key, gen, resp)) {
            json_decref(ids);
            json_decref(names);
            free(key);
            return;
        }
    }
    api_buf_init(&ls.buf, LIST_LIMIT);
    api_buf_adds(&ls.buf, "{\"policies\":[");
    /* Every policy made here is a Regular one; Internal policies do not exist. */
    rc = regular ? cat_policy_list(ls.cat, req->tenant, ids, names, list_one, &ls) : 0;
    json_decref(ids);
    json_decref(names);
    if (rc != 0) {
        api_buf_release(&ls.buf);
        internal(resp, "listing policies");
        free(key);
        return;
    }
    api_buf_adds(&ls.buf, "]}");
    if (!key || ls.buf.failed) {
        api_buf_respond(&ls.buf, resp, 200);
    } else {
        size_t len;
        char *text = api_buf_steal(&ls.buf, &len);
        if (text) api_list_cache_store_respond(API_LIST_POLICIES, ls.cat, key, gen, text, len, resp);
        else internal(resp, "building the list");
    }
    free(key);
}

const struct api_route api_routes_policies[] = {
    { "POST", "/v2/data-protect/policies", policy_create, 0, API_ROLE_ADMIN },
    { "GET", "/v2/data-protect/policies", policy_list, 0, API_ROLE_VIEWER },
    { "GET", "/v2/data-protect/policies/{id}", policy_get, 0, API_ROLE_VIEWER },
    { "PUT", "/v2/data-protect/policies/{id}", policy_update, 0, API_ROLE_ADMIN },
    { "DELETE", "/v2/data-protect/policies/{id}", policy_delete, 0, API_ROLE_ADMIN },
    { NULL, NULL, NULL, 0, 0 },
};
