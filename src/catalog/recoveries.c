/* recoveries.c: the recoveries table (see cat_recovery.h). Rows are read whole into struct
 * cat_recovery; lists walk the (tenant, start time) index newest first and check the list filters
 * (ids, statuses, actions, environments) in C; the queue walks (status, seq). Every state change is
 * one UPDATE guarded by the state it expects, so a cancel racing a worker's finish never loses. */
#include "catalog/cat_recovery.h"
#include "catalog/internal.h"
#include <stdlib.h>
#include <string.h>

static char *col_str(sqldb_stmt *st, int i)
{
    const unsigned char *t = sqldb_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

void cat_recovery_release(struct cat_recovery *r)
{
    if (!r) return;
    free(r->tenant);
    free(r->id);
    free(r->name);
    free(r->kind);
    free(r->snapshot_environment);
    free(r->recovery_action);
    free(r->status);
    free(r->snapshot_id);
    json_decref(r->request);
    json_decref(r->doc);
    json_decref(r->messages);
    json_decref(r->file_errors);
    free(r->lease_owner);
    memset(r, 0, sizeof *r);
}

#define REC_COLS                                                                                           \
    "tenant, id, seq, name, kind, snapshot_environment, recovery_action, status, start_usecs, end_usecs,"   \
    " snapshot_id, object_id, request, doc, messages, file_errors, files, dirs, bytes, errors, skipped,"    \
    " archive_bytes, cancel_requested, lease_owner"

static int read_rec(sqldb_stmt *st, struct cat_recovery *r)
{
    memset(r, 0, sizeof *r);
    r->tenant = col_str(st, 0);
    r->id = col_str(st, 1);
    r->seq = sqldb_column_int64(st, 2);
    r->name = col_str(st, 3);
    r->kind = col_str(st, 4);
    r->snapshot_environment = col_str(st, 5);
    r->recovery_action = col_str(st, 6);
    r->status = col_str(st, 7);
    r->start_usecs = sqldb_column_int64(st, 8);
    r->end_usecs = sqldb_column_int64(st, 9);
    r->snapshot_id = col_str(st, 10);
    r->object_id = sqldb_column_int64(st, 11);
    r->request = cat_col_json(st, 12);
    r->doc = cat_col_json(st, 13);
    r->messages = cat_col_json(st, 14);
    r->file_errors = cat_col_json(st, 15);
    r->files = sqldb_column_int64(st, 16);
    r->dirs = sqldb_column_int64(st, 17);
    r->bytes = sqldb_column_int64(st, 18);
    r->errors = sqldb_column_int64(st, 19);
    r->skipped = sqldb_column_int64(st, 20);
    r->archive_bytes = sqldb_column_int64(st, 21);
    r->cancel_requested = sqldb_column_int(st, 22);
    r->lease_owner = col_str(st, 23);
    if (!r->tenant || !r->id || !r->name || !r->kind || !r->snapshot_environment || !r->recovery_action ||
        !r->status || !r->snapshot_id || !json_is_object(r->request) || !json_is_object(r->doc) ||
        !json_is_array(r->messages) || !json_is_array(r->file_errors)) {
        cat_recovery_release(r);
        return -1;
    }
    return 0;
}

int cat_recovery_insert(struct cat *cat, const struct cat_recovery_new *n)
{
    sqldb_stmt *st = cat_stmt(cat,
        "INSERT INTO recoveries(tenant, id, seq, name, kind, snapshot_environment, recovery_action, status,"
        " start_usecs, snapshot_id, object_id, request, doc)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'Accepted', ?8, ?9, ?10, ?11, ?12)");
    if (!st) return -1;
    sqldb_bind_text(st, 1, n->tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, n->id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, n->seq);
    sqldb_bind_text(st, 4, n->name, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 5, n->kind, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 6, n->snapshot_environment, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 7, n->recovery_action, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 8, n->start_usecs);
    sqldb_bind_text(st, 9, n->snapshot_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 10, n->object_id);
    if (cat_bind_json(st, 11, n->request) != 0 || cat_bind_json(st, 12, n->doc) != 0) {
        sqldb_reset(st);
        return -1;
    }
    return cat_exec_done(cat, st);
}

int cat_recovery_get(struct cat *cat, const char *tenant, const char *id, struct cat_recovery *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " REC_COLS " FROM recoveries WHERE tenant = ?1 AND id = ?2");
    int rc, ret;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, id, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    ret = rc == SQLDB_ROW ? read_rec(st, out) : rc == SQLDB_DONE ? CAT_NOT_FOUND : -1;
    if (ret < 0 && ret != CAT_NOT_FOUND) cat_log_error(cat, "recovery get");
    sqldb_reset(st);
    return ret;
}

static int str_in(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    if (!arr || json_array_size(arr) == 0) return 1; /* no filter */
    json_array_foreach(arr, i, v) {
        const char *x = json_string_value(v);
        if (x && s && strcmp(x, s) == 0) return 1;
    }
    return 0;
}

int cat_recovery_list(struct cat *cat, const char *tenant, const struct cat_recovery_filter *f, cat_recovery_fn fn,
                      void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " REC_COLS " FROM recoveries WHERE tenant = ?1"
                                     " AND (?2 = 0 OR start_usecs >= ?2) AND (?3 = 0 OR start_usecs <= ?3)"
                                     " ORDER BY start_usecs DESC, seq DESC");
    int64_t limit = f->limit > 0 ? f->limit : 1000, n = 0;
    int rc = SQLDB_DONE, out = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 2, f->start_from);
    sqldb_bind_int64(st, 3, f->start_to);
    while (n < limit && (rc = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_recovery r;
        if (read_rec(st, &r) != 0) {
            out = -1;
            break;
        }
        if (str_in(f->ids, r.id) && str_in(f->statuses, r.status) && str_in(f->actions, r.recovery_action) &&
            str_in(f->environments, r.snapshot_environment)) {
            n++;
            out = fn(ud, &r);
        }
        cat_recovery_release(&r);
        if (out != 0) break;
    }
    if (out == 0 && n < limit && rc != SQLDB_DONE) {
        cat_log_error(cat, "recovery list");
        out = -1;
    }
    sqldb_reset(st);
    return out;
}

