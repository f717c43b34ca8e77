/* groups.c: /v2/data-protect/protection-groups: create, list, get, update (including pause and resume
 * through isPaused) and delete protection groups.
 *
 * A body is checked for shape first (group_validate.c); then, inside one BEGIN IMMEDIATE transaction,
 * that its policy is one of the tenant's and that every object of a kPhysical group is a registered
 * object of the tenant (of a kSQL group: a kInstance or kDatabase object of a kSQL registration), so
 * nothing is written unless all of it holds. The stored document is the
 * ProtectionGroupResponse itself (the body as sent minus what the server owns, plus id, clusterId,
 * isActive, isDeleted, isPaused, lastModifiedTimestampUsecs, numProtectedObjects): GET by id serves
 * it unparsed and the list concatenates documents. Deletion is soft (isDeleted), so runs and
 * snapshots keep their group; a deleted group is gone for GET, PUT and DELETE (404) and listed only
 * with isDeleted=true.
 *
 * Last runs: includeLastRunInfo adds lastRun (the newest run from the runs catalog) and the
 * lastRunAnyStatus / lastRunLocalBackupStatus filters match its localBackupInfo.status.
 *
 * The list: its answer is kept (list_cache.h) under its tenant and filters and the catalog generation
 * read before the rows (cat_gen.h): the groups' one, plus the runs' one for a list with last runs or a
 * filter on their status. Until a group is created, updated or deleted (or, for those lists, a run is
 * written), the same list is served from memory without a catalog read or a copy. A list with last
 * runs is read in two statements stepped side by side (cat_group_list_last_run), not a query per
 * group. */
#include "api/api.h"
#include "api/auth.h"
#include "api/group_validate.h"
#include "api/jv.h"
#include "api/list_cache.h"
#include "api/run_json.h"
#include "api/resid.h"
#include "api/wire_spec.h"
#include "svc/svc.h"
#include "catalog/cat_gen.h"
#include "catalog/cat_group.h"
#include "catalog/cat_policy.h"
#include "catalog/cat_run.h"
#include "catalog/cat_source.h"
#include "util/log.h"
#include "util/time.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_LIMIT (256u * 1024 * 1024)

#define LIST_HINT_MAX (8u * 1024 * 1024)

static _Atomic size_t list_size_hint; /* bytes of the last list answered, capped at LIST_HINT_MAX */

/* Fields of ProtectionGroupResponse the server owns: ignored in a body. */
static const char *const server_fields[] = { "id", "clusterId", "regionId", "isActive", "isDeleted", "isPaused",
                                             "lastModifiedTimestampUsecs", "lastRun", "permissions", "isProtectOnce",
                                             "missingEntities", "invalidEntities", "numProtectedObjects", NULL };

static const char *const run_statuses[] = { "Accepted", "Running", "Canceled", "Canceling", "Failed", "Missed",
                                            "Succeeded", "SucceededWithWarning", "OnHold", "Finalizing", "Skipped",
                                            "Paused", NULL };

/* ---- last runs --------------------------------------------------------------------------------- */

/* last_run: the group's newest run as a ProtectionGroupRun (new reference) or NULL when it has none,
 * built by api_group_last_run (run_json.h). */
static json_t *last_run(struct cat *cat, const char *tenant, const char *id)
{
    return api_group_last_run(cat, tenant, id);
}

/* last_run_status: the local backup status of a ProtectionGroupRun (borrowed) or NULL. */
static const char *last_run_status(json_t *run)
{
    return json_string_value(json_object_get(json_object_get(run, "localBackupInfo"), "status"));
}

/* ---- helpers ----------------------------------------------------------------------------------- */

static int check_path_id(struct api_req *req, struct api_resp *resp)
{
    if (api_id_parse(req->params[0], NULL, NULL, NULL)) return 1;
    api_error(resp, 400, "InvalidId",
              "path parameter 'id' must be a protection group id of the form clusterId:incarnationId:number, "
              "not '%.64s'", req->params[0]);
    return 0;
}

