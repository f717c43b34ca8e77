/* runs.c: protection runs through the API: start one on demand, list and read them, follow their
 * progress, update their snapshots' retention and legal hold, cancel, pause and resume them; and the
 * test-only clock.
 *
 *   POST /v2/data-protect/protection-groups/{id}/runs          CreateProtectionGroupRun (202)
 *   GET  /v2/data-protect/protection-groups/{id}/runs          GetProtectionGroupRuns
 *   PUT  /v2/data-protect/protection-groups/{id}/runs          UpdateProtectionGroupRun (207)
 *   POST /v2/data-protect/protection-groups/{id}/runs/actions  PerformActionOnProtectionGroupRun (202)
 *   GET  /v2/data-protect/protection-groups/{id}/runs/{runId}  GetProtectionGroupRun
 *   GET  /v2/data-protect/runs/{runId}/progress                GetProtectionRunProgress
 *   POST|GET /v2/coffer-test/clock                             test clock (404 unless COFFER_TEST_CLOCK=1)
 *
 * Decisions: a run is refused with 409 while the group has a run queued or running (never two runs
 * of a group at once), and for a paused or inactive group; a deleted or unknown group is 404. Only
 * kRegular and kFull runs exist for file groups, and kLog too for kSQL groups (other run types: 400). The handler validates,
 * queues the run in the catalog (sched_enqueue) and answers; a worker does the backup. Run ids are
 * "<group n>:<start usecs>" (spec: ^\d+:\d+$); a run id whose n is not the group's is 404. */
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "api/run_json.h"
#include "api/resid.h"
#include "api/schedule.h"
#include "catalog/cat_group.h"
#include "catalog/cat_run.h"
#include "catalog/cat_snapshot.h"
#include "repo/repo.h"
#include "sched/job_spec.h"
#include "sched/sched.h"
#include "util/checked.h"
#include "svc/svc.h"
#include "util/log.h"
#include "util/time.h"
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_run_types[] = { "kRegular", "kFull", "kLog", "kSystem", "kHydrateCDP",
                                           "kStorageArraySnapshot", NULL };
static const char *const g_filter_run_types[] = { "kAll", "kHydrateCDP", "kSystem", "kStorageArraySnapshot",
                                                  "kIncremental", "kFull", "kLog", "kRegular", NULL };
static const char *const g_statuses[] = { "Accepted", "Running", "Canceled", "Canceling", "Failed", "Missed",
                                          "Succeeded", "SucceededWithWarning", "OnHold", "Finalizing", "Skipped",
                                          "Paused", NULL };

static void internal(struct api_resp *resp, const char *what)
{
    api_catalog_error(resp, 0, what);
}

/* load_group: the tenant's group named by the path (400 malformed id, 404 unknown; deleted groups
 * only when allow_deleted). 1 with *g filled (release it), 0 after answering. */
static int load_group(struct api_req *req, struct api_resp *resp, struct cat_group *g, int allow_deleted)
{
    int rc;
    if (!api_id_parse(req->params[0], NULL, NULL, NULL)) {
        api_error(resp, 400, "InvalidId",
                  "path parameter 'id' must be a protection group id of the form clusterId:incarnationId:number, "
                  "not '%.64s'", req->params[0]);
        return 0;
    }
    rc = cat_group_get(api_ctx(req)->cat, req->tenant, req->params[0], g);
    if (rc == 0 && g->is_deleted && !allow_deleted) {
        cat_group_release(g);
        rc = CAT_NOT_FOUND;
    }
    if (rc == CAT_NOT_FOUND) {
        api_error(resp, 404, "NotFound", "no protection group with id '%.64s'", req->params[0]);
        return 0;
    }
    if (rc != 0) {
        internal(resp, "reading the protection group");
        return 0;
    }
    return 1;
}

/* parse_run_id: a run id of group g (400 malformed, 404 another group's n). 1 ok, 0 answered. */
static int parse_run_id(struct api_resp *resp, const char *field, const char *s, const struct cat_group *g,
                        int64_t *start)
{
    int64_t seq;
    if (!api_run_id_parse(s, &seq, start)) {
        api_error(resp, 400, "InvalidParameter", "%s must be a run id of the form number:startTimeUsecs, not '%.64s'",
                  field, s ? s : "");
        return 0;
    }
    if (g && seq != g->seq) {
        api_error(resp, 404, "NotFound", "protection group %s has no run with id '%.64s'", g->id, s);
        return 0;
    }
    return 1;
}

/* ---------- POST .../runs ---------- */

static int id_in(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id) return 1;
    return 0;
}

