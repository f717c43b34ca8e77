/* sources.c: source registrations and their objects in the catalog (see cat_source.h).
 *
 * Tables (migration 3): sources(tenant, id, environment, name, endpoint_key, connection_id, agent,
 * doc, registered_ms, refreshed_ms, modified_usecs, auth_status, error) with one row per
 * registration, unique per (tenant, environment, endpoint_key); objects(tenant, id, source_id,
 * parent_id, key, name, environment, object_type, path, uuid, os_type, agent, is_deleted, doc) with
 * one row per discovered object, unique per (tenant, source_id, parent_id, key) so a refresh finds
 * the row it had and keeps its id. Deleting a registration deletes its objects in the same
 * transaction. An object's doc is Coffer's internal facts document (cat_object_facts minus os_type,
 * which has its column): {"logical_bytes", "fs_type", "device", "network", "host_type",
 * "host_name", and for PostgreSQL "pg_version", "pg_version_num", "data_directory", "port", "socket_dir",
 * "owner"}, each present only when known; migration 8 converted older, wire-shaped documents.
 * Migration 10 added sources.spec: Coffer's typed document of the registration's PostgreSQL connection,
 * {"v":1,"pg":{"port","socket_dir","user","database","password_sealed"}} (NULL when none); a document
 * of another version or shape is refused when read (logged; the registration then has no connection).
 *
 * Discovery syncs a subtree per scope (the root's children of given types and everything below
 * them): one recursive statement marks the scope vanished, then each found object is revived or added
 * under its parent, so a database that was dropped is flagged together with its tables.
 *
 * Search runs one prepared statement whose optional filters are bound as NULL when absent; list
 * filters are bound as JSON arrays and expanded with json_each, so no SQL is ever assembled from
 * input. */
#include "catalog/cat_source.h"
#include "catalog/internal.h"
#include "util/array.h"
#include "util/log.h"
#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- objects ---- */

void cat_object_release(struct cat_object *o)
{
    if (!o) return;
    free(o->name);
    free(o->environment);
    free(o->object_type);
    free(o->path);
    free(o->source_name);
    free(o->uuid);
    free(o->facts.os_type);
    free(o->facts.fs_type);
    free(o->facts.device);
    free(o->facts.host_type);
    free(o->facts.host_name);
    free(o->facts.pg_version);
    free(o->facts.data_directory);
    free(o->facts.socket_dir);
    free(o->facts.owner);
    memset(o, 0, sizeof *o);
}

static char *doc_str(json_t *doc, const char *key)
{
    const char *v = json_string_value(json_object_get(doc, key));
    return v ? strdup(v) : NULL;
}

void cat_object_facts_from_row(sqldb_stmt *st, int doc_col, int os_col, struct cat_object_facts *f)
{
    json_t *doc = cat_col_json(st, doc_col), *v;
    memset(f, 0, sizeof *f);
    f->os_type = cat_col_strdup(st, os_col);
    v = json_object_get(doc, "logical_bytes");
    f->logical_bytes = json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
    f->fs_type = doc_str(doc, "fs_type");
    f->device = doc_str(doc, "device");
    v = json_object_get(doc, "network");
    f->is_network = json_is_true(v) || (json_is_integer(v) && json_integer_value(v) != 0);
    f->host_type = doc_str(doc, "host_type");
    f->host_name = doc_str(doc, "host_name");
    f->pg_version = doc_str(doc, "pg_version");
    v = json_object_get(doc, "pg_version_num");
    f->pg_version_num = json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
    f->data_directory = doc_str(doc, "data_directory");
    v = json_object_get(doc, "port");
    f->port = json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < 65536
                  ? (int)json_integer_value(v) : 0;
    f->socket_dir = doc_str(doc, "socket_dir");
    f->owner = doc_str(doc, "owner");
    json_decref(doc);
}

