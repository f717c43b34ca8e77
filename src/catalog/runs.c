/* runs.c: protection runs, their objects and the scheduler's memory in the catalog (see cat_run.h),
 * (the API builds the wire JSON from these structs: src/api/run_json.c).
 *
 * Every state change is one statement or one BEGIN IMMEDIATE transaction, so a killed daemon leaves
 * each run in a state it can read back: Accepted (queued), Running with a lease, or finished. The
 * queue is the runs table itself: a worker leases the oldest Accepted run of a group that has
 * nothing Running, in the same transaction that marks it Running. Per-run object counts and file
 * totals are computed from run_objects by sub-selects when a run is read.
 *
 * Every write of runs or run_objects goes through cat_exec_done_touch, which touches the CAT_GEN_RUNS
 * generation (cat_gen.h) AFTER the statement: an autocommit write is then visible before the
 * generation changes, and a write inside a transaction changes it again when the transaction ends;
 * the API's cached lists with last runs check it. The scheduler's own tables (sched_state,
 * sched_fires) are not part of it. */
#include "catalog/cat_run.h"
#include "catalog/cat_gen.h"
#include "catalog/cat_group.h"
#include "catalog/cat_snapshot.h"
#include "catalog/internal.h"
#include "util/array.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- reading rows ---------- */

void cat_run_release(struct cat_run *r)
{
    if (!r) return;
    free(r->tenant);
    free(r->group_id);
    free(r->group_name);
    free(r->run_type);
    free(r->status);
    json_decref(r->objects);
    json_decref(r->messages);
    free(r->data_lock);
    free(r->lease_owner);
    free(r->environment);
    json_decref(r->failed_attempts);
    json_decref(r->checkpoints);
    memset(r, 0, sizeof *r);
}

void cat_run_object_release(struct cat_run_object *o)
{
    if (!o) return;
    free(o->object_name);
    free(o->source_name);
    free(o->environment);
    free(o->object_type);
    free(o->status);
    free(o->message);
    free(o->snapshot_id);
    json_decref(o->warnings);
    memset(o, 0, sizeof *o);
}

#define RUN_COLS                                                                                                  \
    "r.tenant, r.group_id, r.group_name, r.group_seq, r.start_usecs, r.end_usecs, r.instance_id, r.run_type,"    \
    " r.status, r.scheduled, r.objects, r.messages, r.logical_bytes, r.bytes_read, r.bytes_written,"             \
    " r.cancel_requested, r.on_legal_hold, r.local_deleted, r.expiry_usecs, r.data_lock, r.lease_owner,"        \
    " r.lease_expiry,"                                                                                          \
    " (SELECT count(*) FROM run_objects o WHERE o.tenant = r.tenant AND o.group_id = r.group_id"                 \
    "    AND o.start_usecs = r.start_usecs),"                                                                   \
    " (SELECT count(*) FROM run_objects o WHERE o.tenant = r.tenant AND o.group_id = r.group_id"                 \
    "    AND o.start_usecs = r.start_usecs AND o.status IN ('kSuccessful', 'kWarning')),"                        \
    " (SELECT count(*) FROM run_objects o WHERE o.tenant = r.tenant AND o.group_id = r.group_id"                 \
    "    AND o.start_usecs = r.start_usecs AND o.status = 'kFailed'),"                                          \
    " (SELECT count(*) FROM run_objects o WHERE o.tenant = r.tenant AND o.group_id = r.group_id"                 \
    "    AND o.start_usecs = r.start_usecs AND o.status = 'kCanceled'),"                                        \
    " (SELECT coalesce(sum(files), 0) FROM run_objects o WHERE o.tenant = r.tenant AND o.group_id = r.group_id"  \
    "    AND o.start_usecs = r.start_usecs),"                                                                   \
    " (SELECT coalesce(sum(dirs), 0) FROM run_objects o WHERE o.tenant = r.tenant AND o.group_id = r.group_id"   \
    "    AND o.start_usecs = r.start_usecs),"                                                                   \
    " (SELECT g.environment FROM protection_groups g WHERE g.id = r.group_id),"                                  \
    " r.attempt, r.retry_at, r.failed_attempts, r.pause_requested, r.checkpoints"
#define RUN_NCOLS 34 /* the columns of RUN_COLS */

static int read_run(sqldb_stmt *st, struct cat_run *r)
{
    memset(r, 0, sizeof *r);
    r->tenant = cat_col_strdup(st, 0);
    r->group_id = cat_col_strdup(st, 1);
    r->group_name = cat_col_strdup(st, 2);
    r->group_seq = sqldb_column_int64(st, 3);
    r->start_usecs = sqldb_column_int64(st, 4);
    r->end_usecs = sqldb_column_int64(st, 5);
    r->instance_id = sqldb_column_int64(st, 6);
    r->run_type = cat_col_strdup(st, 7);
    r->status = cat_col_strdup(st, 8);
    r->scheduled = sqldb_column_int(st, 9);
    r->objects = cat_col_json(st, 10);
    r->messages = cat_col_json(st, 11);
    r->logical_bytes = sqldb_column_int64(st, 12);
    r->bytes_read = sqldb_column_int64(st, 13);
    r->bytes_written = sqldb_column_int64(st, 14);
    r->cancel_requested = sqldb_column_int(st, 15);
    r->on_legal_hold = sqldb_column_int(st, 16);
    r->local_deleted = sqldb_column_int(st, 17);
    r->expiry_usecs = sqldb_column_int64(st, 18);
    r->data_lock = cat_col_strdup(st, 19);
    r->lease_owner = cat_col_strdup(st, 20);
    r->lease_expiry = sqldb_column_int64(st, 21);
    r->objects_total = sqldb_column_int64(st, 22);
    r->objects_ok = sqldb_column_int64(st, 23);
    r->objects_failed = sqldb_column_int64(st, 24);
    r->objects_canceled = sqldb_column_int64(st, 25);
    r->files = sqldb_column_int64(st, 26);
    r->dirs = sqldb_column_int64(st, 27);
    r->environment = cat_col_strdup(st, 28);
    r->attempt = sqldb_column_int64(st, 29);
    r->retry_at = sqldb_column_int64(st, 30);
    r->failed_attempts = cat_col_json(st, 31);
    r->pause_requested = sqldb_column_int(st, 32);
    r->checkpoints = cat_col_json(st, 33);
    if (!json_is_object(r->checkpoints)) {
        json_decref(r->checkpoints);
        r->checkpoints = NULL;
    }
    if (!json_is_array(r->failed_attempts)) {
        json_decref(r->failed_attempts);
        r->failed_attempts = NULL;
    }
    if (!json_is_array(r->messages)) {
        json_decref(r->messages);
        r->messages = json_array();
    }
    if (!r->tenant || !r->group_id || !r->group_name || !r->run_type || !r->status || !r->messages) {
        cat_run_release(r);
        return -1;
    }
    return 0;
}