static void create_run(struct api_req *req, struct api_resp *resp)
{
    struct api_context *ctx = api_ctx(req);
    struct cat_group g;
    json_t *body = api_body_object(req, resp), *objs = NULL, *v, *tc = NULL;
    struct job_run_spec spec = { .type = JOB_RUN_REGULAR };
    int64_t *subset = NULL;
    const char *run_type;
    int64_t *ids = NULL, start;
    size_t nids = 0, i;
    char run_id[API_RUN_ID_MAX];
    int rc;
    if (!body) return;
    if (!jv_enum(resp, body, "", "runType", 1, g_run_types, &run_type) || !jv_arr(resp, body, "", "objects", 0, &objs) ||
        !jv_obj(resp, body, "", "targetsConfig", 0, &tc)) {
        json_decref(body);
        return;
    }
    if (strcmp(run_type, "kRegular") != 0 && strcmp(run_type, "kFull") != 0 && strcmp(run_type, "kLog") != 0) {
        api_error(resp, 400, "InvalidParameter",
                  "field 'runType' '%s' is not supported: use kRegular or kFull (and kLog for kSQL groups)", run_type);
        json_decref(body);
        return;
    }
    json_array_foreach(objs, i, v) {
        char path[64];
        int64_t id;
        snprintf(path, sizeof path, "objects[%zu]", i);
        if (!json_is_object(v)) {
            api_error(resp, 400, "InvalidParameter", "field '%s' must be an object", path);
            json_decref(body);
            return;
        }
        if (!jv_int(resp, v, path, "id", 1, &id, NULL)) {
            json_decref(body);
            return;
        }
    }
    if (!load_group(req, resp, &g, 0)) {
        json_decref(body);
        return;
    }
    if (strcmp(run_type, "kLog") == 0 && (!g.environment || strcmp(g.environment, "kSQL") != 0)) {
        api_error(resp, 400, "InvalidParameter",
                  "field 'runType' 'kLog' is supported for kSQL protection groups only (this group is %s): use kRegular "
                  "or kFull", g.environment ? g.environment : "?");
        goto out;
    }
    if (g.is_paused || !g.is_active) {
        api_error(resp, 409, "Conflict", "protection group %s is %s: resume it before starting a run", g.id,
                  g.is_paused ? "paused" : "inactive");
        goto out;
    }
    if (json_array_size(objs) > 0) {
        if (cat_group_objects(ctx->cat, req->tenant, g.id, &ids, &nids) != 0) {
            internal(resp, "reading the group's objects");
            goto out;
        }
        if (!(subset = calloc(json_array_size(objs), sizeof *subset))) {
            internal(resp, "out of memory");
            goto out;
        }
        json_array_foreach(objs, i, v) {
            int64_t id = json_integer_value(json_object_get(v, "id"));
            if (!id_in(ids, nids, id)) {
                api_error(resp, 400, "InvalidParameter",
                          "field 'objects[%zu].id': object %" PRId64 " is not protected by protection group %s", i, id,
                          g.id);
                goto out;
            }
            subset[spec.n_objects++] = id;
        }
        spec.objects = subset;
    }
    spec.type = strcmp(run_type, "kFull") == 0 ? JOB_RUN_FULL : strcmp(run_type, "kLog") == 0 ? JOB_RUN_LOG
                                                                                            : JOB_RUN_REGULAR;
    rc = sched_enqueue(ctx->cat, &g, &spec, util_time_now(), &start);
    if (rc == CAT_CONFLICT) {
        api_error(resp, 409, "Conflict",
                  "protection group %s already has a run queued or running; wait for it to finish or cancel it", g.id);
        goto out;
    }
    if (rc != 0) {
        internal(resp, "queueing the run");
        goto out;
    }
    sched_notify(ctx->sched);
    api_run_id_format(run_id, sizeof run_id, g.seq, start);
    log_info("api: queued run %s (%s) of protection group %s (tenant %s)", run_id, run_type, g.id, req->tenant);
    /* runId is Coffer's addition to CreateProtectionGroupRunResponse: the run to poll. */
    api_json(resp, 202, json_pack("{s:s,s:s}", "protectionGroupId", g.id, "runId", run_id));
out:
    free(ids);
    free(subset);
    json_decref(body);
    cat_group_release(&g);
}

/* ---------- GET .../runs and .../runs/{runId} ---------- */

/* run_json: the ProtectionGroupRun of r, with its objects when asked. */
static json_t *run_json(struct cat *cat, const struct cat_run *r, int with_objects)
{
    struct cat_run_object *objs = NULL;
    size_t n = 0;
    json_t *j;
    if (with_objects && cat_run_objects(cat, r->tenant, r->group_id, r->start_usecs, &objs, &n) != 0) return NULL;
    j = api_run_json(r, with_objects, objs, n);
    for (size_t i = 0; i < n; i++) cat_run_object_release(&objs[i]);
    free(objs);
    return j;
}

struct list_ctx {
    struct cat *cat;
    json_t *runs;
    int with_objects;
};

static int list_cb(void *ud, const struct cat_run *r)
{
    struct list_ctx *lc = ud;
    json_t *j = run_json(lc->cat, r, lc->with_objects);
    if (!j) return -1;
    json_array_append_new(lc->runs, j);
    return 0;
}

