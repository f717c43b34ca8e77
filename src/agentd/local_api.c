/* local_api.c: the data-source connector's local REST API, served by coffer-agent on its host
 * (`coffer-agent run --api ADDR:PORT`) with libmicrohttpd: the operations the wire contract marks
 * [connector-side], which cofferd answers with 501 (src/api/connector_side.c). Each path is served at
 * the root and under /v2 (the official client sends them relative to the connector's URL):
 *   POST /access-tokens                       CreateAccessToken: username/password of the local admin
 *        (201 TokenResponse {accessToken, tokenType "Bearer", privileges}); a wrong pair 401; after 5
 *        failures in a minute every attempt is 429 for that minute
 *   POST /data-source-connector/registration  RegisterDataSourceConnector: {registrationToken,
 *        connectorId} -> agentd_register with cofferd's URL (the agent's state after an earlier
 *        registration, else COFFER_AGENT_SERVER); 204; a refused token 403, cofferd unreachable 502
 *   GET  /data-source-connector/status        GetDataSourceConnectorStatus (DataSourceConnectorLocalStatus)
 *   GET  /data-source-connector/logs          GetDataSourceConnectorLogs (agentd_log_list)
 *   GET  /irisservices/api/v1/public/users    GetUsers: the local admin (filtered by usernames)
 *   PUT  /irisservices/api/v1/public/users    UpdateUser: the local admin's password (currentPassword
 *        must match; the new one 8 to 256 bytes), emailAddress, description
 * Everything but CreateAccessToken needs an access token: "Authorization: Bearer <t>" or "Cookie:
 * session-name=<t>" (how the official client sends it for the users calls). Tokens are 256 random bits,
 * kept in memory only (at most 32, each valid 24 hours; compared in constant time), so a restart of the
 * agent ends every session.
 *
 * The local admin: state_dir/local-admin.json (0600, written durably) holds the user name "admin",
 * a random salt and PBKDF2-HMAC-SHA256 of the password (100000 iterations), the e-mail address and
 * description, and the times it was created and updated. It is made on first use from
 * state_dir/admin-password, the first password the installer (postinst, kScript) wrote; a password
 * change through UpdateUser removes that file.
 *
 * HTTPS when the agent has a certificate for it: state_dir/local-api.crt and state_dir/local-api.key
 * (PEM); otherwise plain HTTP, which is meant for a loopback address. Bad input is a 4xx with
 * {"errorCode", "message"} naming the field; bodies over 64 KiB are 413. */
#include "agentd/agentd.h"
#include "util/hex.h"
#include "agentd/local_api.h"
#include "util/fsio.h"
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LA_BODY_MAX (64u * 1024)
#define LA_TOKENS 32
#define LA_TOKEN_SECS (24 * 3600)
#define LA_PBKDF2_ITER 100000
#define LA_FAIL_LIMIT 5
#define LA_FAIL_WINDOW 60
#define LA_ADMIN "admin"

struct la_token { unsigned char t[32]; int64_t expires; };

static struct {
    pthread_mutex_t mu;
    struct MHD_Daemon *daemon;
    char *state_dir;
    int port;
    char *cert, *key;          /* PEM text when HTTPS */
    struct la_token tokens[LA_TOKENS];
    int64_t fail_times[LA_FAIL_LIMIT];
} la = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int64_t now_s(void) { return (int64_t)time(NULL); }

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------- the local admin ---------- */

static void admin_path(const char *dir, char *out, size_t n) { snprintf(out, n, "%s/local-admin.json", dir); }

static int pbkdf2(const char *password, const unsigned char salt[16], unsigned char out[32])
{
    return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, 16, LA_PBKDF2_ITER, EVP_sha256(), 32, out) == 1
               ? 0 : -EIO;
}

