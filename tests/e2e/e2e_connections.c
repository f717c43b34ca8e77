/* e2e_connections.c: data-source connections and connectors against the real daemon: create, list
 * with filters, rename, delete; unique names per tenant (409); a connection a source uses cannot be
 * deleted; registration tokens (a JSON string of 64 hex digits, a new one each time); connectors
 * (empty list, metadata, 404 for unknown ids); bad input refused with the field named and nothing
 * changed; tenant isolation; persistence across SIGKILL. */
#include "check.h"
#include "e2e/harness.h"
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNS "/v2/data-source-connections"
#define CONNECTORS "/v2/data-source-connectors"

static struct daemon d;

static int msg_has(struct http_resp *r, const char *needle)
{
    const char *m = jstr(r->json, "message");
    return m && strstr(m, needle) != NULL;
}

/* create: POSTs a connection; writes its id into id (size 32) and returns 1 on 201. */
static int create(const char *tenant, const char *body, char *id)
{
    struct http_resp r;
    int ok;
    if (http(&d, "POST", CONNS, tenant, body, &r) != 0) return 0;
    ok = r.status == 201 && jstr(r.json, "connectionId");
    if (ok)
        snprintf(id, 32, "%s", jstr(r.json, "connectionId"));
    else
        check_fail(__FILE__, __LINE__, "create %s: %ld %s", body, r.status, r.body);
    http_resp_release(&r);
    return ok;
}

static char *list_text(const char *tenant)
{
    struct http_resp r;
    char *s;
    if (http(&d, "GET", CONNS, tenant, NULL, &r) != 0) {
        check_fail(__FILE__, __LINE__, "GET %s (tenant %s): no answer", CONNS, tenant);
        return strdup("(no answer)");
    }
    /* two failed listings would compare equal: a failed one fails the test */
    if (r.status != 200) check_fail(__FILE__, __LINE__, "GET %s (tenant %s): %ld %s", CONNS, tenant, r.status, r.body);
    s = strdup(r.body);
    http_resp_release(&r);
    return s;
}

