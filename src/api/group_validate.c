/* group_validate.c: the shape of a protection group body (see group_validate.h).
 *
 * Most models are checked against a table of their fields (name, kind, required, enumeration), so
 * every field the wire contract types is refused with its path when it has the wrong type: the stored
 * body is echoed to clients that decode it strictly. The rules beyond types are written out: the
 * environment decides which params object is required (kPhysical: physicalParams, kSQL: mssqlParams)
 * and the protection type which of its sub-params (kSQL: kNative or kFile; kVolume is refused); object ids
 * are positive and not repeated;
 * included paths are absolute without '..' components. */
#include "api/group_validate.h"
#include "api/jv.h"
#include "api/resid.h"
#include "api/schedule.h"
#include "util/checked.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 255

enum kind { K_STR, K_BOOL, K_INT, K_MINUTES, K_OBJ, K_ENUM, K_STR_ARR, K_INT_ARR, K_OBJ_ARR, K_ENUM_ARR, K_TIME };

/* A duration in minutes (slaMinutes, timeoutMins): 1 .. 1000000 (about 694 days), the bound the policy
 * validator uses for its timeouts, so that minutes * 60e6 stays far inside a time (util/checked.h). */
#define MAX_MINUTES 1000000

struct field {
    const char *name;
    enum kind kind;
    int required;
    const char *const *values; /* K_ENUM, K_ENUM_ARR */
};

static const char *const priorities[] = { "kLow", "kMedium", "kHigh", NULL };
static const char *const qos_policies[] = { "kBackupHDD", "kBackupSSD", "kBackupAll", "kTestAndDevHigh", NULL };
static const char *const run_statuses[] = { "kSuccess", "kFailure", "kSlaViolation", "kWarning", NULL };
static const char *const languages[] = { "en-us", "ja-jp", "zh-cn", NULL };
static const char *const recipient_types[] = { "kTo", "kCc", NULL };
static const char *const sla_types[] = { "kIncremental", "kFull", "kLog", NULL };
static const char *const physical_types[] = { "kFile", "kVolume", NULL };
static const char *const sql_types[] = { "kFile", "kNative", "kVolume", NULL };
static const char *const ignorable[] = { "kEOF", "kNonExistent", NULL };
static const char *const timeout_types[] = { "kRegular", "kFull", "kLog", "kSystem", "kHydrateCDP",
                                             "kStorageArraySnapshot", NULL };
static const char *const aag_prefs[] = { "kPrimaryReplicaOnly", "kSecondaryReplicaOnly", "kPreferSecondaryReplica",
                                         "kAnyReplica", NULL };
static const char *const user_db_prefs[] = { "kBackupAllDatabases", "kBackupAllExceptAAGDatabases",
                                             "kBackupOnlyAAGDatabases", NULL };
static const char *const environments[] = { "kPhysical", "kSQL", NULL };

static int check_fields(struct api_resp *resp, json_t *obj, const char *prefix, const struct field *f);

static int check_one(struct api_resp *resp, json_t *obj, const char *prefix, const struct field *f)
{
    switch (f->kind) {
    case K_STR: return jv_str(resp, obj, prefix, f->name, f->required, NULL);
    case K_BOOL: return jv_bool(resp, obj, prefix, f->name, f->required, NULL, NULL);
    case K_INT: return jv_int(resp, obj, prefix, f->name, f->required, NULL, NULL);
    case K_MINUTES: return jv_int_range(resp, obj, prefix, f->name, f->required, 1, MAX_MINUTES, NULL, NULL);
    case K_OBJ: return jv_obj(resp, obj, prefix, f->name, f->required, NULL);
    case K_ENUM: return jv_enum(resp, obj, prefix, f->name, f->required, f->values, NULL);
    case K_STR_ARR: return jv_str_array(resp, obj, prefix, f->name, f->required, 0, NULL);
    case K_INT_ARR: return jv_int_array(resp, obj, prefix, f->name, f->required, NULL);
    case K_OBJ_ARR: return jv_each_object(resp, obj, prefix, f->name, f->required, 0, NULL, NULL);
    case K_ENUM_ARR: return jv_enum_array(resp, obj, prefix, f->name, f->required, 0, f->values, NULL);
    case K_TIME: return jv_time_of_day(resp, obj, prefix, f->name, f->required);
    }
    return 0;
}

