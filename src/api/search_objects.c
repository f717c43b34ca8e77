/* search_objects.c: GET /v2/data-protect/search/objects (SearchObjects), and how objects are shown
 * (objects.h).
 *
 * Filters the catalog can answer are pushed into one scan (cat_object_scan): searchString (a
 * case-insensitive match of the object's name where '*' is the only wildcard: "vm*" is a prefix,
 * "*" or an empty string is everything, and text without '*' must equal the whole name),
 * environments, objectIds, sourceIds (registration ids), sourceUuids, osTypes, protectionGroupIds,
 * isProtected (listed by a live protection group), isDeleted / includeDeletedObjects (objects that
 * vanished at the last refresh). Filters on things no object of ours has (tags, snapshot tags,
 * external filters, protection types other than kAgent/kFile/kVolume, another cluster's
 * identifier) match nothing, so they give an empty result rather than being ignored.
 *
 * Pagination: objects come in id order; the response holds at most `count` (default and maximum
 * 1000) and, when more match, a paginationCookie: the decimal id of the last object returned, after
 * which the next page starts. "count" in the response is the number of all matching objects.
 *
 * Showing an object (objects.h): the catalog keeps what discovery found as typed facts in Coffer's
 * names (cat_object_facts); osType, logicalSizeBytes and the physicalProtectionSource of a host or
 * volume are built here from them, so the wire field names stay in src/api. PostgreSQL objects
 * (environment kSQL: kInstance, kDatabase, kTable) carry mssqlParams (hostInfo: the registration's
 * host; isEncrypted false: Coffer reads no TDE) and nest: a host's childObjects hold its volumes and
 * instance, an instance's its databases, a database's its tables. */
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "api/objects.h"
#include "catalog/cat_group.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_MAX 1000

/* ---- how objects are shown ---- */

json_t *api_object_summary(const struct cat_object *o)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_integer(o->id));
    json_object_set_new(j, "name", json_string(o->name ? o->name : ""));
    json_object_set_new(j, "sourceId", json_integer(o->source_id));
    if (o->source_name) json_object_set_new(j, "sourceName", json_string(o->source_name));
    json_object_set_new(j, "environment", json_string(o->environment ? o->environment : "kPhysical"));
    json_object_set_new(j, "objectType", json_string(o->object_type ? o->object_type : ""));
    if (o->uuid) json_object_set_new(j, "uuid", json_string(o->uuid));
    if (o->facts.os_type) json_object_set_new(j, "osType", json_string(o->facts.os_type));
    if (o->facts.logical_bytes >= 0) json_object_set_new(j, "logicalSizeBytes", json_integer(o->facts.logical_bytes));
    return j;
}

int api_object_has_details(const struct cat_object *o)
{
    if (!o || !o->object_type) return 0;
    if (strcmp(o->object_type, "kVolume") == 0) return o->facts.fs_type != NULL;
    if (strcmp(o->object_type, "kHost") == 0) return o->facts.host_type != NULL;
    return 0;
}

json_t *api_object_pps(const struct cat_object *o)
{
    const struct cat_object_facts *f = &o->facts;
    json_t *p;
    if (!api_object_has_details(o)) return NULL;
    if (strcmp(o->object_type, "kVolume") == 0) {
        p = json_pack("{s:s,s:s}", "type", o->object_type, "name", o->name ? o->name : "");
        json_object_set_new(p, "mountPoint", json_string(o->path ? o->path : o->name ? o->name : ""));
        json_object_set_new(p, "fileSystemType", json_string(f->fs_type));
        json_object_set_new(p, "isNetworkFileSystem", json_boolean(f->is_network));
        if (f->device) json_object_set_new(p, "devicePath", json_string(f->device));
    } else {
        p = json_pack("{s:s,s:s,s:s}", "type", o->object_type, "hostType", f->host_type, "name",
                      o->name ? o->name : "");
        if (f->host_name) json_object_set_new(p, "hostName", json_string(f->host_name));
        if (o->agent == CAT_AGENT_LOCAL) json_object_set_new(p, "agent", json_string("local"));
    }
    return p;
}

