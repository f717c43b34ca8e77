/* fuzz_group.c: libFuzzer target for a protection group body (CreateProtectionGroup): the validator
 * (api_group_validate) and, for what it accepts, the translation to the typed spec (api_wire_group). */
#include "fuzz_json.h"
#include "api/group_validate.h"
#include "api/wire_spec.h"
#include "sched/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_resp resp = { 0 };
    struct api_group_info info;
    json_t *body = fuzz_json_object(data, size);
    int ok;
    if (!body) return 0;
    ok = api_group_validate(&resp, body, &info);
    fuzz_check_verdict(ok, &resp);
    if (ok == 1) {
        struct spec_group g;
        char err[256];
        if (api_wire_group(body, &g, err, sizeof err) == 0) spec_group_free(&g);
    }
    api_group_info_release(&info);
    json_decref(body);
    return 0;
}