/* admin_write: stores the admin document j with password pw hashed into it (pw NULL: as is). */
static int admin_write(const char *dir, json_t *j, const char *pw)
{
    char path[1200], salt_hex[33], hash_hex[65];
    unsigned char salt[16], hash[32];
    char *text;
    int rc;
    if (pw) {
        if (RAND_bytes(salt, sizeof salt) != 1 || pbkdf2(pw, salt, hash) != 0) return -EIO;
        util_hex_encode(salt, sizeof salt, salt_hex);
        util_hex_encode(hash, sizeof hash, hash_hex);
        json_object_set_new(j, "salt", json_string(salt_hex));
        json_object_set_new(j, "pbkdf2_sha256", json_string(hash_hex));
        json_object_set_new(j, "iterations", json_integer(LA_PBKDF2_ITER));
    }
    if (!(text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS))) return -ENOMEM;
    admin_path(dir, path, sizeof path);
    rc = fsio_write_atomic(path, text, strlen(text), 0600);
    free(text);
    return rc;
}

int agentd_local_admin_init(const char *state_dir)
{
    char path[1200], pwpath[1200];
    void *pw = NULL;
    size_t len = 0;
    json_t *j;
    int rc;
    admin_path(state_dir, path, sizeof path);
    if (access(path, F_OK) == 0) return 0;
    snprintf(pwpath, sizeof pwpath, "%s/admin-password", state_dir);
    if ((rc = fsio_read_all(pwpath, 4096, &pw, &len)) != 0) return rc;
    ((char *)pw)[strcspn(pw, "\r\n")] = '\0';
    j = json_pack("{s:s,s:I,s:I}", "username", LA_ADMIN, "created_ms", (json_int_t)now_ms(), "updated_ms",
                  (json_int_t)now_ms());
    rc = j ? admin_write(state_dir, j, pw) : -ENOMEM;
    json_decref(j);
    OPENSSL_cleanse(pw, len);
    free(pw);
    return rc;
}

/* admin_load: the admin document (new ref) or NULL. */
static json_t *admin_load(const char *dir)
{
    char path[1200];
    json_error_t je;
    if (agentd_local_admin_init(dir) != 0) return NULL;
    admin_path(dir, path, sizeof path);
    return json_load_file(path, 0, &je);
}

static int admin_check(json_t *a, const char *user, const char *pw)
{
    unsigned char salt[16], want[32], got[32];
    const char *name = json_string_value(json_object_get(a, "username"));
    if (!name || !user || !pw || strcmp(name, user) != 0) return 0;
    if (util_hex_decode(json_string_value(json_object_get(a, "salt")), salt, 16) != 0 ||
        util_hex_decode(json_string_value(json_object_get(a, "pbkdf2_sha256")), want, 32) != 0 || pbkdf2(pw, salt, got) != 0)
        return 0;
    return CRYPTO_memcmp(want, got, 32) == 0;
}

/* ---------- responses ---------- */

struct la_resp { int status; json_t *json; };

static void la_error(struct la_resp *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void la_error(struct la_resp *r, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(r->json);
    r->status = status;
    r->json = json_pack("{s:s,s:s}", "errorCode", code, "message", msg);
}

static void la_json(struct la_resp *r, int status, json_t *j)
{
    json_decref(r->json);
    r->status = status;
    r->json = j;
}

/* ---------- tokens ---------- */

static int token_new(char out[65])
{
    unsigned char t[32];
    int slot = 0;
    int64_t oldest = INT64_MAX;
    if (RAND_bytes(t, sizeof t) != 1) return -EIO;
    pthread_mutex_lock(&la.mu);
    for (int i = 0; i < LA_TOKENS; i++) {
        if (la.tokens[i].expires < oldest) {
            oldest = la.tokens[i].expires;
            slot = i;
        }
    }
    memcpy(la.tokens[slot].t, t, sizeof t);
    la.tokens[slot].expires = now_s() + LA_TOKEN_SECS;
    pthread_mutex_unlock(&la.mu);
    util_hex_encode(t, sizeof t, out);
    return 0;
}

static int token_valid(const char *s)
{
    unsigned char t[32];
    int ok = 0;
    int64_t now = now_s();
    if (util_hex_decode(s, t, sizeof t) != 0) return 0;
    pthread_mutex_lock(&la.mu);
    for (int i = 0; i < LA_TOKENS; i++)
        ok |= la.tokens[i].expires > now && CRYPTO_memcmp(la.tokens[i].t, t, sizeof t) == 0;
    pthread_mutex_unlock(&la.mu);
    return ok;
}

/* authorized: a valid token as Bearer or in the session-name cookie. */
static int authorized(struct MHD_Connection *c)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "session-name");
    if (a && strncasecmp(a, "Bearer ", 7) == 0 && token_valid(a + 7)) return 1;
    return cookie && token_valid(cookie);
}

