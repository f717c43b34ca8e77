/* snapshots.c: the snapshots protection runs produced (see cat_snapshot.h), and the ObjectSnapshot
 * JSON the API lists. Lists walk the (tenant, object, time) index for one object, the (tenant,
 * group, time) index otherwise; optional filters are bound as "(? = 0 OR ...)" so one cached
 * statement serves every combination, and list filters (run types, group ids) are checked in C. */
#include "catalog/cat_snapshot.h"
#include "catalog/cat_gen.h"
#include "catalog/internal.h"
#include <stdlib.h>
#include <string.h>

void cat_snapshot_release(struct cat_snapshot *s)
{
    if (!s) return;
    free(s->tenant);
    free(s->id);
    free(s->object_name);
    free(s->environment);
    free(s->group_id);
    free(s->group_name);
    free(s->run_type);
    free(s->status);
    free(s->parent_id);
    json_decref(s->sql.databases);
    memset(s, 0, sizeof *s);
}

#define SNAP_COLS                                                                                              \
    "tenant, id, object_id, object_name, source_id, environment, group_id, group_name, group_seq, run_usecs,"  \
    " instance_id, run_type, snapshot_usecs, end_usecs, status, logical_bytes, bytes_read, bytes_written,"    \
    " files, dirs, parent_id, expiry_usecs, on_legal_hold, is_deleted, sql_start_lsn, sql_end_lsn, sql_timeline,"    \
    " sql_consistent_usecs, sql_wal_from_usecs, sql_wal_to_usecs, sql_databases"

static int read_snap(sqldb_stmt *st, struct cat_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->tenant = cat_col_strdup(st, 0);
    s->id = cat_col_strdup(st, 1);
    s->object_id = sqldb_column_int64(st, 2);
    s->object_name = cat_col_strdup(st, 3);
    s->source_id = sqldb_column_int64(st, 4);
    s->environment = cat_col_strdup(st, 5);
    s->group_id = cat_col_strdup(st, 6);
    s->group_name = cat_col_strdup(st, 7);
    s->group_seq = sqldb_column_int64(st, 8);
    s->run_usecs = sqldb_column_int64(st, 9);
    s->instance_id = sqldb_column_int64(st, 10);
    s->run_type = cat_col_strdup(st, 11);
    s->snapshot_usecs = sqldb_column_int64(st, 12);
    s->end_usecs = sqldb_column_int64(st, 13);
    s->status = cat_col_strdup(st, 14);
    s->logical_bytes = sqldb_column_int64(st, 15);
    s->bytes_read = sqldb_column_int64(st, 16);
    s->bytes_written = sqldb_column_int64(st, 17);
    s->files = sqldb_column_int64(st, 18);
    s->dirs = sqldb_column_int64(st, 19);
    s->parent_id = cat_col_strdup(st, 20);
    s->expiry_usecs = sqldb_column_int64(st, 21);
    s->on_legal_hold = sqldb_column_int(st, 22);
    s->is_deleted = sqldb_column_int(st, 23);
    if (sqldb_column_type(st, 24) != SQLDB_NULL) {
        s->sql.present = 1;
        s->sql.start_lsn = (uint64_t)sqldb_column_int64(st, 24);
        s->sql.end_lsn = (uint64_t)sqldb_column_int64(st, 25);
        s->sql.timeline = sqldb_column_int64(st, 26);
        s->sql.consistent_usecs = sqldb_column_int64(st, 27);
        s->sql.wal_from_usecs = sqldb_column_int64(st, 28);
        s->sql.wal_to_usecs = sqldb_column_int64(st, 29);
        s->sql.databases = cat_col_json(st, 30);
    }
    if (!s->tenant || !s->id || !s->environment || !s->group_id || !s->run_type || !s->status) {
        cat_snapshot_release(s);
        return -1;
    }
    return 0;
}