static void list_runs(struct api_req *req, struct api_resp *resp)
{
    static const char *const copy_filters[] = { "replicationRunStatus", "archivalRunStatus", "cloudSpinRunStatus",
                                                "snapshotTargetTypes", NULL };
    static const char *const g_target_types[] = { "Local", "Archival", "RpaasArchival", "StorageArraySnapshot",
                                                  "Remote", NULL };
    static const char *const list_bools[] = { "useCachedData", "filterByEndTime", "onlyReturnSuccessfulCopyRun",
                                              "filterByCopyTaskEndTime", "includeTenants", NULL };
    struct api_context *ctx = api_ctx(req);
    struct cat_group g;
    struct cat_run_filter f = { 0 };
    struct list_ctx lc = { ctx->cat, NULL, 0 };
    const char *run_id = api_query(req, "runId");
    int64_t total = 0, num = 0;
    int restorable = 0, rc;
    if (!load_group(req, resp, &g, 1)) return;
    if (api_query_int64(req, resp, "startTimeUsecs", &f.start_from) < 0 ||
        api_query_int64(req, resp, "endTimeUsecs", &f.start_to) < 0 || api_query_int64(req, resp, "numRuns", &num) < 0 ||
        api_query_bool(req, resp, "includeObjectDetails", &lc.with_objects) < 0 ||
        api_query_bool(req, resp, "excludeNonRestorableRuns", &restorable) < 0 ||
        api_query_bools(req, resp, list_bools) < 0)
        goto out;
    if (num < 0 || f.start_from < 0 || f.start_to < 0) {
        api_error(resp, 400, "InvalidParameter", "query parameters numRuns, startTimeUsecs and endTimeUsecs must not be negative");
        goto out;
    }
    if (run_id) {
        int64_t seq;
        if (!api_run_id_parse(run_id, &seq, &f.only_start)) {
            api_error(resp, 400, "InvalidParameter",
                      "query parameter 'runId' must be a run id of the form number:startTimeUsecs, not '%.64s'", run_id);
            goto out;
        }
        if (seq != g.seq) { /* another group's run: nothing matches */
            api_json(resp, 200, json_pack("{s:[],s:i}", "runs", "totalRuns", 0));
            goto out;
        }
        if (f.only_start == 0) f.only_start = -1;
    }
    if (!(f.run_types = api_query_enum_list(req, resp, "runTypes", g_filter_run_types))) goto out;
    if (!(f.statuses = api_query_enum_list(req, resp, "localBackupRunStatus", g_statuses))) goto out;
    /* Filters on copies Coffer does not make: their values are still checked (an unknown one is a 400). */
    for (const char *const *name = copy_filters; *name; name++) {
        json_t *l = api_query_enum_list(req, resp, *name, strcmp(*name, "snapshotTargetTypes") == 0 ? g_target_types
                                                                                                   : g_statuses);
        if (!l) goto out;
        json_decref(l);
    }
    f.limit = num;
    f.restorable_only = restorable;
    lc.runs = json_array();
    rc = cat_run_list(ctx->cat, req->tenant, g.id, &f, list_cb, &lc, &total);
    if (rc < 0) {
        internal(resp, "listing runs");
        goto out;
    }
    api_json(resp, 200, json_pack("{s:o,s:I}", "runs", lc.runs, "totalRuns", (json_int_t)total));
    lc.runs = NULL;
out:
    json_decref(lc.runs);
    json_decref(f.run_types);
    json_decref(f.statuses);
    cat_group_release(&g);
}

static void get_run(struct api_req *req, struct api_resp *resp)
{
    static const char *const get_bools[] = { "includeTenants", "useCachedData", NULL };
    struct api_context *ctx = api_ctx(req);
    struct cat_group g;
    struct cat_run r;
    int64_t start;
    int with_objects = 0, rc;
    json_t *j;
    if (!load_group(req, resp, &g, 1)) return;
    if (!parse_run_id(resp, "path parameter 'runId'", req->params[1], &g, &start) ||
        api_query_bool(req, resp, "includeObjectDetails", &with_objects) < 0 ||
        api_query_bools(req, resp, get_bools) < 0) {
        cat_group_release(&g);
        return;
    }
    rc = cat_run_get(ctx->cat, req->tenant, g.id, start, &r);
    if (rc == CAT_NOT_FOUND) api_error(resp, 404, "NotFound", "protection group %s has no run with id '%.64s'", g.id, req->params[1]);
    else if (rc != 0) internal(resp, "reading the run");
    else {
        j = run_json(ctx->cat, &r, with_objects);
        if (j) api_json(resp, 200, j);
        else internal(resp, "reading the run's objects");
        cat_run_release(&r);
    }
    cat_group_release(&g);
}

/* ---------- GET /data-protect/runs/{runId}/progress ---------- */

static const char *task_status(const char *run_status)
{
    if (strcmp(run_status, "Accepted") == 0 || strcmp(run_status, "Running") == 0) return "Active";
    if (strcmp(run_status, "Succeeded") == 0) return "Finished";
    if (strcmp(run_status, "Canceled") == 0) return "Canceled";
    return "FinishedWithError";
}

static const char *object_task_status(const char *s)
{
    if (strcmp(s, "kInProgress") == 0) return "Active";
    if (strcmp(s, "kSuccessful") == 0) return "Finished";
    if (strcmp(s, "kCanceled") == 0) return "Canceled";
    return "FinishedWithError";
}

/* remaining_usecs: an estimate in microseconds as an integer; a double outside int64 (a tiny
 * percentage after a long time) would be undefined behaviour to convert, so it is clamped. */
static json_int_t remaining_usecs(double v)
{
    if (!(v > 0)) return 0;
    if (v > (double)CHECKED_MAX_TIME_USECS) return CHECKED_MAX_TIME_USECS;
    return (json_int_t)v;
}

