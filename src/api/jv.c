/* jv.c: field-by-field JSON validation with messages that name the field path (see jv.h), and the
 * one null rule every request body goes through first (jv_strip_nulls). */
#include "api/jv.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *jv_path(char *buf, size_t len, const char *prefix, const char *field)
{
    if (prefix && *prefix)
        snprintf(buf, len, "%s.%s", prefix, field);
    else
        snprintf(buf, len, "%s", field);
    return buf;
}

static json_t *get(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                   int *ok)
{
    char p[256];
    json_t *v = json_object_get(obj, field);
    *ok = 1;
    if (!v || json_is_null(v)) {
        if (required) {
            api_error(resp, 400, "MissingField", "field '%s' is required", jv_path(p, sizeof p, prefix, field));
            *ok = 0;
        }
        return NULL;
    }
    return v;
}

static int wrong_type(struct api_resp *resp, const char *prefix, const char *field, const char *want)
{
    char p[256];
    api_error(resp, 400, "InvalidField", "field '%s' must be %s", jv_path(p, sizeof p, prefix, field), want);
    return 0;
}

int jv_str(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
           const char **out)
{
    int ok;
    json_t *v = get(resp, obj, prefix, field, required, &ok);
    if (!ok) return 0;
    if (!v) return 1;
    if (!json_is_string(v)) return wrong_type(resp, prefix, field, "a string");
    if (out) *out = json_string_value(v);
    return 1;
}

int jv_str_nonempty(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                    const char **out)
{
    const char *s = NULL;
    if (!jv_str(resp, obj, prefix, field, required, &s)) return 0;
    if (s) {
        const char *p = s;
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) return wrong_type(resp, prefix, field, "a non-empty string");
        if (out) *out = s;
    }
    return 1;
}

int jv_int(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
           int64_t *out, int *present)
{
    int ok;
    json_t *v = get(resp, obj, prefix, field, required, &ok);
    if (present) *present = 0;
    if (!ok) return 0;
    if (!v) return 1;
    if (!json_is_integer(v)) return wrong_type(resp, prefix, field, "an integer");
    if (out) *out = json_integer_value(v);
    if (present) *present = 1;
    return 1;
}

int jv_bool(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
            int *out, int *present)
{
    int ok;
    json_t *v = get(resp, obj, prefix, field, required, &ok);
    if (present) *present = 0;
    if (!ok) return 0;
    if (!v) return 1;
    if (!json_is_boolean(v)) return wrong_type(resp, prefix, field, "a boolean");
    if (out) *out = json_is_true(v);
    if (present) *present = 1;
    return 1;
}