int cat_recovery_lease_next(struct cat *cat, const char *owner, int64_t lease_until, struct cat_recovery *out)
{
    sqldb_stmt *st;
    char *tenant = NULL, *id = NULL;
    int rc;
    if ((rc = cat_begin(cat)) != 0) return rc;
    st = cat_stmt(cat, "SELECT tenant, id FROM recoveries WHERE status = 'Accepted' ORDER BY seq LIMIT 1");
    if (!st) goto fail;
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        tenant = col_str(st, 0);
        id = col_str(st, 1);
    }
    sqldb_reset(st);
    if (rc == SQLDB_DONE) {
        cat_rollback(cat);
        return CAT_NOT_FOUND;
    }
    if (rc != SQLDB_ROW || !tenant || !id) goto fail;
    st = cat_stmt(cat, "UPDATE recoveries SET status = 'Running', lease_owner = ?3, lease_expiry = ?4"
                       " WHERE tenant = ?1 AND id = ?2");
    if (!st) goto fail;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 3, owner, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 4, lease_until);
    if (cat_exec_done(cat, st) != 0) goto fail;
    if (cat_commit(cat) != 0) goto fail;
    rc = cat_recovery_get(cat, tenant, id, out);
    free(tenant);
    free(id);
    return rc;
fail:
    cat_log_error(cat, "recovery lease");
    cat_rollback(cat);
    free(tenant);
    free(id);
    return -1;
}

int cat_recovery_progress(struct cat *cat, const char *tenant, const char *id, const char *owner,
                          const struct cat_recovery_stats *s, int *cancel)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE recoveries SET files = ?4, dirs = ?5, bytes = ?6, errors = ?7,"
                                     " skipped = ?8 WHERE tenant = ?1 AND id = ?2 AND lease_owner = ?3"
                                     " AND status IN ('Running', 'Canceling') RETURNING cancel_requested");
    int rc, found = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 3, owner, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 4, s->files);
    sqldb_bind_int64(st, 5, s->dirs);
    sqldb_bind_int64(st, 6, s->bytes);
    sqldb_bind_int64(st, 7, s->errors);
    sqldb_bind_int64(st, 8, s->skipped);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        found = 1;
        if (cancel) *cancel = sqldb_column_int(st, 0);
        rc = sqldb_step(st);
    }
    sqldb_reset(st);
    if (rc != SQLDB_DONE) {
        cat_log_error(cat, "recovery progress");
        return -1;
    }
    return found ? 0 : CAT_NOT_FOUND;
}

