/* e2e_upgrade_tasks.c: agent upgrade tasks (GetUpgradeTasks / CreateUpgradeTask) against the real
 * daemon, with the heartbeat side (svc_agent_upgrade_heartbeat, which the agent protocol's heartbeat
 * handler calls) driven directly on the daemon's own catalog, opened by this process beside it.
 * Connectors are rows of the catalog's connectors table, as a registration makes them.
 *   - validation: agentIDs missing/empty/not positive integers, an id that is no connector of the
 *     tenant (another tenant's, or none) is a 400 naming agentIDs[i]; the window's checks; a retry of
 *     an unknown task 404, with agentIDs 400; nothing is created by a refused request;
 *   - a task of three agents: an old agent gets a directive (the script package's SHA-256 and size,
 *     the task id, this version) and is Started with its previous version, the task Running; an agent
 *     already current is Skipped; a reported success of an agent now current is Succeeded, a reported
 *     failure Failed with the agent's error; the task ends PartiallyFailed and is retryable;
 *   - Retry: a new task of type Retry for the failed agent only; the agent coming back current ends it
 *     Succeeded; retrying a Succeeded task is refused;
 *   - an agent reporting success while still at the old version is Failed (no endless re-upgrade);
 *   - a task scheduled later gives nothing before its time and a directive after;
 *   - a window that passes: agents not upgraded Failed with "schedule window ended", the task
 *     PartiallyFailed (one skipped) or Failed (none upgraded); a heartbeat after the window gets
 *     nothing and settles its task even before anyone lists;
 *   - a task whose every connector is deleted before it runs is Canceled; in a running task a deleted
 *     agent fails ("deleted") and the others go on;
 *   - no package on the server: the agent fails with a message saying how to build it;
 *   - tasks are per tenant (ids filter, another tenant sees none);
 *   - the agent's side (agentd_upgrade_apply) with the directive: a forked "agent" whose binary is an
 *     old stand-in downloads the package from the daemon with an Agent key, checks it, replaces its
 *     binary (then byte for byte build/coffer-agent, --version this version) and re-executes it; its
 *     report (agentd_upgrade_report, given once) in the next heartbeat ends the task Succeeded; a
 *     directive whose SHA-256 is wrong is refused, changes nothing and ends the task Failed with the
 *     reason; a wrong credential is -EACCES.
 * agentd_log (the agent core's) is a weak double here writing to stderr. */
#include "catalog/cat.h"
#include "catalog/cat_connection.h"
#include "catalog/cat_upgrade.h"
#include "check.h"
#include "e2e/harness.h"
#include "e2e/pgtest.h"
#include "agentd/agentd.h"
#include "svc/agent_upgrade.h"
#include "util/time.h"
#include <glob.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <unistd.h>

#define TASKS "/v2/data-protect/agents/upgrade-tasks"
#define T "upg-a"
#define U "upg-b"
#define OLD "0.8.0"

static struct daemon d;
static struct cat *cat;
static char *g_tmp;
static char pkg_sha[65];
static long long pkg_size;

__attribute__((weak)) void agentd_log(enum agentd_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "agent log %d: ", (int)lvl);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int add_connector(const char *tenant, const char *conn, const char *id)
{
    struct cat_connector c = { (char *)id, (char *)conn, (char *)id, json_pack("{s:s}", "connectorName", id) };
    int rc = cat_connector_insert(cat, tenant, &c);
    json_decref(c.doc);
    return rc;
}

static long post(const char *body, json_t **out)
{
    struct http_resp r;
    long st;
    if (http(&d, "POST", TASKS, T, body, &r) != 0) return -1;
    st = r.status;
    if (out) *out = json_incref(r.json);
    if (st != 201) fprintf(stderr, "POST %s: %ld %s\n", body, st, r.body);
    http_resp_release(&r);
    return st;
}

