/* test_local_api.c: coffer-agent's local API (src/agentd/local_api.c) served on a loopback port and
 * driven over HTTP with libcurl. The agent core's functions it calls (agentd_register,
 * agentd_state_load/release, agentd_log, agentd_log_list, agentd_connected) are replaced here by weak
 * recording doubles (the real ones, when linked, take precedence: they are strong definitions), so that
 * what the API passes to them and makes of their answers is checked:
 *   - the local admin is made from the installer's admin-password file: local-admin.json 0600 holding
 *     no plaintext; CreateAccessToken with the right pair 201 (a 64-hex Bearer token), a wrong pair 401,
 *     a missing field 400 naming it, another domain 400; after 5 failures 429;
 *   - every other operation needs the token (401 without, or with a made-up one), as Bearer or in the
 *     session-name cookie, at the root and under /v2;
 *   - RegisterDataSourceConnector: registrationToken required (400 naming it), connectorId an integer;
 *     without a server URL 409; with COFFER_AGENT_SERVER the token, connector id and URL reach
 *     agentd_register and the answer is 204; a refused token 403 naming registrationToken;
 *   - status: NotDone before, Success after registration; connection state from agentd_connected;
 *   - logs: the agent's log entries (including the failed login warning) as connectorLogs;
 *   - GetUsers/UpdateUser: the admin (usernames filter); a wrong currentPassword 403 and nothing
 *     changes; a short password 400; another user 404; a change works (new password logs in, the old
 *     one is 401, admin-password is removed);
 *   - unknown paths 404, wrong methods 405, bodies over 64 KiB 413, malformed JSON 400;
 *   - with local-api.crt/.key in the state directory it serves HTTPS (plain HTTP fails). */
#include "agentd/agentd.h"
#include "agentd/local_api.h"
#include "check.h"
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------- recording doubles of the agent core ---------- */
static json_t *g_log;
static char g_reg_url[256], g_reg_token[128];
static int64_t g_reg_connector = -1;
static int g_registered;
static char *g_dir;

__attribute__((weak)) void agentd_log(enum agentd_log_level lvl, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!g_log) g_log = json_array();
    json_array_append_new(g_log, json_pack("{s:i,s:I,s:s}", "level", (int)lvl, "time_ms", (json_int_t)1700000000000,
                                           "message", msg));
}
__attribute__((weak)) json_t *agentd_log_list(void) { return g_log ? json_deep_copy(g_log) : json_array(); }
__attribute__((weak)) int agentd_connected(int64_t *last_ms)
{
    *last_ms = g_registered ? 1700000000123 : 0;
    return g_registered;
}
__attribute__((weak)) void agentd_state_release(struct agentd_state *st)
{
    free(st->state_dir);
    free(st->server_url);
    free(st->credential);
    memset(st, 0, sizeof *st);
}
__attribute__((weak)) int agentd_state_load(const char *state_dir, struct agentd_state *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->state_dir = strdup(state_dir);
    if (!g_registered) return -ENOENT;
    out->server_url = strdup(g_reg_url);
    out->credential = strdup("cred");
    return 0;
}
__attribute__((weak)) int agentd_register(const char *state_dir, const char *server_url, const char *token,
                                          int64_t connector_id, const char *pin, char *err, size_t errlen)
{
    if (strcmp(token, "expired-token") == 0) {
        snprintf(err, errlen, "the registration token has expired");
        return -EACCES;
    }
    snprintf(g_reg_url, sizeof g_reg_url, "%s", server_url);
    snprintf(g_reg_token, sizeof g_reg_token, "%s", token);
    g_reg_connector = connector_id;
    g_registered = strcmp(state_dir, g_dir) == 0;
    return 0;
}

/* ---------- a small client ---------- */
static int g_port, g_https;

