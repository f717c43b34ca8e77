/* run_json.c: the wire JSON of runs and snapshots, built from the catalog's typed structs.
 *
 * The catalog (cat_run.h, cat_snapshot.h) keeps Coffer's own rows; this file is where they become
 * the contract's shapes: a ProtectionGroupRun with its ObjectRunResults (api_run_json), the group's
 * last run for includeLastRunInfo (api_group_last_run) and an ObjectSnapshot (api_snapshot_json).
 * It also owns the wire run id, "<group n>:<start usecs>", formatted and parsed here only. Every
 * builder returns a new reference the caller releases; nothing here reads a clock or writes. */
#include "api/run_json.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- run ids ---- */

void api_run_id_format(char *buf, size_t len, int64_t group_seq, int64_t start_usecs)
{
    snprintf(buf, len, "%" PRId64 ":%" PRId64, group_seq, start_usecs);
}

static int parse_num(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    if (n == 0 || n > 19 || (n > 1 && s[0] == '0')) return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        if (v > (INT64_MAX - (s[i] - '0')) / 10) return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 1;
}

int api_run_id_parse(const char *s, int64_t *group_seq, int64_t *start_usecs)
{
    const char *colon;
    int64_t a, b;
    if (!s || !(colon = strchr(s, ':'))) return 0;
    if (!parse_num(s, (size_t)(colon - s), &a) || !parse_num(colon + 1, strlen(colon + 1), &b)) return 0;
    if (group_seq) *group_seq = a;
    if (start_usecs) *start_usecs = b;
    return 1;
}

/* ---- ProtectionGroupRun ---- */

static void set_int(json_t *o, const char *k, int64_t v) { json_object_set_new(o, k, json_integer(v)); }

/* shown_status: Running with a cancel request shows as Canceling. */
static const char *shown_status(const struct cat_run *r)
{
    if (strcmp(r->status, "Running") == 0 && r->cancel_requested) return "Canceling";
    return r->status;
}

static json_t *object_result(const struct cat_run *r, const struct cat_run_object *o)
{
    json_t *obj = json_object(), *info = json_object(), *snap = json_object(), *stats = json_object();
    const char *status = o->status;
    json_object_set_new(obj, "id", json_integer(o->object_id));
    if (o->object_name) json_object_set_new(obj, "name", json_string(o->object_name));
    if (o->source_id) json_object_set_new(obj, "sourceId", json_integer(o->source_id));
    if (o->source_name) json_object_set_new(obj, "sourceName", json_string(o->source_name));
    if (o->environment) json_object_set_new(obj, "environment", json_string(o->environment));
    if (o->object_type) json_object_set_new(obj, "objectType", json_string(o->object_type));
    /* a SQL object's snapshot is its instance's base backup or sealed WAL: no file protection type */
    if (!o->environment || strcmp(o->environment, "kSQL") != 0)
        json_object_set_new(obj, "protectionType", json_string("kFile"));
    json_object_set_new(obj, "osType", json_string("kLinux"));
    if (strcmp(status, "kCanceled") == 0) status = "kFailed";
    if (o->snapshot_id) json_object_set_new(snap, "snapshotId", json_string(o->snapshot_id));
    json_object_set_new(snap, "status", json_string(status));
    if (o->message) json_object_set_new(snap, "statusMessage", json_string(o->message));
    if (o->begin_usecs) {
        set_int(snap, "startTimeUsecs", o->begin_usecs);
        set_int(snap, "admittedTimeUsecs", o->begin_usecs);
        set_int(snap, "queueDurationUsecs", o->begin_usecs > r->start_usecs ? o->begin_usecs - r->start_usecs : 0);
    }
    if (o->end_usecs) set_int(snap, "endTimeUsecs", o->end_usecs);
    if (o->snapshot_id && o->end_usecs) set_int(snap, "snapshotCreationTimeUsecs", o->end_usecs);
    set_int(stats, "logicalSizeBytes", o->logical_bytes);
    set_int(stats, "bytesWritten", o->bytes_written);
    set_int(stats, "bytesRead", o->bytes_read);
    json_object_set_new(snap, "stats", stats);
    if (json_is_array(o->warnings) && json_array_size(o->warnings) > 0)
        json_object_set(snap, "warnings", o->warnings);
    json_object_set_new(snap, "totalFileCount", json_integer(o->files));
    json_object_set_new(snap, "backupFileCount", json_integer(o->files_read));
    json_object_set_new(snap, "isManuallyDeleted", json_boolean(r->local_deleted));
    if (r->expiry_usecs) set_int(snap, "expiryTimeUsecs", r->expiry_usecs);
    json_object_set_new(snap, "directoryCount", json_integer(o->dirs)); /* Coffer: not in the contract */
    json_object_set_new(info, "snapshotInfo", snap);
    {
        /* retryOptions: the object's failed earlier attempts (the catalog's failed_attempts) */
        json_t *fa = json_array(), *e;
        size_t k;
        json_array_foreach(r->failed_attempts, k, e) {
            if (json_integer_value(json_object_get(e, "object_id")) != o->object_id) continue;
            json_array_append_new(fa, json_pack("{s:O,s:O,s:s,s:O}", "startTimeUsecs",
                                                json_object_get(e, "begin_usecs"), "endTimeUsecs",
                                                json_object_get(e, "end_usecs"), "status", "Failed", "message",
                                                json_object_get(e, "message")));
        }
        if (json_array_size(fa)) json_object_set_new(info, "failedAttempts", fa);
        else json_decref(fa);
    }
    if (strcmp(o->status, "kFailed") == 0 || strcmp(o->status, "kCanceled") == 0) {
        json_t *att = json_object(), *fa = json_object_get(info, "failedAttempts");
        if (o->begin_usecs) set_int(att, "startTimeUsecs", o->begin_usecs);
        if (o->end_usecs) set_int(att, "endTimeUsecs", o->end_usecs);
        json_object_set_new(att, "status", json_string(strcmp(o->status, "kFailed") == 0 ? "Failed" : "Canceled"));
        if (o->message) json_object_set_new(att, "message", json_string(o->message));
        if (fa) json_array_append_new(fa, att);
        else json_object_set_new(info, "failedAttempts", json_pack("[o]", att));
    }
    return json_pack("{s:o,s:o,s:b}", "object", obj, "localSnapshotInfo", info, "onLegalHold", r->on_legal_hold);
}