/* refused: POST body answers status with a message holding want. Nothing is checked as created here. */
static int refused(const char *body, long status, const char *want)
{
    struct http_resp r;
    const char *m;
    int ok;
    if (http(&d, "POST", TASKS, T, body, &r) != 0) return 0;
    m = jstr(r.json, "message");
    ok = r.status == status && m && strstr(m, want);
    if (!ok) fprintf(stderr, "POST %s: %ld %s (want %ld '%s')\n", body ? body : "", r.status, r.body, status, want);
    http_resp_release(&r);
    return ok;
}

/* task: GET ?ids=id in tenant; the task object (new ref) or NULL. */
static json_t *task(const char *tenant, long long id)
{
    struct http_resp r;
    json_t *t = NULL;
    if (http(&d, "GET", jfmt(TASKS "?ids=%lld", id), tenant, NULL, &r) != 0) return NULL;
    if (r.status == 200 && json_array_size(jget(r.json, "tasks")) == 1)
        t = json_incref(json_array_get(jget(r.json, "tasks"), 0));
    else
        fprintf(stderr, "GET task %lld: %ld %s\n", id, r.status, r.body);
    http_resp_release(&r);
    return t;
}

static size_t task_count(const char *tenant)
{
    struct http_resp r;
    size_t n = (size_t)-1;
    if (http(&d, "GET", TASKS, tenant, NULL, &r) != 0) return n;
    if (r.status == 200) n = json_array_size(jget(r.json, "tasks"));
    http_resp_release(&r);
    return n;
}

/* agent_info: the AgentInfoObject of agent in task t (borrowed). */
static json_t *agent_info(json_t *t, long long agent)
{
    size_t i;
    json_t *a;
    json_array_foreach(jget(t, "agents"), i, a) {
        if (jint(a, "id") == agent) return jget(a, "info");
    }
    return NULL;
}

static int has_status(json_t *t, const char *status)
{
    const char *s = jstr(t, "status");
    if (s && strcmp(s, status) == 0) return 1;
    fprintf(stderr, "task status '%s', want '%s': %s\n", s ? s : "", status, json_dumps(t, JSON_COMPACT));
    return 0;
}

static int agent_status(json_t *t, long long agent, const char *status)
{
    const char *s = jstr(agent_info(t, agent), "status");
    if (s && strcmp(s, status) == 0) return 1;
    fprintf(stderr, "agent %lld status '%s', want '%s'\n", agent, s ? s : "", status);
    return 0;
}

static json_t *beat(const char *agent, const char *version, json_t *report, int64_t now)
{
    json_t *dir = svc_agent_upgrade_heartbeat(cat, T, agent, version, report, now);
    json_decref(report);
    return dir;
}