static void run_progress(struct api_req *req, struct api_resp *resp)
{
    static const char *const progress_bools[] = { "includeTenants", "includeFinishedTasks", "includeEventLogs", NULL };
    static const char *const progress_ints[] = { "startTimeUsecs", "endTimeUsecs", "maxTasksNum", "maxLogLevel", NULL };
    struct api_context *ctx = api_ctx(req);
    struct cat_run r;
    struct cat_run_object *objs = NULL;
    size_t n = 0, i;
    int64_t seq, start, now = util_time_now(), expected = 0, files = 0, total_files = 0;
    int64_t bytes_read = 0, bytes_written = 0, logical = 0, dirs = 0;
    int rc, exclude = 0, walk_done = 1, finished;
    double pct = 0;
    json_t *local, *objects, *events;
    if (!parse_run_id(resp, "path parameter 'runId'", req->params[0], NULL, &start) ||
        api_query_bool(req, resp, "excludeObjectDetails", &exclude) < 0 ||
        api_query_bools(req, resp, progress_bools) < 0)
        return;
    for (const char *const *pi = progress_ints; *pi; pi++) {
        int64_t ignored;
        if (api_query_int64(req, resp, *pi, &ignored) < 0) return;
    }
    api_run_id_parse(req->params[0], &seq, NULL);
    rc = cat_run_find(ctx->cat, req->tenant, seq, start, &r);
    if (rc == CAT_NOT_FOUND) {
        api_error(resp, 404, "NotFound", "no run with id '%.64s'", req->params[0]);
        return;
    }
    if (rc != 0 || cat_run_objects(ctx->cat, req->tenant, r.group_id, r.start_usecs, &objs, &n) != 0) {
        if (rc == 0) cat_run_release(&r);
        internal(resp, "reading the run");
        return;
    }
    finished = r.end_usecs != 0;
    /* Objects not started yet count as 0 %: the expected number is the requested subset or the group's. */
    expected = r.objects ? (int64_t)json_array_size(r.objects) : 0;
    if (!expected) {
        int64_t *ids = NULL;
        size_t nids = 0;
        if (cat_group_objects(ctx->cat, req->tenant, r.group_id, &ids, &nids) == 0) expected = (int64_t)nids;
        free(ids);
    }
    if (expected < (int64_t)n) expected = (int64_t)n;
    objects = json_array();
    for (i = 0; i < n; i++) {
        const struct cat_run_object *o = &objs[i];
        double opct = strcmp(o->status, "kInProgress") == 0 ? o->pct : 100.0;
        json_t *oj = json_object();
        pct += opct;
        files += o->files;
        dirs += o->dirs;
        bytes_read += o->bytes_read;
        bytes_written += o->bytes_written;
        logical += o->logical_bytes;
        if (o->files_total >= 0) total_files += o->files_total;
        if (!o->walk_done) walk_done = 0;
        json_object_set_new(oj, "id", json_integer(o->object_id));
        if (o->object_name) json_object_set_new(oj, "name", json_string(o->object_name));
        if (o->source_id) json_object_set_new(oj, "sourceId", json_integer(o->source_id));
        if (o->source_name) json_object_set_new(oj, "sourceName", json_string(o->source_name));
        json_object_set_new(oj, "environment", json_string(o->environment ? o->environment : "kPhysical"));
        if (o->begin_usecs) json_object_set_new(oj, "startTimeUsecs", json_integer(o->begin_usecs));
        if (o->end_usecs) json_object_set_new(oj, "endTimeUsecs", json_integer(o->end_usecs));
        json_object_set_new(oj, "percentageCompleted", json_real(opct));
        json_object_set_new(oj, "status", json_string(object_task_status(o->status)));
        json_object_set_new(oj, "stats", json_pack("{s:I,s:b,s:I}", "backupFileCount", (json_int_t)o->files,
                                                   "fileWalkDone", o->walk_done || o->end_usecs != 0,
                                                   "totalFileCount",
                                                   (json_int_t)(o->files_total >= 0 ? o->files_total : o->files)));
        if (o->begin_usecs && !o->end_usecs && opct > 0) {
            double el = (double)(now - o->begin_usecs);
            json_object_set_new(oj, "expectedRemainingTimeUsecs", json_integer(remaining_usecs(el * (100 - opct) / opct)));
        }
        json_object_set_new(oj, "events", json_array());
        if (o->message)
            json_array_append_new(json_object_get(oj, "events"),
                                  json_pack("{s:s,s:I}", "message", o->message, "occuredAtUsecs",
                                            (json_int_t)(o->end_usecs ? o->end_usecs : now)));
        /* Coffer's counters (not in the contract). */
        json_object_set_new(oj, "cofferStats", json_pack("{s:I,s:I,s:I,s:I,s:I}", "files", (json_int_t)o->files,
                                                         "directories", (json_int_t)o->dirs, "bytesRead",
                                                         (json_int_t)o->bytes_read, "bytesWritten",
                                                         (json_int_t)o->bytes_written, "logicalBytes",
                                                         (json_int_t)o->logical_bytes));
        json_array_append_new(objects, oj);
    }
    pct = finished ? 100.0 : expected > 0 ? pct / (double)expected : 0;
    if (!finished && pct > 99) pct = 99;
    events = json_array();
    {
        size_t k;
        json_t *m;
        json_array_foreach(r.messages, k, m)
            json_array_append_new(events, json_pack("{s:O,s:I}", "message", m, "occuredAtUsecs",
                                                    (json_int_t)(r.end_usecs ? r.end_usecs : now)));
    }
    local = json_object();
    json_object_set_new(local, "startTimeUsecs", json_integer(r.start_usecs));
    if (finished) json_object_set_new(local, "endTimeUsecs", json_integer(r.end_usecs));
    json_object_set_new(local, "percentageCompleted", json_real(pct));
    json_object_set_new(local, "status", json_string(task_status(r.status)));
    if (!finished && pct > 0)
        json_object_set_new(local, "expectedRemainingTimeUsecs",
                            json_integer(remaining_usecs((double)(now - r.start_usecs) * (100 - pct) / pct)));
    json_object_set_new(local, "stats", json_pack("{s:I,s:b,s:I}", "backupFileCount", (json_int_t)files, "fileWalkDone",
                                                  walk_done || finished, "totalFileCount",
                                                  (json_int_t)(total_files > files ? total_files : files)));
    json_object_set_new(local, "events", events);
    if (!exclude) json_object_set_new(local, "objects", objects);
    else json_decref(objects);
    json_object_set_new(local, "cofferStats",
                        json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "runStatus", r.status, "files", (json_int_t)files,
                                  "directories", (json_int_t)dirs, "bytesRead", (json_int_t)bytes_read, "bytesWritten",
                                  (json_int_t)bytes_written, "logicalBytes", (json_int_t)logical));
    api_json(resp, 200, json_pack("{s:o,s:[],s:[]}", "localRun", local, "archivalRun", "replicationRun"));
    for (i = 0; i < n; i++) cat_run_object_release(&objs[i]);
    free(objs);
    cat_run_release(&r);
}

