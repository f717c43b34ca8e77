/* test_openapi.c: the OpenAPI description (openapi/coffer.json, read from the source tree) against
 * what cofferd serves and what the official client sends:
 *   - the embedded copy GET /v2/openapi.json answers is the file as it is in the tree;
 *   - every route of api_route_tables is documented with its method, and every documented path and
 *     method is served (a path item marked x-coffer-also-without-v2 documents both "/v2/x" and "/x");
 *     the test clock (/v2/coffer-test/...) is the one route deliberately left out;
 *   - the tenant header is a parameter exactly where the route's table takes a tenant;
 *   - every operation has an operationId (unique), a success status and the error body for 4XX/5XX;
 *   - X-Request-Id: the reusable header parameter (optional, at most API_REQUEST_ID_MAX) is a parameter
 *     of every operation, and every answer (the error body's component included) has the header;
 *   - against ../shared/api/wire-contract.md (SKIP when absent): every operation under an IBM path is
 *     a contract operation with its method, path and success status, every body field name of it is a
 *     body field of that operation in the contract, and every property of a component named like a
 *     contract model is a field of that model.
 * Each mismatch is printed on its own line ("    mismatch: ...") before the test fails with a count. */
#include "api/routes.h"
#include "api/server.h"
#include "check.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DESC_PATH "openapi/coffer.json"
#define CONTRACT_PATH "../shared/api/wire-contract.md"
#define TEST_ONLY_PREFIX "/v2/coffer-test/"

static json_t *g_doc;          /* the parsed description */
static json_t *g_contract;     /* {"ops": {name: {method, path, status, body: [..]}}, "models": {name: [..]}} */
static int g_mismatches;