static int check_fields(struct api_resp *resp, json_t *obj, const char *prefix, const struct field *f)
{
    for (; f->name; f++)
        if (!check_one(resp, obj, prefix, f)) return 0;
    return 1;
}

/* check_sub: obj[field] is an object (if present, or required) checked against fields. */
static int check_sub(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                     const struct field *fields, json_t **out)
{
    json_t *o;
    char p[256];
    if (out) *out = NULL;
    if (!jv_obj(resp, obj, prefix, field, required, &o)) return 0;
    if (!o) return 1;
    if (!check_fields(resp, o, jv_path(p, sizeof p, prefix, field), fields)) return 0;
    if (out) *out = o;
    return 1;
}

static int each_with_fields(struct api_resp *resp, json_t *elem, const char *path, void *ud)
{
    return check_fields(resp, elem, path, ud);
}

/* ---- models ---------------------------------------------------------------------------------- */

static const struct field alert_target_fields[] = {
    { "emailAddress", K_STR, 1, NULL }, { "language", K_ENUM, 0, languages },
    { "recipientType", K_ENUM, 0, recipient_types }, { NULL, 0, 0, NULL } };
static const struct field alert_policy_fields[] = {
    { "backupRunStatus", K_ENUM_ARR, 1, run_statuses },
    { "raiseObjectLevelFailureAlert", K_BOOL, 0, NULL },
    { "raiseObjectLevelFailureAlertAfterLastAttempt", K_BOOL, 0, NULL },
    { "raiseObjectLevelFailureAlertAfterEachAttempt", K_BOOL, 0, NULL }, { NULL, 0, 0, NULL } };
static const struct field sla_fields[] = {
    { "backupRunType", K_ENUM, 0, sla_types }, { "slaMinutes", K_MINUTES, 0, NULL }, { NULL, 0, 0, NULL } };
static const struct field kv_fields[] = {
    { "key", K_STR, 1, NULL }, { "value", K_STR, 1, NULL }, { NULL, 0, 0, NULL } };
static const struct field indexing_fields[] = {
    { "enableIndexing", K_BOOL, 1, NULL }, { "includePaths", K_STR_ARR, 0, NULL },
    { "excludePaths", K_STR_ARR, 0, NULL }, { NULL, 0, 0, NULL } };
static const struct field script_fields[] = {
    { "preScript", K_OBJ, 0, NULL }, { "postScript", K_OBJ, 0, NULL }, { NULL, 0, 0, NULL } };
static const struct field timeout_fields[] = {
    { "timeoutMins", K_MINUTES, 0, NULL }, { "backupType", K_ENUM, 0, timeout_types }, { NULL, 0, 0, NULL } };

static const struct field file_params_fields[] = {
    { "excludedVssWriters", K_STR_ARR, 0, NULL }, { "performSourceSideDeduplication", K_BOOL, 0, NULL },
    { "performBrickBasedDeduplication", K_BOOL, 0, NULL }, { "quiesce", K_BOOL, 0, NULL },
    { "continueOnQuiesceFailure", K_BOOL, 0, NULL }, { "cobmrBackup", K_BOOL, 0, NULL },
    { "dedupExclusionSourceIds", K_INT_ARR, 0, NULL }, { "globalExcludePaths", K_STR_ARR, 0, NULL },
    { "globalExcludeFS", K_STR_ARR, 0, NULL }, { "ignorableErrors", K_ENUM_ARR, 0, ignorable },
    { "allowParallelRuns", K_BOOL, 0, NULL }, { NULL, 0, 0, NULL } };
static const struct field file_object_fields[] = {
    { "excludedVssWriters", K_STR_ARR, 0, NULL }, { "name", K_STR, 0, NULL },
    { "usesPathLevelSkipNestedVolumeSetting", K_BOOL, 0, NULL }, { "nestedVolumeTypesToSkip", K_STR_ARR, 0, NULL },
    { "followNasSymlinkTarget", K_BOOL, 0, NULL }, { "metadataFilePath", K_STR, 0, NULL }, { NULL, 0, 0, NULL } };