/* facts_doc: the internal document of f (NULL: nothing known): a new reference, NULL on no memory. */
static json_t *facts_doc(const struct cat_object_facts *f)
{
    json_t *doc = json_object();
    if (!doc || !f) return doc;
    if (f->logical_bytes >= 0) json_object_set_new(doc, "logical_bytes", json_integer(f->logical_bytes));
    if (f->fs_type) json_object_set_new(doc, "fs_type", json_string(f->fs_type));
    if (f->device) json_object_set_new(doc, "device", json_string(f->device));
    if (f->fs_type || f->device) json_object_set_new(doc, "network", json_integer(f->is_network ? 1 : 0));
    if (f->host_type) json_object_set_new(doc, "host_type", json_string(f->host_type));
    if (f->host_name) json_object_set_new(doc, "host_name", json_string(f->host_name));
    if (f->pg_version) json_object_set_new(doc, "pg_version", json_string(f->pg_version));
    if (f->pg_version_num > 0) json_object_set_new(doc, "pg_version_num", json_integer(f->pg_version_num));
    if (f->data_directory) json_object_set_new(doc, "data_directory", json_string(f->data_directory));
    if (f->port > 0) json_object_set_new(doc, "port", json_integer(f->port));
    if (f->socket_dir) json_object_set_new(doc, "socket_dir", json_string(f->socket_dir));
    if (f->owner) json_object_set_new(doc, "owner", json_string(f->owner));
    return doc;
}

#define OBJECT_COLS \
    "o.id, o.source_id, o.parent_id, o.name, o.environment, o.object_type, o.path, o.agent, " \
    "o.is_deleted, o.doc, r.name, o.uuid, o.os_type "
#define OBJECT_FROM \
    "FROM objects o LEFT JOIN objects r ON r.tenant = o.tenant AND r.id = o.source_id "

static void object_from_row(sqldb_stmt *st, struct cat_object *o)
{
    memset(o, 0, sizeof *o);
    o->id = sqldb_column_int64(st, 0);
    o->source_id = sqldb_column_int64(st, 1);
    o->parent_id = sqldb_column_int64(st, 2);
    o->name = cat_col_strdup(st, 3);
    o->environment = cat_col_strdup(st, 4);
    o->object_type = cat_col_strdup(st, 5);
    o->path = cat_col_strdup(st, 6);
    o->agent = (enum cat_agent_kind)sqldb_column_int(st, 7);
    o->is_deleted = sqldb_column_int(st, 8);
    cat_object_facts_from_row(st, 9, 12, &o->facts);
    o->source_name = cat_col_strdup(st, 10);
    if (!o->source_name && o->name) o->source_name = strdup(o->name);
    o->uuid = cat_col_strdup(st, 11);
}

int cat_object_get(struct cat *cat, const char *tenant, int64_t id, struct cat_object *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " OBJECT_COLS OBJECT_FROM "WHERE o.tenant = ?1 AND o.id = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        object_from_row(st, out);
        sqldb_reset(st);
        return 0;
    }
    sqldb_reset(st);
    if (rc == SQLDB_DONE) return CAT_NOT_FOUND;
    cat_log_error(cat, "object_get");
    return -1;
}

int cat_object_exists(struct cat *cat, const char *tenant, int64_t id)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT 1 FROM objects WHERE tenant = ?1 AND id = ?2 AND is_deleted = 0");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    rc = sqldb_step(st);
    sqldb_reset(st);
    if (rc == SQLDB_ROW) return 1;
    if (rc == SQLDB_DONE) return 0;
    cat_log_error(cat, "object_exists");
    return -1;
}

int cat_object_type_get(struct cat *cat, const char *tenant, int64_t id, char *type, size_t type_len, char *env,
                        size_t env_len)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT object_type, environment FROM objects"
                                     " WHERE tenant = ?1 AND id = ?2 AND is_deleted = 0");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        const char *t = (const char *)sqldb_column_text(st, 0), *e = (const char *)sqldb_column_text(st, 1);
        if (type && type_len) snprintf(type, type_len, "%s", t ? t : "");
        if (env && env_len) snprintf(env, env_len, "%s", e ? e : "");
    }
    sqldb_reset(st);
    if (rc == SQLDB_ROW) return 0;
    if (rc == SQLDB_DONE) return CAT_NOT_FOUND;
    cat_log_error(cat, "object_type_get");
    return -1;
}

int cat_object_is_local(struct cat *cat, const char *tenant, int64_t id)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT agent FROM objects WHERE tenant = ?1 AND id = ?2");
    int rc, local = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) local = sqldb_column_int(st, 0) == CAT_AGENT_LOCAL;
    sqldb_reset(st);
    if (rc != SQLDB_ROW && rc != SQLDB_DONE) {
        cat_log_error(cat, "object_is_local");
        return -1;
    }
    return local;
}

