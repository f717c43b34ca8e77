/* schedule.h: validation of protection policies (backup schedules, retentions, blackout windows,
 * retry options, data lock, extended retention), built from the one validator family of jv.h.
 *
 * Every check takes the JSON object holding the field, the path of that object ("" at the top) and
 * the field's name; on a problem it fills resp with a 400 whose message names the full field path
 * (e.g. "field 'backupPolicy.regular.retention.duration' must be > 0") and returns 0; 1 when the
 * value is acceptable, including absent when not required. Nothing is modified, except that a schedule's
 * sub-schedules its unit does not use are removed (schedule.c). */
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

#endif
