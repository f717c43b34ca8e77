/* server.c: the HTTP front door. libmicrohttpd parses HTTP and runs a pool of epoll threads; for each
 * request we first check its shape (the limits below, and no NUL byte anywhere: check_request), then
 * gather the body into a capped buffer (util/buf, capped at API_MAX_BODY_BYTES: larger is 413), and
 * dispatch: refuse an address cooling down after failed authentication (429, auth.c), match the route
 * tables (routes.c), authenticate with the matched table's scheme (a bearer key: auth.c, the principal
 * in req->who), answer 401, 413, 404 (unknown path) or 405 (known path, another method), check the
 * route's role (403), apply the table's tenant rule with the key's tenant (X-IBM-Tenant-Id for the
 * data-protect API: 403 for another tenant than a tenant key's own, 400 when missing or too long), then
 * call the handler and send what it filled in. routes.h states the order once. Handlers never see an
 * unauthenticated, unauthorized or malformed request.
 *
 * Request limits (docs/operations.md, "Request limits"); every answer below carries a JSON body with
 * "errorCode" and "message", and is sent at once, before any body is read:
 *   - request target (path and query, as sent): API_MAX_TARGET_BYTES (16 KiB), else 414;
 *   - query parameters: API_MAX_QUERY_PARAMS (1024), else 400;
 *   - header fields: API_MAX_HEADER_BYTES (16 KiB, names and values) and API_MAX_HEADERS (100), else 431;
 *   - a NUL byte (raw or %00) in the path or in a query parameter's name or value: 400 (a raw NUL in a
 *     header value is not visible to us: libmicrohttpd ends the value there and drops the rest).
 * libmicrohttpd keeps each connection's request line, headers and parsed parameters in one memory
 * pool; SERVER_POOL_BYTES is sized so that a request up to several times those limits is still
 * parsed and answered by us (a too-small pool made libmicrohttpd fail to build the response and
 * leave the client waiting for the connection timeout). A request line or header block larger
 * than the pool can hold gets libmicrohttpd's own 414/431 (an HTML body) at once. Idle connections
 * are closed after SERVER_IDLE_TIMEOUT_S seconds.
 *
 * Request ids (docs/operations.md, "Logs"): every request gets one at its first call: the client's
 * X-Request-Id when it is sane (1..API_REQUEST_ID_MAX bytes of A-Z a-z 0-9 . _ : -), else a new one
 * (svc_audit_request_id). It goes back in the X-Request-Id header of every answer, into the log
 * context of the thread while the request is handled (every log line carries request_id=...), and
 * into the request's audit row (req->request_id). Each request is logged once when answered (method,
 * route, status, duration): at info for changes (not GET or HEAD) and refusals (401, 403, 429, 5xx),
 * at debug otherwise. */