static const struct field volume_params_fields[] = {
    { "performSourceSideDeduplication", K_BOOL, 0, NULL }, { "quiesce", K_BOOL, 0, NULL },
    { "continueOnQuiesceFailure", K_BOOL, 0, NULL }, { "incrementalBackupAfterRestart", K_BOOL, 0, NULL },
    { "dedupExclusionSourceIds", K_INT_ARR, 0, NULL }, { "excludedVssWriters", K_STR_ARR, 0, NULL },
    { "cobmrBackup", K_BOOL, 0, NULL }, { NULL, 0, 0, NULL } };
static const struct field volume_object_fields[] = {
    { "name", K_STR, 0, NULL }, { "volumeGuids", K_STR_ARR, 0, NULL }, { "enableSystemBackup", K_BOOL, 0, NULL },
    { "excludedVssWriters", K_STR_ARR, 0, NULL }, { NULL, 0, 0, NULL } };
static const struct field sql_params_fields[] = {
    { "aagBackupPreferenceType", K_ENUM, 0, aag_prefs }, { "advancedSettings", K_OBJ, 0, NULL },
    { "backupSystemDbs", K_BOOL, 0, NULL }, { "excludeFilters", K_OBJ_ARR, 0, NULL },
    { "fullBackupsCopyOnly", K_BOOL, 0, NULL }, { "logBackupNumStreams", K_INT, 0, NULL },
    { "logBackupWithClause", K_STR, 0, NULL }, { "useAagPreferencesFromServer", K_BOOL, 0, NULL },
    { "userDbBackupPreferenceType", K_ENUM, 0, user_db_prefs }, { "additionalHostParams", K_OBJ_ARR, 0, NULL },
    { "performSourceSideDeduplication", K_BOOL, 0, NULL }, { "numStreams", K_INT, 0, NULL },
    { "withClause", K_STR, 0, NULL }, { "backupDbVolumesOnly", K_BOOL, 0, NULL },
    { "incrementalBackupAfterRestart", K_BOOL, 0, NULL }, { NULL, 0, 0, NULL } };
static const struct field sql_object_fields[] = {
    { "name", K_STR, 0, NULL }, { "sourceType", K_STR, 0, NULL }, { NULL, 0, 0, NULL } };

static const struct field group_fields[] = {
    { "priority", K_ENUM, 0, priorities }, { "description", K_STR, 0, NULL }, { "startTime", K_TIME, 0, NULL },
    { "sla", K_OBJ_ARR, 0, NULL }, { "qosPolicy", K_ENUM, 0, qos_policies },
    { "abortInBlackouts", K_BOOL, 0, NULL }, { "pauseInBlackouts", K_BOOL, 0, NULL },
    { "advancedConfigs", K_OBJ_ARR, 0, NULL }, { NULL, 0, 0, NULL } };

/* ---- objects and paths ------------------------------------------------------------------------- */

static int add_object(struct api_resp *resp, struct api_group_info *info, json_t *elem, const char *path)
{
    int64_t id;
    if (!jv_int_range(resp, elem, path, "id", 1, 1, INT64_MAX, &id, NULL)) return 0;
    for (size_t i = 0; i < info->nobjects; i++)
        if (info->object_ids[i] == id) return jv_fail(resp, path, "id", "repeats object %lld", (long long)id);
    {
        int64_t *n = realloc(info->object_ids, (info->nobjects + 1) * sizeof *n);
        if (!n) {
            api_error(resp, 500, "InternalError", "out of memory");
            return 0;
        }
        info->object_ids = n;
        info->object_ids[info->nobjects++] = id;
    }
    return 1;
}

/* absolute_path: s starts with '/' and has no ".." component. */
static int absolute_path(struct api_resp *resp, const char *prefix, const char *field, const char *s)
{
    const char *p = s;
    if (s[0] != '/') return jv_fail(resp, prefix, field, "must be an absolute path (starting with '/'), not '%.200s'", s);
    while ((p = strstr(p, "..")) != NULL) {
        if (p[-1] == '/' && (p[2] == '/' || p[2] == '\0'))
            return jv_fail(resp, prefix, field, "must not contain '..' components: '%.200s'", s);
        p += 2;
    }
    return 1;
}

