/* e2e_access.c: keys, roles and tenants (docs/operations.md, "Access: keys, roles, tenants") through
 * the real daemon, whose admin key comes from DIR/admin.key (so that it can be rotated):
 *   - the matrix: EVERY route of api_route_tables, sent with a key of every role (Viewer, Operator,
 *     Admin, DataSecurity, Agent of tenant "ta", and the cluster admin key), naming its own tenant and
 *     a foreign one ("tb"). Refused ones answer 403 Forbidden and change nothing: a snapshot of what
 *     the API shows (every list of both tenants and every key) is the same after each of them. Then
 *     the allowed ones are sent: none is 401 or 403 (their answer may well be a 4xx: the path ids are
 *     the fake "1" and bodies "{}", so 400 and 404 are expected there). The expectation is written
 *     here from the rules of the issue, not taken from the server's code; a few spot checks pin it;
 *   - a tenant key without the tenant header works in its own tenant;
 *   - who may create which key (tenant Admin: own tenant, roles it holds, no cluster, no
 *     DataSecurity; cluster admin: no DataSecurity; the data-security key: DataSecurity);
 *   - expiry and revocation take effect on the very next request;
 *   - no answer of the matrix holds a key's secret, and no GET of the keys resource a secret or its hash;
 *   - the admin key rotated by SIGHUP (admin.key rewritten) and by POST /v2/coffer/keys/admin/rotate:
 *     the old key is 401 at once, the new one works, the file holds the new key (0600);
 *   - a second daemon with a limit of 5 failures: 5 wrong keys, then 429 with Retry-After even for the
 *     right key; after the cool-down the right key works; the log names the address, never the key. */
#include "check.h"
#include "api/routes.h"
#include "e2e/harness.h"
#include "e2e/rawhttp.h"
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#define DS_KEY "e2e-access-data-security-key-4242"
#define KEYS "/v2/coffer/keys"
#define MAX_SECRETS 64

static struct daemon d;
static char admin_auth[200]; /* "Bearer <the admin key>" (read from admin.key; changes on rotation) */
static char secrets[MAX_SECRETS][200];
static int nsecrets;

enum { K_VIEWER, K_OPERATOR, K_ADMIN, K_DS, K_AGENT, K_CLUSTER, NKEYS };
static const char *const key_names[NKEYS] = { "Viewer", "Operator", "Admin", "DataSecurity", "Agent", "cluster admin" };
static char key_auth[NKEYS][200];

static long long now_usecs(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* send: METHOD path with auth (NULL: none), tenant header (NULL: none) and body (NULL: none). */
static long send(const char *method, const char *path, const char *auth, const char *tenant, const char *body,
                 struct http_resp *r)
{
    char th[300];
    const char *hs[3] = { "Content-Type: application/json", NULL, NULL };
    if (tenant) {
        snprintf(th, sizeof th, "X-IBM-Tenant-Id: %s", tenant);
        hs[1] = th;
    }
    if (http_raw(&d, method, path, auth, hs, body, body ? strlen(body) : 0, r) != 0) {
        memset(r, 0, sizeof *r);
        return -1;
    }
    return r->status;
}

/* status: send, the status only. */
static long status(const char *method, const char *path, const char *auth, const char *tenant, const char *body)
{
    struct http_resp r;
    long st = send(method, path, auth, tenant, body, &r);
    http_resp_release(&r);
    return st;
}

static void remember(const char *secret)
{
    if (nsecrets < MAX_SECRETS) snprintf(secrets[nsecrets++], sizeof secrets[0], "%s", secret);
}

/* make_key: POST /v2/coffer/keys as auth with body; the secret as "Bearer <secret>" in out. The status. */
static long make_key(const char *auth, const char *body, char *out, size_t len)
{
    struct http_resp r;
    long st = send("POST", KEYS, auth, NULL, jfmt("%s", body), &r);
    const char *s = jstr(r.json, "secret");
    if (st == 201 && s) {
        snprintf(out, len, "Bearer %s", s);
        remember(s);
    }
    http_resp_release(&r);
    return st;
}

static int read_admin_key(void)
{
    char path[600], buf[128] = "";
    FILE *f;
    snprintf(path, sizeof path, "%s/admin.key", d.data_dir);
    f = fopen(path, "r");
    if (!f) return -1;
    if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    snprintf(admin_auth, sizeof admin_auth, "Bearer %s", buf);
    return buf[0] ? 0 : -1;
}

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

/* ---- what the API shows: the snapshot compared around every refused request ---- */

static void strip_volatile(json_t *j)
{
    size_t i;
    json_t *v;
    const char *k;
    void *tmp;
    if (json_is_object(j)) {
        json_object_del(j, "lastUsedAtUsecs"); /* a key's last use moves with every key used */
        json_object_foreach_safe(j, tmp, k, v) strip_volatile(v);
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v) strip_volatile(v);
    }
}

