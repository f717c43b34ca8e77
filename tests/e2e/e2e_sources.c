/* e2e_sources.c: source registrations and object search against the real daemon: registering this
 * machine (discovered by the local agent: host + volumes with stable ids) and a remote host (accepted,
 * unreachable, no objects); list/get/update/patch/delete/refresh; every class of bad input refused
 * with a 4xx naming the field and nothing changed; tenant isolation; a protected source cannot be
 * deleted; ids survive SIGKILL and restart; search filters and pagination. Each test uses its own
 * tenant, so tests do not see each other's registrations. */
#include "check.h"
#include "e2e/harness.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGS "/v2/data-protect/sources/registrations"
#define SEARCH "/v2/data-protect/search/objects"

static struct daemon d;

static const char local_body[] = "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"localhost\","
                                 "\"hostType\":\"kLinux\",\"physicalType\":\"kHost\"}}";

/* reg: POST a registration; returns its id when the answer is 201, else 0 (the response is kept). */
static long long reg(const char *tenant, const char *body, struct http_resp *r)
{
    if (http(&d, "POST", REGS, tenant, body, r) != 0) return 0;
    return r->status == 201 ? jint(r->json, "id") : 0;
}

static long long reg_local(const char *tenant)
{
    struct http_resp r;
    long long id = reg(tenant, local_body, &r);
    if (!id) check_fail(__FILE__, __LINE__, "register localhost: %ld %s", r.status, r.body);
    http_resp_release(&r);
    return id;
}

/* list_text: the body of GET registrations (malloc'd), to compare before and after a refused call. */
static char *list_text(const char *tenant)
{
    struct http_resp r;
    char *s;
    if (http(&d, "GET", REGS, tenant, NULL, &r) != 0) {
        check_fail(__FILE__, __LINE__, "GET %s (tenant %s): no answer", REGS, tenant);
        return strdup("(no answer)");
    }
    /* two failed listings would compare equal: a failed one fails the test */
    if (r.status != 200) check_fail(__FILE__, __LINE__, "GET %s (tenant %s): %ld %s", REGS, tenant, r.status, r.body);
    s = strdup(r.body);
    http_resp_release(&r);
    return s;
}

/* volume_id: the id of the child object named name in a registration's sourceInfo, or 0. */
static long long volume_id(json_t *reg_json, const char *name)
{
    json_t *kids = jget(reg_json, "sourceInfo.childObjects"), *k;
    size_t i;
    json_array_foreach(kids, i, k) {
        if (jstr(k, "name") && strcmp(jstr(k, "name"), name) == 0) return jint(k, "id");
    }
    return 0;
}

static int msg_has(struct http_resp *r, const char *needle)
{
    const char *m = jstr(r->json, "message");
    return m && strstr(m, needle) != NULL;
}

TEST(register_local_host_discovers_volumes)
{
    struct http_resp r;
    long long id = reg("t-local", local_body, &r), root;
    json_t *kids;
    CHECKF(id > 0, "%ld %s", r.status, r.body);
    CHECK(jint(r.json, "sourceId") == id);
    CHECK(strcmp(jstr(r.json, "environment"), "kPhysical") == 0);
    CHECK(strcmp(jstr(r.json, "name"), "localhost") == 0);
    CHECK(strcmp(jstr(r.json, "authenticationStatus"), "Finished") == 0);
    CHECK(jint(r.json, "registrationTimeMsecs") > 1600000000000LL);
    CHECK(jint(r.json, "lastRefreshedTimeMsecs") >= jint(r.json, "registrationTimeMsecs"));
    CHECK(jint(r.json, "lastModifiedTimestampUsecs") > 0);
    CHECK(strcmp(jstr(r.json, "physicalParams.endpoint"), "localhost") == 0);
    CHECK(strcmp(jstr(r.json, "physicalParams.hostType"), "kLinux") == 0);
    CHECK(jget(r.json, "refreshErrorMessage") == NULL);
    CHECK(jint(r.json, "sourceInfo.id") == id);
    CHECK(strcmp(jstr(r.json, "sourceInfo.objectType"), "kHost") == 0);
    CHECK(strcmp(jstr(r.json, "sourceInfo.environment"), "kPhysical") == 0);
    CHECK(strcmp(jstr(r.json, "sourceInfo.osType"), "kLinux") == 0);
    CHECK(strcmp(jstr(r.json, "sourceInfo.physicalProtectionSource.hostType"), "kLinux") == 0);
    CHECK(strcmp(jstr(r.json, "sourceInfo.physicalProtectionSource.type"), "kHost") == 0);
    kids = jget(r.json, "sourceInfo.childObjects");
    CHECK(json_array_size(kids) >= 1);
    root = volume_id(r.json, "/");
    CHECK(root > 0 && root != id);
    for (size_t i = 0; i < json_array_size(kids); i++) {
        json_t *k = json_array_get(kids, i);
        CHECK(strcmp(jstr(k, "objectType"), "kVolume") == 0);
        CHECK(jint(k, "sourceId") == id);
        CHECK(jstr(k, "name")[0] == '/');
        /* pseudo-filesystems are not volumes */
        CHECK(strcmp(jstr(k, "name"), "/proc") != 0 && strcmp(jstr(k, "name"), "/sys") != 0);
    }
    http_resp_release(&r);
    /* A second name of this machine is the same host: 409, and nothing added. */
    {
        char *before = list_text("t-local");
        CHECK(reg("t-local", "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"127.0.0.1\"}}",
                  &r) == 0);
        CHECK_EQ_INT(r.status, 409);
        CHECK(msg_has(&r, "physicalParams.endpoint"));
        http_resp_release(&r);
        {
            char *after = list_text("t-local");
            CHECK(strcmp(before, after) == 0);
            free(after);
        }
        free(before);
    }
    /* kSQL of the same host is another registration: the host, without volumes. */
    id = reg("t-local", "{\"environment\":\"kSQL\",\"name\":\"pg\",\"physicalParams\":{\"endpoint\":\"::1\","
             "\"applications\":[\"kSQL\"]}}", &r);
    CHECKF(id > 0, "%ld %s", r.status, r.body);
    CHECK(strcmp(jstr(r.json, "sourceInfo.environment"), "kSQL") == 0);
    CHECK(strcmp(jstr(r.json, "name"), "pg") == 0);
    CHECK(json_array_size(jget(r.json, "sourceInfo.childObjects")) == 0);
    http_resp_release(&r);
}