static void mismatch(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void mismatch(const char *fmt, ...)
{
    va_list ap;
    printf("    mismatch: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    g_mismatches++;
}

static const char *const g_methods[] = { "get", "put", "post", "delete", "patch", NULL };

static void lower(const char *in, char *out, size_t n)
{
    size_t i;
    for (i = 0; in[i] && i + 1 < n; i++) out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

/* op_of: the description's operation for method (any case) on path, or NULL. */
static json_t *op_of(const char *path, const char *method)
{
    char m[16];
    json_t *item = json_object_get(json_object_get(g_doc, "paths"), path);
    lower(method, m, sizeof m);
    return item ? json_object_get(item, m) : NULL;
}

static int both_ways(const char *path)
{
    return json_is_true(json_object_get(json_object_get(json_object_get(g_doc, "paths"), path), "x-coffer-also-without-v2"));
}

/* served: the route table entry for method and pattern, or NULL; *table gets its table. */
static const struct api_route *served(const char *method, const char *pattern, const struct api_route_table **table)
{
    for (const struct api_route_table *t = api_route_tables; t->routes; t++)
        for (const struct api_route *r = t->routes; r->method; r++)
            if (strcasecmp(r->method, method) == 0 && strcmp(r->pattern, pattern) == 0) {
                if (table) *table = t;
                return r;
            }
    return NULL;
}

/* documented_op: the operation documenting route (method, pattern): the path itself, or its /v2 form
 * marked x-coffer-also-without-v2. */
static json_t *documented_op(const char *method, const char *pattern)
{
    char v2[512];
    json_t *op = op_of(pattern, method);
    if (op || strncmp(pattern, "/v2/", 4) == 0) return op;
    snprintf(v2, sizeof v2, "/v2%s", pattern);
    return both_ways(v2) ? op_of(v2, method) : NULL;
}

TEST(embedded_description_is_the_source_file)
{
    FILE *f = fopen(DESC_PATH, "rb");
    size_t n = 0, got;
    const unsigned char *emb = api_openapi_json(&n);
    unsigned char *buf;
    int same;
    CHECKF(f != NULL, "cannot open %s (run from the project root)", DESC_PATH);
    buf = malloc(n + 1);
    got = buf ? fread(buf, 1, n + 1, f) : 0;
    fclose(f);
    same = got == n && memcmp(buf, emb, n) == 0;
    free(buf);
    CHECKF(same, "the embedded description (%zu bytes) is not %s (%zu bytes): rebuild", n, DESC_PATH, got);
    CHECK(json_is_string(json_object_get(g_doc, "openapi")));
    CHECKF(strncmp(json_string_value(json_object_get(g_doc, "openapi")), "3.1.", 4) == 0, "openapi is %s, not 3.1.x",
           json_string_value(json_object_get(g_doc, "openapi")));
}

TEST(every_route_is_documented)
{
    int before = g_mismatches, routes = 0;
    for (const struct api_route_table *t = api_route_tables; t->routes; t++)
        for (const struct api_route *r = t->routes; r->method; r++) {
            if (strncmp(r->pattern, TEST_ONLY_PREFIX, strlen(TEST_ONLY_PREFIX)) == 0) continue;
            routes++;
            if (!documented_op(r->method, r->pattern))
                mismatch("route %s %s (table %s) is not documented in %s", r->method, r->pattern, t->name, DESC_PATH);
        }
    CHECKF(routes > 60, "only %d routes seen", routes);
    CHECKF(g_mismatches == before, "%d routes undocumented (listed above)", g_mismatches - before);
}

TEST(every_documented_operation_is_served)
{
    int before = g_mismatches, ops = 0;
    const char *path;
    json_t *item;
    json_object_foreach(json_object_get(g_doc, "paths"), path, item) {
        int both = both_ways(path);
        if (both && strncmp(path, "/v2/", 4) != 0) mismatch("%s is marked x-coffer-also-without-v2 but has no /v2 prefix", path);
        for (int i = 0; g_methods[i]; i++) {
            char up[16];
            if (!json_object_get(item, g_methods[i])) continue;
            ops++;
            for (int k = 0; g_methods[i][k]; k++) up[k] = (char)(g_methods[i][k] - 32), up[k + 1] = '\0';
            if (!served(up, path, NULL)) mismatch("documented %s %s is not served", up, path);
            if (both && !served(up, path + 3, NULL))
                mismatch("documented %s %s (x-coffer-also-without-v2) is not served without /v2 (%s)", up, path, path + 3);
        }
    }
    CHECKF(ops > 60, "only %d operations documented", ops);
    CHECKF(g_mismatches == before, "%d documented operations not served (listed above)", g_mismatches - before);
}

/* takes_tenant: whether op lists the tenant header (by the shared parameter or inline). */
static int takes_tenant(json_t *op)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(op, "parameters"), i, p) {
        const char *ref = json_string_value(json_object_get(p, "$ref"));
        if (ref && strcmp(ref, "#/components/parameters/TenantId") == 0) return 1;
        if (json_string_value(json_object_get(p, "name")) &&
            strcasecmp(json_string_value(json_object_get(p, "name")), "X-IBM-Tenant-Id") == 0)
            return 1;
    }
    return 0;
}

/* tenant_required: whether op's tenant header is required (the shared parameter is; an inline one says). */
static int tenant_required(json_t *op)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(op, "parameters"), i, p) {
        const char *ref = json_string_value(json_object_get(p, "$ref"));
        if (ref && strcmp(ref, "#/components/parameters/TenantId") == 0) return 1;
        if (json_string_value(json_object_get(p, "name")) &&
            strcasecmp(json_string_value(json_object_get(p, "name")), "X-IBM-Tenant-Id") == 0)
            return json_is_true(json_object_get(p, "required"));
    }
    return 0;
}

/* public_op: whether the route at (method, path) belongs to a table that needs no key (API_AUTH_NONE). */
static int public_op(const char *method, const char *path)
{
    for (const struct api_route_table *t = api_route_tables; t->routes; t++)
        for (const struct api_route *r = t->routes; r->method; r++)
            if (t->auth == API_AUTH_NONE && strcasecmp(r->method, method) == 0 && strcmp(r->pattern, path) == 0)
                return 1;
    return 0;
}

