/* recoveries_sql.h: SQL (PostgreSQL) recoveries of the data-protect API, mssqlParams RecoverApps /
 * CloneApps (recoveries_sql.c), called from recoveries.c. */
#ifndef COFFER_API_RECOVERIES_SQL_H
#define COFFER_API_RECOVERIES_SQL_H
#include "api/api.h"
#include "catalog/cat_recovery.h"

/* api_recovery_sql_create: POST /recoveries with snapshotEnvironment kSQL: validates body's
 * mssqlParams, checks what can be checked before anything is queued (snapshot, point in time,
 * objects, target, an existing target under FailIfExists) and queues a "sql_restore" recovery: 0
 * with its id in id_out (the caller answers 201 with it), or -1 after answering a 4xx/5xx naming
 * the field. body and name are borrowed. */
int api_recovery_sql_create(struct api_req *req, struct api_resp *resp, json_t *body, const char *name, char *id_out,
                            size_t id_len);

/* api_recovery_sql_render: fills a sql_restore recovery's mssqlParams.recoverAppParams[] (as stored
 * at creation in j) with status, times, bytesRestored and messages, and adds "cofferObjects" (the
 * per-object results). */
void api_recovery_sql_render(json_t *j, const struct cat_recovery *r);
#endif
