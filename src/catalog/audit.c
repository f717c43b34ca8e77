/* audit.c: the audit log in the catalog (cat_audit.h; migration 17: audit_log and audit_horizon).
 *
 * An append is one transaction: the next value of the "audit" sequence and the insert, committed
 * (synchronous=FULL: durable when cat_audit_append returns 0). A list is one prepared statement whose
 * optional filters are bound as NULL when absent, ordered by seq descending. The sweep writes the
 * horizon and deletes below it in one transaction; the triggers of migration 17 refuse every other
 * UPDATE or DELETE of audit rows. */
#include "catalog/cat_audit.h"
#include "catalog/internal.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

int cat_audit_append(struct cat *cat, struct cat_audit_entry *e)
{
    sqldb_stmt *st;
    int64_t seq;
    int rc;
    if ((rc = cat_begin(cat)) != 0) return rc;
    if ((rc = cat_next_seq(cat, "audit", &seq)) != 0) goto fail;
    st = cat_stmt(cat, "INSERT INTO audit_log(seq, time_usecs, request_id, actor, key_id, tenant, roles, client,"
                       " method, route, path, resource_id, status, detail)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)");
    if (!st) {
        rc = -1;
        goto fail;
    }
    sqldb_bind_int64(st, 1, seq);
    sqldb_bind_int64(st, 2, e->time_usecs);
    sqldb_bind_text(st, 3, e->request_id ? e->request_id : "", -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 4, e->actor ? e->actor : "api", -1, SQLDB_TRANSIENT);
    cat_bind_opt_text(st, 5, e->key_id);
    sqldb_bind_text(st, 6, e->tenant ? e->tenant : "", -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 7, e->roles ? e->roles : "", -1, SQLDB_TRANSIENT);
    cat_bind_opt_text(st, 8, e->client);
    sqldb_bind_text(st, 9, e->method ? e->method : "", -1, SQLDB_TRANSIENT);
    cat_bind_opt_text(st, 10, e->route);
    cat_bind_opt_text(st, 11, e->path);
    cat_bind_opt_text(st, 12, e->resource_id);
    sqldb_bind_int(st, 13, e->status);
    cat_bind_opt_text(st, 14, e->detail);
    if ((rc = cat_exec_done(cat, st)) != 0) goto fail;
    if ((rc = cat_commit(cat)) != 0) goto fail;
    e->seq = seq;
    return 0;
fail:
    cat_rollback(cat);
    return rc == CAT_CONFLICT ? -1 : rc;
}

static const char *col(sqldb_stmt *st, int i) { return (const char *)sqldb_column_text(st, i); }

/* The list's one query in four forms, so that SQLite reads the index that narrows it most (a filter
 * written "?N IS NULL OR col = ?N" reads no index): by resource (audit_log_resource), by a start time
 * (audit_log_time, then sorted: the rows of the window), by tenant (audit_log_tenant), or newest first
 * over every row. Every form applies every filter. */
#define AUDIT_COLS \
    "SELECT seq, time_usecs, request_id, actor, key_id, tenant, roles, client, method, route, path," \
    " resource_id, status, detail FROM audit_log WHERE "
#define AUDIT_FILTERS \
    " AND (?2 IS NULL OR key_id = ?2) AND (?4 IS NULL OR method = ?4)" \
    " AND (CAST(?5 AS BIGINT) IS NULL OR status = CAST(?5 AS BIGINT))" \
    " AND (CAST(?7 AS BIGINT) IS NULL OR time_usecs <= CAST(?7 AS BIGINT))" \
    " AND (CAST(?8 AS BIGINT) IS NULL OR seq < CAST(?8 AS BIGINT)) AND (?10 IS NULL OR route = ?10)"
#define AUDIT_TAIL AUDIT_FILTERS " ORDER BY seq DESC LIMIT CAST(?9 AS BIGINT)"
/* Numbers are CAST so that PostgreSQL types the parameters (a bare "?N IS NULL" gives it none).
 * "+seq": the order is not read from an index, so the time index narrows the rows and they are sorted */
