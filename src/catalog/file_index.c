/* file_index.c: the file index behind indexed search (see cat_file_index.h).
 *
 * Adding an entry is one lookup in the unique (tenant, object, path) index, an insert when the path
 * is new (a trigger adds it to the FTS5 trigram tables fidx_name and fidx_path, external content
 * over fidx_paths), an update only when its type changed, and an upsert of its version
 * row, so indexing a snapshot again after an interruption is harmless. A search drives one FTS table
 * (LIKE on fidx_name for names, on fidx_path for paths: the trigram index answers it) in rowid order
 * and joins fidx_paths for the tenant and the filters; every optional filter is bound as
 * "(? IS NULL OR ...)" so one cached statement serves all combinations. The join order is forced
 * (CROSS JOIN: the FTS table outside, fidx_paths looked up by rowid; "+p.tenant" keeps a listing of
 * every path in rowid order): left to itself the planner may scan the tenant's paths and run the
 * trigram query once per path, which is quadratic. Versions are read from the path's own rows
 * outwards for the same reason. The statements read snapshots, objects, protection_groups and
 * policies (read only) to name the groups and policies of each version. */
#include "catalog/cat_file_index.h"
#include "catalog/internal.h"
#include <stdlib.h>
#include <string.h>

static char *col_str(sqldb_stmt *st, int i)
{
    const unsigned char *t = sqldb_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

static const char *col_text(sqldb_stmt *st, int i)
{
    return (const char *)sqldb_column_text(st, i);
}

void cat_fidx_job_release(struct cat_fidx_job *j)
{
    if (!j) return;
    free(j->tenant);
    free(j->snapshot_id);
    memset(j, 0, sizeof *j);
}

int cat_fidx_next(struct cat *cat, struct cat_fidx_job *out)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT s.tenant, s.id, s.object_id, f.no IS NOT NULL FROM snapshots s"
        " LEFT JOIN fidx_snapshots f ON f.tenant = s.tenant AND f.snapshot_id = s.id"
        " WHERE s.is_deleted = 0 AND s.environment = 'kPhysical' AND (f.no IS NULL OR f.status = 'InProgress')"
        " ORDER BY s.snapshot_usecs, s.id LIMIT 1");
    int rc;
    memset(out, 0, sizeof *out);
    if (!st) return -1;
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        out->tenant = col_str(st, 0);
        out->snapshot_id = col_str(st, 1);
        out->object_id = sqldb_column_int64(st, 2);
        out->resumed = sqldb_column_int(st, 3);
    }
    sqldb_reset(st);
    if (rc == SQLDB_DONE) return CAT_NOT_FOUND;
    if (rc != SQLDB_ROW || !out->tenant || !out->snapshot_id) {
        cat_log_error(cat, "file index next");
        cat_fidx_job_release(out);
        return -1;
    }
    return 0;
}

int cat_fidx_begin(struct cat *cat, const char *tenant, const char *snapshot_id, int64_t object_id,
                   int64_t now_usecs, int64_t *no)
{
    sqldb_stmt *st = cat_stmt(cat,
        "INSERT INTO fidx_snapshots(tenant, snapshot_id, object_id, status, begin_usecs) VALUES (?1, ?2, ?3,"
        " 'InProgress', ?4) ON CONFLICT(tenant, snapshot_id) DO UPDATE SET status = 'InProgress', message = NULL,"
        " begin_usecs = ?4, end_usecs = 0 RETURNING no");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, snapshot_id, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 3, object_id);
    sqldb_bind_int64(st, 4, now_usecs);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        *no = sqldb_column_int64(st, 0);
        rc = sqldb_step(st);
    }
    sqldb_reset(st);
    if (rc != SQLDB_DONE) {
        cat_log_error(cat, "file index begin");
        return -1;
    }
    return 0;
}

