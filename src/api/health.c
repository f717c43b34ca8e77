/* health.c: GET /healthz (liveness and readiness, no key) and GET /metrics (the Prometheus text
 * exposition format 0.0.4). /healthz asks the catalog one cheap query (the run counts by status) and
 * has the repository's backend stat its config object: 200 {"status":"ok","catalog":"ok",
 * "repository":"ok"} when both answer, else 503 with the failing part "unavailable" (and
 * "status":"unavailable"). /metrics (routes.c: the admin key's Viewer role, a cluster key; no key when
 * the daemon started with COFFER_METRICS_PUBLIC=1, server.c) reports the runs by status (catalog),
 * the repository's size and dedup ratio (the same figures as GET /v2/coffer/repository/stats), and
 * the API requests by method, route pattern and status with one latency histogram over all requests
 * and one per route (coffer_http_route_duration_seconds{method,route}: the route table's patterns,
 * "unmatched" and, past METRICS_ROUTES, "other": a bounded label set), the queue depth by kind
 * (coffer_queue_jobs{kind,state="waiting"|"running"}: backup runs Accepted / Running, recoveries by
 * kind Accepted / Running or Canceling, from the catalog) and the job metrics of util/metrics.h (job
 * duration histograms by kind, bytes read and stored, recovery throughput). The request counters
 * live here, in fixed tables under one mutex, fed by server.c for every answered request
 * (api_metrics_observe); they and the job metrics are per process and start at zero at each start. */
#include "svc/svc.h"
#include "api/routes.h"
#include "catalog/cat_recovery.h"
#include "catalog/cat_run.h"
#include "util/metrics.h"
#include "repo/repo.h"
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One counter per (route, method, status): route patterns and statuses are finite, so the table is
 * bounded; a pair beyond its size is counted in the "other" row (route "other", status 0). */
