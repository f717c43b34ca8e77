/* sources.c: source registrations and their objects in the catalog (see cat_source.h).
 *
 * Tables (migration 3): sources(tenant, id, environment, name, endpoint_key, connection_id, agent,
 * doc, registered_ms, refreshed_ms, modified_usecs, auth_status, error) with one row per
 * registration, unique per (tenant, environment, endpoint_key); objects(tenant, id, source_id,
 * parent_id, key, name, environment, object_type, path, uuid, os_type, agent, is_deleted, doc) with
 * one row per discovered object, unique per (tenant, source_id, parent_id, key) so a refresh finds
 * the row it had and keeps its id. Deleting a registration deletes its objects in the same
 * transaction.
 *
 * Search runs one prepared statement whose optional filters are bound as NULL when absent; list
 * filters are bound as JSON arrays and expanded with json_each, so no SQL is ever assembled from
 * input. */
#include "catalog/cat_source.h"
#include "catalog/internal.h"
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_col(sqlite3_stmt *st, int i)
{
    const char *t = (const char *)sqlite3_column_text(st, i);
    return t ? strdup(t) : NULL;
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static void bind_opt_json(sqlite3_stmt *st, int i, const json_t *v)
{
    if (v && json_array_size(v) > 0)
        cat_bind_json(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* ---- objects ---- */

void cat_object_release(struct cat_object *o)
{
    if (!o) return;
    free(o->name);
    free(o->environment);
    free(o->object_type);
    free(o->path);
    free(o->source_name);
    json_decref(o->doc);
    memset(o, 0, sizeof *o);
}

#define OBJECT_COLS \
    "o.id, o.source_id, o.parent_id, o.name, o.environment, o.object_type, o.path, o.agent, " \
    "o.is_deleted, o.doc, r.name "
#define OBJECT_FROM \
    "FROM objects o LEFT JOIN objects r ON r.tenant = o.tenant AND r.id = o.source_id "

static void object_from_row(sqlite3_stmt *st, struct cat_object *o)
{
    memset(o, 0, sizeof *o);
    o->id = sqlite3_column_int64(st, 0);
    o->source_id = sqlite3_column_int64(st, 1);
    o->parent_id = sqlite3_column_int64(st, 2);
    o->name = dup_col(st, 3);
    o->environment = dup_col(st, 4);
    o->object_type = dup_col(st, 5);
    o->path = dup_col(st, 6);
    o->agent = (enum cat_agent_kind)sqlite3_column_int(st, 7);
    o->is_deleted = sqlite3_column_int(st, 8);
    o->doc = cat_col_json(st, 9);
    if (!o->doc) o->doc = json_object();
    o->source_name = dup_col(st, 10);
    if (!o->source_name && o->name) o->source_name = strdup(o->name);
}

int cat_object_get(struct cat *cat, const char *tenant, int64_t id, struct cat_object *out)
{
    sqlite3_stmt *st = cat_stmt(cat, "SELECT " OBJECT_COLS OBJECT_FROM "WHERE o.tenant = ?1 AND o.id = ?2");
    int rc;
    if (!st) return -1;
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        object_from_row(st, out);
        sqlite3_reset(st);
        return 0;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return CAT_NOT_FOUND;
    cat_log_error(cat, "object_get");
    return -1;
}

int cat_object_exists(struct cat *cat, const char *tenant, int64_t id)
{
    sqlite3_stmt *st = cat_stmt(cat, "SELECT 1 FROM objects WHERE tenant = ?1 AND id = ?2 AND is_deleted = 0");
    int rc;
    if (!st) return -1;
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, id);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    cat_log_error(cat, "object_exists");
    return -1;
}

int cat_object_is_local(struct cat *cat, const char *tenant, int64_t id)
{
    sqlite3_stmt *st = cat_stmt(cat, "SELECT agent FROM objects WHERE tenant = ?1 AND id = ?2");
    int rc, local = 0;
    if (!st) return -1;
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) local = sqlite3_column_int(st, 0) == CAT_AGENT_LOCAL;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        cat_log_error(cat, "object_is_local");
        return -1;
    }
    return local;
}

int cat_object_children(struct cat *cat, const char *tenant, int64_t parent_id, struct cat_object **out,
                        size_t *n)
{
    sqlite3_stmt *st = cat_stmt(cat, "SELECT " OBJECT_COLS OBJECT_FROM
                                     "WHERE o.tenant = ?1 AND o.parent_id = ?2 AND o.id <> ?2 "
                                     "AND o.is_deleted = 0 ORDER BY o.id");
    struct cat_object *arr = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (!st) return -1;
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, parent_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct cat_object *na = realloc(arr, nc * sizeof *na);
            if (!na) {
                rc = SQLITE_NOMEM;
                break;
            }
            arr = na;
            cap = nc;
        }
        object_from_row(st, &arr[cnt++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < cnt; i++) cat_object_release(&arr[i]);
        free(arr);
        cat_log_error(cat, "object_children");
        return -1;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

/* glob_pattern: the client's pattern, lower-cased, with SQLite GLOB's other metacharacters ('?',
 * '[') made literal so that only '*' is a wildcard. The caller frees. */
static char *glob_pattern(const char *s)
{
    size_t n = strlen(s), j = 0;
    char *p = malloc(3 * n + 1);
    if (!p) return NULL;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '?' || c == '[') {
            p[j++] = '[';
            p[j++] = c;
            p[j++] = ']';
        } else {
            p[j++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
    }
    p[j] = '\0';
    return p;
}

#define SCAN_BATCH 64

/* scan_batch: up to SCAN_BATCH matching objects with id > after, copied out of the statement. */
static int scan_batch(struct cat *cat, const char *tenant, const struct cat_object_filter *f, const char *glob,
                      int64_t after, struct cat_object *batch, size_t *cnt)
{
    sqlite3_stmt *st = cat_stmt(cat,
        "SELECT " OBJECT_COLS OBJECT_FROM
        "WHERE o.tenant = ?1 AND o.id > ?2 "
        "AND (?3 IS NULL OR lower(o.name) GLOB ?3) "
        "AND (?4 IS NULL OR o.environment IN (SELECT value FROM json_each(?4))) "
        "AND (?5 IS NULL OR o.id IN (SELECT value FROM json_each(?5))) "
        "AND (?6 IS NULL OR o.source_id IN (SELECT value FROM json_each(?6))) "
        "AND (?7 IS NULL OR r.uuid IN (SELECT value FROM json_each(?7))) "
        "AND (?8 IS NULL OR o.os_type IN (SELECT value FROM json_each(?8))) "
        "AND (?9 = 2 OR o.is_deleted = ?9) "
        "ORDER BY o.id LIMIT ?10");
    int rc;
    *cnt = 0;
    if (!st) return -1;
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, after);
    bind_opt_text(st, 3, glob);
    bind_opt_json(st, 4, f->environments);
    bind_opt_json(st, 5, f->object_ids);
    bind_opt_json(st, 6, f->source_ids);
    bind_opt_json(st, 7, f->source_uuids);
    bind_opt_json(st, 8, f->os_types);
    sqlite3_bind_int(st, 9, f->deleted);
    sqlite3_bind_int(st, 10, SCAN_BATCH);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *cnt < SCAN_BATCH) object_from_row(st, &batch[(*cnt)++]);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
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
    if (f->name_glob && !(glob = glob_pattern(f->name_glob))) {
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
