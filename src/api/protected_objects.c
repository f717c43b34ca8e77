/* protected_objects.c: GET /v2/data-protect/search/protected-objects (SearchProtectedObjects): the
 * tenant's objects that have snapshots to recover from, each with the newest snapshot of every
 * protection group that protects it (latestSnapshotsInfo), and the groups seen (metadata).
 *
 * It walks the tenant's live snapshots oldest first (cat_snapshot_list) and keeps, per object and
 * group, the newest; filters: searchString (object or group name; "abc*" is a prefix, otherwise a
 * substring, case-insensitive; "*" or empty is everything), environments, protectionGroupIds,
 * objectIds, sourceIds, runInstanceIds, filterSnapshotFromUsecs/ToUsecs (the object has a snapshot
 * in that range), osTypes (file backups are of Linux hosts). Objects come in id order. */
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "api/run_json.h"
#include "catalog/cat_file_index.h"
#include "catalog/cat_run.h"
#include "catalog/cat_snapshot.h"
#include "catalog/cat_source.h"
#include "util/array.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct po_entry {
    int64_t object_id;
    json_t *object;   /* ProtectedObject being built */
    json_t *latest;   /* protectionGroupId -> newest ObjectSnapshotsInfo */
};

struct po_ctx {
    struct cat *cat;
    const char *tenant;
    const char *search;       /* NULL = everything */
    json_t *envs, *groups, *objects, *sources, *instances;
    int64_t from, to;
    struct po_entry *v;
    size_t n, cap;
    int failed;
};

static int name_matches(const char *pattern, const char *name)
{
    size_t pl;
    if (!pattern || !*pattern || strcmp(pattern, "*") == 0) return 1;
    if (!name) return 0;
    pl = strlen(pattern);
    if (pattern[pl - 1] == '*') return strncasecmp(name, pattern, pl - 1) == 0;
    return strcasestr(name, pattern) != NULL;
}

static int str_in(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_string_value(v) && strcmp(json_string_value(v), s) == 0) return 1;
    return 0;
}

static int int_in(json_t *arr, int64_t x)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (json_integer_value(v) == x) return 1;
    return 0;
}

static struct po_entry *entry_for(struct po_ctx *c, const struct cat_snapshot *s)
{
    struct po_entry *e;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].object_id == s->object_id) return &c->v[i];
    if (ARRAY_RESERVE(c->v, c->cap, c->n + 1) != 0) return NULL;
    e = &c->v[c->n++];
    memset(e, 0, sizeof *e);
    e->object_id = s->object_id;
    e->latest = json_object();
    e->object = json_object();
    json_object_set_new(e->object, "id", json_integer(s->object_id));
    if (s->object_name) json_object_set_new(e->object, "name", json_string(s->object_name));
    if (s->source_id) json_object_set_new(e->object, "sourceId", json_integer(s->source_id));
    json_object_set_new(e->object, "environment", json_string(s->environment));
    json_object_set_new(e->object, "protectionType", json_string("kFile"));
    json_object_set_new(e->object, "osType", json_string("kLinux"));
    return e;
}

static int snap_cb(void *ud, const struct cat_snapshot *s)
{
    struct po_ctx *c = ud;
    struct po_entry *e;
    json_t *info;
    char run_id[API_RUN_ID_MAX];
    if (json_array_size(c->envs) && !str_in(c->envs, s->environment)) return 0;
    if (json_array_size(c->objects) && !int_in(c->objects, s->object_id)) return 0;
    if (json_array_size(c->sources) && !int_in(c->sources, s->source_id) && !int_in(c->sources, s->object_id)) return 0;
    if (json_array_size(c->instances) && !int_in(c->instances, s->instance_id)) return 0;
    if (c->search && !name_matches(c->search, s->object_name) && !name_matches(c->search, s->group_name)) return 0;
    if (!(e = entry_for(c, s))) {
        c->failed = 1;
        return -1;
    }
    api_run_id_format(run_id, sizeof run_id, s->group_seq, s->run_usecs);
    info = json_object();
    json_object_set_new(info, "localSnapshotInfo", json_pack("{s:s,s:I}", "snapshotId", s->id, "logicalSizeBytes",
                                                            (json_int_t)s->logical_bytes));
    {
        const char *ix = cat_fidx_status(c->cat, c->tenant, s->id); /* file index (cat_file_index.h) */
        json_object_set_new(info, "indexingStatus", json_string(ix ? ix : "NoIndex"));
    }
    json_object_set_new(info, "protectionGroupId", json_string(s->group_id));
    if (s->group_name) json_object_set_new(info, "protectionGroupName", json_string(s->group_name));
    json_object_set_new(info, "runInstanceId", json_integer(s->instance_id));
    json_object_set_new(info, "protectionRunId", json_string(run_id));
    json_object_set_new(info, "runType", json_string(s->run_type));
    json_object_set_new(info, "protectionRunStartTimeUsecs", json_integer(s->run_usecs));
    json_object_set_new(info, "protectionRunEndTimeUsecs", json_integer(s->end_usecs));
    /* Coffer: whether this snapshot falls in the requested snapshot time range. */
    json_object_set_new(info, "inRange", json_boolean((c->from == 0 || s->snapshot_usecs >= c->from) &&
                                                      (c->to == 0 || s->snapshot_usecs <= c->to)));
    json_object_set_new(e->latest, s->group_id, info); /* oldest first: the last one kept is the newest */
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct po_entry *x = a, *y = b;
    return x->object_id < y->object_id ? -1 : x->object_id > y->object_id;
}

