/* audit.c: what the API records in the audit log, and the route that reads it (audit.h).
 *
 * Recording (api_audit_request, after dispatch, before req->who is freed): the caller is req->who; a
 * principal with an empty key id (authentication failed or not reached: 401, 429) is recorded without
 * a key id; without any principal (the admin key file of the daemon, before keys are bound to
 * principals) the caller is the key id "admin" (or "data-security" for COFFER_DATA_SECURITY_KEY), a
 * cluster key with the Admin role, except on a 401 (no key id). The tenant is the request's (by the route table's rule), else the X-IBM-Tenant-Id the client
 * sent (a refused or unmatched request), else the key's. Client-chosen text (path, tenant header) is
 * stored with bytes outside printable ASCII shown as '?' and at most AUDIT_TEXT_MAX bytes.
 * The resource id: for a POST answered 200..202 whose body names an "id" or a "runId" (a create: a
 * policy, a group, a run, a recovery, a download, a prune), that id; otherwise the route's last path
 * parameter. PUT .../protection-groups/{id}/runs (data lock, legal hold, retention, snapshot
 * deletion of runs) also records, as detail, each run the body names, what it asked and whether it
 * succeeded: {"runs":[{"run","data_lock","days_to_keep","legal_hold","delete_snapshot","ok"}]}.
 *
 *   GET /v2/coffer/audit  (Admin) the entries newest first: {"entries": [{"sequence", "timeUsecs",
 *       "requestId", "actor", "keyId", "tenantId", "roles": [...], "clientAddress", "method", "route",
 *       "path", "resourceId", "status", "detail"}], "nextCursor": "..." | null}. Query: startTimeUsecs,
 *       endTimeUsecs (inclusive), tenantId ("" or absent: every tenant for a cluster key), keyId,
 *       resourceId, route (a pattern: ids of different kinds may be equal), method, status, pageSize (1..1000, default 100), cursor (a nextCursor). A tenant
 *       key sees its own tenant's entries only (a tenantId naming another tenant is 403). */
#include "api/audit.h"
#include "api/auth.h"
#include "catalog/cat_audit.h"
#include "svc/audit.h"
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define AUDIT_TEXT_MAX 1024
#define AUDIT_PAGE_DEFAULT 100
#define AUDIT_PAGE_MAX 1000
#define AUDIT_DETAIL_RUNS_MAX 100
#define AUDIT_DOC_MAX (1024 * 1024) /* a create's answer parsed for its id: at most this long */

static const struct { unsigned bit; const char *name; } role_names[] = {
    { API_ROLE_VIEWER, "Viewer" }, { API_ROLE_OPERATOR, "Operator" }, { API_ROLE_ADMIN, "Admin" },
    { API_ROLE_DATA_SECURITY, "DataSecurity" }, { API_ROLE_AGENT, "Agent" },
};

/* roles_text: "Admin,DataSecurity" for the bits, in buf. */
static const char *roles_text(unsigned roles, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof role_names / sizeof role_names[0]; i++) {
        if (!(roles & role_names[i].bit)) continue;
        int n = snprintf(buf + o, size - o, "%s%s", o ? "," : "", role_names[i].name);
        if (n < 0 || (size_t)n >= size - o) break;
        o += (size_t)n;
    }
    return buf;
}

/* clean: s with bytes outside printable ASCII as '?', at most size - 1 bytes, in buf; NULL for NULL. */
static const char *clean(const char *s, char *buf, size_t size)
{
    size_t i = 0;
    if (!s) return NULL;
    for (; s[i] && i + 1 < size; i++) buf[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
    buf[i] = '\0';
    return buf;
}

static const char *client_address(struct MHD_Connection *c, char *buf, size_t size)
{
    const union MHD_ConnectionInfo *ci = c ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (!sa) return NULL;
    if (sa->sa_family == AF_INET &&
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf, (socklen_t)size))
        return buf;
    if (sa->sa_family == AF_INET6 &&
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf, (socklen_t)size))
        return buf;
    return NULL;
}

