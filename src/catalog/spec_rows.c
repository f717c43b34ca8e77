/* spec_rows.c: the typed-spec column that policies and protection_groups share (migration 7): one
 * reader and one writer of "the spec document of row (tenant, id)", which each table's typed
 * functions (cat_policy_get_spec, cat_group_set_spec, ...) call with their own statement. */
#include "catalog/internal.h"
#include <stdlib.h>

int cat_spec_column_get(struct cat *cat, const char *select_sql, const char *what, const char *tenant,
                        const char *id, char **spec, size_t *len)
{
    sqldb_stmt *st = cat_stmt(cat, select_sql);
    int rc;
    *spec = NULL;
    *len = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        rc = 0;
        if (sqldb_column_type(st, 0) != SQLDB_NULL) {
            *spec = cat_col_strdup(st, 0);
            *len = (size_t)sqldb_column_bytes(st, 0);
            if (!*spec) rc = -1;
        }
    } else if (rc == SQLDB_DONE) {
        rc = CAT_NOT_FOUND;
    } else {
        cat_log_error(cat, what);
        rc = -1;
    }
    sqldb_reset(st);
    return rc;
}

int cat_spec_column_set(struct cat *cat, enum cat_gen_family family, const char *update_sql, const char *tenant, const char *id,
                        const char *spec)
{
    sqldb_stmt *st = cat_stmt(cat, update_sql);
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, tenant, -1, SQLDB_STATIC);
    cat_bind_opt_text(st, 3, spec);
    rc = cat_exec_done_touch(cat, st, family); /* the scheduler keeps plans made from it (sched.c) */
    if (rc == 0 && sqldb_changes(cat_db(cat)) == 0) rc = CAT_NOT_FOUND;
    return rc;
}