static char *snapshot(void)
{
    static const char *const lists[] = { "/v2/data-protect/policies", "/v2/data-protect/protection-groups",
                                         "/v2/data-protect/sources/registrations", "/v2/data-source-connections",
                                         "/v2/data-protect/recoveries", "/v2/data-protect/agents/upgrade-tasks",
                                         NULL };
    static const char *const tenants[] = { "ta", "tb" };
    json_t *all = json_object();
    char *text;
    for (int t = 0; t < 2; t++)
        for (int i = 0; lists[i]; i++) {
            struct http_resp r;
            long st = send("GET", lists[i], admin_auth, tenants[t], NULL, &r);
            json_t *v = r.json ? json_incref(r.json) : json_integer(st);
            strip_volatile(v);
            json_object_set_new(all, jfmt("%s %s", tenants[t], lists[i]), v);
            http_resp_release(&r);
        }
    {
        const char *const cl[] = { KEYS, "/v2/coffer/repository/prune", "/v2/coffer/repository/verify", NULL };
        for (int i = 0; cl[i]; i++) {
            struct http_resp r;
            long st = send("GET", cl[i], admin_auth, NULL, NULL, &r);
            json_t *v = r.json ? json_incref(r.json) : json_integer(st);
            strip_volatile(v);
            json_object_set_new(all, cl[i], v);
            http_resp_release(&r);
        }
    }
    text = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(all);
    return text;
}

/* ---- the rules, as the issue states them ---- */

static unsigned implied(unsigned roles)
{
    if (roles & API_ROLE_ADMIN) roles |= API_ROLE_OPERATOR | API_ROLE_VIEWER;
    if (roles & API_ROLE_OPERATOR) roles |= API_ROLE_VIEWER;
    return roles;
}

static int expect_allowed(const struct api_route_table *t, const struct api_route *r, unsigned roles, int cluster,
                          int foreign)
{
    int tenantless = !t->tenant.header || (r->flags & API_ROUTE_NO_TENANT);
    if ((implied(roles) & r->role) != r->role &&
        !((r->flags & API_ROUTE_DATA_SECURITY) && (roles & API_ROLE_DATA_SECURITY)))
        return 0; /* the route's role (or DataSecurity where the route admits it) */
    if (tenantless) return cluster || (r->flags & API_ROUTE_TENANT_KEYS); /* cluster routes */
    return cluster || !foreign; /* a tenant key reaches its own tenant only */
}

static const unsigned key_roles[NKEYS] = { API_ROLE_VIEWER, API_ROLE_OPERATOR, API_ROLE_ADMIN,
                                           API_ROLE_DATA_SECURITY, API_ROLE_AGENT, API_ROLE_ADMIN };

