/* site.h: the site restore API (../shared/spec/vantagecloud-baas-restore-api.txt), served under
 * /data-protection/v2/sites/{site-id}/... by site_api.c (handlers and route table), with its request
 * validation in site_req.c and its response shapes in site_json.c. docs/databases.md ("The site
 * restore API") states every mapping; in short:
 *
 *   site       a protected PostgreSQL instance: its kInstance object id (decimal), discovered under a
 *              kSQL registration; another tenant's instance, or any other object, is 404
 *   job        a live protection group listing the instance or one of its databases (its group id)
 *   execution  a run of that group: its run id "n:startUsecs", as the data-protect API shows it
 *   restore    a recovery of kind "sql_restore": restore_job_id = restore_execution_id = the n of its
 *              recovery id "clusterId:incarnationId:n" (the x-resource-id of the 202)
 *
 * Functions follow the API's return rule (api.h): jv-style validators return 1 valid / 0 after a 400;
 * the others 0 or a negative code (-1 after answering). */
#ifndef COFFER_API_SITE_H
#define COFFER_API_SITE_H
#include "api/api.h"
#include <stddef.h>
#include <stdint.h>

#define SITE_IDENT_MAX 63       /* a PostgreSQL identifier: NAMEDATALEN - 1 bytes */
#define SITE_TABLE_MAX (2 * SITE_IDENT_MAX + 2)
#define SITE_MAX_OBJECTS 1000   /* job_settings.objects */
#define SITE_MAX_EXCLUDES 10000 /* exclude_objects of one object */

enum site_obj_kind { SITE_OBJ_DATABASE = 1, SITE_OBJ_TABLE };

/* One element of job_settings.objects, validated. Strings borrowed from the body unless noted. */
struct site_req_object {
    enum site_obj_kind kind;
    const char *database;        /* DATABASE: object_name; TABLE: parent_name */
    char table[SITE_TABLE_MAX + 1]; /* TABLE: "schema.table" ("public." added to a bare name); else "" */
    const char *rename_to;       /* NULL: the same name */
    char **excludes;             /* DATABASE: tables "schema.table" left out (owned) */
    size_t n_excludes;
};

/* A validated POST .../restores body. */
struct site_restore_req {
    const char *name;
    int64_t target_site;         /* 0: the site in the path */
    const char *target_database; /* restore_to_a_different_database_on_target_site, or NULL */
    struct site_req_object *objects;  /* owned */
    size_t n_objects;
    int continue_on_violation, copy, skip_statistics, skip_indexes;
};

/* site_restore_req_parse: checks body (a JSON object) field by field, strictly: an unknown member,
 * a wrong type, a bad name, a repeated or overlapping object is a 400 whose message names the field.
 * 1 valid (release *out), 0 after the 400 (nothing to release). */
int site_restore_req_parse(struct api_resp *resp, json_t *body, struct site_restore_req *out);
void site_restore_req_release(struct site_restore_req *r);

/* site_ident_problem: NULL when s can name a database, schema or table (1 to 63 bytes, no control
 * character), else why not. */
const char *site_ident_problem(const char *s);
/* site_table_name: "t" -> "public.t", "s.t" -> "s.t" into out (SITE_TABLE_MAX + 1 bytes); NULL when
 * good, else why not. */
const char *site_table_name(const char *in, char *out, size_t outlen);
/* site_id_parse: 1 when s is a positive decimal int64 without sign or leading zero (*out), else 0. */
int site_id_parse(const char *s, int64_t *out);

/* ---------- response shapes (site_json.c) ---------- */

/* site_time: RFC 3339 UTC with seconds ("2019-08-24T14:15:22Z") into buf (>= 32 bytes); "" for 0. */
const char *site_time(int64_t usecs, char *buf, size_t len);
/* site_restore_status: the spec's status of a recovery's or a restored object's status (Accepted and
 * NotStarted -> NOT_STARTED, Running -> RUNNING, Canceling -> ABORTING, Succeeded ->
 * COMPLETED_SUCCESSFULLY, SucceededWithWarning -> COMPLETED_WITH_WARNINGS, Skipped -> SKIPPED, Failed
 * -> FAILED, Canceled -> ABORTED; anything else UNKNOWN). */
const char *site_restore_status(const char *recovery_status);
/* site_execution_status: the same for a run status (Missed -> SKIPPED). */
const char *site_execution_status(const char *run_status);
/* site_backup_type: kFull -> FULL, kRegular -> DELTA, kLog -> LOG. */
const char *site_backup_type(const char *run_type);

/* One object of a restore, for restore_execution_sub_tasks (strings borrowed). */
struct site_sub_task {
    const char *name;            /* "database" or "database.schema.table" */
    const char *status;          /* the spec's status */
    const char *details;         /* may be NULL */
    int64_t start_usecs, end_usecs, bytes;
};
/* What a restore shows besides the recovery row (strings borrowed). */
struct site_restore_view {
    int64_t restore_no;          /* restore_job_id and restore_execution_id */
    const char *name, *status_raw;  /* the recovery's name and status */
    int64_t start_usecs, end_usecs;
    const char *job_id, *execution_id;
    int64_t source_site, target_site;
    const char *snapshot_id;
    int64_t snapshot_bytes;
    json_t *messages;            /* the recovery's messages (strings): the last is status_details, and
                                  * an error when the restore failed or was aborted */
    json_t *errors;              /* more errors (strings: objects that failed), may be NULL */
    json_t *warnings;            /* strings (objects' warnings, skipped objects), may be NULL */
    const struct site_sub_task *tasks;
    size_t n_tasks;
};
/* site_restore_json: the spec's restore object (a new reference). The last message is
 * status_details (and the first error of a failed or aborted restore); a finished restore's
 * restored_objects_status is "<object>: <status>" per sub-task. */
json_t *site_restore_json(const struct site_restore_view *v);
#endif
