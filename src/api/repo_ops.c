/* repo_ops.c: Coffer extension endpoints for the repository's maintenance (not part of the IBM
 * data-protect API; docs/api-coverage.md lists them under "Coffer extensions"). Admin bearer key,
 * no tenant: the repository is the daemon's, shared by every tenant.
 *
 *   POST /v2/coffer/repository/prune   body {"dryRun": bool} (optional; no body = a real prune)
 *        202 {"id", "dryRun", "status": "Queued"}: the prune runs on the daemon's maintenance
 *        thread (sched/job_prune.h); 409 when one is queued or running (its id in the message);
 *        503 without a repository.
 *   GET  /v2/coffer/repository/prune   200 {"intervalSecs", "nextScheduledTimeUsecs", "current",
 *        "last"}: the prune queued or running and the last one that ended (null when none), each
 *        {"id", "dryRun", "trigger": "api"|"schedule", "status": "Queued"|"Running"|"Succeeded"|
 *        "Failed", "message", "queuedTimeUsecs", "startTimeUsecs", "endTimeUsecs", "report"}.
 *   POST /v2/coffer/repository/verify  body {"readData": bool, "subsetPercent": 1..100} (optional;
 *        no body = a structure check; subsetPercent needs readData) 202 {"id", "readData",
 *        "subsetPercent", "status": "Queued"}: runs on the verify thread (sched/job_verify.h); 409
 *        when one is queued or running; 503 without a repository.
 *   GET  /v2/coffer/repository/verify  200 {"intervalSecs", "scheduledReadPercent",
 *        "nextScheduledTimeUsecs", "current", "last"}: each {"id", "readData", "subsetPercent",
 *        "trigger", "status", "message", times, "report"}; the report is repo_verify_ex's (repo.h)
 *        in camelCase: {"ok", "packs", "blobs", "snapshots", "trees", "errors": [{"pack", "blob",
 *        "message"}], "snapshotsHurt", "hurtCount", "hurt": [{"snapshot", "path", "blob",
 *        "problem"}], and with readData "blobsRead", "packsRead", "subsetPercent", "firstPack", "nextCursor"}.
 *   GET  /v2/coffer/repository/stats   200 {"snapshots", "logicalBytes", "storedBytes",
 *        "dedupRatio", "packs", "blobs", "packBytes", "indexBytesInMemory", "garbageBytes",
 *        "garbageBytesSource", "lastPrune", "lastVerify"}. logicalBytes sums the snapshot
 *        documents' logical_bytes (each document is read: O(snapshots)); storedBytes = packBytes;
 *        garbageBytes comes from the last prune's mark since the daemon started (a dry run: what
 *        it found unused; a real prune: what it found unused and left in the packs it kept), null
 *        before any prune ran ("garbageBytesSource": "lastPrune" | "lastDryRun" | null).
 * The prune report's fields are repo_prune_report's (repo.h) in camelCase. */
#include "svc/svc.h"
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "repo/repo.h"
#include "sched/job_prune.h"
#include "sched/job_verify.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

static json_t *report_json(const struct repo_prune_report *r)
{
    return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                     " s:I, s:I, s:I}",
                     "dryRun", r->dry_run, "snapshots", (json_int_t)r->snapshots,
                     "snapshotsForgotten", (json_int_t)r->snapshots_forgotten,
                     "snapshotsLocked", (json_int_t)r->snapshots_locked,
                     "blobs", (json_int_t)r->blobs_total, "blobsUsed", (json_int_t)r->blobs_used,
                     "blobsUnused", (json_int_t)r->blobs_unused, "packs", (json_int_t)r->packs_total,
                     "packsDeleted", (json_int_t)r->packs_deleted,
                     "packsRepacked", (json_int_t)r->packs_repacked,
                     "blobsRepacked", (json_int_t)r->blobs_repacked,
                     "bytesRepacked", (json_int_t)r->bytes_repacked,
                     "bytes", (json_int_t)r->bytes_total, "bytesUnused", (json_int_t)r->bytes_unused,
                     "bytesFreed", (json_int_t)r->bytes_freed,
                     "indexFilesRewritten", (json_int_t)r->index_files_rewritten,
                     "writersWaited", (json_int_t)r->writers_waited,
                     "durationUsecs", (json_int_t)r->duration_usecs);
}