/* last_param: the path segment that the last {placeholder} of pattern matched, cleaned into buf, or
 * NULL. (req->params point into dispatch's own copy of the path, gone once dispatch returned: the
 * segment is found again the way dispatch splits a path, empty segments skipped.) */
static const char *last_param(const char *pattern, const char *path, char *buf, size_t size)
{
    const char *found = NULL;
    size_t found_len = 0;
    while (*pattern && *path) {
        size_t pn, sn;
        while (*pattern == '/') pattern++;
        while (*path == '/') path++;
        if (!*pattern || !*path) break;
        pn = strcspn(pattern, "/");
        sn = strcspn(path, "/");
        if (pattern[0] == '{') {
            found = path;
            found_len = sn;
        }
        pattern += pn;
        path += sn;
    }
    if (!found) return NULL;
    if (found_len >= size) found_len = size - 1;
    memcpy(buf, found, found_len);
    buf[found_len] = '\0';
    return clean(buf, buf, size);
}

/* resource_of: the resource id (see the file comment) in buf, or NULL. */
static const char *resource_of(const struct api_req *req, const struct api_resp *resp, char *buf, size_t size)
{
    if (strcmp(req->method, "POST") == 0 && resp->status >= 200 && resp->status <= 202) {
        static const char *const keys[] = { "id", "runId" };
        json_t *doc = resp->json ? json_incref(resp->json)
                    : resp->doc && resp->doc_len <= AUDIT_DOC_MAX ? json_loadb(resp->doc, resp->doc_len, 0, NULL) : NULL;
        const char *found = NULL;
        for (size_t i = 0; i < 2 && json_is_object(doc) && !found; i++) {
            json_t *v = json_object_get(doc, keys[i]);
            if (json_is_string(v)) {
                found = clean(json_string_value(v), buf, size);
            } else if (json_is_integer(v)) {
                snprintf(buf, size, "%lld", (long long)json_integer_value(v));
                found = buf;
            }
        }
        json_decref(doc);
        if (found) return found;
    }
    return req->route ? last_param(req->route->pattern, req->path, buf, size) : NULL;
}

/* runs_detail: for PUT .../runs, the runs its body names (Coffer's names; see the file comment), as a
 * malloc'd JSON text, or NULL. */
static char *runs_detail(const struct api_req *req, const struct api_resp *resp)
{
    json_t *body, *params, *v, *runs, *ok = json_object_get(resp->json, "successfulRunIds");
    size_t i;
    char *text = NULL;
    if (!req->route || strcmp(req->route->pattern, "/v2/data-protect/protection-groups/{id}/runs") != 0 ||
        strcmp(req->method, "PUT") != 0 || !req->body)
        return NULL;
    if (!(body = json_loadb(req->body, req->body_len, 0, NULL))) return NULL;
    params = json_object_get(body, "updateProtectionGroupRunParams");
    runs = json_array();
    json_array_foreach(params, i, v) {
        json_t *lsc = json_object_get(v, "localSnapshotConfig"), *r, *x, *okv;
        const char *id = json_string_value(json_object_get(v, "runId"));
        size_t k;
        int done = 0;
        char idbuf[128];
        if (i >= AUDIT_DETAIL_RUNS_MAX || !id) break;
        r = json_pack("{s:s}", "run", clean(id, idbuf, sizeof idbuf));
        if ((x = json_object_get(lsc, "dataLock")) && json_is_string(x))
            json_object_set_new(r, "data_lock", json_string(clean(json_string_value(x), idbuf, sizeof idbuf)));
        if ((x = json_object_get(lsc, "daysToKeep")) && json_is_integer(x)) json_object_set(r, "days_to_keep", x);
        if ((x = json_object_get(lsc, "enableLegalHold")) && json_is_boolean(x)) json_object_set(r, "legal_hold", x);
        if ((x = json_object_get(lsc, "deleteSnapshot")) && json_is_boolean(x)) json_object_set(r, "delete_snapshot", x);
        json_array_foreach(ok, k, okv)
            if (json_is_string(okv) && strcmp(json_string_value(okv), id) == 0) done = 1;
        json_object_set_new(r, "ok", json_boolean(done));
        json_array_append_new(runs, r);
    }
    if (json_array_size(runs) > 0) {
        json_t *d = json_pack("{s:o}", "runs", runs);
        text = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(d);
    } else {
        json_decref(runs);
    }
    json_decref(body);
    return text;
}