int api_object_is_sql(const struct cat_object *o)
{
    return o && o->environment && strcmp(o->environment, "kSQL") == 0 && o->object_type &&
           (strcmp(o->object_type, "kInstance") == 0 || strcmp(o->object_type, "kDatabase") == 0 ||
            strcmp(o->object_type, "kTable") == 0);
}

/* has_children: the object types whose childObjects are listed. */
static int has_children(const struct cat_object *o)
{
    return o->object_type && (strcmp(o->object_type, "kHost") == 0 || strcmp(o->object_type, "kInstance") == 0 ||
                              strcmp(o->object_type, "kDatabase") == 0);
}

/* sql_params: the mssqlParams of a PostgreSQL object. */
static json_t *sql_params(const struct cat_object *o)
{
    char id[32];
    json_t *host;
    snprintf(id, sizeof id, "%lld", (long long)o->source_id);
    host = json_pack("{s:s}", "id", id);
    if (o->source_name) json_object_set_new(host, "name", json_string(o->source_name));
    return json_pack("{s:o,s:b}", "hostInfo", host, "isEncrypted", 0);
}

/* summary_tree: the summary of o with its descendants as nested childObjects (depth bounds the
 * recursion: host, instance, database, table). NULL on a catalog error. */
static json_t *summary_tree(struct cat *cat, const char *tenant, const struct cat_object *o, int full, int depth)
{
    json_t *j = api_object_summary(o);
    if (full) {
        json_t *pps = api_object_pps(o);
        if (pps) json_object_set_new(j, "physicalProtectionSource", pps);
    }
    if (api_object_is_sql(o)) json_object_set_new(j, "mssqlParams", sql_params(o));
    if (has_children(o) && depth > 0) {
        struct cat_object *kids;
        size_t n;
        json_t *arr;
        int failed = 0;
        if (cat_object_children(cat, tenant, o->id, &kids, &n) != 0) {
            json_decref(j);
            return NULL;
        }
        arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *k = failed ? NULL : summary_tree(cat, tenant, &kids[i], 0, depth - 1);
            if (k) json_array_append_new(arr, k);
            else failed = 1;
            cat_object_release(&kids[i]);
        }
        free(kids);
        if (failed) {
            json_decref(arr);
            json_decref(j);
            return NULL;
        }
        json_object_set_new(j, "childObjects", arr);
    }
    return j;
}

json_t *api_object_json(struct cat *cat, const char *tenant, const struct cat_object *o)
{
    return summary_tree(cat, tenant, o, 1, 4);
}

/* ---- query parsing ---- */

static const char *const environments[] = { "kPhysical", "kSQL", NULL };
static const char *const os_types[] = { "kLinux", "kWindows", NULL };
static const char *const protection_types[] = { "kAgent", "kNative", "kSnapshotManager", "kRDSSnapshotManager",
                                                "kAuroraSnapshotManager", "kAwsS3", "kAwsRDSPostgresBackup",
                                                "kAwsAuroraPostgres", "kAwsRDSPostgres", "kAzureSQL", "kFile",
                                                "kVolume", NULL };
static const char *const run_statuses[] = { "Accepted", "Running", "Canceled", "Canceling", "Failed", "Missed",
                                            "Succeeded", "SucceededWithWarning", "OnHold", "Finalizing",
                                            "Skipped", "LegalHold", NULL };

/* present: whether a query parameter was given at all (with any value). */
static int present(struct api_req *req, const char *name)
{
    const char *v = api_query(req, name);
    return v != NULL;
}

/* ---- the search ---- */

struct search {
    struct cat *cat;
    const char *tenant;
    int64_t cluster_id, incarnation_id;
    int64_t after;          /* the cookie: objects up to this id were on earlier pages */
    int64_t limit;
    int64_t total;          /* all matches */
    int64_t last_id;        /* id of the last object put on this page */
    int more;               /* a match beyond this page exists */
    json_t *objects;
    struct cat_object root; /* cache: the root of the last source seen (id 0 = none) */
    int failed;
};

