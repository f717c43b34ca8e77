/* wire_spec.c: the IBM wire documents of policies and groups translated into the typed specs of
 * sched/spec.h (see wire_spec.h). This is the one place that knows which wire field carries what the
 * scheduler, the retention pass and the backup worker need: backupPolicy.regular.{incremental, full,
 * fullBackups, retention}, backupPolicy.log.{schedule, retention} (kLog runs of SQL groups), blackoutWindow, retryOptions, extendedRetention of a policy; environment, policyId,
 * physicalParams.{protectionType, fileProtectionTypeParams}, mssqlParams, startTime, endTimeUsecs,
 * isPaused, abortInBlackouts of a group. The validators (schedule.c, group_validate.c) run first, so
 * a refusal here means a stored document older than a validator rule. */
#include "api/wire_spec.h"
#include "catalog/cat_group.h"
#include "catalog/cat_policy.h"
#include "util/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_days[] = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" };

static int day_index(const char *s)
{
    for (int i = 0; i < 7; i++)
        if (strcmp(s, g_days[i]) == 0) return i;
    return -1;
}

static int get_int(const json_t *obj, const char *key, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v)) return -1;
    *out = json_integer_value(v);
    return 0;
}

static int parse_dow(const json_t *arr, unsigned *mask, const char *where, char *err, size_t errlen)
{
    size_t i;
    json_t *v;
    *mask = 0;
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "%s.dayOfWeek must be an array of day names", where);
        return -1;
    }
    json_array_foreach(arr, i, v) {
        int d = json_is_string(v) ? day_index(json_string_value(v)) : -1;
        if (d < 0) {
            snprintf(err, errlen, "%s.dayOfWeek[%zu] is not a day of the week", where, i);
            return -1;
        }
        *mask |= 1u << d;
    }
    return 0;
}

int api_wire_rule(const json_t *s, struct sched_rule *out, char *err, size_t errlen)
{
    const char *unit = json_string_value(json_object_get(s, "unit"));
    memset(out, 0, sizeof *out);
    out->frequency = 1;
    if (!json_is_object(s) || !unit) {
        snprintf(err, errlen, "schedule has no unit");
        return -1;
    }
    if (strcmp(unit, "Minutes") == 0 || strcmp(unit, "Hours") == 0 || strcmp(unit, "Days") == 0) {
        const char *key = unit[0] == 'M' ? "minuteSchedule" : unit[0] == 'H' ? "hourSchedule" : "daySchedule";
        json_t *sub = json_object_get(s, key);
        out->unit = unit[0] == 'M' ? SCHED_MINUTES : unit[0] == 'H' ? SCHED_HOURS : SCHED_DAYS;
        if (sub && get_int(sub, "frequency", &out->frequency) != 0) {
            snprintf(err, errlen, "%s.frequency must be an integer", key);
            return -1;
        }
        if (out->frequency < 1 || out->frequency > 100000) {
            snprintf(err, errlen, "%s.frequency must be between 1 and 100000", key);
            return -1;
        }
        return 0;
    }
    if (strcmp(unit, "Weeks") == 0) {
        json_t *sub = json_object_get(s, "weekSchedule");
        out->unit = SCHED_WEEKS;
        if (!sub) {
            out->dow_mask = 1u << 0; /* no days given: Sundays */
            return 0;
        }
        if (parse_dow(json_object_get(sub, "dayOfWeek"), &out->dow_mask, "weekSchedule", err, errlen) != 0)
            return -1;
        if (!out->dow_mask) {
            snprintf(err, errlen, "weekSchedule.dayOfWeek must name at least one day");
            return -1;
        }
        return 0;
    }
    if (strcmp(unit, "Months") == 0) {
        json_t *sub = json_object_get(s, "monthSchedule");
        int64_t dom = 0;
        const char *wom;
        out->unit = SCHED_MONTHS;
        if (!sub) {
            out->day_of_month = 1;
            return 0;
        }
        if (json_object_get(sub, "dayOfMonth") && get_int(sub, "dayOfMonth", &dom) != 0) {
            snprintf(err, errlen, "monthSchedule.dayOfMonth must be an integer");
            return -1;
        }
        wom = json_string_value(json_object_get(sub, "weekOfMonth"));
        if (json_object_get(sub, "dayOfWeek") &&
            parse_dow(json_object_get(sub, "dayOfWeek"), &out->dow_mask, "monthSchedule", err, errlen) != 0)
            return -1;
        if (wom) {
            static const char *const w[] = { "First", "Second", "Third", "Fourth" };
            for (int i = 0; i < 4; i++)
                if (strcmp(wom, w[i]) == 0) out->week_of_month = i + 1;
            if (strcmp(wom, "Last") == 0) out->week_of_month = -1;
            if (!out->week_of_month) {
                snprintf(err, errlen, "monthSchedule.weekOfMonth must be First, Second, Third, Fourth or Last");
                return -1;
            }
            if (!out->dow_mask) out->dow_mask = 1u << 0;
            return 0;
        }
        if (dom == 0) dom = out->dow_mask ? 0 : 1;
        if (dom < 0 || dom > 31) {
            snprintf(err, errlen, "monthSchedule.dayOfMonth must be between 1 and 31");
            return -1;
        }
        out->day_of_month = (int)dom;
        if (!dom) out->week_of_month = 1; /* dayOfWeek alone: the first such day of the month */
        return 0;
    }
    if (strcmp(unit, "Years") == 0) {
        const char *doy = json_string_value(json_object_get(json_object_get(s, "yearSchedule"), "dayOfYear"));
        out->unit = SCHED_YEARS;
        out->day_of_year = (doy && strcmp(doy, "Last") == 0) ? -1 : 1;
        if (doy && strcmp(doy, "First") != 0 && strcmp(doy, "Last") != 0) {
            snprintf(err, errlen, "yearSchedule.dayOfYear must be First or Last");
            return -1;
        }
        return 0;
    }
    if (strcmp(unit, "ProtectOnce") == 0) {
        out->unit = SCHED_ONCE;
        return 0;
    }
    snprintf(err, errlen, "schedule unit '%s' is not one of Minutes, Hours, Days, Weeks, Months, Years, ProtectOnce",
             unit);
    return -1;
}