TEST(register_remote_host_is_unreachable)
{
    struct http_resp r;
    long long id = reg("t-remote", "{\"environment\":\"kPhysical\",\"name\":\"far\",\"physicalParams\":"
                       "{\"endpoint\":\"192.0.2.10\",\"hostType\":\"kWindows\",\"forceRegister\":true}}", &r);
    char path[128];
    CHECKF(id > 0, "%ld %s", r.status, r.body);
    CHECK(strcmp(jstr(r.json, "authenticationStatus"), "Pending") == 0);
    CHECK(strcmp(jstr(r.json, "refreshErrorMessage"),
                 "no agent reachable at 192.0.2.10 (no registered coffer-agent reports this host as its own)") == 0);
    CHECK(strcmp(jstr(r.json, "authenticationErrorMessage"), jstr(r.json, "refreshErrorMessage")) == 0);
    CHECK(jget(r.json, "sourceInfo") == NULL && jget(r.json, "sourceId") == NULL);
    CHECK(jget(r.json, "lastRefreshedTimeMsecs") == NULL);
    CHECK(jget(r.json, "physicalParams.forceRegister") == json_true());
    http_resp_release(&r);
    snprintf(path, sizeof path, SEARCH "?sourceIds=%lld", id);
    CHECK(http(&d, "GET", path, "t-remote", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "objects")), 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/sources/%lld/refresh", id);
    CHECK(http(&d, "POST", path, "t-remote", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 204);
    http_resp_release(&r);
    snprintf(path, sizeof path, REGS "/%lld", id);
    CHECK(http(&d, "GET", path, "t-remote", NULL, &r) == 0);
    CHECK(strcmp(jstr(r.json, "authenticationStatus"), "Pending") == 0);
    CHECK(strstr(jstr(r.json, "refreshErrorMessage"), "192.0.2.10") != NULL);
    http_resp_release(&r);
    /* The same remote host again (any case) is a conflict. */
    CHECK(reg("t-remote", "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"192.0.2.10\"}}", &r) == 0);
    CHECK_EQ_INT(r.status, 409);
    http_resp_release(&r);
}

TEST(list_and_get)
{
    struct http_resp r;
    long long a = reg_local("t-list"), b;
    char path[256];
    CHECK(a > 0);
    b = reg("t-list", "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"host-b.example\"},"
            "\"advancedConfigs\":[{\"key\":\"k\",\"value\":\"v\"}]}", &r);
    CHECK(b > a);
    http_resp_release(&r);
    CHECK(http(&d, "GET", REGS, "t-list", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "registrations")), 2);
    CHECK(jint(json_array_get(jget(r.json, "registrations"), 0), "id") == a);
    CHECK(jint(json_array_get(jget(r.json, "registrations"), 1), "id") == b);
    http_resp_release(&r);
    snprintf(path, sizeof path, REGS "?ids=%lld", b);
    CHECK(http(&d, "GET", path, "t-list", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "registrations")), 1);
    CHECK(jint(json_array_get(jget(r.json, "registrations"), 0), "id") == b);
    CHECK(jstr(r.json, "registrations.0.advancedConfigs.0.key") &&
          strcmp(jstr(r.json, "registrations.0.advancedConfigs.0.key"), "k") == 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, REGS "?ids=%lld,%lld&includeExternalMetadata=true&useCachedData=false", a, b);
    CHECK(http(&d, "GET", path, "t-list", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "registrations")), 2);
    http_resp_release(&r);
    snprintf(path, sizeof path, REGS "/%lld", a);
    CHECK(http(&d, "GET", path, "t-list", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(jint(r.json, "id") == a && jint(r.json, "sourceId") == a);
    http_resp_release(&r);
    /* bad query parameters */
    CHECK(http(&d, "GET", REGS "?ids=1,x", "t-list", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(msg_has(&r, "ids"));
    http_resp_release(&r);
    CHECK(http(&d, "GET", REGS "?useCachedData=maybe", "t-list", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(msg_has(&r, "useCachedData"));
    http_resp_release(&r);
    CHECK(http(&d, "GET", REGS "?includeSourceCredentials=true", "t-list", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(msg_has(&r, "encryptionKey"));
    http_resp_release(&r);
    /* ids of the wrong shape, unknown ids */
    CHECK(http(&d, "GET", REGS "/abc", "t-list", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(msg_has(&r, "'id'"));
    http_resp_release(&r);
    CHECK(http(&d, "GET", REGS "/-4", "t-list", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    http_resp_release(&r);
    CHECK(http(&d, "GET", REGS "/99999999", "t-list", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK(jstr(r.json, "message") != NULL);
    http_resp_release(&r);
}

struct bad { const char *body; int status; const char *field; };

TEST(bad_registrations_are_refused_and_change_nothing)
{
    static const struct bad cases[] = {
        { "{\"environment\":\"kPhysical\",", 400, "JSON" },
        { "[1,2]", 400, "object" },
        { "{\"physicalParams\":{\"endpoint\":\"localhost\"}}", 400, "'environment'" },
        { "{\"environment\":7,\"physicalParams\":{\"endpoint\":\"localhost\"}}", 400, "'environment'" },
        { "{\"environment\":\"kVMware\",\"physicalParams\":{\"endpoint\":\"localhost\"}}", 400, "'environment'" },
        { "{\"environment\":\"kPhysical\"}", 400, "'physicalParams'" },
        { "{\"environment\":\"kPhysical\",\"physicalParams\":[]}", 400, "'physicalParams'" },
        { "{\"environment\":\"kPhysical\",\"physicalParams\":{}}", 400, "'physicalParams.endpoint'" },
        { "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"\"}}", 400, "'physicalParams.endpoint'" },
        { "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"a b\"}}", 400,
          "'physicalParams.endpoint'" },
        { "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":1}}", 400, "'physicalParams.endpoint'" },
        { "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"h1\",\"hostType\":\"kAix\"}}", 400,
          "'physicalParams.hostType'" },
        { "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"h1\",\"physicalType\":\"kVM\"}}", 400,
          "'physicalParams.physicalType'" },
        { "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"h1\",\"forceRegister\":\"yes\"}}", 400,
          "'physicalParams.forceRegister'" },
        { "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"h1\",\"applications\":[\"kFoo\"]}}", 400,
          "'physicalParams.applications[0]'" },
        { "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"localhost\",\"hostType\":\"kWindows\"}}",
          400, "'physicalParams.hostType'" },
        { "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"localhost\",\"physicalType\":\"kGroup\"}}",
          400, "'physicalParams.physicalType'" },
        { "{\"environment\":\"kPhysical\",\"name\":\"\",\"physicalParams\":{\"endpoint\":\"h1\"}}", 400, "'name'" },
        { "{\"environment\":\"kPhysical\",\"name\":5,\"physicalParams\":{\"endpoint\":\"h1\"}}", 400, "'name'" },
        { "{\"environment\":\"kPhysical\",\"connectionId\":\"1\",\"physicalParams\":{\"endpoint\":\"h1\"}}", 400,
          "'connectionId'" },
        { "{\"environment\":\"kPhysical\",\"connectionId\":424242,\"physicalParams\":{\"endpoint\":\"h1\"}}", 400,
          "'connectionId'" },
        { "{\"environment\":\"kPhysical\",\"connectionId\":-1,\"physicalParams\":{\"endpoint\":\"h1\"}}", 400,
          "'connectionId'" },
        { "{\"environment\":\"kPhysical\",\"dataSourceConnectionId\":\"abc\",\"physicalParams\":{\"endpoint\":\"h1\"}}",
          400, "'dataSourceConnectionId'" },
        { "{\"environment\":\"kPhysical\",\"connections\":[{\"connectionId\":\"x\"}],\"physicalParams\":"
          "{\"endpoint\":\"h1\"}}", 400, "'connections[0].connectionId'" },
        { "{\"environment\":\"kPhysical\",\"connections\":[3],\"physicalParams\":{\"endpoint\":\"h1\"}}", 400,
          "'connections[0]'" },
        { "{\"environment\":\"kPhysical\",\"advancedConfigs\":[{\"key\":\"a\"}],\"physicalParams\":"
          "{\"endpoint\":\"h1\"}}", 400, "'advancedConfigs[0].value'" },
        { "{\"environment\":\"kPhysical\",\"advancedConfigs\":{},\"physicalParams\":{\"endpoint\":\"h1\"}}", 400,
          "'advancedConfigs'" },
        { "{\"environment\":\"kPhysical\",\"isInternalEncrypted\":1,\"physicalParams\":{\"endpoint\":\"h1\"}}", 400,
          "'isInternalEncrypted'" },
        { "{\"environment\":\"kPhysical\",\"kubernetesParams\":{},\"physicalParams\":{\"endpoint\":\"h1\"}}", 400,
          "'kubernetesParams'" },
    };
    char *before;
    long long id = reg_local("t-bad");
    CHECK(id > 0);
    before = list_text("t-bad");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_resp r;
        char *after;
        CHECK(http(&d, "POST", REGS, "t-bad", cases[i].body, &r) == 0);
        CHECKF(r.status == cases[i].status && msg_has(&r, cases[i].field), "case %zu (%s): %ld %s", i, cases[i].body,
               r.status, r.body);
        http_resp_release(&r);
        after = list_text("t-bad");
        CHECKF(strcmp(before, after) == 0, "case %zu changed the list", i);
        free(after);
    }
    /* The same bodies through PUT change nothing either. */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_resp r;
        char path[128], *after;
        snprintf(path, sizeof path, REGS "/%lld", id);
        CHECK(http(&d, "PUT", path, "t-bad", cases[i].body, &r) == 0);
        CHECKF(r.status == cases[i].status && msg_has(&r, cases[i].field), "PUT case %zu (%s): %ld %s", i,
               cases[i].body, r.status, r.body);
        http_resp_release(&r);
        after = list_text("t-bad");
        CHECKF(strcmp(before, after) == 0, "PUT case %zu changed the list", i);
        free(after);
    }
    free(before);
}

TEST(update_patch_refresh_keep_ids)
{
    struct http_resp r;
    long long id = reg_local("t-upd"), vol, mtime;
    char path[128], body[512], *before, *after;
    CHECK(id > 0);
    snprintf(path, sizeof path, REGS "/%lld", id);
    CHECK(http(&d, "GET", path, "t-upd", NULL, &r) == 0);
    vol = volume_id(r.json, "/");
    mtime = jint(r.json, "lastModifiedTimestampUsecs");
    CHECK(vol > 0 && mtime > 0);
    http_resp_release(&r);

    snprintf(body, sizeof body,
             "{\"environment\":\"kPhysical\",\"name\":\"renamed\",\"lastModifiedTimestampUsecs\":%lld,"
             "\"advancedConfigs\":[{\"key\":\"a\",\"value\":\"b\"}],\"physicalParams\":{\"endpoint\":\"127.0.0.1\"}}",
             mtime);
    CHECK(http(&d, "PUT", path, "t-upd", body, &r) == 0);
    CHECKF(r.status == 200, "%ld %s", r.status, r.body);
    CHECK(strcmp(jstr(r.json, "name"), "renamed") == 0);
    CHECK(strcmp(jstr(r.json, "physicalParams.endpoint"), "127.0.0.1") == 0);
    CHECK(strcmp(jstr(json_array_get(jget(r.json, "advancedConfigs"), 0), "value"), "b") == 0);
    CHECK(jint(r.json, "lastModifiedTimestampUsecs") > mtime);
    CHECK(volume_id(r.json, "/") == vol);
    CHECK(jint(r.json, "sourceId") == id);
    http_resp_release(&r);

    /* A stale timestamp is 412 and changes nothing. */
    before = list_text("t-upd");
    snprintf(body, sizeof body, "{\"environment\":\"kPhysical\",\"name\":\"stale\",\"lastModifiedTimestampUsecs\":%lld,"
             "\"physicalParams\":{\"endpoint\":\"localhost\"}}", mtime);
    CHECK(http(&d, "PUT", path, "t-upd", body, &r) == 0);
    CHECK_EQ_INT(r.status, 412);
    CHECK(msg_has(&r, "lastModifiedTimestampUsecs"));
    http_resp_release(&r);
    /* The environment and the host cannot change. */
    CHECK(http(&d, "PUT", path, "t-upd", "{\"environment\":\"kSQL\",\"physicalParams\":{\"endpoint\":\"localhost\"}}",
               &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(msg_has(&r, "'environment'"));
    http_resp_release(&r);
    CHECK(http(&d, "PUT", path, "t-upd",
               "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"10.1.1.1\"}}", &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(msg_has(&r, "'physicalParams.endpoint'"));
    http_resp_release(&r);
    after = list_text("t-upd");
    CHECK(strcmp(before, after) == 0);
    free(after);
    CHECK(http(&d, "PUT", REGS "/99999999", "t-upd", local_body, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);

    /* PATCH: the environment must be the registration's own. */
    CHECK(http(&d, "PATCH", path, "t-upd", "{\"environment\":\"kPhysical\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(jint(r.json, "id") == id && strcmp(jstr(r.json, "name"), "renamed") == 0);
    http_resp_release(&r);
    CHECK(http(&d, "PATCH", path, "t-upd", "{\"environment\":\"kSQL\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(msg_has(&r, "'environment'"));
    http_resp_release(&r);
    CHECK(http(&d, "PATCH", path, "t-upd", "{}", &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(msg_has(&r, "'environment'"));
    http_resp_release(&r);
    CHECK(http(&d, "PATCH", path, "t-upd", "{\"environment\":\"kOracle\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    http_resp_release(&r);
    CHECK(http(&d, "PATCH", REGS "/99999999", "t-upd", "{\"environment\":\"kPhysical\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
    after = list_text("t-upd");
    CHECK(strcmp(before, after) == 0);
    free(after);
    free(before);

    /* Refresh: 204, same ids, a new refresh time. */
    {
        long long t0;
        char rpath[128];
        CHECK(http(&d, "GET", path, "t-upd", NULL, &r) == 0);
        t0 = jint(r.json, "lastRefreshedTimeMsecs");
        http_resp_release(&r);
        snprintf(rpath, sizeof rpath, "/v2/data-protect/sources/%lld/refresh", id);
        CHECK(http(&d, "POST", rpath, "t-upd", NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 204);
        CHECK(r.len == 0);
        http_resp_release(&r);
        CHECK(http(&d, "GET", path, "t-upd", NULL, &r) == 0);
        CHECK(jint(r.json, "lastRefreshedTimeMsecs") >= t0);
        CHECK(volume_id(r.json, "/") == vol);
        CHECK(strcmp(jstr(r.json, "authenticationStatus"), "Finished") == 0);
        http_resp_release(&r);
        CHECK(http(&d, "POST", "/v2/data-protect/sources/99999999/refresh", "t-upd", NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 404);
        http_resp_release(&r);
        CHECK(http(&d, "POST", "/v2/data-protect/sources/x1/refresh", "t-upd", NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 400);
        http_resp_release(&r);
    }
}

TEST(delete_registration)
{
    struct http_resp r;
    long long id = reg_local("t-del"), vol;
    char path[128];
    CHECK(id > 0);
    snprintf(path, sizeof path, REGS "/%lld", id);
    CHECK(http(&d, "GET", path, "t-del", NULL, &r) == 0);
    vol = volume_id(r.json, "/");
    http_resp_release(&r);
    CHECK(http(&d, "DELETE", path, "t-del", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 204);
    http_resp_release(&r);
    CHECK(http(&d, "GET", path, "t-del", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
    CHECK(http(&d, "DELETE", path, "t-del", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
    snprintf(path, sizeof path, SEARCH "?objectIds=%lld,%lld", id, vol);
    CHECK(http(&d, "GET", path, "t-del", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "objects")), 0);
    http_resp_release(&r);
    /* Registering again gives new ids. */
    CHECK(reg_local("t-del") > id);
}

TEST(protected_source_cannot_be_deleted)
{
    struct http_resp r;
    long long id = reg_local("t-prot"), vol;
    char path[160], body[1024], policy[128], group[128];
    CHECK(id > 0);
    snprintf(path, sizeof path, REGS "/%lld", id);
    CHECK(http(&d, "GET", path, "t-prot", NULL, &r) == 0);
    vol = volume_id(r.json, "/");
    http_resp_release(&r);
    CHECK(http(&d, "POST", "/v2/data-protect/policies", "t-prot",
               "{\"name\":\"src-pol\",\"backupPolicy\":{\"regular\":{\"incremental\":{\"schedule\":{\"unit\":\"Hours\","
               "\"hourSchedule\":{\"frequency\":6}}},\"retention\":{\"unit\":\"Days\",\"duration\":7}}}}", &r) == 0);
    CHECKF(r.status == 201, "policy: %ld %s", r.status, r.body);
    snprintf(policy, sizeof policy, "%s", jstr(r.json, "id"));
    http_resp_release(&r);
    snprintf(body, sizeof body, "{\"name\":\"src-grp\",\"policyId\":\"%s\",\"environment\":\"kPhysical\","
             "\"physicalParams\":{\"protectionType\":\"kFile\",\"fileProtectionTypeParams\":{\"objects\":[{\"id\":%lld,"
             "\"filePaths\":[{\"includedPath\":\"/etc\"}]}]}}}", policy, vol);
    CHECK(http(&d, "POST", "/v2/data-protect/protection-groups", "t-prot", body, &r) == 0);
    CHECKF(r.status == 201, "group: %ld %s", r.status, r.body);
    snprintf(group, sizeof group, "%s", jstr(r.json, "id"));
    http_resp_release(&r);

    /* search: the volume is protected, the host is not */
    snprintf(body, sizeof body, SEARCH "?isProtected=true&sourceIds=%lld", id);
    CHECK(http(&d, "GET", body, "t-prot", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "objects")), 1);
    CHECK(jint(json_array_get(jget(r.json, "objects"), 0), "id") == vol);
    CHECK(strcmp(jstr(json_array_get(jget(r.json, "objects"), 0), "objectProtectionInfos.0.protectionGroups.0.id"),
                 group) == 0);
    http_resp_release(&r);
    snprintf(body, sizeof body, SEARCH "?protectionGroupIds=%s", group);
    CHECK(http(&d, "GET", body, "t-prot", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "objects")), 1);
    http_resp_release(&r);
    snprintf(body, sizeof body, SEARCH "?isProtected=false&sourceIds=%lld", id);
    CHECK(http(&d, "GET", body, "t-prot", NULL, &r) == 0);
    CHECK(json_array_size(jget(r.json, "objects")) >= 1);
    CHECK(jint(json_array_get(jget(r.json, "objects"), 0), "id") == id);
    for (size_t i = 0; i < json_array_size(jget(r.json, "objects")); i++)
        CHECK(jint(json_array_get(jget(r.json, "objects"), i), "id") != vol);
    http_resp_release(&r);

    CHECK(http(&d, "DELETE", path, "t-prot", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 409);
    CHECK(msg_has(&r, "protection group"));
    http_resp_release(&r);
    CHECK(http(&d, "GET", path, "t-prot", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    http_resp_release(&r);
    /* Once the group is deleted the source can go. */
    snprintf(body, sizeof body, "/v2/data-protect/protection-groups/%s", group);
    CHECK(http(&d, "DELETE", body, "t-prot", NULL, &r) == 0);
    CHECKF(r.status == 204, "%ld %s", r.status, r.body);
    http_resp_release(&r);
    CHECK(http(&d, "DELETE", path, "t-prot", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 204);
    http_resp_release(&r);
}

TEST(tenant_isolation)
{
    struct http_resp r;
    long long id = reg_local("t-iso-a");
    char path[128];
    CHECK(id > 0);
    snprintf(path, sizeof path, REGS "/%lld", id);
    CHECK(http(&d, "GET", path, "t-iso-b", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
    CHECK(http(&d, "PUT", path, "t-iso-b", local_body, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
    CHECK(http(&d, "PATCH", path, "t-iso-b", "{\"environment\":\"kPhysical\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
    CHECK(http(&d, "DELETE", path, "t-iso-b", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/sources/%lld/refresh", id);
    CHECK(http(&d, "POST", path, "t-iso-b", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
    CHECK(http(&d, "GET", REGS, "t-iso-b", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "registrations")), 0);
    http_resp_release(&r);
    CHECK(http(&d, "GET", SEARCH, "t-iso-b", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "objects")), 0);
    CHECK_EQ_INT(jint(r.json, "count"), 0);
    http_resp_release(&r);
    /* The other tenant may register this machine too: its own objects, other ids. */
    CHECK(reg_local("t-iso-b") > id);
    /* No tenant header: 400. */
    CHECK(http(&d, "GET", REGS, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    http_resp_release(&r);
    /* tenant a still sees exactly its own */
    CHECK(http(&d, "GET", REGS, "t-iso-a", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "registrations")), 1);
    CHECK(jint(json_array_get(jget(r.json, "registrations"), 0), "id") == id);
    http_resp_release(&r);
}

/* search_ids: the ids of the objects a search returns, into ids (at most 64); the count. */
static size_t search_ids(const char *tenant, const char *query, long long *ids, struct http_resp *keep)
{
    struct http_resp r;
    char path[512];
    size_t n = 0;
    snprintf(path, sizeof path, SEARCH "%s", query);
    if (http(&d, "GET", path, tenant, NULL, &r) != 0 || r.status != 200) {
        check_fail(__FILE__, __LINE__, "GET %s: %ld %s", path, r.status, r.body);
        http_resp_release(&r);
        return 0;
    }
    for (size_t i = 0; i < json_array_size(jget(r.json, "objects")) && n < 64; i++)
        ids[n++] = jint(json_array_get(jget(r.json, "objects"), i), "id");
    if (keep)
        *keep = r;
    else
        http_resp_release(&r);
    return n;
}

TEST(search_filters_and_pagination)
{
    struct http_resp r;
    long long id = reg_local("t-search"), remote, ids[64], all[64], vol;
    size_t n, nall;
    char q[256];
    CHECK(id > 0);
    remote = reg("t-search", "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"far.example\"}}", &r);
    CHECK(remote > 0);
    http_resp_release(&r);

    nall = search_ids("t-search", "", all, &r);
    CHECK(nall >= 2 && all[0] == id);
    CHECK_EQ_INT(jint(r.json, "count"), (long long)nall);
    CHECK(jget(r.json, "paginationCookie") == NULL);
    {
        json_t *host = json_array_get(jget(r.json, "objects"), 0), *v1 = json_array_get(jget(r.json, "objects"), 1);
        CHECK(strcmp(jstr(host, "objectType"), "kHost") == 0 && jget(host, "sourceInfo") == NULL);
        CHECK(json_array_size(jget(host, "childObjects")) == nall - 1);
        CHECK(jint(host, "objectProtectionInfos.0.objectId") == id);
        CHECK(jget(host, "objectProtectionInfos.0.clusterId") != NULL);
        CHECK(strcmp(jstr(v1, "objectType"), "kVolume") == 0);
        CHECK(jint(v1, "sourceInfo.id") == id && jint(v1, "sourceId") == id);
        CHECK(strcmp(jstr(v1, "sourceName"), "localhost") == 0);
    }
    http_resp_release(&r);
    for (size_t i = 1; i < nall; i++) CHECK(all[i] > all[i - 1]);
    vol = 0;
    n = search_ids("t-search", "?searchString=/", ids, NULL);
    CHECK(n == 1);
    vol = ids[0];
    CHECK(search_ids("t-search", "?searchString=*", ids, NULL) == nall);
    CHECK(search_ids("t-search", "?searchString=LOCAL*", ids, NULL) == 1 && ids[0] == id);
    CHECK(search_ids("t-search", "?searchString=LocalHost", ids, NULL) == 1 && ids[0] == id);
    CHECK(search_ids("t-search", "?searchString=local", ids, NULL) == 0);
    CHECK(search_ids("t-search", "?searchString=*host", ids, NULL) == 1);
    CHECK(search_ids("t-search", "?environments=kPhysical", ids, NULL) == nall);
    CHECK(search_ids("t-search", "?environments=kSQL", ids, NULL) == 0);
    CHECK(search_ids("t-search", "?osTypes=kWindows", ids, NULL) == 0);
    CHECK(search_ids("t-search", "?osTypes=kLinux", ids, NULL) == nall);
    snprintf(q, sizeof q, "?sourceIds=%lld", id);
    CHECK(search_ids("t-search", q, ids, NULL) == nall);
    snprintf(q, sizeof q, "?sourceIds=%lld", remote);
    CHECK(search_ids("t-search", q, ids, NULL) == 0);
    snprintf(q, sizeof q, "?objectIds=%lld&objectIds=%lld", vol, id);
    CHECK(search_ids("t-search", q, ids, NULL) == 2 && ids[0] == id && ids[1] == vol);
    CHECK(search_ids("t-search", "?isProtected=true", ids, NULL) == 0);
    CHECK(search_ids("t-search", "?isProtected=false", ids, NULL) == nall);
    CHECK(search_ids("t-search", "?isDeleted=true", ids, NULL) == 0);
    CHECK(search_ids("t-search", "?includeDeletedObjects=true", ids, NULL) == nall);
    CHECK(search_ids("t-search", "?protectionTypes=kFile", ids, NULL) == nall);
    CHECK(search_ids("t-search", "?protectionTypes=kNative", ids, NULL) == 0);
    CHECK(search_ids("t-search", "?mustHaveTagIds=1:2:X", ids, NULL) == 0);
    CHECK(search_ids("t-search", "?lastRunStatusList=Succeeded", ids, NULL) == 0);
    CHECK(search_ids("t-search", "?clusterIdentifiers=1:2", ids, NULL) == 0);
    CHECK(search_ids("t-search", "?protectionGroupIds=1:2:3", ids, NULL) == 0);
    {
        json_t *oi;
        search_ids("t-search", "", ids, &r);
        oi = jget(json_array_get(jget(r.json, "objects"), 0), "objectProtectionInfos.0");
        snprintf(q, sizeof q, "?clusterIdentifiers=%lld:%lld", jint(oi, "clusterId"), jint(oi, "clusterIncarnationId"));
        http_resp_release(&r);
        CHECK(search_ids("t-search", q, ids, NULL) == nall);
    }
    {
        char uq[128];
        search_ids("t-search", "", ids, &r);
        snprintf(uq, sizeof uq, "?sourceUuids=%s", jstr(json_array_get(jget(r.json, "objects"), 0), "uuid"));
        http_resp_release(&r);
        CHECK(search_ids("t-search", uq, ids, NULL) == nall);
        CHECK(search_ids("t-search", "?sourceUuids=00000000-0000-4000-8000-000000000000", ids, NULL) == 0);
    }

    /* pagination: one object per page, following the cookie, sees every object once */
    {
        char cookie[64] = "";
        size_t seen = 0;
        for (int page = 0; page < 70; page++) {
            size_t got;
            snprintf(q, sizeof q, "?count=1%s%s", cookie[0] ? "&paginationCookie=" : "", cookie);
            got = search_ids("t-search", q, ids, &r);
            CHECK(got == 1 && ids[0] == all[seen]);
            CHECK_EQ_INT(jint(r.json, "count"), (long long)nall);
            seen++;
            if (!jstr(r.json, "paginationCookie")) {
                http_resp_release(&r);
                break;
            }
            snprintf(cookie, sizeof cookie, "%s", jstr(r.json, "paginationCookie"));
            http_resp_release(&r);
        }
        CHECK_EQ_INT(seen, nall);
    }

    /* bad parameters: 400 naming the parameter */
    {
        static const char *const bad[][2] = {
            { "?environments=kVMware", "environments" }, { "?osTypes=kAix", "osTypes" },
            { "?protectionTypes=kBogus", "protectionTypes" }, { "?objectIds=1,a", "objectIds" },
            { "?sourceIds=x", "sourceIds" }, { "?isProtected=maybe", "isProtected" },
            { "?isDeleted=2", "isDeleted" }, { "?count=0", "count" }, { "?count=abc", "count" },
            { "?count=100000", "count" }, { "?paginationCookie=zz", "paginationCookie" },
            { "?lastRunStatusList=Great", "lastRunStatusList" },
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            char path[256];
            snprintf(path, sizeof path, SEARCH "%s", bad[i][0]);
            CHECK(http(&d, "GET", path, "t-search", NULL, &r) == 0);
            CHECKF(r.status == 400 && msg_has(&r, bad[i][1]), "%s: %ld %s", bad[i][0], r.status, r.body);
            http_resp_release(&r);
        }
    }
}

TEST(ids_survive_sigkill_and_restart)
{
    struct http_resp r;
    long long id = reg_local("t-persist"), vol, remote;
    char path[128], *before, *after;
    CHECK(id > 0);
    remote = reg("t-persist", "{\"environment\":\"kPhysical\",\"physicalParams\":{\"endpoint\":\"10.20.30.40\"}}", &r);
    CHECK(remote > 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, REGS "/%lld", id);
    CHECK(http(&d, "GET", path, "t-persist", NULL, &r) == 0);
    vol = volume_id(r.json, "/");
    http_resp_release(&r);
    CHECK(vol > 0);
    /* "before" must be a 200 listing holding both registrations (two failed listings compare equal) */
    CHECK(http(&d, "GET", REGS, "t-persist", NULL, &r) == 0);
    CHECKF(r.status == 200 && json_array_size(jget(r.json, "registrations")) == 2 &&
           jint(r.json, "registrations.0.id") == id && jint(r.json, "registrations.1.id") == remote,
           "before the kill: %ld %s", r.status, r.body);
    http_resp_release(&r);
    before = list_text("t-persist");
    {
        char how[96];
        CHECKF(daemon_kill_how(&d, SIGKILL, how, sizeof how) == SIGKILL, "the daemon was not killed by SIGKILL: %s",
               how);
    }
    CHECK(daemon_restart(&d, NULL) == 0);
    after = list_text("t-persist");
    CHECKF(strcmp(before, after) == 0, "before: %s\nafter: %s", before, after);
    free(before);
    free(after);
    /* refresh after restart keeps the ids; new registrations get new ids */
    snprintf(path, sizeof path, "/v2/data-protect/sources/%lld/refresh", id);
    CHECK(http(&d, "POST", path, "t-persist", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 204);
    http_resp_release(&r);
    snprintf(path, sizeof path, REGS "/%lld", id);
    CHECK(http(&d, "GET", path, "t-persist", NULL, &r) == 0);
    CHECK(volume_id(r.json, "/") == vol);
    http_resp_release(&r);
    CHECK(reg("t-persist", "{\"environment\":\"kSQL\",\"physicalParams\":{\"endpoint\":\"localhost\"}}", &r) > remote);
    http_resp_release(&r);
}

int main(void)
{
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(register_local_host_discovers_volumes);
    RUN(register_remote_host_is_unreachable);
    RUN(list_and_get);
    RUN(bad_registrations_are_refused_and_change_nothing);
    RUN(update_patch_refresh_keep_ids);
    RUN(delete_registration);
    RUN(protected_source_cannot_be_deleted);
    RUN(tenant_isolation);
    RUN(search_filters_and_pagination);
    RUN(ids_survive_sigkill_and_restart);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    return check_finish();
}
