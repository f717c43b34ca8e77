/* groups.c: protection groups in the catalog (see cat_group.h). Cached statements throughout: the
 * GET path is one primary-key lookup; lists walk the (tenant, is_deleted, seq) index in creation
 * order and filter by ids, names, policies and environments through json_each over bound JSON
 * arrays, and by the flags through "(? < 0 OR col = ?)", so one prepared statement serves every
 * combination of filters. The objects of a group are rewritten with the group on every update. Every
 * write touches the CAT_GEN_GROUPS generation (cat_gen.h), which the API's list cache checks. */
#include "catalog/cat_group.h"
#include "catalog/cat_gen.h"
#include "catalog/internal.h"
#include "util/array.h"
#include <stdlib.h>
#include <string.h>

#define GROUP_COLS "id, tenant, name, policy_id, environment, seq, is_active, is_paused, is_deleted," \
                   " mtime_usecs, created_usecs, doc"

void cat_group_release(struct cat_group *g)
{
    if (!g) return;
    free(g->id);
    free(g->tenant);
    free(g->name);
    free(g->policy_id);
    free(g->environment);
    free(g->doc);
    memset(g, 0, sizeof *g);
}

static char *col_dup(sqldb_stmt *st, int i, size_t *len)
{
    const unsigned char *t = sqldb_column_text(st, i);
    size_t n = (size_t)sqldb_column_bytes(st, i);
    char *s;
    if (!t) return NULL;
    s = malloc(n + 1);
    if (!s) return NULL;
    memcpy(s, t, n);
    s[n] = '\0';
    if (len) *len = n;
    return s;
}

/* read_row: a row of GROUP_COLS into g (zeroed first). 0 or -1 (out of memory). */
static int read_row(sqldb_stmt *st, struct cat_group *g)
{
    memset(g, 0, sizeof *g);
    g->id = col_dup(st, 0, NULL);
    g->tenant = col_dup(st, 1, NULL);
    g->name = col_dup(st, 2, NULL);
    g->policy_id = col_dup(st, 3, NULL);
    g->environment = col_dup(st, 4, NULL);
    g->seq = sqldb_column_int64(st, 5);
    g->is_active = sqldb_column_int(st, 6);
    g->is_paused = sqldb_column_int(st, 7);
    g->is_deleted = sqldb_column_int(st, 8);
    g->mtime_usecs = sqldb_column_int64(st, 9);
    g->created_usecs = sqldb_column_int64(st, 10);
    g->doc = col_dup(st, 11, &g->doc_len);
    if (!g->id || !g->tenant || !g->name || !g->policy_id || !g->environment || !g->doc) {
        cat_group_release(g);
        return -1;
    }
    return 0;
}

static int write_objects(struct cat *cat, const struct cat_group_write *w)
{
    sqldb_stmt *st = cat_stmt(cat, "DELETE FROM protection_group_objects WHERE group_id = ?1");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, w->id, -1, SQLDB_STATIC);
    if ((rc = cat_exec_done(cat, st)) != 0) return rc;
    for (size_t i = 0; i < w->nobjects; i++) {
        st = cat_stmt(cat, "INSERT OR IGNORE INTO protection_group_objects(group_id, tenant, object_id)"
                           " VALUES (?1, ?2, ?3)");
        if (!st) return -1;
        sqldb_bind_text(st, 1, w->id, -1, SQLDB_STATIC);
        sqldb_bind_text(st, 2, w->tenant, -1, SQLDB_STATIC);
        sqldb_bind_int64(st, 3, w->object_ids[i]);
        if ((rc = cat_exec_done(cat, st)) != 0) return rc;
    }
    return 0;
}

int cat_group_insert(struct cat *cat, const struct cat_group_write *w)
{
    sqldb_stmt *st = cat_stmt(cat,
        "INSERT INTO protection_groups(id, tenant, seq, name, policy_id, environment, is_active, is_paused,"
        " is_deleted, doc, mtime_usecs, created_usecs, spec)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?10, ?11)");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, w->id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, w->tenant, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, w->seq);
    sqldb_bind_text(st, 4, w->name, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 5, w->policy_id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 6, w->environment, -1, SQLDB_STATIC);
    sqldb_bind_int(st, 7, w->is_active ? 1 : 0);
    sqldb_bind_int(st, 8, w->is_paused ? 1 : 0);
    sqldb_bind_text(st, 9, w->doc, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 10, w->mtime_usecs);
    cat_bind_opt_text(st, 11, w->spec);
    rc = cat_exec_done(cat, st);
    if (rc == 0) rc = write_objects(cat, w);
    cat_gen_touch(CAT_GEN_GROUPS); /* after every write: a list read before it is not cached as new */
    return rc;
}

