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
 *   GET  /v2/coffer/repository/stats   200 {"snapshots", "packs", "blobs", "packBytes",
 *        "indexBytesInMemory", "lastPrune"}.
 * The report's fields are repo_prune_report's (repo.h) in camelCase. */
#include "api/api.h"
#include "api/jv.h"
#include "repo/repo.h"
#include "sched/job_prune.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

static json_t *report_json(const struct repo_prune_report *r)
{
    return json_pack("{s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                     " s:I, s:I}",
                     "dryRun", r->dry_run, "snapshots", (json_int_t)r->snapshots,
                     "snapshotsForgotten", (json_int_t)r->snapshots_forgotten,
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

static void stats_get(struct api_req *req, struct api_resp *resp)
{
    struct api_context *ctx = api_ctx(req);
    struct repo_stats rs;
    struct prune_status st;
    json_t *ids = NULL, *o;
    if (!ctx->repo) {
        api_error(resp, 503, "ServiceUnavailable", "the repository is not available");
        return;
    }
    repo_get_stats(ctx->repo, &rs);
    if (repo_snapshot_list(ctx->repo, &ids) < 0) {
        api_error(resp, 500, "InternalError", "cannot list the repository's snapshots");
        return;
    }
    o = json_pack("{s:I, s:I, s:I, s:I, s:I}", "snapshots", (json_int_t)json_array_size(ids),
                  "packs", (json_int_t)rs.packs, "blobs", (json_int_t)rs.blobs, "packBytes",
                  (json_int_t)rs.pack_bytes, "indexBytesInMemory",
                  (json_int_t)rs.index_bytes_in_memory);
    json_decref(ids);
    if (!o) {
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    json_object_set_new(o, "lastPrune", sched_prune_status(ctx->sched, &st) == 0 && st.has_last
                                            ? run_json(&st.last) : json_null());
    api_json(resp, 200, o);
}

const struct api_route api_routes_coffer_repository[] = {
    { "POST", "/v2/coffer/repository/prune", prune_post, 0 },
    { "GET", "/v2/coffer/repository/prune", prune_get, 0 },
    { "GET", "/v2/coffer/repository/stats", stats_get, 0 },
    { NULL, NULL, NULL, 0 },
};
