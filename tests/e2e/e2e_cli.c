/* e2e_cli.c: the `coffer` command-line client against the real daemon. Each test runs the CLI binary
 * (build/asan/coffer, or $COFFER_CLI; never a non-sanitizer fallback) as a subprocess with COFFER_URL and
 * COFFER_KEY pointing at a daemon started by the harness, captures its stdout, stderr and exit
 * status, and checks them against what the server holds (read back over HTTP with the harness). */
#include "check.h"
#include "e2e/harness.h"
#include "e2e/clirun.h"
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct daemon d;
static char url[128];
static char *tmp;

/* The last run and the last HTTP answer live here, so a CHECK that ends a test early leaks nothing:
 * each new call releases the previous one. */
static struct cli_run last_run;
static struct http_resp last_http;

/* get: GET path on the daemon as tenant "default"; the answer stays valid until the next get. */
static struct http_resp *get(const char *path)
{
    http_resp_release(&last_http);
    if (http(&d, "GET", path, "default", NULL, &last_http) != 0) last_http.status = -1;
    return &last_http;
}

/* cli_key: runs the CLI with the words given (NULL-terminated) and key (NULL = the daemon's key);
 * the result stays valid until the next run. */
static struct cli_run *cli_key(const char *key, const char *first, ...)
{
    struct cli_env e = { .tmp = tmp, .url = url, .key = key ? key : HARNESS_KEY };
    va_list ap;
    va_start(ap, first);
    clirun_v(&last_run, &e, first, ap);
    va_end(ap);
    return &last_run;
}
#define cli(...) cli_key(NULL, __VA_ARGS__, (const char *)NULL)

static char policy_id[256];
static const char policy_name[] = "cli-policy-nightly";

TEST(create_policy_via_cli)
{
    struct cli_run *r;
    struct http_resp *h;
    char path[512];
    const char *p;
    r = cli("policy", "create", "--name", policy_name, "--retention-days", "7", "--every-hours", "6");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    p = strstr(r->out, "created policy ");
    CHECKF(p != NULL, "stdout: %s", r->out);
    p += strlen("created policy ");
    snprintf(policy_id, sizeof policy_id, "%.*s", (int)strcspn(p, " \n"), p);
    CHECK(policy_id[0] != '\0');
    /* the server holds what the flags said */
    snprintf(path, sizeof path, "/v2/data-protect/policies/%s", policy_id);
    h = get(path);
    CHECKF(h->status == 200, "GET %s: %ld %s", path, h->status, h->body);
    CHECK(jstr(h->json, "name") && strcmp(jstr(h->json, "name"), policy_name) == 0);
    CHECK_EQ_INT(jint(h->json, "backupPolicy.regular.retention.duration"), 7);
    CHECK(jstr(h->json, "backupPolicy.regular.retention.unit") &&
          strcmp(jstr(h->json, "backupPolicy.regular.retention.unit"), "Days") == 0);
    CHECK(jstr(h->json, "backupPolicy.regular.incremental.schedule.unit") &&
          strcmp(jstr(h->json, "backupPolicy.regular.incremental.schedule.unit"), "Hours") == 0);
    CHECK_EQ_INT(jint(h->json, "backupPolicy.regular.incremental.schedule.hourSchedule.frequency"), 6);
}

TEST(list_shows_the_policy_in_a_table)
{
    struct cli_run *r;
    r = cli("policy", "list");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    CHECKF(strncmp(r->out, "ID", 2) == 0 && strstr(r->out, "NAME") != NULL, "no header: %s", r->out);
    CHECKF(strstr(r->out, policy_name) != NULL, "name missing from: %s", r->out);
    CHECKF(policy_id[0] && strstr(r->out, policy_id) != NULL, "id missing from: %s", r->out);
    CHECKF(strstr(r->out, "every 6 hours") != NULL && strstr(r->out, "7 days") != NULL, "table: %s", r->out);
}

