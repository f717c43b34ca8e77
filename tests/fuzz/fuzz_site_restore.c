/* fuzz_site_restore.c: libFuzzer target for a site restore API restore request (POST .../restores):
 * site_restore_req_parse must accept (and release cleanly) or refuse with a 4xx naming the field. */
#include "fuzz_json.h"
#include "api/site.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_resp resp = { 0 };
    struct site_restore_req r;
    json_t *body = fuzz_json_object(data, size);
    int ok;
    if (!body) return 0;
    ok = site_restore_req_parse(&resp, body, &r);
    fuzz_check_verdict(ok, &resp);
    if (ok == 1) site_restore_req_release(&r);
    json_decref(body);
    return 0;
}
