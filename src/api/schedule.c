/* schedule.c: validation of a protection policy body (see schedule.h), walked field by field in the
 * order of the wire contract, so the first problem found is reported with its full field path.
 *
 * Schedules: a unit (Minutes .. Years, or ProtectOnce for full backups) and the sub-schedule that
 * matches it (minuteSchedule.frequency, hourSchedule.frequency, daySchedule.frequency, weekSchedule.
 * dayOfWeek, monthSchedule, yearSchedule.dayOfYear). Sub-schedules that are present but do not match
 * the unit are removed from the body before it is stored (neither checked nor echoed): strict where a
 * value is used, tolerant where it is merely unused.
 * Counts (frequencies, durations) are bounded so the scheduler's and retention's time arithmetic in
 * microseconds cannot overflow. */
#include "api/schedule.h"
#include "api/jv.h"
#include "sched/spec.h"
#include <stdio.h>
#include <string.h>

#define MAX_COUNT 100000      /* frequencies and retention durations */
#define MAX_NAME 255

const char *const api_days_of_week[] = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                         "Saturday", NULL };
static const char *const incr_units[] = { "Minutes", "Hours", "Days", "Weeks", "Months", "Years", NULL };
static const char *const full_units[] = { "Days", "Weeks", "Months", "Years", "ProtectOnce", NULL };
static const char *const log_units[] = { "Minutes", "Hours", NULL };
static const char *const retention_units[] = { "Days", "Weeks", "Months", "Years", NULL };
static const char *const weeks_of_month[] = { "First", "Second", "Third", "Fourth", "Last", NULL };
static const char *const days_of_year[] = { "First", "Last", NULL };
static const char *const lock_modes[] = { "Administrative", "Compliance", NULL };
static const char *const ext_units[] = { "Runs", "Hours", "Days", "Weeks", "Months", "Years", NULL };
static const char *const run_types[] = { "Regular", "Full", "Log", "System", "StorageArraySnapshot", NULL };
static const char *const timeout_types[] = { "kRegular", "kFull", "kLog", "kSystem", "kHydrateCDP",
                                             "kStorageArraySnapshot", NULL };
static const char *const target_types[] = { "Local", "Archival", NULL };

/* ---- schedules ---------------------------------------------------------------------------------- */

/* frequency_schedule: {frequency > 0} under obj[field]. */
static int frequency_schedule(struct api_resp *resp, json_t *obj, const char *prefix, const char *field)
{
    json_t *s;
    char p[256];
    if (!jv_obj(resp, obj, prefix, field, 0, &s)) return 0;
    if (!s) return 1;
    return jv_int_range(resp, s, jv_path(p, sizeof p, prefix, field), "frequency", 1, 1, MAX_COUNT, NULL, NULL);
}

static int month_schedule(struct api_resp *resp, json_t *obj, const char *prefix)
{
    json_t *m, *dow;
    const char *wom = NULL;
    int dom_here;
    char p[256];
    if (!jv_obj(resp, obj, prefix, "monthSchedule", 0, &m)) return 0;
    if (!m) return 1;
    jv_path(p, sizeof p, prefix, "monthSchedule");
    if (!jv_enum_array(resp, m, p, "dayOfWeek", 0, 1, api_days_of_week, &dow) ||
        !jv_enum(resp, m, p, "weekOfMonth", 0, weeks_of_month, &wom) ||
        !jv_int_range(resp, m, p, "dayOfMonth", 0, 1, 31, NULL, &dom_here))
        return 0;
    if (dom_here && (dow || wom))
        return jv_fail(resp, p, "dayOfMonth", "cannot be combined with 'dayOfWeek' or 'weekOfMonth'");
    if (dow && !wom) return jv_fail(resp, p, "weekOfMonth", "is required with 'dayOfWeek'");
    if (wom && !dow && strcmp(wom, "First") != 0 && strcmp(wom, "Last") != 0)
        return jv_fail(resp, p, "dayOfWeek", "is required with weekOfMonth '%s' (only First and Last name a "
                          "day of the month on their own)", wom);
    if (!dom_here && !wom)
        return jv_fail(resp, prefix, "monthSchedule",
                          "needs 'dayOfWeek' with 'weekOfMonth', 'weekOfMonth' First or Last, or 'dayOfMonth'");
    return 1;
}

static int year_schedule(struct api_resp *resp, json_t *obj, const char *prefix)
{
    json_t *y;
    char p[256];
    if (!jv_obj(resp, obj, prefix, "yearSchedule", 0, &y)) return 0;
    if (!y) return 1;
    return jv_enum(resp, y, jv_path(p, sizeof p, prefix, "yearSchedule"), "dayOfYear", 1, days_of_year, NULL);
}