/* append: a new array holding a's then b's elements (b may be NULL). */
static json_t *append(json_t *a, json_t *b)
{
    json_t *out = json_array(), *v;
    size_t i;
    json_array_foreach(a, i, v) json_array_append(out, v);
    if (b) json_array_foreach(b, i, v) json_array_append(out, v);
    return out;
}

int cat_recovery_finish(struct cat *cat, const char *tenant, const char *id, const char *status, json_t *messages,
                        json_t *file_errors, const struct cat_recovery_stats *s, int64_t archive_bytes,
                        int64_t end_usecs)
{
    struct cat_recovery r;
    sqldb_stmt *st;
    json_t *msgs = NULL;
    int rc;
    if ((rc = cat_begin(cat)) != 0) return rc;
    rc = cat_recovery_get(cat, tenant, id, &r);
    if (rc != 0) {
        cat_rollback(cat);
        return rc;
    }
    msgs = append(r.messages, messages);
    st = cat_stmt(cat, "UPDATE recoveries SET status = ?3, messages = ?4, file_errors = ?5, files = ?6, dirs = ?7,"
                       " bytes = ?8, errors = ?9, skipped = ?10, archive_bytes = ?11, end_usecs = ?12,"
                       " lease_owner = NULL, lease_expiry = 0 WHERE tenant = ?1 AND id = ?2");
    rc = -1;
    if (st) {
        json_t *fe = file_errors ? file_errors : r.file_errors;
        sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
        sqldb_bind_text(st, 2, id, -1, SQLDB_STATIC);
        sqldb_bind_text(st, 3, status, -1, SQLDB_STATIC);
        sqldb_bind_int64(st, 6, s->files);
        sqldb_bind_int64(st, 7, s->dirs);
        sqldb_bind_int64(st, 8, s->bytes);
        sqldb_bind_int64(st, 9, s->errors);
        sqldb_bind_int64(st, 10, s->skipped);
        sqldb_bind_int64(st, 11, archive_bytes);
        sqldb_bind_int64(st, 12, end_usecs);
        if (cat_bind_json(st, 4, msgs) == 0 && cat_bind_json(st, 5, fe) == 0)
            rc = cat_exec_done(cat, st);
        else
            sqldb_reset(st);
    }
    json_decref(msgs);
    cat_recovery_release(&r);
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) cat_rollback(cat);
    return rc;
}

/* lease_where: the one statement that decides whether owner still holds a recovery's lease. */
#define LEASE_HELD " tenant = ?1 AND id = ?2 AND lease_owner = ?3 AND status IN ('Running', 'Canceling')"

int cat_recovery_renew(struct cat *cat, const char *tenant, const char *id, const char *owner, int64_t lease_until,
                       int *cancel)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE recoveries SET lease_expiry = ?4 WHERE" LEASE_HELD
                                     " RETURNING cancel_requested");
    int rc, found = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 3, owner, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 4, lease_until);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        found = 1;
        if (cancel) *cancel = sqldb_column_int(st, 0);
        rc = sqldb_step(st);
    }
    sqldb_reset(st);
    if (rc != SQLDB_DONE) return cat_sql_error(cat, rc, "recovery renew");
    return found ? 0 : CAT_NOT_FOUND;
}

int cat_recovery_check(struct cat *cat, const char *tenant, const char *id, const char *owner, int *cancel)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT cancel_requested FROM recoveries WHERE" LEASE_HELD);
    int rc, found = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 3, owner, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        found = 1;
        if (cancel) *cancel = sqldb_column_int(st, 0);
        rc = SQLDB_DONE;
    }
    sqldb_reset(st);
    if (rc != SQLDB_DONE) return cat_sql_error(cat, rc, "recovery check");
    return found ? 0 : CAT_NOT_FOUND;
}

int cat_recovery_fail_running(struct cat *cat, const char *owner, int64_t expired_before, const char *message,
                              int64_t end_usecs, int *n)
{
    sqldb_stmt *st = cat_stmt(cat,
        "UPDATE recoveries SET status = CASE status WHEN 'Canceling' THEN 'Canceled' ELSE 'Failed' END,"
        " messages = json_insert(messages, '$[#]', ?2), end_usecs = ?3, lease_owner = NULL, lease_expiry = 0"
        " WHERE status IN ('Running', 'Canceling') AND (?1 IS NULL OR lease_owner IS NULL OR lease_owner != ?1)"
        " AND (?4 = 0 OR lease_expiry < ?4)");
    int rc;
    if (n) *n = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, owner, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, message, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, end_usecs);
    sqldb_bind_int64(st, 4, expired_before);
    rc = cat_exec_done(cat, st);
    if (rc == 0 && n) *n = sqldb_changes(cat_db(cat));
    return rc;
}