TEST(json_output_parses_and_carries_the_id)
{
    struct cli_run *r;
    json_t *j, *list;
    int found = 0;
    r = cli("--json", "policy", "list");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    j = json_loads(r->out, 0, NULL);
    CHECKF(j != NULL, "not JSON: %s", r->out);
    list = json_object_get(j, "policies");
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *p = json_array_get(list, i);
        if (jstr(p, "id") && strcmp(jstr(p, "id"), policy_id) == 0) {
            found = 1;
            CHECK(jstr(p, "name") && strcmp(jstr(p, "name"), policy_name) == 0);
        }
    }
    json_decref(j);
    CHECK(found);
    /* --json may also follow the command, and get prints the one policy */
    r = cli("policy", "get", policy_id, "--json");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    j = json_loads(r->out, 0, NULL);
    CHECKF(j != NULL, "not JSON: %s", r->out);
    CHECK(jstr(j, "id") && strcmp(jstr(j, "id"), policy_id) == 0);
    json_decref(j);
}

TEST(bad_commands_exit_2)
{
    struct cli_run *r;
    r = cli("policy", "frobnicate");
    CHECK_EQ_INT(r->status, 2);
    CHECKF(strstr(r->err, "usage") != NULL, "stderr: %s", r->err);
    r = cli("nosuchnoun");
    CHECK_EQ_INT(r->status, 2);
    r = cli("policy", "create", "--retention-days", "7"); /* no --name */
    CHECK_EQ_INT(r->status, 2);
    CHECKF(strstr(r->err, "--name") != NULL, "stderr: %s", r->err);
    r = cli("policy", "create", "--name", "x", "--every-hours", "often");
    CHECK_EQ_INT(r->status, 2);
    r = cli("policy", "get"); /* missing ID */
    CHECK_EQ_INT(r->status, 2);
    r = cli("policy", "list", "--no-such-option");
    CHECK_EQ_INT(r->status, 2);
    r = cli("help");
    CHECK_EQ_INT(r->status, 0);
    CHECK(strstr(r->out, "policy create") != NULL);
}

TEST(unknown_id_exits_1_with_the_server_message)
{
    struct cli_run *r;
    struct http_resp *h;
    char id[300], path[512];
    const char *colon = strrchr(policy_id, ':');
    const char *msg;
    /* an id of the right shape (this cluster and incarnation) that names nothing */
    CHECK(colon != NULL);
    snprintf(id, sizeof id, "%.*s:987654321", (int)(colon - policy_id), policy_id);
    snprintf(path, sizeof path, "/v2/data-protect/policies/%s", id);
    h = get(path);
    CHECK_EQ_INT(h->status, 404);
    msg = jstr(h->json, "message");
    CHECK(msg != NULL && *msg);
    r = cli("policy", "get", id);
    CHECK_EQ_INT(r->status, 1);
    CHECKF(strstr(r->err, msg) != NULL, "stderr %s lacks the server's message %s", r->err, msg);
    CHECK(r->out[0] == '\0');
    r = cli("policy", "delete", id);
    CHECK_EQ_INT(r->status, 1);
    CHECK(strstr(r->err, "HTTP 404") != NULL);
}

TEST(wrong_key_exits_1_with_the_401_message)
{
    struct cli_run *r;
    r = cli_key("not-the-key", "policy", "list", (const char *)NULL);
    CHECK_EQ_INT(r->status, 1);
    CHECKF(strstr(r->err, "Authorization") != NULL && strstr(r->err, "401") != NULL, "stderr: %s", r->err);
}

TEST(tenant_flag_scopes_the_list)
{
    struct cli_run *r;
    r = cli("--tenant", "cli-other-tenant", "policy", "list");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    CHECKF(strstr(r->out, policy_name) == NULL, "another tenant sees the policy: %s", r->out);
}

TEST(delete_policy_via_cli)
{
    struct cli_run *r;
    struct http_resp *h;
    char path[512];
    r = cli("policy", "delete", policy_id);
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    CHECK(strstr(r->out, "deleted policy") != NULL);
    snprintf(path, sizeof path, "/v2/data-protect/policies/%s", policy_id);
    h = get(path);
    CHECK_EQ_INT(h->status, 404);
}