#include "api/server.h"
#include "api/audit.h"
#include "api/auth.h"
#include "api/routes.h"
#include "api/tls.h"
#include "svc/audit.h"
#include "util/buf.h"
#include "util/log.h"
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Each connection's libmicrohttpd memory pool holds the read buffer (request line and headers, grown
 * by SERVER_POOL_INCREMENT) and one record (~56 bytes) per header and query parameter, then the
 * response's header. The largest request we accept needs about 16 KiB + 1024 * 56 B + 16 KiB +
 * 100 * 56 B < 100 KiB: measured, 96 KiB is too small for it, 128 KiB parses it unless the next
 * request is pipelined behind it (the read buffer then holds part of that one too), 160 KiB parses
 * that as well (e2e_hostile largest_request_within_every_limit_is_answered) and refuses moderately
 * larger requests with our JSON. Not more: libmicrohttpd zeroes the whole pool after every request
 * of a keep-alive connection (MHD_pool_reset's memset), so its size is paid on every request: at
 * 256 KiB that memset was a quarter of the daemon's CPU on a small GET and a tenth on the
 * 1,000-group list (perf during bench/bench_api.sh), and each connection kept all of it resident. */
#define SERVER_POOL_BYTES (160u * 1024)
#define SERVER_POOL_INCREMENT (16u * 1024)
#define SERVER_IDLE_TIMEOUT_S 30u

struct api_server {
    struct MHD_Daemon *daemon;
    struct api_context *ctx;
    struct api_auth_state *auth;     /* ctx->auth, or own_auth */
    struct api_auth_state *own_auth; /* made here when the context brought none; freed by api_server_stop */
    int port;
    int metrics_public; /* COFFER_METRICS_PUBLIC=1 at start: API_ROUTE_PUBLIC_OPT routes need no key */
};

/* Per-connection state (MHD's socket context): set by unescape when a decoded path, parameter name or
 * value holds a NUL byte; read and cleared by the request's first call, cleared when it completes. */
struct sock_state {
    bool nul_seen;
};

/* Per-request state, kept in MHD's con_cls between the calls of one request. */
struct conn_state {
    struct buf body;    /* capped at API_MAX_BODY_BYTES */
    int too_large;      /* the body passed the cap: dropped, answered 413 */
    int started;  /* the access handler has been called for this request */
    int rejected; /* check_request answered at the first call */
    int target_refused; /* on_uri: 414 (too long) or 400 (too many parameters); its '&'s were blanked */
    int hidden_nul;     /* on_request: the raw request target holds a NUL byte */
    uintptr_t uri;      /* on_uri: where the raw target began in MHD's buffer, and its visible length */
    size_t uri_len;
    uint64_t t0_usecs;  /* on_uri: when the request arrived (monotonic), for the latency histogram */
    char request_id[API_REQUEST_ID_MAX + 1]; /* set at the request's first call */
};

/* mono_usecs: the monotonic clock in microseconds. */
static uint64_t mono_usecs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* observe: counts an answered request for GET /metrics (health.c). */
static void observe(const struct conn_state *st, const struct api_route *route, const char *method, int status)
{
    uint64_t now = mono_usecs();
    api_metrics_observe(route, method, status, st->t0_usecs && now > st->t0_usecs ? now - st->t0_usecs : 0);
}


/* request_id_ok: an incoming X-Request-Id we echo and log as it is. */
static int request_id_ok(const char *v)
{
    size_t n = v ? strlen(v) : 0;
    if (n == 0 || n > API_REQUEST_ID_MAX) return 0;
    return strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

/* log_answer: the request's one log line (see the file comment); the thread's context carries its id. */
static void log_answer(const struct conn_state *st, const struct api_route *route, const char *method,
                       const char *url, int status)
{
    uint64_t now = mono_usecs(), us = st->t0_usecs && now > st->t0_usecs ? now - st->t0_usecs : 0;
    int change = method && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
    int refused = status == 401 || status == 403 || status == 429 || status >= 500;
    log_msg(change || refused ? LOG_INFO : LOG_DEBUG, "http %s %s %d %.3f ms (route %s)", method ? method : "-",
            url ? url : "-", status, (double)us / 1000.0, route ? route->pattern : "none");
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct api_resp *r, const char *request_id)
{
    struct MHD_Response *mr = r->raw;
    enum MHD_Result ret;
    if (!mr) {
        char *text = r->json ? json_dumps(r->json, JSON_COMPACT) : NULL;
        if (text) {
            mr = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
            MHD_add_response_header(mr, "Content-Type", "application/json");
        } else {
            mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        }
    }
    if (mr && request_id && request_id[0]) MHD_add_response_header(mr, "X-Request-Id", request_id);
    ret = MHD_queue_response(c, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    json_decref(r->json);
    return ret;
}

/* match: splits path into segments in buf and compares with pattern; fills params. */
static int route_match(const char *pattern, char *segs[], int nsegs, const char *params[])
{
    int i = 0, np = 0;
    const char *p = pattern;
    while (*p == '/') p++;
    for (; *p; i++) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (i >= nsegs) return 0;
        if (p[0] == '{') {
            if (np >= API_MAX_PATH_PARAMS || segs[i][0] == '\0') return 0;
            params[np++] = segs[i];
        } else if (strlen(segs[i]) != n || memcmp(segs[i], p, n) != 0) {
            return 0;
        }
        p += n;
        while (*p == '/') p++;
    }
    return i == nsegs;
}

#define MAX_SEGS 16

/* client_addr: the request's peer address (NULL when MHD has none). */
static const struct sockaddr *client_addr(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return ci ? ci->client_addr : NULL;
}

/* authenticate: the caller's principal by the table's scheme (0), or -1 after a 401; a request that
 * presented a credential (an Authorization header) and failed counts against its address's limit. */
static int authenticate(struct api_server *s, struct api_req *req, enum api_auth scheme, struct api_principal *who,
                        struct api_resp *resp)
{
    const char *h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "Authorization");
    if (scheme == API_AUTH_NONE) return 0; /* anyone: who stays empty (no key, no role) */
    if (scheme == API_AUTH_ADMIN_BEARER && api_auth_lookup(s->auth, s->ctx ? s->ctx->cat : NULL, h, who) == 0)
        return 0;
    if (h) api_auth_failed(s->auth, client_addr(req->conn));
    api_error(resp, 401, "Unauthorized", "a valid 'Authorization: Bearer <key>' header is required");
    return -1;
}

/* too_many: the 429 of an address cooling down after failed authentication, with Retry-After. */
static void too_many(struct api_resp *resp, unsigned retry_after)
{
    char secs[16], *text;
    json_t *j = json_pack("{s:s,s:o}", "errorCode", "TooManyRequests", "message",
                          json_sprintf("too many failed authentications from this address; retry after %u seconds",
                                       retry_after));
    snprintf(secs, sizeof secs, "%u", retry_after);
    text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    resp->raw = text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp->raw) {
        free(text);
        api_error(resp, 429, "TooManyRequests", "too many failed authentications from this address");
        return;
    }
    MHD_add_response_header(resp->raw, "Content-Type", "application/json");
    MHD_add_response_header(resp->raw, "Retry-After", secs);
    resp->status = 429;
}

