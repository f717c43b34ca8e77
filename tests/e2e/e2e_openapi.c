/* e2e_openapi.c: the real daemon serves its description and names the methods a path takes.
 *   - GET /v2/openapi.json answers 200 application/json, byte for byte openapi/coffer.json from the
 *     source tree; it needs the bearer key (401 without) and no tenant header; other methods are 405;
 *   - a 405 carries an Allow header listing exactly the methods the path is served with (a path of
 *     four routes, a path of one, a path served both with and without /v2), and its JSON message; a
 *     literal segment outranks a {param} (GET .../runs/actions is 405, not run "actions");
 *   - every path of the description answers a method it does not document with 405 and an Allow
 *     header equal to the methods the description documents for that URL (the most specific path
 *     templates the URL is an instance of): the description and the daemon agree path by path.
 * Headers are read with libcurl's header callback (the harness does not keep them). */
#include "check.h"
#include "harness.h"
#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static struct daemon d;

struct got {
    long status;
    char allow[256];
    char ctype[128];
    char *body;
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct got *g = ud;
    char *nb = realloc(g->body, g->len + size * n + 1);
    if (!nb) return 0;
    memcpy(nb + g->len, p, size * n);
    g->body = nb;
    g->len += size * n;
    g->body[g->len] = '\0';
    return size * n;
}

/* on_header: keeps Allow and Content-Type (value trimmed). */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct got *g = ud;
    size_t len = size * n;
    char *dst = NULL;
    size_t cap = 0, skip = 0;
    if (len > 6 && strncasecmp(p, "Allow:", 6) == 0) dst = g->allow, cap = sizeof g->allow, skip = 6;
    if (len > 13 && strncasecmp(p, "Content-Type:", 13) == 0) dst = g->ctype, cap = sizeof g->ctype, skip = 13;
    if (dst) {
        size_t a = skip, b = len;
        while (a < b && isspace((unsigned char)p[a])) a++;
        while (b > a && isspace((unsigned char)p[b - 1])) b--;
        snprintf(dst, cap, "%.*s", (int)(b - a), p + a);
    }
    return len;
}

/* req: method on path with the admin key (auth 1) or none, and the tenant header when tenant. */
static int req(const char *method, const char *path, int auth, const char *tenant, struct got *g)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[2048], line[512];
    CURLcode rc;
    memset(g, 0, sizeof *g);
    if (!c) return -1;
    snprintf(url, sizeof url, "%s%s", d.base, path);
    if (auth) h = curl_slist_append(h, "Authorization: Bearer " HARNESS_KEY);
    if (tenant) {
        snprintf(line, sizeof line, "X-IBM-Tenant-Id: %s", tenant);
        h = curl_slist_append(h, line);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, g);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    rc = curl_easy_perform(c);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

/* tokens: splits a comma-separated method list into at most max tokens of buf; returns the count. */
static int tokens(const char *list, char *buf, size_t len, char *out[], int max)
{
    char *save = NULL, *t;
    int n = 0;
    snprintf(buf, len, "%s", list);
    for (t = strtok_r(buf, ", ", &save); t && n < max; t = strtok_r(NULL, ", ", &save)) out[n++] = t;
    return n;
}

/* same_set: whether two comma-separated method lists name the same methods, each once. */
static int same_set(const char *a, const char *b)
{
    char ba[256], bb[256], *ta[16], *tb[16];
    int na = tokens(a, ba, sizeof ba, ta, 16), nb = tokens(b, bb, sizeof bb, tb, 16);
    if (na != nb || na == 0) return 0;
    for (int i = 0; i < na; i++) {
        int found = 0, dup = 0;
        for (int j = 0; j < nb; j++) found += strcmp(ta[i], tb[j]) == 0;
        for (int j = 0; j < na; j++) dup += strcmp(ta[i], ta[j]) == 0;
        if (found != 1 || dup != 1) return 0;
    }
    return 1;
}