/* one_run: steps st (bound by the caller) for at most one row. */
static int one_run(struct cat *cat, sqldb_stmt *st, struct cat_run *out, const char *what)
{
    int rc = sqldb_step(st), ret;
    if (rc == SQLDB_ROW) ret = read_run(st, out);
    else if (rc == SQLDB_DONE) ret = CAT_NOT_FOUND;
    else {
        cat_log_error(cat, what);
        ret = -1;
    }
    sqldb_reset(st);
    return ret;
}

int cat_run_get(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs, struct cat_run *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " RUN_COLS " FROM runs r"
                                     " WHERE r.tenant = ?1 AND r.group_id = ?2 AND r.start_usecs = ?3");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, start_usecs);
    return one_run(cat, st, out, "run get");
}

int cat_run_find(struct cat *cat, const char *tenant, int64_t group_seq, int64_t start_usecs, struct cat_run *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " RUN_COLS " FROM runs r"
                                     " WHERE r.tenant = ?1 AND r.group_seq = ?2 AND r.start_usecs = ?3");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 2, group_seq);
    sqldb_bind_int64(st, 3, start_usecs);
    return one_run(cat, st, out, "run find");
}

int cat_run_active(struct cat *cat, const char *tenant, const char *group_id)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT 1 FROM runs WHERE tenant = ?1 AND group_id = ?2"
                                     " AND status IN ('Accepted', 'Running') LIMIT 1");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    sqldb_reset(st);
    if (rc == SQLDB_ROW) return 1;
    if (rc == SQLDB_DONE) return 0;
    cat_log_error(cat, "run active");
    return -1;
}

int cat_run_count_by_status(struct cat *cat, cat_run_count_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT status, COUNT(*) FROM runs GROUP BY status ORDER BY status");
    int rc, out = 0;
    if (!st) return -1;
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        const char *status = (const char *)sqldb_column_text(st, 0);
        if (status && (out = fn(ud, status, sqldb_column_int64(st, 1))) != 0) break;
    }
    if (out == 0 && rc != SQLDB_DONE) {
        cat_log_error(cat, "run count by status");
        out = -1;
    }
    sqldb_reset(st);
    return out;
}

static int read_object(sqldb_stmt *st, struct cat_run_object *o)
{
    memset(o, 0, sizeof *o);
    o->object_id = sqldb_column_int64(st, 0);
    o->object_name = cat_col_strdup(st, 1);
    o->source_id = sqldb_column_int64(st, 2);
    o->source_name = cat_col_strdup(st, 3);
    o->environment = cat_col_strdup(st, 4);
    o->object_type = cat_col_strdup(st, 5);
    o->status = cat_col_strdup(st, 6);
    o->message = cat_col_strdup(st, 7);
    o->snapshot_id = cat_col_strdup(st, 8);
    o->begin_usecs = sqldb_column_int64(st, 9);
    o->end_usecs = sqldb_column_int64(st, 10);
    o->logical_bytes = sqldb_column_int64(st, 11);
    o->bytes_read = sqldb_column_int64(st, 12);
    o->bytes_written = sqldb_column_int64(st, 13);
    o->files = sqldb_column_int64(st, 14);
    o->dirs = sqldb_column_int64(st, 15);
    o->files_read = sqldb_column_int64(st, 16);
    o->files_total = sqldb_column_int64(st, 17);
    o->bytes_total = sqldb_column_int64(st, 18);
    o->walk_done = sqldb_column_int(st, 19);
    o->pct = sqldb_column_double(st, 20);
    o->warnings = cat_col_json(st, 21);
    if (!o->status) {
        cat_run_object_release(o);
        return -1;
    }
    return 0;
}

int cat_run_objects(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                    struct cat_run_object **out, size_t *n)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT object_id, object_name, source_id, source_name, environment, object_type, status, message,"
        " snapshot_id, begin_usecs, end_usecs, logical_bytes, bytes_read, bytes_written, files, dirs, files_read,"
        " files_total, bytes_total, walk_done, pct, warnings FROM run_objects"
        " WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3 ORDER BY object_id");
    struct cat_run_object *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc, ret = 0;
    *out = NULL;
    *n = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, start_usecs);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        if (ARRAY_RESERVE(v, cap, cnt + 1) != 0) {
            ret = -1;
            break;
        }
        if (read_object(st, &v[cnt]) != 0) {
            ret = -1;
            break;
        }
        cnt++;
    }
    if (ret == 0 && rc != SQLDB_DONE) {
        cat_log_error(cat, "run objects");
        ret = -1;
    }
    sqldb_reset(st);
    if (ret != 0) {
        for (size_t i = 0; i < cnt; i++) cat_run_object_release(&v[i]);
        free(v);
        return ret;
    }
    *out = v;
    *n = cnt;
    return 0;
}

/* ---------- creating runs ---------- */

int cat_run_insert(struct cat *cat, const struct cat_run_new *nr, int64_t *start_usecs)
{
    sqldb_stmt *st;
    int64_t start = *start_usecs, instance;
    int rc, missed = strcmp(nr->status, "Missed") == 0;
    json_t *messages;
    if ((rc = cat_begin(cat)) != 0) return rc;
    if (!missed) {
        rc = cat_run_active(cat, nr->tenant, nr->group_id);
        if (rc != 0) {
            cat_rollback(cat);
            return rc > 0 ? CAT_CONFLICT : rc;
        }
    }
    for (;;) { /* the first free start time at or after the wished one */
        st = cat_stmt(cat, "SELECT 1 FROM runs WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3");
        if (!st) goto fail;
        sqldb_bind_text(st, 1, nr->tenant, -1, SQLDB_STATIC);
        sqldb_bind_text(st, 2, nr->group_id, -1, SQLDB_STATIC);
        sqldb_bind_int64(st, 3, start);
        rc = sqldb_step(st);
        sqldb_reset(st);
        if (rc == SQLDB_DONE) break;
        if (rc != SQLDB_ROW) goto fail;
        start++;
    }
    if (cat_next_seq(cat, "run", &instance) != 0) goto fail;
    messages = json_array();
    if (nr->message) json_array_append_new(messages, json_string(nr->message));
    st = cat_stmt(cat, "INSERT INTO runs(tenant, group_id, group_name, group_seq, start_usecs, end_usecs, instance_id,"
                       " run_type, status, scheduled, objects, messages, expiry_usecs)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    if (!st) {
        json_decref(messages);
        goto fail;
    }
    sqldb_bind_text(st, 1, nr->tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, nr->group_id, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 3, nr->group_name ? nr->group_name : "", -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 4, nr->group_seq);
    sqldb_bind_int64(st, 5, start);
    sqldb_bind_int64(st, 6, missed ? start : 0);
    sqldb_bind_int64(st, 7, instance);
    sqldb_bind_text(st, 8, nr->run_type, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 9, nr->status, -1, SQLDB_STATIC);
    sqldb_bind_int(st, 10, nr->scheduled ? 1 : 0);
    if (nr->objects) cat_bind_json(st, 11, nr->objects);
    cat_bind_json(st, 12, messages);
    sqldb_bind_int64(st, 13, nr->expiry_usecs);
    json_decref(messages);
    if ((rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS)) != 0) {
        cat_rollback(cat);
        return rc;
    }
    if ((rc = cat_commit(cat)) != 0) {
        cat_rollback(cat);
        return rc;
    }
    *start_usecs = start;
    return 0;