int cat_recovery_cancel(struct cat *cat, const char *tenant, const char *id, int64_t end_usecs, int *was_running)
{
    struct cat_recovery r;
    sqldb_stmt *st;
    int rc;
    if (was_running) *was_running = 0;
    if ((rc = cat_begin(cat)) != 0) return rc;
    if ((rc = cat_recovery_get(cat, tenant, id, &r)) != 0) {
        cat_rollback(cat);
        return rc;
    }
    if (strcmp(r.status, "Accepted") == 0) {
        st = cat_stmt(cat, "UPDATE recoveries SET status = 'Canceled', cancel_requested = 1, end_usecs = ?3,"
                           " messages = json_insert(messages, '$[#]', 'canceled before it started')"
                           " WHERE tenant = ?1 AND id = ?2 AND status = 'Accepted'");
        rc = -1;
        if (st) {
            sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
            sqldb_bind_text(st, 2, id, -1, SQLDB_STATIC);
            sqldb_bind_int64(st, 3, end_usecs);
            rc = cat_exec_done(cat, st);
        }
    } else if (strcmp(r.status, "Running") == 0) {
        st = cat_stmt(cat, "UPDATE recoveries SET status = 'Canceling', cancel_requested = 1"
                           " WHERE tenant = ?1 AND id = ?2 AND status = 'Running'");
        rc = -1;
        if (st) {
            sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
            sqldb_bind_text(st, 2, id, -1, SQLDB_STATIC);
            rc = cat_exec_done(cat, st);
        }
        if (rc == 0 && was_running) *was_running = 1;
    } else if (strcmp(r.status, "Canceling") == 0 || strcmp(r.status, "Canceled") == 0) {
        rc = 0;
        if (was_running) *was_running = strcmp(r.status, "Canceling") == 0;
    } else {
        rc = CAT_CONFLICT;
    }
    cat_recovery_release(&r);
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) cat_rollback(cat);
    return rc;
}

int cat_recovery_downloads_before(struct cat *cat, int64_t end_before, cat_recovery_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " REC_COLS " FROM recoveries WHERE kind = 'download'"
                                     " AND archive_bytes >= 0 AND end_usecs > 0 AND end_usecs < ?1");
    int rc, out = 0;
    if (!st) return -1;
    sqldb_bind_int64(st, 1, end_before);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_recovery r;
        if (read_rec(st, &r) != 0) {
            out = -1;
            break;
        }
        out = fn(ud, &r);
        cat_recovery_release(&r);
        if (out != 0) break;
    }
    if (out == 0 && rc != SQLDB_DONE) {
        cat_log_error(cat, "recovery downloads");
        out = -1;
    }
    sqldb_reset(st);
    return out;
}

int cat_recovery_archive_gone(struct cat *cat, const char *tenant, const char *id, const char *message)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE recoveries SET archive_bytes = -1,"
                                     " messages = json_insert(messages, '$[#]', ?3) WHERE tenant = ?1 AND id = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 3, message, -1, SQLDB_STATIC);
    rc = cat_exec_done(cat, st);
    if (rc == 0 && sqldb_changes(cat_db(cat)) == 0) rc = CAT_NOT_FOUND;
    return rc;
}

int cat_recovery_count_active(struct cat *cat, cat_recovery_count_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT kind, status, COUNT(*) FROM recoveries"
                                   " WHERE status IN ('Accepted', 'Running', 'Canceling') GROUP BY kind, status"
                                   " ORDER BY kind, status");
    int rc, out = 0;
    if (!st) return -1;
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        const char *kind = (const char *)sqldb_column_text(st, 0), *status = (const char *)sqldb_column_text(st, 1);
        if (kind && status && (out = fn(ud, kind, status, sqldb_column_int64(st, 2))) != 0) break;
    }
    if (out == 0 && rc != SQLDB_DONE) {
        cat_log_error(cat, "recovery count by kind and status");
        out = -1;
    }
    sqldb_reset(st);
    return out;
}
