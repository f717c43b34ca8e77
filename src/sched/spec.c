/* spec.c: the internal documents of spec.h: encoders building {"v":1,...} with jansson, strict
 * decoders checking every object's keys against the list the version allows, and the two things the
 * scheduler and the retention pass derive from specs (spec_plan, spec_policy_expiry).
 *
 * Decoding walks the document with small helpers (get_int, get_str, ...) that fill err with the
 * field's path and return -EINVAL, so each decoder reads as the list of its fields. */
#include "sched/spec.h"
#include "sched/tz.h"
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_units[] = { "minutes", "hours", "days", "weeks", "months", "years", "once", NULL };
static const char *const g_ret_units[] = { "none", "days", "weeks", "months", "years", NULL };
static const char *const g_ext_units[] = { "hours", "days", "weeks", "months", "years", "runs", NULL };
static const char *const g_ext_runs[] = { "any", "regular", "full", "log", NULL };
static const char *const g_envs[] = { "none", "physical", "sql", NULL };
static const char *const g_prots[] = { "none", "file", "volume", "native", NULL };

const char *spec_env_name(enum spec_env env)
{
    return (unsigned)env < 3 ? g_envs[env] : "?";
}

const char *spec_protection_name(enum spec_protection p)
{
    return (unsigned)p < 4 ? g_prots[p] : "?";
}

/* ---------- encoding ---------- */

static json_t *rule_encode(const struct sched_rule *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "unit", json_string(g_units[r->unit]));
    json_object_set_new(o, "every", json_integer(r->frequency));
    if (r->dow_mask) json_object_set_new(o, "dow", json_integer(r->dow_mask));
    if (r->week_of_month) json_object_set_new(o, "wom", json_integer(r->week_of_month));
    if (r->day_of_month) json_object_set_new(o, "dom", json_integer(r->day_of_month));
    if (r->day_of_year) json_object_set_new(o, "doy", json_integer(r->day_of_year));
    return o;
}

static char *dump(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

char *spec_policy_encode(const struct spec_policy *p)
{
    json_t *o = json_object(), *full = json_array(), *bw = json_array();
    static const char *const lock_modes[] = { "none", "administrative", "compliance" };
    json_object_set_new(o, "v", json_integer(p->next || p->lock_mode ? 3 : p->has_log ? 2 : SPEC_VERSION));
    if (p->lock_mode && p->lock.unit != SCHED_RET_NONE)
        json_object_set_new(o, "lock", json_pack("{s:s,s:s,s:I}", "mode", lock_modes[p->lock_mode], "unit",
                                                 g_ret_units[p->lock.unit], "n", (json_int_t)p->lock.duration));
    if (p->next) {
        json_t *ext = json_array();
        for (size_t i = 0; i < p->next && i < SPEC_MAX_EXT; i++)
            json_array_append_new(ext, json_pack("{s:s,s:I,s:{s:s,s:I},s:s}", "unit", g_ext_units[p->ext[i].unit],
                                                 "every", (json_int_t)p->ext[i].every, "retention", "unit",
                                                 g_ret_units[p->ext[i].retention.unit], "n",
                                                 (json_int_t)p->ext[i].retention.duration, "run",
                                                 g_ext_runs[p->ext[i].run]));
        json_object_set_new(o, "ext", ext);
    }
    if (p->has_log) {
        json_object_set_new(o, "log", rule_encode(&p->log));
        if (p->log_retention.unit != SCHED_RET_NONE)
            json_object_set_new(o, "log_retention",
                                json_pack("{s:s,s:I}", "unit", g_ret_units[p->log_retention.unit], "n",
                                          (json_int_t)p->log_retention.duration));
    }
    if (p->has_incr) json_object_set_new(o, "incr", rule_encode(&p->incr));
    for (size_t i = 0; i < p->nfull && i < SCHED_MAX_FULL; i++) json_array_append_new(full, rule_encode(&p->full[i]));
    json_object_set_new(o, "full", full);
    for (size_t i = 0; i < p->nblackout && i < SCHED_MAX_BLACKOUT; i++)
        json_array_append_new(bw, json_pack("{s:i,s:i,s:i}", "day", p->blackout[i].day, "start",
                                            p->blackout[i].start_min, "end", p->blackout[i].end_min));
    json_object_set_new(o, "blackouts", bw);
    if (p->retention.unit != SCHED_RET_NONE)
        json_object_set_new(o, "retention", json_pack("{s:s,s:I}", "unit", g_ret_units[p->retention.unit], "n",
                                                      (json_int_t)p->retention.duration));
    json_object_set_new(o, "retries", json_integer(p->retries));
    json_object_set_new(o, "retry_interval_min", json_integer(p->retry_interval_min));
    return dump(o);
}

static json_t *str_array(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(v[i]));
    return a;
}