/* role_text: the role names of bits for a message. */
static const char *role_text(unsigned bits, char *buf, size_t len)
{
    api_role_names(bits, buf, len);
    if (!buf[0]) snprintf(buf, len, "none");
    return buf;
}

/* authorize: the route's role, then its tenant (routes.h, steps 5 and 6): 0 with req->tenant set,
 * or -1 after a 403 (role, tenant, cluster-only route) or a 400 (tenant header missing or too long). */
static int authorize(const struct api_route_table *table, enum api_auth scheme, const struct api_route *route,
                     const struct api_principal *who, struct api_req *req, struct api_resp *resp)
{
    const struct api_tenant_rule *rule = &table->tenant;
    char need[64], held[64];
    const char *h;
    req->tenant = NULL;
    if (scheme == API_AUTH_NONE) return 0; /* no key: no role to hold, no tenant to name */
    if (!api_role_satisfies(who->roles, route->role) &&
        !((route->flags & API_ROUTE_DATA_SECURITY) && (who->roles & API_ROLE_DATA_SECURITY))) {
        api_error(resp, 403, "Forbidden", "%s %s needs the %s role%s; key %s holds %s", req->method, route->pattern,
                  role_text(route->role, need, sizeof need),
                  route->flags & API_ROUTE_DATA_SECURITY ? " (or DataSecurity)" : "", who->key_id,
                  role_text(who->roles, held, sizeof held));
        return -1;
    }
    if (!rule->header || (route->flags & API_ROUTE_NO_TENANT)) {
        if (!who->cluster && !(route->flags & API_ROUTE_TENANT_KEYS)) {
            api_error(resp, 403, "Forbidden", "%s %s needs a cluster key; key %s belongs to tenant '%s'", req->method,
                      route->pattern, who->key_id, who->tenant);
            return -1;
        }
        return 0;
    }
    h = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, rule->header);
    if (h && !*h) h = NULL;
    if (h && strlen(h) > rule->max_len) {
        api_error(resp, 400, "InvalidTenant", "header %s is longer than %zu bytes", rule->header, rule->max_len);
        return -1;
    }
    if (!who->cluster) {
        if (h && strcmp(h, who->tenant) != 0) {
            api_error(resp, 403, "Forbidden", "key %s belongs to tenant '%s', not to the tenant named by %s",
                      who->key_id, who->tenant, rule->header);
            return -1;
        }
        req->tenant = who->tenant; /* no header: the key's own tenant */
        return 0;
    }
    if (!h && rule->required) {
        api_error(resp, 400, "MissingTenant", "header %s is required", rule->header);
        return -1;
    }
    req->tenant = h;
    return 0;
}

