/* jv.h: the one validator family of the API: JSON body validation for handlers. Each check looks at
 * obj[field], reports through resp a 400 whose message names the full field path (prefix + "." +
 * field) and the problem, and returns 0; it returns 1 when the value is acceptable (including absent
 * when not required). Out values are borrowed from obj. *present (may be NULL) says whether the field was there. */
#ifndef COFFER_API_JV_H
#define COFFER_API_JV_H
#include "api/api.h"
#include <stdint.h>

int jv_str(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
           const char **out);
/* jv_str_nonempty: like jv_str, and an empty (or all-space) string is refused. */
int jv_str_nonempty(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                    const char **out);
int jv_int(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
           int64_t *out, int *present);
int jv_bool(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
            int *out, int *present);
/* jv_enum: a string that must be one of allowed (NULL-terminated). */
int jv_enum(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
            const char *const *allowed, const char **out);
int jv_obj(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required, json_t **out);
int jv_arr(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required, json_t **out);
/* jv_path: writes prefix.field (or field) into buf for nested checks; returns buf. */
const char *jv_path(char *buf, size_t len, const char *prefix, const char *field);
/* jv_enum_ok: whether s is one of allowed. */
int jv_enum_ok(const char *s, const char *const *allowed);
/* Composite checks (arrays, ranges, times, nested objects); same contract as above.
 * jv_int_range: an integer in [min, max] (the message says "must be > 0" for min 1 and no max). */
int jv_int_range(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                    int64_t min, int64_t max, int64_t *out, int *present);
/* jv_time_of_day: a TimeOfDay object {hour 0-23, minute 0-59, timeZone string}. */
int jv_time_of_day(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required);
/* jv_str_array: an array of strings; nonempty refuses [] and "" elements. */
int jv_str_array(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                    int nonempty, json_t **out);
/* jv_enum_array: an array whose elements are each one of allowed, without repeats. */
int jv_enum_array(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                     int nonempty, const char *const *allowed, json_t **out);
/* jv_int_array: an array of integers. */
int jv_int_array(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                    json_t **out);
/* jv_each_object: checks obj[field] is an array (non-empty if nonempty) of objects and calls fn on
 * each with its path ("prefix.field[i]"); stops at the first element fn refuses. */
typedef int (*jv_elem_fn)(struct api_resp *resp, json_t *elem, const char *path, void *ud);
int jv_each_object(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                      int nonempty, jv_elem_fn fn, void *ud);
/* jv_fail: fills resp with a 400 "field 'prefix.field' <what>" and returns 0. */
int jv_fail(struct api_resp *resp, const char *prefix, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* jv_strip_nulls: THE null rule of the API: a JSON null for a field means the field is absent. Removes
 * every object member whose value is null, recursively through objects and arrays (array elements
 * themselves are left: a null in a list is a wrong type there). api_body_object applies it to every
 * request body before any handler sees it, so nothing stored or echoed holds a null, and a required
 * field sent as null is refused as missing ("field 'x' is required"). */
void jv_strip_nulls(json_t *j);

/* jv_str_list: an array of strings, each one of allowed unless allowed is NULL (repeats are accepted;
 * "field 'p.f[i]' has unknown value 'v'"); *out the array or NULL. */
int jv_str_list(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                const char *const *allowed, json_t **out);
#endif