struct buf { char *p; size_t n; };
static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    struct buf *b = ud;
    char *q = realloc(b->p, b->n + s * n + 1);
    if (!q) return 0;
    memcpy(q + b->n, p, s * n);
    b->p = q;
    b->n += s * n;
    q[b->n] = '\0';
    return s * n;
}

/* req: method path with an optional token (as Bearer, or as the cookie when cookie is 1) and body;
 * the status (-1: no answer) and the JSON answer in *out (new ref, may be NULL). */
static long req(const char *method, const char *path, const char *token, int cookie, const char *body, json_t **out)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct buf b = { NULL, 0 };
    char url[512], hdr[200];
    long st = -1;
    json_error_t je;
    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", g_https ? "https" : "http", g_port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    if (token && !cookie) {
        snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, hdr);
    }
    if (token && cookie) {
        snprintf(hdr, sizeof hdr, "session-name=%s", token);
        curl_easy_setopt(c, CURLOPT_COOKIE, hdr);
    }
    if (body) {
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (out) *out = b.p ? json_loads(b.p, 0, &je) : NULL;
    free(b.p);
    return st;
}

static int msg_has(json_t *j, const char *want)
{
    const char *m = json_string_value(json_object_get(j, "message"));
    if (m && strstr(m, want)) return 1;
    fprintf(stderr, "message '%s' lacks '%s'\n", m ? m : "(none)", want);
    return 0;
}

static char g_token[80];

static long login(const char *user, const char *pw, json_t **out)
{
    char body[256];
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\",\"domain\":\"LOCAL\"}", user, pw);
    return req("POST", "/access-tokens", NULL, 0, body, out);
}

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char p[700];
    FILE *f;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    chmod(p, mode);
}

TEST(the_admin_comes_from_the_installer_password)
{
    char err[256], p[700], *text = NULL;
    struct stat st;
    FILE *f;
    long n;
    write_file(g_dir, "admin-password", "first-password-0123\n", 0600);
    CHECKF(agentd_local_api_start(g_dir, "127.0.0.1:0", err, sizeof err) == 0, "%s", err);
    g_port = agentd_local_api_port();
    CHECK(g_port > 0);
    snprintf(p, sizeof p, "%s/local-admin.json", g_dir);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK((f = fopen(p, "r")) != NULL);
    text = calloc(1, 8192);
    n = (long)fread(text, 1, 8191, f);
    fclose(f);
    CHECK(n > 0 && strstr(text, "pbkdf2_sha256") && !strstr(text, "first-password-0123"));
    free(text);
    CHECK(agentd_local_api_start(g_dir, "127.0.0.1:0", err, sizeof err) == -EALREADY);
}

TEST(access_tokens)
{
    json_t *j = NULL;
    CHECK_EQ_INT(login("admin", "wrong-password", &j), 401);
    CHECK(msg_has(j, "wrong username or password"));
    json_decref(j);
    CHECK_EQ_INT(login("root", "first-password-0123", &j), 401);
    json_decref(j);
    CHECK_EQ_INT(req("POST", "/access-tokens", NULL, 0, "{\"password\":\"x\"}", &j), 400);
    CHECK(msg_has(j, "'username'"));
    json_decref(j);
    CHECK_EQ_INT(req("POST", "/access-tokens", NULL, 0, "{\"username\":\"admin\"}", &j), 400);
    CHECK(msg_has(j, "'password'"));
    json_decref(j);
    CHECK_EQ_INT(req("POST", "/access-tokens", NULL, 0, "{\"username\":\"admin\",\"password\":\"first-password-0123\","
                     "\"domain\":\"CORP\"}", &j), 400);
    CHECK(msg_has(j, "'domain'"));
    json_decref(j);
    CHECK_EQ_INT(req("POST", "/access-tokens", NULL, 0, "{\"username\":", &j), 400);
    json_decref(j);
    CHECK_EQ_INT(login("admin", "first-password-0123", &j), 201);
    CHECK(strcmp(json_string_value(json_object_get(j, "tokenType")), "Bearer") == 0);
    CHECK(strlen(json_string_value(json_object_get(j, "accessToken"))) == 64);
    snprintf(g_token, sizeof g_token, "%s", json_string_value(json_object_get(j, "accessToken")));
    json_decref(j);
    CHECK_EQ_INT(req("POST", "/v2/access-tokens", NULL, 0, "{\"username\":\"admin\",\"password\":\"first-password-0123\"}",
                     &j), 201);
    json_decref(j);
}