#define AUDIT_TAIL_SORTED AUDIT_FILTERS " ORDER BY +seq DESC LIMIT CAST(?9 AS BIGINT)"
#define AUDIT_OPT_TENANT "(?1 IS NULL OR tenant = ?1)"
#define AUDIT_OPT_RESOURCE "(?3 IS NULL OR resource_id = ?3)"
#define AUDIT_OPT_START "(CAST(?6 AS BIGINT) IS NULL OR time_usecs >= CAST(?6 AS BIGINT))"

int cat_audit_list(struct cat *cat, const struct cat_audit_filter *f, cat_audit_fn fn, void *ud)
{
    sqldb_stmt *st;
    if (f->resource_id)
        st = cat_stmt(cat, AUDIT_COLS "resource_id = ?3 AND " AUDIT_OPT_TENANT " AND " AUDIT_OPT_START AUDIT_TAIL);
    else if (f->start_usecs)
        st = cat_stmt(cat, AUDIT_COLS "time_usecs >= CAST(?6 AS BIGINT) AND " AUDIT_OPT_TENANT " AND " AUDIT_OPT_RESOURCE AUDIT_TAIL_SORTED);
    else if (f->tenant)
        st = cat_stmt(cat, AUDIT_COLS "tenant = ?1 AND " AUDIT_OPT_RESOURCE " AND " AUDIT_OPT_START AUDIT_TAIL);
    else
        st = cat_stmt(cat, AUDIT_COLS AUDIT_OPT_TENANT " AND " AUDIT_OPT_RESOURCE " AND " AUDIT_OPT_START AUDIT_TAIL);
    int rc, stop = 0;
    if (!st) return -1;
    cat_bind_opt_text(st, 1, f->tenant);
    cat_bind_opt_text(st, 2, f->key_id);
    cat_bind_opt_text(st, 3, f->resource_id);
    cat_bind_opt_text(st, 4, f->method);
    if (f->status) sqldb_bind_int(st, 5, f->status);
    if (f->start_usecs) sqldb_bind_int64(st, 6, f->start_usecs);
    if (f->end_usecs) sqldb_bind_int64(st, 7, f->end_usecs);
    if (f->before_seq) sqldb_bind_int64(st, 8, f->before_seq);
    sqldb_bind_int(st, 9, f->limit > 0 && f->limit <= 1001 ? f->limit : 1001);
    cat_bind_opt_text(st, 10, f->route);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_audit_entry e = {
            .seq = sqldb_column_int64(st, 0), .time_usecs = sqldb_column_int64(st, 1),
            .request_id = col(st, 2), .actor = col(st, 3), .key_id = col(st, 4), .tenant = col(st, 5),
            .roles = col(st, 6), .client = col(st, 7), .method = col(st, 8), .route = col(st, 9),
            .path = col(st, 10), .resource_id = col(st, 11), .status = sqldb_column_int(st, 12),
            .detail = col(st, 13),
        };
        if ((stop = fn(ud, &e)) != 0) break;
    }
    if (!stop && rc != SQLDB_DONE) {
        int err = cat_sql_error(cat, rc, "audit list");
        sqldb_reset(st);
        return err;
    }
    sqldb_reset(st);
    return stop;
}

int cat_audit_sweep(struct cat *cat, int64_t before_usecs, int max_rows, int64_t *removed)
{
    sqldb_stmt *st;
    int rc;
    *removed = 0;
    if ((rc = cat_begin(cat)) != 0) return rc;
    st = cat_stmt(cat, "UPDATE audit_horizon SET before_usecs = ?1 WHERE id = 1");
    if (!st) {
        rc = -1;
        goto fail;
    }
    sqldb_bind_int64(st, 1, before_usecs);
    if ((rc = cat_exec_done(cat, st)) != 0) goto fail;
    st = cat_stmt(cat, "DELETE FROM audit_log WHERE seq IN"
                       " (SELECT seq FROM audit_log WHERE time_usecs < ?1 ORDER BY seq LIMIT ?2)");
    if (!st) {
        rc = -1;
        goto fail;
    }
    sqldb_bind_int64(st, 1, before_usecs);
    sqldb_bind_int(st, 2, max_rows);
    if ((rc = cat_exec_done(cat, st)) != 0) goto fail;
    *removed = sqldb_changes(cat_db(cat));
    if ((rc = cat_commit(cat)) != 0) goto fail;
    return 0;
fail:
    cat_rollback(cat);
    *removed = 0;
    return rc == CAT_CONFLICT ? -1 : rc;
}
