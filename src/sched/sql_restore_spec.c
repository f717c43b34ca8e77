/* sql_restore_spec.c: the versioned document of a SQL restore job's spec (sql_restore_spec.h).
 *
 * Version 1, Coffer's names only:
 *   {"v":1, "snapshot":"<hex>", "point_usecs":int, "scope":"instance_new"|"instance_overwrite"|"objects",
 *    "source_instance":int, "target_instance":int, "target_database":str|null, "data_dir":str|null,
 *    "port":int, "host":int (optional), "items":[{"kind":"database"|"table", "database":str, "table":str|null,
 *    "rename_to":str|null, "excludes":[str,...]}, ...], "overwrite":bool, "copy_only":bool,
 *    "continue_on_access_violation":bool, "skip_analyze":bool, "skip_indexes":bool, "jobs":int}
 * The parser is strict: an unknown version or member, a wrong type or a value out of range is
 * refused with the member named, never guessed. */
#include "sched/sql_restore_spec.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_scopes[] = { NULL, "instance_new", "instance_overwrite", "objects" };
static const char *const g_kinds[] = { NULL, "database", "table" };

static json_t *sr_str(const char *s) { return s ? json_string(s) : json_null(); }

int sql_restore_spec_add_item(struct sql_restore_spec *s, enum sql_item_kind kind, const char *database,
                              const char *table, const char *rename_to, const char *const *excludes,
                              size_t n_excludes)
{
    struct sql_restore_item *v = realloc(s->items, (s->n_items + 1) * sizeof *v), *it;
    if (!v) return -ENOMEM;
    s->items = v;
    it = &v[s->n_items];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    it->database = database ? strdup(database) : NULL;
    it->table = table ? strdup(table) : NULL;
    it->rename_to = rename_to ? strdup(rename_to) : NULL;
    it->excludes = n_excludes ? calloc(n_excludes, sizeof *it->excludes) : NULL;
    int bad = (database && !it->database) || (table && !it->table) || (rename_to && !it->rename_to) ||
              (n_excludes && !it->excludes);
    for (size_t i = 0; !bad && i < n_excludes; i++) {
        if (!(it->excludes[i] = strdup(excludes[i]))) bad = 1;
        else it->n_excludes = i + 1;
    }
    if (bad) {
        for (size_t i = 0; i < it->n_excludes; i++) free(it->excludes[i]);
        free(it->excludes);
        free(it->database);
        free(it->table);
        free(it->rename_to);
        return -ENOMEM;
    }
    s->n_items++;
    return 0;
}

json_t *sql_restore_spec_doc(const struct sql_restore_spec *s)
{
    json_t *items = json_array();
    if (!items || s->scope < SQL_RESTORE_INSTANCE_NEW || s->scope > SQL_RESTORE_OBJECTS) {
        json_decref(items);
        return NULL;
    }
    for (size_t i = 0; i < s->n_items; i++) {
        const struct sql_restore_item *it = &s->items[i];
        json_t *ex = json_array();
        for (size_t k = 0; ex && k < it->n_excludes; k++) json_array_append_new(ex, json_string(it->excludes[k]));
        json_t *o = ex && (it->kind == SQL_ITEM_DATABASE || it->kind == SQL_ITEM_TABLE)
                        ? json_pack("{s:s,s:o,s:o,s:o,s:o}", "kind", g_kinds[it->kind], "database", sr_str(it->database),
                                    "table", sr_str(it->table), "rename_to", sr_str(it->rename_to), "excludes", ex)
                        : NULL;
        if (!o || json_array_append_new(items, o) != 0) {
            if (!o) json_decref(ex);
            json_decref(items);
            return NULL;
        }
    }
    json_t *doc = json_pack("{s:i,s:s,s:I,s:s,s:I,s:I,s:o,s:o,s:i,s:o,s:b,s:b,s:b,s:b,s:b,s:i}", "v", SQL_RESTORE_SPEC_VERSION,
                     "snapshot", s->snapshot_id ? s->snapshot_id : "", "point_usecs", (json_int_t)s->point_usecs,
                     "scope", g_scopes[s->scope], "source_instance", (json_int_t)s->source_instance_id,
                     "target_instance", (json_int_t)s->target_instance_id, "target_database", sr_str(s->target_database),
                     "data_dir", sr_str(s->data_dir), "port", s->port, "items", items, "overwrite", s->overwrite,
                     "copy_only", s->copy_only, "continue_on_access_violation", s->continue_on_access_violation,
                     "skip_analyze", s->skip_analyze, "skip_indexes", s->skip_indexes, "jobs", s->jobs);
    if (doc && s->host_id > 0) json_object_set_new(doc, "host", json_integer(s->host_id));
    return doc;
}

