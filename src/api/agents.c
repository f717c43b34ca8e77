/* agents.c: the agents' installers and their upgrade tasks (issue 11):
 *
 *   POST /v2/data-protect/agents/download        DownloadAgent (Admin): the installer cofferd was built
 *        with, streamed: platform kLinux with linuxParams.packageType kDEB (the Debian package) or
 *        kScript (a self-contained sh installer); every other platform or package type is a 400 naming
 *        the field and the supported values; a package not built is 503 saying how to build it.
 *   GET  /v2/data-protect/agents/upgrade-tasks   GetUpgradeTasks (Viewer): AgentUpgradeTaskStates; ids
 *        filters (a list of integers). Windows that have passed are settled first (svc_upgrade_sweep).
 *   POST /v2/data-protect/agents/upgrade-tasks   CreateUpgradeTask (Admin): 201 AgentUpgradeTaskState.
 *        agentIDs: connector ids of this tenant (positive integers; one that is not a registered
 *        connector is a 400 naming agentIDs[i]), or retryTaskId alone: a new task of type Retry for
 *        the failed agents of that Failed/PartiallyFailed task. scheduleTimeUsecs / scheduleEndTimeUsecs
 *        non-negative (0: now / no end), the end not before the start.
 *   GET  /v2/coffer/agents/package?type=deb|script  (Coffer extension, role Agent): the same files for
 *        an agent upgrading itself, with X-Coffer-Package-SHA256 and X-Coffer-Package-Version.
 *
 * The states and the heartbeat side are svc/agent_upgrade.c's. The files are served from an open
 * descriptor with libmicrohttpd's sendfile path (bounded memory). */
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "svc/agent_tasks.h"
#include "util/time.h"
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------- the packages ---------- */

/* serve_package: the package of type ("deb" | "script") as a 200 octet stream, or a 503 with how to
 * build it; label names it in messages (the wire's kDEB / kScript). */
static void serve_package(struct api_resp *resp, const char *type, const char *label)
{
    char *path = NULL, hex[65], cd[512], sz[32];
    const char *base;
    int64_t size = 0;
    struct stat st;
    struct MHD_Response *mr;
    int fd, rc = svc_agent_package_info(type, &path, &size, hex);
    if (rc == -ENOENT) {
        api_error(resp, 503, "PackageNotBuilt", "the %s agent package of version %s is not on this server: build it "
                  "with `make agent-packages` (or install cofferd with `make install`, or point COFFER_AGENT_PACKAGES "
                  "at a directory holding it); looked in %s", label, COFFER_VERSION, svc_agent_package_dir());
        return;
    }
    if (rc != 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        api_error(resp, 500, "InternalError", "cannot read the %s agent package", label);
        free(path);
        return;
    }
    if (fstat(fd, &st) != 0 || st.st_size != size) { /* replaced between the digest and the open */
        close(fd);
        free(path);
        api_error(resp, 503, "PackageChanging", "the %s agent package is being replaced; try again", label);
        return;
    }
    if (!(mr = MHD_create_response_from_fd64((uint64_t)st.st_size, fd))) { /* takes fd */
        close(fd);
        free(path);
        api_error(resp, 500, "InternalError", "cannot prepare the response");
        return;
    }
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(cd, sizeof cd, "attachment; filename=\"%.400s\"", base);
    snprintf(sz, sizeof sz, "%lld", (long long)size);
    MHD_add_response_header(mr, "Content-Type", "application/octet-stream");
    MHD_add_response_header(mr, "Content-Disposition", cd);
    MHD_add_response_header(mr, "X-Coffer-Package-SHA256", hex);
    MHD_add_response_header(mr, "X-Coffer-Package-Version", COFFER_VERSION);
    MHD_add_response_header(mr, "X-Coffer-Total-Size", sz);
    resp->status = 200;
    resp->raw = mr;
    free(path);
}

static void agent_download(struct api_req *req, struct api_resp *resp)
{
    static const char *const platforms[] = { "kLinux", "kWindows", NULL };
    static const char *const types[] = { "kDEB", "kPowerPCRPM", "kRPM", "kScript", "kSuseRPM", NULL };
    json_t *body = api_body_object(req, resp), *lp = NULL;
    const char *platform = NULL, *type = NULL;
    if (!body) return;
    if (!jv_enum(resp, body, NULL, "platform", 1, platforms, &platform) ||
        !jv_obj(resp, body, NULL, "linuxParams", 0, &lp))
        goto out;
    if (strcmp(platform, "kLinux") != 0) {
        api_error(resp, 400, "Unsupported", "field 'platform': %s agents are not available from this server; the "
                  "supported platform is kLinux (linuxParams.packageType kDEB or kScript)", platform);
        goto out;
    }
    if (!lp) {
        api_error(resp, 400, "InvalidField", "field 'linuxParams' is required for platform kLinux: give "
                  "linuxParams.packageType kDEB or kScript");
        goto out;
    }
    if (!jv_enum(resp, lp, "linuxParams", "packageType", 1, types, &type)) goto out;
    if (strcmp(type, "kDEB") == 0) {
        serve_package(resp, "deb", "kDEB");
    } else if (strcmp(type, "kScript") == 0) {
        serve_package(resp, "script", "kScript");
    } else {
        api_error(resp, 400, "Unsupported", "field 'linuxParams.packageType': %s packages are not built by this "
                  "server; the supported package types are kDEB and kScript", type);
    }
out:
    json_decref(body);
}