/* fail_count: records a failed login (add) and says whether the limit is reached. */
static int too_many_failures(int add)
{
    int64_t now = now_s();
    int n = 0;
    pthread_mutex_lock(&la.mu);
    if (add) {
        int slot = 0;
        for (int i = 1; i < LA_FAIL_LIMIT; i++)
            if (la.fail_times[i] < la.fail_times[slot]) slot = i;
        la.fail_times[slot] = now;
    }
    for (int i = 0; i < LA_FAIL_LIMIT; i++) n += la.fail_times[i] > now - LA_FAIL_WINDOW;
    pthread_mutex_unlock(&la.mu);
    return n >= LA_FAIL_LIMIT;
}

/* ---------- operations ---------- */

static json_t *body_object(const char *body, size_t len, struct la_resp *r)
{
    json_error_t je;
    json_t *j;
    if (!body || len == 0) {
        la_error(r, 400, "MissingBody", "a JSON object body is required");
        return NULL;
    }
    if (!(j = json_loadb(body, len, 0, &je))) {
        la_error(r, 400, "MalformedJson", "body is not valid JSON: %s at line %d column %d", je.text, je.line,
                 je.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        la_error(r, 400, "MalformedJson", "body must be a JSON object");
        return NULL;
    }
    return j;
}

/* opt_str: field absent or a string; 0, or -1 after a 400. */
static int opt_str(json_t *b, const char *field, const char **out, struct la_resp *r)
{
    json_t *v = json_object_get(b, field);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) {
        la_error(r, 400, "InvalidField", "field '%s' must be a string", field);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static void create_token(const char *body, size_t len, struct la_resp *r)
{
    json_t *b = body_object(body, len, r), *a = NULL;
    const char *user, *pw, *domain;
    char tok[65];
    if (!b) return;
    if (opt_str(b, "username", &user, r) || opt_str(b, "password", &pw, r) || opt_str(b, "domain", &domain, r))
        goto out;
    if (!user || !*user) {
        la_error(r, 400, "InvalidField", "field 'username' is required");
        goto out;
    }
    if (!pw) {
        la_error(r, 400, "InvalidField", "field 'password' is required");
        goto out;
    }
    if (domain && *domain && strcasecmp(domain, "LOCAL") != 0) {
        la_error(r, 400, "InvalidField", "field 'domain': only LOCAL users exist on this connector, not '%.64s'", domain);
        goto out;
    }
    if (too_many_failures(0)) {
        la_error(r, 429, "TooManyFailures", "too many failed logins in the last minute: wait and try again");
        goto out;
    }
    if (!(a = admin_load(la.state_dir))) {
        la_error(r, 503, "NoLocalAdmin", "this agent has no local admin yet (the installer writes %s/admin-password)",
                 la.state_dir);
        goto out;
    }
    if (!admin_check(a, user, pw)) {
        too_many_failures(1);
        agentd_log(AGENTD_WARNING, "local API: failed login for user '%.64s'", user);
        la_error(r, 401, "Unauthorized", "wrong username or password");
        goto out;
    }
    if (token_new(tok) != 0) {
        la_error(r, 500, "InternalError", "cannot make a token");
        goto out;
    }
    la_json(r, 201, json_pack("{s:s,s:s,s:[s]}", "accessToken", tok, "tokenType", "Bearer", "privileges", "ADMIN"));
out:
    json_decref(a);
    json_decref(b);
}

static void register_connector(const char *body, size_t len, struct la_resp *r)
{
    json_t *b = body_object(body, len, r), *cid;
    const char *token, *url, *env = getenv("COFFER_AGENT_SERVER");
    struct agentd_state st;
    int64_t connector = 0;
    char err[512] = "";
    int rc, have_state;
    if (!b) return;
    if (opt_str(b, "registrationToken", &token, r)) goto out;
    if (!token || !*token) {
        la_error(r, 400, "InvalidField", "field 'registrationToken' is required");
        goto out;
    }
    cid = json_object_get(b, "connectorId");
    if (cid && !json_is_null(cid)) {
        if (!json_is_integer(cid) || json_integer_value(cid) < 0) {
            la_error(r, 400, "InvalidField", "field 'connectorId' must be a non-negative integer");
            goto out;
        }
        connector = json_integer_value(cid);
    }
    memset(&st, 0, sizeof st);
    have_state = agentd_state_load(la.state_dir, &st, err, sizeof err) == 0;
    url = have_state && st.server_url ? st.server_url : env;
    if (!url || !*url) {
        la_error(r, 409, "NoServer", "this agent does not know cofferd's URL: set COFFER_AGENT_SERVER in "
                 "/etc/default/coffer-agent (or register once with coffer-agent register --server URL)");
    } else if ((rc = agentd_register(la.state_dir, url, token, connector, have_state ? st.server_pin : NULL, err,
                                     sizeof err)) == 0) {
        agentd_log(AGENTD_INFO, "registered with %.200s through the local API", url);
        la_json(r, 204, NULL);
    } else if (rc == -EACCES) {
        la_error(r, 403, "TokenRefused", "field 'registrationToken': cofferd refused it (%s)", err);
    } else {
        la_error(r, 502, "RegistrationFailed", "registering with %.200s failed: %s", url, err);
    }
    agentd_state_release(&st);
out:
    json_decref(b);
}

static void status(struct la_resp *r)
{
    struct agentd_state st;
    char err[256];
    int64_t last = 0;
    int reg, conn;
    json_t *j;
    memset(&st, 0, sizeof st);
    reg = agentd_state_load(la.state_dir, &st, err, sizeof err) == 0 && st.credential;
    conn = agentd_connected(&last);
    j = json_pack("{s:{s:s,s:s},s:{s:b,s:s},s:b}", "registrationStatus", "status", reg ? "Success" : "NotDone",
                  "message", reg ? "registered" : "not registered: register with a registration token",
                  "clusterConnectionStatus", "isActive", conn, "message",
                  conn ? "the last heartbeat reached cofferd" : "cofferd has not been reached",
                  "isCertificateValid", reg && st.server_pin != NULL);
    if (last) json_object_set_new(json_object_get(j, "clusterConnectionStatus"), "lastConnectedTimestampMsecs",
                                  json_integer(last));
    agentd_state_release(&st);
    la_json(r, 200, j);
}

static const char *level_name(json_t *v)
{
    static const char *const names[] = { "Info", "Warning", "Error" };
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        for (int i = 0; i < 3; i++)
            if (strcasecmp(s, names[i]) == 0) return names[i];
        return "Info";
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 2)
        return names[json_integer_value(v)];
    return "Info";
}

static void logs(struct la_resp *r)
{
    json_t *in = agentd_log_list(), *out = json_array(), *e;
    size_t i;
    json_array_foreach(in, i, e) {
        json_t *m = json_object_get(e, "message");
        json_array_append_new(out, json_pack("{s:O,s:I,s:s}", "message", m ? m : json_string(""), "timestampMsecs",
                                             (json_int_t)json_integer_value(json_object_get(e, "time_ms")), "type",
                                             level_name(json_object_get(e, "level"))));
    }
    json_decref(in);
    la_json(r, 200, json_pack("{s:o}", "connectorLogs", out));
}

static json_t *user_json(json_t *a)
{
    json_t *u = json_pack("{s:s,s:s,s:b,s:[s],s:I,s:I,s:s}", "username", json_string_value(json_object_get(a, "username")),
                          "domain", "LOCAL", "isActive", 1, "roles", "COHESITY_ADMIN", "createdTimeMsecs",
                          (json_int_t)json_integer_value(json_object_get(a, "created_ms")), "lastUpdatedTimeMsecs",
                          (json_int_t)json_integer_value(json_object_get(a, "updated_ms")), "authenticationType",
                          "kAuthLocal");
    const char *email = json_string_value(json_object_get(a, "email")), *desc = json_string_value(json_object_get(a, "description"));
    if (email) json_object_set_new(u, "emailAddress", json_string(email));
    if (desc) json_object_set_new(u, "description", json_string(desc));
    return u;
}

static void users_get(struct MHD_Connection *c, struct la_resp *r)
{
    const char *names = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "usernames");
    json_t *a = admin_load(la.state_dir), *arr = json_array();
    if (!a) {
        json_decref(arr);
        la_error(r, 503, "NoLocalAdmin", "this agent has no local admin yet");
        return;
    }
    if (!names || !*names) {
        json_array_append_new(arr, user_json(a));
    } else {
        char *copy = strdup(names), *save = NULL;
        for (char *p = copy, *w; copy && (w = strtok_r(p, ",", &save)) != NULL; p = NULL)
            if (strcmp(w, json_string_value(json_object_get(a, "username"))) == 0) {
                json_array_append_new(arr, user_json(a));
                break;
            }
        free(copy);
    }
    json_decref(a);
    la_json(r, 200, arr);
}