TEST(setup)
{
    struct http_resp r;
    char conn[64], path[600];
    glob_t g;
    /* the packages of the tree, as the daemon finds them beside itself */
    CHECK(glob("build/agent/coffer-agent_" COFFER_VERSION "_*.sh", 0, NULL, &g) == 0 && g.gl_pathc == 1);
    {
        FILE *f = fopen(g.gl_pathv[0], "rb");
        static unsigned char buf[8 << 20];
        unsigned char md[32];
        unsigned len = 0;
        size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f) fclose(f);
        EVP_Digest(buf, n, md, &len, EVP_sha256(), NULL);
        for (int i = 0; i < 32; i++) snprintf(pkg_sha + 2 * i, 3, "%02x", md[i]);
        pkg_size = (long long)n;
    }
    globfree(&g);
    CHECK(setenv("COFFER_AGENT_PACKAGES", "build/agent", 1) == 0);
    CHECK(http(&d, "POST", "/v2/data-source-connections", T, "{\"connectionName\":\"hosts\"}", &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    snprintf(conn, sizeof conn, "%s", jstr(r.json, "connectionId") ? jstr(r.json, "connectionId") : "1");
    http_resp_release(&r);
    snprintf(path, sizeof path, "%s/catalog.db", d.data_dir);
    {
        char err[256];
        CHECKF(cat_open(pgtest_cat(path), &cat, err, sizeof err) == 0, "%s", err);
    }
    CHECK_EQ_INT(add_connector(T, conn, "101"), 0);
    CHECK_EQ_INT(add_connector(T, conn, "102"), 0);
    CHECK_EQ_INT(add_connector(T, conn, "103"), 0);
    CHECK_EQ_INT(add_connector(T, conn, "104"), 0);
    CHECK_EQ_INT(add_connector(U, "other", "201"), 0);
}

TEST(validation_names_the_field_and_creates_nothing)
{
    int64_t now = util_time_real();
    struct http_resp r;
    CHECK(refused("{}", 400, "agentIDs"));
    CHECK(refused("{\"agentIDs\":[]}", 400, "agentIDs"));
    CHECK(refused("{\"agentIDs\":101}", 400, "agentIDs"));
    CHECK(refused("{\"agentIDs\":[\"101\"]}", 400, "agentIDs[0]"));
    CHECK(refused("{\"agentIDs\":[101,0]}", 400, "agentIDs[1]"));
    CHECK(refused("{\"agentIDs\":[101,-3]}", 400, "agentIDs[1]"));
    CHECK(refused("{\"agentIDs\":[101,999]}", 400, "field 'agentIDs[1]': no agent"));
    CHECK(refused("{\"agentIDs\":[201]}", 400, "field 'agentIDs[0]': no agent")); /* tenant U's connector */
    CHECK(refused("{\"agentIDs\":[101],\"name\":7}", 400, "'name'"));
    CHECK(refused("{\"agentIDs\":[101],\"description\":false}", 400, "'description'"));
    CHECK(refused("{\"agentIDs\":[101],\"scheduleTimeUsecs\":-1}", 400, "scheduleTimeUsecs"));
    CHECK(refused("{\"agentIDs\":[101],\"scheduleTimeUsecs\":\"soon\"}", 400, "scheduleTimeUsecs"));
    CHECK(refused(jfmt("{'agentIDs':[101],'scheduleTimeUsecs':%lld,'scheduleEndTimeUsecs':%lld}",
                       (long long)now + 200000000, (long long)now + 100000000), 400, "scheduleEndTimeUsecs"));
    CHECK(refused("{\"agentIDs\":[101],\"scheduleEndTimeUsecs\":1000}", 400, "already past"));
    CHECK(refused("{\"retryTaskId\":\"x\"}", 400, "retryTaskId"));
    CHECK(refused("{\"retryTaskId\":0}", 400, "retryTaskId"));
    CHECK(refused("{\"retryTaskId\":987}", 404, "no upgrade task with id 987"));
    CHECK(refused("{\"retryTaskId\":987,\"agentIDs\":[101]}", 400, "agentIDs"));
    CHECK(refused("{\"agentIDs\":[101", 400, ""));
    CHECK(refused(NULL, 400, ""));
    CHECK(http(&d, "GET", TASKS "?ids=1,two", T, NULL, &r) == 0);
    CHECKF(r.status == 400 && strstr(jstr(r.json, "message"), "ids"), "%ld %s", r.status, r.body);
    http_resp_release(&r);
    CHECK(http(&d, "GET", TASKS, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    http_resp_release(&r);
    CHECK_EQ_INT(task_count(T), 0);
}

static long long first_task;

TEST(a_task_runs_to_partially_failed)
{
    json_t *t = NULL, *dir;
    int64_t now = util_time_real();
    long long id;
    CHECK_EQ_INT(post("{\"agentIDs\":[101,102,103,102],\"name\":\"to 0.9\",\"description\":\"all hosts\"}", &t), 201);
    id = jint(t, "id");
    first_task = id;
    CHECK(id > 0 && has_status(t, "Scheduled") && strcmp(jstr(t, "type"), "Manual") == 0);
    CHECK(strcmp(jstr(t, "name"), "to 0.9") == 0 && strcmp(jstr(t, "description"), "all hosts") == 0);
    CHECK(strcmp(jstr(t, "clusterVersion"), COFFER_VERSION) == 0);
    CHECK_EQ_INT(json_array_size(jget(t, "agentIDs")), 3); /* the repeated 102 once */
    CHECK(agent_status(t, 101, "Scheduled") && agent_status(t, 102, "Scheduled") && agent_status(t, 103, "Scheduled"));
    json_decref(t);
    /* 101 is old: a directive, Started, the task Running */
    dir = beat("101", OLD, NULL, now);
    CHECKF(dir && jint(dir, "taskId") == id && strcmp(jstr(dir, "version"), COFFER_VERSION) == 0 &&
           strcmp(jstr(dir, "sha256"), pkg_sha) == 0 && jint(dir, "size") == pkg_size &&
           strcmp(jstr(dir, "path"), "/v2/coffer/agents/package?type=script") == 0 && jstr(dir, "deb.sha256"),
           "%s", dir ? json_dumps(dir, JSON_COMPACT) : "no directive");
    json_decref(dir);
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "Running") && agent_status(t, 101, "Started") && jint(t, "startTimeUsecs") == now);
    CHECK(strcmp(jstr(agent_info(t, 101), "previousSoftwareVersion"), OLD) == 0);
    json_decref(t);
    /* 102 is current: Skipped, no directive */
    CHECK(beat("102", COFFER_VERSION, NULL, now) == NULL);
    /* 101 reports success at the new version */
    CHECK(beat("101", COFFER_VERSION, json_pack("{s:I,s:s,s:s}", "taskId", (json_int_t)id, "status", "Succeeded",
                                                "version", COFFER_VERSION), now + 1000) == NULL);
    /* 103: directive, then it reports a failure */
    CHECK((dir = beat("103", OLD, NULL, now + 2000)) != NULL);
    json_decref(dir);
    CHECK(beat("103", OLD, json_pack("{s:I,s:s,s:s}", "taskId", (json_int_t)id, "status", "Failed", "error",
                                     "no space left on device"), now + 3000) == NULL);
    /* unknown or malformed connectors get nothing */
    CHECK(beat("999", OLD, NULL, now) == NULL);
    CHECK(beat("abc", OLD, NULL, now) == NULL);
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "PartiallyFailed") && json_is_true(jget(t, "isRetryable")) && jint(t, "endTimeUsecs") == now + 3000);
    CHECK(agent_status(t, 101, "Succeeded") && agent_status(t, 102, "Skipped") && agent_status(t, 103, "Failed"));
    CHECK(strstr(jstr(agent_info(t, 103), "error.message"), "no space left on device") != NULL);
    CHECK(strstr(jstr(agent_info(t, 102), "error.message"), "already at version") != NULL);
    CHECK(jint(agent_info(t, 101), "endTimeUsecs") == now + 1000);
    json_decref(t);
}