TEST(keys_of_every_role)
{
    static const char *const role_of[NKEYS - 1] = { "Viewer", "Operator", "Admin", "DataSecurity", "Agent" };
    for (int k = 0; k < NKEYS - 1; k++) {
        /* DataSecurity is granted only by the data-security key, the others by the cluster admin */
        const char *by = k == K_DS ? "Bearer " DS_KEY : admin_auth;
        long st = make_key(by, jfmt("{'name':'matrix %s','tenantId':'ta','roles':['%s']}", role_of[k], role_of[k]),
                           key_auth[k], sizeof key_auth[k]);
        CHECKF(st == 201 && strncmp(key_auth[k], "Bearer cfk_", 11) == 0 && strlen(key_auth[k]) == 7 + 85,
               "%s key: %ld '%s'", role_of[k], st, key_auth[k]);
    }
    snprintf(key_auth[K_CLUSTER], sizeof key_auth[K_CLUSTER], "%s", admin_auth);
    /* state in both tenants, so that the lists compared around refused requests are not empty */
    for (int t = 0; t < 2; t++) {
        const char *tn = t ? "tb" : "ta";
        CHECK_EQ_INT(status("POST", "/v2/data-protect/policies", admin_auth, tn,
                            jfmt("{'name':'p-%s','backupPolicy':{'regular':{'incremental':{'schedule':{'unit':'Hours',"
                                 "'hourSchedule':{'frequency':6}}},'retention':{'unit':'Days','duration':14}}}}", tn)),
                     201);
        CHECK_EQ_INT(status("POST", "/v2/data-source-connections", admin_auth, tn, jfmt("{'connectionName':'c-%s'}", tn)),
                     201);
    }
}

TEST(spot_checks_of_the_rules)
{
    const char *P = "/v2/data-protect/policies";
    const char *body = "{\"name\":\"spot\"}";
    long st;
    CHECK_EQ_INT(status("GET", P, key_auth[K_VIEWER], "ta", NULL), 200);
    CHECK_EQ_INT(status("GET", P, key_auth[K_VIEWER], "tb", NULL), 403);
    CHECK_EQ_INT(status("POST", P, key_auth[K_VIEWER], "ta", body), 403);
    CHECK_EQ_INT(status("POST", P, key_auth[K_OPERATOR], "ta", body), 403);
    CHECK_EQ_INT(status("POST", P, key_auth[K_ADMIN], "ta", body), 400); /* allowed; the body is incomplete */
    CHECK_EQ_INT(status("GET", P, key_auth[K_AGENT], "ta", NULL), 403);
    CHECK_EQ_INT(status("GET", P, key_auth[K_DS], "ta", NULL), 403);     /* DataSecurity implies nothing */
    st = status("POST", "/v2/data-protect/protection-groups/1/runs", key_auth[K_OPERATOR], "ta",
                "{\"runType\":\"kRegular\"}");
    CHECKF(st == 400 || st == 404, "an Operator starts runs (group '1' is no group id): %ld", st);
    CHECK_EQ_INT(status("PUT", "/v2/data-protect/protection-groups/1/runs", key_auth[K_OPERATOR], "ta", "{}"), 403);
    st = status("PUT", "/v2/data-protect/protection-groups/1/runs", key_auth[K_DS], "ta", "{}");
    CHECKF(st == 400 || st == 404, "DataSecurity may change runs (data locks): %ld", st);
    CHECK_EQ_INT(status("GET", "/v2/coffer/repository/stats", key_auth[K_ADMIN], "ta", NULL), 403); /* cluster only */
    CHECK_EQ_INT(status("GET", "/v2/coffer/repository/stats", admin_auth, NULL, NULL), 200);
    CHECK_EQ_INT(status("GET", P, admin_auth, "tb", NULL), 200);
    {
        struct http_resp r;
        CHECK_EQ_INT(send("POST", P, key_auth[K_VIEWER], "ta", body, &r), 403);
        CHECKF(strcmp(jstr(r.json, "errorCode") ? jstr(r.json, "errorCode") : "", "Forbidden") == 0 &&
               strstr(jstr(r.json, "message"), "Admin"), "%s", r.body ? r.body : "");
        http_resp_release(&r);
    }
}

