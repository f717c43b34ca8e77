/* site_req.c: validation of the site restore API's POST .../restores body (site.h), before anything
 * is looked up: every member is checked by type and form, strictly (an unknown member is a 400 naming
 * it, so a misspelt option is never silently ignored), names are PostgreSQL identifiers, tables are
 * normalized to "schema.table", and objects may neither repeat nor overlap (a table listed beside its
 * whole database). What needs the catalog or the target server (the site, the execution's objects,
 * collisions) is checked by site_api.c afterwards. The struct borrows strings from the body; only the
 * exclude lists are allocated. */
#include "api/site.h"
#include "api/jv.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_top[] = { "name", "target_site", "job_settings", NULL };
static const char *const g_settings[] = { "objects", "continue_job_on_access_right_violation", "run_as_a_copy_job",
                                          "skip_statstics", "skip_join_or_hash_indexes",
                                          "restore_to_a_different_database_on_target_site", NULL };
static const char *const g_object[] = { "object_name", "object_type", "parent_name", "parent_type",
                                        "exclude_objects", "include_all", "rename_to", NULL };
static const char *const g_exclude[] = { "object_name", "object_type", "parent_name", "parent_type", NULL };
static const char *const g_types[] = { "DATABASE", "TABLE", NULL };
static const char *const g_db_parent_types[] = { "INSTANCE", NULL };
static const char *const g_table_parent_types[] = { "DATABASE", NULL };

const char *site_ident_problem(const char *s)
{
    size_t n = strlen(s);
    if (n == 0) return "must not be empty";
    if (n > SITE_IDENT_MAX) return "is longer than 63 bytes (a PostgreSQL identifier)";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return "must not contain control characters";
    return NULL;
}

const char *site_table_name(const char *in, char *out, size_t outlen)
{
    const char *dot = strchr(in, '.'), *why;
    char schema[SITE_IDENT_MAX + 1];
    size_t ns;
    if (!dot) {
        if ((why = site_ident_problem(in)) != NULL) return why;
        snprintf(out, outlen, "public.%s", in);
        return NULL;
    }
    if (strchr(dot + 1, '.')) return "must be 'table' or 'schema.table'";
    ns = (size_t)(dot - in);
    if (ns == 0 || ns > SITE_IDENT_MAX) return "has an empty or over-long schema name ('schema.table')";
    memcpy(schema, in, ns);
    schema[ns] = '\0';
    if ((why = site_ident_problem(schema)) != NULL) return why;
    if ((why = site_ident_problem(dot + 1)) != NULL) return why;
    snprintf(out, outlen, "%s", in);
    return NULL;
}

int site_id_parse(const char *s, int64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (!s || *s < '1' || *s > '9') return 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || p - s >= 19) return 0;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > (uint64_t)INT64_MAX) return 0;
    if (out) *out = (int64_t)v;
    return 1;
}

/* only_known: every member of obj is one of allowed; else a 400 naming the first other one. */
static int only_known(struct api_resp *resp, json_t *obj, const char *prefix, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        char p[300];
        if (jv_enum_ok(key, allowed)) continue;
        api_error(resp, 400, "InvalidField", "field '%.200s' is not a field of this request",
                  jv_path(p, sizeof p, prefix, key));
        return 0;
    }
    return 1;
}

/* ident_field: an optional string member that must be an identifier. */
static int ident_field(struct api_resp *resp, json_t *obj, const char *prefix, const char *field, int required,
                       const char **out)
{
    const char *s = NULL, *why;
    if (!jv_str(resp, obj, prefix, field, required, &s)) return 0;
    if (s && strlen(s) != json_string_length(json_object_get(obj, field)))
        return jv_fail(resp, prefix, field, "must not contain a NUL character");
    if (s && (why = site_ident_problem(s)) != NULL) return jv_fail(resp, prefix, field, "('%.80s') %s", s, why);
    *out = s;
    return 1;
}

void site_restore_req_release(struct site_restore_req *r)
{
    for (size_t i = 0; i < r->n_objects; i++) {
        for (size_t k = 0; k < r->objects[i].n_excludes; k++) free(r->objects[i].excludes[k]);
        free(r->objects[i].excludes);
    }
    free(r->objects);
    memset(r, 0, sizeof *r);
}

/* parse_excludes: exclude_objects of a DATABASE: table names, as strings or as objects naming a
 * TABLE (of this database when parent_name is given). */