int cat_object_children(struct cat *cat, const char *tenant, int64_t parent_id, struct cat_object **out,
                        size_t *n)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " OBJECT_COLS OBJECT_FROM
                                     "WHERE o.tenant = ?1 AND o.parent_id = ?2 AND o.id <> ?2 "
                                     "AND o.is_deleted = 0 ORDER BY o.id");
    struct cat_object *arr = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, parent_id);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        if (ARRAY_RESERVE(arr, cap, cnt + 1) != 0) {
            rc = SQLDB_NOMEM;
            break;
        }
        object_from_row(st, &arr[cnt++]);
    }
    sqldb_reset(st);
    if (rc != SQLDB_DONE) {
        for (size_t i = 0; i < cnt; i++) cat_object_release(&arr[i]);
        free(arr);
        cat_log_error(cat, "object_children");
        return -1;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

/* glob_pattern: the client's pattern, lower-cased, with '*' its only wildcard: for SQLite's GLOB
 * with its other metacharacters ('?', '[') made literal; for PostgreSQL a LIKE pattern (ESCAPE
 * '\\': '%', '_' and '\\' made literal, '*' -> '%'). The caller frees. */
static char *glob_pattern(const char *s, int like)
{
    size_t n = strlen(s), j = 0;
    char *p = malloc(3 * n + 1);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!like && (c == '?' || c == '[')) {
            p[j++] = '[';
            p[j++] = c;
            p[j++] = ']';
        } else if (like && (c == '%' || c == '_' || c == '\\')) {
            p[j++] = '\\';
            p[j++] = c;
        } else if (like && c == '*') {
            p[j++] = '%';
        } else {
            p[j++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
    }
    p[j] = '\0';
    return p;
}

#define SCAN_BATCH 64

/* The object scan's filters after the name (?3, a pattern: GLOB on SQLite, LIKE on PostgreSQL:
 * glob_pattern makes the one the engine needs). */
#define SCAN_FILTERS \
    "AND (?4 IS NULL OR o.environment IN (SELECT value FROM json_each(?4))) " \
    "AND (?5 IS NULL OR o.id IN (SELECT value FROM json_each(?5))) " \
    "AND (?6 IS NULL OR o.source_id IN (SELECT value FROM json_each(?6))) " \
    "AND (?7 IS NULL OR r.uuid IN (SELECT value FROM json_each(?7))) " \
    "AND (?8 IS NULL OR o.os_type IN (SELECT value FROM json_each(?8))) " \
    "AND (?9 = 2 OR o.is_deleted = ?9) " \
    "AND (?11 IS NULL OR o.id IN (SELECT m.object_id FROM protection_group_objects m " \
    "     JOIN protection_groups g ON g.id = m.group_id " \
    "     WHERE m.tenant = ?1 AND g.tenant = ?1 AND g.is_deleted = 0 " \
    "     AND m.group_id IN (SELECT value FROM json_each(?11)))) " \
    "AND (?12 < 0 OR ?12 = CASE WHEN EXISTS (SELECT 1 FROM protection_group_objects m " \
    "     JOIN protection_groups g ON g.id = m.group_id " \
    "     WHERE m.tenant = ?1 AND m.object_id = o.id AND g.is_deleted = 0) THEN 1 ELSE 0 END) " \
    "ORDER BY o.id LIMIT ?10"

/* scan_batch: up to SCAN_BATCH matching objects with id > after, copied out of the statement. */
static int scan_batch(struct cat *cat, const char *tenant, const struct cat_object_filter *f, const char *glob,
                      int64_t after, struct cat_object *batch, size_t *cnt)
{
    sqldb_stmt *st = cat_stmt_alt(cat,
        "SELECT " OBJECT_COLS OBJECT_FROM "WHERE o.tenant = ?1 AND o.id > ?2 "
        "AND (?3 IS NULL OR lower(o.name) GLOB ?3) " SCAN_FILTERS,
        "SELECT " OBJECT_COLS OBJECT_FROM "WHERE o.tenant = ?1 AND o.id > ?2 "
        "AND (?3 IS NULL OR lower(o.name) LIKE ?3 ESCAPE '\\') " SCAN_FILTERS);
    int rc;
    *cnt = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, after);
    cat_bind_opt_text(st, 3, glob);
    cat_bind_opt_list(st, 4, f->environments);
    cat_bind_opt_list(st, 5, f->object_ids);
    cat_bind_opt_list(st, 6, f->source_ids);
    cat_bind_opt_list(st, 7, f->source_uuids);
    cat_bind_opt_list(st, 8, f->os_types);
    sqldb_bind_int(st, 9, f->deleted);
    sqldb_bind_int(st, 10, SCAN_BATCH);
    cat_bind_opt_list(st, 11, f->protection_group_ids);
    sqldb_bind_int(st, 12, f->is_protected);
    while ((rc = sqldb_step(st)) == SQLDB_ROW && *cnt < SCAN_BATCH) object_from_row(st, &batch[(*cnt)++]);
    sqldb_reset(st);
    if (rc != SQLDB_DONE && rc != SQLDB_ROW) {
        for (size_t i = 0; i < *cnt; i++) cat_object_release(&batch[i]);
        *cnt = 0;
        cat_log_error(cat, "object_scan");
        return -1;
    }
    return 0;
}