void sql_restore_spec_release(struct sql_restore_spec *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_items; i++) {
        struct sql_restore_item *it = &s->items[i];
        for (size_t k = 0; k < it->n_excludes; k++) free(it->excludes[k]);
        free(it->excludes);
        free(it->database);
        free(it->table);
        free(it->rename_to);
    }
    free(s->items);
    free(s->snapshot_id);
    free(s->target_database);
    free(s->data_dir);
    memset(s, 0, sizeof *s);
}

/* ---------- parsing ---------- */

static int sr_only(json_t *o, const char *const *allowed, const char *where, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(*a, k) == 0;
        if (!ok) {
            snprintf(err, errlen, "the SQL restore spec has an unknown member '%.60s'%s", k, where);
            return -EINVAL;
        }
    }
    return 0;
}

/* A string or null member into *out (strdup'd; NULL for null or absent when optional). */
static int sr_get_str(json_t *o, const char *name, int required, char **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, name);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required) return 0;
        snprintf(err, errlen, "the SQL restore spec lacks '%s'", name);
        return -EINVAL;
    }
    if (!json_is_string(v) || (required && !*json_string_value(v))) {
        snprintf(err, errlen, "the SQL restore spec's '%s' must be a%s string", name, required ? " non-empty" : "");
        return -EINVAL;
    }
    return (*out = strdup(json_string_value(v))) ? 0 : -ENOMEM;
}

static int sr_get_int(json_t *o, const char *name, int64_t lo, int64_t hi, int64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        snprintf(err, errlen, "the SQL restore spec's '%s' must be an integer in [%lld, %lld]", name, (long long)lo,
                 (long long)hi);
        return -EINVAL;
    }
    *out = json_integer_value(v);
    return 0;
}

static int sr_get_bool(json_t *o, const char *name, int *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, name);
    if (!json_is_boolean(v)) {
        snprintf(err, errlen, "the SQL restore spec's '%s' must be a boolean", name);
        return -EINVAL;
    }
    *out = json_is_true(v);
    return 0;
}

static int sr_enum(const char *v, const char *const *names, int n)
{
    for (int i = 1; v && i < n; i++)
        if (strcmp(v, names[i]) == 0) return i;
    return 0;
}

static int sr_parse_item(json_t *it, size_t idx, struct sql_restore_spec *s, char *err, size_t errlen)
{
    static const char *const members[] = { "kind", "database", "table", "rename_to", "excludes", NULL };
    char where[40];
    snprintf(where, sizeof where, " in items[%zu]", idx);
    if (!json_is_object(it)) {
        snprintf(err, errlen, "the SQL restore spec's items[%zu] must be an object", idx);
        return -EINVAL;
    }
    int rc = sr_only(it, members, where, err, errlen);
    if (rc) return rc;
    int kind = sr_enum(json_string_value(json_object_get(it, "kind")), g_kinds, 3);
    json_t *ex = json_object_get(it, "excludes");
    if (!kind) {
        snprintf(err, errlen, "the SQL restore spec's items[%zu].kind must be database or table", idx);
        return -EINVAL;
    }
    if (ex && !json_is_array(ex)) {
        snprintf(err, errlen, "the SQL restore spec's items[%zu].excludes must be an array", idx);
        return -EINVAL;
    }
    char *db = NULL, *table = NULL, *rename = NULL;
    size_t n_ex = json_array_size(ex);
    const char **exv = n_ex ? calloc(n_ex, sizeof *exv) : NULL;
    if (n_ex && !exv) return -ENOMEM;
    for (size_t i = 0; i < n_ex; i++) {
        if (!(exv[i] = json_string_value(json_array_get(ex, i)))) {
            snprintf(err, errlen, "the SQL restore spec's items[%zu].excludes[%zu] must be a string", idx, i);
            free(exv);
            return -EINVAL;
        }
    }
    if ((rc = sr_get_str(it, "database", 1, &db, err, errlen)) == 0 &&
        (rc = sr_get_str(it, "table", kind == SQL_ITEM_TABLE, &table, err, errlen)) == 0 &&
        (rc = sr_get_str(it, "rename_to", 0, &rename, err, errlen)) == 0)
        rc = sql_restore_spec_add_item(s, (enum sql_item_kind)kind, db, table, rename, exv, n_ex);
    free(exv);
    free(db);
    free(table);
    free(rename);
    return rc;
}

