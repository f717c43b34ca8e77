/* api.h: what a resource handler sees: the request (method, path parameters, query, tenant, body)
 * and the response it fills (a status and a JSON body, or a streamed body).
 *
 * Handlers run on libmicrohttpd's worker threads. They validate, call the catalog or the scheduler,
 * and answer; long work is queued, never done inline. A handler that fails calls api_error, whose
 * body is {"errorCode": ..., "message": ...} naming the field and the problem.
 *
 * Return values in src/api, one rule (error codes themselves follow util/err.h):
 *   - the JSON validators jv_* (jv.h) return 1 when the value is valid and 0 after filling resp with
 *     a 400; pure predicates, which answer yes or no and touch no response (jv_enum_ok, api_id_parse,
 *     str_in, glob_match, ...), return 1 for yes and 0 for no;
 *   - every other function returns 0 on success or a negative code; one that has already answered
 *     the request (a 4xx/5xx in resp) returns -1, so callers write "if (check_x(...) != 0) goto out".
 *     The only other positive results are documented counts and "present" flags (api_query_bool and
 *     api_query_int64: 1 = the parameter was given). */
#ifndef COFFER_API_API_H
#define COFFER_API_API_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct MHD_Connection;
struct MHD_Response;
struct api_server;
struct api_principal;

#define API_MAX_PATH_PARAMS 4
#define API_MAX_BODY_BYTES (4u * 1024 * 1024)
/* API_MAX_UPLOAD_BYTES: the body cap of an agent's blob upload (server.c body_cap), one REPO_CHUNK_MAX
 * chunk and its framing with room to spare. */
#define API_MAX_UPLOAD_BYTES (12u * 1024 * 1024)

struct api_req {
    struct MHD_Connection *conn;
    struct api_server *server;
    struct api_context *ctx; /* the daemon's context (api_ctx) */
    const char *method;
    const char *path;        /* without the query string */
    const char *tenant;      /* by the route table's tenant rule (X-IBM-Tenant-Id); NULL when none */
    const char *params[API_MAX_PATH_PARAMS]; /* {placeholders} of the route, in order */
    const char *body;        /* NUL-terminated, may be NULL */
    size_t body_len;
    int data_security;       /* the caller holds the DataSecurity role (lifts Administrative locks) */
    const struct api_principal *who; /* the authenticated caller (auth.h); set before the handler runs */
    const struct api_route *route;   /* the route dispatch matched (NULL: none), set before authentication */
    const char *request_id;  /* the request's id (server.c): X-Request-Id of the answer, log lines, audit row */
};

struct api_resp {
    int status;
    json_t *json;                 /* owned by the response; NULL for no body */
    struct MHD_Response *raw;     /* a prepared response (streams); takes precedence over json */
    const char *doc;              /* api_doc_response's JSON text inside raw (read by the audit log), or NULL */
    size_t doc_len;
};

typedef void (*api_handler_fn)(struct api_req *req, struct api_resp *resp);

/* Route flags. The authentication scheme and the tenant rule are the route table's (routes.h). */
#define API_ROUTE_NO_TENANT 1     /* this route takes no tenant even though its table has a tenant rule */
#define API_ROUTE_DATA_SECURITY 2 /* a key holding DataSecurity may call it too (besides the route's role) */
#define API_ROUTE_TENANT_KEYS 4   /* a route without a tenant that tenant keys may call (else cluster keys only) */

struct api_route {
    const char *method;
    const char *pattern;          /* e.g. "/v2/data-protect/policies/{id}" */
    api_handler_fn handler;
    int flags;
    unsigned role;                /* the API_ROLE_* (auth.h) a caller needs; every route names one */
};

/* Responses. api_json steals body. api_error formats the message. */
void api_json(struct api_resp *resp, int status, json_t *body);
void api_empty(struct api_resp *resp, int status);
void api_error(struct api_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* api_catalog_error: the answer to a catalog call that failed (rc: what it returned, or 0 when
 * unknown): 507 InsufficientStorage when the disk is full (rc -ENOSPC, or the catalog's last error on
 * this thread was), else 500 InternalError; the message names what was being done. */
void api_catalog_error(struct api_resp *resp, int rc, const char *what);

/* Query parameters. api_query: the raw value or NULL. api_query_list: values of a list parameter,
 * accepting both repeated keys and comma-separated values (the IBM SDK joins with commas); a new
 * JSON array of strings the caller decrefs. api_query_bool/int64: return 0 when absent (out left
 * unchanged), 1 when parsed, -1 after filling resp with a 400 naming the parameter. */
const char *api_query(struct api_req *req, const char *name);
json_t *api_query_list(struct api_req *req, const char *name);
/* api_query_enum_list: a list parameter whose every value must be one of allowed (NULL-terminated);
 * api_query_int_list: a list parameter of integers, as a JSON array of integers. Both return a new
 * array the caller decrefs (empty when absent), or NULL after filling resp with a 400 naming the
 * parameter and the bad value. */
json_t *api_query_enum_list(struct api_req *req, struct api_resp *resp, const char *name,
                            const char *const *allowed);
json_t *api_query_int_list(struct api_req *req, struct api_resp *resp, const char *name);
int api_query_bool(struct api_req *req, struct api_resp *resp, const char *name, int *out);
int api_query_int64(struct api_req *req, struct api_resp *resp, const char *name, int64_t *out);
/* api_query_bools: checks that each named (NULL-terminated) boolean parameter the handler accepts
 * but does not use is true or false when present: 0, or -1 after a 400 naming it. An unknown VALUE
 * of a known parameter is refused; unknown parameter NAMES stay tolerated. */
int api_query_bools(struct api_req *req, struct api_resp *resp, const char *const *names);

/* api_body_object: parses the body as a JSON object; NULL after filling resp with a 400 naming the
 * problem (missing body, malformed JSON with line/column, not an object). Caller decrefs. */
json_t *api_body_object(struct api_req *req, struct api_resp *resp);

/* The server-wide context handlers reach through req->server. */
struct cat;
struct sched;
struct repo;
struct api_auth_state;
struct api_context {
    struct cat *cat;
    const char *data_dir;
    struct sched *sched;  /* job queue and workers (NULL until started) */
    struct repo *repo;    /* the local repository (NULL until opened) */
    const char *data_security_key; /* COFFER_DATA_SECURITY_KEY (NULL: none; distinct from the admin key): a cluster
                                    * key holding DataSecurity and Viewer (auth.c) */
    struct api_auth_state *auth; /* the keys and failure limits (auth.h); NULL: api_server_start makes one */
};
/* api_ctx: the daemon context of a request. */
static inline struct api_context *api_ctx(struct api_req *req) { return req->ctx; }
#endif