char *spec_group_encode(const struct spec_group *g)
{
    json_t *o = json_object(), *objs = json_array();
    json_object_set_new(o, "v", json_integer(SPEC_VERSION));
    json_object_set_new(o, "env", json_string(spec_env_name(g->env)));
    json_object_set_new(o, "protection", json_string(spec_protection_name(g->protection)));
    if (g->policy_id) json_object_set_new(o, "policy", json_string(g->policy_id));
    for (size_t i = 0; i < g->nobjects; i++) {
        const struct spec_object *so = &g->objects[i];
        json_t *jo = json_object(), *paths = json_array();
        json_object_set_new(jo, "id", json_integer(so->id));
        if (so->name) json_object_set_new(jo, "name", json_string(so->name));
        for (size_t k = 0; k < so->npaths; k++)
            json_array_append_new(paths, json_pack("{s:s,s:o}", "include", so->paths[k].include, "exclude",
                                                   str_array(so->paths[k].excludes, so->paths[k].nexcludes)));
        json_object_set_new(jo, "paths", paths);
        json_array_append_new(objs, jo);
    }
    json_object_set_new(o, "objects", objs);
    json_object_set_new(o, "exclude", str_array(g->excludes, g->nexcludes));
    if (g->has_start) {
        json_t *st = json_pack("{s:i,s:i}", "hour", g->start_hour, "minute", g->start_minute);
        if (g->time_zone) json_object_set_new(st, "tz", json_string(g->time_zone));
        json_object_set_new(o, "start", st);
    }
    json_object_set_new(o, "paused", json_boolean(g->paused));
    json_object_set_new(o, "abort_in_blackouts", json_boolean(g->abort_in_blackouts));
    json_object_set_new(o, "end", json_integer(g->end_usecs));
    return dump(o);
}

/* ---------- strict decoding ---------- */

struct dec {
    char *err;
    size_t errlen;
};

static int fail(struct dec *d, const char *path, const char *what)
{
    snprintf(d->err, d->errlen, "spec field '%s' %s", path, what);
    return -EINVAL;
}

/* only_keys: every key of o is one of allowed. */
static int only_keys(struct dec *d, const json_t *o, const char *path, const char *const *allowed)
{
    const char *k;
    json_t *v;
    if (!json_is_object(o)) return fail(d, path, "must be an object");
    json_object_foreach((json_t *)o, k, v) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, k) != 0) a++;
        if (!*a) {
            snprintf(d->err, d->errlen, "spec field '%s' has unknown member '%.64s'", path, k);
            return -EINVAL;
        }
    }
    return 0;
}

/* get_int: o[key] in [min, max]; absent leaves *out unless required. */
static int get_int(struct dec *d, const json_t *o, const char *path, const char *key, int required, int64_t min,
                   int64_t max, int64_t *out)
{
    char p[128];
    json_t *v = json_object_get(o, key);
    snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", key);
    if (!v) return required ? fail(d, p, "is required") : 0;
    if (!json_is_integer(v)) return fail(d, p, "must be an integer");
    if (json_integer_value(v) < min || json_integer_value(v) > max) return fail(d, p, "is out of range");
    *out = json_integer_value(v);
    return 0;
}