int sql_restore_spec_parse(json_t *doc, struct sql_restore_spec *s, char *err, size_t errlen)
{
    static const char *const members[] = { "v", "snapshot", "point_usecs", "scope", "source_instance",
                                           "target_instance", "target_database", "data_dir", "port", "items",
                                           "overwrite", "copy_only", "continue_on_access_violation", "skip_analyze",
                                           "skip_indexes", "jobs", "host", NULL };
    int64_t v = 0, n;
    int rc;
    memset(s, 0, sizeof *s);
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "the SQL restore spec is not an object");
        return -EINVAL;
    }
    if (!json_is_integer(json_object_get(doc, "v")) || (v = json_integer_value(json_object_get(doc, "v"))) != SQL_RESTORE_SPEC_VERSION) {
        snprintf(err, errlen, "the SQL restore spec has version %lld; this daemon reads version %d", (long long)v,
                 SQL_RESTORE_SPEC_VERSION);
        return -EINVAL;
    }
    if ((rc = sr_only(doc, members, "", err, errlen)) != 0) return rc;
    int scope = sr_enum(json_string_value(json_object_get(doc, "scope")), g_scopes, 4);
    if (!scope) {
        snprintf(err, errlen, "the SQL restore spec's 'scope' must be instance_new, instance_overwrite or objects");
        return -EINVAL;
    }
    s->scope = (enum sql_restore_scope)scope;
    json_t *items = json_object_get(doc, "items");
    if (!json_is_array(items)) {
        snprintf(err, errlen, "the SQL restore spec's 'items' must be an array");
        return -EINVAL;
    }
    if ((rc = sr_get_str(doc, "snapshot", 1, &s->snapshot_id, err, errlen)) != 0 ||
        (rc = sr_get_int(doc, "point_usecs", 0, INT64_MAX, &s->point_usecs, err, errlen)) != 0 ||
        (rc = sr_get_int(doc, "source_instance", 0, INT64_MAX, &s->source_instance_id, err, errlen)) != 0 ||
        (rc = sr_get_int(doc, "target_instance", 0, INT64_MAX, &s->target_instance_id, err, errlen)) != 0 ||
        (rc = sr_get_str(doc, "target_database", 0, &s->target_database, err, errlen)) != 0 ||
        (rc = sr_get_str(doc, "data_dir", 0, &s->data_dir, err, errlen)) != 0 ||
        (rc = sr_get_int(doc, "port", 0, 65535, &n, err, errlen)) != 0 ||
        (json_object_get(doc, "host") && (rc = sr_get_int(doc, "host", 0, INT64_MAX, &s->host_id, err, errlen)) != 0))
        goto fail;
    s->port = (int)n;
    if ((rc = sr_get_int(doc, "jobs", 0, 64, &n, err, errlen)) != 0) goto fail;
    s->jobs = (int)n;
    if ((rc = sr_get_bool(doc, "overwrite", &s->overwrite, err, errlen)) != 0 ||
        (rc = sr_get_bool(doc, "copy_only", &s->copy_only, err, errlen)) != 0 ||
        (rc = sr_get_bool(doc, "continue_on_access_violation", &s->continue_on_access_violation, err, errlen)) != 0 ||
        (rc = sr_get_bool(doc, "skip_analyze", &s->skip_analyze, err, errlen)) != 0 ||
        (rc = sr_get_bool(doc, "skip_indexes", &s->skip_indexes, err, errlen)) != 0)
        goto fail;
    for (size_t i = 0; i < json_array_size(items); i++)
        if ((rc = sr_parse_item(json_array_get(items, i), i, s, err, errlen)) != 0) goto fail;
    if (s->scope == SQL_RESTORE_INSTANCE_NEW && (!s->data_dir || s->data_dir[0] != '/')) {
        snprintf(err, errlen, "the SQL restore spec's 'data_dir' must be an absolute path for instance_new");
        rc = -EINVAL;
        goto fail;
    }
    if (s->scope == SQL_RESTORE_OBJECTS && s->n_items == 0) {
        snprintf(err, errlen, "the SQL restore spec's 'items' must name an object for scope objects");
        rc = -EINVAL;
        goto fail;
    }
    return 0;
fail:
    if (rc == -ENOMEM) snprintf(err, errlen, "out of memory");
    sql_restore_spec_release(s);
    return rc;
}
