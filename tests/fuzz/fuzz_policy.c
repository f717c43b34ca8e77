/* fuzz_policy.c: libFuzzer target for a protection policy body (CreateProtectionPolicy): the
 * validator (api_policy_validate) and, for what it accepts, the translation to the typed spec the
 * scheduler runs (api_wire_policy), which must then succeed. */
#include "fuzz_json.h"
#include "api/schedule.h"
#include "api/wire_spec.h"
#include "sched/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_resp resp = { 0 };
    json_t *body = fuzz_json_object(data, size);
    int ok;
    if (!body) return 0;
    ok = api_policy_validate(&resp, body);
    fuzz_check_verdict(ok, &resp);
    if (ok == 1) {
        struct spec_policy p;
        char err[256];
        if (api_wire_policy(body, &p, err, sizeof err) != 0) abort(); /* accepted means translatable */
    }
    json_decref(body);
    return 0;
}