TEST(everything_else_needs_the_token)
{
    static const char *const ops[][2] = {
        { "GET", "/data-source-connector/status" }, { "GET", "/v2/data-source-connector/logs" },
        { "POST", "/data-source-connector/registration" }, { "GET", "/irisservices/api/v1/public/users" },
        { "PUT", "/irisservices/api/v1/public/users" },
    };
    json_t *j = NULL;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        CHECK_EQ_INT(req(ops[i][0], ops[i][1], NULL, 0, strcmp(ops[i][0], "GET") ? "{}" : NULL, &j), 401);
        CHECK(msg_has(j, "access token"));
        json_decref(j);
        CHECK_EQ_INT(req(ops[i][0], ops[i][1], "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", 0,
                         strcmp(ops[i][0], "GET") ? "{}" : NULL, &j), 401);
        json_decref(j);
    }
    CHECK_EQ_INT(req("GET", "/data-source-connector/status", g_token, 0, NULL, &j), 200);
    json_decref(j);
    CHECK_EQ_INT(req("GET", "/data-source-connector/status", g_token, 1, NULL, &j), 200); /* the cookie */
    json_decref(j);
}

TEST(registration)
{
    json_t *j = NULL;
    CHECK_EQ_INT(req("GET", "/data-source-connector/status", g_token, 0, NULL, &j), 200);
    CHECK(strcmp(json_string_value(json_object_get(json_object_get(j, "registrationStatus"), "status")), "NotDone") == 0);
    CHECK(json_is_false(json_object_get(json_object_get(j, "clusterConnectionStatus"), "isActive")));
    json_decref(j);
    CHECK_EQ_INT(req("POST", "/data-source-connector/registration", g_token, 0, "{}", &j), 400);
    CHECK(msg_has(j, "'registrationToken'"));
    json_decref(j);
    CHECK_EQ_INT(req("POST", "/data-source-connector/registration", g_token, 0,
                     "{\"registrationToken\":\"t\",\"connectorId\":\"7\"}", &j), 400);
    CHECK(msg_has(j, "'connectorId'"));
    json_decref(j);
    unsetenv("COFFER_AGENT_SERVER");
    CHECK_EQ_INT(req("POST", "/data-source-connector/registration", g_token, 0, "{\"registrationToken\":\"t\"}", &j), 409);
    CHECK(msg_has(j, "COFFER_AGENT_SERVER"));
    json_decref(j);
    CHECK(g_reg_token[0] == '\0'); /* nothing was attempted */
    setenv("COFFER_AGENT_SERVER", "https://cofferd.example:8443", 1);
    CHECK_EQ_INT(req("POST", "/data-source-connector/registration", g_token, 0,
                     "{\"registrationToken\":\"expired-token\"}", &j), 403);
    CHECK(msg_has(j, "'registrationToken'") && msg_has(j, "expired"));
    json_decref(j);
    CHECK_EQ_INT(req("POST", "/v2/data-source-connector/registration", g_token, 0,
                     "{\"registrationToken\":\"tok-123\",\"connectorId\":42}", &j), 204);
    json_decref(j);
    CHECK(strcmp(g_reg_token, "tok-123") == 0 && g_reg_connector == 42 &&
          strcmp(g_reg_url, "https://cofferd.example:8443") == 0 && g_registered);
    CHECK_EQ_INT(req("GET", "/data-source-connector/status", g_token, 0, NULL, &j), 200);
    CHECK(strcmp(json_string_value(json_object_get(json_object_get(j, "registrationStatus"), "status")), "Success") == 0);
    CHECK(json_is_true(json_object_get(json_object_get(j, "clusterConnectionStatus"), "isActive")));
    CHECK(json_integer_value(json_object_get(json_object_get(j, "clusterConnectionStatus"),
                                             "lastConnectedTimestampMsecs")) == 1700000000123);
    json_decref(j);
}