static int week_schedule(struct api_resp *resp, json_t *obj, const char *prefix)
{
    json_t *w;
    char p[256];
    if (!jv_obj(resp, obj, prefix, "weekSchedule", 0, &w)) return 0;
    if (!w) return 1;
    return jv_enum_array(resp, w, jv_path(p, sizeof p, prefix, "weekSchedule"), "dayOfWeek", 1, 1,
                            api_days_of_week, NULL);
}

/* schedule: an IncrementalSchedule, FullSchedule or LogSchedule (units say which) at obj[field]. */
static int schedule(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                    const char *const *units)
{
    static const struct { const char *unit, *sub; } match[] = {
        { "Minutes", "minuteSchedule" }, { "Hours", "hourSchedule" }, { "Days", "daySchedule" },
        { "Weeks", "weekSchedule" },     { "Months", "monthSchedule" }, { "Years", "yearSchedule" },
    };
    json_t *s;
    const char *unit = NULL;
    char p[256];
    if (!jv_obj(resp, obj, prefix, field, required, &s)) return 0;
    if (!s) return 1;
    jv_path(p, sizeof p, prefix, field);
    if (!jv_enum(resp, s, p, "unit", 1, units, &unit)) return 0;
    /* A sub-schedule the unit does not use is tolerated and dropped: real clients send them all (the
     * official client's own examples carry a monthSchedule beside unit Minutes), and what is dropped
     * is neither checked, stored nor echoed. */
    for (size_t i = 0; i < sizeof match / sizeof match[0]; i++)
        if (strcmp(unit, match[i].unit) != 0) json_object_del(s, match[i].sub);
    if (!frequency_schedule(resp, s, p, "minuteSchedule") || !frequency_schedule(resp, s, p, "hourSchedule") ||
        !frequency_schedule(resp, s, p, "daySchedule") || !week_schedule(resp, s, p) ||
        !month_schedule(resp, s, p) || !year_schedule(resp, s, p))
        return 0;
    for (size_t i = 0; i < sizeof match / sizeof match[0]; i++)
        if (strcmp(unit, match[i].unit) == 0 && !json_is_object(json_object_get(s, match[i].sub)))
            return jv_fail(resp, p, match[i].sub, "is required when unit is '%s'", unit);
    return 1;
}

/* ---- retention ---------------------------------------------------------------------------------- */

static int retention(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required)
{
    json_t *r, *lock;
    char p[256], lp[256];
    if (!jv_obj(resp, obj, prefix, field, required, &r)) return 0;
    if (!r) return 1;
    jv_path(p, sizeof p, prefix, field);
    if (!jv_enum(resp, r, p, "unit", 1, retention_units, NULL) ||
        !jv_int_range(resp, r, p, "duration", 1, 1, MAX_COUNT, NULL, NULL) ||
        !jv_obj(resp, r, p, "dataLockConfig", 0, &lock))
        return 0;
    if (!lock) return 1;
    jv_path(lp, sizeof lp, p, "dataLockConfig");
    return jv_enum(resp, lock, lp, "mode", 1, lock_modes, NULL) &&
           jv_enum(resp, lock, lp, "unit", 1, retention_units, NULL) &&
           jv_int_range(resp, lock, lp, "duration", 1, 1, MAX_COUNT, NULL, NULL) &&
           jv_bool(resp, lock, lp, "enableWormOnExternalTarget", 0, NULL, NULL);
}

/* ---- policy parts ------------------------------------------------------------------------------- */

static int full_backup_entry(struct api_resp *resp, json_t *e, const char *path, void *ud)
{
    (void)ud;
    return schedule(resp, e, path, "schedule", 1, full_units) && retention(resp, e, path, "retention", 1);
}

static int regular_policy(struct api_resp *resp, json_t *bp, const char *prefix)
{
    json_t *reg, *incr, *full, *fulls, *target;
    char p[256], sp[256];
    if (!jv_obj(resp, bp, prefix, "regular", 1, &reg)) return 0;
    jv_path(p, sizeof p, prefix, "regular");
    if (!jv_obj(resp, reg, p, "incremental", 0, &incr)) return 0;
    if (incr && !schedule(resp, incr, jv_path(sp, sizeof sp, p, "incremental"), "schedule", 1, incr_units))
        return 0;
    if (!jv_obj(resp, reg, p, "full", 0, &full)) return 0;
    if (full && !schedule(resp, full, jv_path(sp, sizeof sp, p, "full"), "schedule", 1, full_units)) return 0;
    if (!jv_arr(resp, reg, p, "fullBackups", 0, &fulls) ||
        !jv_each_object(resp, reg, p, "fullBackups", 0, 0, full_backup_entry, NULL))
        return 0;
    if (!incr && !full && !(fulls && json_array_size(fulls) > 0))
        return jv_fail(resp, p, "incremental", "is required when neither 'full' nor 'fullBackups' is given");
    if (!retention(resp, reg, p, "retention", 1)) return 0;
    if (!jv_obj(resp, reg, p, "primaryBackupTarget", 0, &target)) return 0;
    if (target) {
        jv_path(sp, sizeof sp, p, "primaryBackupTarget");
        if (!jv_enum(resp, target, sp, "targetType", 0, target_types, NULL) ||
            !jv_obj(resp, target, sp, "archivalTargetSettings", 0, NULL) ||
            !jv_bool(resp, target, sp, "useDefaultBackupTarget", 0, NULL, NULL))
            return 0;
    }
    return 1;
}

