/* snapshots.c: the snapshots runs produced, through the API.
 *
 *   GET  /v2/data-protect/objects/{id}/snapshots      GetObjectSnapshots
 *   POST /v2/data-protect/snapshots/restore-points    GetRestorePointsInTimeRange (201)
 *
 * An ObjectSnapshot's id is the repository's snapshot id (what a recovery names). Object snapshots
 * are listed oldest first and filtered by snapshot time, run start time, run type, group and run
 * instance id; an object the tenant never had (no snapshots and not registered) is 404. Restore points are the
 * snapshots of the named groups taken in [startTimeUsecs, endTimeUsecs], one FullSnapshotInfo each
 * (with Coffer's snapshotId added to restoreInfo); file backups are point-in-time, so timeRangeInfo
 * has no continuous ranges. For environment kSQL, fullSnapshotInfo lists the base backups (kFull and
 * kRegular runs; the kLog snapshots are not points of their own) and timeRangeInfo.timeRanges the
 * continuous restorable ranges of each instance the groups protect (svc_pg_restore_ranges: a base
 * backup plus the sealed WAL that continues it without a gap), clipped to [startTimeUsecs,
 * endTimeUsecs], with Coffer's objectId (the kInstance) and baseSnapshotId added. */
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "api/run_json.h"
#include "catalog/cat.h"
#include "catalog/cat_file_index.h"
#include "catalog/cat_snapshot.h"
#include "catalog/cat_source.h"
#include "svc/pg_plan.h"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_run_types[] = { "kAll", "kRegular", "kFull", "kLog", "kSystem", "kHydrateCDP",
                                           "kStorageArraySnapshot", "kIncremental", NULL };

static void internal(struct api_resp *resp, const char *what)
{
    api_catalog_error(resp, 0, what);
}

