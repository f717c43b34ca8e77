/* nodes.c: the catalog side of several nodes on one repository (see cat_nodes.h).
 *
 * Table (migration 22): repo_sync(id PRIMARY KEY = 'repo', index_gen, prune_gen, prune_owner,
 * prune_expiry, writer), one row inserted by the migration. The prune lease is taken by one UPDATE
 * whose WHERE admits only a free, expired or own lease, so of two nodes taking it at once one changes
 * the row and the other sees zero changes; the counters grow by UPDATE ... + 1, atomic on both engines. */
#include "catalog/cat_nodes.h"
#include "catalog/cat_gen.h"
#include "catalog/internal.h"
#include "util/array.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cat_repo_sync_get(struct cat *cat, struct cat_repo_sync *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT index_gen, prune_gen, prune_owner, prune_expiry FROM repo_sync"
                                   " WHERE id = 'repo'");
    int rc;
    memset(out, 0, sizeof *out);
    if (!st) return -1;
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        const char *o = (const char *)sqldb_column_text(st, 2);
        out->index_gen = sqldb_column_int64(st, 0);
        out->prune_gen = sqldb_column_int64(st, 1);
        snprintf(out->prune_owner, sizeof out->prune_owner, "%s", o ? o : "");
        out->prune_expiry = sqldb_column_int64(st, 3);
        rc = 0;
    } else {
        rc = rc == SQLDB_DONE ? CAT_NOT_FOUND : cat_sql_error(cat, rc, "repo_sync get");
    }
    sqldb_reset(st);
    return rc;
}

int cat_repo_index_bump(struct cat *cat, const char *node, int64_t *gen)
{
    struct cat_repo_sync s;
    sqldb_stmt *st;
    int rc;
    if ((rc = cat_begin(cat)) != 0) return rc;
    st = cat_stmt(cat, "UPDATE repo_sync SET index_gen = index_gen + 1, writer = ?1 WHERE id = 'repo'");
    rc = st ? 0 : -1;
    if (rc == 0) {
        sqldb_bind_text(st, 1, node ? node : "", -1, SQLDB_STATIC);
        rc = cat_exec_done(cat, st);
    }
    if (rc == 0) rc = cat_repo_sync_get(cat, &s);
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) {
        cat_rollback(cat);
        return rc;
    }
    if (gen) *gen = s.index_gen;
    return 0;
}

int cat_repo_prune_acquire(struct cat *cat, const char *node, int64_t now, int64_t expiry, char *holder,
                           size_t holder_len)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE repo_sync SET prune_owner = ?1, prune_expiry = ?3 WHERE id = 'repo'"
                                   " AND (prune_owner IS NULL OR prune_owner = ?1 OR prune_expiry < ?2)");
    struct cat_repo_sync s;
    int rc;
    if (holder && holder_len) holder[0] = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, node, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 2, now);
    sqldb_bind_int64(st, 3, expiry);
    if ((rc = cat_exec_done(cat, st)) != 0) return rc;
    if (sqldb_changes(cat_db(cat)) > 0) return 0;
    if (holder && holder_len && cat_repo_sync_get(cat, &s) == 0) snprintf(holder, holder_len, "%s", s.prune_owner);
    return -EBUSY;
}

int cat_repo_prune_renew(struct cat *cat, const char *node, int64_t expiry)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE repo_sync SET prune_expiry = ?2 WHERE id = 'repo' AND prune_owner = ?1");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, node, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 2, expiry);
    if ((rc = cat_exec_done(cat, st)) != 0) return rc;
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}

int cat_repo_prune_release(struct cat *cat, const char *node)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE repo_sync SET prune_owner = NULL, prune_expiry = 0, prune_gen = prune_gen + 1"
                                   " WHERE id = 'repo' AND prune_owner = ?1");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, node, -1, SQLDB_STATIC);
    if ((rc = cat_exec_done(cat, st)) != 0) return rc;
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}

int cat_run_count_running_elsewhere(struct cat *cat, const char *owner, int64_t now, int64_t *n)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT count(*) FROM runs WHERE status = 'Running' AND lease_expiry >= ?2"
                                   " AND (lease_owner IS NULL OR lease_owner <> ?1)");
    int rc;
    *n = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, owner, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 2, now);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        *n = sqldb_column_int64(st, 0);
        rc = 0;
    } else {
        rc = cat_sql_error(cat, rc, "runs running elsewhere");
    }
    sqldb_reset(st);
    return rc;
}

void cat_run_expired_free(struct cat_run_expired *v, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(v[k].tenant);
        free(v[k].group_id);
        free(v[k].owner);
    }
    free(v);
}

int cat_run_list_expired(struct cat *cat, const char *owner, int64_t now, size_t max, struct cat_run_expired **out,
                         size_t *n)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT tenant, group_id, start_usecs, attempt, lease_owner FROM runs"
                                   " WHERE status = 'Running' AND lease_expiry < ?2"
                                   " AND (lease_owner IS NULL OR lease_owner <> ?1) ORDER BY start_usecs LIMIT ?3");
    struct cat_run_expired *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;
    *out = NULL;
    *n = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, owner ? owner : "", -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 2, now);
    sqldb_bind_int64(st, 3, (int64_t)max);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        if (ARRAY_RESERVE(v, cap, cnt + 1) != 0) {
            rc = -ENOMEM;
            break;
        }
        v[cnt].tenant = cat_col_strdup(st, 0);
        v[cnt].group_id = cat_col_strdup(st, 1);
        v[cnt].start_usecs = sqldb_column_int64(st, 2);
        v[cnt].attempt = sqldb_column_int64(st, 3);
        v[cnt].owner = cat_col_strdup(st, 4);
        cnt++;
        if (!v[cnt - 1].tenant || !v[cnt - 1].group_id) {
            rc = -ENOMEM;
            break;
        }
    }
    rc = rc == SQLDB_DONE ? 0 : rc == -ENOMEM ? rc : cat_sql_error(cat, rc, "expired runs");
    sqldb_reset(st);
    if (rc != 0) {
        cat_run_expired_free(v, cnt);
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}

int cat_run_take_expired(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                         const char *old_owner, const char *owner, int64_t now, int64_t lease_until)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE runs SET lease_owner = ?5, lease_expiry = ?7 WHERE tenant = ?1"
                                   " AND group_id = ?2 AND start_usecs = ?3 AND status = 'Running'"
                                   " AND coalesce(lease_owner, '') = ?4 AND lease_expiry < ?6");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, start_usecs);
    sqldb_bind_text(st, 4, old_owner ? old_owner : "", -1, SQLDB_STATIC);
    sqldb_bind_text(st, 5, owner, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 6, now);
    sqldb_bind_int64(st, 7, lease_until);
    if ((rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS)) != 0) return rc;
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}
