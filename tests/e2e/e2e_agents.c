/* e2e_agents.c: the cluster operations that have nothing to act on in Coffer, and the connector-side
 * ones, against the real daemon (agent upgrade tasks: e2e_upgrade_tasks.c):
 *   - snapshot meta-info: body checks (400 naming the field), a malformed snapshot id (400), an
 *     unknown or another tenant's snapshot (404), and for a real snapshot of this machine a 400
 *     naming environment for kOracle/kSfdc/kKubernetes and for the snapshot's own kPhysical;
 *   - connector-side operations answer 501 with a JSON message naming where they are served
 *     (coffer-agent's local API) at the root and under /v2, without X-IBM-Tenant-Id, still behind the
 *     bearer key; other methods on their paths are 405. */
#include "check.h"
#include "e2e/harness.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T "agents-a"

static struct daemon d;
static char *g_tmp;
static long long host;
static char snap[96];

/* expect: method path answers status with a message containing want (want NULL: any message). */
static int expect(const char *method, const char *path, const char *tenant, const char *body, long status,
                  const char *want)
{
    struct http_resp r;
    const char *msg;
    if (http(&d, method, path, tenant, body, &r) != 0) {
        check_fail(__FILE__, __LINE__, "%s %s: no answer", method, path);
        return 0;
    }
    msg = jstr(r.json, "message");
    if (r.status != status || !msg || (want && !strstr(msg, want))) {
        check_fail(__FILE__, __LINE__, "%s %s %s: got %ld %s, want %ld with '%s'", method, path, body ? body : "",
                   r.status, r.body ? r.body : "", status, want ? want : "");
        http_resp_release(&r);
        return 0;
    }
    http_resp_release(&r);
    return 1;
}