static int file_path(struct api_resp *resp, json_t *e, const char *path, void *ud)
{
    const char *inc;
    json_t *ex, *v;
    size_t i;
    (void)ud;
    if (!jv_str_nonempty(resp, e, path, "includedPath", 1, &inc) || !absolute_path(resp, path, "includedPath", inc) ||
        !jv_str_array(resp, e, path, "excludedPaths", 0, 0, &ex) || !jv_bool(resp, e, path, "skipNestedVolumes", 0, NULL, NULL))
        return 0;
    json_array_foreach(ex, i, v) {
        char f[64];
        snprintf(f, sizeof f, "excludedPaths[%zu]", i);
        if (!absolute_path(resp, path, f, json_string_value(v))) return 0;
    }
    return 1;
}

static int file_object(struct api_resp *resp, json_t *e, const char *path, void *ud)
{
    return add_object(resp, ud, e, path) && check_fields(resp, e, path, file_object_fields) &&
           jv_each_object(resp, e, path, "filePaths", 0, 1, file_path, NULL);
}

static int volume_object(struct api_resp *resp, json_t *e, const char *path, void *ud)
{
    return add_object(resp, ud, e, path) && check_fields(resp, e, path, volume_object_fields);
}

static int sql_object(struct api_resp *resp, json_t *e, const char *path, void *ud)
{
    return add_object(resp, ud, e, path) && check_fields(resp, e, path, sql_object_fields);
}

/* common_params: indexingPolicy, prePostScript and taskTimeouts of a params object at prefix. */
static int common_params(struct api_resp *resp, json_t *o, const char *prefix)
{
    return check_sub(resp, o, prefix, "indexingPolicy", 0, indexing_fields, NULL) &&
           check_sub(resp, o, prefix, "prePostScript", 0, script_fields, NULL) &&
           jv_each_object(resp, o, prefix, "taskTimeouts", 0, 0, each_with_fields, (void *)timeout_fields);
}

/* only_one: of the sub-params keys, only `want` is kept: the others belong to another protection type
 * and are dropped (tolerated, never checked, stored or echoed; real clients send blocks of other types).
 * Always 1 (the validator signature). */
static int only_one(struct api_resp *resp, json_t *o, const char *prefix, const char *const *keys, const char *want,
                    const char *type)
{
    (void)resp; (void)prefix; (void)type;
    for (; *keys; keys++)
        if (strcmp(*keys, want) != 0) json_object_del(o, *keys);
    return 1;
}

static int physical_params(struct api_resp *resp, json_t *body, struct api_group_info *info)
{
    static const char *const subs[] = { "fileProtectionTypeParams", "volumeProtectionTypeParams", NULL };
    const char *p = "physicalParams", *type;
    json_t *pp, *sub;
    char sp[96];
    if (!jv_obj(resp, body, "", p, 1, &pp) || !jv_enum(resp, pp, p, "protectionType", 1, physical_types, &type))
        return 0;
    info->objects_registered = 1;
    if (strcmp(type, "kFile") == 0) {
        if (!only_one(resp, pp, p, subs, subs[0], type) ||
            !check_sub(resp, pp, p, subs[0], 1, file_params_fields, &sub))
            return 0;
        jv_path(sp, sizeof sp, p, subs[0]);
        snprintf(info->objects_path, sizeof info->objects_path, "%s.objects", sp);
        return common_params(resp, sub, sp) && jv_each_object(resp, sub, sp, "objects", 1, 1, file_object, info);
    }
    if (!only_one(resp, pp, p, subs, subs[1], type) || !check_sub(resp, pp, p, subs[1], 1, volume_params_fields, &sub))
        return 0;
    jv_path(sp, sizeof sp, p, subs[1]);
    snprintf(info->objects_path, sizeof info->objects_path, "%s.objects", sp);
    return common_params(resp, sub, sp) && jv_each_object(resp, sub, sp, "objects", 1, 1, volume_object, info);
}