static void agent_package(struct api_req *req, struct api_resp *resp)
{
    const char *type = api_query(req, "type");
    if (!type || (strcmp(type, "deb") != 0 && strcmp(type, "script") != 0)) {
        api_error(resp, 400, "InvalidParameter", "query parameter 'type' must be deb or script%s%.32s%s",
                  type ? ", not '" : " (it is required)", type ? type : "", type ? "'" : "");
        return;
    }
    serve_package(resp, type, type);
}

/* ---------- upgrade tasks ---------- */

static json_t *error_json(const char *msg)
{
    return json_pack("{s:s,s:s}", "errorCode", "UpgradeFailed", "message", msg);
}

/* task_json: the AgentUpgradeTaskState of t. */
static json_t *task_json(const struct cat_upgrade_task *t)
{
    json_t *j = json_object(), *ids = json_array(), *agents = json_array();
    int retryable = strcmp(t->status, SVC_UPG_FAILED) == 0 || strcmp(t->status, SVC_UPG_PARTIAL) == 0;
    for (size_t i = 0; i < t->n_agents; i++) {
        const struct cat_upgrade_agent *a = &t->agents[i];
        json_t *info = json_pack("{s:s}", "status", a->status);
        char name[32];
        snprintf(name, sizeof name, "%lld", (long long)a->agent_id);
        json_object_set_new(info, "name", json_string(name));
        if (a->start_usecs) json_object_set_new(info, "startTimeUsecs", json_integer(a->start_usecs));
        if (a->end_usecs) json_object_set_new(info, "endTimeUsecs", json_integer(a->end_usecs));
        if (a->previous_version) json_object_set_new(info, "previousSoftwareVersion", json_string(a->previous_version));
        if (a->error) json_object_set_new(info, "error", error_json(a->error));
        json_array_append_new(ids, json_integer(a->agent_id));
        json_array_append_new(agents, json_pack("{s:I,s:o}", "id", (json_int_t)a->agent_id, "info", info));
    }
    json_object_set_new(j, "id", json_integer(t->id));
    json_object_set_new(j, "agentIDs", ids);
    json_object_set_new(j, "agents", agents);
    if (t->version) json_object_set_new(j, "clusterVersion", json_string(t->version));
    if (t->name) json_object_set_new(j, "name", json_string(t->name));
    if (t->description) json_object_set_new(j, "description", json_string(t->description));
    json_object_set_new(j, "type", json_string(t->type));
    if (t->retried_task_id) json_object_set_new(j, "retriedTaskID", json_integer(t->retried_task_id));
    json_object_set_new(j, "scheduleTimeUsecs", json_integer(t->schedule_usecs));
    json_object_set_new(j, "scheduleEndTimeUsecs", json_integer(t->schedule_end_usecs));
    if (t->start_usecs) json_object_set_new(j, "startTimeUsecs", json_integer(t->start_usecs));
    if (t->end_usecs) json_object_set_new(j, "endTimeUsecs", json_integer(t->end_usecs));
    json_object_set_new(j, "status", json_string(t->status));
    json_object_set_new(j, "isRetryable", json_boolean(retryable));
    if (t->error) json_object_set_new(j, "error", error_json(t->error));
    return j;
}

static int list_one(void *ud, const struct cat_upgrade_task *t)
{
    return json_array_append_new(ud, task_json(t)) == 0 ? 0 : -ENOMEM;
}

static void tasks_list(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    json_t *ids = api_query_int_list(req, resp, "ids"), *arr;
    int rc;
    if (!ids) return;
    if ((rc = svc_upgrade_sweep(cat, req->tenant, util_time_now())) != 0) {
        api_catalog_error(resp, rc, "settling upgrade tasks");
        json_decref(ids);
        return;
    }
    arr = json_array();
    rc = cat_upgrade_task_list(cat, req->tenant, ids, list_one, arr);
    json_decref(ids);
    if (rc != 0) {
        json_decref(arr);
        api_catalog_error(resp, rc, "listing upgrade tasks");
        return;
    }
    api_json(resp, 200, json_pack("{s:o}", "tasks", arr));
}

/* non_negative: an optional integer field that must not be negative; 0, or -1 after a 400. */
static int non_negative(struct api_resp *resp, json_t *body, const char *field, int64_t *out, int *has)
{
    if (!jv_int(resp, body, "", field, 0, out, has)) return -1;
    if (*has && *out < 0) {
        api_error(resp, 400, "InvalidField", "field '%s' must not be negative, not %lld", field, (long long)*out);
        return -1;
    }
    return 0;
}