fail:
    rc = cat_last_error() ? cat_last_error() : cat_sql_error(cat, 0, "run insert");
    cat_rollback(cat);
    return rc;
}

/* ---------- listing ---------- */

static int type_matches(json_t *types, const char *run_type)
{
    if (!types || json_array_size(types) == 0 || cat_json_has_str(types, "kAll")) return 1;
    if (cat_json_has_str(types, run_type)) return 1;
    return strcmp(run_type, "kRegular") == 0 && cat_json_has_str(types, "kIncremental");
}

int cat_run_list(struct cat *cat, const char *tenant, const char *group_id, const struct cat_run_filter *f,
                 cat_run_fn fn, void *ud, int64_t *total)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT " RUN_COLS " FROM runs r WHERE r.tenant = ?1 AND r.group_id = ?2"
        " AND (?3 = 0 OR r.start_usecs >= ?3) AND (?4 = 0 OR r.start_usecs <= ?4)"
        " AND (?5 = 0 OR r.start_usecs = ?5)"
        " AND (?6 = 0 OR EXISTS (SELECT 1 FROM snapshots s WHERE s.tenant = r.tenant AND s.group_id = r.group_id"
        "      AND s.run_usecs = r.start_usecs AND s.is_deleted = 0))"
        " ORDER BY r.start_usecs DESC");
    int64_t limit = f->limit > 0 ? f->limit : 100, shown = 0, count = 0;
    int rc, out = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, f->start_from);
    sqldb_bind_int64(st, 4, f->start_to);
    sqldb_bind_int64(st, 5, f->only_start);
    sqldb_bind_int(st, 6, f->restorable_only ? 1 : 0);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_run r;
        const char *status = (const char *)sqldb_column_text(st, 8);
        const char *type = (const char *)sqldb_column_text(st, 7);
        if (!status || !type || !type_matches(f->run_types, type)) continue;
        if (f->statuses && json_array_size(f->statuses) > 0) {
            int canceling = strcmp(status, "Running") == 0 && sqldb_column_int(st, 15);
            if (!cat_json_has_str(f->statuses, canceling ? "Canceling" : status)) continue;
        }
        count++;
        if (shown >= limit || out != 0) continue;
        if (read_run(st, &r) != 0) {
            out = -1;
            break;
        }
        shown++;
        out = fn(ud, &r);
        cat_run_release(&r);
    }
    if (out >= 0 && rc != SQLDB_DONE && rc != SQLDB_ROW) {
        cat_log_error(cat, "run list");
        out = -1;
    }
    sqldb_reset(st);
    if (total) *total = count;
    return out;
}

/* The filters of cat_group_list over protection_groups g (?1 tenant, ?2 is_deleted, ?3 is_active,
 * ?4 is_paused, ?5..?8 JSON arrays of ids, names, policy ids, environments). */
#define GROUP_FILTER                                                                                            \
    " WHERE g.tenant = ?1 AND g.is_deleted = ?2"                                                                \
    " AND (?3 < 0 OR g.is_active = ?3) AND (?4 < 0 OR g.is_paused = ?4)"                                        \
    " AND (?5 IS NULL OR g.id IN (SELECT value FROM json_each(?5)))"                                            \
    " AND (?6 IS NULL OR g.name IN (SELECT value FROM json_each(?6)))"                                          \
    " AND (?7 IS NULL OR g.policy_id IN (SELECT value FROM json_each(?7)))"                                     \
    " AND (?8 IS NULL OR g.environment IN (SELECT value FROM json_each(?8)))"

static int bind_group_filter(sqldb_stmt *st, const char *tenant, const struct cat_group_filter *f)
{
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_int(st, 2, f->is_deleted > 0 ? 1 : 0);
    sqldb_bind_int(st, 3, f->is_active);
    sqldb_bind_int(st, 4, f->is_paused);
    if (cat_bind_list(st, 5, f->ids) != 0 || cat_bind_list(st, 6, f->names) != 0 ||
        cat_bind_list(st, 7, f->policy_ids) != 0 || cat_bind_list(st, 8, f->environments) != 0)
        return -1;
    return 0;
}

int cat_group_list_last_run(struct cat *cat, const char *tenant, const struct cat_group_filter *f,
                            cat_group_run_fn fn, void *ud)
{
    /* Two statements stepped side by side, both in creation order (seq): the groups, and the newest
     * run of each group that has one (one primary-key probe for max(start_usecs), the run's own
     * columns only for groups that have runs). A run row is matched to its group by seq; on an engine
     * where the two statements see different moments, a run of a group the first did not list is
     * skipped and a group the second did not reach has none. */
    sqldb_stmt *gs = cat_stmt(cat, "SELECT g.seq, g.id, g.doc FROM protection_groups g" GROUP_FILTER " ORDER BY g.seq");
    sqldb_stmt *rs;
    int grc, rrc = SQLDB_DONE, out = 0;
    if (!gs || bind_group_filter(gs, tenant, f) != 0) {
        if (gs) sqldb_reset(gs);
        return -1;
    }
    rs = cat_stmt(cat, "SELECT " RUN_COLS ", g.seq FROM protection_groups g JOIN runs r ON r.tenant = g.tenant"
                       " AND r.group_id = g.id AND r.start_usecs = (SELECT max(m.start_usecs) FROM runs m"
                       " WHERE m.tenant = g.tenant AND m.group_id = g.id)" GROUP_FILTER " ORDER BY g.seq");
    if (!rs || bind_group_filter(rs, tenant, f) != 0) {
        if (rs) sqldb_reset(rs);
        sqldb_reset(gs);
        return -1;
    }
    rrc = sqldb_step(rs);
    while ((grc = sqldb_step(gs)) == SQLDB_ROW) {
        int64_t seq = sqldb_column_int64(gs, 0);
        const char *id = (const char *)sqldb_column_text(gs, 1);
        const char *doc = (const char *)sqldb_column_text(gs, 2);
        size_t len = (size_t)sqldb_column_bytes(gs, 2);
        struct cat_run r;
        if (!id || !doc) {
            out = -1;
            break;
        }
        while (rrc == SQLDB_ROW && sqldb_column_int64(rs, RUN_NCOLS) < seq) rrc = sqldb_step(rs);
        if (rrc == SQLDB_ROW && sqldb_column_int64(rs, RUN_NCOLS) == seq) {
            if (read_run(rs, &r) != 0) {
                out = -1;
                break;
            }
            out = fn(ud, id, doc, len, &r);
            cat_run_release(&r);
            rrc = sqldb_step(rs);
        } else {
            out = fn(ud, id, doc, len, NULL);
        }
        if (out != 0) break;
    }
    if (out == 0 && (grc != SQLDB_DONE || (rrc != SQLDB_DONE && rrc != SQLDB_ROW))) {
        cat_log_error(cat, "group list with last runs");
        out = -1;
    }
    sqldb_reset(rs);
    sqldb_reset(gs);
    return out;
}