static int get_enum(struct dec *d, const json_t *o, const char *path, const char *key, int required,
                    const char *const *names, int *out)
{
    char p[128];
    json_t *v = json_object_get(o, key);
    snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", key);
    if (!v) return required ? fail(d, p, "is required") : 0;
    if (!json_is_string(v)) return fail(d, p, "must be a string");
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], json_string_value(v)) == 0) {
            *out = i;
            return 0;
        }
    return fail(d, p, "has an unknown value");
}

static int get_bool(struct dec *d, const json_t *o, const char *path, const char *key, int *out)
{
    char p[128];
    json_t *v = json_object_get(o, key);
    snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", key);
    if (!v) return 0;
    if (!json_is_boolean(v)) return fail(d, p, "must be a boolean");
    *out = json_is_true(v);
    return 0;
}

static int get_str(struct dec *d, const json_t *o, const char *path, const char *key, int required, char **out)
{
    char p[128];
    json_t *v = json_object_get(o, key);
    snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", key);
    if (!v) return required ? fail(d, p, "is required") : 0;
    if (!json_is_string(v)) return fail(d, p, "must be a string");
    if (!(*out = strdup(json_string_value(v)))) return -ENOMEM;
    return 0;
}

static int get_arr(struct dec *d, const json_t *o, const char *path, const char *key, size_t max, json_t **out)
{
    char p[128];
    json_t *v = json_object_get(o, key);
    snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", key);
    *out = NULL;
    if (!v) return 0;
    if (!json_is_array(v)) return fail(d, p, "must be an array");
    if (json_array_size(v) > max) return fail(d, p, "has too many elements");
    *out = v;
    return 0;
}

/* check_version: o["v"] is a version in 1..max (*version set). */
static int check_version(struct dec *d, const json_t *o, int max, int *version)
{
    int64_t v = 0;
    json_t *jv = json_object_get(o, "v");
    if (!json_is_object(o)) return fail(d, "", "document must be an object");
    if (!json_is_integer(jv)) return fail(d, "v", "is required (the document's version)");
    v = json_integer_value(jv);
    if (v < 1 || v > max) {
        snprintf(d->err, d->errlen, "spec version %lld is not known (this build reads versions 1 to %d)",
                 (long long)v, max);
        return -EINVAL;
    }
    if (version) *version = (int)v;
    return 0;
}

static json_t *load(struct dec *d, const char *text, size_t len)
{
    json_error_t je;
    json_t *o = text ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!o) snprintf(d->err, d->errlen, "spec document is not JSON%s%s", text ? ": " : "", text ? je.text : "");
    return o;
}

static int rule_decode(struct dec *d, const json_t *o, const char *path, struct sched_rule *r)
{
    static const char *const keys[] = { "unit", "every", "dow", "wom", "dom", "doy", NULL };
    int unit = 0, rc;
    int64_t every = 1, dow = 0, wom = 0, dom = 0, doy = 0;
    memset(r, 0, sizeof *r);
    if ((rc = only_keys(d, o, path, keys)) || (rc = get_enum(d, o, path, "unit", 1, g_units, &unit)) ||
        (rc = get_int(d, o, path, "every", 0, 1, 100000, &every)) ||
        (rc = get_int(d, o, path, "dow", 0, 0, 127, &dow)) ||
        (rc = get_int(d, o, path, "wom", 0, -1, 4, &wom)) || (rc = get_int(d, o, path, "dom", 0, 0, 31, &dom)) ||
        (rc = get_int(d, o, path, "doy", 0, -1, 1, &doy)))
        return rc;
    r->unit = (enum sched_unit)unit;
    r->frequency = every;
    r->dow_mask = (unsigned)dow;
    r->week_of_month = (int)wom;
    r->day_of_month = (int)dom;
    r->day_of_year = (int)doy;
    return 0;
}

