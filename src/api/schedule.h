/* schedule.h: validation of protection policies (backup schedules, retentions, blackout windows,
 * retry options, data lock, extended retention) and the shared checks protection groups reuse.
 *
 * Every check takes the JSON object holding the field, the path of that object ("" at the top) and
 * the field's name; on a problem it fills resp with a 400 whose message names the full field path
 * (e.g. "field 'backupPolicy.regular.retention.duration' must be > 0") and returns 0; 1 when the
 * value is acceptable, including absent when not required. Nothing is modified. */
#ifndef COFFER_API_SCHEDULE_H
#define COFFER_API_SCHEDULE_H
#include "api/api.h"
#include <stdint.h>

/* api_policy_validate: a CreateProtectionPolicy / UpdateProtectionPolicy body (name, backupPolicy,
 * description, blackoutWindow, extendedRetention, retryOptions, dataLock, version, isCBSEnabled,
 * lastModificationTimeUsecs, templateId, and the targets configuration as objects/arrays). */
int api_policy_validate(struct api_resp *resp, json_t *body);

/* Enumerations of the wire contract. */
extern const char *const api_days_of_week[];   /* Sunday .. Saturday */

/* api_v_int_range: an integer in [min, max] (the message says "must be > 0" for min 1 and no max). */
int api_v_int_range(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                    int64_t min, int64_t max, int64_t *out, int *present);
/* api_v_time_of_day: a TimeOfDay object {hour 0-23, minute 0-59, timeZone string}. */
int api_v_time_of_day(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required);
/* api_v_str_array: an array of strings; nonempty refuses [] and "" elements. */
int api_v_str_array(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                    int nonempty, json_t **out);
/* api_v_enum_array: an array whose elements are each one of allowed, without repeats. */
int api_v_enum_array(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                     int nonempty, const char *const *allowed, json_t **out);
/* api_v_int_array: an array of integers. */
int api_v_int_array(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                    json_t **out);
/* api_v_each_object: checks obj[field] is an array (non-empty if nonempty) of objects and calls fn on
 * each with its path ("prefix.field[i]"); stops at the first element fn refuses. */
typedef int (*api_v_elem_fn)(struct api_resp *resp, json_t *elem, const char *path, void *ud);
int api_v_each_object(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                      int nonempty, api_v_elem_fn fn, void *ud);
/* api_v_fail: fills resp with a 400 "field 'prefix.field' <what>" and returns 0. */
int api_v_fail(struct api_resp *resp, const char *prefix, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#endif