/* ---------- the worker's side ---------- */

int cat_run_lease_next(struct cat *cat, const char *owner, int64_t lease_until, struct cat_run *out)
{
    return cat_run_lease_next_at(cat, owner, lease_until, INT64_MAX, out);
}

int cat_run_lease_next_at(struct cat *cat, const char *owner, int64_t lease_until, int64_t now, struct cat_run *out)
{
    sqldb_stmt *st;
    char *tenant = NULL, *group = NULL;
    int64_t start = 0;
    int rc;
    /* SQLite: one writer at a time (BEGIN IMMEDIATE). PostgreSQL, where several nodes lease from one
     * catalog: a plain transaction, the candidate row locked FOR UPDATE with SKIP LOCKED so that
     * nodes leasing at once take different runs and none waits for another (a group has at most one
     * Accepted or Running run: cat_run_insert). */
    if (cat_engine(cat) == SQLDB_PG) rc = cat_exec_sql(cat, "BEGIN") == SQLDB_OK ? 0 : -1;
    else rc = cat_begin(cat);
    if (rc != 0) return rc;
    st = cat_stmt_alt(cat,
                      "SELECT r.tenant, r.group_id, r.start_usecs FROM runs r WHERE r.status = 'Accepted'"
                      " AND r.retry_at <= ?1 AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.tenant = r.tenant"
                      "   AND x.group_id = r.group_id AND x.status = 'Running') ORDER BY r.start_usecs LIMIT 1",
                      "SELECT r.tenant, r.group_id, r.start_usecs FROM runs r WHERE r.status = 'Accepted'"
                      " AND r.retry_at <= ?1 AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.tenant = r.tenant"
                      "   AND x.group_id = r.group_id AND x.status = 'Running') ORDER BY r.start_usecs LIMIT 1"
                      " FOR UPDATE OF r SKIP LOCKED");
    if (!st) goto fail;
    sqldb_bind_int64(st, 1, now);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        tenant = cat_col_strdup(st, 0);
        group = cat_col_strdup(st, 1);
        start = sqldb_column_int64(st, 2);
    }
    sqldb_reset(st);
    if (rc == SQLDB_DONE) {
        cat_rollback(cat);
        return CAT_NOT_FOUND;
    }
    if (rc != SQLDB_ROW || !tenant || !group) goto fail;
    st = cat_stmt(cat, "UPDATE runs SET status = 'Running', lease_owner = ?4, lease_expiry = ?5"
                       " WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3 AND status = 'Accepted'");
    if (!st) goto fail;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, start);
    sqldb_bind_text(st, 4, owner, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 5, lease_until);
    if (cat_exec_done_touch(cat, st, CAT_GEN_RUNS) != 0) goto fail;
    if (sqldb_changes(cat_db(cat)) != 1) { /* cannot happen with the row locked; never report a run not ours */
        cat_rollback(cat);
        free(tenant);
        free(group);
        return CAT_NOT_FOUND;
    }
    if (cat_commit(cat) != 0) goto fail;
    rc = cat_run_get(cat, tenant, group, start, out);
    free(tenant);
    free(group);
    return rc;
fail:
    rc = cat_last_error() ? cat_last_error() : cat_sql_error(cat, 0, "run lease");
    cat_rollback(cat);
    free(tenant);
    free(group);
    return rc;
}

int cat_run_renew(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs, const char *owner,
                  int64_t lease_until, int *cancel)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE runs SET lease_expiry = ?5 WHERE tenant = ?1 AND group_id = ?2"
                                     " AND start_usecs = ?3 AND lease_owner = ?4 AND status = 'Running'"
                                     " RETURNING CASE WHEN cancel_requested <> 0 THEN 1 WHEN pause_requested <> 0 THEN 2 ELSE 0 END");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, start_usecs);
    sqldb_bind_text(st, 4, owner, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 5, lease_until);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW && cancel) *cancel = sqldb_column_int(st, 0);
    while (rc == SQLDB_ROW) rc = sqldb_step(st);
    sqldb_reset(st);
    cat_gen_touch(CAT_GEN_RUNS); /* after the write, as cat_exec_done_touch */
    if (rc != SQLDB_DONE) return cat_sql_error(cat, rc, "run renew");
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}

int cat_run_check(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                  const char *owner, int *cancel)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT CASE WHEN cancel_requested <> 0 THEN 1 WHEN pause_requested <> 0 THEN 2 ELSE 0 END"
                                     " FROM runs WHERE tenant = ?1 AND group_id = ?2"
                                     " AND start_usecs = ?3 AND lease_owner = ?4 AND status = 'Running'");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, start_usecs);
    sqldb_bind_text(st, 4, owner, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) *cancel = sqldb_column_int(st, 0);
    sqldb_reset(st);
    if (rc == SQLDB_ROW) return 0;
    if (rc == SQLDB_DONE) return CAT_NOT_FOUND;
    cat_log_error(cat, "run check");
    return -1;
}

static void bind_object_stats(sqldb_stmt *st, int first, const struct cat_run_object *o)
{
    sqldb_bind_int64(st, first, o->begin_usecs);
    sqldb_bind_int64(st, first + 1, o->logical_bytes);
    sqldb_bind_int64(st, first + 2, o->bytes_read);
    sqldb_bind_int64(st, first + 3, o->bytes_written);
    sqldb_bind_int64(st, first + 4, o->files);
    sqldb_bind_int64(st, first + 5, o->dirs);
    sqldb_bind_int64(st, first + 6, o->files_read);
    sqldb_bind_int64(st, first + 7, o->files_total);
    sqldb_bind_int64(st, first + 8, o->bytes_total);
    sqldb_bind_int(st, first + 9, o->walk_done);
    sqldb_bind_double(st, first + 10, o->pct);
}

static void bind_run_key(sqldb_stmt *st, const char *tenant, const char *group_id, int64_t start_usecs)
{
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, start_usecs);
}

