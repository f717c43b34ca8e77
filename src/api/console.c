/* console.c: serves the web console (the files of console/, embedded at build time: console.h) at GET /console
 * (index.html) and GET /console/<name>, with no authentication: the page holds no data; it asks the
 * user for an API key and speaks the REST API with it from the browser (docs/architecture.md, "Web
 * console"). A name that is not an embedded file is 404 (the lookup is by exact name in the table, so
 * no path is ever built from the request). Every answer carries:
 *   - Content-Type by extension (console_content_type);
 *   - Cache-Control: no-cache and a strong ETag (the file's SHA-256 prefix, computed at build time):
 *     the browser revalidates each time and a matching If-None-Match is 304 without a body, so a new
 *     build is picked up at once and an unchanged file costs no transfer;
 *   - a strict Content-Security-Policy ('self' only: no inline script or style, no eval, no framing),
 *     X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer, X-Frame-Options: DENY. */
#include "api/console.h"
#include "api/api.h"
#include "api/auth.h"
#include <microhttpd.h>
#include <string.h>

#define CONSOLE_CSP "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
                    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "      \
                    "form-action 'self'; frame-ancestors 'none'"

const struct embed_file *console_file_find(const char *name)
{
    for (size_t i = 0; i < console_files_count; i++)
        if (strcmp(console_files[i].name, name) == 0) return &console_files[i];
    return NULL;
}

const char *console_content_type(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".html", "text/html; charset=utf-8" },   { ".css", "text/css; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" }, { ".json", "application/json" },
        { ".svg", "image/svg+xml" },               { ".png", "image/png" },
        { ".ico", "image/x-icon" },                { ".txt", "text/plain; charset=utf-8" },
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

/* serve: answers with file f (200, or 304 when the client's If-None-Match names its ETag). */
static void serve(struct api_req *req, struct api_resp *resp, const struct embed_file *f)
{
    const char *inm = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "If-None-Match");
    int fresh = inm && strstr(inm, f->etag) != NULL;
    struct MHD_Response *mr = fresh ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
                                    : MHD_create_response_from_buffer(f->len, (void *)f->data, MHD_RESPMEM_PERSISTENT);
    if (!mr) {
        api_error(resp, 500, "InternalError", "cannot build the response");
        return;
    }
    if (!fresh) MHD_add_response_header(mr, "Content-Type", console_content_type(f->name));
    MHD_add_response_header(mr, "Cache-Control", "no-cache");
    MHD_add_response_header(mr, "ETag", f->etag);
    MHD_add_response_header(mr, "Content-Security-Policy", CONSOLE_CSP);
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(mr, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(mr, "X-Frame-Options", "DENY");
    resp->status = fresh ? 304 : 200;
    resp->raw = mr;
}

static void console_index(struct api_req *req, struct api_resp *resp)
{
    const struct embed_file *f = console_file_find("index.html");
    if (!f) {
        api_error(resp, 404, "NotFound", "this build of cofferd has no console");
        return;
    }
    serve(req, resp, f);
}

static void console_file(struct api_req *req, struct api_resp *resp)
{
    const struct embed_file *f = console_file_find(req->params[0]);
    if (!f) {
        api_error(resp, 404, "NotFound", "no such console file: %.200s", req->params[0]);
        return;
    }
    serve(req, resp, f);
}

/* No authentication and no tenant (routes.c: API_AUTH_NONE); the role is moot for such a table. */
const struct api_route api_routes_console[] = {
    { "GET", "/console", console_index, API_ROUTE_NO_TENANT, API_ROLE_VIEWER },
    { "GET", "/console/{file}", console_file, API_ROUTE_NO_TENANT, API_ROLE_VIEWER },
    { NULL, NULL, NULL, 0, 0 },
};