/* json_of_run: the CLI's stdout parsed (owned by the caller), or NULL. */
static json_t *json_of_run(struct cli_run *r) { return json_loads(r->out, 0, NULL); }

static char group_policy[256];
static long long host_object;
static char group_id[256];

TEST(source_register_list_and_object_search)
{
    struct cli_run *r;
    json_t *j, *objs;
    r = cli("source", "register", "--endpoint", "localhost", "--host-type", "kLinux");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    CHECKF(strstr(r->out, "registered source ") != NULL, "stdout: %s", r->out);
    r = cli("source", "list");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    CHECKF(strstr(r->out, "ENDPOINT") != NULL && strstr(r->out, "localhost") != NULL, "table: %s", r->out);
    /* the host is an object a group can protect: find its id in the --json answer */
    r = cli("object", "search", "localhost", "--json");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    j = json_of_run(r);
    CHECKF(j != NULL, "not JSON: %s", r->out);
    objs = json_object_get(j, "objects");
    for (size_t i = 0; i < json_array_size(objs) && !host_object; i++) {
        json_t *o = json_array_get(objs, i);
        if (jstr(o, "objectType") && strcmp(jstr(o, "objectType"), "kHost") == 0) host_object = jint(o, "id");
    }
    json_decref(j);
    CHECKF(host_object > 0, "no kHost object in: %s", r->out);
    r = cli("object", "search");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    CHECKF(strstr(r->out, "kHost") != NULL, "table: %s", r->out);
}

TEST(group_create_pause_resume_delete)
{
    struct cli_run *r;
    struct http_resp *h;
    char path[512], obj[32];
    const char *p;
    json_t *fps;
    CHECK(host_object > 0);
    r = cli("policy", "create", "--name", "cli-group-policy");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    p = strstr(r->out, "created policy ");
    CHECK(p != NULL);
    p += strlen("created policy ");
    snprintf(group_policy, sizeof group_policy, "%.*s", (int)strcspn(p, " \n"), p);
    snprintf(obj, sizeof obj, "%lld", host_object);
    /* an exclusion outside every path is the user's mistake: 2, and nothing is sent */
    r = cli("group", "create", "--name", "cli-docs", "--policy", group_policy, "--source-object", obj, "--path",
            "/srv/docs", "--exclude", "/elsewhere");
    CHECK_EQ_INT(r->status, 2);
    /* the host is this machine, where /srv/docs need not exist: refused unless --allow-missing */
    r = cli("group", "create", "--name", "cli-docs", "--policy", group_policy, "--source-object", obj, "--path",
            "/srv/docs-nowhere-0c1f", "--path", "/srv/mail");
    CHECKF(r->status == 1 && strstr(r->err, "/srv/docs-nowhere-0c1f"), "exit %d, stderr: %s", r->status, r->err);
    r = cli("group", "create", "--name", "cli-docs", "--policy", group_policy, "--source-object", obj, "--path",
            "/srv/docs", "--path", "/srv/mail", "--exclude", "/srv/docs/tmp", "--allow-missing");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    p = strstr(r->out, "created group ");
    CHECKF(p != NULL, "stdout: %s", r->out);
    p += strlen("created group ");
    snprintf(group_id, sizeof group_id, "%.*s", (int)strcspn(p, " \n"), p);
    snprintf(path, sizeof path, "/v2/data-protect/protection-groups/%s", group_id);
    h = get(path);
    CHECKF(h->status == 200, "GET %s: %ld %s", path, h->status, h->body);
    CHECK(jstr(h->json, "policyId") && strcmp(jstr(h->json, "policyId"), group_policy) == 0);
    CHECK(jstr(h->json, "environment") && strcmp(jstr(h->json, "environment"), "kPhysical") == 0);
    CHECK(jstr(h->json, "physicalParams.protectionType") &&
          strcmp(jstr(h->json, "physicalParams.protectionType"), "kFile") == 0);
    fps = json_object_get(json_array_get(jget(h->json, "physicalParams.fileProtectionTypeParams.objects"), 0),
                          "filePaths");
    CHECK_EQ_INT(json_array_size(fps), 2);
    CHECK(strcmp(jstr(json_array_get(fps, 0), "includedPath"), "/srv/docs") == 0);
    CHECK(strcmp(json_string_value(json_array_get(json_object_get(json_array_get(fps, 0), "excludedPaths"), 0)),
                 "/srv/docs/tmp") == 0);
    CHECK(strcmp(jstr(json_array_get(fps, 1), "includedPath"), "/srv/mail") == 0);
    CHECK(json_array_size(json_object_get(json_array_get(fps, 1), "excludedPaths")) == 0);
    /* the table names the policy */
    r = cli("group", "list");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    CHECKF(strstr(r->out, "cli-docs") != NULL && strstr(r->out, "cli-group-policy") != NULL &&
           strstr(r->out, "active") != NULL, "table: %s", r->out);
    r = cli("group", "get", group_id);
    CHECKF(r->status == 0 && strstr(r->out, "/srv/docs/tmp") != NULL, "exit %d: %s%s", r->status, r->out, r->err);

    r = cli("group", "pause", group_id);
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    h = get(path);
    CHECK(h->status == 200 && json_is_true(jget(h->json, "isPaused")));
    /* pausing changed nothing else */
    CHECK(jstr(h->json, "name") && strcmp(jstr(h->json, "name"), "cli-docs") == 0);
    CHECK_EQ_INT(json_array_size(json_object_get(json_array_get(jget(h->json,
                 "physicalParams.fileProtectionTypeParams.objects"), 0), "filePaths")), 2);
    r = cli("group", "list");
    CHECKF(strstr(r->out, "paused") != NULL, "table: %s", r->out);
    r = cli("group", "resume", group_id);
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    h = get(path);
    CHECK(h->status == 200 && !json_is_true(jget(h->json, "isPaused")));

    /* the policy is in use: the server's 409 message reaches the user */
    r = cli("policy", "delete", group_policy);
    CHECK_EQ_INT(r->status, 1);
    CHECKF(strstr(r->err, "HTTP 409") != NULL, "stderr: %s", r->err);
    r = cli("group", "delete", group_id);
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    h = get(path);
    CHECK_EQ_INT(h->status, 404);
    r = cli("policy", "delete", group_policy);
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
}

