/* agents.c: /v2/data-protect/agents/upgrade-tasks: GetUpgradeTasks and CreateUpgradeTask.
 *
 * Coffer has no remote agents yet: the only agent is the one built into cofferd, which reads this
 * machine's files and is upgraded together with cofferd. So there is nothing an upgrade task could
 * upgrade, and no task ever exists:
 *   - GET answers the AgentUpgradeTaskStates model with an empty "tasks" list (the ids filter is
 *     checked for its type: a list of integers);
 *   - POST validates the body whole (agentIDs a non-empty list of positive integers unless
 *     retryTaskId names the task to retry; name and description strings; scheduleTimeUsecs and
 *     scheduleEndTimeUsecs non-negative with the end not before the start) and then refuses with a
 *     400 naming the field: agentIDs[i] is either the id of the built-in agent (the host id the v1
 *     protection source tree shows it under), which is upgraded with cofferd, or no agent at all;
 *     retryTaskId names no task. Never a pretended success. */
#include "api/api.h"
#include "api/auth.h"
#include "api/jv.h"
#include "catalog/cat_source.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tasks_list(struct api_req *req, struct api_resp *resp)
{
    json_t *ids = api_query_list(req, "ids"), *v;
    size_t i;
    json_array_foreach(ids, i, v) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        (void)strtoll(s, &end, 10);
        if (errno || end == s || *end) {
            api_error(resp, 400, "InvalidParameter", "query parameter 'ids' must be a list of integers, not '%.64s'",
                      s);
            json_decref(ids);
            return;
        }
    }
    json_decref(ids);
    api_json(resp, 200, json_pack("{s:[]}", "tasks"));
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

/* agent_refusal: answers the 400 for agentIDs[i] = id (the built-in agent, or no agent), or a 500 on a
 * catalog error; returns -1 (it has always answered). */
static int agent_refusal(struct api_req *req, struct api_resp *resp, size_t i, int64_t id)
{
    struct cat_object o;
    int rc = cat_object_get(api_ctx(req)->cat, req->tenant, id, &o);
    if (rc != 0 && rc != CAT_NOT_FOUND) {
        api_error(resp, 500, "InternalError", "catalog error while looking up agent %lld", (long long)id);
        return -1;
    }
    if (rc == 0 && !o.is_deleted && o.parent_id == 0 && o.agent == CAT_AGENT_LOCAL)
        api_error(resp, 400, "InvalidField", "field 'agentIDs[%zu]': agent %lld is the agent built into cofferd "
                  "(host '%.128s'); it is upgraded together with cofferd, not by an upgrade task", i, (long long)id,
                  o.name ? o.name : "");
    else
        api_error(resp, 400, "InvalidField", "field 'agentIDs[%zu]': no agent with id %lld is registered (this "
                  "server has no remote agents to upgrade)", i, (long long)id);
    if (rc == 0) cat_object_release(&o);
    return -1;
}

static void task_create(struct api_req *req, struct api_resp *resp)
{
    json_t *body = api_body_object(req, resp), *agents = NULL, *e;
    int64_t start = 0, end = 0, retry = 0, first = 0;
    int has_start = 0, has_end = 0, has_retry = 0;
    size_t i;
    if (!body) return;
    if (!jv_arr(resp, body, "", "agentIDs", 0, &agents) || !jv_str(resp, body, "", "name", 0, NULL) ||
        !jv_str(resp, body, "", "description", 0, NULL) ||
        !jv_int(resp, body, "", "retryTaskId", 0, &retry, &has_retry) ||
        non_negative(resp, body, "scheduleTimeUsecs", &start, &has_start) != 0 ||
        non_negative(resp, body, "scheduleEndTimeUsecs", &end, &has_end) != 0)
        goto out;
    json_array_foreach(agents, i, e) {
        if (!json_is_integer(e) || json_integer_value(e) <= 0) {
            api_error(resp, 400, "InvalidField", "field 'agentIDs[%zu]' must be a positive integer (an agent id)", i);
            goto out;
        }
    }
    if (!has_retry && json_array_size(agents) == 0) {
        api_error(resp, 400, "InvalidField", "field 'agentIDs' must list at least one agent id (or give "
                  "'retryTaskId' to retry a task)");
        goto out;
    }
    if (has_start && has_end && end < start) {
        api_error(resp, 400, "InvalidField", "field 'scheduleEndTimeUsecs' (%lld) must not be before field "
                  "'scheduleTimeUsecs' (%lld)", (long long)end, (long long)start);
        goto out;
    }
    if (has_retry) {
        api_error(resp, 400, "InvalidField", "field 'retryTaskId': no upgrade task with id %lld exists (this server "
                  "has no remote agents, so it never made one)", (long long)retry);
        goto out;
    }
    first = (int64_t)json_integer_value(json_array_get(agents, 0));
    agent_refusal(req, resp, 0, first);
out:
    json_decref(body);
}

const struct api_route api_routes_agents[] = {
    { "GET", "/v2/data-protect/agents/upgrade-tasks", tasks_list, 0, API_ROLE_VIEWER },
    { "POST", "/v2/data-protect/agents/upgrade-tasks", task_create, 0, API_ROLE_ADMIN },
    { NULL, NULL, NULL, 0, 0 },
};