int cat_fidx_add(struct cat *cat, const char *tenant, int64_t object_id, int64_t no, const struct cat_fidx_entry *e)
{
    sqldb_stmt *st;
    const char *slash = strrchr(e->path, '/');
    const char *name = slash ? slash + 1 : e->path;
    int64_t id = 0;
    int rc, old_type = 0;
    if (!*name) name = e->path; /* "/" itself */
    st = cat_stmt(cat, "SELECT id, type FROM fidx_paths WHERE tenant = ?1 AND object_id = ?2 AND path = ?3");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 2, object_id);
    sqldb_bind_text(st, 3, e->path, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        id = sqldb_column_int64(st, 0);
        old_type = sqldb_column_int(st, 1);
    }
    sqldb_reset(st);
    if (rc != SQLDB_ROW && rc != SQLDB_DONE) goto fail;
    if (!id) {
        st = cat_stmt(cat, "INSERT INTO fidx_paths(tenant, object_id, path, name, type) VALUES (?1, ?2, ?3, ?4, ?5)"
                           " RETURNING id");
        if (!st) return -1;
        sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
        sqldb_bind_int64(st, 2, object_id);
        sqldb_bind_text(st, 3, e->path, -1, SQLDB_STATIC);
        sqldb_bind_text(st, 4, name, -1, SQLDB_STATIC);
        sqldb_bind_int(st, 5, e->type);
        rc = sqldb_step(st);
        if (rc == SQLDB_ROW) id = sqldb_column_int64(st, 0);
        sqldb_reset(st);
        if (rc != SQLDB_ROW || !id) goto fail;
    } else if (old_type != e->type) {
        st = cat_stmt(cat, "UPDATE fidx_paths SET type = ?2 WHERE id = ?1");
        if (!st) return -1;
        sqldb_bind_int64(st, 1, id);
        sqldb_bind_int(st, 2, e->type);
        if (cat_exec_done(cat, st) != 0) goto fail;
    }
    st = cat_stmt(cat, "INSERT INTO fidx_versions(path_id, no, type, size, mtime_usecs) VALUES (?1, ?2, ?3, ?4, ?5)"
                       " ON CONFLICT(path_id, no) DO UPDATE SET type = excluded.type, size = excluded.size,"
                       " mtime_usecs = excluded.mtime_usecs");
    if (!st) return -1;
    sqldb_bind_int64(st, 1, id);
    sqldb_bind_int64(st, 2, no);
    sqldb_bind_int(st, 3, e->type);
    sqldb_bind_int64(st, 4, e->size);
    sqldb_bind_int64(st, 5, e->mtime_usecs);
    if (cat_exec_done(cat, st) != 0) goto fail;
    return 0;
fail:
    cat_log_error(cat, "file index add");
    return -1;
}

int cat_fidx_finish(struct cat *cat, int64_t no, const char *status, const char *message, int64_t entries,
                    int64_t now_usecs)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE fidx_snapshots SET status = ?2, message = ?3, entries = ?4,"
                                     " end_usecs = ?5 WHERE no = ?1");
    int rc;
    if (!st) return -1;
    sqldb_bind_int64(st, 1, no);
    sqldb_bind_text(st, 2, status, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 3, message, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 4, entries);
    sqldb_bind_int64(st, 5, now_usecs);
    rc = cat_exec_done(cat, st);
    if (rc == 0 && sqldb_changes(cat_db(cat)) == 0) rc = CAT_NOT_FOUND;
    return rc;
}