static int sql_params(struct api_resp *resp, json_t *body, struct api_group_info *info)
{
    static const char *const subs[] = { "fileProtectionTypeParams", "nativeProtectionTypeParams",
                                        "volumeProtectionTypeParams", NULL };
    const char *p = "mssqlParams", *type, *want;
    json_t *mp, *sub;
    char sp[96];
    if (!jv_obj(resp, body, "", p, 1, &mp) || !jv_enum(resp, mp, p, "protectionType", 1, sql_types, &type))
        return 0;
    if (strcmp(type, "kVolume") == 0)
        return jv_fail(resp, p, "protectionType", "'kVolume' is not supported for PostgreSQL (use kNative or kFile: "
                                                  "both take a physical base backup of each instance plus its WAL)");
    want = strcmp(type, "kFile") == 0 ? subs[0] : subs[1];
    if (!only_one(resp, mp, p, subs, want, type) || !check_sub(resp, mp, p, want, 1, sql_params_fields, &sub))
        return 0;
    jv_path(sp, sizeof sp, p, want);
    snprintf(info->objects_path, sizeof info->objects_path, "%s.objects", sp);
    info->objects_registered = 0;
    info->objects_sql = 1; /* kInstance or kDatabase objects of kSQL registrations (groups.c checks) */
    return common_params(resp, sub, sp) && jv_each_object(resp, sub, sp, "objects", 1, 1, sql_object, info);
}

/* The parameter block of each environment of the wire contract, ours and others'. */
static const struct { const char *environment, *block; } env_blocks[] = {
    { "kPhysical", "physicalParams" }, { "kSQL", "mssqlParams" }, { "kKubernetes", "kubernetesParams" },
};

int api_group_validate(struct api_resp *resp, json_t *body, struct api_group_info *info)
{
    json_t *alert;
    const char *env_raw = NULL;
    memset(info, 0, sizeof *info);
    if (!jv_str_nonempty(resp, body, "", "name", 1, &info->name)) return 0;
    if (strlen(info->name) > MAX_NAME) return jv_fail(resp, "", "name", "must be at most %d bytes", MAX_NAME);
    if (!jv_str_nonempty(resp, body, "", "policyId", 1, &info->policy_id)) return 0;
    if (!api_id_parse(info->policy_id, NULL, NULL, NULL))
        return jv_fail(resp, "", "policyId", "must be a protection policy id of the form "
                          "clusterId:incarnationId:number, not '%.64s'", info->policy_id);
    if (!jv_str(resp, body, "", "environment", 1, &env_raw)) return 0;
    if (strcmp(env_raw, "kKubernetes") == 0)
        return jv_fail(resp, "", "environment", "value 'kKubernetes' is not supported (supported: kPhysical, kSQL)");
    if (!jv_enum(resp, body, "", "environment", 1, environments, &info->environment)) return 0;
    if (!check_fields(resp, body, "", group_fields) ||
        !jv_int_range(resp, body, "", "endTimeUsecs", 0, 0, CHECKED_MAX_TIME_USECS, NULL, NULL) ||
        !jv_int(resp, body, "", "lastModifiedTimestampUsecs", 0, &info->mtime_usecs, &info->has_mtime) ||
        !jv_bool(resp, body, "", "isPaused", 0, &info->is_paused, &info->has_paused) ||
        !check_sub(resp, body, "", "alertPolicy", 0, alert_policy_fields, &alert) ||
        (alert && !jv_each_object(resp, alert, "alertPolicy", "alertTargets", 0, 0, each_with_fields,
                                     (void *)alert_target_fields)) ||
        !jv_each_object(resp, body, "", "sla", 0, 0, each_with_fields, (void *)sla_fields) ||
        !jv_each_object(resp, body, "", "advancedConfigs", 0, 0, each_with_fields, (void *)kv_fields))
        return 0;
    /* The parameter blocks of other environments are dropped (tolerated, never checked, stored or
     * echoed): a real client may send them; only the block of the group's own environment counts. */
    for (size_t i = 0; i < sizeof env_blocks / sizeof env_blocks[0]; i++)
        if (strcmp(env_blocks[i].environment, info->environment) != 0) json_object_del(body, env_blocks[i].block);
    if (strcmp(info->environment, "kPhysical") == 0) return physical_params(resp, body, info);
    return sql_params(resp, body, info);
}

void api_group_info_release(struct api_group_info *info)
{
    free(info->object_ids);
    info->object_ids = NULL;
    info->nobjects = 0;
}