TEST(retry_reruns_the_failed_agents)
{
    json_t *t = NULL, *dir;
    int64_t now = util_time_real();
    long long id;
    CHECK(first_task > 0);
    CHECK_EQ_INT(post(jfmt("{'retryTaskId':%lld,'name':'again'}", first_task), &t), 201);
    id = jint(t, "id");
    CHECK(id > first_task && strcmp(jstr(t, "type"), "Retry") == 0 && jint(t, "retriedTaskID") == first_task);
    CHECKF(json_array_size(jget(t, "agentIDs")) == 1 && json_integer_value(json_array_get(jget(t, "agentIDs"), 0)) == 103,
           "%s", json_dumps(t, JSON_COMPACT));
    json_decref(t);
    CHECK((dir = beat("103", OLD, NULL, now)) != NULL);
    CHECK_EQ_INT(jint(dir, "taskId"), id);
    json_decref(dir);
    /* it comes back upgraded (the re-executed agent reports its new version) */
    CHECK(beat("103", COFFER_VERSION, NULL, now + 5000) == NULL);
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "Succeeded") && agent_status(t, 103, "Succeeded") && !json_is_true(jget(t, "isRetryable")));
    CHECK(strcmp(jstr(agent_info(t, 103), "previousSoftwareVersion"), OLD) == 0);
    json_decref(t);
    CHECK(refused(jfmt("{'retryTaskId':%lld}", id), 400, "only a Failed or PartiallyFailed task"));
}

