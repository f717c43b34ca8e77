/* wire_spec.h: the translator from the IBM wire documents of protection policies and groups into the
 * typed specs below the API (sched/spec.h). The API calls it on every create and update, after
 * validation, and stores the spec's internal document beside the wire document; api_spec_backfill
 * does the same for rows written before the catalog had specs (migration 7), once, at daemon start.
 *
 * Each translator returns 0, 1 when it fell back on something the scheduler tolerates (an unknown time
 * zone: scheduled in UTC, noted in err), or -1 with err naming the wire field (a document the validator
 * would refuse). */
#ifndef COFFER_API_WIRE_SPEC_H
#define COFFER_API_WIRE_SPEC_H
#include "catalog/cat.h"
#include "sched/spec.h"
#include <jansson.h>
#include <stddef.h>

/* api_wire_rule: an IncrementalSchedule or FullSchedule object into a rule. 0, or -1 with err. */
int api_wire_rule(const json_t *schedule, struct sched_rule *out, char *err, size_t errlen);
/* api_wire_policy: a ProtectionPolicy document (backupPolicy.regular incremental/full/fullBackups
 * schedules and retention, blackoutWindow, retryOptions). */
int api_wire_policy(const json_t *policy, struct spec_policy *out, char *err, size_t errlen);
/* api_wire_group: a ProtectionGroup document (environment, policyId, physicalParams / mssqlParams,
 * startTime, endTimeUsecs, isPaused, abortInBlackouts). *out is released with spec_group_free, also
 * after a failure. */
int api_wire_group(const json_t *group, struct spec_group *out, char *err, size_t errlen);
/* api_wire_policy_text / api_wire_group_text: a wire document straight to the internal document
 * (malloc'd), NULL when it cannot be translated (err filled) or out of memory. */
char *api_wire_policy_text(const json_t *policy, char *err, size_t errlen);
char *api_wire_group_text(const json_t *group, char *err, size_t errlen);
/* api_spec_backfill: writes the spec of every policy and group row that has none, through the same
 * translator; a row that cannot be translated is logged and left NULL (the scheduler skips it, as it
 * skipped an unreadable plan before). 0, or <0 on a catalog error. Bounded: rows are read in batches
 * and a batch that makes no progress ends the loop. */
int api_spec_backfill(struct cat *cat);
#endif