int spec_policy_decode(const char *text, size_t len, struct spec_policy *p, char *err, size_t errlen)
{
    static const char *const keys[] = { "v", "incr", "full", "blackouts", "retention", "retries",
                                        "retry_interval_min", NULL };
    static const char *const keys_v2[] = { "v", "incr", "full", "blackouts", "retention", "retries",
                                           "retry_interval_min", "log", "log_retention", NULL };
    static const char *const keys_v3[] = { "v", "incr", "full", "blackouts", "retention", "retries",
                                           "retry_interval_min", "log", "log_retention", "ext", "lock", NULL };
    static const char *const lock_keys[] = { "mode", "unit", "n", NULL };
    static const char *const lock_modes[] = { "none", "administrative", "compliance", NULL };
    static const char *const ext_keys[] = { "unit", "every", "retention", "run", NULL };
    static const char *const bw_keys[] = { "day", "start", "end", NULL };
    static const char *const ret_keys[] = { "unit", "n", NULL };
    struct dec d = { err, errlen };
    json_t *o = load(&d, text, len), *a, *v;
    size_t i;
    int rc, version = 0;
    memset(p, 0, sizeof *p);
    if (!o) return -EINVAL;
    if ((rc = check_version(&d, o, SPEC_POLICY_VERSION, &version)) ||
        (rc = only_keys(&d, o, "", version >= 3 ? keys_v3 : version == 2 ? keys_v2 : keys)))
        goto out;
    if ((rc = get_arr(&d, o, "", "ext", SPEC_MAX_EXT, &a))) goto out;
    json_array_foreach(a, i, v) {
        char path[32], rpath[48];
        int unit = 0, run = 0, runit = 0;
        struct spec_ext *e = &p->ext[p->next];
        json_t *r;
        snprintf(path, sizeof path, "ext[%zu]", i);
        snprintf(rpath, sizeof rpath, "%s.retention", path);
        if ((rc = only_keys(&d, v, path, ext_keys)) || (rc = get_enum(&d, v, path, "unit", 1, g_ext_units, &unit)) ||
            (rc = get_int(&d, v, path, "every", 1, 1, 100000, &e->every)) ||
            (rc = get_enum(&d, v, path, "run", 1, g_ext_runs, &run)))
            goto out;
        if (!json_is_object(r = json_object_get(v, "retention"))) {
            rc = fail(&d, rpath, "must be an object");
            goto out;
        }
        if ((rc = only_keys(&d, r, rpath, ret_keys)) || (rc = get_enum(&d, r, rpath, "unit", 1, g_ret_units, &runit)) ||
            (rc = get_int(&d, r, rpath, "n", 1, 0, 100000, &e->retention.duration)))
            goto out;
        if (runit == SCHED_RET_NONE) {
            rc = fail(&d, rpath, "unit must not be none");
            goto out;
        }
        e->unit = (enum spec_ext_unit)unit;
        e->run = (enum spec_ext_run)run;
        e->retention.unit = (enum sched_ret_unit)runit;
        p->next++;
    }
    if ((v = json_object_get(o, "lock"))) {
        int mode = 0, unit = 0;
        if ((rc = only_keys(&d, v, "lock", lock_keys)) || (rc = get_enum(&d, v, "lock", "mode", 1, lock_modes, &mode)) ||
            (rc = get_enum(&d, v, "lock", "unit", 1, g_ret_units, &unit)) ||
            (rc = get_int(&d, v, "lock", "n", 1, 1, 100000, &p->lock.duration)))
            goto out;
        if (mode == SPEC_LOCK_NONE || unit == SCHED_RET_NONE) {
            rc = fail(&d, "lock", "needs a mode and a unit");
            goto out;
        }
        p->lock_mode = (enum spec_lock_mode)mode;
        p->lock.unit = (enum sched_ret_unit)unit;
    }
    if ((v = json_object_get(o, "log"))) {
        if ((rc = rule_decode(&d, v, "log", &p->log))) goto out;
        if (p->log.unit != SCHED_MINUTES && p->log.unit != SCHED_HOURS) {
            rc = fail(&d, "log.unit", "must be minutes or hours");
            goto out;
        }
        p->has_log = 1;
    }
    if ((v = json_object_get(o, "log_retention"))) {
        int unit = 0;
        if ((rc = only_keys(&d, v, "log_retention", ret_keys)) ||
            (rc = get_enum(&d, v, "log_retention", "unit", 1, g_ret_units, &unit)) ||
            (rc = get_int(&d, v, "log_retention", "n", 1, 0, 100000, &p->log_retention.duration)))
            goto out;
        p->log_retention.unit = (enum sched_ret_unit)unit;
    }
    if ((v = json_object_get(o, "incr"))) {
        if ((rc = rule_decode(&d, v, "incr", &p->incr))) goto out;
        p->has_incr = 1;
    }
    if ((rc = get_arr(&d, o, "", "full", SCHED_MAX_FULL, &a))) goto out;
    json_array_foreach(a, i, v) {
        char path[32];
        snprintf(path, sizeof path, "full[%zu]", i);
        if ((rc = rule_decode(&d, v, path, &p->full[p->nfull]))) goto out;
        p->nfull++;
    }
    if ((rc = get_arr(&d, o, "", "blackouts", SCHED_MAX_BLACKOUT, &a))) goto out;
    json_array_foreach(a, i, v) {
        char path[32];
        int64_t day = 0, s = 0, e = 0;
        snprintf(path, sizeof path, "blackouts[%zu]", i);
        if ((rc = only_keys(&d, v, path, bw_keys)) || (rc = get_int(&d, v, path, "day", 1, 0, 6, &day)) ||
            (rc = get_int(&d, v, path, "start", 1, 0, 1439, &s)) || (rc = get_int(&d, v, path, "end", 1, 0, 1439, &e)))
            goto out;
        p->blackout[p->nblackout++] =
            (struct sched_blackout){ .day = (int)day, .start_min = (int)s, .end_min = (int)e };
    }
    if ((v = json_object_get(o, "retention"))) {
        int unit = 0;
        if ((rc = only_keys(&d, v, "retention", ret_keys)) ||
            (rc = get_enum(&d, v, "retention", "unit", 1, g_ret_units, &unit)) ||
            (rc = get_int(&d, v, "retention", "n", 1, 0, 100000, &p->retention.duration)))
            goto out;
        p->retention.unit = (enum sched_ret_unit)unit;
    }
    if ((rc = get_int(&d, o, "", "retries", 0, 0, 1000, &p->retries)) ||
        (rc = get_int(&d, o, "", "retry_interval_min", 0, 0, 100000, &p->retry_interval_min)))
        goto out;
out:
    json_decref(o);
    if (rc) memset(p, 0, sizeof *p);
    return rc;
}