static void task_create(struct api_req *req, struct api_resp *resp)
{
    struct cat *cat = api_ctx(req)->cat;
    json_t *body = api_body_object(req, resp), *agents = NULL, *e;
    struct svc_upgrade_req r = { 0 };
    struct cat_upgrade_task t;
    int64_t *ids = NULL, id = 0, now = util_time_now();
    int has_start = 0, has_end = 0, has_retry = 0, rc;
    long bad = -1;
    char err[512];
    size_t i;
    if (!body) return;
    if (!jv_arr(resp, body, "", "agentIDs", 0, &agents) || !jv_str(resp, body, "", "name", 0, &r.name) ||
        !jv_str(resp, body, "", "description", 0, &r.description) ||
        !jv_int(resp, body, "", "retryTaskId", 0, &r.retry_of, &has_retry) ||
        non_negative(resp, body, "scheduleTimeUsecs", &r.schedule_usecs, &has_start) != 0 ||
        non_negative(resp, body, "scheduleEndTimeUsecs", &r.schedule_end_usecs, &has_end) != 0)
        goto out;
    json_array_foreach(agents, i, e) {
        if (!json_is_integer(e) || json_integer_value(e) <= 0) {
            api_error(resp, 400, "InvalidField", "field 'agentIDs[%zu]' must be a positive integer (an agent id)", i);
            goto out;
        }
    }
    if (has_retry && r.retry_of <= 0) {
        api_error(resp, 400, "InvalidField", "field 'retryTaskId' must be a positive integer (an upgrade task id)");
        goto out;
    }
    if (has_retry && json_array_size(agents) > 0) {
        api_error(resp, 400, "InvalidField", "field 'agentIDs' must be empty with 'retryTaskId': a retry re-runs the "
                  "failed agents of task %lld", (long long)r.retry_of);
        goto out;
    }
    if (!has_retry && json_array_size(agents) == 0) {
        api_error(resp, 400, "InvalidField", "field 'agentIDs' must list at least one agent id (or give "
                  "'retryTaskId' to retry a task)");
        goto out;
    }
    if (json_array_size(agents) > 1000) {
        api_error(resp, 400, "InvalidField", "field 'agentIDs' lists %zu agents; at most 1000 per task",
                  json_array_size(agents));
        goto out;
    }
    if (r.schedule_end_usecs > 0 && r.schedule_end_usecs < r.schedule_usecs) {
        api_error(resp, 400, "InvalidField", "field 'scheduleEndTimeUsecs' (%lld) must not be before field "
                  "'scheduleTimeUsecs' (%lld)", (long long)r.schedule_end_usecs, (long long)r.schedule_usecs);
        goto out;
    }
    if (r.schedule_end_usecs > 0 && r.schedule_end_usecs <= now) {
        api_error(resp, 400, "InvalidField", "field 'scheduleEndTimeUsecs' (%lld) is already past (now is %lld)",
                  (long long)r.schedule_end_usecs, (long long)now);
        goto out;
    }
    if (json_array_size(agents) && !(ids = calloc(json_array_size(agents), sizeof *ids))) {
        api_error(resp, 500, "InternalError", "out of memory");
        goto out;
    }
    json_array_foreach(agents, i, e) ids[i] = json_integer_value(e);
    r.agents = ids;
    r.n_agents = json_array_size(agents);
    rc = svc_upgrade_task_create(cat, req->tenant, &r, now, &id, &bad, err, sizeof err);
    if (rc == -EINVAL && bad >= 0) {
        api_error(resp, 400, "InvalidField", "field 'agentIDs[%ld]': %s", bad, err);
    } else if (rc == -EINVAL || rc == -ENOENT) {
        api_error(resp, rc == -ENOENT ? 404 : 400, rc == -ENOENT ? "NotFound" : "InvalidField",
                  "field 'retryTaskId': %s", err);
    } else if (rc != 0) {
        api_catalog_error(resp, rc, "storing the upgrade task");
    } else if ((rc = cat_upgrade_task_get(cat, req->tenant, id, &t)) != 0) {
        api_catalog_error(resp, rc, "reading the new upgrade task");
    } else {
        api_json(resp, 201, task_json(&t));
        cat_upgrade_task_release(&t);
    }
out:
    free(ids);
    json_decref(body);
}

const struct api_route api_routes_agents[] = {
    { "POST", "/v2/data-protect/agents/download", agent_download, 0, API_ROLE_ADMIN },
    { "GET", "/v2/data-protect/agents/upgrade-tasks", tasks_list, 0, API_ROLE_VIEWER },
    { "POST", "/v2/data-protect/agents/upgrade-tasks", task_create, 0, API_ROLE_ADMIN },
    { NULL, NULL, NULL, 0, 0 },
};

/* The agents' own route (routes.c: tenant header optional, an agent's key names its tenant). */
const struct api_route api_routes_coffer_agent_package[] = {
    { "GET", "/v2/coffer/agents/package", agent_package, API_ROUTE_TENANT_KEYS, API_ROLE_AGENT },
    { NULL, NULL, NULL, 0, 0 },
};