static int time_of_day(const json_t *o, int *hour, int *minute)
{
    int64_t h, m;
    if (!json_is_object(o) || get_int(o, "hour", &h) != 0 || get_int(o, "minute", &m) != 0) return -1;
    if (h < 0 || h > 23 || m < 0 || m > 59) return -1;
    *hour = (int)h;
    *minute = (int)m;
    return 0;
}

int api_wire_policy(const json_t *policy, struct spec_policy *p, char *err, size_t errlen)
{
    static const char *const ret_units[] = { "Days", "Weeks", "Months", "Years" };
    const json_t *regular = json_object_get(json_object_get(policy, "backupPolicy"), "regular");
    const json_t *v, *fulls, *bw, *ret, *retry;
    size_t i;
    memset(p, 0, sizeof *p);
    v = json_object_get(json_object_get(regular, "incremental"), "schedule");
    if (v) {
        if (api_wire_rule(v, &p->incr, err, errlen) != 0) return -1;
        if (p->incr.unit == SCHED_ONCE) {
            snprintf(err, errlen, "an incremental schedule cannot be ProtectOnce");
            return -1;
        }
        p->has_incr = 1;
    }
    v = json_object_get(json_object_get(regular, "full"), "schedule");
    if (v) {
        if (api_wire_rule(v, &p->full[p->nfull], err, errlen) != 0) return -1;
        p->nfull++;
    }
    fulls = json_object_get(regular, "fullBackups");
    json_array_foreach(fulls, i, v) {
        json_t *s = json_object_get(v, "schedule");
        if (!s || p->nfull == SCHED_MAX_FULL) continue;
        if (api_wire_rule(s, &p->full[p->nfull], err, errlen) != 0) return -1;
        p->nfull++;
    }
    bw = json_object_get(policy, "blackoutWindow");
    json_array_foreach(bw, i, v) {
        struct sched_blackout *b;
        int sh, sm, eh, em;
        const char *day = json_string_value(json_object_get(v, "day"));
        if (p->nblackout == SCHED_MAX_BLACKOUT) break;
        b = &p->blackout[p->nblackout];
        if (!day || (b->day = day_index(day)) < 0 || time_of_day(json_object_get(v, "startTime"), &sh, &sm) != 0 ||
            time_of_day(json_object_get(v, "endTime"), &eh, &em) != 0) {
            snprintf(err, errlen, "blackoutWindow[%zu] needs a day, startTime and endTime", i);
            return -1;
        }
        b->start_min = sh * 60 + sm;
        b->end_min = eh * 60 + em;
        p->nblackout++;
    }
    /* Retention: a unit the scheduler does not know, or a duration out of range, keeps snapshots
     * without expiry (as before the specs: never shorter). */
    ret = json_object_get(regular, "retention");
    if (json_is_object(ret) && json_is_integer(json_object_get(ret, "duration"))) {
        const char *unit = json_string_value(json_object_get(ret, "unit"));
        int64_t n = json_integer_value(json_object_get(ret, "duration"));
        for (int k = 0; unit && k < 4; k++)
            if (strcmp(unit, ret_units[k]) == 0 && n >= 0 && n <= 100000) {
                p->retention.unit = (enum sched_ret_unit)(k + 1);
                p->retention.duration = n;
            }
    }
    /* The data lock of every run's snapshots: retention.dataLockConfig (mode, unit, duration), or the
     * policy's dataLock for as long as the retention keeps them. */
    {
        const json_t *dl = json_object_get(ret, "dataLockConfig");
        const char *mode = json_string_value(json_object_get(dl, "mode"));
        if (!mode) mode = json_string_value(json_object_get(policy, "dataLock"));
        if (mode && (strcmp(mode, "Compliance") == 0 || strcmp(mode, "Administrative") == 0)) {
            p->lock_mode = strcmp(mode, "Compliance") == 0 ? SPEC_LOCK_COMPLIANCE : SPEC_LOCK_ADMINISTRATIVE;
            p->lock = p->retention;
            if (json_is_object(dl)) {
                const char *unit = json_string_value(json_object_get(dl, "unit"));
                int64_t n = json_integer_value(json_object_get(dl, "duration"));
                p->lock.unit = SCHED_RET_NONE;
                for (int k = 0; unit && k < 4; k++)
                    if (strcmp(unit, ret_units[k]) == 0 && n >= 1 && n <= 100000) {
                        p->lock.unit = (enum sched_ret_unit)(k + 1);
                        p->lock.duration = n;
                    }
            }
            if (p->lock.unit == SCHED_RET_NONE) p->lock_mode = SPEC_LOCK_NONE; /* nothing to lock for */
        }
    }
    /* The log schedule (backupPolicy.log: kLog runs of SQL groups) and its retention. */
    v = json_object_get(json_object_get(json_object_get(policy, "backupPolicy"), "log"), "schedule");
    if (v) {
        if (api_wire_rule(v, &p->log, err, errlen) != 0) return -1;
        if (p->log.unit != SCHED_MINUTES && p->log.unit != SCHED_HOURS) {
            snprintf(err, errlen, "a log schedule's unit must be Minutes or Hours");
            return -1;
        }
        p->has_log = 1;
        ret = json_object_get(json_object_get(json_object_get(policy, "backupPolicy"), "log"), "retention");
        if (json_is_object(ret) && json_is_integer(json_object_get(ret, "duration"))) {
            const char *unit = json_string_value(json_object_get(ret, "unit"));
            int64_t n = json_integer_value(json_object_get(ret, "duration"));
            for (int k = 0; unit && k < 4; k++)
                if (strcmp(unit, ret_units[k]) == 0 && n >= 0 && n <= 100000) {
                    p->log_retention.unit = (enum sched_ret_unit)(k + 1);
                    p->log_retention.duration = n;
                }
        }
    }
    /* extendedRetention (GFS rules, sched/gfs.h): a rule for run types Coffer never runs
     * (StorageArraySnapshot, System) is kept only on the wire; frequency defaults to 1. */
    json_array_foreach(json_object_get(policy, "extendedRetention"), i, v) {
        static const char *const ext_units[] = { "Hours", "Days", "Weeks", "Months", "Years", "Runs" };
        static const char *const ext_runs[] = { "", "Regular", "Full", "Log" };
        json_t *s = json_object_get(v, "schedule"), *r = json_object_get(v, "retention");
        const char *unit = json_string_value(json_object_get(s, "unit"));
        const char *runit = json_string_value(json_object_get(r, "unit"));
        const char *rt = json_string_value(json_object_get(v, "runType"));
        json_t *freq = json_object_get(s, "frequency");
        struct spec_ext e = { .every = json_is_integer(freq) ? json_integer_value(freq) : 1 };
        int ok_unit = 0, ok_run = !rt, ok_ret = 0;
        if (p->next == SPEC_MAX_EXT) {
            snprintf(err, errlen, "extendedRetention has more than %d rules", SPEC_MAX_EXT);
            return -1;
        }
        for (int k = 0; unit && k < 6; k++)
            if (strcmp(unit, ext_units[k]) == 0) e.unit = (enum spec_ext_unit)k, ok_unit = 1;
        for (int k = 1; rt && k < 4; k++)
            if (strcmp(rt, ext_runs[k]) == 0) e.run = (enum spec_ext_run)k, ok_run = 1;
        for (int k = 0; runit && k < 4; k++)
            if (strcmp(runit, ret_units[k]) == 0) e.retention.unit = (enum sched_ret_unit)(k + 1), ok_ret = 1;
        e.retention.duration = json_integer_value(json_object_get(r, "duration"));
        if (!ok_unit || !ok_ret || e.every < 1 || e.every > 100000 || e.retention.duration < 0 ||
            e.retention.duration > 100000) {
            snprintf(err, errlen, "extendedRetention[%zu] needs schedule.unit, frequency 1..100000 and a retention", i);
            return -1;
        }
        if (ok_run) p->ext[p->next++] = e;
    }
    retry = json_object_get(policy, "retryOptions");
    if (json_is_integer(json_object_get(retry, "retries")))
        p->retries = json_integer_value(json_object_get(retry, "retries"));
    if (json_is_integer(json_object_get(retry, "retryIntervalMins")))
        p->retry_interval_min = json_integer_value(json_object_get(retry, "retryIntervalMins"));
    if (p->retries < 0 || p->retries > 1000) p->retries = 0;
    if (p->retry_interval_min < 0 || p->retry_interval_min > 100000) p->retry_interval_min = 0;
    return 0;
}