TEST(connection_create_and_list)
{
    struct cli_run *r;
    r = cli("connection", "create", "cli-conn");
    CHECKF(r->status == 0, "exit %d, stderr: %s", r->status, r->err);
    CHECK(strstr(r->out, "created connection ") != NULL);
    r = cli("connection", "list");
    CHECKF(r->status == 0 && strstr(r->out, "cli-conn") != NULL, "exit %d: %s%s", r->status, r->out, r->err);
    r = cli("connection", "create", "cli-conn"); /* the name is taken */
    CHECK_EQ_INT(r->status, 1);
    CHECKF(strstr(r->err, "cli-conn") != NULL, "stderr: %s", r->err);
    r = cli("connection", "create"); /* no name */
    CHECK_EQ_INT(r->status, 2);
}

int main(void)
{
    if (access(clirun_bin(), X_OK) != 0) {
        check_fail(__FILE__, __LINE__, "no CLI binary at %s (make test-bin)", clirun_bin());
        return check_finish();
    }
    tmp = check_tmpdir("e2e-cli");
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    snprintf(url, sizeof url, "%s/v2", d.base);
    RUN(create_policy_via_cli);
    RUN(list_shows_the_policy_in_a_table);
    RUN(json_output_parses_and_carries_the_id);
    RUN(bad_commands_exit_2);
    RUN(unknown_id_exits_1_with_the_server_message);
    RUN(wrong_key_exits_1_with_the_401_message);
    RUN(tenant_flag_scopes_the_list);
    RUN(delete_policy_via_cli);
    RUN(source_register_list_and_object_search);
    RUN(group_create_pause_resume_delete);
    RUN(connection_create_and_list);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    clirun_release(&last_run);
    http_resp_release(&last_http);
    check_rm_rf(tmp);
    free(tmp);
    return check_finish();
}