static json_t *run_json(const struct prune_run *run)
{
    static const char *const states[] = { "Queued", "Running", "Succeeded", "Failed" };
    int ended = run->state == PRUNE_SUCCEEDED || run->state == PRUNE_FAILED;
    json_t *o = json_pack("{s:I, s:b, s:s, s:s, s:I}", "id", (json_int_t)run->id, "dryRun",
                          run->dry_run, "trigger", run->scheduled ? "schedule" : "api", "status",
                          states[run->state], "queuedTimeUsecs", (json_int_t)run->queued_usecs);
    if (!o) return NULL;
    if (run->state != PRUNE_QUEUED)
        json_object_set_new(o, "startTimeUsecs", json_integer(run->start_usecs));
    if (ended) json_object_set_new(o, "endTimeUsecs", json_integer(run->end_usecs));
    if (run->state == PRUNE_FAILED) json_object_set_new(o, "message", json_string(run->message));
    if (run->state == PRUNE_SUCCEEDED) json_object_set_new(o, "report", report_json(&run->report));
    return o;
}

static void prune_post(struct api_req *req, struct api_resp *resp)
{
    struct api_context *ctx = api_ctx(req);
    int dry = 0, rc;
    int64_t id = 0;
    if (req->body && req->body_len > 0) {
        json_t *body = api_body_object(req, resp);
        if (!body) return;
        if (!jv_bool(resp, body, "", "dryRun", 0, &dry, NULL)) {
            json_decref(body);
            return;
        }
        json_decref(body);
    }
    rc = sched_prune_request(ctx->sched, dry, &id);
    if (rc == -EBUSY) {
        api_error(resp, 409, "Conflict", "prune %lld is already queued or running; GET "
                  "/v2/coffer/repository/prune shows it", (long long)id);
        return;
    }
    if (rc < 0) {
        api_error(resp, 503, "ServiceUnavailable", "the repository is not available");
        return;
    }
    api_json(resp, 202, json_pack("{s:I, s:b, s:s}", "id", (json_int_t)id, "dryRun", dry, "status",
                                  "Queued"));
}