TEST(every_route_every_role_own_and_foreign_tenant)
{
    char *before = snapshot(), *after;
    int refused = 0, allowed = 0, routes = 0;
    CHECK(before != NULL);
    for (const struct api_route_table *t = api_route_tables; t->routes; t++)
        for (const struct api_route *r = t->routes; r->method; r++) routes++;
    /* pass 0: every refused combination (403, the snapshot unchanged); pass 1: every allowed one */
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < NKEYS; k++)
            for (int foreign = 0; foreign < 2; foreign++)
                for (const struct api_route_table *t = api_route_tables; t->routes; t++)
                    for (const struct api_route *r = t->routes; r->method; r++) {
                        char path[512], code[64];
                        struct http_resp resp;
                        int ok = expect_allowed(t, r, key_roles[k], k == K_CLUSTER, foreign);
                        long st;
                        if (ok != pass) continue;
                        if (pass && k == K_CLUSTER && strcmp(r->pattern, KEYS "/admin/rotate") == 0)
                            continue; /* allowed: rotating the admin key here is the rotation test's */
                        fill(r->pattern, path, sizeof path);
                        st = send(r->method, path, key_auth[k], foreign ? "tb" : "ta",
                                  strcmp(r->method, "GET") && strcmp(r->method, "DELETE") ? "{}" : NULL, &resp);
                        snprintf(code, sizeof code, "%s", jstr(resp.json, "errorCode") ? jstr(resp.json, "errorCode") : "");
                        for (int i = 0; i < nsecrets && resp.body; i++)
                            CHECKF(!strstr(resp.body, secrets[i] + 21), "%s %s shows a key's secret", r->method, path);
                        http_resp_release(&resp);
                        if (!ok) {
                            refused++;
                            CHECKF(st == 403 && strcmp(code, "Forbidden") == 0, "%s key, %s tenant: %s %s: %ld %s "
                                   "(want 403)", key_names[k], foreign ? "foreign" : "own", r->method, path, st, code);
                            after = snapshot();
                            CHECKF(after && strcmp(before, after) == 0, "%s key: refused %s %s changed what the API "
                                   "shows", key_names[k], r->method, path);
                            free(after);
                        } else {
                            allowed++;
                            CHECKF(st > 0 && st != 401 && st != 403 && st != 429, "%s key, %s tenant: %s %s: %ld %s "
                                   "(allowed: anything but 401/403)", key_names[k], foreign ? "foreign" : "own",
                                   r->method, path, st, code);
                        }
                    }
    free(before);
    printf("matrix: %d routes x %d keys x own/foreign tenant: %d refused (403, nothing changed), %d allowed\n", routes,
           NKEYS, refused, allowed);
    CHECKF(routes > 70 && refused > 300 && allowed > 150, "routes %d, refused %d, allowed %d", routes, refused, allowed);
}

TEST(a_tenant_key_without_the_header_works_in_its_own_tenant)
{
    struct http_resp r;
    int found = 0;
    CHECK_EQ_INT(status("POST", "/v2/data-source-connections", key_auth[K_ADMIN], NULL, "{\"connectionName\":\"no-header\"}"),
                 201);
    CHECK_EQ_INT(send("GET", "/v2/data-source-connections", admin_auth, "ta", NULL, &r), 200);
    found = r.body && strstr(r.body, "no-header") != NULL;
    http_resp_release(&r);
    CHECK(found);
    CHECK_EQ_INT(send("GET", "/v2/data-source-connections", admin_auth, "tb", NULL, &r), 200);
    found = r.body && strstr(r.body, "no-header") != NULL;
    http_resp_release(&r);
    CHECK(!found);
    /* a cluster key must still name the tenant */
    CHECK_EQ_INT(status("GET", "/v2/data-source-connections", admin_auth, NULL, NULL), 400);
}