int cat_snapshot_insert(struct cat *cat, const struct cat_snapshot *s)
{
    int rc;
    sqldb_stmt *st = cat_stmt(cat,
        "INSERT INTO snapshots(" SNAP_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"
        " ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31)");
    if (!st) return -1;
    sqldb_bind_text(st, 1, s->tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, s->id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, s->object_id);
    sqldb_bind_text(st, 4, s->object_name, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 5, s->source_id);
    sqldb_bind_text(st, 6, s->environment, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 7, s->group_id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 8, s->group_name, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 9, s->group_seq);
    sqldb_bind_int64(st, 10, s->run_usecs);
    sqldb_bind_int64(st, 11, s->instance_id);
    sqldb_bind_text(st, 12, s->run_type, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 13, s->snapshot_usecs);
    sqldb_bind_int64(st, 14, s->end_usecs);
    sqldb_bind_text(st, 15, s->status, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 16, s->logical_bytes);
    sqldb_bind_int64(st, 17, s->bytes_read);
    sqldb_bind_int64(st, 18, s->bytes_written);
    sqldb_bind_int64(st, 19, s->files);
    sqldb_bind_int64(st, 20, s->dirs);
    sqldb_bind_text(st, 21, s->parent_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 22, s->expiry_usecs);
    sqldb_bind_int(st, 23, s->on_legal_hold);
    sqldb_bind_int(st, 24, s->is_deleted);
    if (s->sql.present) {
        sqldb_bind_int64(st, 25, (int64_t)s->sql.start_lsn);
        sqldb_bind_int64(st, 26, (int64_t)s->sql.end_lsn);
        sqldb_bind_int64(st, 27, s->sql.timeline);
        sqldb_bind_int64(st, 28, s->sql.consistent_usecs);
        sqldb_bind_int64(st, 29, s->sql.wal_from_usecs);
        sqldb_bind_int64(st, 30, s->sql.wal_to_usecs);
        if (s->sql.databases && cat_bind_json(st, 31, s->sql.databases) != 0) {
            sqldb_reset(st);
            return -1;
        }
    }
    rc = cat_exec_done(cat, st);
    for (size_t i = 0; rc == 0 && i < s->n_objects; i++) {
        const struct cat_snapshot_object *o = &s->objects[i];
        st = cat_stmt(cat, "INSERT INTO snapshot_objects(tenant, snapshot_id, no, kind, name, parent, bytes)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        if (!st) return -1;
        sqldb_bind_text(st, 1, s->tenant, -1, SQLDB_STATIC);
        sqldb_bind_text(st, 2, s->id, -1, SQLDB_STATIC);
        sqldb_bind_int64(st, 3, (int64_t)i);
        sqldb_bind_text(st, 4, o->kind, -1, SQLDB_STATIC);
        sqldb_bind_text(st, 5, o->name, -1, SQLDB_STATIC);
        cat_bind_opt_text(st, 6, o->parent);
        sqldb_bind_int64(st, 7, o->bytes);
        rc = cat_exec_done(cat, st);
    }
    return rc;
}

int cat_snapshot_objects_list(struct cat *cat, const char *tenant, const char *snapshot_id,
                              cat_snapshot_object_fn fn, void *ud)
{
    struct cat_snapshot s;
    sqldb_stmt *st;
    int rc, out = 0;
    if ((rc = cat_snapshot_get(cat, tenant, snapshot_id, &s)) != 0) return rc;
    cat_snapshot_release(&s);
    /* Databases first (parent IS NULL sorts first), then tables grouped by database, by name. */
    st = cat_stmt(cat, "SELECT kind, name, parent, bytes FROM snapshot_objects WHERE tenant = ?1 AND snapshot_id = ?2"
                       " ORDER BY parent IS NOT NULL, parent, name");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, snapshot_id, -1, SQLDB_STATIC);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_snapshot_object o = {
            .kind = (const char *)sqldb_column_text(st, 0),
            .name = (const char *)sqldb_column_text(st, 1),
            .parent = (const char *)sqldb_column_text(st, 2),
            .bytes = sqldb_column_int64(st, 3),
        };
        if (!o.kind || !o.name) continue;
        if ((out = fn(ud, &o)) != 0) break;
    }
    if (out == 0 && rc != SQLDB_DONE) {
        cat_log_error(cat, "snapshot objects list");
        out = -1;
    }
    sqldb_reset(st);
    return out;
}

int cat_snapshot_get(struct cat *cat, const char *tenant, const char *id, struct cat_snapshot *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " SNAP_COLS " FROM snapshots WHERE tenant = ?1 AND id = ?2");
    int rc, ret;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, id, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    ret = rc == SQLDB_ROW ? read_snap(st, out) : rc == SQLDB_DONE ? CAT_NOT_FOUND : -1;
    if (ret < 0 && rc != SQLDB_ROW && rc != SQLDB_DONE) cat_log_error(cat, "snapshot get");
    sqldb_reset(st);
    return ret;
}

int cat_snapshot_latest(struct cat *cat, const char *tenant, const char *group_id, int64_t object_id, char **id)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT id FROM snapshots WHERE tenant = ?1 AND object_id = ?2 AND group_id = ?3"
                                     " AND is_deleted = 0 ORDER BY snapshot_usecs DESC LIMIT 1");
    int rc;
    *id = NULL;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 2, object_id);
    sqldb_bind_text(st, 3, group_id, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) *id = cat_col_strdup(st, 0);
    sqldb_reset(st);
    if (rc == SQLDB_DONE) return CAT_NOT_FOUND;
    if (rc != SQLDB_ROW || !*id) {
        cat_log_error(cat, "snapshot latest");
        return -1;
    }
    return 0;
}