/* ---------- PUT .../runs ---------- */

/* What daysToKeep means (UpdateLocalSnapshotConfig; the spec: "Extend or reduce retention"): the
 * number of days added to the run's current expiry. Decisions:
 *   - daysToKeep > 0 is an EXTENSION: the new expiry is the current one plus that many days, and is
 *     never earlier than the current one. A run kept without expiry (expiry 0) stays kept: extending
 *     "forever" leaves it forever (adding days to the run's start would shorten it).
 *   - daysToKeep < 0 is a REDUCTION, from the current expiry (or from the run's start when it had
 *     none); a result at or before the epoch becomes 1 (expired: the next retention pass deletes it).
 *   - daysToKeep 0 changes nothing.
 * The magnitude is bounded (400 naming the field) so that no sum can wrap, and the arithmetic is
 * checked anyway (util/checked.h); an extension whose result would pass CHECKED_MAX_TIME_USECS is
 * refused for that run (failedRuns) rather than clamped or wrapped. */
#define RUNS_MAX_DAYS_TO_KEEP (CHECKED_MAX_TIME_USECS / CHECKED_USECS_PER_DAY)

/* new_expiry: *expiry for a run r given daysToKeep (-1 = unchanged). 0, or -ERANGE. */
static int new_expiry(const struct cat_run *r, int64_t days, int64_t *expiry)
{
    int64_t e;
    *expiry = -1;
    if (days == 0 || (days > 0 && r->expiry_usecs == 0)) return 0;
    if (days > 0) {
        if (checked_time(r->expiry_usecs, days, CHECKED_USECS_PER_DAY, &e) != 0) return -ERANGE;
        *expiry = e > r->expiry_usecs ? e : r->expiry_usecs;
        return 0;
    }
    if (checked_muladd(r->expiry_usecs ? r->expiry_usecs : r->start_usecs, days, CHECKED_USECS_PER_DAY, &e) != 0)
        e = 1;
    *expiry = e < 1 ? 1 : e;
    return 0;
}

/* lock_plan: the repository data lock a localSnapshotConfig asks of run r (svc_run_lock's mode,
 * until and legal hold; -1 keeps), given the run's new expiry (-1 unchanged). */
struct lock_plan {
    int mode, hold, del;
    int64_t until;
};

static int lock_mode_of(const char *name)
{
    if (!name) return -1;
    return strcmp(name, "Compliance") == 0 ? REPO_LOCK_COMPLIANCE : REPO_LOCK_ADMINISTRATIVE;
}

static void lock_plan(const struct cat_run *r, json_t *lsc, int64_t expiry, struct lock_plan *lp)
{
    const char *lock = json_string_value(json_object_get(lsc, "dataLock"));
    lp->mode = lock_mode_of(lock ? lock : r->data_lock);
    lp->hold = json_object_get(lsc, "enableLegalHold") ? json_is_true(json_object_get(lsc, "enableLegalHold")) : -1;
    lp->del = json_is_true(json_object_get(lsc, "deleteSnapshot"));
    if (expiry >= 0) lp->until = expiry ? expiry : REPO_RETAIN_FOREVER;
    else if (lock) lp->until = r->expiry_usecs ? r->expiry_usecs : REPO_RETAIN_FOREVER;
    else lp->until = -1;
}

/* lock_pass: every run's change asked of the repository's data locks before anything changes: a
 * refusal answers 409 (Compliance lock) or 403 (Administrative lock without the data-security key)
 * naming the lock and its end. 1 when all may proceed, 0 after answering. A legal hold stays a
 * per-run failure of the 207 (as before the repository kept locks), and one lifted in the same
 * request does not count. */
static int lock_pass(struct api_req *req, struct api_resp *resp, const struct cat_group *g, json_t *params)
{
    struct api_context *ctx = api_ctx(req);
    size_t i;
    json_t *v;
    json_array_foreach(params, i, v) {
        const char *run_id = json_string_value(json_object_get(v, "runId"));
        json_t *lsc = json_object_get(v, "localSnapshotConfig");
        int64_t seq, start, expiry = -1;
        struct cat_run r;
        struct lock_plan lp;
        char why[384] = "";
        int rc = 0;
        if (!lsc || !api_run_id_parse(run_id, &seq, &start) || seq != g->seq) continue;
        if (cat_run_get(ctx->cat, req->tenant, g->id, start, &r) != 0) continue;
        if (json_is_integer(json_object_get(lsc, "daysToKeep")) &&
            new_expiry(&r, json_integer_value(json_object_get(lsc, "daysToKeep")), &expiry) != 0)
            expiry = -1;
        lock_plan(&r, lsc, expiry, &lp);
        cat_run_release(&r);
        if (lp.del)
            rc = svc_run_delete_check(ctx->cat, ctx->repo, req->tenant, g->id, start, req->data_security, why,
                                      sizeof why);
        if (rc == -EBUSY) rc = 0; /* legal hold: the apply loop answers it per run */
        if (rc == 0 && ctx->repo && (lp.mode >= 0 || lp.until >= 0 || lp.hold >= 0))
            rc = svc_run_lock(ctx->cat, ctx->repo, req->tenant, g->id, start, lp.mode, lp.until, lp.hold,
                              req->data_security, 1, why, sizeof why);
        if (rc == -EPERM || rc == -EACCES) {
            log_warn("api: refused localSnapshotConfig of run %s: %s", run_id, why);
            api_error(resp, rc == -EPERM ? 409 : 403, rc == -EPERM ? "DataLocked" : "DataSecurityKeyRequired",
                      "field 'updateProtectionGroupRunParams[%zu].localSnapshotConfig': %s", i, why);
            return 0;
        }
    }
    return 1;
}