/* dup_strings: the strings of a wire array (non-strings skipped). 0 or -1 (out of memory). */
static int dup_strings(const json_t *arr, char ***out, size_t *n)
{
    size_t i;
    json_t *v;
    *out = NULL;
    *n = 0;
    if (!json_is_array(arr) || !json_array_size(arr)) return 0;
    if (!(*out = calloc(json_array_size(arr), sizeof **out))) return -1;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)) continue;
        if (!((*out)[*n] = strdup(json_string_value(v)))) return -1;
        (*n)++;
    }
    return 0;
}

static int wire_objects(const json_t *params, struct spec_group *g, char *err, size_t errlen)
{
    const json_t *objs = json_object_get(params, "objects"), *v;
    size_t i;
    if (dup_strings(json_object_get(params, "globalExcludePaths"), &g->excludes, &g->nexcludes) != 0) goto oom;
    if (!json_is_array(objs) || !json_array_size(objs)) return 0;
    if (!(g->objects = calloc(json_array_size(objs), sizeof *g->objects))) goto oom;
    json_array_foreach(objs, i, v) {
        struct spec_object *so = &g->objects[g->nobjects];
        const json_t *fp = json_object_get(v, "filePaths"), *e;
        const char *name = json_string_value(json_object_get(v, "name"));
        size_t k;
        if (!json_is_integer(json_object_get(v, "id")) || json_integer_value(json_object_get(v, "id")) < 1) {
            snprintf(err, errlen, "objects[%zu].id must be a positive integer", i);
            return -1;
        }
        so->id = json_integer_value(json_object_get(v, "id"));
        g->nobjects++;
        if (name && !(so->name = strdup(name))) goto oom;
        if (!json_is_array(fp) || !json_array_size(fp)) continue;
        if (!(so->paths = calloc(json_array_size(fp), sizeof *so->paths))) goto oom;
        json_array_foreach(fp, k, e) {
            const char *inc = json_string_value(json_object_get(e, "includedPath"));
            struct spec_path *sp = &so->paths[so->npaths];
            if (!inc) continue;
            if (!(sp->include = strdup(inc))) goto oom;
            so->npaths++;
            if (dup_strings(json_object_get(e, "excludedPaths"), &sp->excludes, &sp->nexcludes) != 0) goto oom;
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -1;
}

int api_wire_group(const json_t *group, struct spec_group *g, char *err, size_t errlen)
{
    const char *env = json_string_value(json_object_get(group, "environment"));
    const char *policy = json_string_value(json_object_get(group, "policyId"));
    const json_t *start = json_object_get(group, "startTime"), *params = NULL, *v;
    const char *ptype = NULL, *tz;
    memset(g, 0, sizeof *g);
    if (env && strcmp(env, "kPhysical") == 0) {
        const json_t *pp = json_object_get(group, "physicalParams");
        g->env = SPEC_ENV_PHYSICAL;
        ptype = json_string_value(json_object_get(pp, "protectionType"));
        if (ptype && strcmp(ptype, "kFile") == 0) params = json_object_get(pp, "fileProtectionTypeParams");
        else if (ptype && strcmp(ptype, "kVolume") == 0) params = json_object_get(pp, "volumeProtectionTypeParams");
    } else if (env && strcmp(env, "kSQL") == 0) {
        const json_t *mp = json_object_get(group, "mssqlParams");
        g->env = SPEC_ENV_SQL;
        ptype = json_string_value(json_object_get(mp, "protectionType"));
        if (ptype && strcmp(ptype, "kFile") == 0) params = json_object_get(mp, "fileProtectionTypeParams");
        else if (ptype && strcmp(ptype, "kNative") == 0) params = json_object_get(mp, "nativeProtectionTypeParams");
        else if (ptype && strcmp(ptype, "kVolume") == 0) params = json_object_get(mp, "volumeProtectionTypeParams");
    } else if (env) {
        snprintf(err, errlen, "environment must be kPhysical or kSQL, not '%.32s'", env);
        return -1;
    } /* no environment: a schedule-only document (SPEC_ENV_NONE) */
    if (ptype)
        g->protection = strcmp(ptype, "kFile") == 0     ? SPEC_PROT_FILE
                        : strcmp(ptype, "kVolume") == 0 ? SPEC_PROT_VOLUME
                        : strcmp(ptype, "kNative") == 0 ? SPEC_PROT_NATIVE
                                                        : SPEC_PROT_NONE;
    if (policy && !(g->policy_id = strdup(policy))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (params && wire_objects(params, g, err, errlen) != 0) return -1;
    if (json_is_null(start)) start = NULL; /* stored before the API dropped nulls: absent (midnight) */
    if (start) {
        if (time_of_day(start, &g->start_hour, &g->start_minute) != 0) {
            snprintf(err, errlen, "startTime must have hour 0-23 and minute 0-59");
            return -1;
        }
        g->has_start = 1;
        tz = json_string_value(json_object_get(start, "timeZone"));
        if (tz && *tz && !(g->time_zone = strdup(tz))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    v = json_object_get(group, "endTimeUsecs");
    if (json_is_integer(v) && json_integer_value(v) > 0) g->end_usecs = json_integer_value(v);
    g->paused = json_is_true(json_object_get(group, "isPaused"));
    g->abort_in_blackouts = json_is_true(json_object_get(group, "abortInBlackouts"));
    return 0;
}

char *api_wire_policy_text(const json_t *policy, char *err, size_t errlen)
{
    struct spec_policy p;
    if (api_wire_policy(policy, &p, err, errlen) < 0) return NULL;
    return spec_policy_encode(&p);
}

char *api_wire_group_text(const json_t *group, char *err, size_t errlen)
{
    struct spec_group g;
    char *text = NULL;
    if (api_wire_group(group, &g, err, errlen) >= 0) text = spec_group_encode(&g);
    spec_group_free(&g);
    return text;
}

/* ---- backfill ---------------------------------------------------------------------------------- */

struct backfill {
    struct cat *cat;
    int groups;
    size_t written, failed;
};

static int backfill_one(void *ud, const char *tenant, const char *id, const char *doc)
{
    struct backfill *b = ud;
    json_t *j = json_loads(doc, 0, NULL);
    char err[256] = "", *spec = NULL;
    int rc = 0;
    if (j) spec = b->groups ? api_wire_group_text(j, err, sizeof err) : api_wire_policy_text(j, err, sizeof err);
    else snprintf(err, sizeof err, "the stored document is not JSON");
    json_decref(j);
    if (!spec) {
        log_warn("catalog: %s %s of tenant %s has no typed spec: %s", b->groups ? "group" : "policy", id, tenant, err);
        b->failed++;
        return 0;
    }
    rc = b->groups ? cat_group_set_spec(b->cat, tenant, id, spec) : cat_policy_set_spec(b->cat, tenant, id, spec);
    free(spec);
    if (rc != 0) return rc < 0 ? rc : -1;
    b->written++;
    return 0;
}

int api_spec_backfill(struct cat *cat)
{
    /* One pass per table: every row without a spec is read, then translated and written. A row that
     * cannot be translated stays NULL and is not read again in this pass. */
    for (int groups = 0; groups < 2; groups++) {
        struct backfill b = { .cat = cat, .groups = groups };
        int rc;
        if (cat_begin(cat) != 0) return -1;
        rc = cat_spec_missing(cat, groups, (size_t)1 << 30, backfill_one, &b);
        if (rc < 0 || cat_commit(cat) != 0) {
            cat_rollback(cat);
            return rc < 0 ? rc : -1;
        }
        if (b.written || b.failed)
            log_info("catalog: typed specs written for %zu %s (%zu left without)", b.written,
                     groups ? "groups" : "policies", b.failed);
    }
    return 0;
}