static json_t *protection_info(struct search *s, const struct cat_object *o)
{
    json_t *info = json_object(), *groups = json_array(), *ids = cat_object_group_ids(s->cat, s->tenant, o->id), *v;
    size_t i;
    if (!ids) {
        json_decref(info);
        json_decref(groups);
        return NULL;
    }
    json_array_foreach(ids, i, v) {
        struct cat_group g;
        json_t *pg = json_pack("{s:O}", "id", v);
        if (cat_group_get(s->cat, s->tenant, json_string_value(v), &g) == 0) {
            json_object_set_new(pg, "name", json_string(g.name));
            json_object_set_new(pg, "policyId", json_string(g.policy_id));
            json_object_set_new(pg, "protectionEnvType",
                                json_string(g.environment && strcmp(g.environment, "kSQL") == 0 ? "kNative" : "kFile"));
            cat_group_release(&g);
        }
        json_array_append_new(groups, pg);
    }
    json_decref(ids);
    json_object_set_new(info, "objectId", json_integer(o->id));
    json_object_set_new(info, "sourceId", json_integer(o->source_id));
    json_object_set_new(info, "clusterId", json_integer(s->cluster_id));
    json_object_set_new(info, "clusterIncarnationId", json_integer(s->incarnation_id));
    json_object_set_new(info, "tenantIds", json_pack("[s]", s->tenant));
    json_object_set_new(info, "isDeleted", json_boolean(o->is_deleted));
    json_object_set_new(info, "protectionGroups", groups);
    return info;
}

static int on_object(void *ud, const struct cat_object *o)
{
    struct search *s = ud;
    json_t *j, *info;
    s->total++;
    if (o->id <= s->after) return 0;
    if ((int64_t)json_array_size(s->objects) >= s->limit) {
        s->more = 1;
        return 0;
    }
    j = api_object_json(s->cat, s->tenant, o);
    info = j ? protection_info(s, o) : NULL;
    if (!j || !info) {
        json_decref(j);
        s->failed = 1;
        return -1;
    }
    json_object_set_new(j, "objectProtectionInfos", json_pack("[o]", info));
    if (o->is_deleted) json_object_set_new(j, "isDeleted", json_true());
    if (o->id != o->source_id) {
        if (s->root.id != o->source_id) {
            cat_object_release(&s->root);
            if (cat_object_get(s->cat, s->tenant, o->source_id, &s->root) != 0) memset(&s->root, 0, sizeof s->root);
        }
        if (s->root.id == o->source_id) json_object_set_new(j, "sourceInfo", api_object_summary(&s->root));
    }
    json_array_append_new(s->objects, j);
    s->last_id = o->id;
    return 0;
}

/* parse_bool: a boolean parameter (out unchanged when absent); 0, or -1 after a 400. */
static int parse_bool(struct api_req *req, struct api_resp *resp, const char *name, int *out)
{
    return api_query_bool(req, resp, name, out) < 0 ? -1 : 0;
}