static int parse_int64(const char *s, int64_t *out)
{
    char *end;
    long long v;
    if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9'))) return 0;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

struct snap_list {
    json_t *arr;
    int64_t cluster, incarnation;
    struct cat *cat;          /* for the snapshot's indexingStatus (file index, cat_file_index.h) */
};

static int snap_cb(void *ud, const struct cat_snapshot *s)
{
    struct snap_list *l = ud;
    json_t *o = api_snapshot_json(s, l->cluster, l->incarnation);
    const char *ix = l->cat ? cat_fidx_status(l->cat, s->tenant, s->id) : NULL;
    if (ix) json_object_set_new(o, "indexingStatus", json_string(ix));
    json_array_append_new(l->arr, o);
    return 0;
}

static void object_snapshots(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    struct cat_snapshot_filter f = { .object_id = -1, .source_id = -1 };
    struct snap_list l = { 0 };
    json_t *types = NULL, *groups = NULL, *inst = NULL, *instances = NULL, *v;
    size_t i;
    if (!parse_int64(req->params[0], &f.object_id) || f.object_id < 0) {
        api_error(resp, 400, "InvalidId", "path parameter 'id' must be an object id (an integer), not '%.64s'",
                  req->params[0]);
        return;
    }
    if (api_query_int64(req, resp, "fromTimeUsecs", &f.from_usecs) < 0 ||
        api_query_int64(req, resp, "toTimeUsecs", &f.to_usecs) < 0 ||
        api_query_int64(req, resp, "runStartFromTimeUsecs", &f.run_from_usecs) < 0 ||
        api_query_int64(req, resp, "runStartToTimeUsecs", &f.run_to_usecs) < 0)
        return;
    types = api_query_list(req, "runTypes");
    json_array_foreach(types, i, v) {
        if (!jv_enum_ok(json_string_value(v), g_run_types)) {
            api_error(resp, 400, "InvalidParameter", "query parameter 'runTypes' has an unknown value '%.64s'",
                      json_string_value(v));
            goto out;
        }
    }
    json_array_foreach(types, i, v) { /* kAll means every type */
        if (strcmp(json_string_value(v), "kAll") == 0) {
            json_array_clear(types);
            break;
        }
    }
    groups = api_query_list(req, "protectionGroupIds");
    inst = api_query_list(req, "runInstanceIds");
    instances = json_array();
    json_array_foreach(inst, i, v) {
        int64_t n;
        if (!parse_int64(json_string_value(v), &n)) {
            api_error(resp, 400, "InvalidParameter", "query parameter 'runInstanceIds' must list integers, not '%.64s'",
                      json_string_value(v));
            goto out;
        }
        json_array_append_new(instances, json_integer(n));
    }
    f.run_types = types;
    f.group_ids = groups;
    f.instance_ids = instances;
    l.arr = json_array();
    l.cat = cat;
    if (cat_installation(cat, &l.cluster, &l.incarnation) != 0 || cat_snapshot_list(cat, req->tenant, &f, snap_cb, &l) < 0) {
        internal(resp, "listing snapshots");
        goto out;
    }
    if (json_array_size(l.arr) == 0) {
        /* No snapshots: 404 only when the object is unknown to the tenant (and never had any). */
        struct cat_snapshot_filter any = { .object_id = f.object_id, .source_id = -1, .include_deleted = 1 };
        struct snap_list probe = { .arr = json_array() };
        int known = cat_object_exists(cat, req->tenant, f.object_id);
        if (known == 0 && cat_snapshot_list(cat, req->tenant, &any, snap_cb, &probe) == 0 &&
            json_array_size(probe.arr) == 0) {
            json_decref(probe.arr);
            api_error(resp, 404, "NotFound", "no object with id %" PRId64, f.object_id);
            goto out;
        }
        json_decref(probe.arr);
    }
    api_json(resp, 200, json_pack("{s:o}", "snapshots", l.arr));
    l.arr = NULL;
out:
    json_decref(l.arr);
    json_decref(types);
    json_decref(groups);
    json_decref(inst);
    json_decref(instances);
}

struct points {
    struct cat *cat;
    const char *tenant;
    json_t *infos;
    int64_t source_id;
    int sql;           /* kSQL: base backups only, and the (group, instance) pairs seen */
    json_t *pairs;     /* [[group id, instance id], ...] */
};

/* note_pair: remembers a (group, instance) pair of a SQL snapshot once. */
static void note_pair(struct points *p, const struct cat_snapshot *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(p->pairs, i, v)
        if (strcmp(json_string_value(json_array_get(v, 0)), s->group_id) == 0 &&
            json_integer_value(json_array_get(v, 1)) == s->object_id)
            return;
    json_array_append_new(p->pairs, json_pack("[sI]", s->group_id, (json_int_t)s->object_id));
}

static int point_cb(void *ud, const struct cat_snapshot *s)
{
    struct points *p = ud;
    json_t *obj, *ri;
    if (p->sql) {
        if (!s->sql.present) return 0;
        if (strcmp(s->run_type, "kFull") != 0 && strcmp(s->run_type, "kRegular") != 0) return 0;
    }
    obj = json_object();
    json_object_set_new(obj, "id", json_integer(s->object_id));
    if (s->object_name) json_object_set_new(obj, "name", json_string(s->object_name));
    if (s->source_id) json_object_set_new(obj, "sourceId", json_integer(s->source_id));
    json_object_set_new(obj, "environment", json_string(s->environment));
    if (!p->sql) json_object_set_new(obj, "protectionType", json_string("kFile"));
    json_object_set_new(obj, "osType", json_string("kLinux"));
    ri = json_pack("{s:o,s:s,s:I,s:i,s:s,s:I,s:s}", "objectInfo", obj, "protectionGroupId", s->group_id,
                   "runStartTimeUsecs", (json_int_t)s->run_usecs, "attemptNumber", 1,
                   /* Coffer's additions: which snapshot and when it was taken */
                   "snapshotId", s->id, "snapshotTimestampUsecs", (json_int_t)s->snapshot_usecs, "runType",
                   s->run_type);
    json_array_append_new(p->infos, json_pack("{s:o,s:[]}", "restoreInfo", ri, "targetsConfiguration"));
    return 0;
}

static int pair_cb(void *ud, const struct cat_snapshot *s)
{
    if (s->sql.present) note_pair(ud, s);
    return 0;
}

/* sql_ranges: the RecoveryTimeRangeInfo list of the groups' instances (any snapshot time: a range
 * that reaches into the window may start from a base backup before it), clipped to [start, end]. A
 * new reference, NULL on a catalog error. */
static json_t *sql_ranges(struct cat *cat, const char *tenant, const struct cat_snapshot_filter *within, int64_t start,
                          int64_t end)
{
    struct cat_snapshot_filter f = *within;
    struct points p = { .cat = cat, .tenant = tenant, .pairs = json_array() };
    json_t *out = json_array(), *v;
    size_t i;
    f.from_usecs = f.to_usecs = 0;
    if (cat_snapshot_list(cat, tenant, &f, pair_cb, &p) < 0) {
        json_decref(p.pairs);
        json_decref(out);
        return NULL;
    }
    json_array_foreach(p.pairs, i, v) {
        const char *gid = json_string_value(json_array_get(v, 0));
        int64_t inst = json_integer_value(json_array_get(v, 1));
        struct svc_pg_range *r = NULL;
        size_t n = 0;
        if (svc_pg_restore_ranges(cat, tenant, inst, gid, start, end, &r, &n) != 0) {
            json_decref(p.pairs);
            json_decref(out);
            return NULL;
        }
        for (size_t k = 0; k < n; k++) {
            int64_t a = r[k].start_usecs > start ? r[k].start_usecs : start;
            int64_t b = r[k].end_usecs < end ? r[k].end_usecs : end;
            if (a > b) continue;
            /* objectId and baseSnapshotId are Coffer's additions: which instance, from which base backup */
            json_array_append_new(out, json_pack("{s:I,s:I,s:s,s:I,s:s}", "startTimeUsecs", (json_int_t)a,
                                                 "endTimeUsecs", (json_int_t)b, "protectionGroupId", gid, "objectId",
                                                 (json_int_t)inst, "baseSnapshotId", r[k].base_snapshot_id));
        }
        svc_pg_ranges_free(r, n);
    }
    json_decref(p.pairs);
    return out;
}

static void restore_points(struct api_req *req, struct api_resp *resp)
{
    static const char *const envs[] = { "kVMware", "kHyperV", "kAzure", "kGCP", "kKVM", "kAcropolis", "kAWS",
                                        "kPhysical", "kGPFS", "kElastifile", "kNetapp", "kGenericNas", "kIsilon",
                                        "kFlashBlade", "kPure", "kIbmFlashSystem", "kSQL", "kExchange", "kAD",
                                        "kOracle", "kView", "kRemoteAdapter", "kO365", "kKubernetes", "kCassandra",
                                        "kMongoDB", "kCouchbase", "kHdfs", "kHive", "kSAPHANA", "kHBase", "kUDA",
                                        "kSfdc", NULL };
    struct cat *cat = api_ctx(req)->cat;
    json_t *body = api_body_object(req, resp), *groups, *v;
    const char *env;
    int64_t start, end, source = -1;
    int has_source = 0;
    size_t i;
    struct points p = { .cat = cat, .tenant = req->tenant, .source_id = -1 };
    struct cat_snapshot_filter f = { .object_id = -1, .source_id = -1 };
    if (!body) return;
    if (!jv_int(resp, body, "", "startTimeUsecs", 1, &start, NULL) || !jv_int(resp, body, "", "endTimeUsecs", 1, &end, NULL) ||
        !jv_enum(resp, body, "", "environment", 1, envs, &env) || !jv_arr(resp, body, "", "protectionGroupIds", 1, &groups) ||
        !jv_int(resp, body, "", "sourceId", 0, &source, &has_source))
        goto out;
    if (start < 0 || end < start) {
        api_error(resp, 400, "InvalidParameter", "field 'endTimeUsecs' must not be before field 'startTimeUsecs' (both >= 0)");
        goto out;
    }
    if (json_array_size(groups) == 0) {
        api_error(resp, 400, "InvalidParameter", "field 'protectionGroupIds' must name at least one protection group");
        goto out;
    }
    json_array_foreach(groups, i, v) {
        if (!json_is_string(v) || !*json_string_value(v)) {
            api_error(resp, 400, "InvalidParameter", "field 'protectionGroupIds[%zu]' must be a protection group id", i);
            goto out;
        }
    }
    f.from_usecs = start;
    f.to_usecs = end;
    if (f.to_usecs == 0) f.to_usecs = -1; /* [0, 0]: nothing after the epoch */
    f.environment = env;
    f.group_ids = groups;
    if (has_source) f.source_id = source;
    p.infos = json_array();
    p.sql = strcmp(env, "kSQL") == 0;
    if (cat_snapshot_list(cat, req->tenant, &f, point_cb, &p) < 0) {
        internal(resp, "listing snapshots");
        goto out;
    }
    if (p.sql) {
        json_t *ranges = sql_ranges(cat, req->tenant, &f, start, end);
        if (!ranges) {
            internal(resp, "reading the restorable ranges");
            goto out;
        }
        api_json(resp, 201, json_pack("{s:o,s:{s:o}}", "fullSnapshotInfo", p.infos, "timeRangeInfo", "timeRanges",
                                      ranges));
    } else {
        api_json(resp, 201, json_pack("{s:o,s:{s:[]}}", "fullSnapshotInfo", p.infos, "timeRangeInfo", "timeRanges"));
    }
    p.infos = NULL;
out:
    json_decref(p.infos);
    json_decref(body);
}

const struct api_route api_routes_snapshots[] = {
    { "GET", "/v2/data-protect/objects/{id}/snapshots", object_snapshots, 0, API_ROLE_VIEWER },
    { "POST", "/v2/data-protect/snapshots/restore-points", restore_points, 0, API_ROLE_VIEWER },
    { NULL, NULL, NULL, 0, 0 },
};