TEST(who_may_create_which_key)
{
    char k[200], tid[64];
    struct http_resp r;
    const char *ta_admin = key_auth[K_ADMIN];
    CHECK_EQ_INT(make_key(ta_admin, "{'name':'v','roles':['Viewer','Operator']}", k, sizeof k), 201);
    CHECK_EQ_INT(make_key(ta_admin, "{'name':'v','tenantId':'ta','roles':['Admin']}", k, sizeof k), 201);
    CHECK_EQ_INT(make_key(ta_admin, "{'name':'v','tenantId':'tb','roles':['Viewer']}", k, sizeof k), 403);
    CHECK_EQ_INT(make_key(ta_admin, "{'name':'v','cluster':true,'roles':['Viewer']}", k, sizeof k), 403);
    CHECK_EQ_INT(make_key(ta_admin, "{'name':'v','roles':['DataSecurity']}", k, sizeof k), 403);
    CHECK_EQ_INT(make_key(ta_admin, "{'name':'v','roles':['Agent']}", k, sizeof k), 403); /* a role it lacks */
    CHECK_EQ_INT(make_key(key_auth[K_OPERATOR], "{'name':'v','roles':['Viewer']}", k, sizeof k), 403);
    CHECK_EQ_INT(make_key(admin_auth, "{'name':'v','tenantId':'tb','roles':['DataSecurity']}", k, sizeof k), 403);
    CHECK_EQ_INT(make_key(admin_auth, "{'name':'v','roles':['Viewer']}", k, sizeof k), 400); /* no tenantId */
    CHECK_EQ_INT(make_key(admin_auth, "{'name':'v','tenantId':'tb','roles':['Root']}", k, sizeof k), 400);
    CHECK_EQ_INT(make_key(admin_auth, "{'name':'v','tenantId':'tb','roles':[]}", k, sizeof k), 400);
    CHECK_EQ_INT(make_key(admin_auth, "{'name':'v','tenantId':'tb','roles':['Viewer'],'expiresAtUsecs':5}", k, sizeof k),
                 400);
    CHECK_EQ_INT(make_key(admin_auth, "{'name':'v','tenantId':'tb','roles':['Viewer'],'secret':'x'}", k, sizeof k), 400);
    /* a cluster Viewer key reads any tenant and cannot write */
    CHECK_EQ_INT(make_key(admin_auth, "{'name':'cv','cluster':true,'roles':['Viewer']}", k, sizeof k), 201);
    CHECK_EQ_INT(status("GET", "/v2/data-protect/policies", k, "tb", NULL), 200);
    CHECK_EQ_INT(status("POST", "/v2/data-source-connections", k, "tb", "{\"connectionName\":\"x\"}"), 403);
    /* the tenant admin lists only its tenant's keys, and another tenant's key is 404 to it */
    CHECK_EQ_INT(make_key(admin_auth, "{'name':'tb-viewer','tenantId':'tb','roles':['Viewer']}", k, sizeof k), 201);
    snprintf(tid, sizeof tid, "%.16s", k + 11);
    CHECK_EQ_INT(send("GET", KEYS, ta_admin, NULL, NULL, &r), 200);
    CHECKF(json_array_size(json_object_get(r.json, "keys")) >= 5 && r.body && !strstr(r.body, "tb-viewer") &&
           !strstr(r.body, "\"tb\""), "%s", r.body ? r.body : "");
    http_resp_release(&r);
    CHECK_EQ_INT(status("GET", jfmt(KEYS "/%s", tid), ta_admin, NULL, NULL), 404);
    CHECK_EQ_INT(status("DELETE", jfmt(KEYS "/%s", tid), ta_admin, NULL, NULL), 404);
    CHECK_EQ_INT(status("GET", "/v2/data-protect/policies", k, "tb", NULL), 200); /* not revoked by that */
    CHECK_EQ_INT(send("GET", jfmt(KEYS "/%s", tid), admin_auth, NULL, NULL, &r), 200);
    CHECKF(strcmp(jstr(r.json, "tenantId") ? jstr(r.json, "tenantId") : "", "tb") == 0 &&
           strcmp(jstr(r.json, "state") ? jstr(r.json, "state") : "", "Active") == 0, "%s", r.body ? r.body : "");
    http_resp_release(&r);
}