static int str_list(struct dec *d, const json_t *o, const char *path, const char *key, char ***out, size_t *n)
{
    json_t *a, *v;
    size_t i;
    int rc = get_arr(d, o, path, key, 1u << 20, &a);
    *out = NULL;
    *n = 0;
    if (rc || !a || !json_array_size(a)) return rc;
    if (!(*out = calloc(json_array_size(a), sizeof **out))) return -ENOMEM;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v)) {
            char p[128];
            snprintf(p, sizeof p, "%s%s%s[%zu]", path, *path ? "." : "", key, i);
            return fail(d, p, "must be a string");
        }
        if (!((*out)[i] = strdup(json_string_value(v)))) return -ENOMEM;
        (*n)++;
    }
    return 0;
}

static int object_decode(struct dec *d, const json_t *o, const char *path, struct spec_object *so)
{
    static const char *const keys[] = { "id", "name", "paths", NULL };
    static const char *const path_keys[] = { "include", "exclude", NULL };
    json_t *a, *v;
    size_t i;
    int rc;
    if ((rc = only_keys(d, o, path, keys)) || (rc = get_int(d, o, path, "id", 1, 1, INT64_MAX, &so->id)) ||
        (rc = get_str(d, o, path, "name", 0, &so->name)) || (rc = get_arr(d, o, path, "paths", 1u << 20, &a)))
        return rc;
    if (!a || !json_array_size(a)) return 0;
    if (!(so->paths = calloc(json_array_size(a), sizeof *so->paths))) return -ENOMEM;
    json_array_foreach(a, i, v) {
        char p[128];
        struct spec_path *sp = &so->paths[i];
        snprintf(p, sizeof p, "%s.paths[%zu]", path, i);
        so->npaths++;
        if ((rc = only_keys(d, v, p, path_keys)) || (rc = get_str(d, v, p, "include", 1, &sp->include)) ||
            (rc = str_list(d, v, p, "exclude", &sp->excludes, &sp->nexcludes)))
            return rc;
    }
    return 0;
}