static int run_timeout(struct api_resp *resp, json_t *e, const char *path, void *ud)
{
    (void)ud;
    return jv_int_range(resp, e, path, "timeoutMins", 0, 1, MAX_COUNT * 10, NULL, NULL) &&
           jv_enum(resp, e, path, "backupType", 0, timeout_types, NULL);
}

static int backup_policy(struct api_resp *resp, json_t *body)
{
    json_t *bp, *log;
    const char *p = "backupPolicy";
    char lp[256];
    if (!jv_obj(resp, body, "", p, 1, &bp)) return 0;
    if (!regular_policy(resp, bp, p)) return 0;
    if (!jv_obj(resp, bp, p, "log", 0, &log)) return 0;
    if (log) {
        jv_path(lp, sizeof lp, p, "log");
        if (!schedule(resp, log, lp, "schedule", 1, log_units) || !retention(resp, log, lp, "retention", 1))
            return 0;
    }
    return jv_obj(resp, bp, p, "bmr", 0, NULL) && jv_obj(resp, bp, p, "cdp", 0, NULL) &&
           jv_obj(resp, bp, p, "storageArraySnapshot", 0, NULL) &&
           jv_each_object(resp, bp, p, "runTimeouts", 0, 0, run_timeout, NULL);
}

static int blackout_window(struct api_resp *resp, json_t *e, const char *path, void *ud)
{
    (void)ud;
    return jv_enum(resp, e, path, "day", 1, api_days_of_week, NULL) &&
           jv_time_of_day(resp, e, path, "startTime", 1) && jv_time_of_day(resp, e, path, "endTime", 1) &&
           jv_str(resp, e, path, "configId", 0, NULL);
}

static int extended_retention(struct api_resp *resp, json_t *e, const char *path, void *ud)
{
    json_t *s;
    char sp[256];
    (void)ud;
    if (!jv_obj(resp, e, path, "schedule", 1, &s)) return 0;
    jv_path(sp, sizeof sp, path, "schedule");
    return jv_enum(resp, s, sp, "unit", 1, ext_units, NULL) &&
           jv_int_range(resp, s, sp, "frequency", 0, 1, MAX_COUNT, NULL, NULL) &&
           retention(resp, e, path, "retention", 1) && jv_enum(resp, e, path, "runType", 0, run_types, NULL) &&
           jv_str(resp, e, path, "configId", 0, NULL);
}

int api_policy_validate(struct api_resp *resp, json_t *body)
{
    const char *name = NULL;
    json_t *retry;
    if (!jv_str_nonempty(resp, body, "", "name", 1, &name)) return 0;
    if (strlen(name) > MAX_NAME) return jv_fail(resp, "", "name", "must be at most %d bytes", MAX_NAME);
    if (!backup_policy(resp, body) || !jv_str(resp, body, "", "description", 0, NULL) ||
        !jv_each_object(resp, body, "", "blackoutWindow", 0, 0, blackout_window, NULL) ||
        !jv_each_object(resp, body, "", "extendedRetention", 0, 0, extended_retention, NULL) ||
        !jv_obj(resp, body, "", "remoteTargetPolicy", 0, NULL) ||
        !jv_each_object(resp, body, "", "cascadedTargetsConfig", 0, 0, NULL, NULL) ||
        !jv_obj(resp, body, "", "retryOptions", 0, &retry))
        return 0;
    if (json_array_size(json_object_get(body, "extendedRetention")) > SPEC_MAX_EXT)
        return jv_fail(resp, "", "extendedRetention", "must have at most %d rules", SPEC_MAX_EXT);
    if (retry && (!jv_int_range(resp, retry, "retryOptions", "retries", 0, 0, 1000, NULL, NULL) ||
                  !jv_int_range(resp, retry, "retryOptions", "retryIntervalMins", 0, 0, MAX_COUNT, NULL, NULL)))
        return 0;
    return jv_enum(resp, body, "", "dataLock", 0, lock_modes, NULL) &&
           jv_int_range(resp, body, "", "version", 0, 0, INT64_MAX, NULL, NULL) &&
           jv_bool(resp, body, "", "isCBSEnabled", 0, NULL, NULL) &&
           jv_int(resp, body, "", "lastModificationTimeUsecs", 0, NULL, NULL) &&
           jv_str(resp, body, "", "templateId", 0, NULL);
}
