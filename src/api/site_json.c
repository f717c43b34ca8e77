/* site_json.c: the site restore API's response shapes (site.h), with the spec's snake_case names:
 * statuses mapped from Coffer's run and recovery statuses, times in RFC 3339 (UTC, seconds), ids as
 * the spec shows them (restore ids are integers, site ids decimal strings). Pure functions of their
 * inputs: site_api.c gathers what they show from the catalog. */
#include "api/site.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const char *site_time(int64_t usecs, char *buf, size_t len)
{
    time_t t = (time_t)(usecs / 1000000);
    struct tm tm;
    buf[0] = '\0';
    if (usecs <= 0 || !gmtime_r(&t, &tm)) return buf;
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static const char *map(const char *s, const char *const pairs[][2], const char *dflt)
{
    for (size_t i = 0; s && pairs[i][0]; i++)
        if (strcmp(pairs[i][0], s) == 0) return pairs[i][1];
    return dflt;
}

const char *site_restore_status(const char *recovery_status)
{
    static const char *const m[][2] = {
        { "Accepted", "NOT_STARTED" }, { "Running", "RUNNING" }, { "Canceling", "ABORTING" },
        { "Succeeded", "COMPLETED_SUCCESSFULLY" }, { "SucceededWithWarning", "COMPLETED_WITH_WARNINGS" },
        { "Failed", "FAILED" }, { "Canceled", "ABORTED" }, { "Skipped", "SKIPPED" }, { "NotStarted", "NOT_STARTED" },
        { NULL, NULL },
    };
    return map(recovery_status, m, "UNKNOWN");
}

const char *site_execution_status(const char *run_status)
{
    static const char *const m[][2] = {
        { "Accepted", "NOT_STARTED" }, { "Running", "RUNNING" },
        { "Succeeded", "COMPLETED_SUCCESSFULLY" }, { "SucceededWithWarning", "COMPLETED_WITH_WARNINGS" },
        { "Failed", "FAILED" }, { "Canceled", "ABORTED" }, { "Missed", "SKIPPED" }, { NULL, NULL },
    };
    return map(run_status, m, "UNKNOWN");
}

const char *site_backup_type(const char *run_type)
{
    static const char *const m[][2] = { { "kFull", "FULL" }, { "kRegular", "DELTA" }, { "kLog", "LOG" },
                                        { NULL, NULL } };
    return map(run_type, m, "UNKNOWN");
}

static json_t *str_or_empty(const char *s) { return json_string(s ? s : ""); }

static json_t *site_str(int64_t id)
{
    char b[24];
    if (id <= 0) return json_string("");
    snprintf(b, sizeof b, "%" PRId64, id);
    return json_string(b);
}

json_t *site_restore_json(const struct site_restore_view *v)
{
    json_t *j = json_object(), *errors = json_array(), *warnings = json_array(), *objs = json_array();
    json_t *tasks = json_array(), *m;
    const char *status = site_restore_status(v->status_raw), *details = NULL;
    int failed = strcmp(status, "FAILED") == 0 || strcmp(status, "ABORTED") == 0;
    int finished = v->end_usecs > 0;
    char tb[32], sz[24];
    size_t i;
    json_array_foreach(v->messages, i, m)
        if (json_is_string(m)) details = json_string_value(m); /* the last: how it ended, or where it is */
    if (failed && details) json_array_append_new(errors, json_string(details));
    json_array_foreach(v->errors, i, m)
        if (json_is_string(m)) json_array_append(errors, m);
    json_array_foreach(v->warnings, i, m)
        if (json_is_string(m)) json_array_append(warnings, m);
    if (!details) {
        static const char *const d[][2] = {
            { "NOT_STARTED", "queued" }, { "RUNNING", "restoring" }, { "ABORTING", "cancel requested" },
            { "COMPLETED_SUCCESSFULLY", "every object restored" },
            { "COMPLETED_WITH_WARNINGS", "restored, with warnings" }, { "FAILED", "failed" },
            { "ABORTED", "canceled" }, { NULL, NULL },
        };
        details = map(status, d, "");
    }
    for (i = 0; i < v->n_tasks; i++) {
        const struct site_sub_task *t = &v->tasks[i];
        char line[512], t0[32], t1[32];
        json_array_append_new(tasks, json_pack("{s:s,s:s,s:o,s:s,s:s,s:I}", "sub_task_name", t->name, "status",
                                               t->status, "status_details", str_or_empty(t->details), "start_time",
                                               site_time(t->start_usecs, t0, sizeof t0), "end_time",
                                               site_time(t->end_usecs, t1, sizeof t1),
                                               "restore_size", (json_int_t)t->bytes));
        if (finished) {
            snprintf(line, sizeof line, "%s: %s", t->name, t->status);
            json_array_append_new(objs, json_string(line));
        }
    }
    snprintf(sz, sizeof sz, "%" PRId64, v->snapshot_bytes > 0 ? v->snapshot_bytes : 0);
    json_object_set_new(j, "restore_job_name", str_or_empty(v->name));
    json_object_set_new(j, "restore_job_id", json_integer(v->restore_no));
    json_object_set_new(j, "restore_execution_id", json_integer(v->restore_no));
    json_object_set_new(j, "status", json_string(status));
    json_object_set_new(j, "status_details", json_string(details));
    json_object_set_new(j, "start_time", json_string(site_time(v->start_usecs, tb, sizeof tb)));
    json_object_set_new(j, "end_time", json_string(site_time(v->end_usecs, tb, sizeof tb)));
    json_object_set_new(j, "errors", errors);
    json_object_set_new(j, "warnings", warnings);
    json_object_set_new(j, "restored_objects_status", objs);
    json_object_set_new(j, "restore_execution_sub_tasks", tasks);
    json_object_set_new(j, "dr_site_id", v->target_site != v->source_site ? site_str(v->target_site) : json_string(""));
    json_object_set_new(j, "snapshot_name", str_or_empty(v->snapshot_id));
    json_object_set_new(j, "snapshot_size", json_string(sz));
    json_object_set_new(j, "source_site_id", site_str(v->source_site));
    json_object_set_new(j, "target_site", site_str(v->target_site));
    json_object_set_new(j, "is_failover", json_false());
    json_object_set_new(j, "job_id", str_or_empty(v->job_id));
    json_object_set_new(j, "execution_id", str_or_empty(v->execution_id));
    return j;
}