json_t *api_run_json(const struct cat_run *r, int with_objects, const struct cat_run_object *objects,
                        size_t nobjects)
{
    char id[API_RUN_ID_MAX], task[API_RUN_ID_MAX + 16];
    json_t *run = json_object(), *info = json_object(), *stats = json_object();
    api_run_id_format(id, sizeof id, r->group_seq, r->start_usecs);
    json_object_set_new(run, "id", json_string(id));
    set_int(run, "protectionGroupInstanceId", r->instance_id);
    json_object_set_new(run, "protectionGroupId", json_string(r->group_id));
    json_object_set_new(run, "protectionGroupName", json_string(r->group_name));
    json_object_set_new(run, "isReplicationRun", json_false());
    json_object_set_new(run, "isLocalSnapshotsDeleted", json_boolean(r->local_deleted));
    json_object_set_new(run, "hasLocalSnapshot", json_boolean(r->objects_ok > 0 && !r->local_deleted));
    json_object_set_new(run, "onLegalHold", json_boolean(r->on_legal_hold));
    json_object_set_new(run, "isCloudArchivalDirect", json_false());
    json_object_set_new(run, "environment", json_string(r->environment ? r->environment : "kPhysical"));

    json_object_set_new(info, "runType", json_string(r->run_type));
    json_object_set_new(info, "isSlaViolated", json_false());
    set_int(info, "startTimeUsecs", r->start_usecs);
    if (r->end_usecs) set_int(info, "endTimeUsecs", r->end_usecs);
    json_object_set_new(info, "status", json_string(shown_status(r)));
    json_object_set(info, "messages", r->messages);
    set_int(info, "successfulObjectsCount", r->objects_ok);
    set_int(info, "skippedObjectsCount", 0);
    set_int(info, "failedObjectsCount", r->objects_failed);
    set_int(info, "cancelledObjectsCount", r->objects_canceled);
    set_int(info, "successfulAppObjectsCount", 0);
    set_int(info, "failedAppObjectsCount", 0);
    set_int(info, "cancelledAppObjectsCount", 0);
    set_int(stats, "logicalSizeBytes", r->logical_bytes);
    set_int(stats, "bytesWritten", r->bytes_written);
    set_int(stats, "bytesRead", r->bytes_read);
    json_object_set_new(info, "localSnapshotStats", stats);
    snprintf(task, sizeof task, "%s", id);
    json_object_set_new(info, "progressTaskId", json_string(task));
    json_object_set_new(info, "localTaskId", json_string(task));
    if (r->data_lock) json_object_set_new(info, "dataLock", json_string(r->data_lock));
    if (r->data_lock && r->expiry_usecs)
        json_object_set_new(info, "dataLockConstraints",
                            json_pack("{s:s,s:I}", "mode", r->data_lock, "expiryTimeUsecs", (json_int_t)r->expiry_usecs));
    /* Coffer's own counters (not in the contract; clients ignore unknown fields). */
    json_object_set_new(info, "cofferStats", json_pack("{s:I,s:I,s:I,s:b,s:I}", "files", (json_int_t)r->files,
                                                       "directories", (json_int_t)r->dirs, "objects",
                                                       (json_int_t)r->objects_total, "scheduled", r->scheduled,
                                                       "attempt", (json_int_t)(r->attempt > 0 ? r->attempt : 1)));
    if (r->retry_at && strcmp(r->status, "Accepted") == 0)
        json_object_set_new(json_object_get(info, "cofferStats"), "nextAttemptUsecs", json_integer(r->retry_at));
    json_object_set_new(run, "localBackupInfo", info);
    if (with_objects) {
        json_t *arr = json_array();
        for (size_t i = 0; i < nobjects; i++) json_array_append_new(arr, object_result(r, &objects[i]));
        json_object_set_new(run, "objects", arr);
    }
    return run;
}