/* literal_segments: how many segments of a route pattern are literal (not a {param}). */
static int literal_segments(const char *pattern)
{
    int n = 0;
    for (const char *p = pattern; *p; p++)
        if (*p == '/' && p[1] && p[1] != '{' && p[1] != '/') n++;
    return n;
}

/* allow_add: appends method to the Allow list (comma-separated, each method once). */
static void allow_add(char *allow, size_t len, const char *method)
{
    size_t m = strlen(method), used = strlen(allow);
    for (const char *p = allow; (p = strstr(p, method)) != NULL; p += m)
        if ((p == allow || p[-1] == ' ') && (p[m] == ',' || p[m] == '\0')) return;
    if (used + m + 3 > len) return; /* longer than any set of methods we serve */
    snprintf(allow + used, len - used, "%s%s", used ? ", " : "", method);
}

/* method_not_allowed: the 405 for a known path, with the Allow header naming the methods it takes
 * (RFC 9110 15.5.6); the body is the usual JSON error. Without memory for the header the JSON answer
 * goes out alone. */
static void method_not_allowed(struct api_resp *resp, const char *method, const char *path, const char *allow)
{
    struct MHD_Response *mr;
    char *text;
    api_error(resp, 405, "MethodNotAllowed", "method %s is not allowed on %s (allowed: %s)", method, path, allow);
    if (!resp->json || !(text = json_dumps(resp->json, JSON_COMPACT))) return;
    mr = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!mr) {
        free(text);
        return;
    }
    if (MHD_add_response_header(mr, "Content-Type", "application/json") != MHD_YES ||
        MHD_add_response_header(mr, "Allow", allow) != MHD_YES) {
        MHD_destroy_response(mr);
        return;
    }
    resp->raw = mr;
}

/* dispatch: routes.h describes the order: 429, match, authenticate, 413, 404/405, role, tenant, handler. */
static void dispatch(struct api_server *s, struct api_req *req, struct api_principal *who, int too_large,
                     struct api_resp *resp)
{
    char path[1024], allow[64] = "";
    char *segs[MAX_SEGS];
    int nsegs = 0, path_known = 0, best = -1;
    size_t n = strlen(req->path);
    unsigned retry_after = 0;
    const struct api_route_table *table = NULL;
    const struct api_route *route = NULL;
    const char *params[API_MAX_PATH_PARAMS] = { 0 };
    enum api_auth scheme;
    memset(who, 0, sizeof *who);
    req->who = who; /* filled by authenticate; all zero (key_id "") when there is no valid key */
    if (api_auth_blocked(s->auth, client_addr(req->conn), &retry_after)) {
        too_many(resp, retry_after);
        return;
    }
    if (n >= sizeof path) {
        if (authenticate(s, req, API_AUTH_DEFAULT, who, resp) != 0) return;
        if (too_large)
            api_error(resp, 413, "BodyTooLarge", "request body is larger than %u bytes", API_MAX_BODY_BYTES);
        else api_error(resp, 414, "PathTooLong", "path is longer than %zu bytes", sizeof path - 1);
        return;
    }
    memcpy(path, req->path, n + 1);
    for (char *p = path; *p;) {
        while (*p == '/') *p++ = '\0';
        if (!*p) break;
        if (nsegs == MAX_SEGS) {
            nsegs = -1; /* deeper than any route */
            break;
        }
        segs[nsegs++] = p;
        while (*p && *p != '/') p++;
    }
    /* The most specific patterns that match name the resource: a literal segment outranks a {param}
     * (".../runs/actions" is the actions resource, not run "actions"), so another method there is 405
     * with Allow listing the methods of those patterns; among equals the first route wins. */
    for (const struct api_route_table *t = api_route_tables; nsegs >= 0 && t->routes; t++) {
        for (const struct api_route *r = t->routes; r->method; r++) {
            const char *p[API_MAX_PATH_PARAMS] = { 0 };
            int lit;
            if (!route_match(r->pattern, segs, nsegs, p)) continue;
            if ((lit = literal_segments(r->pattern)) < best) continue;
            if (lit > best) {
                best = lit;
                allow[0] = '\0';
                table = NULL;
                route = NULL;
            }
            path_known = 1;
            if (strcmp(r->method, req->method) != 0) {
                allow_add(allow, sizeof allow, r->method);
                continue;
            }
            if (!route) {
                memcpy(params, p, sizeof p);
                table = t;
                route = r;
            }
        }
    }
    req->route = route; /* the audit log names it, even for a refused request */
    scheme = table ? table->auth : API_AUTH_DEFAULT;
    if (route && (route->flags & API_ROUTE_PUBLIC_OPT) && s->metrics_public) scheme = API_AUTH_NONE;
    if (authenticate(s, req, scheme, who, resp) != 0) return;
    req->data_security = (who->roles & API_ROLE_DATA_SECURITY) != 0;
    if (too_large) {
        api_error(resp, 413, "BodyTooLarge", "request body is larger than %u bytes", API_MAX_BODY_BYTES);
        return;
    }
    if (!route) {
        if (path_known)
            method_not_allowed(resp, req->method, req->path, allow);
        else
            api_error(resp, 404, "NotFound", "no such path: %s", req->path);
        return;
    }
    memcpy(req->params, params, sizeof params);
    if (authorize(table, scheme, route, who, req, resp) != 0) return;
    route->handler(req, resp);
    if (resp->status == 0) api_error(resp, 500, "InternalError", "handler gave no answer");
}