int cat_object_scan(struct cat *cat, const char *tenant, const struct cat_object_filter *f, cat_object_fn fn,
                    void *ud)
{
    struct cat_object *batch = calloc(SCAN_BATCH, sizeof *batch);
    char *glob = NULL;
    int64_t after = f->after_id;
    int stop = 0;
    if (!batch) return -1;
    if (f->name_glob && !(glob = glob_pattern(f->name_glob, cat_engine(cat) == SQLDB_PG))) {
        free(batch);
        return -1;
    }
    /* Rows are copied out and the statement reset before the callback runs, so the callback may use
     * the catalog itself (e.g. to ask whether an object is protected). */
    while (!stop) {
        size_t cnt;
        if (scan_batch(cat, tenant, f, glob, after, batch, &cnt) != 0) {
            stop = -1;
            break;
        }
        for (size_t i = 0; i < cnt; i++) {
            if (!stop) {
                int r = fn(ud, &batch[i]);
                stop = r < 0 ? -1 : r > 0 ? 1 : 0;
            }
            after = batch[i].id;
            cat_object_release(&batch[i]);
        }
        if (cnt < SCAN_BATCH) break;
    }
    free(glob);
    free(batch);
    return stop < 0 ? -1 : 0;
}

int cat_object_protected(struct cat *cat, const char *tenant, int64_t id)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT 1 FROM protection_group_objects m JOIN protection_groups g ON g.id = m.group_id "
        "WHERE m.tenant = ?1 AND m.object_id = ?2 AND g.tenant = ?1 AND g.is_deleted = 0 LIMIT 1");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    rc = sqldb_step(st);
    sqldb_reset(st);
    if (rc == SQLDB_ROW) return 1;
    if (rc == SQLDB_DONE) return 0;
    cat_log_error(cat, "object_protected");
    return -1;
}