static void update_runs(struct api_req *req, struct api_resp *resp)
{
    static const char *const locks[] = { "Administrative", "Compliance", NULL };
    struct api_context *ctx = api_ctx(req);
    struct cat_group g;
    json_t *body = api_body_object(req, resp), *params, *v, *ok = NULL, *failed = NULL;
    size_t i;
    if (!body) return;
    if (!jv_arr(resp, body, "", "updateProtectionGroupRunParams", 1, &params)) goto out_body;
    if (json_array_size(params) == 0) {
        api_error(resp, 400, "InvalidParameter", "field 'updateProtectionGroupRunParams' must have at least one item");
        goto out_body;
    }
    /* Validate everything before changing anything. */
    json_array_foreach(params, i, v) {
        char path[64];
        json_t *lsc;
        const char *run_id, *lock;
        int64_t days;
        int b;
        snprintf(path, sizeof path, "updateProtectionGroupRunParams[%zu]", i);
        if (!json_is_object(v)) {
            api_error(resp, 400, "InvalidParameter", "field '%s' must be an object", path);
            goto out_body;
        }
        if (!jv_str_nonempty(resp, v, path, "runId", 1, &run_id) || !jv_obj(resp, v, path, "localSnapshotConfig", 0, &lsc))
            goto out_body;
        if (lsc) {
            char p2[96];
            snprintf(p2, sizeof p2, "%s.localSnapshotConfig", path);
            if (!jv_bool(resp, lsc, p2, "enableLegalHold", 0, &b, NULL) || !jv_bool(resp, lsc, p2, "deleteSnapshot", 0, &b, NULL) ||
                !jv_enum(resp, lsc, p2, "dataLock", 0, locks, &lock) ||
                !jv_int_range(resp, lsc, p2, "daysToKeep", 0, -RUNS_MAX_DAYS_TO_KEEP, RUNS_MAX_DAYS_TO_KEEP, &days, NULL))
                goto out_body;
        }
    }
    if (!load_group(req, resp, &g, 1)) goto out_body;
    if (!lock_pass(req, resp, &g, params)) {
        cat_group_release(&g);
        goto out_body;
    }
    ok = json_array();
    failed = json_array();
    json_array_foreach(params, i, v) {
        const char *run_id = json_string_value(json_object_get(v, "runId"));
        json_t *lsc = json_object_get(v, "localSnapshotConfig");
        int64_t seq, start, days = 0, expiry = -1, now = util_time_now();
        int hold = -1, del = 0, has_days = 0, rc;
        const char *lock = json_string_value(json_object_get(lsc, "dataLock"));
        struct cat_run r;
        char msg[400] = "";
        if (!api_run_id_parse(run_id, &seq, &start) || seq != g.seq) {
            json_array_append_new(failed, json_pack("{s:s,s:s}", "runId", run_id, "errorMessage",
                                                    "not a run of this protection group"));
            continue;
        }
        rc = cat_run_get(ctx->cat, req->tenant, g.id, start, &r);
        if (rc != 0) {
            json_array_append_new(failed, json_pack("{s:s,s:s}", "runId", run_id, "errorMessage",
                                                    rc == CAT_NOT_FOUND ? "no such run" : "catalog error"));
            continue;
        }
        if (json_object_get(lsc, "enableLegalHold")) hold = json_is_true(json_object_get(lsc, "enableLegalHold"));
        del = json_is_true(json_object_get(lsc, "deleteSnapshot"));
        if (json_is_integer(json_object_get(lsc, "daysToKeep"))) {
            days = json_integer_value(json_object_get(lsc, "daysToKeep"));
            has_days = 1;
        }
        if (has_days && new_expiry(&r, days, &expiry) != 0)
            snprintf(msg, sizeof msg, "localSnapshotConfig.daysToKeep %" PRId64 " would move the expiry past "
                     "9999-12-31T23:59:59Z", days);
        if (!msg[0] && has_days && expiry >= 0 && r.data_lock && strcmp(r.data_lock, "Compliance") == 0 &&
            r.expiry_usecs && expiry < r.expiry_usecs)
            snprintf(msg, sizeof msg, "the run's snapshots are under a Compliance data lock: retention cannot be reduced");
        if (!msg[0] && (json_object_get(v, "replicationSnapshotConfig") || json_object_get(v, "archivalSnapshotConfig")) &&
            !lsc)
            snprintf(msg, sizeof msg, "replication and archival targets are not supported");
        if (!msg[0] && del && r.end_usecs == 0)
            snprintf(msg, sizeof msg, "the run has not finished: cancel it first");
        if (!msg[0] && lsc && ctx->repo) {
            /* The repository's lock first (durable before the catalog says so). */
            struct lock_plan lp;
            lock_plan(&r, lsc, expiry, &lp);
            if (lp.mode >= 0 || lp.until >= 0 || lp.hold >= 0) {
                char why[320] = "";
                rc = svc_run_lock(ctx->cat, ctx->repo, req->tenant, g.id, start, lp.mode, lp.until, lp.hold,
                                  req->data_security, 0, why, sizeof why);
                if (rc < 0) snprintf(msg, sizeof msg, "%s", why[0] ? why : "cannot write the data lock");
            }
        }
        if (!msg[0] && del && ctx->repo) {
            char why[320] = "";
            if (svc_run_delete_check(ctx->cat, ctx->repo, req->tenant, g.id, start, req->data_security, why,
                                     sizeof why) < 0)
                snprintf(msg, sizeof msg, "%s", why[0] ? why : "the run's snapshots cannot be deleted");
        }
        if (!msg[0] && del && req->data_security && r.data_lock) {
            /* The data-security key lifts an Administrative lock (lock_pass checked the repository's):
             * the catalog's own lock check is passed over; the service deletes each snapshot. */
            rc = cat_run_update_local(ctx->cat, req->tenant, g.id, start, hold, expiry, lock, 0, now);
            if (rc != 0) snprintf(msg, sizeof msg, "catalog error");
            else if (svc_run_snapshots_delete_as(ctx->cat, ctx->repo, req->tenant, g.id, start, 1) < 0)
                snprintf(msg, sizeof msg, "cannot delete the run's snapshots");
            del = 0;
        } else if (!msg[0]) {
            rc = cat_run_update_local(ctx->cat, req->tenant, g.id, start, hold, expiry, lock, del, now);
            if (rc == CAT_CONFLICT)
                snprintf(msg, sizeof msg, "the run's snapshots are on legal hold or data-locked: they cannot be deleted");
            else if (rc != 0)
                snprintf(msg, sizeof msg, "catalog error");
        }
        if (!msg[0] && del) {
            /* the catalog flagged the run's snapshots deleted above; the service deletes each (again) */
            svc_run_snapshots_delete(ctx->cat, ctx->repo, req->tenant, g.id, start);
        }
        if (msg[0]) json_array_append_new(failed, json_pack("{s:s,s:s}", "runId", run_id, "errorMessage", msg));
        else json_array_append_new(ok, json_string(run_id));
        cat_run_release(&r);
    }
    api_json(resp, 207, json_pack("{s:o,s:o}", "successfulRunIds", ok, "failedRuns", failed));
    cat_group_release(&g);
out_body:
    json_decref(body);
}