/* sock_state_of: the connection's state (NULL if MHD has none). */
static struct sock_state *sock_state_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* on_connection: allocates the connection's sock_state when it opens and frees it when it closes. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)cls; (void)c;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        *socket_context = calloc(1, sizeof(struct sock_state));
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        free(*socket_context);
        *socket_context = NULL;
    }
}

/* unescape: MHD's own %HH decoding of the path and of each query name and value, noting a decoded
 * NUL byte (which would silently cut the string short) in the connection's state. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    size_t n = MHD_http_unescape(s);
    (void)cls;
    if (memchr(s, '\0', n)) {
        struct sock_state *ss = sock_state_of(c);
        if (ss) ss->nul_seen = true;
    }
    return n;
}

/* on_uri: MHD's first look at a request, with its raw target, before it parses the query. Creates
 * the request's state (MHD hands it to on_request as con_cls). A target over API_MAX_TARGET_BYTES or
 * with more than API_MAX_QUERY_PARAMS parameters is refused here: MHD calls this just before it
 * splits the query at each '&' into one pool record per parameter, so we turn the '&'s of a refused
 * query into '_' in MHD's own (writable) read buffer: MHD then parses one parameter instead of
 * spending the connection's memory pool on thousands we would refuse anyway (running out of it left
 * the client without an answer), and check_request answers 414 or 400. */
/* body_cap: the most body bytes a request to uri may send: API_MAX_BODY_BYTES, or API_MAX_UPLOAD_BYTES
 * for an agent's blob upload (POST /v2/coffer/agents/work/{id}/blobs: one blob may be a whole
 * REPO_CHUNK_MAX chunk, agent_proto.c). */
static size_t body_cap(const char *uri)
{
    static const char prefix[] = "/v2/coffer/agents/work/", suffix[] = "/blobs";
    size_t n = strcspn(uri, "?");
    if (strncmp(uri, prefix, sizeof prefix - 1) == 0 && n >= sizeof prefix - 1 + sizeof suffix - 1 &&
        memcmp(uri + n - (sizeof suffix - 1), suffix, sizeof suffix - 1) == 0)
        return API_MAX_UPLOAD_BYTES;
    return API_MAX_BODY_BYTES;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct conn_state *st = calloc(1, sizeof *st);
    const char *q = strchr(uri, '?');
    size_t params = 0;
    (void)cls; (void)c;
    if (!st) return NULL;
    buf_init(&st->body, body_cap(uri));
    st->uri = (uintptr_t)uri;
    st->uri_len = strlen(uri);
    st->t0_usecs = mono_usecs();
    if (q)
        for (params = 1; (q = strchr(q + 1, '&')) != NULL;) params++;
    if (st->uri_len > API_MAX_TARGET_BYTES) st->target_refused = 414;
    else if (params > API_MAX_QUERY_PARAMS) st->target_refused = 400;
    if (st->target_refused && (q = strchr(uri, '?')) != NULL)
        for (char *p = (char *)q; *p; p++)
            if (*p == '&') *p = '_'; /* one parameter left for MHD to parse, not thousands */
    return st;
}