static void not_found(struct api_resp *resp, const char *id)
{
    api_error(resp, 404, "NotFound", "no protection group with id '%.64s'", id);
}

static void internal(struct api_resp *resp, const char *what)
{
    api_catalog_error(resp, 0, what);
}

/* make_doc: the response document of a validated body. Returns malloc'd compact text; *spec gets the
 * typed spec's internal document translated from that response (api/wire_spec.h; malloc'd, NULL when
 * the translator refuses it: logged, the scheduler skips such a group). */
static char *make_doc(json_t *body, const char *id, int paused, int64_t mtime, size_t nobjects, char **spec)
{
    char err[256] = "";
    json_t *doc = json_object();
    const char *colon = strchr(id, ':');
    char *text;
    for (const char *const *f = server_fields; *f; f++) json_object_del(body, *f);
    json_object_set_new(doc, "id", json_string(id));
    json_object_update(doc, body);
    json_object_set_new(doc, "clusterId", json_stringn(id, colon ? (size_t)(colon - id) : strlen(id)));
    json_object_set_new(doc, "isActive", json_true());
    json_object_set_new(doc, "isDeleted", json_false());
    json_object_set_new(doc, "isPaused", json_boolean(paused));
    json_object_set_new(doc, "lastModifiedTimestampUsecs", json_integer(mtime));
    json_object_set_new(doc, "numProtectedObjects", json_integer((json_int_t)nobjects));
    text = json_dumps(doc, JSON_COMPACT);
    if (text && !(*spec = api_wire_group_text(doc, err, sizeof err))) log_warn("group %s: no typed spec: %s", id, err);
    json_decref(doc);
    return text;
}

/* check_sql_objects: every object of a kSQL group is a live kInstance or kDatabase object of a kSQL
 * registration of the tenant (discovered by svc_pg_refresh). 1, or 0 after filling resp. */
static int check_sql_objects(struct cat *cat, const char *tenant, const struct api_group_info *info,
                             struct api_resp *resp)
{
    for (size_t i = 0; i < info->nobjects; i++) {
        struct cat_object o;
        int rc = cat_object_get(cat, tenant, info->object_ids[i], &o), ok;
        if (rc < 0 && rc != CAT_NOT_FOUND) {
            internal(resp, "reading the objects");
            return 0;
        }
        ok = rc == 0 && !o.is_deleted && o.environment && strcmp(o.environment, "kSQL") == 0 && o.object_type &&
             (strcmp(o.object_type, "kInstance") == 0 || strcmp(o.object_type, "kDatabase") == 0);
        if (!ok) {
            api_error(resp, 400, "InvalidField",
                      "field '%s[%zu].id' names object %lld, which is not a kInstance or kDatabase object of a kSQL "
                      "registration of this tenant%s%s%s", info->objects_path, i, (long long)info->object_ids[i],
                      rc == 0 ? " (it is a " : "", rc == 0 ? (o.object_type ? o.object_type : "?") : "",
                      rc == 0 ? (o.is_deleted ? " that was not found at the last refresh)" : ")") : "");
        }
        if (rc == 0) cat_object_release(&o);
        if (!ok) return 0;
    }
    return 1;
}

/* check_refs: inside the transaction: the policy is the tenant's and every object that must be
 * registered is. 1, or 0 after filling resp. */