TEST(a_success_at_the_old_version_is_a_failure)
{
    json_t *t = NULL, *dir;
    int64_t now = util_time_real();
    long long id;
    CHECK_EQ_INT(post("{\"agentIDs\":[101]}", &t), 201);
    id = jint(t, "id");
    json_decref(t);
    CHECK((dir = beat("101", OLD, NULL, now)) != NULL);
    json_decref(dir);
    /* the agent says it installed the package but comes back at the old version: no second round */
    CHECK(beat("101", OLD, json_pack("{s:I,s:s,s:s}", "taskId", (json_int_t)id, "status", "Succeeded", "version",
                                     COFFER_VERSION), now + 1000) == NULL);
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "Failed") && agent_status(t, 101, "Failed"));
    CHECK(strstr(jstr(agent_info(t, 101), "error.message"), "still runs version " OLD) != NULL);
    json_decref(t);
}

TEST(a_later_schedule_waits_for_its_time)
{
    json_t *t = NULL, *dir;
    int64_t now = util_time_real(), at = now + 3600LL * 1000000;
    long long id;
    CHECK_EQ_INT(post(jfmt("{'agentIDs':[101],'scheduleTimeUsecs':%lld}", (long long)at), &t), 201);
    id = jint(t, "id");
    json_decref(t);
    CHECK(beat("101", OLD, NULL, now) == NULL);
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "Scheduled") && agent_status(t, 101, "Scheduled"));
    json_decref(t);
    CHECK((dir = beat("101", OLD, NULL, at + 1)) != NULL);
    CHECK_EQ_INT(jint(dir, "taskId"), id);
    json_decref(dir);
    CHECK(beat("101", COFFER_VERSION, NULL, at + 2) == NULL);
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "Succeeded"));
    json_decref(t);
}

TEST(a_passed_window_fails_the_rest)
{
    json_t *t = NULL, *t2 = NULL, *dir;
    int64_t now = util_time_real(), end = now + 1500000;
    long long id, id2, id3;
    CHECK_EQ_INT(post(jfmt("{'agentIDs':[101,102],'scheduleEndTimeUsecs':%lld}", (long long)end), &t), 201);
    id = jint(t, "id");
    json_decref(t);
    CHECK_EQ_INT(post(jfmt("{'agentIDs':[103],'scheduleEndTimeUsecs':%lld}", (long long)end), &t2), 201);
    id2 = jint(t2, "id");
    json_decref(t2);
    CHECK_EQ_INT(post(jfmt("{'agentIDs':[104],'scheduleEndTimeUsecs':%lld}", (long long)end), &t2), 201);
    id3 = jint(t2, "id");
    json_decref(t2);
    CHECK(beat("101", COFFER_VERSION, NULL, now) == NULL); /* skipped */
    CHECK((dir = beat("102", OLD, NULL, now)) != NULL);    /* started, never comes back */
    json_decref(dir);
    for (int i = 0; i < 50 && util_time_real() <= end + 100000; i++) usleep(100 * 1000);
    /* a heartbeat after the window, before anyone lists: nothing, and its task is settled by it */
    CHECK(beat("104", OLD, NULL, util_time_real()) == NULL);
    {
        struct cat_upgrade_task ct;
        CHECK_EQ_INT(cat_upgrade_task_get(cat, T, id3, &ct), 0);
        CHECKF(strcmp(ct.status, "Failed") == 0, "%s", ct.status);
        cat_upgrade_task_release(&ct);
    }
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "PartiallyFailed") && agent_status(t, 101, "Skipped") && agent_status(t, 102, "Failed"));
    CHECK(strstr(jstr(agent_info(t, 102), "error.message"), "schedule window ended") != NULL);
    CHECK(strstr(jstr(t, "error.message"), "not upgraded") != NULL);
    json_decref(t);
    CHECK((t = task(T, id2)) != NULL);
    CHECK(has_status(t, "Failed") && agent_status(t, 103, "Failed"));
    json_decref(t);
    /* the agent that comes too late gets nothing */
    CHECK(beat("102", OLD, NULL, util_time_real()) == NULL);
}