int cat_fidx_purge_step(struct cat *cat, int max_rows, int *done)
{
    sqldb_stmt *st;
    int64_t no = 0, *ids = NULL;
    int rc, n = 0;
    if (done) *done = 0;
    if (max_rows < 1) max_rows = 1;
    st = cat_stmt(cat, "SELECT f.no FROM fidx_snapshots f WHERE NOT EXISTS (SELECT 1 FROM snapshots s"
                       " WHERE s.tenant = f.tenant AND s.id = f.snapshot_id AND s.is_deleted = 0) LIMIT 1");
    if (!st) return -1;
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) no = sqldb_column_int64(st, 0);
    sqldb_reset(st);
    if (rc == SQLDB_DONE) return 0;
    if (rc != SQLDB_ROW) goto fail_nolock;
    if (!(ids = malloc(sizeof *ids * (size_t)max_rows))) return -1;
    if ((rc = cat_begin(cat)) != 0) {
        free(ids);
        return rc;
    }
    st = cat_stmt(cat, "SELECT path_id FROM fidx_versions WHERE no = ?1 LIMIT ?2");
    if (!st) goto fail;
    sqldb_bind_int64(st, 1, no);
    sqldb_bind_int(st, 2, max_rows);
    while ((rc = sqldb_step(st)) == SQLDB_ROW && n < max_rows) ids[n++] = sqldb_column_int64(st, 0);
    sqldb_reset(st);
    if (rc != SQLDB_DONE && rc != SQLDB_ROW) goto fail;
    for (int i = 0; i < n; i++) {
        st = cat_stmt(cat, "DELETE FROM fidx_versions WHERE path_id = ?1 AND no = ?2");
        if (!st) goto fail;
        sqldb_bind_int64(st, 1, ids[i]);
        sqldb_bind_int64(st, 2, no);
        if (cat_exec_done(cat, st) != 0) goto fail;
        st = cat_stmt(cat, "DELETE FROM fidx_paths WHERE id = ?1 AND NOT EXISTS"
                           " (SELECT 1 FROM fidx_versions v WHERE v.path_id = ?1)");
        if (!st) goto fail;
        sqldb_bind_int64(st, 1, ids[i]);
        if (cat_exec_done(cat, st) != 0) goto fail;
    }
    if (n < max_rows) {
        st = cat_stmt(cat, "DELETE FROM fidx_snapshots WHERE no = ?1");
        if (!st) goto fail;
        sqldb_bind_int64(st, 1, no);
        if (cat_exec_done(cat, st) != 0) goto fail;
    }
    if (cat_commit(cat) != 0) goto fail;
    free(ids);
    if (done) *done = n > 0 ? n : 1; /* an empty snapshot row removed is progress too */
    return 0;
fail:
    cat_rollback(cat);
fail_nolock:
    cat_log_error(cat, "file index purge");
    free(ids);
    return -1;
}

const char *cat_fidx_status(struct cat *cat, const char *tenant, const char *snapshot_id)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT s.environment, s.is_deleted, f.status FROM snapshots s"
                                     " LEFT JOIN fidx_snapshots f ON f.tenant = s.tenant AND f.snapshot_id = s.id"
                                     " WHERE s.tenant = ?1 AND s.id = ?2");
    const char *out = NULL;
    int rc;
    if (!st) return NULL;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_text(st, 2, snapshot_id, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        const char *env = col_text(st, 0), *status = col_text(st, 2);
        int deleted = sqldb_column_int(st, 1);
        if (deleted || !env || strcmp(env, "kPhysical") != 0) out = "NoIndex";
        else if (!status || strcmp(status, "InProgress") == 0) out = "InProgress";
        else if (strcmp(status, "Done") == 0) out = "Done";
        else out = "Error";
    } else if (rc != SQLDB_DONE) {
        cat_log_error(cat, "file index status");
    }
    sqldb_reset(st);
    return out;
}

/* ---------- search ---------- */

#define FIDX_FILTERS                                                                                          \
    " AND (?4 IS NULL OR p.object_id IN (SELECT value FROM json_each(?4)))"                                   \
    " AND (?5 IS NULL OR p.object_id IN (SELECT o.id FROM objects o WHERE o.tenant = ?1"                      \
    "   AND o.source_id IN (SELECT value FROM json_each(?5))))"                                               \
    " AND (?6 = 0 OR ((?6 >> p.type) & 1) = 1)"                                                               \
    " AND (?7 IS NULL OR EXISTS (SELECT 1 FROM fidx_versions v CROSS JOIN fidx_snapshots fs ON fs.no = v.no"  \
    "   CROSS JOIN snapshots s ON s.tenant = fs.tenant AND s.id = fs.snapshot_id WHERE v.path_id = p.id"       \
    "   AND s.is_deleted = 0 AND s.group_id IN (SELECT value FROM json_each(?7))))"

/* PostgreSQL: the same filters; the trigram GIN indexes on fidx_paths.name and .path answer the
 * ILIKE the driver makes of LIKE, and the planner picks the join order itself. */