TEST(tenant_header_where_the_route_takes_it)
{
    int before = g_mismatches;
    json_t *tp = json_object_get(json_object_get(json_object_get(g_doc, "components"), "parameters"), "TenantId");
    CHECK(tp != NULL);
    CHECK(strcmp(json_string_value(json_object_get(tp, "in")), "header") == 0);
    CHECK(strcmp(json_string_value(json_object_get(tp, "name")), "X-IBM-Tenant-Id") == 0);
    CHECK(json_is_true(json_object_get(tp, "required")));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(tp, "schema"), "maxLength")), 256);
    for (const struct api_route_table *t = api_route_tables; t->routes; t++)
        for (const struct api_route *r = t->routes; r->method; r++) {
            json_t *op = documented_op(r->method, r->pattern);
            int want = t->tenant.header && !(r->flags & API_ROUTE_NO_TENANT);
            if (!op) continue; /* every_route_is_documented names it */
            if (want && !t->tenant.required && takes_tenant(op) && tenant_required(op))
                mismatch("%s %s: the route's tenant header is optional but the description requires it", r->method,
                         r->pattern);
            if (want != takes_tenant(op))
                mismatch("%s %s: the route %s a tenant header but the description %s", r->method, r->pattern,
                         want ? "takes" : "takes no", want ? "lists none" : "lists one");
        }
    CHECKF(g_mismatches == before, "%d tenant mismatches (listed above)", g_mismatches - before);
}

TEST(bearer_security_and_error_bodies)
{
    int before = g_mismatches, ops = 0;
    json_t *comp = json_object_get(g_doc, "components"), *sec, *err, *props;
    const char *path;
    json_t *item;
    sec = json_object_get(json_object_get(comp, "securitySchemes"), "bearer");
    CHECK(sec && strcmp(json_string_value(json_object_get(sec, "type")), "http") == 0);
    CHECK(strcmp(json_string_value(json_object_get(sec, "scheme")), "bearer") == 0);
    CHECK(json_object_get(json_array_get(json_object_get(g_doc, "security"), 0), "bearer") != NULL);
    err = json_object_get(json_object_get(comp, "schemas"), "CofferError");
    props = json_object_get(err, "properties");
    CHECK(json_object_get(props, "errorCode") && json_object_get(props, "message"));
    json_object_foreach(json_object_get(g_doc, "paths"), path, item) {
        for (int i = 0; g_methods[i]; i++) {
            json_t *op = json_object_get(item, g_methods[i]), *resps;
            const char *code;
            json_t *r;
            int ok2xx = 0;
            if (!op) continue;
            ops++;
            if (public_op(g_methods[i], path)) { /* the console's files: no key, and said so */
                json_t *sec_op = json_object_get(op, "security");
                if (!json_is_array(sec_op) || json_array_size(sec_op) != 0)
                    mismatch("%s %s needs no key but the description does not say so (security: [])", g_methods[i], path);
            } else if (json_object_get(op, "security")) {
                mismatch("%s %s overrides the bearer security", g_methods[i], path);
            }
            resps = json_object_get(op, "responses");
            json_object_foreach(resps, code, r) if (code[0] == '2') ok2xx = 1;
            if (!ok2xx) mismatch("%s %s documents no success status", g_methods[i], path);
            for (const char *const *c = (const char *const[]){ "4XX", "5XX", NULL }; *c; c++) {
                const char *ref = json_string_value(json_object_get(json_object_get(resps, *c), "$ref"));
                if (!ref || strcmp(ref, "#/components/responses/Error") != 0)
                    mismatch("%s %s: %s is not the error body", g_methods[i], path, *c);
            }
        }
    }
    CHECK(ops > 0);
    CHECKF(g_mismatches == before, "%d mismatches (listed above)", g_mismatches - before);
}

/* has_request_id_header: the response r (inline, or a $ref to a component: checked there) has the
 * X-Request-Id header of the component. */
static int has_request_id_header(json_t *r)
{
    const char *ref = json_string_value(json_object_get(json_object_get(json_object_get(r, "headers"), "X-Request-Id"),
                                                        "$ref"));
    if (json_object_get(r, "$ref")) return 1; /* a component response: checked on its own */
    return ref && strcmp(ref, "#/components/headers/RequestId") == 0;
}