/* ---------- POST .../runs/actions ---------- */

static void run_actions(struct api_req *req, struct api_resp *resp)
{
    static const char *const actions[] = { "Pause", "Resume", "Cancel", NULL };
    struct api_context *ctx = api_ctx(req);
    struct cat_group g;
    json_t *body = api_body_object(req, resp), *list, *v, *out = NULL;
    const char *action, *field;
    size_t i;
    int64_t *starts = NULL;
    if (!body) return;
    if (!jv_enum(resp, body, "", "action", 1, actions, &action)) goto out_body;
    field = action[0] == 'C' ? "cancelParams" : action[0] == 'P' ? "pauseParams" : "resumeParams";
    if (!jv_arr(resp, body, "", field, 0, &list)) goto out_body;
    if (json_array_size(list) == 0) {
        api_error(resp, 400, "InvalidParameter", "field '%s' must name at least one run for action %s", field, action);
        goto out_body;
    }
    if (!load_group(req, resp, &g, 0)) goto out_body;
    starts = calloc(json_array_size(list), sizeof *starts);
    if (!starts) {
        internal(resp, "allocating");
        goto out;
    }
    /* Validate every run first: nothing changes unless all are acceptable. */
    json_array_foreach(list, i, v) {
        char path[64];
        const char *run_id;
        struct cat_run r;
        int rc;
        snprintf(path, sizeof path, "%s[%zu]", field, i);
        if (!json_is_object(v)) {
            api_error(resp, 400, "InvalidParameter", "field '%s' must be an object", path);
            goto out;
        }
        if (!jv_str_nonempty(resp, v, path, "runId", 1, &run_id)) goto out;
        {
            char f2[96];
            snprintf(f2, sizeof f2, "field '%s.runId'", path);
            if (!parse_run_id(resp, f2, run_id, &g, &starts[i])) goto out;
        }
        rc = cat_run_get(ctx->cat, req->tenant, g.id, starts[i], &r);
        if (rc == CAT_NOT_FOUND) {
            api_error(resp, 404, "NotFound", "protection group %s has no run with id '%.64s'", g.id, run_id);
            goto out;
        }
        if (rc != 0) {
            internal(resp, "reading a run");
            goto out;
        }
        rc = r.end_usecs != 0;
        if (action[0] == 'P' && strcmp(r.status, "Running") != 0 && strcmp(r.status, "Accepted") != 0) {
            api_error(resp, 409, "Conflict", "run %s is %s: only a Running or Accepted run can be paused", run_id,
                      r.status);
            cat_run_release(&r);
            goto out;
        }
        if (action[0] == 'R' && strcmp(r.status, "Paused") != 0 && !(strcmp(r.status, "Running") == 0 && r.pause_requested)) {
            api_error(resp, 409, "Conflict", "run %s is %s: only a Paused run can be resumed", run_id, r.status);
            cat_run_release(&r);
            goto out;
        }
        cat_run_release(&r);
        if (rc && action[0] == 'C') {
            api_error(resp, 409, "Conflict", "run %s has already finished: it cannot be canceled", run_id);
            goto out;
        }
    }
    out = json_array();
    json_array_foreach(list, i, v) {
        const char *run_id = json_string_value(json_object_get(v, "runId"));
        if (action[0] == 'C') {
            int was_running = 0, rc = cat_run_cancel(ctx->cat, req->tenant, g.id, starts[i], util_time_now(), &was_running);
            if (rc != 0 && rc != CAT_CONFLICT) {
                internal(resp, "canceling a run");
                goto out;
            }
            log_info("api: cancel of run %s of group %s requested (%s)", run_id, g.id,
                     rc == CAT_CONFLICT ? "it had just finished" : was_running ? "running: stops at a safe point" : "was queued");
            json_array_append_new(out, json_pack("{s:s}", "runId", run_id));
        } else {
            /* Pause: a Running run stops reading at its next entry and keeps a checkpoint (Paused); an
             * Accepted one is Paused at once. Resume queues a Paused run again (it continues from its
             * checkpoints) or withdraws a pause not yet taken. */
            int rc = cat_run_pause_request(ctx->cat, req->tenant, g.id, starts[i], action[0] == 'R');
            if (rc != 0 && rc != CAT_CONFLICT) {
                internal(resp, "pausing or resuming a run");
                goto out;
            }
            if (rc == CAT_CONFLICT)
                json_array_append_new(out, json_pack("{s:s,s:s}", "runId", run_id, "error",
                                                     "the run changed status meanwhile (it finished or was paused)"));
            else
                json_array_append_new(out, json_pack("{s:s}", "runId", run_id));
            log_info("api: %s of run %s of group %s requested", action, run_id, g.id);
            if (action[0] == 'R') sched_notify(ctx->sched);
        }
    }
    api_json(resp, 202, json_pack("{s:s,s:o}", "action", action, field, out));
    out = NULL;
out:
    json_decref(out);
    free(starts);
    cat_group_release(&g);
out_body:
    json_decref(body);
}

