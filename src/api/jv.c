/* jv.c: field-by-field JSON validation with messages that name the field path (see jv.h), and the
 * one null rule every request body goes through first (jv_strip_nulls). */
#include "api/jv.h"
#include <ctype.h>
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

int jv_enum_ok(const char *s, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(s, *allowed) == 0) return 1;
    return 0;
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

/* The null rule: one recursive walk over objects and arrays. Object members whose value is null are
 * deleted (an iterator that deletes the member it stands on must step first: json_object_iter_next
 * before json_object_del). Array elements are kept as they are: a null element is a value in a list,
 * which the list's validator refuses by type. Depth is bounded by jansson's parser (2048 levels). */
void jv_strip_nulls(json_t *j)
{
    if (json_is_object(j)) {
        void *it = json_object_iter(j);
        while (it) {
            const char *key = json_object_iter_key(it);
            json_t *v = json_object_iter_value(it);
            void *next = json_object_iter_next(j, it);
            if (json_is_null(v)) json_object_del(j, key);
            else jv_strip_nulls(v);
            it = next;
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) jv_strip_nulls(v);
    }
}

/* added for search (E) */
int jv_int_list(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                json_t **out)
{
    json_t *a = NULL, *v;
    size_t i;
    char p[256];
    if (out) *out = NULL;
    if (!jv_arr(resp, obj, prefix, field, required, &a)) return 0;
    json_array_foreach(a, i, v) {
        if (!json_is_integer(v)) {
            api_error(resp, 400, "InvalidField", "field '%s[%zu]' must be an integer", jv_path(p, sizeof p, prefix, field),
                      i);
            return 0;
        }
    }
    if (out) *out = a;
    return 1;
}

int jv_str_list(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                const char *const *allowed, json_t **out)
{
    json_t *a = NULL, *v;
    size_t i;
    char p[256];
    if (out) *out = NULL;
    if (!jv_arr(resp, obj, prefix, field, required, &a)) return 0;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v)) {
            api_error(resp, 400, "InvalidField", "field '%s[%zu]' must be a string", jv_path(p, sizeof p, prefix, field),
                      i);
            return 0;
        }
        if (allowed && !jv_enum_ok(json_string_value(v), allowed)) {
            api_error(resp, 400, "InvalidField", "field '%s[%zu]' has unknown value '%.64s'",
                      jv_path(p, sizeof p, prefix, field), i, json_string_value(v));
            return 0;
        }
    }
    if (out) *out = a;
    return 1;
}