TEST(request_id_on_every_operation_and_answer)
{
    int before = g_mismatches, ops = 0;
    json_t *comp = json_object_get(g_doc, "components"), *p, *h, *item, *r;
    const char *path, *name;
    p = json_object_get(json_object_get(comp, "parameters"), "RequestId");
    CHECK(p && strcmp(json_string_value(json_object_get(p, "name")), "X-Request-Id") == 0);
    CHECK(strcmp(json_string_value(json_object_get(p, "in")), "header") == 0);
    CHECK(json_is_false(json_object_get(p, "required")));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(p, "schema"), "maxLength")), API_REQUEST_ID_MAX);
    h = json_object_get(json_object_get(comp, "headers"), "RequestId");
    CHECK(h && json_is_true(json_object_get(h, "required")));
    json_object_foreach(json_object_get(comp, "responses"), name, r)
        if (!has_request_id_header(r)) mismatch("components.responses.%s has no X-Request-Id header", name);
    json_object_foreach(json_object_get(g_doc, "paths"), path, item) {
        for (int i = 0; g_methods[i]; i++) {
            json_t *op = json_object_get(item, g_methods[i]), *v;
            size_t k;
            const char *code;
            int found = 0;
            if (!op) continue;
            ops++;
            json_array_foreach(json_object_get(op, "parameters"), k, v) {
                const char *ref = json_string_value(json_object_get(v, "$ref"));
                if (ref && strcmp(ref, "#/components/parameters/RequestId") == 0) found = 1;
            }
            if (!found) mismatch("%s %s does not take the X-Request-Id parameter", g_methods[i], path);
            json_object_foreach(json_object_get(op, "responses"), code, r)
                if (!has_request_id_header(r)) mismatch("%s %s: answer %s has no X-Request-Id header", g_methods[i], path,
                                                        code);
        }
    }
    CHECK(ops > 0);
    CHECKF(g_mismatches == before, "%d X-Request-Id mismatches (listed above)", g_mismatches - before);
}

/* ---- the wire contract ---- */

/* contract_load: the operations and models of wire-contract.md, or NULL when the file is absent. Lines:
 * "### METHOD /path  (Name[ [connector-side]])", "- success status ...: NNN", "- body fields:" and
 * "  - `field`: type"; after "## Models", "### Name" opens a model whose fields follow. */
static json_t *contract_load(const char *file)
{
    FILE *f = fopen(file, "r");
    char line[4096];
    json_t *c, *ops, *models, *cur_fields = NULL, *cur_op = NULL;
    int in_models = 0;
    if (!f) return NULL;
    c = json_pack("{s:o,s:o}", "ops", json_object(), "models", json_object());
    ops = json_object_get(c, "ops");
    models = json_object_get(c, "models");
    while (fgets(line, sizeof line, f)) {
        char method[16], path[1024], name[256];
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "## Models", 9) == 0) { in_models = 1; cur_op = NULL; cur_fields = NULL; continue; }
        if (!in_models && sscanf(line, "### %15s %1023s (%255[A-Za-z0-9]", method, path, name) == 3) {
            if (json_object_get(ops, name)) { cur_op = NULL; cur_fields = NULL; continue; } /* first wins */
            cur_op = json_pack("{s:s,s:s,s:i,s:[]}", "method", method, "path", path, "status", 0, "body");
            json_object_set_new(ops, name, cur_op);
            cur_fields = json_object_get(cur_op, "body");
            continue;
        }
        if (sscanf(line, "### %255[A-Za-z0-9]", name) == 1) {
            json_t *fields = json_array();
            json_object_set_new(models, name, fields);
            cur_fields = fields;
            cur_op = NULL;
            continue;
        }
        if (cur_op && strncmp(line, "- success status", 16) == 0) {
            const char *p = strchr(line, ':');
            if (p) json_object_set_new(cur_op, "status", json_integer(atoi(p + 1)));
            continue;
        }
        if (cur_fields && strncmp(line, "  - `", 5) == 0) {
            const char *s = line + 5, *e = strchr(s, '`');
            if (e) json_array_append_new(cur_fields, json_stringn(s, (size_t)(e - s)));
        }
    }
    fclose(f);
    return c;
}

static int in_list(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) if (strcmp(json_string_value(v), s) == 0) return 1;
    return 0;
}

/* ibm_path: a path of the data-protect API (served under /v2 but not a Coffer extension). */
static int ibm_path(const char *path)
{
    return strncmp(path, "/v2/", 4) == 0 && strncmp(path, "/v2/coffer/", 11) != 0 && strcmp(path, "/v2/openapi.json") != 0;
}