static int parse_excludes(struct api_resp *resp, json_t *arr, const char *prefix, struct site_req_object *o)
{
    size_t i;
    json_t *e;
    if (json_array_size(arr) > SITE_MAX_EXCLUDES)
        return jv_fail(resp, prefix, "exclude_objects", "holds more than %d names", SITE_MAX_EXCLUDES);
    if (json_array_size(arr) && !(o->excludes = calloc(json_array_size(arr), sizeof *o->excludes))) {
        api_error(resp, 500, "InternalError", "out of memory");
        return 0;
    }
    json_array_foreach(arr, i, e) {
        char p[300], name[SITE_TABLE_MAX + 1];
        const char *s = NULL, *why, *type = NULL, *parent = NULL;
        snprintf(p, sizeof p, "%s.exclude_objects[%zu]", prefix, i);
        if (json_is_string(e)) {
            s = json_string_value(e);
            if (strlen(s) != json_string_length(e)) {
                api_error(resp, 400, "InvalidField", "field '%s' must not contain a NUL character", p);
                return 0;
            }
        } else if (json_is_object(e)) {
            if (!only_known(resp, e, p, g_exclude) || !jv_str(resp, e, p, "object_name", 1, &s) ||
                !jv_enum(resp, e, p, "object_type", 0, g_types + 1, &type) ||
                !jv_str(resp, e, p, "parent_name", 0, &parent) ||
                !jv_enum(resp, e, p, "parent_type", 0, g_table_parent_types, NULL))
                return 0;
            if (parent && strcmp(parent, o->database) != 0)
                return jv_fail(resp, p, "parent_name", "('%.80s') must be the database excluded from ('%.80s')",
                                parent, o->database);
        } else {
            api_error(resp, 400, "InvalidField", "field '%s' must be a table name or an object naming one", p);
            return 0;
        }
        if ((why = site_table_name(s, name, sizeof name)) != NULL) {
            api_error(resp, 400, "InvalidField", "field '%s' ('%.80s') %s", p, s, why);
            return 0;
        }
        for (size_t k = 0; k < o->n_excludes; k++)
            if (strcmp(o->excludes[k], name) == 0) {
                api_error(resp, 400, "InvalidField", "field '%s' repeats table '%s'", p, name);
                return 0;
            }
        if (!(o->excludes[o->n_excludes] = strdup(name))) {
            api_error(resp, 500, "InternalError", "out of memory");
            return 0;
        }
        o->n_excludes++;
    }
    return 1;
}

static int parse_object(struct api_resp *resp, json_t *it, const char *p, struct site_req_object *o)
{
    const char *name = NULL, *type = NULL, *parent = NULL, *ptype = NULL, *why;
    json_t *ex = NULL;
    int include_all = 1;
    if (!only_known(resp, it, p, g_object) || !jv_str(resp, it, p, "object_name", 1, &name) ||
        !jv_enum(resp, it, p, "object_type", 1, g_types, &type) || !jv_str(resp, it, p, "parent_name", 0, &parent) ||
        !jv_str(resp, it, p, "parent_type", 0, &ptype) || !jv_bool(resp, it, p, "include_all", 0, &include_all, NULL) ||
        !jv_arr(resp, it, p, "exclude_objects", 0, &ex))
        return 0;
    if (strcmp(type, "DATABASE") == 0) {
        o->kind = SITE_OBJ_DATABASE;
        if (!ident_field(resp, it, p, "object_name", 1, &o->database) ||
            !jv_enum(resp, it, p, "parent_type", 0, g_db_parent_types, NULL) ||
            !ident_field(resp, it, p, "rename_to", 0, &o->rename_to))
            return 0;
        if (!include_all)
            return jv_fail(resp, p, "include_all", "false is not supported: a DATABASE is restored with all its "
                                                   "tables except exclude_objects");
        if (ex && !parse_excludes(resp, ex, p, o)) return 0;
        return 1;
    }
    o->kind = SITE_OBJ_TABLE;
    if (!jv_enum(resp, it, p, "parent_type", 0, g_table_parent_types, NULL)) return 0;
    if (!parent) return jv_fail(resp, p, "parent_name", "is required for a TABLE (the database holding it)");
    if (!ident_field(resp, it, p, "parent_name", 1, &o->database)) return 0;
    if (strlen(name) != json_string_length(json_object_get(it, "object_name")))
        return jv_fail(resp, p, "object_name", "must not contain a NUL character");
    if ((why = site_table_name(name, o->table, sizeof o->table)) != NULL)
        return jv_fail(resp, p, "object_name", "('%.80s') %s", name, why);
    if (ex && json_array_size(ex) > 0)
        return jv_fail(resp, p, "exclude_objects", "must be empty for a TABLE (a table has no objects to exclude)");
    if (!jv_str(resp, it, p, "rename_to", 0, &o->rename_to)) return 0;
    if (o->rename_to) {
        char tmp[SITE_TABLE_MAX + 1];
        if (strlen(o->rename_to) != json_string_length(json_object_get(it, "rename_to")))
            return jv_fail(resp, p, "rename_to", "must not contain a NUL character");
        if ((why = site_table_name(o->rename_to, tmp, sizeof tmp)) != NULL)
            return jv_fail(resp, p, "rename_to", "('%.80s') %s", o->rename_to, why);
    }
    return 1;
}