int spec_group_decode(const char *text, size_t len, struct spec_group *g, char *err, size_t errlen)
{
    static const char *const keys[] = { "v", "env", "protection", "policy", "objects", "exclude", "start",
                                        "paused", "abort_in_blackouts", "end", NULL };
    static const char *const start_keys[] = { "hour", "minute", "tz", NULL };
    struct dec d = { err, errlen };
    json_t *o = load(&d, text, len), *a, *v;
    size_t i;
    int rc, env = 0, prot = 0;
    memset(g, 0, sizeof *g);
    if (!o) return -EINVAL;
    if ((rc = check_version(&d, o, SPEC_VERSION, NULL)) || (rc = only_keys(&d, o, "", keys)) ||
        (rc = get_enum(&d, o, "", "env", 1, g_envs, &env)) ||
        (rc = get_enum(&d, o, "", "protection", 0, g_prots, &prot)) ||
        (rc = get_str(&d, o, "", "policy", 0, &g->policy_id)) ||
        (rc = str_list(&d, o, "", "exclude", &g->excludes, &g->nexcludes)) ||
        (rc = get_bool(&d, o, "", "paused", &g->paused)) ||
        (rc = get_bool(&d, o, "", "abort_in_blackouts", &g->abort_in_blackouts)) ||
        (rc = get_int(&d, o, "", "end", 0, 0, INT64_MAX, &g->end_usecs)) ||
        (rc = get_arr(&d, o, "", "objects", 1u << 20, &a)))
        goto out;
    g->env = (enum spec_env)env;
    g->protection = (enum spec_protection)prot;
    if (a && json_array_size(a) && !(g->objects = calloc(json_array_size(a), sizeof *g->objects))) {
        rc = -ENOMEM;
        goto out;
    }
    json_array_foreach(a, i, v) {
        char p[32];
        snprintf(p, sizeof p, "objects[%zu]", i);
        g->nobjects++;
        if ((rc = object_decode(&d, v, p, &g->objects[i]))) goto out;
    }
    if ((v = json_object_get(o, "start"))) {
        int64_t h = 0, m = 0;
        if ((rc = only_keys(&d, v, "start", start_keys)) || (rc = get_int(&d, v, "start", "hour", 1, 0, 23, &h)) ||
            (rc = get_int(&d, v, "start", "minute", 1, 0, 59, &m)) ||
            (rc = get_str(&d, v, "start", "tz", 0, &g->time_zone)))
            goto out;
        g->has_start = 1;
        g->start_hour = (int)h;
        g->start_minute = (int)m;
    }
out:
    json_decref(o);
    if (rc) spec_group_free(g);
    return rc;
}