static int check_refs(struct cat *cat, const char *tenant, const struct api_group_info *info, struct api_resp *resp)
{
    int rc = cat_policy_exists(cat, tenant, info->policy_id);
    if (rc < 0) {
        internal(resp, "reading the policy");
        return 0;
    }
    if (rc == 0) {
        api_error(resp, 400, "InvalidField", "field 'policyId' names no protection policy of this tenant: '%.64s'",
                  info->policy_id);
        return 0;
    }
    if (info->objects_sql) return check_sql_objects(cat, tenant, info, resp);
    if (!info->objects_registered) return 1;
    for (size_t i = 0; i < info->nobjects; i++) {
        rc = cat_object_exists(cat, tenant, info->object_ids[i]);
        if (rc < 0) {
            internal(resp, "reading the objects");
            return 0;
        }
        if (rc == 0) {
            api_error(resp, 400, "InvalidField",
                      "field '%s[%zu].id' names object %lld, which is not a registered object of this tenant",
                      info->objects_path, i, (long long)info->object_ids[i]);
            return 0;
        }
    }
    return 1;
}

static void name_conflict(struct api_resp *resp, const char *name)
{
    api_error(resp, 409, "Conflict", "field 'name': a protection group named '%.200s' already exists", name);
}

/* ---- handlers ---------------------------------------------------------------------------------- */

static void group_create(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    struct api_group_info info;
    struct cat_group_write w;
    json_t *body = api_body_object(req, resp);
    char id[API_ID_MAX], *doc = NULL, *spec = NULL;
    int64_t seq, mtime = api_now_usecs();
    int rc;
    if (!body) return;
    if (!api_group_validate(resp, body, &info)) goto out;
    if (cat_begin(cat) != 0) {
        internal(resp, "starting a transaction");
        goto out;
    }
    if (!check_refs(cat, req->tenant, &info, resp)) {
        cat_rollback(cat);
        goto out;
    }
    if (api_id_new(cat, "protection_group", id, sizeof id, &seq) != 0) {
        cat_rollback(cat);
        internal(resp, "allocating an id");
        goto out;
    }
    /* make_doc removes only server-owned fields from body: what info borrows stays valid. */
    w = (struct cat_group_write){ .tenant = req->tenant, .id = id, .seq = seq, .name = info.name,
                                  .policy_id = info.policy_id, .environment = info.environment, .is_active = 1,
                                  .is_paused = info.has_paused && info.is_paused, .mtime_usecs = mtime,
                                  .object_ids = info.object_ids, .nobjects = info.nobjects };
    if (!(doc = make_doc(body, id, w.is_paused, mtime, info.nobjects, &spec))) {
        cat_rollback(cat);
        internal(resp, "building the group");
        goto out;
    }
    w.doc = doc;
    w.spec = spec;
    rc = cat_group_insert(cat, &w);
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) {
        cat_rollback(cat);
        if (rc == CAT_CONFLICT) name_conflict(resp, info.name);
        else internal(resp, "storing the group");
        goto out;
    }
    api_doc_response(resp, 201, doc, strlen(doc));
    doc = NULL;
out:
    api_group_info_release(&info);
    free(doc);
    free(spec);
    json_decref(body);
}

/* respond_doc: answers 200 with a stored doc (taken), with lastRun added when asked and there is one. */
static void respond_doc(struct api_req *req, struct api_resp *resp, char *doc, size_t len, int include_last_run)
{
    json_t *run = include_last_run ? last_run(api_ctx(req)->cat, req->tenant, req->params[0]) : NULL;
    struct api_buf extra, out;
    char *text;
    if (!run) {
        api_doc_response(resp, 200, doc, len);
        return;
    }
    text = json_dumps(run, JSON_COMPACT);
    json_decref(run);
    api_buf_init(&extra, LIST_LIMIT);
    api_buf_init(&out, LIST_LIMIT);
    api_buf_adds(&extra, "\"lastRun\":");
    if (text) api_buf_adds(&extra, text);
    else extra.failed = 1;
    if (extra.failed) out.failed = 1;
    else api_buf_add_doc_with(&out, doc, len, extra.data);
    api_buf_release(&extra);
    free(text);
    free(doc);
    api_buf_respond(&out, resp, 200);
}