int cat_group_update(struct cat *cat, const struct cat_group_write *w)
{
    sqldb_stmt *st = cat_stmt(cat,
        "UPDATE protection_groups SET name = ?3, policy_id = ?4, environment = ?5, is_active = ?6,"
        " is_paused = ?7, doc = ?8, mtime_usecs = ?9, spec = ?10 WHERE id = ?1 AND tenant = ?2 AND is_deleted = 0");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, w->id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, w->tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 3, w->name, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 4, w->policy_id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 5, w->environment, -1, SQLDB_STATIC);
    sqldb_bind_int(st, 6, w->is_active ? 1 : 0);
    sqldb_bind_int(st, 7, w->is_paused ? 1 : 0);
    sqldb_bind_text(st, 8, w->doc, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 9, w->mtime_usecs);
    cat_bind_opt_text(st, 10, w->spec);
    rc = cat_exec_done(cat, st);
    if (rc == 0 && sqldb_changes(cat_db(cat)) == 0) rc = CAT_NOT_FOUND;
    if (rc == 0) rc = write_objects(cat, w);
    cat_gen_touch(CAT_GEN_GROUPS);
    return rc;
}

int cat_group_mark_deleted(struct cat *cat, const char *tenant, const char *id, const char *doc,
                           int64_t mtime_usecs)
{
    sqldb_stmt *st = cat_stmt(cat,
        "UPDATE protection_groups SET is_deleted = 1, doc = ?3, mtime_usecs = ?4, deleted_usecs = ?4"
        " WHERE id = ?1 AND tenant = ?2 AND is_deleted = 0");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 3, doc, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 4, mtime_usecs);
    rc = cat_exec_done_touch(cat, st, CAT_GEN_GROUPS);
    if (rc == 0 && sqldb_changes(cat_db(cat)) == 0) rc = CAT_NOT_FOUND;
    return rc;
}

int cat_group_get(struct cat *cat, const char *tenant, const char *id, struct cat_group *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " GROUP_COLS " FROM protection_groups WHERE id = ?1 AND tenant = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        rc = read_row(st, out);
    } else if (rc == SQLDB_DONE) {
        rc = CAT_NOT_FOUND;
    } else {
        cat_log_error(cat, "group get");
        rc = -1;
    }
    sqldb_reset(st);
    return rc;
}

int cat_group_get_doc(struct cat *cat, const char *tenant, const char *id, char **doc, size_t *len,
                      int64_t *mtime_usecs, int *is_deleted)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT doc, mtime_usecs, is_deleted FROM protection_groups WHERE id = ?1 AND tenant = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        size_t n = 0;
        rc = 0;
        if (doc && !(*doc = col_dup(st, 0, &n))) rc = -1;
        if (len) *len = (size_t)sqldb_column_bytes(st, 0);
        if (mtime_usecs) *mtime_usecs = sqldb_column_int64(st, 1);
        if (is_deleted) *is_deleted = sqldb_column_int(st, 2);
    } else if (rc == SQLDB_DONE) {
        rc = CAT_NOT_FOUND;
    } else {
        cat_log_error(cat, "group get doc");
        rc = -1;
    }
    sqldb_reset(st);
    return rc;
}

int cat_group_objects(struct cat *cat, const char *tenant, const char *id, int64_t **ids, size_t *n)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT object_id FROM protection_group_objects WHERE group_id = ?1 AND tenant = ?2 ORDER BY object_id");
    int64_t *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        if (ARRAY_RESERVE(v, cap, cnt + 1) != 0) {
            free(v);
            sqldb_reset(st);
            return -1;
        }
        v[cnt++] = sqldb_column_int64(st, 0);
    }
    sqldb_reset(st);
    if (rc != SQLDB_DONE) {
        free(v);
        cat_log_error(cat, "group objects");
        return -1;
    }
    *ids = v;
    *n = cnt;
    return 0;
}