void spec_group_free(struct spec_group *g)
{
    if (!g) return;
    for (size_t i = 0; i < g->nobjects; i++) {
        struct spec_object *so = &g->objects[i];
        for (size_t k = 0; k < so->npaths; k++) {
            for (size_t e = 0; e < so->paths[k].nexcludes; e++) free(so->paths[k].excludes[e]);
            free(so->paths[k].excludes);
            free(so->paths[k].include);
        }
        free(so->paths);
        free(so->name);
    }
    for (size_t i = 0; i < g->nexcludes; i++) free(g->excludes[i]);
    free(g->excludes);
    free(g->objects);
    free(g->policy_id);
    free(g->time_zone);
    memset(g, 0, sizeof *g);
}

/* ---------- what the scheduler and retention derive ---------- */

int64_t spec_policy_expiry(const struct spec_policy *p, int64_t start)
{
    int64_t e;
    if (p->retention.unit == SCHED_RET_NONE) return 0;
    e = sched_add_retention_unit(start, p->retention.unit, p->retention.duration);
    return e > 0 ? e : 0;
}

int64_t spec_policy_lock_until(const struct spec_policy *p, int64_t start)
{
    int64_t e;
    if (p->lock_mode == SPEC_LOCK_NONE || p->lock.unit == SCHED_RET_NONE) return 0;
    e = sched_add_retention_unit(start, p->lock.unit, p->lock.duration);
    return e > 0 ? e : 0;
}

int64_t spec_policy_log_expiry(const struct spec_policy *p, int64_t start)
{
    struct spec_policy q;
    if (p->log_retention.unit == SCHED_RET_NONE) return spec_policy_expiry(p, start);
    q = *p;
    q.retention = p->log_retention;
    return spec_policy_expiry(&q, start);
}

int64_t spec_log_due(const struct spec_group *g, const struct spec_policy *p, int64_t ref_usecs, int64_t after,
                     int64_t upto)
{
    struct sched_plan plan;
    char err[128];
    if (!p->has_log || g->env != SPEC_ENV_SQL || g->paused) return SCHED_NEVER;
    if (g->end_usecs > 0 && upto >= g->end_usecs) return SCHED_NEVER;
    (void)spec_plan(g, p, ref_usecs, &plan, err, sizeof err); /* an unknown zone: UTC, as for the other slots */
    return sched_due_slot(&p->log, &plan.anchor, after, upto);
}

int spec_plan(const struct spec_group *g, const struct spec_policy *p, int64_t ref_usecs, struct sched_plan *out,
              char *err, size_t errlen)
{
    const char *tz = g->time_zone;
    int ret = 0;
    memset(out, 0, sizeof *out);
    out->anchor.ref_usecs = ref_usecs;
    if (g->has_start) {
        out->anchor.hour = g->start_hour;
        out->anchor.minute = g->start_minute;
    }
    if (tz && *tz && strcmp(tz, "UTC") != 0 && strcmp(tz, "Etc/UTC") != 0) {
        out->anchor.tz = sched_tz_get(tz);
        if (!out->anchor.tz) {
            snprintf(err, errlen, "unknown time zone '%s': scheduling in UTC", tz);
            ret = 1;
        }
    }
    out->end_usecs = g->end_usecs;
    out->paused = g->paused;
    out->abort_in_blackouts = g->abort_in_blackouts;
    out->has_incr = p->has_incr;
    out->incr = p->incr;
    out->nfull = p->nfull <= SCHED_MAX_FULL ? p->nfull : SCHED_MAX_FULL;
    memcpy(out->full, p->full, out->nfull * sizeof out->full[0]);
    out->nblackout = p->nblackout <= SCHED_MAX_BLACKOUT ? p->nblackout : SCHED_MAX_BLACKOUT;
    memcpy(out->blackout, p->blackout, out->nblackout * sizeof out->blackout[0]);
    return ret;
}