json_t *cat_object_group_ids(struct cat *cat, const char *tenant, int64_t id)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT g.id FROM protection_group_objects m JOIN protection_groups g ON g.id = m.group_id "
        "WHERE m.tenant = ?1 AND m.object_id = ?2 AND g.tenant = ?1 AND g.is_deleted = 0 ORDER BY g.seq");
    json_t *arr;
    int rc;
    if (!st) return NULL;
    arr = json_array();
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    while ((rc = sqldb_step(st)) == SQLDB_ROW)
        json_array_append_new(arr, json_string((const char *)sqldb_column_text(st, 0)));
    sqldb_reset(st);
    if (rc != SQLDB_DONE) {
        cat_log_error(cat, "object_group_ids");
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* ---- registrations ---- */

void cat_source_release(struct cat_source *s)
{
    if (!s) return;
    free(s->environment);
    free(s->name);
    free(s->endpoint_key);
    free(s->connection_id);
    free(s->auth_status);
    free(s->error);
    json_decref(s->doc);
    free(s->pg.socket_dir);
    free(s->pg.user);
    free(s->pg.database);
    free(s->pg.password_sealed);
    memset(s, 0, sizeof *s);
}

#define SOURCE_COLS \
    "id, environment, name, endpoint_key, connection_id, agent, doc, registered_ms, refreshed_ms, " \
    "modified_usecs, auth_status, error, spec "

/* spec_doc: the typed document of s's PostgreSQL connection (NULL when it has none). */
static json_t *spec_doc(const struct cat_source *s)
{
    json_t *pg;
    if (!s->has_pg) return NULL;
    pg = json_pack("{s:i,s:s,s:s,s:s}", "port", s->pg.port, "socket_dir", s->pg.socket_dir ? s->pg.socket_dir : "",
                   "user", s->pg.user ? s->pg.user : "", "database", s->pg.database ? s->pg.database : "");
    if (pg && s->pg.password_sealed) json_object_set_new(pg, "password_sealed", json_string(s->pg.password_sealed));
    return pg ? json_pack("{s:i,s:o}", "v", 1, "pg", pg) : NULL;
}

/* spec_str: a required non-empty string member, strdup'd into *out; 0 or -1. */
static int spec_str(json_t *o, const char *key, char **out)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (!v || !*v) return -1;
    return (*out = strdup(v)) ? 0 : -1;
}

/* spec_parse: the strict decoder of spec_doc's document; 0, or -1 (nothing kept) for another version,
 * an unknown member or a value out of range. */
static int spec_parse(json_t *doc, struct cat_source *s)
{
    json_t *pg = json_object_get(doc, "pg"), *v;
    const char *k;
    if (!json_is_object(doc) || json_object_size(doc) != 2 || json_integer_value(json_object_get(doc, "v")) != 1 ||
        !json_is_integer(json_object_get(doc, "v")) || !json_is_object(pg))
        return -1;
    json_object_foreach(pg, k, v) {
        if (strcmp(k, "port") != 0 && strcmp(k, "socket_dir") != 0 && strcmp(k, "user") != 0 &&
            strcmp(k, "database") != 0 && strcmp(k, "password_sealed") != 0)
            return -1;
    }
    v = json_object_get(pg, "port");
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 65535) return -1;
    s->pg.port = (int)json_integer_value(v);
    if (spec_str(pg, "socket_dir", &s->pg.socket_dir) != 0 || spec_str(pg, "user", &s->pg.user) != 0 ||
        spec_str(pg, "database", &s->pg.database) != 0)
        return -1;
    if (json_object_get(pg, "password_sealed") && spec_str(pg, "password_sealed", &s->pg.password_sealed) != 0)
        return -1;
    s->has_pg = 1;
    return 0;
}

static void source_from_row(sqldb_stmt *st, struct cat_source *s)
{
    memset(s, 0, sizeof *s);
    s->id = sqldb_column_int64(st, 0);
    s->environment = cat_col_strdup(st, 1);
    s->name = cat_col_strdup(st, 2);
    s->endpoint_key = cat_col_strdup(st, 3);
    s->connection_id = cat_col_strdup(st, 4);
    s->agent = (enum cat_agent_kind)sqldb_column_int(st, 5);
    s->doc = cat_col_json(st, 6);
    if (!s->doc) s->doc = json_object();
    s->registered_ms = sqldb_column_int64(st, 7);
    s->refreshed_ms = sqldb_column_int64(st, 8);
    s->modified_usecs = sqldb_column_int64(st, 9);
    s->auth_status = cat_col_strdup(st, 10);
    s->error = cat_col_strdup(st, 11);
    if (sqldb_column_type(st, 12) != SQLDB_NULL) {
        json_t *spec = cat_col_json(st, 12);
        if (spec_parse(spec, s) != 0) {
            free(s->pg.socket_dir);
            free(s->pg.user);
            free(s->pg.database);
            free(s->pg.password_sealed);
            memset(&s->pg, 0, sizeof s->pg);
            s->has_pg = 0;
            log_warn("source %lld: its PostgreSQL connection document is not one this version reads; "
                     "register the connection again (PUT)", (long long)s->id);
        }
        json_decref(spec);
    }
}