/* ---------- test clock ---------- */

static void test_clock(struct api_req *req, struct api_resp *resp)
{
    if (!util_time_test_enabled()) {
        api_error(resp, 404, "NotFound", "no such path: %s", req->path);
        return;
    }
    if (strcmp(req->method, "POST") == 0) {
        json_t *body = api_body_object(req, resp);
        int64_t adv = 0, now = 0;
        int has_adv = 0, has_now = 0;
        if (!body) return;
        if (!jv_int(resp, body, "", "advanceUsecs", 0, &adv, &has_adv) || !jv_int(resp, body, "", "nowUsecs", 0, &now, &has_now)) {
            json_decref(body);
            return;
        }
        json_decref(body);
        if (has_adv == has_now && has_adv) {
            api_error(resp, 400, "InvalidParameter", "give either advanceUsecs or nowUsecs, not both");
            return;
        }
        if (has_adv) {
            int64_t to;
            if (checked_add(util_time_now(), adv, &to) != 0 || to < 0 || to > CHECKED_MAX_TIME_USECS) {
                api_error(resp, 400, "InvalidParameter", "field 'advanceUsecs' would move the clock outside "
                          "1970-01-01 .. 9999-12-31");
                return;
            }
        }
        if (has_now && (now < 0 || now > CHECKED_MAX_TIME_USECS)) {
            api_error(resp, 400, "InvalidParameter", "field 'nowUsecs' must be between 0 and %lld",
                      (long long)CHECKED_MAX_TIME_USECS);
            return;
        }
        /* One scheduler pass at the old time first when a test already moved the clock: a group the
         * scheduler has not looked at yet (a busy machine) would otherwise be first seen at the new
         * time and start from there, so the slots the move passes over would not fire. (Not when the
         * clock is still the real time, as after a restart: a test moves it away from the real time
         * precisely so that the real time's slots are not judged.) Then one at the new time before
         * answering, so a test sees its effect at once. */
        if (util_time_moved()) sched_tick_now(api_ctx(req)->sched);
        if (has_adv) util_time_advance(adv);
        if (has_now) util_time_set(now);
        sched_tick_now(api_ctx(req)->sched);
    }
    api_json(resp, 200, json_pack("{s:I}", "nowUsecs", (json_int_t)util_time_now()));
}

const struct api_route api_routes_runs[] = {
    { "POST", "/v2/data-protect/protection-groups/{id}/runs", create_run, 0, API_ROLE_OPERATOR },
    { "GET", "/v2/data-protect/protection-groups/{id}/runs", list_runs, 0, API_ROLE_VIEWER },
    { "PUT", "/v2/data-protect/protection-groups/{id}/runs", update_runs, API_ROUTE_DATA_SECURITY, API_ROLE_ADMIN },
    { "POST", "/v2/data-protect/protection-groups/{id}/runs/actions", run_actions, 0, API_ROLE_OPERATOR },
    { "GET", "/v2/data-protect/protection-groups/{id}/runs/{runId}", get_run, 0, API_ROLE_VIEWER },
    { "GET", "/v2/data-protect/runs/{runId}/progress", run_progress, 0, API_ROLE_VIEWER },
    { "POST", "/v2/coffer-test/clock", test_clock, API_ROUTE_NO_TENANT, API_ROLE_ADMIN },
    { "GET", "/v2/coffer-test/clock", test_clock, API_ROUTE_NO_TENANT, API_ROLE_ADMIN },
    { NULL, NULL, NULL, 0, 0 },
};