TEST(create_list_rename_delete)
{
    struct http_resp r;
    char a[32], b[32], path[128], q[256];
    CHECK(create("c-crud", "{\"connectionName\":\"alpha\",\"connectionEnvType\":\"kRoksVpc\"}", a));
    CHECK(create("c-crud", "{\"connectionName\":\"beta\"}", b));
    CHECK(strcmp(a, b) != 0);
    for (const char *p = a; *p; p++) CHECK(isdigit((unsigned char)*p));
    CHECK(http(&d, "GET", CONNS, "c-crud", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "connections")), 2);
    {
        json_t *c0 = json_array_get(jget(r.json, "connections"), 0);
        CHECK(strcmp(jstr(c0, "connectionId"), a) == 0);
        CHECK(strcmp(jstr(c0, "connectionName"), "alpha") == 0);
        CHECK(strcmp(jstr(c0, "connectionEnvType"), "kRoksVpc") == 0);
        CHECK(strcmp(jstr(c0, "tenantId"), "c-crud") == 0);
        CHECK(json_is_array(jget(c0, "connectorIds")) && json_array_size(jget(c0, "connectorIds")) == 0);
        CHECK(jget(c0, "registrationToken") == NULL);
    }
    http_resp_release(&r);
    CHECK(http(&d, "GET", CONNS "?connectionNames=beta", "c-crud", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "connections")), 1);
    CHECK(strcmp(jstr(json_array_get(jget(r.json, "connections"), 0), "connectionId"), b) == 0);
    http_resp_release(&r);
    snprintf(q, sizeof q, CONNS "?connectionIds=%s,%s", a, b);
    CHECK(http(&d, "GET", q, "c-crud", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "connections")), 2);
    http_resp_release(&r);
    snprintf(q, sizeof q, CONNS "?connectionIds=%s&connectionNames=beta", a);
    CHECK(http(&d, "GET", q, "c-crud", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "connections")), 0);
    http_resp_release(&r);

    /* rename; a taken name is 409 */
    snprintf(path, sizeof path, CONNS "/%s", a);
    CHECK(http(&d, "PATCH", path, "c-crud", "{\"connectionName\":\"gamma\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(strcmp(jstr(r.json, "connectionName"), "gamma") == 0 && strcmp(jstr(r.json, "connectionId"), a) == 0);
    CHECK(strcmp(jstr(r.json, "connectionEnvType"), "kRoksVpc") == 0);
    http_resp_release(&r);
    CHECK(http(&d, "PATCH", path, "c-crud", "{\"connectionName\":\"beta\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 409);
    CHECK(msg_has(&r, "connectionName"));
    http_resp_release(&r);
    CHECK(http(&d, "PATCH", path, "c-crud", "{\"connectionName\":\"gamma\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 200); /* its own name again is fine */
    http_resp_release(&r);
    CHECK(http(&d, "POST", CONNS, "c-crud", "{\"connectionName\":\"beta\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 409);
    http_resp_release(&r);

    /* delete */
    CHECK(http(&d, "DELETE", path, "c-crud", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 204);
    http_resp_release(&r);
    CHECK(http(&d, "DELETE", path, "c-crud", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK(jstr(r.json, "message") != NULL);
    http_resp_release(&r);
    CHECK(http(&d, "PATCH", path, "c-crud", "{\"connectionName\":\"delta\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
    CHECK(http(&d, "GET", CONNS, "c-crud", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "connections")), 1);
    http_resp_release(&r);
    /* the freed name can be used again */
    CHECK(create("c-crud", "{\"connectionName\":\"gamma\"}", a));
}

static int is_hex64(const char *s)
{
    if (!s || strlen(s) != 64) return 0;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s)) return 0;
    return 1;
}

TEST(registration_tokens)
{
    struct http_resp r;
    char id[32], path[128], first[80];
    json_t *j;
    CHECK(create("c-token", "{\"connectionName\":\"tok\"}", id));
    snprintf(path, sizeof path, CONNS "/%s/registrationToken", id);
    CHECK(http(&d, "POST", path, "c-token", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    /* the body is a JSON string */
    j = json_loadb(r.body, r.len, JSON_DECODE_ANY, NULL);
    CHECKF(json_is_string(j), "body %s", r.body);
    CHECK(is_hex64(json_string_value(j)));
    snprintf(first, sizeof first, "%s", json_string_value(j));
    json_decref(j);
    http_resp_release(&r);
    CHECK(http(&d, "POST", path, "c-token", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    j = json_loadb(r.body, r.len, JSON_DECODE_ANY, NULL);
    CHECK(json_is_string(j) && is_hex64(json_string_value(j)));
    CHECK(strcmp(first, json_string_value(j)) != 0);
    json_decref(j);
    http_resp_release(&r);
    /* the token is not shown afterwards */
    CHECK(http(&d, "GET", CONNS, "c-token", NULL, &r) == 0);
    CHECK(strstr(r.body, first) == NULL);
    CHECK(jget(json_array_get(jget(r.json, "connections"), 0), "registrationToken") == NULL);
    http_resp_release(&r);
    CHECK(http(&d, "POST", CONNS "/987654321/registrationToken", "c-token", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
    CHECK(http(&d, "POST", CONNS "/abc/registrationToken", "c-token", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(msg_has(&r, "connectionId"));
    http_resp_release(&r);
    snprintf(path, sizeof path, CONNS "/%s/registrationToken", id);
    CHECK(http(&d, "POST", path, "c-token-other", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
}

TEST(bad_input_changes_nothing)
{
    static const char *const bad[][2] = {
        { "{\"connectionName\":", "JSON" },
        { "[\"x\"]", "object" },
        { "{}", "'connectionName'" },
        { "{\"connectionName\":\"\"}", "'connectionName'" },
        { "{\"connectionName\":\"   \"}", "'connectionName'" },
        { "{\"connectionName\":12}", "'connectionName'" },
        { "{\"connectionName\":\"n\",\"connectionEnvType\":\"kAws\"}", "'connectionEnvType'" },
        { "{\"connectionName\":\"n\",\"connectionEnvType\":true}", "'connectionEnvType'" },
    };
    struct http_resp r;
    char id[32], path[128], *before, *after;
    CHECK(create("c-bad", "{\"connectionName\":\"keep\"}", id));
    before = list_text("c-bad");
    snprintf(path, sizeof path, CONNS "/%s", id);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(http(&d, "POST", CONNS, "c-bad", bad[i][0], &r) == 0);
        CHECKF(r.status == 400 && msg_has(&r, bad[i][1]), "POST %s: %ld %s", bad[i][0], r.status, r.body);
        http_resp_release(&r);
        if (i < 6) {
            CHECK(http(&d, "PATCH", path, "c-bad", bad[i][0], &r) == 0);
            CHECKF(r.status == 400 && msg_has(&r, bad[i][1]), "PATCH %s: %ld %s", bad[i][0], r.status, r.body);
            http_resp_release(&r);
        }
        after = list_text("c-bad");
        CHECKF(strcmp(before, after) == 0, "case %zu changed the list", i);
        free(after);
    }
    CHECK(http(&d, "PATCH", CONNS "/01", "c-bad", "{\"connectionName\":\"z\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    http_resp_release(&r);
    CHECK(http(&d, "DELETE", CONNS "/x-y", "c-bad", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(msg_has(&r, "connectionId"));
    http_resp_release(&r);
    after = list_text("c-bad");
    CHECK(strcmp(before, after) == 0);
    free(after);
    free(before);
}

TEST(connection_used_by_a_source)
{
    struct http_resp r;
    char id[32], body[256], path[128];
    long long src;
    CHECK(create("c-used", "{\"connectionName\":\"via\"}", id));
    snprintf(body, sizeof body, "{\"environment\":\"kPhysical\",\"connectionId\":%s,\"physicalParams\":"
             "{\"endpoint\":\"behind.example\"}}", id);
    CHECK(http(&d, "POST", "/v2/data-protect/sources/registrations", "c-used", body, &r) == 0);
    CHECKF(r.status == 201, "%ld %s", r.status, r.body);
    src = jint(r.json, "id");
    CHECK(jint(r.json, "connectionId") == atoll(id));
    CHECK(strcmp(jstr(r.json, "dataSourceConnectionId"), id) == 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, CONNS "/%s", id);
    CHECK(http(&d, "DELETE", path, "c-used", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 409);
    CHECK(msg_has(&r, "source"));
    http_resp_release(&r);
    /* another tenant cannot use this tenant's connection */
    CHECK(http(&d, "POST", "/v2/data-protect/sources/registrations", "c-used-other", body, &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(msg_has(&r, "connectionId"));
    http_resp_release(&r);
    snprintf(path, sizeof path, "/v2/data-protect/sources/registrations/%lld", src);
    CHECK(http(&d, "DELETE", path, "c-used", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 204);
    http_resp_release(&r);
    snprintf(path, sizeof path, CONNS "/%s", id);
    CHECK(http(&d, "DELETE", path, "c-used", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 204);
    http_resp_release(&r);
}

TEST(connectors)
{
    struct http_resp r;
    char id[32], q[128];
    CHECK(create("c-connectors", "{\"connectionName\":\"k\"}", id));
    CHECK(http(&d, "GET", CONNECTORS, "c-connectors", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_is_array(jget(r.json, "connectors")) && json_array_size(jget(r.json, "connectors")) == 0);
    http_resp_release(&r);
    snprintf(q, sizeof q, CONNECTORS "?connectionId=%s&connectorIds=a,b&connectorNames=n", id);
    CHECK(http(&d, "GET", q, "c-connectors", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_INT(json_array_size(jget(r.json, "connectors")), 0);
    http_resp_release(&r);
    CHECK(http(&d, "GET", CONNECTORS "/metadata", "c-connectors", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK(json_is_array(jget(r.json, "connectorImageMetadata.connectorImageFileList")));
    http_resp_release(&r);
    CHECK(http(&d, "PATCH", CONNECTORS "/4242", "c-connectors", "{\"connectorName\":\"x\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK(msg_has(&r, "4242"));
    http_resp_release(&r);
    CHECK(http(&d, "PATCH", CONNECTORS "/4242", "c-connectors", "{\"connectorName\":7}", &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    CHECK(msg_has(&r, "'connectorName'"));
    http_resp_release(&r);
    CHECK(http(&d, "PATCH", CONNECTORS "/4242", "c-connectors", "not json", &r) == 0);
    CHECK_EQ_INT(r.status, 400);
    http_resp_release(&r);
    CHECK(http(&d, "DELETE", CONNECTORS "/4242", "c-connectors", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    CHECK(jstr(r.json, "message") != NULL);
    http_resp_release(&r);
    CHECK(http(&d, "GET", CONNECTORS, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 400); /* the tenant header is required here too */
    http_resp_release(&r);
}

TEST(tenant_isolation)
{
    struct http_resp r;
    char id[32], path[128];
    CHECK(create("c-iso-a", "{\"connectionName\":\"shared-name\"}", id));
    CHECK(http(&d, "GET", CONNS, "c-iso-b", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "connections")), 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, CONNS "?connectionIds=%s", id);
    CHECK(http(&d, "GET", path, "c-iso-b", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "connections")), 0);
    http_resp_release(&r);
    snprintf(path, sizeof path, CONNS "/%s", id);
    CHECK(http(&d, "PATCH", path, "c-iso-b", "{\"connectionName\":\"mine\"}", &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
    CHECK(http(&d, "DELETE", path, "c-iso-b", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    http_resp_release(&r);
    /* the same name in another tenant is fine */
    CHECK(create("c-iso-b", "{\"connectionName\":\"shared-name\"}", id));
    CHECK(http(&d, "GET", CONNS, "c-iso-a", NULL, &r) == 0);
    CHECK_EQ_INT(json_array_size(jget(r.json, "connections")), 1);
    CHECK(strcmp(jstr(json_array_get(jget(r.json, "connections"), 0), "tenantId"), "c-iso-a") == 0);
    http_resp_release(&r);
}

TEST(survives_sigkill)
{
    struct http_resp r;
    char id[32], path[128], *before, *after;
    CHECK(create("c-persist", "{\"connectionName\":\"durable\",\"connectionEnvType\":\"kIksClassic\"}", id));
    char how[96];
    /* "before" must be a 200 listing holding the connection (two failed listings compare equal) */
    CHECK(http(&d, "GET", CONNS, "c-persist", NULL, &r) == 0);
    CHECKF(r.status == 200 && json_array_size(jget(r.json, "connections")) == 1 &&
           jstr(r.json, "connections.0.connectionId") && strcmp(jstr(r.json, "connections.0.connectionId"), id) == 0,
           "before the kill: %ld %s", r.status, r.body);
    http_resp_release(&r);
    before = list_text("c-persist");
    CHECKF(daemon_kill_how(&d, SIGKILL, how, sizeof how) == SIGKILL, "the daemon was not killed by SIGKILL: %s", how);
    CHECK(daemon_restart(&d, NULL) == 0);
    after = list_text("c-persist");
    CHECKF(strcmp(before, after) == 0, "before %s after %s", before, after);
    free(before);
    free(after);
    snprintf(path, sizeof path, CONNS "/%s/registrationToken", id);
    CHECK(http(&d, "POST", path, "c-persist", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    http_resp_release(&r);
    /* a new connection after the restart gets a new id */
    {
        char id2[32];
        CHECK(create("c-persist", "{\"connectionName\":\"after\"}", id2));
        CHECK(atoll(id2) > atoll(id));
    }
}

int main(void)
{
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(create_list_rename_delete);
    RUN(registration_tokens);
    RUN(bad_input_changes_nothing);
    RUN(connection_used_by_a_source);
    RUN(connectors);
    RUN(tenant_isolation);
    RUN(survives_sigkill);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    return check_finish();
}