void api_audit_request(struct api_req *req, const struct api_resp *resp)
{
    const struct api_principal *who = req->who;
    const char *hdr_tenant;
    char roles[96] = "", path[AUDIT_TEXT_MAX], tenant[300], resource[300], client[INET6_ADDRSTRLEN + 1];
    char *detail;
    struct svc_audit_event ev = { .actor = "api", .status = resp->status, .method = req->method,
                                  .request_id = req->request_id && req->request_id[0] ? req->request_id : NULL };
    int refused = resp->status == 401 || resp->status == 403 || resp->status == 429;
    if (!req->ctx || !req->ctx->cat || !req->method) return;
    if (!refused && (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)) return;
    if (who && who->key_id[0]) {
        ev.key_id = who->key_id;
        ev.roles = roles_text(who->roles, roles, sizeof roles);
    } else if (!who && resp->status != 401) {
        ev.key_id = req->data_security ? "data-security" : "admin";
        ev.roles = roles_text(API_ROLE_ADMIN | (req->data_security ? API_ROLE_DATA_SECURITY : 0), roles, sizeof roles);
    }
    hdr_tenant = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-IBM-Tenant-Id");
    ev.tenant = clean(req->tenant ? req->tenant : hdr_tenant && *hdr_tenant ? hdr_tenant : who ? who->tenant : "",
                      tenant, sizeof tenant);
    ev.client = client_address(req->conn, client, sizeof client);
    ev.route = req->route ? req->route->pattern : NULL;
    ev.path = clean(req->path, path, sizeof path);
    ev.resource_id = resource_of(req, resp, resource, sizeof resource);
    ev.detail = detail = runs_detail(req, resp);
    (void)svc_audit_record(req->ctx->cat, &ev); /* logged there; the change itself is already made */
    free(detail);
}

/* ---------- GET /v2/coffer/audit ---------- */

struct page {
    json_t *entries;
    int limit, n;
    int64_t last_seq;
    int more;
};

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static int add_entry(void *ud, const struct cat_audit_entry *e)
{
    struct page *p = ud;
    json_t *roles, *o, *detail = NULL;
    if (p->n == p->limit) { /* the one row past the page: there is more */
        p->more = 1;
        return 1;
    }
    if (!(roles = json_array())) return -1;
    for (const char *r = e->roles; r && *r;) {
        const char *comma = strchr(r, ',');
        size_t n = comma ? (size_t)(comma - r) : strlen(r);
        if (n) json_array_append_new(roles, json_stringn(r, n));
        r += n + (comma ? 1 : 0);
    }
    if (e->detail) detail = json_loads(e->detail, 0, NULL);
    o = json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:i, s:o}",
                  "sequence", (json_int_t)e->seq, "timeUsecs", (json_int_t)e->time_usecs,
                  "requestId", str_or_null(e->request_id), "actor", str_or_null(e->actor),
                  "keyId", str_or_null(e->key_id), "tenantId", str_or_null(e->tenant), "roles", roles,
                  "clientAddress", str_or_null(e->client), "method", str_or_null(e->method),
                  "route", str_or_null(e->route), "path", str_or_null(e->path),
                  "resourceId", str_or_null(e->resource_id), "status", e->status,
                  "detail", detail ? detail : json_null());
    if (!o) return -1;
    json_array_append_new(p->entries, o);
    p->n++;
    p->last_seq = e->seq;
    return 0;
}