#define METRICS_ROWS 512
struct metrics_row {
    const struct api_route *route; /* NULL: no route matched ("unmatched") */
    char method[8];
    int status;
    uint64_t count;
};
/* latency buckets in seconds (upper bounds; +Inf is the count) */
static const double metrics_bounds[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define METRICS_NBOUNDS (sizeof metrics_bounds / sizeof metrics_bounds[0])

static pthread_mutex_t metrics_mu = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_row metrics_rows[METRICS_ROWS];
static size_t metrics_nrows;
static uint64_t metrics_other;
static uint64_t metrics_bucket[METRICS_NBOUNDS]; /* not cumulative here; summed when written */
static uint64_t metrics_count, metrics_sum_usecs;
/* one latency histogram per route (NULL: unmatched); past METRICS_ROUTES rows, the "other" row */
#define METRICS_ROUTES 320
struct route_hist {
    const struct api_route *route;
    uint64_t bucket[METRICS_NBOUNDS], count, sum_usecs;
};
static struct route_hist route_hists[METRICS_ROUTES + 1];
static size_t route_nhists;

void api_metrics_observe(const struct api_route *route, const char *method, int status, uint64_t usecs)
{
    size_t i;
    char m[8];
    snprintf(m, sizeof m, "%s", method ? method : "");
    pthread_mutex_lock(&metrics_mu);
    for (i = 0; i < metrics_nrows; i++)
        if (metrics_rows[i].route == route && metrics_rows[i].status == status &&
            strcmp(metrics_rows[i].method, m) == 0)
            break;
    if (i == metrics_nrows && metrics_nrows < METRICS_ROWS) {
        metrics_rows[i].route = route;
        memcpy(metrics_rows[i].method, m, sizeof m);
        metrics_rows[i].status = status;
        metrics_nrows++;
    }
    if (i < metrics_nrows) metrics_rows[i].count++;
    else metrics_other++;
    {
        struct route_hist *h = NULL;
        for (size_t k = 0; k < route_nhists && !h; k++)
            if (route_hists[k].route == route) h = &route_hists[k];
        if (!h && route_nhists < METRICS_ROUTES) {
            h = &route_hists[route_nhists++];
            h->route = route;
        }
        if (!h) h = &route_hists[METRICS_ROUTES];
        for (i = 0; i < METRICS_NBOUNDS; i++)
            if ((double)usecs <= metrics_bounds[i] * 1e6) {
                metrics_bucket[i]++;
                h->bucket[i]++;
                break;
            }
        h->count++;
        h->sum_usecs += usecs;
    }
    metrics_count++;
    metrics_sum_usecs += usecs;
    pthread_mutex_unlock(&metrics_mu);
}

/* ---- /healthz ---- */

static int count_none(void *ud, const char *status, int64_t count)
{
    (void)ud; (void)status; (void)count;
    return 0;
}

static void healthz(struct api_req *req, struct api_resp *resp)
{
    struct api_context *ctx = api_ctx(req);
    int cat_ok = ctx && ctx->cat && cat_run_count_by_status(ctx->cat, count_none, NULL) == 0;
    int repo_ok = ctx && ctx->repo && repo_check(ctx->repo) == 0;
    json_t *o = json_pack("{s:s, s:s, s:s}", "status", cat_ok && repo_ok ? "ok" : "unavailable",
                          "catalog", cat_ok ? "ok" : "unavailable", "repository", repo_ok ? "ok" : "unavailable");
    if (!o) {
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    api_json(resp, cat_ok && repo_ok ? 200 : 503, o);
}

/* ---- /metrics ---- */

static const char *const run_statuses[] = { "Accepted", "Running", "Succeeded", "SucceededWithWarning",
                                            "Failed", "Canceled", "Missed" };
#define N_RUN_STATUSES (sizeof run_statuses / sizeof run_statuses[0])

struct run_counts {
    int64_t known[N_RUN_STATUSES];
    FILE *out; /* statuses not in run_statuses are written at once */
};

static int count_one(void *ud, const char *status, int64_t count)
{
    struct run_counts *rc = ud;
    for (size_t i = 0; i < N_RUN_STATUSES; i++)
        if (strcmp(status, run_statuses[i]) == 0) {
            rc->known[i] = count;
            return 0;
        }
    fprintf(rc->out, "coffer_runs{status=\"%.64s\"} %lld\n", status, (long long)count);
    return 0;
}

static void write_repo(FILE *f, struct repo *repo)
{
    struct repo_stats rs;
    uint64_t logical = 0;
    size_t nsnap = 0;
    repo_get_stats(repo, &rs);
    if (svc_repo_usage(repo, &nsnap, &logical) < 0) return; /* as .../repository/stats counts them */
    fprintf(f, "# HELP coffer_repository_snapshots Snapshots in the repository.\n"
               "# TYPE coffer_repository_snapshots gauge\ncoffer_repository_snapshots %zu\n",
            nsnap);
    fprintf(f, "# HELP coffer_repository_stored_bytes Bytes of the repository's packs.\n"
               "# TYPE coffer_repository_stored_bytes gauge\ncoffer_repository_stored_bytes %llu\n",
            (unsigned long long)rs.pack_bytes);
    fprintf(f, "# HELP coffer_repository_logical_bytes Bytes the snapshots hold before deduplication.\n"
               "# TYPE coffer_repository_logical_bytes gauge\ncoffer_repository_logical_bytes %llu\n",
            (unsigned long long)logical);
    fprintf(f, "# HELP coffer_repository_dedup_ratio Logical bytes over stored bytes (0 when nothing is stored).\n"
               "# TYPE coffer_repository_dedup_ratio gauge\ncoffer_repository_dedup_ratio %.6g\n",
            rs.pack_bytes ? (double)logical / (double)rs.pack_bytes : 0.0);
}

static void write_requests(FILE *f)
{
    uint64_t cum = 0;
    pthread_mutex_lock(&metrics_mu);
    fprintf(f, "# HELP coffer_http_requests_total API requests answered since the daemon started, by method, "
               "route pattern and status.\n# TYPE coffer_http_requests_total counter\n");
    for (size_t i = 0; i < metrics_nrows; i++) {
        const struct metrics_row *r = &metrics_rows[i];
        fprintf(f, "coffer_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n", r->method,
                r->route ? r->route->pattern : "unmatched", r->status, (unsigned long long)r->count);
    }
    if (metrics_other)
        fprintf(f, "coffer_http_requests_total{method=\"other\",route=\"other\",status=\"0\"} %llu\n",
                (unsigned long long)metrics_other);
    fprintf(f, "# HELP coffer_http_request_duration_seconds Time from a request's arrival to its answer.\n"
               "# TYPE coffer_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < METRICS_NBOUNDS; i++) {
        cum += metrics_bucket[i];
        fprintf(f, "coffer_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n", metrics_bounds[i],
                (unsigned long long)cum);
    }
    fprintf(f, "coffer_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
               "coffer_http_request_duration_seconds_sum %.6f\n"
               "coffer_http_request_duration_seconds_count %llu\n",
            (unsigned long long)metrics_count, (double)metrics_sum_usecs / 1e6, (unsigned long long)metrics_count);
    fprintf(f, "# HELP coffer_http_route_duration_seconds Time from a request's arrival to its answer, by route.\n"
               "# TYPE coffer_http_route_duration_seconds histogram\n");
    for (size_t k = 0; k <= METRICS_ROUTES; k++) {
        const struct route_hist *h = &route_hists[k];
        char labels[400];
        if (k >= route_nhists && k < METRICS_ROUTES) continue;
        if (k == METRICS_ROUTES && !h->count) break;
        if (k == METRICS_ROUTES) snprintf(labels, sizeof labels, "method=\"other\",route=\"other\"");
        else if (!h->route) snprintf(labels, sizeof labels, "method=\"any\",route=\"unmatched\"");
        else snprintf(labels, sizeof labels, "method=\"%s\",route=\"%s\"", h->route->method, h->route->pattern);
        cum = 0;
        for (size_t i = 0; i < METRICS_NBOUNDS; i++) {
            cum += h->bucket[i];
            fprintf(f, "coffer_http_route_duration_seconds_bucket{%s,le=\"%g\"} %llu\n", labels, metrics_bounds[i],
                    (unsigned long long)cum);
        }
        fprintf(f, "coffer_http_route_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n"
                   "coffer_http_route_duration_seconds_sum{%s} %.6f\n"
                   "coffer_http_route_duration_seconds_count{%s} %llu\n",
                labels, (unsigned long long)h->count, labels, (double)h->sum_usecs / 1e6, labels,
                (unsigned long long)h->count);
    }
    pthread_mutex_unlock(&metrics_mu);
}

/* The queue depth: waiting and running jobs by kind (see the file comment). */
#define QUEUE_KINDS 12
struct queue_depth {
    char kind[QUEUE_KINDS][32];
    int64_t waiting[QUEUE_KINDS], running[QUEUE_KINDS];
    size_t n;
};

static void queue_add(struct queue_depth *q, const char *kind, const char *status, int64_t count)
{
    size_t i;
    for (i = 0; i < q->n && strcmp(q->kind[i], kind) != 0; i++) {}
    if (i == q->n) {
        if (q->n == QUEUE_KINDS || strlen(kind) >= sizeof q->kind[0]) return;
        snprintf(q->kind[q->n++], sizeof q->kind[0], "%s", kind);
    }
    if (strcmp(status, "Accepted") == 0) q->waiting[i] += count;
    else q->running[i] += count;
}

static int queue_runs(void *ud, const char *status, int64_t count)
{
    if (strcmp(status, "Accepted") == 0 || strcmp(status, "Running") == 0) queue_add(ud, "backup", status, count);
    return 0;
}

static int queue_recoveries(void *ud, const char *kind, const char *status, int64_t count)
{
    queue_add(ud, kind, status, count);
    return 0;
}

static int write_queue(FILE *f, struct cat *cat)
{
    struct queue_depth q = { .n = 0 };
    static const char *const known[] = { "backup", "restore", "download", "sql_restore" };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) queue_add(&q, known[i], "Accepted", 0);
    if (cat_run_count_by_status(cat, queue_runs, &q) != 0 || cat_recovery_count_active(cat, queue_recoveries, &q) != 0)
        return -1;
    fprintf(f, "# HELP coffer_queue_jobs Jobs waiting (queued) and running, by kind.\n# TYPE coffer_queue_jobs gauge\n");
    for (size_t i = 0; i < q.n; i++)
        fprintf(f, "coffer_queue_jobs{kind=\"%s\",state=\"waiting\"} %lld\ncoffer_queue_jobs{kind=\"%s\",state=\"running\"} %lld\n",
                q.kind[i], (long long)q.waiting[i], q.kind[i], (long long)q.running[i]);
    return 0;
}

static void metrics(struct api_req *req, struct api_resp *resp)
{
    struct api_context *ctx = api_ctx(req);
    struct run_counts rc = { { 0 }, NULL };
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    struct MHD_Response *mr;
    if (!f) {
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    rc.out = f;
    fprintf(f, "# HELP coffer_runs Protection group runs in the catalog by status.\n# TYPE coffer_runs gauge\n");
    if (ctx && ctx->cat && cat_run_count_by_status(ctx->cat, count_one, &rc) != 0) {
        fclose(f);
        free(text);
        api_catalog_error(resp, 0, "counting the runs");
        return;
    }
    for (size_t i = 0; i < N_RUN_STATUSES; i++)
        fprintf(f, "coffer_runs{status=\"%s\"} %lld\n", run_statuses[i], (long long)rc.known[i]);
    if (ctx && ctx->cat && write_queue(f, ctx->cat) != 0) {
        fclose(f);
        free(text);
        api_catalog_error(resp, 0, "counting the queued jobs");
        return;
    }
    if (ctx && ctx->repo) write_repo(f, ctx->repo);
    write_requests(f);
    metrics_write_jobs(f);
    if (fclose(f) != 0 || !text) {
        free(text);
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    mr = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!mr) {
        free(text);
        api_error(resp, 500, "InternalError", "cannot build the response");
        return;
    }
    MHD_add_response_header(mr, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    resp->status = 200;
    resp->raw = mr;
}

/* No key, no tenant (routes.c: table "health", API_AUTH_NONE); the role is moot there. */
const struct api_route api_routes_health[] = {
    { "GET", "/healthz", healthz, API_ROUTE_NO_TENANT, API_ROLE_VIEWER },
    { NULL, NULL, NULL, 0, 0 },
};

/* The admin key's table without a tenant rule: a cluster key with Viewer; no key at all when the
 * daemon started with COFFER_METRICS_PUBLIC=1 (API_ROUTE_PUBLIC_OPT, server.c). */
const struct api_route api_routes_metrics[] = {
    { "GET", "/metrics", metrics, API_ROUTE_PUBLIC_OPT, API_ROLE_VIEWER },
    { NULL, NULL, NULL, 0, 0 },
};