static void prune_get(struct api_req *req, struct api_resp *resp)
{
    struct prune_status st;
    json_t *o;
    if (sched_prune_status(api_ctx(req)->sched, &st) < 0) {
        api_error(resp, 503, "ServiceUnavailable", "the repository is not available");
        return;
    }
    o = json_pack("{s:I, s:o, s:o, s:o}", "intervalSecs", (json_int_t)(st.interval_usecs / 1000000),
                  "nextScheduledTimeUsecs", st.next_usecs ? json_integer(st.next_usecs) : json_null(),
                  "current", st.has_current ? run_json(&st.current) : json_null(),
                  "last", st.has_last ? run_json(&st.last) : json_null());
    if (!o) {
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    api_json(resp, 200, o);
}

/* verify_report_json: repo_verify_ex's report with its members in camelCase (a new object). */
static json_t *verify_report_json(json_t *rep)
{
    static const char *const names[][2] = {
        { "ok", "ok" }, { "packs", "packs" }, { "blobs", "blobs" }, { "snapshots", "snapshots" },
        { "trees", "trees" }, { "errors", "errors" }, { "snapshots_hurt", "snapshotsHurt" },
        { "hurt_count", "hurtCount" }, { "hurt", "hurt" }, { "blobs_read", "blobsRead" },
        { "packs_read", "packsRead" }, { "subset_percent", "subsetPercent" },
        { "first_pack", "firstPack" }, { "next_cursor", "nextCursor" },
    };
    json_t *o = json_object();
    for (size_t k = 0; o && k < sizeof names / sizeof names[0]; k++) {
        json_t *v = json_object_get(rep, names[k][0]);
        if (v) json_object_set_new(o, names[k][1], json_deep_copy(v));
    }
    return o;
}

static json_t *verify_run_json(const struct verify_run *run)
{
    static const char *const states[] = { "Queued", "Running", "Succeeded", "Failed" };
    int ended = run->state == VERIFY_SUCCEEDED || run->state == VERIFY_FAILED;
    json_t *o = json_pack("{s:I, s:b, s:I, s:s, s:s, s:I}", "id", (json_int_t)run->id, "readData",
                          run->read_data, "subsetPercent", (json_int_t)run->subset_pct, "trigger",
                          run->scheduled ? "schedule" : "api", "status", states[run->state],
                          "queuedTimeUsecs", (json_int_t)run->queued_usecs);
    if (!o) return NULL;
    if (run->state != VERIFY_QUEUED)
        json_object_set_new(o, "startTimeUsecs", json_integer(run->start_usecs));
    if (ended) json_object_set_new(o, "endTimeUsecs", json_integer(run->end_usecs));
    if (run->state == VERIFY_FAILED) json_object_set_new(o, "message", json_string(run->message));
    if (run->state == VERIFY_SUCCEEDED && run->report)
        json_object_set_new(o, "report", verify_report_json(run->report));
    return o;
}

static void verify_post(struct api_req *req, struct api_resp *resp)
{
    struct api_context *ctx = api_ctx(req);
    int read = 0, has_pct = 0, rc;
    int64_t pct = 100, id = 0;
    if (req->body && req->body_len > 0) {
        json_t *body = api_body_object(req, resp);
        const char *key;
        json_t *val;
        if (!body) return;
        json_object_foreach(body, key, val) {
            if (strcmp(key, "readData") != 0 && strcmp(key, "subsetPercent") != 0) {
                jv_fail(resp, "", key, "is not a member of a verify request (readData, subsetPercent)");
                json_decref(body);
                return;
            }
        }
        if (!jv_bool(resp, body, "", "readData", 0, &read, NULL) ||
            !jv_int_range(resp, body, "", "subsetPercent", 0, 1, 100, &pct, &has_pct)) {
            json_decref(body);
            return;
        }
        json_decref(body);
        if (has_pct && !read) {
            jv_fail(resp, "", "subsetPercent", "needs readData true (a structure check reads no data)");
            return;
        }
    }
    rc = sched_verify_request(ctx->sched, read, (unsigned)pct, &id);
    if (rc == -EBUSY) {
        api_error(resp, 409, "Conflict", "verify %lld is already queued or running; GET "
                  "/v2/coffer/repository/verify shows it", (long long)id);
        return;
    }
    if (rc < 0) {
        api_error(resp, 503, "ServiceUnavailable", "the repository is not available");
        return;
    }
    api_json(resp, 202, json_pack("{s:I, s:b, s:I, s:s}", "id", (json_int_t)id, "readData", read,
                                  "subsetPercent", (json_int_t)pct, "status", "Queued"));
}

static void verify_get(struct api_req *req, struct api_resp *resp)
{
    struct verify_status st;
    json_t *o;
    if (sched_verify_status(api_ctx(req)->sched, &st) < 0) {
        api_error(resp, 503, "ServiceUnavailable", "the repository is not available");
        return;
    }
    o = json_pack("{s:I, s:I, s:o, s:o, s:o}", "intervalSecs",
                  (json_int_t)(st.interval_usecs / 1000000), "scheduledReadPercent",
                  (json_int_t)st.scheduled_read_pct, "nextScheduledTimeUsecs",
                  st.next_usecs ? json_integer(st.next_usecs) : json_null(),
                  "current", st.has_current ? verify_run_json(&st.current) : json_null(),
                  "last", st.has_last ? verify_run_json(&st.last) : json_null());
    verify_status_release(&st);
    if (!o) {
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    api_json(resp, 200, o);
}

static void stats_get(struct api_req *req, struct api_resp *resp)
{
    struct api_context *ctx = api_ctx(req);
    struct repo_stats rs;
    struct prune_status st;
    json_t *o;
    uint64_t logical = 0;
    size_t nsnap = 0;
    if (!ctx->repo) {
        api_error(resp, 503, "ServiceUnavailable", "the repository is not available");
        return;
    }
    repo_get_stats(ctx->repo, &rs);
    if (svc_repo_usage(ctx->repo, &nsnap, &logical) < 0) {
        api_error(resp, 500, "InternalError", "cannot list the repository's snapshots");
        return;
    }
    o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "snapshots", (json_int_t)nsnap,
                  "packs", (json_int_t)rs.packs, "blobs", (json_int_t)rs.blobs, "packBytes",
                  (json_int_t)rs.pack_bytes, "indexBytesInMemory", (json_int_t)rs.index_bytes_in_memory,
                  "logicalBytes", (json_int_t)logical, "storedBytes", (json_int_t)rs.pack_bytes,
                  "dedupRatio", rs.pack_bytes ? json_real((double)logical / (double)rs.pack_bytes) : json_null());
    if (!o) {
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    if (sched_prune_status(ctx->sched, &st) == 0 && st.has_last) {
        const struct repo_prune_report *pr = &st.last.report;
        int ok = st.last.state == PRUNE_SUCCEEDED;
        uint64_t left = pr->dry_run ? pr->bytes_unused
                        : pr->bytes_unused > pr->bytes_freed ? pr->bytes_unused - pr->bytes_freed : 0;
        json_object_set_new(o, "lastPrune", run_json(&st.last));
        json_object_set_new(o, "garbageBytes", ok ? json_integer((json_int_t)left) : json_null());
        json_object_set_new(o, "garbageBytesSource", !ok ? json_null()
                            : json_string(pr->dry_run ? "lastDryRun" : "lastPrune"));
    } else {
        json_object_set_new(o, "lastPrune", json_null());
        json_object_set_new(o, "garbageBytes", json_null());
        json_object_set_new(o, "garbageBytesSource", json_null());
    }
    {
        struct verify_status vs;
        if (sched_verify_status(ctx->sched, &vs) == 0 && vs.has_last) {
            json_t *lv = verify_run_json(&vs.last);
            json_object_del(lv, "report"); /* the summary; GET .../verify has the whole report */
            if (vs.last.report) {
                json_object_set_new(lv, "ok", json_copy(json_object_get(vs.last.report, "ok")));
                json_object_set_new(lv, "errors", json_integer((json_int_t)json_array_size(
                                                      json_object_get(vs.last.report, "errors"))));
                json_object_set_new(lv, "hurtCount", json_copy(json_object_get(vs.last.report,
                                                                               "hurt_count")));
            }
            json_object_set_new(o, "lastVerify", lv);
        } else {
            json_object_set_new(o, "lastVerify", json_null());
        }
        verify_status_release(&vs);
    }
    api_json(resp, 200, o);
}

const struct api_route api_routes_coffer_repository[] = {
    { "POST", "/v2/coffer/repository/prune", prune_post, 0, API_ROLE_ADMIN },
    { "GET", "/v2/coffer/repository/prune", prune_get, 0, API_ROLE_VIEWER },
    { "POST", "/v2/coffer/repository/verify", verify_post, 0, API_ROLE_OPERATOR },
    { "GET", "/v2/coffer/repository/verify", verify_get, 0, API_ROLE_VIEWER },
    { "GET", "/v2/coffer/repository/stats", stats_get, 0, API_ROLE_VIEWER },
    { NULL, NULL, NULL, 0, 0 },
};