TEST(expiry_and_revocation_take_effect_on_the_next_request)
{
    char k[200], id[32];
    long long exp = now_usecs() + 1500000;
    int i;
    CHECK_EQ_INT(make_key(admin_auth, jfmt("{'name':'short','tenantId':'ta','roles':['Viewer'],'expiresAtUsecs':%lld}",
                                           exp), k, sizeof k), 201);
    CHECK_EQ_INT(status("GET", "/v2/data-protect/policies", k, "ta", NULL), 200);
    for (i = 0; i < 40 && now_usecs() < exp + 50000; i++) usleep(100 * 1000); /* bounded: 4 s */
    CHECK_EQ_INT(status("GET", "/v2/data-protect/policies", k, "ta", NULL), 401);
    snprintf(id, sizeof id, "%.16s", k + 11);
    {
        struct http_resp r;
        CHECK_EQ_INT(send("GET", jfmt(KEYS "/%s", id), admin_auth, NULL, NULL, &r), 200);
        CHECKF(strcmp(jstr(r.json, "state") ? jstr(r.json, "state") : "", "Expired") == 0, "%s", r.body ? r.body : "");
        http_resp_release(&r);
    }
    CHECK_EQ_INT(make_key(admin_auth, "{'name':'revoked','tenantId':'ta','roles':['Admin']}", k, sizeof k), 201);
    snprintf(id, sizeof id, "%.16s", k + 11);
    CHECK_EQ_INT(status("GET", "/v2/data-protect/policies", k, "ta", NULL), 200);
    CHECK_EQ_INT(status("DELETE", jfmt(KEYS "/%s", id), admin_auth, NULL, NULL), 204);
    CHECK_EQ_INT(status("GET", "/v2/data-protect/policies", k, "ta", NULL), 401);
    CHECK_EQ_INT(status("DELETE", jfmt(KEYS "/%s", id), admin_auth, NULL, NULL), 204); /* again: still revoked */
    CHECK_EQ_INT(status("GET", "/v2/data-protect/policies", k, "ta", NULL), 401);
    /* a wrong secret with a real id is refused too */
    {
        char bad[200];
        snprintf(bad, sizeof bad, "%s", key_auth[K_VIEWER]);
        bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
        CHECK_EQ_INT(status("GET", "/v2/data-protect/policies", bad, "ta", NULL), 401);
    }
}

static void hex_sha256(const char *s, char *out)
{
    unsigned char dg[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), dg);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) snprintf(out + 2 * i, 3, "%02x", dg[i]);
}

TEST(no_get_shows_a_secret_or_its_hash)
{
    const char *gets[] = { KEYS, jfmt(KEYS "?tenantId=ta"), NULL };
    struct http_resp r;
    int checked = 0;
    CHECK(nsecrets >= 8);
    for (int a = 0; a < 2; a++) {
        const char *auth = a ? key_auth[K_ADMIN] : admin_auth;
        for (int g = 0; gets[g]; g++) {
            CHECK_EQ_INT(send("GET", gets[g], auth, NULL, NULL, &r), 200);
            for (size_t i = 0; i < json_array_size(json_object_get(r.json, "keys")); i++) {
                const char *id = jstr(json_array_get(json_object_get(r.json, "keys"), i), "id");
                struct http_resp one;
                CHECK(id != NULL);
                CHECK_EQ_INT(send("GET", jfmt(KEYS "/%s", id), auth, NULL, NULL, &one), 200);
                for (int s = 0; s < nsecrets; s++) {
                    char h[65];
                    hex_sha256(secrets[s], h);
                    CHECKF(!strstr(one.body, secrets[s] + 21) && !strstr(one.body, h), "GET key %s shows a secret", id);
                }
                http_resp_release(&one);
                checked++;
            }
            for (int s = 0; s < nsecrets; s++) {
                char h[65];
                hex_sha256(secrets[s], h);
                CHECKF(!strstr(r.body, secrets[s] + 21) && !strstr(r.body, h), "GET %s shows a secret or its hash",
                       gets[g]);
            }
            http_resp_release(&r);
        }
    }
    CHECKF(checked >= 16, "%d keys read", checked);
}