static void users_put(const char *body, size_t len, struct la_resp *r)
{
    json_t *b = body_object(body, len, r), *a = NULL;
    const char *user, *pw, *cur, *email, *desc;
    int rc;
    if (!b) return;
    if (opt_str(b, "username", &user, r) || opt_str(b, "password", &pw, r) || opt_str(b, "currentPassword", &cur, r) ||
        opt_str(b, "emailAddress", &email, r) || opt_str(b, "description", &desc, r))
        goto out;
    if (!(a = admin_load(la.state_dir))) {
        la_error(r, 503, "NoLocalAdmin", "this agent has no local admin yet");
        goto out;
    }
    if (!user || strcmp(user, json_string_value(json_object_get(a, "username"))) != 0) {
        la_error(r, user ? 404 : 400, user ? "NotFound" : "InvalidField", user ? "field 'username': no user '%.64s' on "
                 "this connector (its one user is '" LA_ADMIN "')" : "field 'username' is required%s", user ? user : "");
        goto out;
    }
    if (pw) {
        size_t n = strlen(pw);
        if (n < 8 || n > 256) {
            la_error(r, 400, "InvalidField", "field 'password' must be 8 to 256 bytes long, not %zu", n);
            goto out;
        }
        if (!cur || !admin_check(a, user, cur)) {
            la_error(r, 403, "Forbidden", "field 'currentPassword' %s: the password is not changed",
                     cur ? "does not match" : "is required to change the password");
            goto out;
        }
    }
    if (email) json_object_set_new(a, "email", json_string(email));
    if (desc) json_object_set_new(a, "description", json_string(desc));
    json_object_set_new(a, "updated_ms", json_integer(now_ms()));
    if ((rc = admin_write(la.state_dir, a, pw)) != 0) {
        la_error(r, 500, "InternalError", "cannot store the user: %s", strerror(-rc));
        goto out;
    }
    if (pw) {
        char path[1200];
        snprintf(path, sizeof path, "%s/admin-password", la.state_dir);
        if (unlink(path) == 0) fsio_fsync_parent(path);
        agentd_log(AGENTD_INFO, "local API: the password of '%s' was changed", user);
    }
    la_json(r, 200, user_json(a));
out:
    json_decref(a);
    json_decref(b);
}