static void group_get(struct api_req *req, struct api_resp *resp)
{
    char *doc;
    size_t len;
    int deleted = 0, last = 0, flag, rc;
    if (!check_path_id(req, resp)) return;
    if (api_query_bool(req, resp, "includeLastRunInfo", &last) < 0 ||
        api_query_bool(req, resp, "pruneExcludedSourceIds", &flag) < 0 ||
        api_query_bool(req, resp, "pruneSourceIds", &flag) < 0)
        return;
    rc = cat_group_get_doc(api_ctx(req)->cat, req->tenant, req->params[0], &doc, &len, NULL, &deleted);
    if (rc == 0 && deleted) {
        free(doc);
        rc = CAT_NOT_FOUND;
    }
    if (rc == 0) respond_doc(req, resp, doc, len, last);
    else if (rc == CAT_NOT_FOUND) not_found(resp, req->params[0]);
    else internal(resp, "reading the group");
}

static void group_update(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    struct api_group_info info;
    struct cat_group cur;
    struct cat_group_write w;
    json_t *body;
    char *doc = NULL, *spec = NULL;
    int64_t mtime;
    int rc;
    if (!check_path_id(req, resp)) return;
    if (!(body = api_body_object(req, resp))) return;
    if (!api_group_validate(resp, body, &info)) goto out;
    if (cat_begin(cat) != 0) {
        internal(resp, "starting a transaction");
        goto out;
    }
    rc = cat_group_get(cat, req->tenant, req->params[0], &cur);
    if (rc == 0 && cur.is_deleted) {
        cat_group_release(&cur);
        rc = CAT_NOT_FOUND;
    }
    if (rc != 0) {
        cat_rollback(cat);
        if (rc == CAT_NOT_FOUND) not_found(resp, req->params[0]);
        else internal(resp, "reading the group");
        goto out;
    }
    if (info.has_mtime && info.mtime_usecs != cur.mtime_usecs) {
        cat_rollback(cat);
        api_error(resp, 412, "StaleUpdate",
                  "field 'lastModifiedTimestampUsecs' is stale: it is %lld but the protection group was last modified "
                  "at %lld; read the group again and retry", (long long)info.mtime_usecs, (long long)cur.mtime_usecs);
        cat_group_release(&cur);
        goto out;
    }
    if (!check_refs(cat, req->tenant, &info, resp)) {
        cat_rollback(cat);
        cat_group_release(&cur);
        goto out;
    }
    mtime = api_next_mtime(cur.mtime_usecs);
    /* isPaused absent: the group stays as it is (pause and resume are explicit). */
    w = (struct cat_group_write){ .tenant = req->tenant, .id = req->params[0], .name = info.name,
                                  .policy_id = info.policy_id, .environment = info.environment,
                                  .is_active = cur.is_active,
                                  .is_paused = info.has_paused ? info.is_paused : cur.is_paused,
                                  .mtime_usecs = mtime, .object_ids = info.object_ids, .nobjects = info.nobjects };
    cat_group_release(&cur);
    if (!(doc = make_doc(body, req->params[0], w.is_paused, mtime, info.nobjects, &spec))) {
        cat_rollback(cat);
        internal(resp, "building the group");
        goto out;
    }
    w.doc = doc;
    w.spec = spec;
    rc = cat_group_update(cat, &w);
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) {
        cat_rollback(cat);
        if (rc == CAT_CONFLICT) name_conflict(resp, info.name);
        else if (rc == CAT_NOT_FOUND) not_found(resp, req->params[0]);
        else internal(resp, "storing the group");
        goto out;
    }
    api_doc_response(resp, 200, doc, strlen(doc));
    doc = NULL;
out:
    api_group_info_release(&info);
    free(doc);
    free(spec);
    json_decref(body);
}