static void search_objects(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    struct cat_object_filter f;
    struct search s;
    json_t *lists[10] = { 0 }, *ptypes = NULL, *statuses = NULL, *clusters = NULL, *out;
    const char *search = api_query(req, "searchString"), *cookie = api_query(req, "paginationCookie");
    int is_protected = -1, is_deleted = 0, include_deleted = 0, helios = 0, nothing = 0, np = 0;
    int64_t count = PAGE_MAX;
    static const char *const none_of_ours[] = { "mustHaveTagIds", "mightHaveTagIds", "mustHaveSnapshotTagIds",
                                                "mightHaveSnapshotTagIds", "tagSearchName", "tagNames",
                                                "tagTypes", "tagCategories", "tagSubCategories",
                                                "externalFilters", NULL };
    memset(&f, 0, sizeof f);
    memset(&s, 0, sizeof s);
    f.is_protected = -1;

    if (!(lists[np++] = f.environments = api_query_enum_list(req, resp, "environments", environments))) goto out;
    if (!(lists[np++] = f.os_types = api_query_enum_list(req, resp, "osTypes", os_types))) goto out;
    if (!(lists[np++] = ptypes = api_query_enum_list(req, resp, "protectionTypes", protection_types))) goto out;
    if (!(lists[np++] = statuses = api_query_enum_list(req, resp, "lastRunStatusList", run_statuses))) goto out;
    if (!(lists[np++] = f.object_ids = api_query_int_list(req, resp, "objectIds"))) goto out;
    if (!(lists[np++] = f.source_ids = api_query_int_list(req, resp, "sourceIds"))) goto out;
    lists[np++] = f.source_uuids = api_query_list(req, "sourceUuids");
    lists[np++] = f.protection_group_ids = api_query_list(req, "protectionGroupIds");
    lists[np++] = clusters = api_query_list(req, "clusterIdentifiers");
    if (parse_bool(req, resp, "isProtected", &is_protected) != 0 || parse_bool(req, resp, "isDeleted", &is_deleted) != 0 ||
        parse_bool(req, resp, "includeDeletedObjects", &include_deleted) != 0 ||
        parse_bool(req, resp, "includeHeliosTagInfoForObjects", &helios) != 0)
        goto out;
    if (api_query_int64(req, resp, "count", &count) < 0) goto out;
    if (count < 1 || count > PAGE_MAX) {
        api_error(resp, 400, "InvalidParameter", "query parameter 'count' must be between 1 and %d, not %lld",
                  PAGE_MAX, (long long)count);
        goto out;
    }
    if (cookie) {
        char *end;
        long long v;
        errno = 0;
        v = strtoll(cookie, &end, 10);
        if (errno || end == cookie || *end || v < 0) {
            api_error(resp, 400, "InvalidParameter",
                      "query parameter 'paginationCookie' is not a cookie this server returned: '%.64s'", cookie);
            goto out;
        }
        s.after = v;
    }
    if (cat_installation(cat, &s.cluster_id, &s.incarnation_id) != 0) {
        api_error(resp, 500, "InternalError", "cannot read the cluster identity");
        goto out;
    }
    /* Filters on what no object of ours has match nothing. */
    for (const char *const *p = none_of_ours; *p; p++)
        if (present(req, *p)) nothing = 1;
    if (json_array_size(statuses) > 0) nothing = 1; /* lastRunStatusList: no object's last run is known here */
    if (json_array_size(ptypes) > 0) {
        size_t i;
        json_t *v;
        int ours = 0;
        json_array_foreach(ptypes, i, v) {
            const char *t = json_string_value(v);
            if (strcmp(t, "kAgent") == 0 || strcmp(t, "kFile") == 0 || strcmp(t, "kVolume") == 0) ours = 1;
        }
        if (!ours) nothing = 1;
    }
    if (json_array_size(clusters) > 0) {
        char me[64];
        size_t i;
        json_t *v;
        int ours = 0;
        snprintf(me, sizeof me, "%lld:%lld", (long long)s.cluster_id, (long long)s.incarnation_id);
        json_array_foreach(clusters, i, v) {
            if (strcmp(json_string_value(v), me) == 0) ours = 1;
        }
        if (!ours) nothing = 1;
    }
    if (search && *search && strcmp(search, "*") != 0) f.name_glob = search;
    f.is_protected = is_protected;
    f.deleted = is_deleted ? 1 : include_deleted ? 2 : 0;

    s.cat = cat;
    s.tenant = req->tenant;
    s.limit = count;
    s.objects = json_array();
    if (!nothing && cat_object_scan(cat, req->tenant, &f, on_object, &s) != 0) {
        api_error(resp, 500, "InternalError", "catalog error while searching objects");
        json_decref(s.objects);
        cat_object_release(&s.root);
        goto out;
    }
    cat_object_release(&s.root);
    out = json_object();
    json_object_set_new(out, "objects", s.objects);
    json_object_set_new(out, "count", json_integer(s.total));
    if (s.more) {
        char c[32];
        snprintf(c, sizeof c, "%lld", (long long)s.last_id);
        json_object_set_new(out, "paginationCookie", json_string(c));
    }
    api_json(resp, 200, out);
out:
    for (int i = 0; i < np; i++) json_decref(lists[i]);
}

const struct api_route api_routes_search_objects[] = {
    { "GET", "/v2/data-protect/search/objects", search_objects, 0, API_ROLE_VIEWER },
    { NULL, NULL, NULL, 0, 0 },
};