#define FIDX_FILTERS_PG                                                                                       \
    " AND (?4 IS NULL OR p.object_id IN (SELECT value FROM json_each(?4)))"                                   \
    " AND (?5 IS NULL OR p.object_id IN (SELECT o.id FROM objects o WHERE o.tenant = ?1"                      \
    "   AND o.source_id IN (SELECT value FROM json_each(?5))))"                                               \
    " AND (CAST(?6 AS BIGINT) = 0 OR ((CAST(?6 AS BIGINT) >> CAST(p.type AS INT)) & 1) = 1)"                  \
    " AND (?7 IS NULL OR EXISTS (SELECT 1 FROM fidx_versions v JOIN fidx_snapshots fs ON fs.no = v.no"        \
    "   JOIN snapshots s ON s.tenant = fs.tenant AND s.id = fs.snapshot_id WHERE v.path_id = p.id"             \
    "   AND s.is_deleted = 0 AND s.group_id IN (SELECT value FROM json_each(?7))))"

/* On PostgreSQL each search statement is planned with its pattern (SQLDB_PLAN_EACH): a rare
 * pattern is answered from the trigram index, a common one by walking ids in order until the page
 * is full. The driver fetches a statement's whole result at its first step, so a search reads
 * pages of FIDX_PG_PAGE paths in id order (the API's page and its count past it need ~1,100) and
 * goes on from the last id while the caller wants more. */
#define FIDX_PG_PAGE "1200"

int cat_fidx_search(struct cat *cat, const char *tenant, const struct cat_fidx_query *q, cat_fidx_hit_fn fn,
                    void *ud)
{
    const int paged = cat_engine(cat) == SQLDB_PG;
    int64_t after = q->after_id;
    int out = 0;
    for (int64_t pages = 0; pages < 100000; pages++) { /* bounded: ids only grow from page to page */
        sqldb_stmt *st;
        int rc, nrows = 0;
        if (!q->like)
            st = cat_stmt_alt(cat,
                              "SELECT p.id, p.object_id, p.path, p.name, p.type FROM fidx_paths p"
                              " WHERE +p.tenant = ?1 AND p.id > ?3 AND ?2 IS NULL" FIDX_FILTERS " ORDER BY p.id",
                              SQLDB_PLAN_EACH "SELECT p.id, p.object_id, p.path, p.name, p.type FROM fidx_paths p"
                              " WHERE p.tenant = ?1 AND p.id > ?3 AND ?2 IS NULL" FIDX_FILTERS_PG
                              " ORDER BY p.id LIMIT " FIDX_PG_PAGE);
        else if (q->on_path)
            st = cat_stmt_alt(cat,
                              "SELECT p.id, p.object_id, p.path, p.name, p.type FROM fidx_path f"
                              " CROSS JOIN fidx_paths p ON p.id = f.rowid WHERE f.path LIKE ?2 AND f.rowid > ?3"
                              " AND p.tenant = ?1" FIDX_FILTERS " ORDER BY f.rowid",
                              SQLDB_PLAN_EACH "SELECT p.id, p.object_id, p.path, p.name, p.type FROM fidx_paths p"
                              " WHERE p.path LIKE ?2 AND p.id > ?3 AND p.tenant = ?1" FIDX_FILTERS_PG
                              " ORDER BY p.id LIMIT " FIDX_PG_PAGE);
        else
            st = cat_stmt_alt(cat,
                              "SELECT p.id, p.object_id, p.path, p.name, p.type FROM fidx_name f"
                              " CROSS JOIN fidx_paths p ON p.id = f.rowid WHERE f.name LIKE ?2 AND f.rowid > ?3"
                              " AND p.tenant = ?1" FIDX_FILTERS " ORDER BY f.rowid",
                              SQLDB_PLAN_EACH "SELECT p.id, p.object_id, p.path, p.name, p.type FROM fidx_paths p"
                              " WHERE p.name LIKE ?2 AND p.id > ?3 AND p.tenant = ?1" FIDX_FILTERS_PG
                              " ORDER BY p.id LIMIT " FIDX_PG_PAGE);
        if (!st) return -1;
        sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
        sqldb_bind_text(st, 2, q->like, -1, SQLDB_STATIC);
        sqldb_bind_int64(st, 3, after);
        if ((q->object_ids && cat_bind_json(st, 4, q->object_ids) != 0) ||
            (q->source_ids && cat_bind_json(st, 5, q->source_ids) != 0) ||
            (q->group_ids && cat_bind_json(st, 7, q->group_ids) != 0)) {
            sqldb_reset(st);
            return -1;
        }
        sqldb_bind_int64(st, 6, (int64_t)q->type_mask);
        while ((rc = sqldb_step(st)) == SQLDB_ROW) {
            struct cat_fidx_hit h;
            h.path_id = sqldb_column_int64(st, 0);
            h.object_id = sqldb_column_int64(st, 1);
            h.path = col_text(st, 2);
            h.name = col_text(st, 3);
            h.type = sqldb_column_int(st, 4);
            nrows++;
            after = h.path_id;
            if (!h.path || !h.name) {
                out = -1;
                break;
            }
            if ((out = fn(ud, &h)) != 0) break;
        }
        if (out == 0 && rc != SQLDB_DONE) {
            cat_log_error(cat, "file index search");
            out = -1;
        }
        sqldb_reset(st);
        if (out != 0 || !paged || nrows < atoi(FIDX_PG_PAGE)) break;
    }
    return out;
}