/* ints_query: a list parameter of integers as a JSON array; NULL after a 400. */
static json_t *ints_query(struct api_req *req, struct api_resp *resp, const char *name)
{
    json_t *l = api_query_list(req, name), *out = json_array(), *v;
    size_t i;
    json_array_foreach(l, i, v) {
        char *end;
        long long x;
        errno = 0;
        x = strtoll(json_string_value(v), &end, 10);
        if (errno || *end || end == json_string_value(v)) {
            api_error(resp, 400, "InvalidParameter", "query parameter '%s' must list integers, not '%.64s'", name,
                      json_string_value(v));
            json_decref(l);
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, json_integer(x));
    }
    json_decref(l);
    return out;
}

static void search_protected(struct api_req *req, struct api_resp *resp)
{
    static const char *const envs[] = { "kPhysical", "kSQL", NULL };
    static const char *const oses[] = { "kLinux", "kWindows", NULL };
    static const char *const po_bools[] = { "cdpProtectedOnly", "useCachedData", NULL };
    struct po_ctx c = { .cat = api_ctx(req)->cat, .tenant = req->tenant };
    struct cat_snapshot_filter f = { .object_id = -1, .source_id = -1 };
    json_t *os = NULL, *objs = NULL, *groups_seen = NULL, *v;
    int64_t sub = 0;
    size_t i, shown = 0;
    c.search = api_query(req, "searchString");
    c.envs = api_query_list(req, "environments");
    c.groups = api_query_list(req, "protectionGroupIds");
    os = api_query_list(req, "osTypes");
    json_array_foreach(c.envs, i, v) {
        if (!jv_enum_ok(json_string_value(v), envs)) {
            api_error(resp, 400, "InvalidParameter", "query parameter 'environments' has an unknown value '%.64s'",
                      json_string_value(v));
            goto out;
        }
    }
    json_array_foreach(os, i, v) {
        if (!jv_enum_ok(json_string_value(v), oses)) {
            api_error(resp, 400, "InvalidParameter", "query parameter 'osTypes' has an unknown value '%.64s'",
                      json_string_value(v));
            goto out;
        }
    }
    if (!(c.objects = ints_query(req, resp, "objectIds")) || !(c.sources = ints_query(req, resp, "sourceIds")) ||
        !(c.instances = ints_query(req, resp, "runInstanceIds")))
        goto out;
    if (api_query_int64(req, resp, "filterSnapshotFromUsecs", &c.from) < 0 ||
        api_query_int64(req, resp, "filterSnapshotToUsecs", &c.to) < 0 ||
        api_query_int64(req, resp, "subResultSize", &sub) < 0 || api_query_bools(req, resp, po_bools) < 0)
        goto out;
    f.group_ids = c.groups;
    if (cat_snapshot_list(c.cat, req->tenant, &f, snap_cb, &c) < 0 || c.failed) {
        api_error(resp, 500, "InternalError", "catalog error while listing snapshots");
        goto out;
    }
    if (c.n) qsort(c.v, c.n, sizeof *c.v, cmp_entry);
    objs = json_array();
    groups_seen = json_object();
    for (i = 0; i < c.n; i++) {
        struct po_entry *e = &c.v[i];
        const char *gid;
        json_t *info, *latest = json_array();
        struct cat_object co;
        int in_range = c.from == 0 && c.to == 0;
        if (json_array_size(os) && !str_in(os, "kLinux")) {
            json_decref(latest);
            continue;
        }
        json_object_foreach(e->latest, gid, info) {
            if (json_is_true(json_object_get(info, "inRange"))) in_range = 1;
            json_object_del(info, "inRange");
            json_array_append(latest, info);
            json_object_set_new(groups_seen, gid,
                                json_pack("{s:s,s:s?}", "protectionGroupId", gid, "protectionGroupName",
                                          json_string_value(json_object_get(info, "protectionGroupName"))));
        }
        if (!in_range) {
            json_decref(latest);
            continue;
        }
        if (cat_object_get(c.cat, req->tenant, e->object_id, &co) == 0) {
            if (co.source_name) json_object_set_new(e->object, "sourceName", json_string(co.source_name));
            if (co.object_type) json_object_set_new(e->object, "objectType", json_string(co.object_type));
            json_object_set_new(e->object, "sourceInfo",
                                json_pack("{s:I,s:s?,s:s?,s:s?}", "id", (json_int_t)co.source_id, "name",
                                          co.source_name, "environment", co.environment, "objectType", "kHost"));
            cat_object_release(&co);
        }
        json_object_set_new(e->object, "latestSnapshotsInfo", latest);
        if (sub <= 0 || (int64_t)shown < sub) json_array_append(objs, e->object);
        shown++;
    }
    {
        json_t *ids = json_array();
        const char *gid;
        json_object_foreach(groups_seen, gid, v) json_array_append(ids, v);
        api_json(resp, 200, json_pack("{s:o,s:{s:o},s:I}", "objects", objs, "metadata",
                                      "uniqueProtectionGroupIdentifiers", ids, "numResults", (json_int_t)shown));
        objs = NULL;
    }
out:
    for (i = 0; i < c.n; i++) {
        json_decref(c.v[i].object);
        json_decref(c.v[i].latest);
    }
    free(c.v);
    json_decref(objs);
    json_decref(groups_seen);
    json_decref(os);
    json_decref(c.envs);
    json_decref(c.groups);
    json_decref(c.objects);
    json_decref(c.sources);
    json_decref(c.instances);
}

const struct api_route api_routes_protected_objects[] = {
    { "GET", "/v2/data-protect/search/protected-objects", search_protected, 0, API_ROLE_VIEWER },
    { NULL, NULL, NULL, 0, 0 },
};
