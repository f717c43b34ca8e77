/* server.c: the HTTP front door. libmicrohttpd parses HTTP and runs a pool of epoll threads; for each
 * request we gather the body (capped at API_MAX_BODY_BYTES: larger is 413), check the bearer key
 * (SHA-256 digests compared in constant time), match the route table (404 unknown path, 405 known
 * path with another method), require X-IBM-Tenant-Id where the route needs it (400), then call the
 * handler and send what it filled in. Handlers never see an unauthenticated request. */
#include "api/server.h"
#include "api/routes.h"
#include "util/log.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct api_server {
    struct MHD_Daemon *daemon;
    struct api_context *ctx;
    unsigned char key_digest[SHA256_DIGEST_LENGTH];
    int port;
};

/* Per-request state, kept in MHD's con_cls between the calls of one request. */
struct conn_state {
    char *body;
    size_t len, cap;
    int too_large;
};

struct api_context *api_ctx(struct api_req *req) { return req->server->ctx; }

static int key_matches(const struct api_server *s, const char *auth)
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    const char *token;
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) return 0;
    token = auth + 7;
    while (*token == ' ') token++;
    SHA256((const unsigned char *)token, strlen(token), d);
    return CRYPTO_memcmp(d, s->key_digest, sizeof d) == 0;
}

static enum MHD_Result send_resp(struct MHD_Connection *c, struct api_resp *r)
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

static void dispatch(struct api_server *s, struct api_req *req, struct api_resp *resp)
{
    char path[1024];
    char *segs[MAX_SEGS];
    int nsegs = 0, path_known = 0;
    size_t n = strlen(req->path);
    if (n >= sizeof path) {
        api_error(resp, 414, "PathTooLong", "path is longer than %zu bytes", sizeof path - 1);
        return;
    }
    memcpy(path, req->path, n + 1);
    for (char *p = path; *p;) {
        while (*p == '/') *p++ = '\0';
        if (!*p) break;
        if (nsegs == MAX_SEGS) {
            api_error(resp, 404, "NotFound", "no such path: %s", req->path);
            return;
        }
        segs[nsegs++] = p;
        while (*p && *p != '/') p++;
    }
    for (const struct api_route *const *t = api_route_tables; *t; t++) {
        for (const struct api_route *r = *t; r->method; r++) {
            const char *params[API_MAX_PATH_PARAMS] = { 0 };
            if (!route_match(r->pattern, segs, nsegs, params)) continue;
            path_known = 1;
            if (strcmp(r->method, req->method) != 0) continue;
            memcpy(req->params, params, sizeof params);
            if (!(r->flags & API_ROUTE_NO_TENANT)) {
                req->tenant = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-IBM-Tenant-Id");
                if (!req->tenant || !*req->tenant) {
                    api_error(resp, 400, "MissingTenant", "header X-IBM-Tenant-Id is required");
                    return;
                }
                if (strlen(req->tenant) > 256) {
                    api_error(resp, 400, "InvalidTenant", "header X-IBM-Tenant-Id is longer than 256 bytes");
                    return;
                }
            }
            r->handler(req, resp);
            if (resp->status == 0) api_error(resp, 500, "InternalError", "handler gave no answer");
            return;
        }
    }
    if (path_known)
        api_error(resp, 405, "MethodNotAllowed", "method %s is not allowed on %s", req->method, req->path);
    else
        api_error(resp, 404, "NotFound", "no such path: %s", req->path);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct api_server *s = cls;
    struct conn_state *st = *con_cls;
    struct api_req req;
    struct api_resp resp = { 0 };
    (void)version;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        if (!st->too_large) {
            if (st->len + *upload_size > API_MAX_BODY_BYTES) {
                st->too_large = 1;
            } else {
                if (st->len + *upload_size + 1 > st->cap) {
                    size_t cap = st->cap ? st->cap : 4096;
                    char *nb;
                    while (cap < st->len + *upload_size + 1) cap *= 2;
                    nb = realloc(st->body, cap);
                    if (!nb) return MHD_NO;
                    st->body = nb;
                    st->cap = cap;
                }
                memcpy(st->body + st->len, upload, *upload_size);
                st->len += *upload_size;
                st->body[st->len] = '\0';
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    memset(&req, 0, sizeof req);
    req.conn = c;
    req.server = s;
    req.method = method;
    req.path = url;
    req.body = st->body;
    req.body_len = st->len;
    if (!key_matches(s, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"))) {
        api_error(&resp, 401, "Unauthorized", "a valid 'Authorization: Bearer <key>' header is required");
    } else if (st->too_large) {
        api_error(&resp, 413, "BodyTooLarge", "request body is larger than %u bytes", API_MAX_BODY_BYTES);
    } else {
        dispatch(s, &req, &resp);
    }
    return send_resp(c, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode code)
{
    struct conn_state *st = *con_cls;
    (void)cls; (void)c; (void)code;
    if (st) {
        free(st->body);
        free(st);
        *con_cls = NULL;
    }
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    log_warn("http: %s", msg);
}

int api_server_start(const char *host, int port, const char *admin_key, struct api_context *ctx,
                     struct api_server **out, char *err, size_t errlen)
{
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
    SHA256((const unsigned char *)admin_key, strlen(admin_key), s->key_digest);
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
        free(s);
        return -1;
    }
    s->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                                 MHD_OPTION_SOCK_ADDR, addr,
                                 MHD_OPTION_THREAD_POOL_SIZE, threads,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                                 MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d (address in use or not available)", host, port);
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
    free(s);
}