/* body_props: the top-level properties of op's JSON request body (following one $ref), or NULL. */
static json_t *body_props(json_t *op)
{
    json_t *s = json_object_get(json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"),
                                                "application/json"), "schema");
    const char *ref = json_string_value(json_object_get(s, "$ref"));
    if (ref && strncmp(ref, "#/components/schemas/", 21) == 0)
        s = json_object_get(json_object_get(json_object_get(g_doc, "components"), "schemas"), ref + 21);
    return json_object_get(s, "properties");
}

TEST(ibm_operations_match_the_wire_contract)
{
    int before = g_mismatches, checked = 0, fields = 0;
    const char *path, *field;
    json_t *item, *v;
    json_object_foreach(json_object_get(g_doc, "paths"), path, item) {
        for (int i = 0; g_methods[i]; i++) {
            json_t *op = json_object_get(item, g_methods[i]), *c;
            const char *id;
            char up[16];
            if (!op || !ibm_path(path)) continue;
            id = json_string_value(json_object_get(op, "operationId"));
            c = id ? json_object_get(json_object_get(g_contract, "ops"), id) : NULL;
            if (!c) {
                mismatch("%s %s: operationId %s is not an operation of the wire contract", g_methods[i], path, id ? id : "(none)");
                continue;
            }
            checked++;
            lower(json_string_value(json_object_get(c, "method")), up, sizeof up);
            if (strcmp(up, g_methods[i]) != 0 || strcmp(json_string_value(json_object_get(c, "path")), path + 3) != 0)
                mismatch("%s: documented as %s %s, the contract has %s %s", id, g_methods[i], path,
                         json_string_value(json_object_get(c, "method")), json_string_value(json_object_get(c, "path")));
            {
                char st[8];
                snprintf(st, sizeof st, "%d", (int)json_integer_value(json_object_get(c, "status")));
                if (!json_object_get(json_object_get(op, "responses"), st))
                    mismatch("%s: the success status the official client expects (%s) is not documented", id, st);
            }
            json_object_foreach(body_props(op), field, v) {
                fields++;
                if (!in_list(json_object_get(c, "body"), field))
                    mismatch("%s: body field '%s' is not a body field of %s in the wire contract", id, field, id);
            }
        }
    }
    CHECKF(checked >= 50 && fields > 100, "only %d operations and %d body fields checked", checked, fields);
    CHECKF(g_mismatches == before, "%d mismatches with the wire contract (listed above)", g_mismatches - before);
}

TEST(component_models_match_the_wire_contract)
{
    int before = g_mismatches, models = 0;
    const char *name, *field;
    json_t *schema, *v;
    json_object_foreach(json_object_get(json_object_get(g_doc, "components"), "schemas"), name, schema) {
        json_t *want = json_object_get(json_object_get(g_contract, "models"), name);
        if (!want) continue; /* Coffer's own (Coffer*, Site*) */
        models++;
        json_object_foreach(json_object_get(schema, "properties"), field, v)
            if (!in_list(want, field)) mismatch("model %s: field '%s' is not a field of %s in the wire contract", name, field, name);
    }
    CHECKF(models > 300, "only %d contract models described", models);
    CHECKF(g_mismatches == before, "%d model mismatches (listed above)", g_mismatches - before);
}

int main(void)
{
    json_error_t e;
    g_doc = json_load_file(DESC_PATH, 0, &e);
    if (!g_doc) {
        printf("cannot read %s: %s (line %d)\n", DESC_PATH, e.text, e.line);
        check_abandon("the description does not parse");
    }
    g_contract = contract_load(CONTRACT_PATH);
    RUN(embedded_description_is_the_source_file);
    RUN(every_route_is_documented);
    RUN(every_documented_operation_is_served);
    RUN(tenant_header_where_the_route_takes_it);
    RUN(bearer_security_and_error_bodies);
    RUN(request_id_on_every_operation_and_answer);
    if (g_contract) {
        RUN(ibm_operations_match_the_wire_contract);
        RUN(component_models_match_the_wire_contract);
    } else {
        SKIP("ibm_operations_match_the_wire_contract", "%s is absent (CI keeps shared/ beside the clone)", CONTRACT_PATH);
        SKIP("component_models_match_the_wire_contract", "%s is absent", CONTRACT_PATH);
    }
    json_decref(g_doc);
    json_decref(g_contract);
    return check_finish();
}