TEST(logs)
{
    json_t *j = NULL, *e;
    size_t i;
    int warned = 0, registered = 0;
    CHECK_EQ_INT(req("GET", "/data-source-connector/logs", g_token, 0, NULL, &j), 200);
    CHECK(json_array_size(json_object_get(j, "connectorLogs")) > 0);
    json_array_foreach(json_object_get(j, "connectorLogs"), i, e) {
        const char *m = json_string_value(json_object_get(e, "message")), *t = json_string_value(json_object_get(e, "type"));
        if (strstr(m, "failed login") && strcmp(t, "Warning") == 0) warned = 1;
        if (strstr(m, "registered with https://cofferd.example:8443") && strcmp(t, "Info") == 0) registered = 1;
        CHECK(json_integer_value(json_object_get(e, "timestampMsecs")) == 1700000000000);
    }
    CHECK(warned && registered);
    json_decref(j);
}

TEST(users)
{
    json_t *j = NULL;
    char p[700];
    CHECK_EQ_INT(req("GET", "/irisservices/api/v1/public/users", g_token, 1, NULL, &j), 200);
    CHECK(json_array_size(j) == 1 && strcmp(json_string_value(json_object_get(json_array_get(j, 0), "username")),
                                            "admin") == 0);
    CHECK(strcmp(json_string_value(json_object_get(json_array_get(j, 0), "domain")), "LOCAL") == 0);
    json_decref(j);
    CHECK_EQ_INT(req("GET", "/irisservices/api/v1/public/users?usernames=bob", g_token, 1, NULL, &j), 200);
    CHECK(json_array_size(j) == 0);
    json_decref(j);
    CHECK_EQ_INT(req("PUT", "/irisservices/api/v1/public/users", g_token, 1,
                     "{\"username\":\"admin\",\"password\":\"second-password\",\"currentPassword\":\"nope-nope\"}", &j),
                 403);
    CHECK(msg_has(j, "'currentPassword'"));
    json_decref(j);
    CHECK_EQ_INT(req("PUT", "/irisservices/api/v1/public/users", g_token, 1,
                     "{\"username\":\"admin\",\"password\":\"short\",\"currentPassword\":\"first-password-0123\"}", &j),
                 400);
    CHECK(msg_has(j, "'password'"));
    json_decref(j);
    CHECK_EQ_INT(req("PUT", "/irisservices/api/v1/public/users", g_token, 1, "{\"username\":\"bob\"}", &j), 404);
    json_decref(j);
    CHECK_EQ_INT(req("PUT", "/irisservices/api/v1/public/users", g_token, 1, "{\"username\":\"admin\",\"emailAddress\":5}",
                     &j), 400);
    CHECK(msg_has(j, "'emailAddress'"));
    json_decref(j);
    CHECK_EQ_INT(login("admin", "first-password-0123", &j), 201); /* nothing changed yet */
    json_decref(j);
    CHECK_EQ_INT(req("PUT", "/irisservices/api/v1/public/users", g_token, 1,
                     "{\"username\":\"admin\",\"password\":\"second-password\",\"currentPassword\":\"first-password-0123\","
                     "\"emailAddress\":\"ops@example.com\"}", &j), 200);
    CHECK(strcmp(json_string_value(json_object_get(j, "emailAddress")), "ops@example.com") == 0);
    json_decref(j);
    CHECK_EQ_INT(login("admin", "first-password-0123", &j), 401);
    json_decref(j);
    CHECK_EQ_INT(login("admin", "second-password", &j), 201);
    json_decref(j);
    snprintf(p, sizeof p, "%s/admin-password", g_dir);
    CHECK(access(p, F_OK) != 0);
}