int cat_run_object_add(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                       const struct cat_run_object *o)
{
    sqldb_stmt *st = cat_stmt(cat,
        "INSERT INTO run_objects(tenant, group_id, start_usecs, object_id, object_name, source_id, source_name,"
        " environment, object_type, status, begin_usecs, logical_bytes, bytes_read, bytes_written, files, dirs,"
        " files_read, files_total, bytes_total, walk_done, pct)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)");
    if (!st) return -1;
    bind_run_key(st, tenant, group_id, start_usecs);
    sqldb_bind_int64(st, 4, o->object_id);
    sqldb_bind_text(st, 5, o->object_name, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 6, o->source_id);
    sqldb_bind_text(st, 7, o->source_name, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 8, o->environment, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 9, o->object_type, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 10, o->status ? o->status : "kInProgress", -1, SQLDB_STATIC);
    bind_object_stats(st, 11, o);
    return cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
}

int cat_run_object_progress(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                            const struct cat_run_object *o)
{
    sqldb_stmt *st = cat_stmt(cat,
        "UPDATE run_objects SET begin_usecs = ?5, logical_bytes = ?6, bytes_read = ?7, bytes_written = ?8,"
        " files = ?9, dirs = ?10, files_read = ?11, files_total = ?12, bytes_total = ?13, walk_done = ?14, pct = ?15"
        " WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3 AND object_id = ?4 AND status = 'kInProgress'");
    if (!st) return -1;
    bind_run_key(st, tenant, group_id, start_usecs);
    sqldb_bind_int64(st, 4, o->object_id);
    bind_object_stats(st, 5, o);
    return cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
}

int cat_run_object_finish(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                          const struct cat_run_object *o, const struct cat_snapshot *snap)
{
    sqldb_stmt *st;
    int rc;
    if ((rc = cat_begin(cat)) != 0) return rc;
    if (snap && (rc = cat_snapshot_insert(cat, snap)) != 0) goto out;
    /* A run that was still finishing when its group was deleted with deleteSnapshots: its snapshot
     * expires at once like the group's others (the retention pass deletes it). */
    if (snap) {
        st = cat_stmt(cat, "UPDATE snapshots SET expiry_usecs = CASE WHEN snapshot_usecs > 1 THEN snapshot_usecs ELSE 1 END WHERE tenant = ?1 AND id = ?2"
                           " AND on_legal_hold = 0 AND EXISTS (SELECT 1 FROM protection_groups g WHERE g.id = ?3"
                           " AND g.tenant = ?1 AND g.is_deleted = 1 AND g.snapshots_deleted = 1)");
        rc = -1;
        if (!st) goto out;
        sqldb_bind_text(st, 1, snap->tenant, -1, SQLDB_STATIC);
        sqldb_bind_text(st, 2, snap->id, -1, SQLDB_STATIC);
        sqldb_bind_text(st, 3, group_id, -1, SQLDB_STATIC);
        if ((rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS)) != 0) goto out;
    }
    st = cat_stmt(cat,
        "UPDATE run_objects SET begin_usecs = ?5, logical_bytes = ?6, bytes_read = ?7, bytes_written = ?8,"
        " files = ?9, dirs = ?10, files_read = ?11, files_total = ?12, bytes_total = ?13, walk_done = ?14, pct = ?15,"
        " status = ?16, message = ?17, snapshot_id = ?18, end_usecs = ?19, warnings = ?20"
        " WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3 AND object_id = ?4");
    rc = -1;
    if (!st) goto out;
    bind_run_key(st, tenant, group_id, start_usecs);
    sqldb_bind_int64(st, 4, o->object_id);
    bind_object_stats(st, 5, o);
    sqldb_bind_text(st, 16, o->status, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 17, o->message, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 18, o->snapshot_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 19, o->end_usecs);
    if (o->warnings) cat_bind_json(st, 20, o->warnings);
    if ((rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS)) != 0) goto out;
    st = cat_stmt(cat, "UPDATE runs SET logical_bytes = logical_bytes + ?4, bytes_read = bytes_read + ?5,"
                       " bytes_written = bytes_written + ?6 WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3");
    rc = -1;
    if (!st) goto out;
    bind_run_key(st, tenant, group_id, start_usecs);
    sqldb_bind_int64(st, 4, o->logical_bytes);
    sqldb_bind_int64(st, 5, o->bytes_read);
    sqldb_bind_int64(st, 6, o->bytes_written);
    if ((rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS)) != 0) goto out;
    rc = cat_commit(cat);
out:
    if (rc != 0) cat_rollback(cat);
    return rc;
}

/* append_messages: the run's messages plus extra (borrowed). A new reference or NULL. */
static json_t *append_messages(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                               json_t *extra, int *found)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT messages FROM runs WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3");
    json_t *m = NULL;
    int rc;
    *found = 0;
    if (!st) return NULL;
    bind_run_key(st, tenant, group_id, start_usecs);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        *found = 1;
        m = cat_col_json(st, 0);
    }
    sqldb_reset(st);
    if (rc != SQLDB_ROW) return NULL;
    if (!json_is_array(m)) {
        json_decref(m);
        m = json_array();
    }
    if (json_is_array(extra)) json_array_extend(m, extra);
    return m;
}

/* finish_locked: cat_run_finish inside the caller's transaction. */
static int finish_locked(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                         const char *status, json_t *messages, int64_t end_usecs)
{
    int found, rc;
    json_t *m = append_messages(cat, tenant, group_id, start_usecs, messages, &found);
    const char *first = json_string_value(json_array_get(messages, 0));
    sqldb_stmt *st;
    if (!m) return found ? -1 : CAT_NOT_FOUND;
    st = cat_stmt(cat, "UPDATE run_objects SET status = 'kFailed', end_usecs = ?4,"
                       " message = coalesce(message, ?5)"
                       " WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3 AND status = 'kInProgress'");
    if (!st) {
        json_decref(m);
        return -1;
    }
    bind_run_key(st, tenant, group_id, start_usecs);
    sqldb_bind_int64(st, 4, end_usecs);
    sqldb_bind_text(st, 5, first ? first : status, -1, SQLDB_STATIC);
    if ((rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS)) != 0) {
        json_decref(m);
        return rc;
    }
    st = cat_stmt(cat, "UPDATE runs SET status = ?4, messages = ?5, end_usecs = ?6, lease_owner = NULL,"
                       " lease_expiry = 0 WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3");
    if (!st) {
        json_decref(m);
        return -1;
    }
    bind_run_key(st, tenant, group_id, start_usecs);
    sqldb_bind_text(st, 4, status, -1, SQLDB_STATIC);
    cat_bind_json(st, 5, m);
    sqldb_bind_int64(st, 6, end_usecs);
    json_decref(m);
    return cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
}

int cat_run_finish(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs, const char *status,
                   json_t *messages, int64_t end_usecs)
{
    int rc;
    if ((rc = cat_begin(cat)) != 0) return rc;
    rc = finish_locked(cat, tenant, group_id, start_usecs, status, messages, end_usecs);
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) cat_rollback(cat);
    return rc;
}