/* ---------- dispatch ---------- */

struct la_conn { char *body; size_t len; int too_big; };

static enum MHD_Result send_json(struct MHD_Connection *c, struct la_resp *r)
{
    char *text = r->json ? json_dumps(r->json, JSON_COMPACT) : NULL;
    struct MHD_Response *mr = MHD_create_response_from_buffer(text ? strlen(text) : 0, text ? text : (void *)"",
                                                              text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret;
    if (!mr) {
        free(text);
        return MHD_NO;
    }
    if (text) MHD_add_response_header(mr, "Content-Type", "application/json");
    ret = MHD_queue_response(c, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    json_decref(r->json);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls)
{
    struct la_conn *lc = *con_cls;
    struct la_resp r = { 500, NULL };
    const char *path = url;
    int known = 1;
    if (!lc) {
        if (!(lc = calloc(1, sizeof *lc))) return MHD_NO;
        *con_cls = lc;
        return MHD_YES;
    }
    if (*data_size) {
        if (lc->too_big || lc->len + *data_size > LA_BODY_MAX) {
            lc->too_big = 1;
        } else {
            char *p = realloc(lc->body, lc->len + *data_size + 1);
            if (!p) return MHD_NO;
            memcpy(p + lc->len, data, *data_size);
            lc->body = p;
            lc->len += *data_size;
            p[lc->len] = '\0';
        }
        *data_size = 0;
        return MHD_YES;
    }
    if (strncmp(path, "/v2/", 4) == 0) path += 3;
    if (lc->too_big) {
        la_error(&r, 413, "TooLarge", "request bodies are limited to %u bytes", LA_BODY_MAX);
    } else if (strcmp(path, "/access-tokens") == 0) {
        if (strcmp(method, "POST") == 0) create_token(lc->body, lc->len, &r);
        else known = 0;
    } else if (strcmp(path, "/data-source-connector/registration") == 0 ||
               strcmp(path, "/data-source-connector/status") == 0 || strcmp(path, "/data-source-connector/logs") == 0 ||
               strcmp(path, "/irisservices/api/v1/public/users") == 0) {
        int reg = strcmp(path, "/data-source-connector/registration") == 0;
        int users = strcmp(path, "/irisservices/api/v1/public/users") == 0;
        const char *want = reg ? "POST" : users && strcmp(method, "PUT") == 0 ? "PUT" : "GET";
        if (strcmp(method, want) != 0) known = 0;
        else if (!authorized(c))
            la_error(&r, 401, "Unauthorized", "an access token is required (POST /access-tokens), as 'Authorization: "
                     "Bearer <token>' or the session-name cookie");
        else if (reg) register_connector(lc->body, lc->len, &r);
        else if (users && strcmp(method, "PUT") == 0) users_put(lc->body, lc->len, &r);
        else if (users) users_get(c, &r);
        else if (strstr(path, "status")) status(&r);
        else logs(&r);
    } else {
        la_error(&r, 404, "NotFound", "no operation at %.200s on coffer-agent's local API", url);
    }
    if (!known) la_error(&r, 405, "MethodNotAllowed", "%s is not allowed on %.200s", method, url);
    return send_json(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct la_conn *lc = *con_cls;
    if (lc) {
        free(lc->body);
        free(lc);
        *con_cls = NULL;
    }
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[128];
    const char *colon = strrchr(listen, ':');
    char *end;
    long port;
    size_t hl;
    memset(ss, 0, sizeof *ss);
    if (!colon || colon == listen) goto bad;
    port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535) goto bad;
    hl = (size_t)(colon - listen);
    if (listen[0] == '[' && hl >= 2 && listen[hl - 1] == ']') {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        snprintf(host, sizeof host, "%.*s", (int)(hl - 2), listen + 1);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1) goto bad;
        return 0;
    }
    snprintf(host, sizeof host, "%.*s", (int)hl, listen);
    if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
    ((struct sockaddr_in *)ss)->sin_family = AF_INET;
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) != 1) goto bad;
    return 0;