TEST(bad_requests)
{
    json_t *j = NULL;
    char *big;
    CHECK_EQ_INT(req("GET", "/nothing", g_token, 0, NULL, &j), 404);
    CHECK(msg_has(j, "/nothing"));
    json_decref(j);
    CHECK_EQ_INT(req("DELETE", "/irisservices/api/v1/public/users", g_token, 0, NULL, &j), 405);
    json_decref(j);
    CHECK_EQ_INT(req("GET", "/access-tokens", NULL, 0, NULL, &j), 405);
    json_decref(j);
    big = malloc(70 * 1024 + 1);
    memset(big, 'a', 70 * 1024);
    big[70 * 1024] = '\0';
    CHECK_EQ_INT(req("POST", "/access-tokens", NULL, 0, big, &j), 413);
    json_decref(j);
    free(big);
}

TEST(failed_logins_are_limited)
{
    json_t *j = NULL;
    int limited = 0;
    for (int i = 0; i < 8 && !limited; i++) {
        long st = login("admin", "bad-bad-bad", &j);
        json_decref(j);
        limited = st == 429;
        CHECK(st == 401 || st == 429);
    }
    CHECK(limited);
    CHECK_EQ_INT(login("admin", "second-password", &j), 429); /* even the right one, for the minute */
    json_decref(j);
}

TEST(https_with_a_certificate)
{
    char out[256], cmd[1400], err[256];
    json_t *j = NULL;
    agentd_local_api_stop();
    CHECK_EQ_INT(agentd_local_api_port(), 0);
    snprintf(cmd, sizeof cmd, "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
             "-subj /CN=localhost -keyout '%s/local-api.key' -out '%s/local-api.crt' >/dev/null 2>&1 && "
             "chmod 600 '%s/local-api.key'", g_dir, g_dir, g_dir);
    CHECK(system(cmd) == 0);
    CHECKF(agentd_local_api_start(g_dir, "127.0.0.1:0", err, sizeof err) == 0, "%s", err);
    g_port = agentd_local_api_port();
    g_https = 1;
    CHECK_EQ_INT(login("admin", "second-password", &j), 201); /* a restart forgets the failures and tokens */
    json_decref(j);
    CHECK_EQ_INT(req("GET", "/data-source-connector/status", g_token, 0, NULL, &j), 401);
    json_decref(j);
    g_https = 0;
    CHECK_EQ_INT(req("POST", "/access-tokens", NULL, 0, "{}", &j), -1); /* plain HTTP gets no answer */
    json_decref(j);
    (void)out;
    agentd_local_api_stop();
    /* a key readable by others is refused */
    snprintf(cmd, sizeof cmd, "%s/local-api.key", g_dir);
    CHECK(chmod(cmd, 0644) == 0);
    CHECK(agentd_local_api_start(g_dir, "127.0.0.1:0", err, sizeof err) != 0 && strstr(err, "chmod"));
    CHECK(agentd_local_api_start(g_dir, "nonsense", err, sizeof err) == -EINVAL && strstr(err, "ADDR:PORT"));
}

int main(void)
{
    int rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g_dir = check_tmpdir("local-api");
    chmod(g_dir, 0700);
    RUN(the_admin_comes_from_the_installer_password);
    RUN(access_tokens);
    RUN(everything_else_needs_the_token);
    RUN(registration);
    RUN(logs);
    RUN(users);
    RUN(bad_requests);
    RUN(failed_logins_are_limited);
    RUN(https_with_a_certificate);
    agentd_local_api_stop();
    json_decref(g_log);
    rc = check_finish();
    check_rm_rf(g_dir);
    free(g_dir);
    curl_global_cleanup();
    return rc;
}