static int scan(struct cat *cat, sqldb_stmt *st, const struct cat_snapshot_filter *f, cat_snapshot_fn fn, void *ud)
{
    int rc, out = 0;
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_snapshot s;
        if (read_snap(st, &s) != 0) {
            out = -1;
            break;
        }
        if (f) {
            int keep = 1;
            if (f->run_types && json_array_size(f->run_types) > 0 && !cat_json_has_str(f->run_types, s.run_type) &&
                !(strcmp(s.run_type, "kRegular") == 0 && cat_json_has_str(f->run_types, "kIncremental")))
                keep = 0;
            if (f->group_ids && json_array_size(f->group_ids) > 0 && !cat_json_has_str(f->group_ids, s.group_id)) keep = 0;
            if (f->instance_ids && json_array_size(f->instance_ids) > 0) {
                size_t k;
                json_t *x;
                int in = 0;
                json_array_foreach(f->instance_ids, k, x)
                    if (json_integer_value(x) == s.instance_id) in = 1;
                if (!in) keep = 0;
            }
            if (!keep) {
                cat_snapshot_release(&s);
                continue;
            }
        }
        out = fn(ud, &s);
        cat_snapshot_release(&s);
        if (out != 0) break;
    }
    if (out == 0 && rc != SQLDB_DONE) {
        cat_log_error(cat, "snapshot list");
        out = -1;
    }
    sqldb_reset(st);
    return out;
}

int cat_snapshot_list(struct cat *cat, const char *tenant, const struct cat_snapshot_filter *f, cat_snapshot_fn fn,
                      void *ud)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT " SNAP_COLS " FROM snapshots WHERE tenant = ?1"
        " AND (?2 < 0 OR object_id = ?2)"
        " AND (?3 = 0 OR snapshot_usecs >= ?3) AND (?4 = 0 OR snapshot_usecs <= ?4)"
        " AND (?5 = 0 OR run_usecs >= ?5) AND (?6 = 0 OR run_usecs <= ?6)"
        " AND (?7 IS NULL OR environment = ?7)"
        " AND (?8 < 0 OR source_id = ?8 OR object_id = ?8)"
        " AND (?9 = 1 OR is_deleted = 0)"
        " ORDER BY snapshot_usecs, id");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 2, f->object_id);
    sqldb_bind_int64(st, 3, f->from_usecs);
    sqldb_bind_int64(st, 4, f->to_usecs);
    sqldb_bind_int64(st, 5, f->run_from_usecs);
    sqldb_bind_int64(st, 6, f->run_to_usecs);
    sqldb_bind_text(st, 7, f->environment, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 8, f->source_id);
    sqldb_bind_int(st, 9, f->include_deleted ? 1 : 0);
    return scan(cat, st, f, fn, ud);
}

int cat_snapshot_expired(struct cat *cat, int64_t now_usecs, cat_snapshot_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " SNAP_COLS " FROM snapshots WHERE is_deleted = 0"
                                     " AND expiry_usecs > 0 AND expiry_usecs <= ?1 AND on_legal_hold = 0");
    if (!st) return -1;
    sqldb_bind_int64(st, 1, now_usecs);
    return scan(cat, st, NULL, fn, ud);
}

/* mark_deleted: flags the row deleted (only while it is live and expired at expired_at, when
 * expired_at >= 0) and the run local_deleted once none of its snapshots is left, in one transaction. */
static int mark_deleted(struct cat *cat, const char *tenant, const char *id, int64_t expired_at)
{
    sqldb_stmt *st;
    int rc;
    if ((rc = cat_begin(cat)) != 0) return rc;
    st = expired_at < 0 ? cat_stmt(cat, "UPDATE snapshots SET is_deleted = 1 WHERE tenant = ?1 AND id = ?2")
                        : cat_stmt(cat, "UPDATE snapshots SET is_deleted = 1 WHERE tenant = ?1 AND id = ?2"
                                        " AND is_deleted = 0 AND expiry_usecs > 0 AND expiry_usecs <= ?3"
                                        " AND on_legal_hold = 0");
    rc = -1;
    if (st) {
        sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
        sqldb_bind_text(st, 2, id, -1, SQLDB_STATIC);
        if (expired_at >= 0) sqldb_bind_int64(st, 3, expired_at);
        rc = cat_exec_done(cat, st);
        if (rc == 0 && sqldb_changes(cat_db(cat)) == 0) rc = CAT_NOT_FOUND;
    }
    if (rc == 0) {
        /* The run shows isLocalSnapshotsDeleted once none of its snapshots is left. */
        st = cat_stmt(cat,
            "UPDATE runs SET local_deleted = 1 WHERE (tenant, group_id, start_usecs) IN"
            " (SELECT tenant, group_id, run_usecs FROM snapshots WHERE tenant = ?1 AND id = ?2)"
            " AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.tenant = runs.tenant AND s.group_id = runs.group_id"
            "   AND s.run_usecs = runs.start_usecs AND s.is_deleted = 0)");
        rc = -1;
        if (st) {
            sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
            sqldb_bind_text(st, 2, id, -1, SQLDB_STATIC);
            rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS); /* a write of runs */
        }
    }
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) cat_rollback(cat);
    return rc;
}

int cat_snapshot_mark_deleted(struct cat *cat, const char *tenant, const char *id)
{
    return mark_deleted(cat, tenant, id, -1);
}

int cat_snapshot_mark_expired(struct cat *cat, const char *tenant, const char *id, int64_t now_usecs)
{
    return mark_deleted(cat, tenant, id, now_usecs < 0 ? 0 : now_usecs);
}