/* What check_request counts over the headers or the query parameters. */
struct shape {
    size_t count, bytes;
    const char *nul_in; /* the name of the first field holding a NUL byte (truncated copy) */
    char nul_name[64];
};

static enum MHD_Result measure(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                               const char *value, size_t value_size)
{
    struct shape *sh = cls;
    (void)kind;
    sh->count++;
    sh->bytes += key_size + value_size;
    if (!sh->nul_in && ((key && strlen(key) != key_size) || (value && strlen(value) != value_size))) {
        snprintf(sh->nul_name, sizeof sh->nul_name, "%s", key ? key : "");
        sh->nul_in = sh->nul_name;
    }
    return MHD_YES;
}

/* check_request: the request's shape, before anything else: NUL bytes, target, parameter and header
 * limits. Returns 0 when it may go on, or -1 after filling resp. */
static int check_request(struct MHD_Connection *c, const char *url, const struct conn_state *st,
                         struct api_resp *resp)
{
    struct shape q = { 0 }, h = { 0 };
    struct sock_state *ss = sock_state_of(c);
    bool nul = (ss && ss->nul_seen) || st->hidden_nul;
    if (ss) ss->nul_seen = false;
    if (st->target_refused == 414) {
        api_error(resp, 414, "UriTooLong", "request target (path and query) is longer than %u bytes",
                  API_MAX_TARGET_BYTES);
        return -1;
    }
    if (st->target_refused == 400) {
        api_error(resp, 400, "TooManyParameters", "query: more than %u parameters", API_MAX_QUERY_PARAMS);
        return -1;
    }
    MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, measure, &q);
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, measure, &h);
    if (h.nul_in) {
        api_error(resp, 400, "InvalidHeader", "header '%s' contains a NUL byte", h.nul_in);
        return -1;
    }
    if (nul || q.nul_in) {
        if (q.nul_in)
            api_error(resp, 400, "InvalidParameter", "query parameter '%s' contains a NUL byte", q.nul_in);
        else
            api_error(resp, 400, "InvalidPath", "the path or a query parameter contains a NUL byte (%%00)");
        return -1;
    }
    if (h.bytes > API_MAX_HEADER_BYTES || h.count > API_MAX_HEADERS) {
        api_error(resp, 431, "HeadersTooLarge", "request headers: %zu fields of %zu bytes; at most %u fields of %u bytes",
                  h.count, h.bytes, API_MAX_HEADERS, API_MAX_HEADER_BYTES);
        return -1;
    }
    if (q.count > API_MAX_QUERY_PARAMS) {
        api_error(resp, 400, "TooManyParameters", "query: %zu parameters; at most %u are accepted", q.count,
                  API_MAX_QUERY_PARAMS);
        return -1;
    }
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct api_server *s = cls;
    struct conn_state *st = *con_cls;
    struct api_req req;
    struct api_resp resp = { 0 };
    struct api_principal who;
    if (!st) { /* on_uri always sets it; kept for safety */
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        buf_init(&st->body, API_MAX_BODY_BYTES);
        *con_cls = st;
    }
    if (!st->started) {
        const char *rid = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
        st->started = 1;
        if (request_id_ok(rid)) snprintf(st->request_id, sizeof st->request_id, "%s", rid);
        else svc_audit_request_id(st->request_id, sizeof st->request_id);
        /* A raw NUL byte in the request target ends the C string MHD gives us early; MHD keeps the
         * HTTP version right after the target in the same buffer, so a gap between the two means
         * hidden bytes. (Checked only when both lie within one pool; otherwise nothing is flagged.) */
        if (st->uri && version) {
            uintptr_t v = (uintptr_t)version;
            st->hidden_nul = v > st->uri + st->uri_len + 1 && v - st->uri <= SERVER_POOL_BYTES;
        }
        if (check_request(c, url, st, &resp) != 0) {
            enum MHD_Result ret;
            st->rejected = 1;
            observe(st, NULL, method, resp.status);
            log_ctx_set("request_id", st->request_id);
            log_answer(st, NULL, method, NULL, resp.status); /* the target itself may be what is wrong */
            ret = send_resp(c, &resp, st->request_id);
            log_ctx_set("request_id", NULL);
            return ret;
        }
        return MHD_YES;
    }
    if (st->rejected) { /* answered at the first call: the body, if any, is dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!st->too_large) {
            int rc = buf_append(&st->body, upload, *upload_size);
            if (rc == -E2BIG) {
                st->too_large = 1;
                buf_free(&st->body); /* dropped: the answer is 413 whatever it held */
            } else if (rc != 0) {
                return MHD_NO;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    memset(&req, 0, sizeof req);
    req.conn = c;
    req.server = s;
    req.ctx = s->ctx;
    req.method = method;
    req.path = url;
    req.body = st->body.data;
    req.body_len = st->body.len;
    req.request_id = st->request_id;
    log_ctx_set("request_id", st->request_id);
    dispatch(s, &req, &who, st->too_large, &resp);
    /* here req.who (the caller), req.route (NULL when no route matched) and resp.status are final */
    api_audit_request(&req, &resp); /* durable before the answer goes out (api/audit.h) */
    observe(st, req.route, method, resp.status);
    log_answer(st, req.route, method, url, resp.status);
    {
        enum MHD_Result ret = send_resp(c, &resp, st->request_id);
        log_ctx_set("request_id", NULL);
        return ret;
    }
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code)
{
    struct conn_state *st = *con_cls;
    struct sock_state *ss = sock_state_of(c);
    (void)cls; (void)code;
    if (ss) ss->nul_seen = false; /* set while parsing a request that never reached on_request */
    if (st) {
        buf_free(&st->body);
        free(st);
        *con_cls = NULL;
    }
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    log_warn("http: %s", msg);
}