int jv_enum(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
            const char *const *allowed, const char **out)
{
    const char *s = NULL;
    char p[256], list[512];
    size_t used = 0;
    if (!jv_str(resp, obj, prefix, field, required, &s)) return 0;
    if (!s) return 1;
    if (jv_enum_ok(s, allowed)) {
        if (out) *out = s;
        return 1;
    }
    list[0] = '\0';
    for (const char *const *a = allowed; *a && used < sizeof list; a++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", a == allowed ? "" : ", ", *a);
    api_error(resp, 400, "InvalidField", "field '%s' has unknown value '%s' (allowed: %s)",
              jv_path(p, sizeof p, prefix, field), s, list);
    return 0;
}

int jv_obj(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required, json_t **out)
{
    int ok;
    json_t *v = get(resp, obj, prefix, field, required, &ok);
    if (out) *out = NULL;
    if (!ok) return 0;
    if (!v) return 1;
    if (!json_is_object(v)) return wrong_type(resp, prefix, field, "an object");
    if (out) *out = v;
    return 1;
}

int jv_arr(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required, json_t **out)
{
    int ok;
    json_t *v = get(resp, obj, prefix, field, required, &ok);
    if (out) *out = NULL;
    if (!ok) return 0;
    if (!v) return 1;
    if (!json_is_array(v)) return wrong_type(resp, prefix, field, "an array");
    if (out) *out = v;
    return 1;
}

/* ---- composite checks (formerly api_v_* of api/schedule.c: one validator family) ---------------- */

int jv_fail(struct api_resp *resp, const char *prefix, const char *field, const char *fmt, ...)
{
    char path[256], what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    api_error(resp, 400, "InvalidField", "field '%s' %s", jv_path(path, sizeof path, prefix, field), what);
    return 0;
}

int jv_int_range(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                    int64_t min, int64_t max, int64_t *out, int *present)
{
    int64_t v = 0;
    int here = 0;
    if (present) *present = 0;
    if (!jv_int(resp, obj, prefix, field, required, &v, &here)) return 0;
    if (!here) return 1;
    if (v < min) {
        if (min == 1) return jv_fail(resp, prefix, field, "must be > 0");
        return jv_fail(resp, prefix, field, "must be >= %lld", (long long)min);
    }
    if (v > max) return jv_fail(resp, prefix, field, "must be <= %lld", (long long)max);
    if (out) *out = v;
    if (present) *present = 1;
    return 1;
}

int jv_time_of_day(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required)
{
    json_t *t;
    char p[256];
    if (!jv_obj(resp, obj, prefix, field, required, &t)) return 0;
    if (!t) return 1;
    jv_path(p, sizeof p, prefix, field);
    return jv_int_range(resp, t, p, "hour", 1, 0, 23, NULL, NULL) &&
           jv_int_range(resp, t, p, "minute", 1, 0, 59, NULL, NULL) &&
           jv_str_nonempty(resp, t, p, "timeZone", 0, NULL);
}

/* elem_path: "prefix.field[i]". */
static const char *elem_path(char *buf, size_t len, const char *prefix, const char *field, size_t i)
{
    char p[256];
    snprintf(buf, len, "%s[%zu]", jv_path(p, sizeof p, prefix, field), i);
    return buf;
}

static int elem_fail(struct api_resp *resp, const char *prefix, const char *field, size_t i, const char *what)
{
    char p[300];
    api_error(resp, 400, "InvalidField", "field '%s' %s", elem_path(p, sizeof p, prefix, field, i), what);
    return 0;
}

int jv_str_array(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                    int nonempty, json_t **out)
{
    json_t *a, *v;
    size_t i;
    if (out) *out = NULL;
    if (!jv_arr(resp, obj, prefix, field, required, &a)) return 0;
    if (!a) return 1;
    if (nonempty && json_array_size(a) == 0) return jv_fail(resp, prefix, field, "must not be empty");
    json_array_foreach(a, i, v) {
        if (!json_is_string(v)) return elem_fail(resp, prefix, field, i, "must be a string");
        if (nonempty && json_string_length(v) == 0) return elem_fail(resp, prefix, field, i, "must not be empty");
    }
    if (out) *out = a;
    return 1;
}

int jv_enum_array(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                     int nonempty, const char *const *allowed, json_t **out)
{
    json_t *a, *v;
    size_t i;
    if (out) *out = NULL;
    if (!jv_str_array(resp, obj, prefix, field, required, nonempty, &a)) return 0;
    if (!a) return 1;
    json_array_foreach(a, i, v) {
        const char *s = json_string_value(v);
        if (!jv_enum_ok(s, allowed)) {
            char p[300], list[256];
            size_t used = 0;
            list[0] = '\0';
            for (const char *const *x = allowed; *x && used < sizeof list; x++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", x == allowed ? "" : ", ", *x);
            api_error(resp, 400, "InvalidField", "field '%s' has unknown value '%s' (allowed: %s)",
                      elem_path(p, sizeof p, prefix, field, i), s, list);
            return 0;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(json_string_value(json_array_get(a, j)), s) == 0) {
                char p[300];
                api_error(resp, 400, "InvalidField", "field '%s' repeats '%s'",
                          elem_path(p, sizeof p, prefix, field, i), s);
                return 0;
            }
    }
    if (out) *out = a;
    return 1;
}

int jv_int_array(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                    json_t **out)
{
    json_t *a, *v;
    size_t i;
    if (out) *out = NULL;
    if (!jv_arr(resp, obj, prefix, field, required, &a)) return 0;
    if (!a) return 1;
    json_array_foreach(a, i, v)
        if (!json_is_integer(v)) return elem_fail(resp, prefix, field, i, "must be an integer");
    if (out) *out = a;
    return 1;
}

int jv_each_object(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                      int nonempty, jv_elem_fn fn, void *ud)
{
    json_t *a, *v;
    size_t i;
    if (!jv_arr(resp, obj, prefix, field, required, &a)) return 0;
    if (!a) return 1;
    if (nonempty && json_array_size(a) == 0) return jv_fail(resp, prefix, field, "must not be empty");
    json_array_foreach(a, i, v) {
        char p[300];
        if (!json_is_object(v)) return elem_fail(resp, prefix, field, i, "must be an object");
        if (fn && !fn(resp, v, elem_path(p, sizeof p, prefix, field, i), ud)) return 0;
    }
    return 1;
}


/* jv_str_list: jv_str_array whose elements, when allowed is given, are each one of allowed (repeats
 * accepted, unlike jv_enum_array: search filters may name a value twice). */
int jv_str_list(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                const char *const *allowed, json_t **out)
{
    json_t *a, *v;
    size_t i;
    if (out) *out = NULL;
    if (!jv_str_array(resp, obj, prefix, field, required, 0, &a)) return 0;
    if (a && allowed)
        json_array_foreach(a, i, v) {
            char p[300];
            if (jv_enum_ok(json_string_value(v), allowed)) continue;
            api_error(resp, 400, "InvalidField", "field '%s' has unknown value '%.64s'",
                      elem_path(p, sizeof p, prefix, field, i), json_string_value(v));
            return 0;
        }
    if (out) *out = a;
    return 1;
}