static void group_delete(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    char *doc = NULL, *text = NULL;
    size_t len;
    json_t *j;
    int64_t mtime;
    int deleted = 0, snapshots = 0, rc;
    if (!check_path_id(req, resp)) return;
    /* deleteSnapshots: the group's snapshots (not those on legal hold) expire now and the retention
     * pass removes them; without it they are kept until their own retention ends. */
    if (api_query_bool(req, resp, "deleteSnapshots", &snapshots) < 0) return;
    if (cat_begin(cat) != 0) {
        internal(resp, "starting a transaction");
        return;
    }
    rc = cat_group_get_doc(cat, req->tenant, req->params[0], &doc, &len, &mtime, &deleted);
    if (rc == 0 && deleted) rc = CAT_NOT_FOUND;
    if (rc != 0) {
        cat_rollback(cat);
        free(doc);
        if (rc == CAT_NOT_FOUND) not_found(resp, req->params[0]);
        else internal(resp, "reading the group");
        return;
    }
    mtime = api_next_mtime(mtime);
    j = json_loadb(doc, len, 0, NULL);
    free(doc);
    if (j) {
        json_object_set_new(j, "isDeleted", json_true());
        json_object_set_new(j, "lastModifiedTimestampUsecs", json_integer(mtime));
        text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
    }
    rc = text ? cat_group_mark_deleted(cat, req->tenant, req->params[0], text, mtime) : -1;
    free(text);
    /* Queued runs are canceled, a running one is asked to stop. */
    if (rc == 0) rc = cat_run_group_deleted(cat, req->tenant, req->params[0], snapshots, util_time_now());
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) {
        cat_rollback(cat);
        internal(resp, "deleting the group");
        return;
    }
    /* deleteSnapshots: the catalog expired them now (above, in the transaction); the service deletes
     * them at once (what the retention pass would do at its next pass, through the same function). */
    if (snapshots)
        svc_group_snapshots_delete(cat, api_ctx(req)->repo, req->tenant, req->params[0]);
    api_empty(resp, 204);
}

/* ---- list -------------------------------------------------------------------------------------- */

struct list_state {
    struct api_buf buf;
    struct cat *cat;
    const char *tenant;
    int include_last_run;
    json_t *statuses;    /* lastRunAnyStatus / lastRunLocalBackupStatus values, or NULL */
    int n;
};

static int status_wanted(json_t *statuses, const char *status)
{
    json_t *v;
    size_t i;
    if (!status) return 0;
    json_array_foreach(statuses, i, v)
        if (strcmp(json_string_value(v), status) == 0) return 1;
    return 0;
}

/* list_add: appends a group's doc to the list, with lastRun when asked and run is not NULL (borrowed). */
static int list_add(struct list_state *ls, const char *doc, size_t len, json_t *run)
{
    if (ls->n++ > 0) api_buf_add(&ls->buf, ",", 1);
    if (ls->include_last_run && run) {
        char *text = json_dumps(run, JSON_COMPACT);
        struct api_buf extra;
        api_buf_init(&extra, LIST_LIMIT);
        api_buf_adds(&extra, "\"lastRun\":");
        if (text) api_buf_adds(&extra, text);
        free(text);
        if (!text || extra.failed) ls->buf.failed = 1;
        else api_buf_add_doc_with(&ls->buf, doc, len, extra.data);
        api_buf_release(&extra);
    } else {
        api_buf_add(&ls->buf, doc, len);
    }
    return ls->buf.failed ? -1 : 0;
}

static int list_one(void *ud, const char *id, const char *doc, size_t len)
{
    (void)id;
    return list_add(ud, doc, len, NULL);
}

/* list_one_run: a group with its newest run (NULL: none), from cat_group_list_last_run: the same
 * ProtectionGroupRun as the group's GET ?includeLastRunInfo builds (api_group_last_run). */
static int list_one_run(void *ud, const char *id, const char *doc, size_t len, const struct cat_run *last)
{
    struct list_state *ls = ud;
    json_t *run = last ? api_run_json(last, 0, NULL, 0) : NULL;
    int rc = 0;
    (void)id;
    if (last && !run) return -1;
    if (!ls->statuses || status_wanted(ls->statuses, last_run_status(run))) rc = list_add(ls, doc, len, run);
    json_decref(run);
    return rc;
}