TEST(a_task_whose_agents_are_deleted_is_canceled)
{
    json_t *t = NULL;
    struct http_resp r;
    long long id;
    int64_t at = util_time_real() + 3600LL * 1000000;
    CHECK_EQ_INT(post(jfmt("{'agentIDs':[104],'scheduleTimeUsecs':%lld}", (long long)at), &t), 201);
    id = jint(t, "id");
    json_decref(t);
    CHECK(http(&d, "DELETE", "/v2/data-source-connectors/104", T, NULL, &r) == 0);
    CHECKF(r.status == 204 || r.status == 200, "%ld %s", r.status, r.body);
    http_resp_release(&r);
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "Canceled") && strstr(jstr(t, "error.message"), "deleted") != NULL);
    json_decref(t);
    /* and a deleted connector can no longer be named */
    CHECK(refused("{\"agentIDs\":[104]}", 400, "agentIDs[0]"));
    /* in a running task, a deleted agent fails and the rest goes on */
    CHECK_EQ_INT(add_connector(T, "1", "106"), 0);
    CHECK_EQ_INT(add_connector(T, "1", "107"), 0);
    CHECK_EQ_INT(post("{\"agentIDs\":[106,107]}", &t), 201);
    id = jint(t, "id");
    json_decref(t);
    {
        json_t *dir = beat("106", OLD, NULL, util_time_real());
        CHECK(dir != NULL);
        json_decref(dir);
    }
    CHECK(http(&d, "DELETE", "/v2/data-source-connectors/107", T, NULL, &r) == 0);
    CHECKF(r.status == 204 || r.status == 200, "%ld %s", r.status, r.body);
    http_resp_release(&r);
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "Running") && agent_status(t, 106, "Started") && agent_status(t, 107, "Failed"));
    CHECK(strstr(jstr(agent_info(t, 107), "error.message"), "deleted") != NULL);
    json_decref(t);
    CHECK(beat("106", COFFER_VERSION, NULL, util_time_real()) == NULL);
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "PartiallyFailed") && agent_status(t, 106, "Succeeded"));
    json_decref(t);
}

TEST(no_package_fails_the_agent_with_how_to_build_it)
{
    json_t *t = NULL;
    char empty[600];
    long long id;
    snprintf(empty, sizeof empty, "%s/empty", g_tmp);
    CHECK(mkdir(empty, 0700) == 0);
    CHECK_EQ_INT(post("{\"agentIDs\":[102]}", &t), 201);
    id = jint(t, "id");
    json_decref(t);
    CHECK(setenv("COFFER_AGENT_PACKAGES", empty, 1) == 0);
    CHECK(beat("102", OLD, NULL, util_time_real()) == NULL);
    CHECK(setenv("COFFER_AGENT_PACKAGES", "build/agent", 1) == 0);
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "Failed") && agent_status(t, 102, "Failed"));
    CHECK(strstr(jstr(agent_info(t, 102), "error.message"), "make agent-packages") != NULL);
    json_decref(t);
}