int cat_source_insert(struct cat *cat, const char *tenant, const struct cat_source *s)
{
    sqldb_stmt *st = cat_stmt(cat,
        "INSERT INTO sources(tenant, id, environment, name, endpoint_key, connection_id, agent, doc,"
        " registered_ms, refreshed_ms, modified_usecs, auth_status, error, spec)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    json_t *spec;
    if (!st) return -1;
    if ((spec = spec_doc(s))) {
        int rc = cat_bind_json(st, 14, spec);
        json_decref(spec);
        if (rc != 0) return -1;
    } else if (s->has_pg) {
        return -1;
    } else {
        sqldb_bind_null(st, 14);
    }
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, s->id);
    sqldb_bind_text(st, 3, s->environment, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 4, s->name, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 5, s->endpoint_key, -1, SQLDB_TRANSIENT);
    cat_bind_opt_text(st, 6, s->connection_id);
    sqldb_bind_int(st, 7, (int)s->agent);
    if (cat_bind_json(st, 8, s->doc) != 0) return -1;
    sqldb_bind_int64(st, 9, s->registered_ms);
    sqldb_bind_int64(st, 10, s->refreshed_ms);
    sqldb_bind_int64(st, 11, s->modified_usecs);
    sqldb_bind_text(st, 12, s->auth_status ? s->auth_status : "Pending", -1, SQLDB_TRANSIENT);
    cat_bind_opt_text(st, 13, s->error);
    return cat_exec_done(cat, st);
}

int cat_source_update(struct cat *cat, const char *tenant, const struct cat_source *s)
{
    sqldb_stmt *st = cat_stmt(cat,
        "UPDATE sources SET name = ?3, doc = ?4, connection_id = ?5, modified_usecs = ?6, spec = ?7"
        " WHERE tenant = ?1 AND id = ?2");
    json_t *spec;
    int rc;
    if (!st) return -1;
    if ((spec = spec_doc(s))) {
        rc = cat_bind_json(st, 7, spec);
        json_decref(spec);
        if (rc != 0) return -1;
    } else if (s->has_pg) {
        return -1;
    } else {
        sqldb_bind_null(st, 7);
    }
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, s->id);
    sqldb_bind_text(st, 3, s->name, -1, SQLDB_TRANSIENT);
    if (cat_bind_json(st, 4, s->doc) != 0) return -1;
    cat_bind_opt_text(st, 5, s->connection_id);
    sqldb_bind_int64(st, 6, s->modified_usecs);
    rc = cat_exec_done(cat, st);
    if (rc != 0) return rc;
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}

int cat_source_set_state(struct cat *cat, const char *tenant, int64_t id, const char *auth_status,
                         const char *error, int64_t refreshed_ms)
{
    sqldb_stmt *st = cat_stmt(cat,
        "UPDATE sources SET auth_status = ?3, error = ?4,"
        " refreshed_ms = CASE WHEN ?5 > 0 THEN ?5 ELSE refreshed_ms END"
        " WHERE tenant = ?1 AND id = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    sqldb_bind_text(st, 3, auth_status, -1, SQLDB_TRANSIENT);
    cat_bind_opt_text(st, 4, error);
    sqldb_bind_int64(st, 5, refreshed_ms);
    rc = cat_exec_done(cat, st);
    if (rc != 0) return rc;
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}

int cat_source_get(struct cat *cat, const char *tenant, int64_t id, struct cat_source *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " SOURCE_COLS "FROM sources WHERE tenant = ?1 AND id = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) source_from_row(st, out);
    sqldb_reset(st);
    if (rc == SQLDB_ROW) return 0;
    if (rc == SQLDB_DONE) return CAT_NOT_FOUND;
    cat_log_error(cat, "source_get");
    return -1;
}

int cat_source_list(struct cat *cat, const char *tenant, json_t *ids, cat_source_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " SOURCE_COLS "FROM sources WHERE tenant = ?1"
                                     " AND (?2 IS NULL OR id IN (SELECT value FROM json_each(?2))) ORDER BY id");
    struct cat_source *arr = NULL;
    size_t cnt = 0, cap = 0;
    int rc, ret = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    cat_bind_opt_list(st, 2, ids);
    /* Copied out first so the callback may use the catalog (to read each source's objects). */
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        if (ARRAY_RESERVE(arr, cap, cnt + 1) != 0) {
            rc = SQLDB_NOMEM;
            break;
        }
        source_from_row(st, &arr[cnt++]);
    }
    sqldb_reset(st);
    if (rc != SQLDB_DONE) {
        cat_log_error(cat, "source_list");
        ret = -1;
    }
    for (size_t i = 0; i < cnt; i++) {
        if (ret == 0 && fn(ud, &arr[i]) != 0) ret = -1;
        cat_source_release(&arr[i]);
    }
    free(arr);
    return ret;
}