/* release_running: a Running run leaves its worker with a message: its unfinished objects' rows are
 * dropped (finished ones stay done) and it becomes Accepted (queued again) or, with pause, Paused with
 * its checkpoints. One transaction. */
static int release_running(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                           const char *message, int pause, json_t *checkpoints)
{
    sqldb_stmt *st;
    json_t *extra = json_pack("[s]", message), *m;
    int rc, found;
    if ((rc = cat_begin(cat)) != 0) {
        json_decref(extra);
        return rc;
    }
    m = append_messages(cat, tenant, group_id, start_usecs, extra, &found);
    json_decref(extra);
    rc = m ? 0 : found ? -1 : CAT_NOT_FOUND;
    if (rc == 0) {
        rc = -1;
        st = cat_stmt(cat, "DELETE FROM run_objects WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3"
                           " AND status = 'kInProgress'");
        if (st) {
            bind_run_key(st, tenant, group_id, start_usecs);
            rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
        }
    }
    if (rc == 0) {
        rc = -1;
        st = pause ? cat_stmt(cat, "UPDATE runs SET status = 'Paused', lease_owner = NULL, lease_expiry = 0,"
                                   " messages = ?4, pause_requested = 0, checkpoints = ?5"
                                   " WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3 AND status = 'Running'")
                   : cat_stmt(cat, "UPDATE runs SET status = 'Accepted', lease_owner = NULL, lease_expiry = 0,"
                                   " messages = ?4"
                                   " WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3 AND status = 'Running'");
        if (st) {
            bind_run_key(st, tenant, group_id, start_usecs);
            cat_bind_json(st, 4, m);
            if (pause) cat_bind_json(st, 5, checkpoints);
            rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
        }
    }
    json_decref(m);
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) cat_rollback(cat);
    return rc;
}

int cat_run_requeue(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                    const char *message)
{
    return release_running(cat, tenant, group_id, start_usecs, message, 0, NULL);
}

int cat_run_retry(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs, int64_t retry_at,
                  json_t *messages)
{
    sqldb_stmt *st;
    json_t *m, *fa = NULL;
    int rc, found;
    if ((rc = cat_begin(cat)) != 0) return rc;
    m = append_messages(cat, tenant, group_id, start_usecs, messages, &found);
    rc = m ? 0 : found ? -1 : CAT_NOT_FOUND;
    if (rc == 0) { /* the failed attempts so far, plus this attempt's failed objects */
        rc = -1;
        st = cat_stmt(cat, "SELECT failed_attempts FROM runs WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3"
                           " AND status = 'Running'");
        if (st) {
            bind_run_key(st, tenant, group_id, start_usecs);
            if ((rc = sqldb_step(st)) == SQLDB_ROW) fa = cat_col_json(st, 0);
            rc = rc == SQLDB_ROW ? 0 : rc == SQLDB_DONE ? CAT_NOT_FOUND : -1;
            sqldb_reset(st);
        }
        if (!json_is_array(fa)) {
            json_decref(fa);
            fa = json_array();
        }
    }
    if (rc == 0) {
        rc = -1;
        st = cat_stmt(cat, "SELECT object_id, begin_usecs, end_usecs, message FROM run_objects WHERE tenant = ?1"
                           " AND group_id = ?2 AND start_usecs = ?3 AND status NOT IN ('kSuccessful', 'kWarning')");
        if (st) {
            int s;
            bind_run_key(st, tenant, group_id, start_usecs);
            while ((s = sqldb_step(st)) == SQLDB_ROW) {
                const char *msg = (const char *)sqldb_column_text(st, 3);
                json_array_append_new(fa, json_pack("{s:I,s:I,s:I,s:s}", "object_id",
                                                    (json_int_t)sqldb_column_int64(st, 0), "begin_usecs",
                                                    (json_int_t)sqldb_column_int64(st, 1), "end_usecs",
                                                    (json_int_t)sqldb_column_int64(st, 2), "message",
                                                    msg ? msg : "failed"));
            }
            sqldb_reset(st);
            rc = s == SQLDB_DONE ? 0 : -1;
        }
    }
    if (rc == 0) {
        rc = -1;
        st = cat_stmt(cat, "DELETE FROM run_objects WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3"
                           " AND status NOT IN ('kSuccessful', 'kWarning')");
        if (st) {
            bind_run_key(st, tenant, group_id, start_usecs);
            rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
        }
    }
    if (rc == 0) {
        rc = -1;
        st = cat_stmt(cat, "UPDATE runs SET status = 'Accepted', lease_owner = NULL, lease_expiry = 0, messages = ?4,"
                           " attempt = attempt + 1, retry_at = ?5, failed_attempts = ?6"
                           " WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3 AND status = 'Running'");
        if (st) {
            bind_run_key(st, tenant, group_id, start_usecs);
            cat_bind_json(st, 4, m);
            sqldb_bind_int64(st, 5, retry_at);
            cat_bind_json(st, 6, fa);
            rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
        }
    }
    json_decref(m);
    json_decref(fa);
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) cat_rollback(cat);
    return rc;
}

/* fail_runs: the body of cat_run_fail_running (mine 0) and cat_run_fail_orphans (mine 1: runs of
 * owner whose lease expired before expired_before and that is_live does not claim). */
static int fail_runs(struct cat *cat, const char *owner, int mine, int64_t expired_before, cat_run_live_fn is_live,
                     void *ud, const char *message, int64_t end_usecs, int *n);

int cat_run_fail_running(struct cat *cat, const char *owner, int64_t expired_before, const char *message,
                         int64_t end_usecs, int *n)
{
    return fail_runs(cat, owner, 0, expired_before, NULL, NULL, message, end_usecs, n);
}

int cat_run_fail_orphans(struct cat *cat, const char *owner, int64_t expired_before, cat_run_live_fn is_live, void *ud,
                         const char *message, int64_t end_usecs, int *n)
{
    return fail_runs(cat, owner, 1, expired_before, is_live, ud, message, end_usecs, n);
}