TEST(description_is_served_as_in_the_tree)
{
    struct got g;
    FILE *f = fopen("openapi/coffer.json", "rb");
    char *want = NULL;
    long n = 0;
    int same;
    json_t *doc;
    CHECK(f != NULL);
    CHECK(fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0);
    want = malloc((size_t)n);
    same = want && fread(want, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    if (!same) free(want);
    CHECK(same);
    CHECK(req("GET", "/v2/openapi.json", 1, NULL, &g) == 0);
    same = g.status == 200 && g.len == (size_t)n && memcmp(g.body, want, (size_t)n) == 0;
    free(want);
    CHECKF(same, "status %ld, %zu bytes (the file has %ld)", g.status, g.len, n);
    CHECKF(strncmp(g.ctype, "application/json", 16) == 0, "Content-Type %s", g.ctype);
    doc = json_loadb(g.body, g.len, 0, NULL);
    free(g.body);
    CHECK(doc != NULL);
    CHECK(json_object_get(json_object_get(doc, "paths"), "/v2/openapi.json") != NULL);
    json_decref(doc);
    /* with a tenant header too; without the key: 401 */
    CHECK(req("GET", "/v2/openapi.json", 1, "t1", &g) == 0);
    free(g.body);
    CHECK_EQ_INT(g.status, 200);
    CHECK(req("GET", "/v2/openapi.json", 0, NULL, &g) == 0);
    free(g.body);
    CHECK_EQ_INT(g.status, 401);
}

TEST(a_405_names_the_allowed_methods)
{
    static const struct { const char *method, *path, *allow; } cases[] = {
        { "PATCH", "/v2/data-protect/policies", "POST, GET" },
        { "POST", "/v2/data-protect/policies/1:1:1", "GET, PUT, DELETE" },
        { "POST", "/v2/data-protect/sources/registrations/7", "GET, PUT, PATCH, DELETE" },
        { "POST", "/v2/openapi.json", "GET" },
        { "HEAD", "/v2/openapi.json", "GET" },
        { "DELETE", "/irisservices/api/v1/public/users", "GET, PUT" },
        { "POST", "/v2/irisservices/api/v1/public/protectionSources", "GET" },
        { "PUT", "/v2/coffer/repository/prune", "POST, GET" },
        /* a literal segment outranks a {param}: these are resources of their own, not ids */
        { "GET", "/v2/data-protect/protection-groups/1:1:1/runs/actions", "POST" },
        { "PATCH", "/v2/data-source-connectors/metadata", "GET" },
        { "GET", "/v2/data-protect/recoveries/download-files-folders", "POST" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct got g;
        int has_msg;
        CHECK(req(cases[i].method, cases[i].path, 1, "t1", &g) == 0);
        has_msg = strcmp(cases[i].method, "HEAD") == 0 || (g.body && strstr(g.body, "\"message\"") != NULL);
        free(g.body);
        CHECKF(g.status == 405, "%s %s: %ld", cases[i].method, cases[i].path, g.status);
        CHECKF(same_set(g.allow, cases[i].allow), "%s %s: Allow '%s', want '%s'", cases[i].method, cases[i].path,
               g.allow, cases[i].allow);
        CHECKF(has_msg, "%s %s: no JSON message", cases[i].method, cases[i].path);
    }
}

/* concrete: the path with every {param} replaced by "1". */
static void concrete(const char *path, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = path; *p && o + 2 < len; p++) {
        if (*p == '{') {
            out[o++] = '1';
            while (*p && *p != '}') p++;
            if (!*p) break;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* template_matches: whether url (no {}) is an instance of the path template tpl. */
static int template_matches(const char *tpl, const char *url)
{
    while (*tpl && *url) {
        if (*tpl == '{') {
            while (*tpl && *tpl != '}') tpl++;
            if (*tpl) tpl++;
            if (*url == '/' || !*url) return 0;
            while (*url && *url != '/') url++;
        } else if (*tpl++ != *url++) {
            return 0;
        }
    }
    return !*tpl && !*url;
}

static int literals(const char *tpl)
{
    int n = 0;
    for (const char *p = tpl; *p; p++)
        if (*p == '/' && p[1] && p[1] != '{') n++;
    return n;
}

/* served_at: whether the most specific paths of the description that url is an instance of take
 * method (lower case): a literal segment outranks a {param}, so ".../runs/actions" is the actions
 * resource (POST), not GetProtectionGroupRun with runId "actions". */
static int served_at(json_t *doc, const char *url, const char *method)
{
    const char *path;
    json_t *item;
    int best = -1, yes = 0;
    json_object_foreach(json_object_get(doc, "paths"), path, item)
        if (template_matches(path, url) && literals(path) > best) best = literals(path);
    json_object_foreach(json_object_get(doc, "paths"), path, item)
        if (template_matches(path, url) && literals(path) == best && json_object_get(item, method)) yes = 1;
    return yes;
}

TEST(every_described_path_allows_its_documented_methods)
{
    static const char *const methods[] = { "GET", "PUT", "POST", "DELETE", "PATCH", NULL };
    json_t *doc = json_load_file("openapi/coffer.json", 0, NULL), *item;
    const char *path;
    int paths = 0;
    CHECK(doc != NULL);
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        char documented[128] = "", url[1024], lower[16];
        const char *probe = NULL;
        struct got g;
        int ok;
        concrete(path, url, sizeof url);
        for (int i = 0; methods[i]; i++) {
            size_t k;
            for (k = 0; methods[i][k]; k++) lower[k] = (char)tolower((unsigned char)methods[i][k]);
            lower[k] = '\0';
            if (served_at(doc, url, lower)) {
                size_t u = strlen(documented);
                snprintf(documented + u, sizeof documented - u, "%s%s", u ? ", " : "", methods[i]);
            } else if (!probe) {
                probe = methods[i];
            }
        }
        if (!probe) continue; /* every method is served at this URL */
        ok = req(probe, url, 1, "t1", &g) == 0;
        free(g.body);
        if (!ok) break;
        paths++;
        if (g.status != 405 || !same_set(g.allow, documented)) {
            json_decref(doc);
            CHECKF(0, "%s %s: %ld, Allow '%s'; the description documents '%s'", probe, url, g.status, g.allow,
                   documented);
        }
    }
    json_decref(doc);
    CHECKF(paths > 40, "only %d paths probed", paths);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (daemon_start(&d, NULL) != 0) {
        check_fail(__FILE__, __LINE__, "the daemon did not start");
        return check_finish();
    }
    RUN(description_is_served_as_in_the_tree);
    RUN(a_405_names_the_allowed_methods);
    RUN(every_described_path_allows_its_documented_methods);
    if (daemon_stop(&d) != 0) check_fail(__FILE__, __LINE__, "daemon did not exit cleanly");
    curl_global_cleanup();
    return check_finish();
}