int cat_fidx_versions(struct cat *cat, const char *tenant, int64_t path_id, cat_fidx_version_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat,
        "SELECT fs.snapshot_id, s.group_id, s.group_name, g.policy_id, pol.name, s.group_seq, s.run_usecs,"
        " s.snapshot_usecs, v.type, v.size, v.mtime_usecs FROM fidx_versions v"
        " CROSS JOIN fidx_snapshots fs ON fs.no = v.no"
        " CROSS JOIN snapshots s ON s.tenant = fs.tenant AND s.id = fs.snapshot_id"
        " LEFT JOIN protection_groups g ON g.id = s.group_id AND g.tenant = s.tenant"
        " LEFT JOIN policies pol ON pol.id = g.policy_id AND pol.tenant = s.tenant"
        " WHERE v.path_id = ?2 AND fs.tenant = ?1 AND s.is_deleted = 0"
        " ORDER BY s.snapshot_usecs DESC, fs.no DESC");
    int rc, out = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    sqldb_bind_int64(st, 2, path_id);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_fidx_version v;
        v.snapshot_id = col_text(st, 0);
        v.group_id = col_text(st, 1);
        v.group_name = col_text(st, 2);
        v.policy_id = col_text(st, 3);
        v.policy_name = col_text(st, 4);
        v.group_seq = sqldb_column_int64(st, 5);
        v.run_usecs = sqldb_column_int64(st, 6);
        v.snapshot_usecs = sqldb_column_int64(st, 7);
        v.type = sqldb_column_int(st, 8);
        v.size = sqldb_column_int64(st, 9);
        v.mtime_usecs = sqldb_column_int64(st, 10);
        if (!v.snapshot_id || !v.group_id) {
            out = -1;
            break;
        }
        if ((out = fn(ud, &v)) != 0) break;
    }
    if (out == 0 && rc != SQLDB_DONE) {
        cat_log_error(cat, "file index versions");
        out = -1;
    }
    sqldb_reset(st);
    return out;
}

int cat_fidx_count(struct cat *cat, const char *tenant, int64_t *paths, int64_t *versions)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT (SELECT count(*) FROM fidx_paths WHERE tenant = ?1),"
                                     " (SELECT count(*) FROM fidx_versions v JOIN fidx_snapshots f ON f.no = v.no"
                                     "  WHERE f.tenant = ?1)");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_STATIC);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        if (paths) *paths = sqldb_column_int64(st, 0);
        if (versions) *versions = sqldb_column_int64(st, 1);
    }
    sqldb_reset(st);
    if (rc != SQLDB_ROW) {
        cat_log_error(cat, "file index count");
        return -1;
    }
    return 0;
}
