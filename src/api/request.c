/* request.c: the helpers handlers use to read a request (query parameters, JSON body) and to fill a
 * response (JSON, empty, error). Every error names the parameter or field and the problem. */
#include "api/api.h"
#include "api/jv.h"
#include "catalog/cat.h"
#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void api_json(struct api_resp *resp, int status, json_t *body)
{
    json_decref(resp->json);
    resp->status = status;
    resp->json = body;
}

void api_empty(struct api_resp *resp, int status)
{
    json_decref(resp->json);
    resp->json = NULL;
    resp->status = status;
}

void api_error(struct api_resp *resp, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    json_t *m;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    m = json_string(msg);
    if (!m) { /* not UTF-8 (client bytes quoted in the message, or a character cut by the size limit): the
               * answer still needs its JSON body, so bytes >= 0x80 are shown as \xNN */
        char safe[sizeof msg * 4];
        size_t o = 0;
        for (const unsigned char *p = (const unsigned char *)msg; *p && o + 5 < sizeof safe; p++) {
            if (*p < 0x80) safe[o++] = (char)*p;
            else o += (size_t)snprintf(safe + o, 5, "\\x%02x", *p);
        }
        safe[o] = '\0';
        m = json_string(safe);
    }
    api_json(resp, status, json_pack("{s:s,s:o}", "errorCode", code, "message", m));
}

void api_catalog_error(struct api_resp *resp, int rc, const char *what)
{
    if (rc == -ENOSPC || cat_last_error() == -ENOSPC)
        api_error(resp, 507, "InsufficientStorage",
                  "the disk of the data directory is full (No space left on device) while %s: nothing was "
                  "changed; free space on it and retry", what);
    else
        api_error(resp, 500, "InternalError", "catalog error while %s", what);
}

const char *api_query(struct api_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct list_ctx {
    const char *name;
    json_t *out;
};

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct list_ctx *lc = cls;
    (void)kind;
    if (strcmp(key, lc->name) != 0 || !value) return MHD_YES;
    for (const char *p = value; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n > 0) json_array_append_new(lc->out, json_stringn(p, n));
        if (!comma) break;
        p = comma + 1;
    }
    return MHD_YES;
}

json_t *api_query_list(struct api_req *req, const char *name)
{
    struct list_ctx lc = { name, json_array() };
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect, &lc);
    return lc.out;
}

json_t *api_query_enum_list(struct api_req *req, struct api_resp *resp, const char *name,
                            const char *const *allowed)
{
    json_t *l = api_query_list(req, name), *v;
    size_t i;
    json_array_foreach(l, i, v) {
        if (!jv_enum_ok(json_string_value(v), allowed)) {
            api_error(resp, 400, "InvalidParameter", "query parameter '%s' has unknown value '%.64s'", name,
                      json_string_value(v));
            json_decref(l);
            return NULL;
        }
    }
    return l;
}

json_t *api_query_int_list(struct api_req *req, struct api_resp *resp, const char *name)
{
    json_t *l = api_query_list(req, name), *out = json_array(), *v;
    size_t i;
    json_array_foreach(l, i, v) {
        const char *s = json_string_value(v);
        char *end;
        long long n;
        errno = 0;
        n = strtoll(s, &end, 10);
        if (errno || end == s || *end) {
            api_error(resp, 400, "InvalidParameter", "query parameter '%s' must be a list of integers, not '%.64s'",
                      name, s);
            json_decref(l);
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, json_integer(n));
    }
    json_decref(l);
    return out;
}

int api_query_bool(struct api_req *req, struct api_resp *resp, const char *name, int *out)
{
    const char *v = api_query(req, name);
    if (!v) return 0;
    /* Case-insensitive: Python clients send True/False (str(bool)), others TRUE. */
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = 1;
    } else if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = 0;
    } else {
        api_error(resp, 400, "InvalidParameter", "query parameter '%s' must be true or false, not '%.64s'", name, v);
        return -1;
    }
    return 1;
}

int api_query_bools(struct api_req *req, struct api_resp *resp, const char *const *names)
{
    int ignored;
    for (const char *const *n = names; *n; n++)
        if (api_query_bool(req, resp, *n, &ignored) < 0) return -1;
    return 0;
}

int api_query_int64(struct api_req *req, struct api_resp *resp, const char *name, int64_t *out)
{
    const char *v = api_query(req, name);
    char *end;
    long long n;
    if (!v) return 0;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || end == v || *end) {
        api_error(resp, 400, "InvalidParameter", "query parameter '%s' must be an integer, not '%s'", name, v);
        return -1;
    }
    *out = n;
    return 1;
}

json_t *api_body_object(struct api_req *req, struct api_resp *resp)
{
    json_error_t e;
    json_t *j;
    if (!req->body || req->body_len == 0) {
        api_error(resp, 400, "MissingBody", "a JSON object body is required");
        return NULL;
    }
    j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        api_error(resp, 400, "MalformedJson", "body is not valid JSON: %s at line %d column %d", e.text, e.line, e.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        api_error(resp, 400, "InvalidBody", "body must be a JSON object");
        return NULL;
    }
    jv_strip_nulls(j); /* null means absent, for every field of every body (jv.h) */
    return j;
}