int cat_source_delete(struct cat *cat, const char *tenant, int64_t id)
{
    sqldb_stmt *st = cat_stmt(cat, "DELETE FROM objects WHERE tenant = ?1 AND source_id = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    if ((rc = cat_exec_done(cat, st)) != 0) return rc;
    st = cat_stmt(cat, "DELETE FROM sources WHERE tenant = ?1 AND id = ?2");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    if ((rc = cat_exec_done(cat, st)) != 0) return rc;
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}

int cat_source_protected(struct cat *cat, const char *tenant, int64_t id)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT 1 FROM objects o JOIN protection_group_objects m ON m.tenant = o.tenant AND m.object_id = o.id"
        " JOIN protection_groups g ON g.id = m.group_id"
        " WHERE o.tenant = ?1 AND o.source_id = ?2 AND g.tenant = ?1 AND g.is_deleted = 0 LIMIT 1");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    rc = sqldb_step(st);
    sqldb_reset(st);
    if (rc == SQLDB_ROW) return 1;
    if (rc == SQLDB_DONE) return 0;
    cat_log_error(cat, "source_protected");
    return -1;
}

int cat_source_uses_connection(struct cat *cat, const char *tenant, const char *connection_id)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT 1 FROM sources WHERE tenant = ?1 AND connection_id = ?2 LIMIT 1");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, connection_id, -1, SQLDB_TRANSIENT);
    rc = sqldb_step(st);
    sqldb_reset(st);
    if (rc == SQLDB_ROW) return 1;
    if (rc == SQLDB_DONE) return 0;
    cat_log_error(cat, "source_uses_connection");
    return -1;
}

/* ---- discovery ---- */

/* new_uuid: a random (version 4) UUID in its canonical text form. */
static int new_uuid(char out[37])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

/* upsert_object: inserts (tenant, source, parent, key) with id (allocating one when *id is 0), or
 * updates the existing row, keeping its id and uuid. *id receives the id used. */
static int upsert_object(struct cat *cat, const char *tenant, int64_t source_id, int64_t parent_id, const char *key,
                         const char *name, const char *environment, const char *object_type, const char *path,
                         enum cat_agent_kind agent, const struct cat_object_facts *facts, int64_t *id)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT id FROM objects WHERE tenant = ?1 AND source_id = ?2"
                                     " AND parent_id = ?3 AND key = ?4");
    int rc;
    int64_t existing = 0;
    char uuid[37];
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, source_id);
    sqldb_bind_int64(st, 3, parent_id);
    sqldb_bind_text(st, 4, key, -1, SQLDB_TRANSIENT);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) existing = sqldb_column_int64(st, 0);
    sqldb_reset(st);
    if (rc != SQLDB_ROW && rc != SQLDB_DONE) {
        cat_log_error(cat, "object_lookup");
        return -1;
    }
    if (existing) {
        st = cat_stmt(cat, "UPDATE objects SET name = ?3, environment = ?4, object_type = ?5, path = ?6,"
                           " os_type = ?7, agent = ?8, is_deleted = 0, doc = ?9 WHERE tenant = ?1 AND id = ?2");
        if (!st) return -1;
        sqldb_bind_int64(st, 2, existing);
        *id = existing;
    } else {
        if (*id == 0 && cat_next_seq(cat, "object", id) != 0) return -1;
        if (new_uuid(uuid) != 0) return -1;
        st = cat_stmt(cat, "INSERT INTO objects(tenant, id, name, environment, object_type, path, os_type, agent,"
                           " is_deleted, doc, source_id, parent_id, key, uuid)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11, ?12, ?13)");
        if (!st) return -1;
        sqldb_bind_int64(st, 2, *id);
        sqldb_bind_int64(st, 10, source_id);
        sqldb_bind_int64(st, 11, parent_id);
        sqldb_bind_text(st, 12, key, -1, SQLDB_TRANSIENT);
        sqldb_bind_text(st, 13, uuid, -1, SQLDB_TRANSIENT);
    }
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 3, name, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 4, environment, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 5, object_type, -1, SQLDB_TRANSIENT);
    cat_bind_opt_text(st, 6, path);
    cat_bind_opt_text(st, 7, facts ? facts->os_type : NULL);
    sqldb_bind_int(st, 8, (int)agent);
    {
        json_t *doc = facts_doc(facts);
        rc = doc ? cat_bind_json(st, 9, doc) : -1;
        json_decref(doc);
        if (rc != 0) {
            sqldb_reset(st);
            return -1;
        }
    }
    return cat_exec_done(cat, st);
}