TEST(admin_key_rotation_by_sighup)
{
    char path[600], old[200], fresh[200];
    FILE *f;
    int i;
    snprintf(old, sizeof old, "%s", admin_auth);
    snprintf(path, sizeof path, "%s/admin.key", d.data_dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    fprintf(f, "e2e-rotated-by-sighup-0123456789abcdef\n");
    fclose(f);
    chmod(path, 0600);
    snprintf(fresh, sizeof fresh, "Bearer e2e-rotated-by-sighup-0123456789abcdef");
    CHECK_EQ_INT(status("GET", "/v2/coffer/repository/stats", old, NULL, NULL), 200); /* until the signal */
    CHECK_EQ_INT(kill(d.pid, SIGHUP), 0);
    for (i = 0; i < 100 && status("GET", "/v2/coffer/repository/stats", fresh, NULL, NULL) != 200; i++)
        usleep(50 * 1000); /* bounded: 5 s */
    CHECK_EQ_INT(status("GET", "/v2/coffer/repository/stats", fresh, NULL, NULL), 200);
    CHECK_EQ_INT(status("GET", "/v2/coffer/repository/stats", old, NULL, NULL), 401);
    snprintf(admin_auth, sizeof admin_auth, "%s", fresh);
    /* an unreadable (empty) file on SIGHUP keeps the key in force */
    f = fopen(path, "w");
    CHECK(f != NULL);
    fclose(f);
    CHECK_EQ_INT(kill(d.pid, SIGHUP), 0);
    usleep(300 * 1000);
    CHECK_EQ_INT(status("GET", "/v2/coffer/repository/stats", fresh, NULL, NULL), 200);
    f = fopen(path, "w");
    CHECK(f != NULL);
    fprintf(f, "%s\n", fresh + 7);
    fclose(f);
}

TEST(admin_key_rotation_by_the_api)
{
    char old[200], fresh[200], path[600], file[128] = "";
    struct http_resp r;
    struct stat st;
    FILE *f;
    snprintf(old, sizeof old, "%s", admin_auth);
    CHECK_EQ_INT(status("POST", KEYS "/admin/rotate", key_auth[K_ADMIN], NULL, NULL), 403); /* a tenant admin */
    CHECK_EQ_INT(send("POST", KEYS "/admin/rotate", old, NULL, NULL, &r), 200);
    CHECKF(jstr(r.json, "secret") && strlen(jstr(r.json, "secret")) == 64, "%s", r.body ? r.body : "");
    snprintf(fresh, sizeof fresh, "Bearer %s", jstr(r.json, "secret") ? jstr(r.json, "secret") : "");
    remember(fresh + 7);
    http_resp_release(&r);
    CHECK_EQ_INT(status("GET", "/v2/coffer/repository/stats", old, NULL, NULL), 401);
    CHECK_EQ_INT(status("GET", "/v2/coffer/repository/stats", fresh, NULL, NULL), 200);
    snprintf(path, sizeof path, "%s/admin.key", d.data_dir);
    CHECK(stat(path, &st) == 0);
    CHECKF((st.st_mode & 0777) == 0600, "admin.key mode %o", (unsigned)(st.st_mode & 0777));
    f = fopen(path, "r");
    CHECK(f != NULL);
    if (!fgets(file, sizeof file, f)) file[0] = '\0';
    fclose(f);
    file[strcspn(file, "\n")] = '\0';
    CHECKF(strcmp(file, fresh + 7) == 0, "admin.key holds %s", file);
    snprintf(admin_auth, sizeof admin_auth, "%s", fresh);
    /* the rotated key survives a restart (read from the file) */
    CHECK_EQ_INT(daemon_kill(&d, SIGTERM), 0);
    CHECK(daemon_restart(&d, (const char *const[]){ "COFFER_ADMIN_KEY=", "COFFER_DATA_SECURITY_KEY=" DS_KEY, NULL }) == 0);
    CHECK_EQ_INT(status("GET", "/v2/coffer/repository/stats", fresh, NULL, NULL), 200);
    CHECK_EQ_INT(status("GET", "/v2/coffer/repository/stats", old, NULL, NULL), 401);
}

TEST(failed_authentication_is_rate_limited)
{
    static const char *const env[] = { "COFFER_AUTH_FAILURES=5", "COFFER_AUTH_WINDOW_SECS=60",
                                       "COFFER_AUTH_COOLDOWN_SECS=2", NULL };
    struct daemon d2;
    const char *P = "/data-protect/policies";
    const char *const hdr[] = { "X-IBM-Tenant-Id: ta", "Authorization: Bearer wrong-secret-e2e-77", NULL };
    const char *const good[] = { "X-IBM-Tenant-Id: ta", "Authorization: Bearer " HARNESS_KEY, NULL };
    struct raw_resp rr;
    size_t n;
    char *req, cmd[1400];
    int i, ok_after = 0;
    CHECK(daemon_start(&d2, env) == 0);
    /* no key at all does not count (nothing was guessed) */
    req = rawhttp_build("GET", "/v2/data-protect/policies", 0, hdr, NULL, 0, &n);
    for (i = 0; i < 5; i++) {
        CHECK(rawhttp_send(d2.port, req, n, 10000, &rr) == 0);
        CHECKF(rr.status == 401, "wrong key %d: %d", i, rr.status);
        raw_resp_release(&rr);
    }
    free(req);
    req = rawhttp_build("GET", "/v2/data-protect/policies", 0, good, NULL, 0, &n);
    CHECK(rawhttp_send(d2.port, req, n, 10000, &rr) == 0);
    CHECKF(rr.status == 429 && rr.head && strstr(rr.head, "Retry-After: ") &&
           strcmp(jstr(rr.json, "errorCode") ? jstr(rr.json, "errorCode") : "", "TooManyRequests") == 0,
           "the right key during the cool-down: %d %s", rr.status, rr.head ? rr.head : "");
    raw_resp_release(&rr);
    for (i = 0; i < 40 && !ok_after; i++) { /* bounded: 10 s for a 2 s cool-down */
        usleep(250 * 1000);
        CHECK(rawhttp_send(d2.port, req, n, 10000, &rr) == 0);
        ok_after = rr.status == 200;
        CHECKF(rr.status == 200 || rr.status == 429, "%d", rr.status);
        raw_resp_release(&rr);
    }
    free(req);
    CHECK(ok_after);
    (void)P;
    snprintf(cmd, sizeof cmd, "grep -c 'authentication failed from 127.0.0.1' '%s' >/dev/null && "
             "! grep -q 'wrong-secret-e2e-77' '%s'", d2.log_path, d2.log_path);
    CHECKF(system(cmd) == 0, "the log names the address and never the presented key (%s)", d2.log_path);
    CHECK_EQ_INT(daemon_stop(&d2), 0);
}

int main(void)
{
    static const char *const env[] = { "COFFER_ADMIN_KEY=", "COFFER_DATA_SECURITY_KEY=" DS_KEY, NULL };
    if (daemon_start(&d, env) != 0 || read_admin_key() != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(keys_of_every_role);
    RUN(spot_checks_of_the_rules);
    RUN(every_route_every_role_own_and_foreign_tenant);
    RUN(a_tenant_key_without_the_header_works_in_its_own_tenant);
    RUN(who_may_create_which_key);
    RUN(expiry_and_revocation_take_effect_on_the_next_request);
    RUN(no_get_shows_a_secret_or_its_hash);
    RUN(admin_key_rotation_by_sighup);
    RUN(admin_key_rotation_by_the_api);
    RUN(failed_authentication_is_rate_limited);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    return check_finish();
}