static int fail_runs(struct cat *cat, const char *owner, int mine, int64_t expired_before, cat_run_live_fn is_live,
                     void *ud, const char *message, int64_t end_usecs, int *n)
{
    sqldb_stmt *st;
    struct key { char *tenant, *group; int64_t start; } *keys = NULL;
    size_t nk = 0, cap = 0;
    json_t *msgs = json_pack("[s]", message);
    int rc, ret = 0;
    if (n) *n = 0;
    if ((rc = cat_begin(cat)) != 0) {
        json_decref(msgs);
        return rc;
    }
    st = mine ? cat_stmt(cat, "SELECT tenant, group_id, start_usecs FROM runs WHERE status = 'Running'"
                              " AND lease_owner = ?1 AND lease_expiry < ?2")
              : cat_stmt(cat, "SELECT tenant, group_id, start_usecs FROM runs WHERE status = 'Running'"
                              " AND (?1 IS NULL OR lease_owner IS NULL OR lease_owner <> ?1)"
                              " AND (?2 = 0 OR lease_expiry < ?2)");
    if (!st) ret = -1;
    else {
        sqldb_bind_text(st, 1, owner, -1, SQLDB_STATIC);
        sqldb_bind_int64(st, 2, expired_before);
        while ((rc = sqldb_step(st)) == SQLDB_ROW) {
            if (ARRAY_RESERVE(keys, cap, nk + 1) != 0) {
                ret = -1;
                break;
            }
            keys[nk].tenant = cat_col_strdup(st, 0);
            keys[nk].group = cat_col_strdup(st, 1);
            keys[nk].start = sqldb_column_int64(st, 2);
            if (is_live && keys[nk].tenant && keys[nk].group && is_live(ud, keys[nk].tenant, keys[nk].group,
                                                                         keys[nk].start)) {
                free(keys[nk].tenant);
                free(keys[nk].group);
                continue;
            }
            nk++;
        }
        if (ret == 0 && rc != SQLDB_DONE) ret = -1;
        sqldb_reset(st);
    }
    for (size_t i = 0; i < nk && ret == 0; i++) {
        if (!keys[i].tenant || !keys[i].group) ret = -1;
        else ret = finish_locked(cat, keys[i].tenant, keys[i].group, keys[i].start, "Failed", msgs, end_usecs);
    }
    for (size_t i = 0; i < nk; i++) {
        free(keys[i].tenant);
        free(keys[i].group);
    }
    free(keys);
    json_decref(msgs);
    if (ret == 0) ret = cat_commit(cat);
    if (ret != 0) {
        if (ret == -1 && cat_last_error() == -ENOSPC) ret = -ENOSPC;
        cat_rollback(cat);
        return ret;
    }
    if (n) *n = (int)nk;
    return 0;
}

/* ---------- actions ---------- */

static int run_status_locked(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                             char *status, size_t len)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT status FROM runs WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3");
    int rc;
    if (!st) return -1;
    bind_run_key(st, tenant, group_id, start_usecs);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) snprintf(status, len, "%s", (const char *)sqldb_column_text(st, 0));
    sqldb_reset(st);
    return rc == SQLDB_ROW ? 0 : rc == SQLDB_DONE ? CAT_NOT_FOUND : -1;
}

int cat_run_cancel(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs, int64_t end_usecs,
                   int *was_running)
{
    char status[32];
    int rc;
    if (was_running) *was_running = 0;
    if ((rc = cat_begin(cat)) != 0) return rc;
    rc = run_status_locked(cat, tenant, group_id, start_usecs, status, sizeof status);
    if (rc == 0 && (strcmp(status, "Accepted") == 0 || strcmp(status, "Paused") == 0)) {
        json_t *m = json_pack("[s]", strcmp(status, "Paused") == 0 ? "canceled while paused" : "canceled before it started");
        rc = finish_locked(cat, tenant, group_id, start_usecs, "Canceled", m, end_usecs);
        json_decref(m);
    } else if (rc == 0 && strcmp(status, "Running") == 0) {
        sqldb_stmt *st = cat_stmt(cat, "UPDATE runs SET cancel_requested = 1"
                                         " WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3");
        rc = -1;
        if (st) {
            bind_run_key(st, tenant, group_id, start_usecs);
            rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
        }
        if (was_running) *was_running = 1;
    } else if (rc == 0) {
        rc = CAT_CONFLICT;
    }
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) cat_rollback(cat);
    return rc;
}

int cat_run_pause_request(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                          int resume)
{
    char status[32];
    const char *sql = NULL;
    int rc;
    if ((rc = cat_begin(cat)) != 0) return rc;
    rc = run_status_locked(cat, tenant, group_id, start_usecs, status, sizeof status);
    if (rc == 0) {
        if (!resume && strcmp(status, "Running") == 0)
            sql = "UPDATE runs SET pause_requested = 1 WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3";
        else if (!resume && strcmp(status, "Accepted") == 0)
            sql = "UPDATE runs SET status = 'Paused' WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3";
        else if (resume && strcmp(status, "Running") == 0)
            sql = "UPDATE runs SET pause_requested = 0 WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3";
        else if (resume && strcmp(status, "Paused") == 0)
            sql = "UPDATE runs SET status = 'Accepted', pause_requested = 0, retry_at = 0"
                  " WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3";
        else
            rc = CAT_CONFLICT;
    }
    if (sql) {
        sqldb_stmt *st = cat_stmt(cat, sql);
        rc = -1;
        if (st) {
            bind_run_key(st, tenant, group_id, start_usecs);
            rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
        }
    }
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) cat_rollback(cat);
    return rc;
}

int cat_run_pause(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs, json_t *checkpoints,
                  const char *message)
{
    return release_running(cat, tenant, group_id, start_usecs, message, 1, checkpoints);
}

int cat_run_note(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs, const char *message)
{
    json_t *extra = json_pack("[s]", message), *m;
    sqldb_stmt *st;
    int rc, found;
    if ((rc = cat_begin(cat)) != 0) {
        json_decref(extra);
        return rc;
    }
    m = append_messages(cat, tenant, group_id, start_usecs, extra, &found);
    json_decref(extra);
    rc = m ? 0 : found ? -1 : CAT_NOT_FOUND;
    if (rc == 0) {
        rc = -1;
        st = cat_stmt(cat, "UPDATE runs SET messages = ?4 WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3");
        if (st) {
            bind_run_key(st, tenant, group_id, start_usecs);
            cat_bind_json(st, 4, m);
            rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
        }
    }
    json_decref(m);
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) cat_rollback(cat);
    return rc;
}

/* run_key_exec: runs one statement keyed by a run (?1 tenant, ?2 group, ?3 start) that returns no
 * rows, with an optional ?4: the integer value when has_int, else text when non-NULL. Returns what
 * cat_exec_done returns (-1 also when the statement cannot be prepared). */
static int run_key_exec(struct cat *cat, const char *sql, const char *tenant, const char *group_id, int64_t start_usecs,
                        int has_int, int64_t value, const char *text)
{
    sqldb_stmt *st = cat_stmt(cat, sql);
    if (!st) return -1;
    bind_run_key(st, tenant, group_id, start_usecs);
    if (has_int) sqldb_bind_int64(st, 4, value);
    else if (text) sqldb_bind_text(st, 4, text, -1, SQLDB_STATIC);
    return cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
}