int cat_group_list(struct cat *cat, const char *tenant, const struct cat_group_filter *f, cat_group_doc_fn fn,
                   void *ud)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT id, doc FROM protection_groups WHERE tenant = ?1 AND is_deleted = ?2"
        " AND (?3 < 0 OR is_active = ?3) AND (?4 < 0 OR is_paused = ?4)"
        " AND (?5 IS NULL OR id IN (SELECT value FROM json_each(?5)))"
        " AND (?6 IS NULL OR name IN (SELECT value FROM json_each(?6)))"
        " AND (?7 IS NULL OR policy_id IN (SELECT value FROM json_each(?7)))"
        " AND (?8 IS NULL OR environment IN (SELECT value FROM json_each(?8)))"
        " ORDER BY seq");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_int(st, 2, f->is_deleted > 0 ? 1 : 0);
    sqldb_bind_int(st, 3, f->is_active);
    sqldb_bind_int(st, 4, f->is_paused);
    if (cat_bind_list(st, 5, f->ids) != 0 || cat_bind_list(st, 6, f->names) != 0 || cat_bind_list(st, 7, f->policy_ids) != 0 ||
        cat_bind_list(st, 8, f->environments) != 0) {
        sqldb_reset(st);
        return -1;
    }
    return cat_each_id_doc(cat, st, fn, ud, "group list");
}

int cat_group_list_schedulable(struct cat *cat, cat_group_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " GROUP_COLS " FROM protection_groups"
                                     " WHERE is_deleted = 0 AND is_active = 1 ORDER BY tenant, seq");
    int rc, out = 0;
    if (!st) return -1;
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_group g;
        if (read_row(st, &g) != 0) {
            out = -1;
            break;
        }
        out = fn(ud, &g);
        cat_group_release(&g);
        if (out != 0) break;
    }
    if (out == 0 && rc != SQLDB_DONE) {
        cat_log_error(cat, "group list schedulable");
        out = -1;
    }
    sqldb_reset(st);
    return out;
}

int cat_group_count_by_policy(struct cat *cat, const char *tenant, const char *policy_id, int64_t *n)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT count(*) FROM protection_groups"
                                     " WHERE policy_id = ?1 AND tenant = ?2 AND is_deleted = 0");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, policy_id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) *n = sqldb_column_int64(st, 0);
    sqldb_reset(st);
    if (rc != SQLDB_ROW) {
        cat_log_error(cat, "group count by policy");
        return -1;
    }
    return 0;
}

int cat_group_get_spec(struct cat *cat, const char *tenant, const char *id, char **spec, size_t *len)
{
    return cat_spec_column_get(cat, "SELECT spec FROM protection_groups WHERE id = ?1 AND tenant = ?2",
                               "group get spec", tenant, id, spec, len);
}

int cat_group_set_spec(struct cat *cat, const char *tenant, const char *id, const char *spec)
{
    return cat_spec_column_set(cat, CAT_GEN_GROUPS, "UPDATE protection_groups SET spec = ?3 WHERE id = ?1 AND tenant = ?2", tenant, id,
                               spec);
}

/* each_missing: rows (tenant, id, doc) of a table whose spec is NULL; read whole before fn runs, so fn
 * may write the rows (at most `limit` per call: the caller loops until none is left). */
int cat_spec_missing(struct cat *cat, int groups, size_t limit, cat_spec_missing_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, groups ? "SELECT tenant, id, doc FROM protection_groups WHERE spec IS NULL"
                                              " ORDER BY tenant, seq LIMIT ?1"
                                            : "SELECT tenant, id, doc FROM policies WHERE spec IS NULL"
                                              " ORDER BY tenant, seq LIMIT ?1");
    char **rows = NULL;
    size_t n = 0, cap = 0;
    int rc, out = 0;
    if (!st) return -1;
    sqldb_bind_int64(st, 1, (int64_t)limit);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        if (ARRAY_RESERVE(rows, cap, n + 3) != 0) {
            out = -1;
            break;
        }
        for (int i = 0; i < 3; i++) rows[n++] = col_dup(st, i, NULL);
    }
    if (out == 0 && rc != SQLDB_DONE) {
        cat_log_error(cat, "spec missing");
        out = -1;
    }
    sqldb_reset(st);
    for (size_t i = 0; out == 0 && i + 2 < n; i += 3) {
        if (!rows[i] || !rows[i + 1] || !rows[i + 2]) out = -1;
        else out = fn(ud, rows[i], rows[i + 1], rows[i + 2]);
    }
    for (size_t i = 0; i < n; i++) free(rows[i]);
    free(rows);
    return out < 0 ? out : (int)(n / 3);
}