static int last_run_cb(void *ud, const struct cat_run *r)
{
    *(json_t **)ud = api_run_json(r, 0, NULL, 0);
    return 1;
}

json_t *api_group_last_run(struct cat *cat, const char *tenant, const char *group_id)
{
    struct cat_run_filter f = { .limit = 1 };
    json_t *out = NULL;
    if (cat_run_list(cat, tenant, group_id, &f, last_run_cb, &out, NULL) < 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

/* ---- ObjectSnapshot ---- */

json_t *api_snapshot_json(const struct cat_snapshot *s, int64_t cluster_id, int64_t incarnation_id)
{
    char run_id[API_RUN_ID_MAX];
    json_t *o = json_object();
    api_run_id_format(run_id, sizeof run_id, s->group_seq, s->run_usecs);
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "clusterId", json_integer(cluster_id));
    json_object_set_new(o, "clusterIncarnationId", json_integer(incarnation_id));
    json_object_set_new(o, "environment", json_string(s->environment));
    if (s->expiry_usecs) json_object_set_new(o, "expiryTimeUsecs", json_integer(s->expiry_usecs));
    json_object_set_new(o, "hasDataLock", json_false());
    json_object_set_new(o, "indexingStatus", json_string("NoIndex"));
    json_object_set_new(o, "objectId", json_integer(s->object_id));
    if (s->object_name) json_object_set_new(o, "objectName", json_string(s->object_name));
    json_object_set_new(o, "onLegalHold", json_boolean(s->on_legal_hold));
    json_object_set_new(o, "ownershipContext", json_string("Local"));
    if (strcmp(s->environment, "kPhysical") == 0)
        json_object_set_new(o, "physicalParams", json_pack("{s:b,s:s}", "enableSystemBackup", 0, "protectionType", "kFile"));
    json_object_set_new(o, "protectionGroupId", json_string(s->group_id));
    if (s->group_name) json_object_set_new(o, "protectionGroupName", json_string(s->group_name));
    json_object_set_new(o, "protectionGroupRunId", json_string(run_id));
    json_object_set_new(o, "runInstanceId", json_integer(s->instance_id));
    json_object_set_new(o, "runStartTimeUsecs", json_integer(s->run_usecs));
    json_object_set_new(o, "runType", json_string(s->run_type));
    json_object_set_new(o, "snapshotTargetType", json_string("Local"));
    json_object_set_new(o, "snapshotTimestampUsecs", json_integer(s->snapshot_usecs));
    if (s->source_id) json_object_set_new(o, "sourceId", json_integer(s->source_id));
    json_object_set_new(o, "storageDomainId", json_integer(1));
    return o;
}