int cat_run_update_local(struct cat *cat, const char *tenant, const char *group_id, int64_t start_usecs,
                         int legal_hold, int64_t expiry_usecs, const char *data_lock, int delete_snapshots,
                         int64_t now_usecs)
{
    sqldb_stmt *st;
    char status[32];
    int rc;
    if ((rc = cat_begin(cat)) != 0) return rc;
    rc = run_status_locked(cat, tenant, group_id, start_usecs, status, sizeof status);
    if (rc == 0 && legal_hold >= 0) {
        rc = run_key_exec(cat, "UPDATE runs SET on_legal_hold = ?4 WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3",
                          tenant, group_id, start_usecs, 1, legal_hold, NULL);
        if (rc == 0)
            rc = run_key_exec(cat, "UPDATE snapshots SET on_legal_hold = ?4"
                                   " WHERE tenant = ?1 AND group_id = ?2 AND run_usecs = ?3",
                              tenant, group_id, start_usecs, 1, legal_hold, NULL);
    }
    if (rc == 0 && expiry_usecs >= 0) {
        rc = run_key_exec(cat, "UPDATE runs SET expiry_usecs = ?4 WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3",
                          tenant, group_id, start_usecs, 1, expiry_usecs, NULL);
        if (rc == 0)
            rc = run_key_exec(cat, "UPDATE snapshots SET expiry_usecs = ?4"
                                   " WHERE tenant = ?1 AND group_id = ?2 AND run_usecs = ?3",
                              tenant, group_id, start_usecs, 1, expiry_usecs, NULL);
    }
    if (rc == 0 && data_lock)
        rc = run_key_exec(cat, "UPDATE runs SET data_lock = ?4 WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3",
                          tenant, group_id, start_usecs, 0, 0, data_lock);
    if (rc == 0 && delete_snapshots) {
        /* Refused while on legal hold or data-locked before expiry. */
        st = cat_stmt(cat, "SELECT on_legal_hold, data_lock IS NOT NULL AND (expiry_usecs = 0 OR expiry_usecs > ?4)"
                           " FROM runs WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3");
        rc = -1;
        if (st) {
            bind_run_key(st, tenant, group_id, start_usecs);
            sqldb_bind_int64(st, 4, now_usecs);
            if (sqldb_step(st) == SQLDB_ROW)
                rc = (sqldb_column_int(st, 0) || sqldb_column_int(st, 1)) ? CAT_CONFLICT : 0;
            sqldb_reset(st);
        }
        if (rc == 0)
            rc = run_key_exec(cat, "UPDATE snapshots SET is_deleted = 1 WHERE tenant = ?1 AND group_id = ?2 AND run_usecs = ?3",
                              tenant, group_id, start_usecs, 0, 0, NULL);
        if (rc == 0)
            rc = run_key_exec(cat, "UPDATE runs SET local_deleted = 1 WHERE tenant = ?1 AND group_id = ?2 AND start_usecs = ?3",
                              tenant, group_id, start_usecs, 0, 0, NULL);
    }
    if (rc == 0) rc = cat_commit(cat);
    if (rc != 0) cat_rollback(cat);
    return rc;
}

int cat_run_group_deleted(struct cat *cat, const char *tenant, const char *group_id, int delete_snapshots,
                          int64_t now_usecs)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE runs SET status = 'Canceled', end_usecs = ?3,"
                                     " messages = json_insert(messages, '$[#]', 'canceled: the protection group was deleted')"
                                     " WHERE tenant = ?1 AND group_id = ?2 AND status = 'Accepted'");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, now_usecs);
    if ((rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS)) != 0) return rc;
    st = cat_stmt(cat, "UPDATE runs SET cancel_requested = 1, messages = json_insert(messages, '$[#]',"
                       " 'the protection group was deleted') WHERE tenant = ?1 AND group_id = ?2 AND status = 'Running'");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    if ((rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS)) != 0) return rc;
    if (!delete_snapshots) return 0;
    st = cat_stmt(cat, "UPDATE protection_groups SET snapshots_deleted = 1 WHERE tenant = ?1 AND id = ?2");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    rc = cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
    cat_gen_touch(CAT_GEN_GROUPS); /* a group row too */
    if (rc != 0) return rc;
    st = cat_stmt(cat, "UPDATE snapshots SET expiry_usecs = ?3 WHERE tenant = ?1 AND group_id = ?2 AND is_deleted = 0"
                       " AND on_legal_hold = 0");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, now_usecs > 0 ? now_usecs : 1);
    return cat_exec_done_touch(cat, st, CAT_GEN_RUNS);
}

/* ---------- scheduler state ---------- */

int cat_sched_get(struct cat *cat, const char *tenant, const char *group_id, int64_t *last_usecs)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT last_usecs FROM sched_state WHERE tenant = ?1 AND group_id = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    *last_usecs = rc == SQLDB_ROW ? sqldb_column_int64(st, 0) : 0;
    sqldb_reset(st);
    if (rc != SQLDB_ROW && rc != SQLDB_DONE) {
        cat_log_error(cat, "sched get");
        return -1;
    }
    return 0;
}

int cat_sched_put(struct cat *cat, const char *tenant, const char *group_id, int64_t last_usecs)
{
    sqldb_stmt *st = cat_stmt(cat, "INSERT INTO sched_state(tenant, group_id, last_usecs) VALUES (?1, ?2, ?3)"
                                     " ON CONFLICT(tenant, group_id) DO UPDATE SET last_usecs = excluded.last_usecs");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, last_usecs);
    return cat_exec_done(cat, st);
}

int cat_sched_claim(struct cat *cat, const char *tenant, const char *group_id, int64_t slot_usecs, const char *node,
                    int64_t now_usecs)
{
    sqldb_stmt *st = cat_stmt(cat, "INSERT OR IGNORE INTO sched_fires(tenant, group_id, slot_usecs, node, fired_usecs)"
                                     " VALUES (?1, ?2, ?3, ?4, ?5)");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, slot_usecs);
    sqldb_bind_text(st, 4, node ? node : "", -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 5, now_usecs);
    if ((rc = cat_exec_done(cat, st)) != 0) return rc;
    if (sqldb_changes(cat_db(cat)) == 0) { /* taken: by this node before (a retried pass) or another */
        st = cat_stmt(cat, "SELECT node FROM sched_fires WHERE tenant = ?1 AND group_id = ?2 AND slot_usecs = ?3");
        if (!st) return -1;
        sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
        sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
        sqldb_bind_int64(st, 3, slot_usecs);
        rc = sqldb_step(st);
        if (rc == SQLDB_ROW) {
            const char *by = (const char *)sqldb_column_text(st, 0);
            rc = by && strcmp(by, node ? node : "") == 0;
        } else {
            rc = rc == SQLDB_DONE ? 0 : cat_sql_error(cat, rc, "sched claim");
        }
        sqldb_reset(st);
        return rc;
    }
    st = cat_stmt(cat, "DELETE FROM sched_fires WHERE tenant = ?1 AND group_id = ?2 AND slot_usecs < ?3");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, group_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, slot_usecs - 86400LL * 1000000);
    if ((rc = cat_exec_done(cat, st)) != 0) return rc;
    return 1;
}