/* list_param: the values of a list query parameter (NULL when absent or empty), each checked against
 * allowed when given. -1 after filling resp with a 400. */
static int list_param(struct api_req *req, struct api_resp *resp, const char *name, const char *const *allowed,
                      json_t **out)
{
    json_t *l = api_query_list(req, name), *v;
    size_t i;
    *out = NULL;
    if (json_array_size(l) == 0) {
        json_decref(l);
        return 0;
    }
    if (allowed) {
        json_array_foreach(l, i, v) {
            if (!jv_enum_ok(json_string_value(v), allowed)) {
                char list[512];
                size_t used = 0;
                list[0] = '\0';
                for (const char *const *a = allowed; *a && used < sizeof list; a++)
                    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", a == allowed ? "" : ", ", *a);
                api_error(resp, 400, "InvalidParameter", "query parameter '%s' has unknown value '%.64s' (allowed: %s)",
                          name, json_string_value(v), list);
                json_decref(l);
                return -1;
            }
        }
    }
    *out = l;
    return 1;
}

/* list_key: the cache key of a list: its tenant, every filter, whether it has last runs and the run
 * statuses it keeps, as compact JSON (malloc'd; NULL when out of memory: then the list is not cached). */
static char *list_key(const char *tenant, const struct cat_group_filter *f, int matches_nothing,
                      const struct list_state *ls)
{
    json_t *k = json_pack("[s,i,i,i,O?,O?,O?,O?,b,b,O?]", tenant, f->is_active, f->is_paused, f->is_deleted, f->ids,
                          f->names, f->policy_ids, f->environments, matches_nothing, ls->include_last_run,
                          ls->statuses);
    char *text = k ? json_dumps(k, JSON_COMPACT) : NULL;
    json_decref(k);
    return text;
}