TEST(tasks_are_per_tenant)
{
    struct http_resp r;
    CHECK(task_count(T) >= 6);
    CHECK_EQ_INT(task_count(U), 0);
    CHECK(http(&d, "GET", jfmt(TASKS "?ids=%lld", first_task), U, NULL, &r) == 0);
    CHECK(r.status == 200 && json_array_size(jget(r.json, "tasks")) == 0);
    http_resp_release(&r);
    CHECK(http(&d, "GET", jfmt(TASKS "?ids=%lld", first_task + 1000), T, NULL, &r) == 0);
    CHECK(r.status == 200 && json_array_size(jget(r.json, "tasks")) == 0);
    http_resp_release(&r);
    /* U's own connector works in U */
    CHECK(http(&d, "POST", TASKS, U, "{\"agentIDs\":[201]}", &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    http_resp_release(&r);
    CHECK_EQ_INT(task_count(U), 1);
}

static char agent_key[160];

/* files_equal_bytes: path holds the same bytes as build/coffer-agent. */
static int is_built_agent(const char *path) { return check_files_equal(path, "build/coffer-agent"); }

TEST(the_agent_upgrades_itself)
{
    struct http_resp r;
    json_t *t = NULL, *dir, *rep;
    char state[600], bin[700], bindir[600], how[800], errf[700], out[256] = "", err[512];
    struct agentd_state st;
    long long id;
    int status = 0, done = 0;
    pid_t pid;
    FILE *f;
    CHECK(http(&d, "POST", "/v2/coffer/keys", NULL, jfmt("{'name':'agent 105','tenantId':'%s','roles':['Agent']}", T),
               &r) == 0);
    CHECKF(r.status == 201 && jstr(r.json, "secret"), "%ld %s", r.status, r.body);
    snprintf(agent_key, sizeof agent_key, "%s", jstr(r.json, "secret"));
    http_resp_release(&r);
    CHECK_EQ_INT(add_connector(T, "1", "105"), 0);
    /* the agent's state and its old binary, installed by the kScript installer */
    snprintf(state, sizeof state, "%s/agent-state", g_tmp);
    snprintf(bindir, sizeof bindir, "%s/agent-bin", g_tmp);
    snprintf(bin, sizeof bin, "%s/coffer-agent", bindir);
    CHECK(mkdir(state, 0700) == 0 && mkdir(bindir, 0755) == 0);
    CHECK((f = fopen(bin, "w")) != NULL);
    fputs("#!/bin/sh\necho coffer-agent " OLD "\n", f);
    CHECK(fclose(f) == 0 && chmod(bin, 0755) == 0);
    snprintf(how, sizeof how, "%s/installed-by", state);
    CHECK((f = fopen(how, "w")) != NULL);
    fprintf(f, "script %s\n", bin);
    CHECK(fclose(f) == 0);
    st = (struct agentd_state){ state, d.base, NULL, "105", T, agent_key };
    CHECK_EQ_INT(post("{\"agentIDs\":[105],\"name\":\"self-upgrade\"}", &t), 201);
    id = jint(t, "id");
    json_decref(t);
    CHECK((dir = beat("105", OLD, NULL, util_time_real())) != NULL);
    /* the agent: applies the directive and becomes the new binary (which, given the test's own
     * arguments, prints its usage and exits); returning means it failed */
    snprintf(errf, sizeof errf, "%s/agent.err", g_tmp);
    fflush(NULL);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        char e[512];
        FILE *ef = freopen(errf, "w", stderr);
        (void)ef;
        if (agentd_upgrade_apply(&st, dir, e, sizeof e) != 0) fprintf(stderr, "APPLY-FAILED: %s\n", e);
        fflush(stderr);
        _exit(10);
    }
    for (int i = 0; i < 600 && !done; i++) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) done = 1;
        else usleep(100 * 1000);
    }
    if (!done) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    json_decref(dir);
    {
        FILE *ef = fopen(errf, "r");
        size_t n = ef ? fread(out, 1, sizeof out - 1, ef) : 0;
        out[n] = '\0';
        if (ef) fclose(ef);
    }
    CHECKF(done && WIFEXITED(status) && WEXITSTATUS(status) != 10 && !strstr(out, "APPLY-FAILED"),
           "the agent did not re-execute: status %d, stderr '%s'", status, out);
    CHECK(is_built_agent(bin));
    {
        char cmd[800], v[128] = "";
        FILE *p;
        snprintf(cmd, sizeof cmd, "'%s' --version", bin);
        CHECK((p = popen(cmd, "r")) != NULL);
        if (!fgets(v, sizeof v, p)) v[0] = '\0';
        pclose(p);
        CHECKF(strcmp(v, "coffer-agent " COFFER_VERSION "\n") == 0, "'%s'", v);
    }
    /* the new agent's first heartbeat carries the report, once */
    CHECK((rep = agentd_upgrade_report(&st)) != NULL);
    CHECK(jint(rep, "taskId") == id && strcmp(jstr(rep, "status"), "Succeeded") == 0);
    CHECK(agentd_upgrade_report(&st) == NULL);
    CHECK(beat("105", COFFER_VERSION, rep, util_time_real()) == NULL);
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "Succeeded") && agent_status(t, 105, "Succeeded"));
    CHECK(strcmp(jstr(agent_info(t, 105), "previousSoftwareVersion"), OLD) == 0);
    json_decref(t);

    /* a directive whose digest does not match what the server sends: refused, nothing replaced */
    CHECK_EQ_INT(post("{\"agentIDs\":[105]}", &t), 201);
    id = jint(t, "id");
    json_decref(t);
    CHECK((dir = beat("105", OLD, NULL, util_time_real())) != NULL);
    json_object_set_new(dir, "sha256", json_string("00000000000000000000000000000000000000000000000000000000000000ff"));
    CHECK((f = fopen(bin, "w")) != NULL);
    fputs("#!/bin/sh\necho coffer-agent " OLD "\n", f);
    CHECK(fclose(f) == 0);
    CHECK(agentd_upgrade_apply(&st, dir, err, sizeof err) == -EBADMSG);
    CHECKF(strstr(err, "SHA-256") != NULL, "%s", err);
    CHECK(!is_built_agent(bin));
    {
        char p[700];
        snprintf(p, sizeof p, "%s/upgrade.download", state);
        CHECK(access(p, F_OK) != 0); /* the refused download is not kept */
    }
    /* a wrong credential */
    st.credential = "cfk_0000000000000000_00";
    json_object_set_new(dir, "sha256", json_string(pkg_sha));
    CHECK(agentd_upgrade_apply(&st, dir, err, sizeof err) == -EACCES);
    st.credential = agent_key;
    json_decref(dir);
    CHECK(!is_built_agent(bin));
    CHECK((rep = agentd_upgrade_report(&st)) != NULL);
    CHECK(strcmp(jstr(rep, "status"), "Failed") == 0 && jint(rep, "taskId") == id);
    CHECK(beat("105", OLD, rep, util_time_real()) == NULL);
    CHECK((t = task(T, id)) != NULL);
    CHECK(has_status(t, "Failed") && agent_status(t, 105, "Failed"));
    CHECKF(strstr(jstr(agent_info(t, 105), "error.message"), "answered 401") != NULL, "%s",
           jstr(agent_info(t, 105), "error.message"));
    json_decref(t);
}

int main(void)
{
    int rc;
    g_tmp = check_tmpdir("upgrade-tasks");
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(setup);
    if (!cat) check_abandon("no catalog");
    RUN(validation_names_the_field_and_creates_nothing);
    RUN(a_task_runs_to_partially_failed);
    RUN(retry_reruns_the_failed_agents);
    RUN(a_success_at_the_old_version_is_a_failure);
    RUN(a_later_schedule_waits_for_its_time);
    RUN(a_passed_window_fails_the_rest);
    RUN(a_task_whose_agents_are_deleted_is_canceled);
    RUN(no_package_fails_the_agent_with_how_to_build_it);
    RUN(tasks_are_per_tenant);
    RUN(the_agent_upgrades_itself);
    if (cat) cat_close(cat);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    rc = check_finish();
    check_rm_rf(g_tmp);
    free(g_tmp);
    return rc;
}
