/* fuzz_json.h: what the JSON request fuzz targets share: the fuzzer's bytes parsed as JSON (jansson,
 * with the limits the server applies: the body cap and no duplicate keys), handed to a validator
 * that must answer 1 (valid) or 0 with a 4xx in resp, never crash, never leak. */
#ifndef COFFER_FUZZ_JSON_H
#define COFFER_FUZZ_JSON_H
#include "api/api.h"
#include <stdint.h>
#include <stdlib.h>

/* fuzz_json_object: the input as a JSON object (a new reference), or NULL when it is not one. */
static inline json_t *fuzz_json_object(const uint8_t *data, size_t size)
{
    json_t *j;
    if (size > API_MAX_BODY_BYTES) return NULL;
    j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* fuzz_check_verdict: a validator's verdict and response must agree: 1 with no answer, 0 with a 4xx
 * whose body names the problem. Anything else aborts (the fuzzer reports it as a crash). */
static inline void fuzz_check_verdict(int ok, struct api_resp *resp)
{
    if (ok == 1 && resp->status != 0) abort();
    if (ok == 0 && (resp->status < 400 || resp->status > 499 || !resp->json ||
                    !json_is_string(json_object_get(resp->json, "message"))))
        abort();
    if (ok != 0 && ok != 1) abort();
    json_decref(resp->json);
    resp->json = NULL;
}
#endif