static void group_list(struct api_req *req, struct api_resp *resp)
{
    static const char *const envs[] = { "kPhysical", "kSQL", NULL };
    static const char *const other_bools[] = { "includeGroupsWithDatalockOnly", "isLastRunSlaViolated",
                                               "pruneExcludedSourceIds", "pruneSourceIds", "useCachedData", NULL };
    /* Replication, archival and cloud spin do not exist here: a filter on their status matches nothing. */
    static const char *const none_statuses[] = { "lastRunReplicationStatus", "lastRunArchivalStatus",
                                                 "lastRunCloudSpinStatus", NULL };
    struct list_state ls = { .cat = api_ctx(req)->cat, .tenant = req->tenant };
    struct cat_group_filter f = { .is_active = -1, .is_paused = -1, .is_deleted = 0 };
    json_t *any = NULL, *local = NULL, *none = NULL;
    char *key = NULL;
    uint64_t gen = 0;
    int flag, matches_nothing = 0, rc = -1;
    if (api_query_bool(req, resp, "includeLastRunInfo", &ls.include_last_run) < 0) return;
    for (const char *const *b = other_bools; *b; b++)
        if (api_query_bool(req, resp, *b, &flag) < 0) return;
    flag = 0;
    if (api_query_bool(req, resp, "isActive", &flag) < 0) return;
    if (api_query(req, "isActive")) f.is_active = flag;
    flag = 0;
    if (api_query_bool(req, resp, "isPaused", &flag) < 0) return;
    if (api_query(req, "isPaused")) f.is_paused = flag;
    if (api_query_bool(req, resp, "isDeleted", &f.is_deleted) < 0) return;
    for (const char *const *s = none_statuses; *s; s++) {
        if (list_param(req, resp, *s, run_statuses, &none) < 0) goto out;
        if (none) matches_nothing = 1;
        json_decref(none);
        none = NULL;
    }
    if (list_param(req, resp, "ids", NULL, &f.ids) < 0 || list_param(req, resp, "names", NULL, &f.names) < 0 ||
        list_param(req, resp, "policyIds", NULL, &f.policy_ids) < 0 ||
        list_param(req, resp, "environments", envs, &f.environments) < 0 ||
        list_param(req, resp, "lastRunAnyStatus", run_statuses, &any) < 0 ||
        list_param(req, resp, "lastRunLocalBackupStatus", run_statuses, &local) < 0)
        goto out;
    /* Only local backups exist, so "any status" and "local backup status" ask the same; both given:
     * the run must match both. */
    if (any && local) {
        json_t *both = json_array(), *v;
        size_t i;
        json_array_foreach(any, i, v)
            if (status_wanted(local, json_string_value(v))) json_array_append(both, v);
        ls.statuses = both;
    } else if (any || local) {
        ls.statuses = json_incref(any ? any : local);
    }
    /* Without last runs the answer depends only on the groups table, with them (or a filter on their
     * status) on the runs too: served from the cache while the generation of each (read before the
     * rows) is current. Both only grow, so their sum changes whenever either does. */
    if ((gen = cat_gen(ls.cat, CAT_GEN_GROUPS)) != 0 && (ls.include_last_run || ls.statuses)) {
        uint64_t rgen = cat_gen(ls.cat, CAT_GEN_RUNS);
        gen = rgen ? gen + rgen : 0;
    }
    if (gen != 0) {
        key = list_key(req->tenant, &f, matches_nothing, &ls);
        if (key && api_list_cache_respond(API_LIST_GROUPS, ls.cat, key, gen, resp)) goto out;
    }
    api_buf_init(&ls.buf, LIST_LIMIT);
    /* Lists are large (about 600 bytes a group): start from the size of the last one rather than
     * doubling up to it. */
    api_buf_reserve(&ls.buf, atomic_load_explicit(&list_size_hint, memory_order_relaxed));
    api_buf_adds(&ls.buf, "{\"protectionGroups\":[");
    if (matches_nothing) rc = 0;
    else if (ls.include_last_run || ls.statuses) rc = cat_group_list_last_run(ls.cat, req->tenant, &f, list_one_run, &ls);
    else rc = cat_group_list(ls.cat, req->tenant, &f, list_one, &ls);
    if (rc != 0) {
        api_buf_release(&ls.buf);
        internal(resp, "listing protection groups");
        goto out;
    }
    api_buf_adds(&ls.buf, "]}");
    atomic_store_explicit(&list_size_hint, ls.buf.len < LIST_HINT_MAX ? ls.buf.len + 64 : LIST_HINT_MAX,
                          memory_order_relaxed);
    if (!key || ls.buf.failed) {
        api_buf_respond(&ls.buf, resp, 200);
    } else {
        size_t len;
        char *text = api_buf_steal(&ls.buf, &len);
        if (text) api_list_cache_store_respond(API_LIST_GROUPS, ls.cat, key, gen, text, len, resp);
        else internal(resp, "building the list");
    }
out:
    free(key);
    json_decref(f.ids);
    json_decref(f.names);
    json_decref(f.policy_ids);
    json_decref(f.environments);
    json_decref(any);
    json_decref(local);
    json_decref(ls.statuses);
}

const struct api_route api_routes_groups[] = {
    { "POST", "/v2/data-protect/protection-groups", group_create, 0, API_ROLE_ADMIN },
    { "GET", "/v2/data-protect/protection-groups", group_list, 0, API_ROLE_VIEWER },
    { "GET", "/v2/data-protect/protection-groups/{id}", group_get, 0, API_ROLE_VIEWER },
    { "PUT", "/v2/data-protect/protection-groups/{id}", group_update, 0, API_ROLE_ADMIN },
    { "DELETE", "/v2/data-protect/protection-groups/{id}", group_delete, 0, API_ROLE_ADMIN },
    { NULL, NULL, NULL, 0, 0 },
};
