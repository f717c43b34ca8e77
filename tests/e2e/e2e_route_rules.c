/* e2e_route_rules.c: the per-route-table authentication and tenant rules (api/routes.h) as the real
 * daemon applies them. For every route of every table in api_route_tables (so a new table or route is
 * covered without editing this file): no credentials is 401 (a table with scheme API_AUTH_NONE, the
 * web console's files: answered without credentials, never 401); when the table's tenant rule requires a
 * header, an authenticated request without it is 400 MissingTenant naming that header, and one with a
 * value of max_len + 1 bytes is 400 InvalidTenant; a table without a tenant rule reaches its handler
 * without one. Then the order of dispatch: 401 comes before 404, 405 and 413 (an unauthenticated
 * client learns nothing about which paths exist), and before the tenant check. */
#include "check.h"
#include "api/routes.h"
#include "e2e/harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct daemon d;

/* fill: the route's pattern with every {placeholder} replaced by "1". */
static void fill(const char *pattern, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 2 < len;) {
        if (*p == '{') {
            out[o++] = '1';
            while (*p && *p != '}') p++;
            if (*p) p++;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

/* send_req: sends a request without a body; returns the status (-1 when none came), the errorCode
 * (or "") in code and the message (or "") in msg. */
static long send_req(const char *method, const char *path, const char *auth, const char *const *headers,
                     char *code, size_t code_len, char *msg, size_t msg_len)
{
    struct http_resp r;
    long st;
    if (http_raw(&d, method, path, auth, headers, NULL, 0, &r) != 0) return -1;
    st = r.status;
    snprintf(code, code_len, "%s", jstr(r.json, "errorCode") ? jstr(r.json, "errorCode") : "");
    snprintf(msg, msg_len, "%s", jstr(r.json, "message") ? jstr(r.json, "message") : "");
    http_resp_release(&r);
    return st;
}

TEST(every_route_applies_its_tables_rules)
{
    int routes = 0, tenant_checked = 0, tenantless = 0, open = 0;
    for (const struct api_route_table *t = api_route_tables; t->routes; t++) {
        CHECKF(t->name && (t->auth == API_AUTH_ADMIN_BEARER || t->auth == API_AUTH_NONE), "table %s: unknown auth scheme %d",
               t->name, (int)t->auth);
        if (t->auth == API_AUTH_NONE) {
            for (const struct api_route *r = t->routes; r->method; r++) {
                char path[512], code[64], msg[256];
                long st;
                fill(r->pattern, path, sizeof path);
                st = send_req(r->method, path, NULL, NULL, code, sizeof code, msg, sizeof msg);
                CHECKF(st > 0 && st != 401 && strcmp(code, "MissingTenant") != 0, "%s %s (table %s, no auth): %ld %s",
                       r->method, path, t->name, st, code);
                st = send_req(r->method, path, "Bearer wrong", NULL, code, sizeof code, msg, sizeof msg);
                CHECKF(st > 0 && st != 401, "%s %s (table %s, no auth) with a wrong key: %ld", r->method, path, t->name, st);
                open++;
            }
            continue;
        }
        CHECKF(!t->tenant.header || t->tenant.max_len > 0, "table %s: a tenant header without a length", t->name);
        for (const struct api_route *r = t->routes; r->method; r++) {
            char path[512], code[64], msg[256], hdr[400], longval[300];
            const char *hs[2] = { hdr, NULL };
            long st;
            routes++;
            fill(r->pattern, path, sizeof path);
            /* no credentials, with a valid tenant: 401 */
            snprintf(hdr, sizeof hdr, "%s: t1", t->tenant.header ? t->tenant.header : "X-Unused");
            st = send_req(r->method, path, NULL, hs, code, sizeof code, msg, sizeof msg);
            CHECKF(st == 401 && strcmp(code, "Unauthorized") == 0, "%s %s without a key: %ld %s", r->method, path, st,
                   code);
            st = send_req(r->method, path, "Bearer wrong", hs, code, sizeof code, msg, sizeof msg);
            CHECKF(st == 401, "%s %s with a wrong key: %ld", r->method, path, st);
            if (r->flags & API_ROUTE_NO_TENANT) continue;
            if (t->tenant.header && t->tenant.required) {
                /* authenticated, no tenant: 400 naming the header; and still 401 first without a key */
                st = send_req(r->method, path, "Bearer " HARNESS_KEY, NULL, code, sizeof code, msg, sizeof msg);
                CHECKF(st == 400 && strcmp(code, "MissingTenant") == 0 && strstr(msg, t->tenant.header),
                       "%s %s without %s: %ld %s '%s'", r->method, path, t->tenant.header, st, code, msg);
                st = send_req(r->method, path, NULL, NULL, code, sizeof code, msg, sizeof msg);
                CHECKF(st == 401, "%s %s without key or tenant: %ld (401 comes first)", r->method, path, st);
                /* one byte over the rule's length */
                CHECK(t->tenant.max_len + 1 < sizeof longval);
                memset(longval, 'a', t->tenant.max_len + 1);
                longval[t->tenant.max_len + 1] = '\0';
                snprintf(hdr, sizeof hdr, "%s: %s", t->tenant.header, longval);
                st = send_req(r->method, path, "Bearer " HARNESS_KEY, hs, code, sizeof code, msg, sizeof msg);
                CHECKF(st == 400 && strcmp(code, "InvalidTenant") == 0 && strstr(msg, t->tenant.header),
                       "%s %s with a %zu-byte tenant: %ld %s", r->method, path, t->tenant.max_len + 1, st, code);
                /* exactly max_len passes the rule (GET only: the handler runs) */
                if (strcmp(r->method, "GET") == 0) {
                    longval[t->tenant.max_len] = '\0';
                    snprintf(hdr, sizeof hdr, "%s: %s", t->tenant.header, longval);
                    st = send_req(r->method, path, "Bearer " HARNESS_KEY, hs, code, sizeof code, msg, sizeof msg);
                    CHECKF(st > 0 && strcmp(code, "InvalidTenant") != 0 && strcmp(code, "MissingTenant") != 0,
                           "%s %s with a %zu-byte tenant: %ld %s", r->method, path, t->tenant.max_len, st, code);
                }
                tenant_checked++;
            } else if (!t->tenant.header) {
                /* a table without a tenant rule: the handler answers without one */
                st = send_req(r->method, path, "Bearer " HARNESS_KEY, NULL, code, sizeof code, msg, sizeof msg);
                CHECKF(st > 0 && st != 401 && strcmp(code, "MissingTenant") != 0,
                       "%s %s (table %s, no tenant rule): %ld %s", r->method, path, t->name, st, code);
                tenantless++;
            }
        }
    }
    CHECKF(routes > 50 && tenant_checked > 50 && tenantless >= 12 && open >= 2,
           "routes %d, tenant-checked %d, tenantless %d, open %d", routes, tenant_checked, tenantless, open);
}

TEST(connector_side_table_needs_no_tenant)
{
    char code[64], msg[256];
    long st = send_req("GET", "/v2/data-source-connector/status", "Bearer " HARNESS_KEY, NULL, code, sizeof code,
                       msg, sizeof msg);
    CHECKF(st == 501 && strcmp(code, "NotImplemented") == 0, "%ld %s", st, code);
    st = send_req("GET", "/data-source-connector/status", NULL, NULL, code, sizeof code, msg, sizeof msg);
    CHECK_EQ_INT(st, 401);
}

TEST(authentication_comes_before_404_405_and_413)
{
    char code[64], msg[256];
    const char *const tenant[] = { "X-IBM-Tenant-Id: t1", NULL };
    struct http_resp r;
    size_t n = 5u * 1024 * 1024;
    char *big;
    long st = send_req("GET", "/v2/no/such/thing", NULL, tenant, code, sizeof code, msg, sizeof msg);
    CHECK_EQ_INT(st, 401);
    st = send_req("GET", "/v2/no/such/thing", "Bearer " HARNESS_KEY, tenant, code, sizeof code, msg, sizeof msg);
    CHECK_EQ_INT(st, 404);
    st = send_req("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r", NULL, tenant, code, sizeof code, msg, sizeof msg);
    CHECK_EQ_INT(st, 401); /* deeper than any route */
    st = send_req("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r", "Bearer " HARNESS_KEY, tenant, code, sizeof code,
                  msg, sizeof msg);
    CHECK_EQ_INT(st, 404);
    st = send_req("PATCH", "/v2/data-protect/policies", NULL, tenant, code, sizeof code, msg, sizeof msg);
    CHECK_EQ_INT(st, 401);
    st = send_req("PATCH", "/v2/data-protect/policies", "Bearer " HARNESS_KEY, tenant, code, sizeof code, msg,
                  sizeof msg);
    CHECK_EQ_INT(st, 405);
    big = malloc(n);
    CHECK(big != NULL);
    memset(big, 'x', n);
    CHECK(http_raw(&d, "POST", "/v2/data-protect/policies", NULL, tenant, big, n, &r) == 0);
    st = r.status;
    http_resp_release(&r);
    CHECK(http_raw(&d, "POST", "/v2/data-protect/policies", "Bearer " HARNESS_KEY, NULL, big, n, &r) == 0);
    free(big);
    CHECK_EQ_INT(st, 401);
    CHECK_EQ_INT(r.status, 413); /* over the cap: 413 before the missing tenant */
    http_resp_release(&r);
}

TEST(a_body_at_the_cap_is_read_whole)
{
    /* the body buffer's cap is exact: API_MAX_BODY_BYTES reaches the handler (which parses it and
     * names the JSON problem), one byte more is 413 */
    const char *const tenant[] = { "X-IBM-Tenant-Id: t1", NULL };
    size_t n = API_MAX_BODY_BYTES;
    char *big = malloc(n + 1);
    struct http_resp r;
    long st;
    CHECK(big != NULL);
    memset(big, ' ', n + 1);
    big[0] = '{';
    big[n - 1] = '}';
    CHECK(http_raw(&d, "POST", "/v2/data-protect/policies", "Bearer " HARNESS_KEY, tenant, big, n, &r) == 0);
    st = r.status;
    CHECKF(st == 400 && jstr(r.json, "message") && strstr(jstr(r.json, "message"), "name"),
           "a %zu-byte body: %ld %s", n, st, r.body ? r.body : "");
    http_resp_release(&r);
    big[n - 1] = ' ';
    big[n] = '}';
    CHECK(http_raw(&d, "POST", "/v2/data-protect/policies", "Bearer " HARNESS_KEY, tenant, big, n + 1, &r) == 0);
    free(big);
    CHECK_EQ_INT(r.status, 413);
    http_resp_release(&r);
}

int main(void)
{
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(every_route_applies_its_tables_rules);
    RUN(connector_side_table_needs_no_tenant);
    RUN(authentication_comes_before_404_405_and_413);
    RUN(a_body_at_the_cap_is_read_whole);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    return check_finish();
}