TEST(setup_a_snapshot)
{
    struct http_resp r;
    char dir[600], file[700], policy[128], group[128], path[512], run[96];
    FILE *f;
    snprintf(dir, sizeof dir, "%s/data", g_tmp);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(file, sizeof file, "%s/hello.txt", dir);
    CHECK((f = fopen(file, "w")) != NULL);
    fputs("hello, meta-info\n", f);
    CHECK(fclose(f) == 0);
    CHECK(http(&d, "POST", "/v2/data-protect/sources/registrations", T,
               jfmt("{'environment':'kPhysical','physicalParams':{'endpoint':'localhost','hostType':'kLinux'}}"),
               &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    host = jint(r.json, "id");
    http_resp_release(&r);
    CHECK(http(&d, "POST", "/v2/data-protect/policies", T,
               jfmt("{'name':'daily','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Days',"
                   "'daySchedule':{'frequency':1}}},'retention':{'unit':'Days','duration':7}}}}"), &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    snprintf(policy, sizeof policy, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
    CHECK(http(&d, "POST", "/v2/data-protect/protection-groups", T,
               jfmt("{'name':'data','policyId':'%s','environment':'kPhysical','startTime':{'hour':3,'minute':0},"
                   "'physicalParams':{'protectionType':'kFile','fileProtectionTypeParams':{'objects':[{'id':%lld,"
                   "'filePaths':[{'includedPath':'%s'}]}]}}}", policy, host, dir), &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    snprintf(group, sizeof group, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/protection-groups/%s/runs", group);
    CHECK(http(&d, "POST", path, T, "{\"runType\":\"kRegular\"}", &r) == 0);
    CHECKF(r.status == 202, "%ld %s", r.status, r.body);
    snprintf(run, sizeof run, "%s", jstr(r.json, "runId") ? jstr(r.json, "runId") : "");
    http_resp_release(&r);
    for (int i = 0; i < 600 && !snap[0]; i++) {
        snprintf(path, sizeof path, "/v2/data-protect/objects/%lld/snapshots", host);
        CHECK(http(&d, "GET", path, T, NULL, &r) == 0);
        if (r.status == 200 && jstr(r.json, "snapshots.0.id"))
            snprintf(snap, sizeof snap, "%s", jstr(r.json, "snapshots.0.id"));
        http_resp_release(&r);
        if (!snap[0]) usleep(100 * 1000);
    }
    CHECKF(strlen(snap) == 64, "no snapshot of run %s within 60 s", run);
}

TEST(meta_info)
{
    char path[256], other[256];
    static const char *const zeros = "0000000000000000000000000000000000000000000000000000000000000000";
    snprintf(path, sizeof path, "/v2/data-protect/snapshots/%s/meta-info", snap);
    snprintf(other, sizeof other, "/v2/data-protect/snapshots/%s/meta-info", zeros);
    /* body checks come first */
    CHECK(expect("POST", path, T, "{}", 400, "environment"));
    CHECK(expect("POST", path, T, "{\"environment\":7}", 400, "environment"));
    CHECK(expect("POST", path, T, "{\"environment\":\"kNoSuch\"}", 400, "environment"));
    CHECK(expect("POST", path, T, "{\"environment\":\"kKubernetes\",\"kubernetesParams\":{}}", 400,
                 "kubernetesParams.objectId"));
    CHECK(expect("POST", path, T, "{\"environment\":\"kKubernetes\",\"kubernetesParams\":{\"objectId\":\"x\"}}", 400,
                 "kubernetesParams.objectId"));
    CHECK(expect("POST", path, T, "{\"environment\":\"kOracle\",\"oracleParams\":{\"isClone\":\"yes\"}}", 400,
                 "oracleParams.isClone"));
    CHECK(expect("POST", path, T, "{\"environment\":\"kOracle\",\"oracleParams\":{\"dbName\":5}}", 400,
                 "oracleParams.dbName"));
    CHECK(expect("POST", path, T, "{\"environment\":\"kSfdc\",\"sfdcParams\":{}}", 400, "sfdcParams.metaInfoType"));
    CHECK(expect("POST", path, T, "{\"environment\":\"kSfdc\",\"sfdcParams\":{\"metaInfoType\":\"Other\"}}", 400,
                 "sfdcParams.metaInfoType"));
    CHECK(expect("POST", path, T, "{\"environment\":\"kSfdc\",\"oracleParams\":[]}", 400, "oracleParams"));
    CHECK(expect("POST", path, T, NULL, 400, NULL));
    /* the snapshot id */
    CHECK(expect("POST", "/v2/data-protect/snapshots/123:456:7/meta-info", T, "{\"environment\":\"kOracle\"}", 400,
                 "snapshotId"));
    CHECK(expect("POST", other, T, "{\"environment\":\"kOracle\"}", 404, zeros));
    CHECK(expect("POST", path, "agents-b", "{\"environment\":\"kOracle\"}", 404, "no snapshot"));
    CHECK(expect("POST", path, NULL, "{\"environment\":\"kOracle\"}", 400, "X-IBM-Tenant-Id"));
    /* a real snapshot: no meta-info for any environment */
    CHECK(expect("POST", path, T, "{\"environment\":\"kOracle\",\"oracleParams\":{\"dbName\":\"orcl\","
                 "\"isClone\":true}}", 400, "meta-info is not available for environment kOracle"));
    CHECK(expect("POST", path, T, "{\"environment\":\"kOracle\"}", 400, "kPhysical snapshot"));
    CHECK(expect("POST", path, T, "{\"environment\":\"kSfdc\",\"sfdcParams\":{\"metaInfoType\":\"DependentObjects\","
                 "\"objectName\":\"Account\"}}", 400, "environment kSfdc"));
    CHECK(expect("POST", path, T, "{\"environment\":\"kKubernetes\",\"kubernetesParams\":{\"objectId\":3}}", 400,
                 "field 'environment'"));
    CHECK(expect("POST", path, T, "{\"environment\":\"kPhysical\"}", 400,
                 "meta-info is not available for environment kPhysical"));
    CHECK(expect("GET", path, T, NULL, 405, NULL));
}

TEST(connector_side_operations_are_501)
{
    static const char *const ops[][2] = {
        { "POST", "/access-tokens" },
        { "GET", "/data-source-connector/logs" },
        { "POST", "/data-source-connector/registration" },
        { "GET", "/data-source-connector/status" },
        { "GET", "/irisservices/api/v1/public/users" },
        { "PUT", "/irisservices/api/v1/public/users" },
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char v2[128];
        snprintf(v2, sizeof v2, "/v2%s", ops[i][1]);
        /* no tenant header, a body or none */
        CHECK(expect(ops[i][0], ops[i][1], NULL, NULL, 501, "served by a data-source connector, not by cofferd"));
        CHECK(expect(ops[i][0], ops[i][1], NULL, NULL, 501, "coffer-agent's local API"));
        CHECK(expect(ops[i][0], v2, NULL, "{\"username\":\"u\"}", 501, ops[i][1]));
        CHECK(expect(ops[i][0], ops[i][1], T, NULL, 501, "data-source connector"));
        /* the key is still required */
        {
            struct http_resp r;
            CHECK(http_raw(&d, ops[i][0], ops[i][1], NULL, NULL, NULL, 0, &r) == 0);
            CHECK_EQ_INT(r.status, 401);
            http_resp_release(&r);
        }
    }
    CHECK(expect("POST", "/access-tokens", NULL, "{\"username\":\"admin\",\"password\":\"x\",\"domain\":\"LOCAL\"}",
                 501, "CreateAccessToken"));
    CHECK(expect("DELETE", "/irisservices/api/v1/public/users", NULL, NULL, 405, NULL));
    CHECK(expect("GET", "/access-tokens", NULL, NULL, 405, NULL));
    /* the cluster's connector routes are not shadowed */
    {
        struct http_resp r;
        CHECK(http(&d, "GET", "/v2/data-source-connectors", T, NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        http_resp_release(&r);
    }
}

int main(void)
{
    int rc;
    g_tmp = check_tmpdir("agents");
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(setup_a_snapshot);
    RUN(meta_info);
    RUN(connector_side_operations_are_501);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    rc = check_finish();
    check_rm_rf(g_tmp);
    free(g_tmp);
    return rc;
}
