/* openapi.c: GET /v2/openapi.json, the OpenAPI 3.1 description of everything cofferd serves.
 *
 * The description is the source file openapi/coffer.json (maintained by hand; tests/unit/test_openapi.c
 * checks it against api_route_tables and against api/wire-contract.md's field names). The Makefile
 * embeds it at build time like the console's files (embed.h: scripts/embed.sh writes
 * build/gen/openapi_files.c, whose one entry openapi_files[0] holds the file's bytes). The answer is
 * those bytes as they are, from static memory (nothing is parsed or copied per request).
 * A Coffer extension: the admin bearer key, no tenant header (routes.c), role Viewer. */
#include "api/api.h"
#include "api/auth.h"
#include "api/embed.h"
#include "api/routes.h"
#include <microhttpd.h>
#include <stddef.h>


/* api_openapi_json: the embedded description's bytes and length (for tests). */
const unsigned char *api_openapi_json(size_t *len)
{
    *len = openapi_files[0].len;
    return openapi_files[0].data;
}

static void openapi_get(struct api_req *req, struct api_resp *resp)
{
    struct MHD_Response *mr;
    (void)req;
    mr = MHD_create_response_from_buffer(openapi_files[0].len, (void *)openapi_files[0].data,
                                         MHD_RESPMEM_PERSISTENT);
    if (!mr) {
        api_error(resp, 500, "InternalError", "out of memory");
        return;
    }
    MHD_add_response_header(mr, "Content-Type", "application/json");
    resp->raw = mr;
    resp->status = 200;
}

const struct api_route api_routes_openapi[] = {
    { "GET", "/v2/openapi.json", openapi_get, 0, API_ROLE_VIEWER },
    { NULL, NULL, NULL, 0, 0 },
};
