/* run_json.h: the wire JSON of runs and snapshots (ProtectionGroupRun, ObjectRunResult,
 * ObjectSnapshot) built from the catalog's typed structs, and the wire run id. See run_json.c. */
#ifndef COFFER_API_RUN_JSON_H
#define COFFER_API_RUN_JSON_H
#include "catalog/cat.h"
#include "catalog/cat_run.h"
#include "catalog/cat_snapshot.h"
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define API_RUN_ID_MAX 48

/* Run ids: "n:usecs" (spec: ^\d+:\d+$), n the last part of the group id "clusterId:incarnationId:n"
 * and usecs the run's start time; both non-negative decimal int64s without sign or leading zeros. */
void api_run_id_format(char *buf, size_t len, int64_t group_seq, int64_t start_usecs);
int api_run_id_parse(const char *s, int64_t *group_seq, int64_t *start_usecs); /* 1 ok, 0 not a run id */

/* api_run_json: a ProtectionGroupRun for r; with_objects adds "objects" (ObjectRunResult) from the
 * nobjects objects given (borrowed). A new reference. */
json_t *api_run_json(const struct cat_run *r, int with_objects, const struct cat_run_object *objects,
                     size_t nobjects);
/* api_group_last_run: the group's newest run as a ProtectionGroupRun (without objects), or NULL when
 * it has none (or on a catalog error). For includeLastRunInfo (lastRun). */
json_t *api_group_last_run(struct cat *cat, const char *tenant, const char *group_id);
/* api_snapshot_json: an ObjectSnapshot for s; cluster ids from cat_installation. A new reference. */
json_t *api_snapshot_json(const struct cat_snapshot *s, int64_t cluster_id, int64_t incarnation_id);
#endif