int api_server_start(const char *host, int port, const char *admin_key, struct api_tls *tls,
                     struct api_context *ctx, struct api_server **out, char *err, size_t errlen)
{
    struct MHD_OptionItem tls_opts[3] = { { MHD_OPTION_END, 0, NULL } };
    struct api_server *s = calloc(1, sizeof *s);
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    struct sockaddr *addr;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned threads = (unsigned)(ncpu > 0 ? ncpu : 2);
    const union MHD_DaemonInfo *info;
    if (!s) return -1;
    s->ctx = ctx;
    s->metrics_public = getenv("COFFER_METRICS_PUBLIC") && strcmp(getenv("COFFER_METRICS_PUBLIC"), "1") == 0;
    if (ctx && ctx->auth) {
        s->auth = ctx->auth;
    } else if (api_auth_new(admin_key, NULL, ctx ? ctx->data_security_key : NULL, NULL, &s->own_auth) == 0) {
        s->auth = s->own_auth;
    } else {
        snprintf(err, errlen, "out of memory");
        free(s);
        return -1;
    }
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        addr = (struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)port);
        addr = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else if (strcmp(host, "localhost") == 0) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)port);
        a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr = (struct sockaddr *)&a4;
    } else {
        snprintf(err, errlen, "listen address '%s' is not an IPv4 or IPv6 address", host);
        api_auth_free(s->own_auth);
        free(s);
        return -1;
    }
    if (tls) {
        flags |= MHD_USE_TLS;
        api_tls_mhd_options(tls, tls_opts);
    }
    s->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                                 MHD_OPTION_SOCK_ADDR, addr,
                                 MHD_OPTION_THREAD_POOL_SIZE, threads,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
                                 MHD_OPTION_CONNECTION_TIMEOUT, SERVER_IDLE_TIMEOUT_S,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVER_POOL_BYTES,
                                 MHD_OPTION_CONNECTION_MEMORY_INCREMENT, (size_t)SERVER_POOL_INCREMENT,
                                 MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                                 MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                                 MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_ARRAY, tls_opts,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d (address in use or not available%s)", host, port,
                 tls ? ", or TLS could not start" : "");
        api_auth_free(s->own_auth);
        free(s);
        return -1;
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    *out = s;
    return 0;
}

int api_server_port(const struct api_server *s) { return s->port; }

void api_server_stop(struct api_server *s)
{
    if (!s) return;
    MHD_stop_daemon(s->daemon);
    api_auth_free(s->own_auth);
    free(s);
}