/* int_param: an integer query parameter in [min, max]: 0 absent, 1 given, -1 after a 400. */
static int int_param(struct api_req *req, struct api_resp *resp, const char *name, int64_t min, int64_t max,
                     int64_t *out)
{
    int rc = api_query_int64(req, resp, name, out);
    if (rc == 1 && (*out < min || *out > max)) {
        api_error(resp, 400, "InvalidParameter", "query parameter '%s' must be between %lld and %lld", name,
                  (long long)min, (long long)max);
        return -1;
    }
    return rc;
}

static void audit_list(struct api_req *req, struct api_resp *resp)
{
    struct cat_audit_filter f = { 0 };
    struct page p = { 0 };
    const struct api_principal *who = req->who;
    const char *tenant = api_query(req, "tenantId"), *cursor = api_query(req, "cursor");
    int64_t v = 0;
    int rc;
    char method[16];
    if (int_param(req, resp, "startTimeUsecs", 0, INT64_MAX, &f.start_usecs) < 0 ||
        int_param(req, resp, "endTimeUsecs", 0, INT64_MAX, &f.end_usecs) < 0)
        return;
    if ((rc = int_param(req, resp, "status", 100, 599, &v)) < 0) return;
    if (rc == 1) f.status = (int)v;
    v = AUDIT_PAGE_DEFAULT;
    if (int_param(req, resp, "pageSize", 1, AUDIT_PAGE_MAX, &v) < 0) return;
    f.limit = (int)v + 1; /* one more: whether there is a next page */
    if (cursor) {
        char *end;
        errno = 0;
        f.before_seq = strtoll(cursor, &end, 10);
        if (errno || end == cursor || *end || f.before_seq < 1) {
            api_error(resp, 400, "InvalidParameter", "query parameter 'cursor' must be a nextCursor of an earlier answer");
            return;
        }
    }
    if (f.start_usecs && f.end_usecs && f.end_usecs < f.start_usecs) {
        api_error(resp, 400, "InvalidParameter", "query parameter 'endTimeUsecs' is before 'startTimeUsecs'");
        return;
    }
    if ((f.method = api_query(req, "method")) != NULL) {
        size_t n = strlen(f.method);
        if (n == 0 || n >= sizeof method) {
            api_error(resp, 400, "InvalidParameter", "query parameter 'method' must be an HTTP method such as POST");
            return;
        }
        for (size_t i = 0; i <= n; i++) method[i] = (char)(f.method[i] >= 'a' && f.method[i] <= 'z' ? f.method[i] - 32 : f.method[i]);
        f.method = method;
    }
    f.key_id = api_query(req, "keyId");
    f.route = api_query(req, "route");
    f.resource_id = api_query(req, "resourceId");
    if (tenant && !*tenant) tenant = NULL;
    if (who && !who->cluster) { /* a tenant's key: its own tenant only */
        if (tenant && strcmp(tenant, who->tenant) != 0) {
            api_error(resp, 403, "Forbidden", "query parameter 'tenantId': a key of tenant '%s' reads only its own "
                      "tenant's audit entries", who->tenant);
            return;
        }
        tenant = who->tenant;
    }
    f.tenant = tenant;
    p.entries = json_array();
    p.limit = f.limit - 1;
    rc = cat_audit_list(req->ctx->cat, &f, add_entry, &p);
    if (rc < 0) {
        json_decref(p.entries);
        api_catalog_error(resp, rc, "reading the audit log");
        return;
    }
    {
        char next[32];
        snprintf(next, sizeof next, "%lld", (long long)p.last_seq);
        api_json(resp, 200, json_pack("{s:o, s:o}", "entries", p.entries, "nextCursor",
                                      p.more ? json_string(next) : json_null()));
    }
}

const struct api_route api_routes_coffer_audit[] = {
    { "GET", "/v2/coffer/audit", audit_list, 0, API_ROLE_ADMIN },
    { NULL, NULL, NULL, 0, 0 },
};