/* mark_scope_vanished: flags the root's children of the scope's types (all when scope is NULL) and
 * everything below them. */
static int mark_scope_vanished(struct cat *cat, const char *tenant, int64_t id, const char *const *scope)
{
    sqldb_stmt *st = cat_stmt(cat,
        "WITH RECURSIVE sub(id) AS ("
        "  SELECT id FROM objects WHERE tenant = ?1 AND source_id = ?2 AND parent_id = ?2 AND id <> ?2"
        "   AND (?3 IS NULL OR object_type IN (SELECT value FROM json_each(?3)))"
        "  UNION SELECT o.id FROM objects o JOIN sub ON o.parent_id = sub.id"
        "   WHERE o.tenant = ?1 AND o.source_id = ?2 AND o.id <> o.parent_id) "
        "UPDATE objects SET is_deleted = 1 WHERE tenant = ?1 AND source_id = ?2 AND id IN (SELECT id FROM sub)");
    json_t *types = NULL;
    int rc;
    if (!st) return -1;
    if (scope) {
        types = json_array();
        for (const char *const *t = scope; types && *t; t++) json_array_append_new(types, json_string(*t));
        if (!types) return -1;
    }
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    if (types && json_array_size(types) == 0) {
        json_decref(types);
        sqldb_reset(st);
        return 0;   /* an empty scope speaks for nothing */
    }
    cat_bind_opt_list(st, 3, types);
    json_decref(types);
    rc = cat_exec_done(cat, st);
    return rc;
}

int cat_source_sync_scope(struct cat *cat, const char *tenant, int64_t id, const char *environment,
                          enum cat_agent_kind agent, const char *root_name,
                          const struct cat_object_facts *root_facts, const char *const *scope,
                          const struct cat_discovered *items, size_t n)
{
    int64_t root = id, *ids = NULL;
    int rc;
    if (root_name) {
        rc = upsert_object(cat, tenant, id, 0, "", root_name, environment, "kHost", "/", agent, root_facts, &root);
    } else {
        rc = cat_object_exists(cat, tenant, id);
        rc = rc == 1 ? 0 : rc == 0 ? CAT_NOT_FOUND : rc;
    }
    if (rc != 0) return rc;
    /* The scope is marked vanished, then what was found is revived or added. */
    if ((rc = mark_scope_vanished(cat, tenant, id, scope)) != 0) return rc;
    if (n && !(ids = calloc(n, sizeof *ids))) return -1;
    for (size_t i = 0; i < n; i++) {
        const struct cat_discovered *it = &items[i];
        int64_t parent = it->parent == 0 ? root : it->parent <= i ? ids[it->parent - 1] : -1;
        int vol = it->object_type && strcmp(it->object_type, "kVolume") == 0;
        if (parent < 0) {
            rc = -EINVAL;   /* a parent must come before its children */
            break;
        }
        rc = upsert_object(cat, tenant, id, parent, it->key, it->name, it->environment ? it->environment : environment,
                           it->object_type, vol ? it->key : NULL, agent, it->facts, &ids[i]);
        if (rc != 0) break;
    }
    free(ids);
    return rc;
}

int cat_source_sync_objects(struct cat *cat, const char *tenant, int64_t id, const char *environment,
                            enum cat_agent_kind agent, const char *root_name,
                            const struct cat_object_facts *root_facts, const struct cat_discovered *items, size_t n)
{
    return cat_source_sync_scope(cat, tenant, id, environment, agent, root_name, root_facts, NULL, items, n);
}