bad:
    snprintf(err, errlen, "--api '%.200s' is not ADDR:PORT (an IPv4 address, or [IPv6], and a port)", listen);
    return -EINVAL;
}

int agentd_local_api_start(const char *state_dir, const char *listen, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    char cpath[1200], kpath[1200];
    void *cert = NULL, *key = NULL;
    size_t clen, klen;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;
    int rc;
    if (!listen || !*listen) return 0;
    if (!state_dir) {
        snprintf(err, errlen, "no state directory");
        return -EINVAL;
    }
    if (la.daemon) {
        snprintf(err, errlen, "the local API is already running");
        return -EALREADY;
    }
    if ((rc = parse_listen(listen, &ss, err, errlen)) != 0) return rc;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    snprintf(cpath, sizeof cpath, "%s/local-api.crt", state_dir);
    snprintf(kpath, sizeof kpath, "%s/local-api.key", state_dir);
    if (access(cpath, F_OK) == 0 || access(kpath, F_OK) == 0) {
        char why[300];
        if ((rc = fsio_check_private(kpath, why, sizeof why)) != 0) {
            snprintf(err, errlen, "the local API's key: %s", why);
            return rc;
        }
        if ((rc = fsio_read_all(cpath, 1 << 20, &cert, &clen)) != 0 || (rc = fsio_read_all(kpath, 1 << 20, &key, &klen)) != 0) {
            free(cert);
            snprintf(err, errlen, "cannot read %s / %s: %s", cpath, kpath, strerror(-rc));
            return rc;
        }
        flags |= MHD_USE_TLS;
    }
    if (!(la.state_dir = strdup(state_dir))) {
        free(cert);
        free(key);
        return -ENOMEM;
    }
    la.cert = cert;
    la.key = key;
    agentd_local_admin_init(state_dir); /* best effort: the installer may not have run (tests, by hand) */
    if (cert)
        la.daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &ss,
                                     MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_HTTPS_MEM_CERT,
                                     la.cert, MHD_OPTION_HTTPS_MEM_KEY, la.key, MHD_OPTION_END);
    else
        la.daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &ss,
                                     MHD_OPTION_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!la.daemon) {
        snprintf(err, errlen, "cannot serve the local API on %.200s (address in use or not available%s)", listen,
                 cert ? ", or TLS could not start" : "");
        agentd_local_api_stop();
        return -EADDRINUSE;
    }
    info = MHD_get_daemon_info(la.daemon, MHD_DAEMON_INFO_BIND_PORT);
    la.port = info ? info->port : 0;
    agentd_log(AGENTD_INFO, "local API on %s port %d (%s)", listen, la.port, cert ? "HTTPS" : "HTTP");
    return 0;
}

void agentd_local_api_stop(void)
{
    if (la.daemon) MHD_stop_daemon(la.daemon);
    la.daemon = NULL;
    la.port = 0;
    free(la.state_dir);
    la.state_dir = NULL;
    if (la.key) OPENSSL_cleanse(la.key, strlen(la.key));
    free(la.key);
    free(la.cert);
    la.key = la.cert = NULL;
    pthread_mutex_lock(&la.mu);
    memset(la.tokens, 0, sizeof la.tokens);
    memset(la.fail_times, 0, sizeof la.fail_times);
    pthread_mutex_unlock(&la.mu);
}

int agentd_local_api_port(void) { return la.port; }