/* overlap: objects b repeats or lies inside a (both ways are checked by the caller's loop). */
static int same_or_inside(const struct site_req_object *a, const struct site_req_object *b)
{
    if (strcmp(a->database, b->database) != 0) return 0;
    if (a->kind == SITE_OBJ_DATABASE) return 1; /* b is the same database or one of its tables */
    return b->kind == SITE_OBJ_TABLE && strcmp(a->table, b->table) == 0;
}

int site_restore_req_parse(struct api_resp *resp, json_t *body, struct site_restore_req *out)
{
    json_t *js, *objs, *ts;
    size_t i;
    json_t *it;
    memset(out, 0, sizeof *out);
    if (!only_known(resp, body, NULL, g_top) || !jv_str_nonempty(resp, body, NULL, "name", 1, &out->name) ||
        !jv_obj(resp, body, NULL, "job_settings", 1, &js) || !only_known(resp, js, "job_settings", g_settings) ||
        !jv_arr(resp, js, "job_settings", "objects", 1, &objs) ||
        !jv_bool(resp, js, "job_settings", "continue_job_on_access_right_violation", 0, &out->continue_on_violation,
                 NULL) ||
        !jv_bool(resp, js, "job_settings", "run_as_a_copy_job", 0, &out->copy, NULL) ||
        !jv_bool(resp, js, "job_settings", "skip_statstics", 0, &out->skip_statistics, NULL) ||
        !jv_bool(resp, js, "job_settings", "skip_join_or_hash_indexes", 0, &out->skip_indexes, NULL) ||
        !ident_field(resp, js, "job_settings", "restore_to_a_different_database_on_target_site", 0,
                     &out->target_database))
        return 0;
    if (strlen(out->name) > 256) return jv_fail(resp, NULL, "name", "is longer than 256 bytes");
    ts = json_object_get(body, "target_site");
    if (ts) {
        int ok = json_is_integer(ts) ? json_integer_value(ts) > 0 : json_is_string(ts) &&
                 strlen(json_string_value(ts)) == json_string_length(ts) &&
                 site_id_parse(json_string_value(ts), NULL);
        if (!ok) return jv_fail(resp, NULL, "target_site", "must be a site id (a PostgreSQL instance's object id)");
        out->target_site = json_is_integer(ts) ? json_integer_value(ts) : 0;
        if (!out->target_site) site_id_parse(json_string_value(ts), &out->target_site);
    }
    if (json_array_size(objs) == 0) return jv_fail(resp, "job_settings", "objects", "must name at least one object");
    if (json_array_size(objs) > SITE_MAX_OBJECTS)
        return jv_fail(resp, "job_settings", "objects", "holds more than %d objects", SITE_MAX_OBJECTS);
    if (!(out->objects = calloc(json_array_size(objs), sizeof *out->objects))) {
        api_error(resp, 500, "InternalError", "out of memory");
        return 0;
    }
    json_array_foreach(objs, i, it) {
        char p[64];
        snprintf(p, sizeof p, "job_settings.objects[%zu]", i);
        out->n_objects = i + 1;
        if (!json_is_object(it)) {
            api_error(resp, 400, "InvalidField", "field '%s' must be an object", p);
            goto bad;
        }
        if (!parse_object(resp, it, p, &out->objects[i])) goto bad;
        for (size_t k = 0; k < i; k++) {
            const struct site_req_object *a = &out->objects[k], *b = &out->objects[i];
            if (same_or_inside(a, b) || same_or_inside(b, a)) {
                api_error(resp, 400, "InvalidField", "field '%s' overlaps job_settings.objects[%zu]: each table is "
                                                     "restored once (a DATABASE includes its tables)", p, k);
                goto bad;
            }
        }
    }
    if (out->target_database) {
        for (i = 0; i < out->n_objects; i++)
            if (out->objects[i].kind == SITE_OBJ_DATABASE && out->objects[i].rename_to) {
                jv_fail(resp, "job_settings", "restore_to_a_different_database_on_target_site",
                        "contradicts job_settings.objects[%zu].rename_to (a database's new name)", i);
                goto bad;
            }
    }
    return 1;
bad:
    site_restore_req_release(out);
    return 0;
}
