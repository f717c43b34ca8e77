/* policies.c: protection policies in the catalog (see cat_policy.h). Each function is one cached
 * statement; lookups go by primary key (id) and then check the tenant, lists walk the
 * (tenant, seq) index and filter by id or name through json_each over a bound JSON array, so one
 * prepared statement serves every combination of filters. Every write touches the CAT_GEN_POLICIES
 * generation (cat_gen.h), which the API's list cache checks. */
#include "catalog/cat_policy.h"
#include "catalog/cat_gen.h"
#include "catalog/internal.h"
#include <stdlib.h>
#include <string.h>

int cat_policy_insert(struct cat *cat, const char *tenant, const char *id, int64_t seq, const char *name,
                      const char *doc, int64_t mtime_usecs)
{
    sqldb_stmt *st = cat_stmt(cat,
        "INSERT INTO policies(id, tenant, seq, name, doc, mtime_usecs, created_usecs) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)");
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, seq);
    sqldb_bind_text(st, 4, name, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 5, doc, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 6, mtime_usecs);
    return cat_exec_done_touch(cat, st, CAT_GEN_POLICIES);
}

int cat_policy_get_doc(struct cat *cat, const char *tenant, const char *id, char **doc, size_t *len,
                       int64_t *mtime_usecs)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT doc, mtime_usecs FROM policies WHERE id = ?1 AND tenant = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        const void *text = sqldb_column_text(st, 0);
        size_t n = (size_t)sqldb_column_bytes(st, 0);
        if (doc) {
            char *copy = malloc(n + 1);
            if (!copy || !text) {
                free(copy);
                sqldb_reset(st);
                return -1;
            }
            memcpy(copy, text, n);
            copy[n] = '\0';
            *doc = copy;
        }
        if (len) *len = n;
        if (mtime_usecs) *mtime_usecs = sqldb_column_int64(st, 1);
        rc = 0;
    } else if (rc == SQLDB_DONE) {
        rc = CAT_NOT_FOUND;
    } else {
        cat_log_error(cat, "policy get");
        rc = -1;
    }
    sqldb_reset(st);
    return rc;
}

int cat_policy_get_json(struct cat *cat, const char *tenant, const char *id, json_t **out)
{
    char *doc = NULL;
    size_t len = 0;
    int rc = cat_policy_get_doc(cat, tenant, id, &doc, &len, NULL);
    if (rc != 0) return rc;
    *out = json_loadb(doc, len, 0, NULL);
    free(doc);
    return *out ? 0 : -1;
}

int cat_policy_exists(struct cat *cat, const char *tenant, const char *id)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT 1 FROM policies WHERE id = ?1 AND tenant = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    sqldb_reset(st);
    if (rc == SQLDB_ROW) return 1;
    if (rc == SQLDB_DONE) return 0;
    cat_log_error(cat, "policy exists");
    return -1;
}

int cat_policy_update(struct cat *cat, const char *tenant, const char *id, const char *name, const char *doc,
                      int64_t mtime_usecs)
{
    sqldb_stmt *st = cat_stmt(cat,
        "UPDATE policies SET name = ?3, doc = ?4, mtime_usecs = ?5 WHERE id = ?1 AND tenant = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 3, name, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 4, doc, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 5, mtime_usecs);
    rc = cat_exec_done_touch(cat, st, CAT_GEN_POLICIES);
    if (rc == 0 && sqldb_changes(cat_db(cat)) == 0) rc = CAT_NOT_FOUND;
    return rc;
}

int cat_policy_delete(struct cat *cat, const char *tenant, const char *id)
{
    sqldb_stmt *st = cat_stmt(cat, "DELETE FROM policies WHERE id = ?1 AND tenant = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    rc = cat_exec_done_touch(cat, st, CAT_GEN_POLICIES);
    if (rc == 0 && sqldb_changes(cat_db(cat)) == 0) rc = CAT_NOT_FOUND;
    return rc;
}

/* bind_list: a JSON array as text, or NULL (no filter). */
int cat_policy_list(struct cat *cat, const char *tenant, json_t *ids, json_t *names, cat_policy_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT id, doc FROM policies WHERE tenant = ?1"
        " AND (?2 IS NULL OR id IN (SELECT value FROM json_each(?2)))"
        " AND (?3 IS NULL OR name IN (SELECT value FROM json_each(?3)))"
        " ORDER BY seq");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    if (cat_bind_list(st, 2, ids) != 0 || cat_bind_list(st, 3, names) != 0) {
        sqldb_reset(st);
        return -1;
    }
    return cat_each_id_doc(cat, st, fn, ud, "policy list");
}

int cat_policy_stats(struct cat *cat, const char *tenant, const char *id, int64_t *num_groups,
                     int64_t *num_objects)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT (SELECT count(*) FROM protection_groups WHERE policy_id = ?1 AND tenant = ?2 AND is_deleted = 0),"
        " (SELECT count(DISTINCT o.object_id) FROM protection_group_objects o"
        "  JOIN protection_groups g ON g.id = o.group_id"
        "  WHERE g.policy_id = ?1 AND g.tenant = ?2 AND g.is_deleted = 0)");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        *num_groups = sqldb_column_int64(st, 0);
        *num_objects = sqldb_column_int64(st, 1);
    }
    sqldb_reset(st);
    if (rc != SQLDB_ROW) {
        cat_log_error(cat, "policy stats");
        return -1;
    }
    return 0;
}

int cat_policy_set_spec(struct cat *cat, const char *tenant, const char *id, const char *spec)
{
    return cat_spec_column_set(cat, CAT_GEN_POLICIES, "UPDATE policies SET spec = ?3 WHERE id = ?1 AND tenant = ?2", tenant, id, spec);
}

int cat_policy_get_spec(struct cat *cat, const char *tenant, const char *id, char **spec, size_t *len)
{
    return cat_spec_column_get(cat, "SELECT spec FROM policies WHERE id = ?1 AND tenant = ?2", "policy get spec",
                               tenant, id, spec, len);
}
