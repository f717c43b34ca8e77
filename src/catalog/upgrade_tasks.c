/* upgrade_tasks.c: agent upgrade tasks in the catalog (see cat_upgrade.h).
 *
 * Tables (migration 21): upgrade_tasks, one row per task keyed by (tenant, id), and
 * upgrade_task_agents, one row per agent of a task keyed by (tenant, task_id, agent_id) with pos, the
 * agent's place in the task's list. A task and its agents are inserted in one transaction; reads
 * collect the task rows first and then read each task's agents, so no statement is stepped inside
 * another's walk. */
#include "catalog/cat_upgrade.h"
#include "catalog/internal.h"
#include <stdlib.h>
#include <string.h>

static void agent_release(struct cat_upgrade_agent *a)
{
    free(a->status);
    free(a->previous_version);
    free(a->error);
    memset(a, 0, sizeof *a);
}

void cat_upgrade_task_release(struct cat_upgrade_task *t)
{
    if (!t) return;
    free(t->name);
    free(t->description);
    free(t->type);
    free(t->status);
    free(t->error);
    free(t->version);
    for (size_t i = 0; i < t->n_agents; i++) agent_release(&t->agents[i]);
    free(t->agents);
    memset(t, 0, sizeof *t);
}

#define TASK_COLS "id, name, description, type, retried_task_id, schedule_usecs, schedule_end_usecs, created_usecs," \
                  " start_usecs, end_usecs, status, error, version "
#define AGENT_COLS "agent_id, status, start_usecs, end_usecs, previous_version, error "

static int task_from_row(sqldb_stmt *st, struct cat_upgrade_task *t)
{
    memset(t, 0, sizeof *t);
    t->id = sqldb_column_int64(st, 0);
    t->name = cat_col_strdup(st, 1);
    t->description = cat_col_strdup(st, 2);
    t->type = cat_col_strdup(st, 3);
    t->retried_task_id = sqldb_column_int64(st, 4);
    t->schedule_usecs = sqldb_column_int64(st, 5);
    t->schedule_end_usecs = sqldb_column_int64(st, 6);
    t->created_usecs = sqldb_column_int64(st, 7);
    t->start_usecs = sqldb_column_int64(st, 8);
    t->end_usecs = sqldb_column_int64(st, 9);
    t->status = cat_col_strdup(st, 10);
    t->error = cat_col_strdup(st, 11);
    t->version = cat_col_strdup(st, 12);
    if (!t->type || !t->status) {
        cat_upgrade_task_release(t);
        return -1;
    }
    return 0;
}

/* load_agents: fills t->agents from upgrade_task_agents. */
static int load_agents(struct cat *cat, const char *tenant, struct cat_upgrade_task *t)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " AGENT_COLS "FROM upgrade_task_agents WHERE tenant = ?1 AND task_id = ?2"
                                     " ORDER BY pos");
    int s, rc = 0;
    size_t cap = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, t->id);
    while ((s = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_upgrade_agent *a;
        if (t->n_agents == cap) {
            size_t ncap = cap ? 2 * cap : 8;
            void *p = realloc(t->agents, ncap * sizeof *t->agents);
            if (!p) {
                rc = -1;
                break;
            }
            t->agents = p;
            cap = ncap;
        }
        a = &t->agents[t->n_agents];
        memset(a, 0, sizeof *a);
        a->agent_id = sqldb_column_int64(st, 0);
        a->status = cat_col_strdup(st, 1);
        a->start_usecs = sqldb_column_int64(st, 2);
        a->end_usecs = sqldb_column_int64(st, 3);
        a->previous_version = cat_col_strdup(st, 4);
        a->error = cat_col_strdup(st, 5);
        t->n_agents++;
        if (!a->status) {
            rc = -1;
            break;
        }
    }
    if (rc == 0 && s != SQLDB_DONE) rc = cat_sql_error(cat, s, "read an upgrade task's agents");
    sqldb_reset(st);
    return rc;
}

int cat_upgrade_task_insert(struct cat *cat, const char *tenant, struct cat_upgrade_task *t)
{
    sqldb_stmt *st;
    int64_t id;
    int rc = cat_begin(cat);
    if (rc != 0) return rc;
    if ((rc = cat_next_seq(cat, "upgrade_task", &id)) != 0) goto fail;
    st = cat_stmt(cat, "INSERT INTO upgrade_tasks(tenant, " TASK_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                       " ?10, ?11, ?12, ?13, ?14)");
    if (!st) {
        rc = -1;
        goto fail;
    }
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    cat_bind_opt_text(st, 3, t->name);
    cat_bind_opt_text(st, 4, t->description);
    sqldb_bind_text(st, 5, t->type, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 6, t->retried_task_id);
    sqldb_bind_int64(st, 7, t->schedule_usecs);
    sqldb_bind_int64(st, 8, t->schedule_end_usecs);
    sqldb_bind_int64(st, 9, t->created_usecs);
    sqldb_bind_int64(st, 10, t->start_usecs);
    sqldb_bind_int64(st, 11, t->end_usecs);
    sqldb_bind_text(st, 12, t->status, -1, SQLDB_TRANSIENT);
    cat_bind_opt_text(st, 13, t->error);
    cat_bind_opt_text(st, 14, t->version);
    if ((rc = cat_exec_done(cat, st)) != 0) goto fail;
    for (size_t i = 0; i < t->n_agents; i++) {
        const struct cat_upgrade_agent *a = &t->agents[i];
        st = cat_stmt(cat, "INSERT INTO upgrade_task_agents(tenant, task_id, pos, " AGENT_COLS ") VALUES (?1, ?2, ?3,"
                           " ?4, ?5, ?6, ?7, ?8, ?9)");
        if (!st) {
            rc = -1;
            goto fail;
        }
        sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
        sqldb_bind_int64(st, 2, id);
        sqldb_bind_int64(st, 3, (int64_t)i);
        sqldb_bind_int64(st, 4, a->agent_id);
        sqldb_bind_text(st, 5, a->status, -1, SQLDB_TRANSIENT);
        sqldb_bind_int64(st, 6, a->start_usecs);
        sqldb_bind_int64(st, 7, a->end_usecs);
        cat_bind_opt_text(st, 8, a->previous_version);
        cat_bind_opt_text(st, 9, a->error);
        if ((rc = cat_exec_done(cat, st)) != 0) goto fail;
    }
    if ((rc = cat_commit(cat)) != 0) goto fail_nocommit;
    t->id = id;
    return 0;
fail:
    cat_rollback(cat);
fail_nocommit:
    return rc < 0 ? rc : -1;
}

int cat_upgrade_task_get(struct cat *cat, const char *tenant, int64_t id, struct cat_upgrade_task *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " TASK_COLS "FROM upgrade_tasks WHERE tenant = ?1 AND id = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) rc = task_from_row(st, out);
    else if (rc == SQLDB_DONE) rc = CAT_NOT_FOUND;
    else rc = cat_sql_error(cat, rc, "read an upgrade task");
    sqldb_reset(st);
    if (rc == 0 && (rc = load_agents(cat, tenant, out)) != 0) cat_upgrade_task_release(out);
    return rc;
}

static int id_listed(const json_t *ids, int64_t id)
{
    size_t i;
    json_t *v;
    if (!ids || json_array_size(ids) == 0) return 1;
    json_array_foreach(ids, i, v) {
        if (json_is_integer(v) && json_integer_value(v) == id) return 1;
    }
    return 0;
}

int cat_upgrade_task_list(struct cat *cat, const char *tenant, const json_t *ids, cat_upgrade_task_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " TASK_COLS "FROM upgrade_tasks WHERE tenant = ?1 ORDER BY id");
    struct cat_upgrade_task *all = NULL;
    size_t n = 0, cap = 0;
    int s, rc = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    while ((s = sqldb_step(st)) == SQLDB_ROW) {
        if (!id_listed(ids, sqldb_column_int64(st, 0))) continue;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            void *p = realloc(all, ncap * sizeof *all);
            if (!p) {
                rc = -1;
                break;
            }
            all = p;
            cap = ncap;
        }
        if (task_from_row(st, &all[n]) != 0) {
            rc = -1;
            break;
        }
        n++;
    }
    if (rc == 0 && s != SQLDB_DONE) rc = cat_sql_error(cat, s, "list upgrade tasks");
    sqldb_reset(st);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) rc = load_agents(cat, tenant, &all[i]);
        if (rc == 0) rc = fn(ud, &all[i]);
        cat_upgrade_task_release(&all[i]);
    }
    free(all);
    return rc;
}

int cat_upgrade_task_set(struct cat *cat, const char *tenant, int64_t id, const char *status, int64_t start_usecs,
                         int64_t end_usecs, const char *error)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE upgrade_tasks SET status = ?3, start_usecs = ?4, end_usecs = ?5, error = ?6"
                                     " WHERE tenant = ?1 AND id = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, id);
    sqldb_bind_text(st, 3, status, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 4, start_usecs);
    sqldb_bind_int64(st, 5, end_usecs);
    cat_bind_opt_text(st, 6, error);
    if ((rc = cat_exec_done(cat, st)) != 0) return rc;
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}

int cat_upgrade_agent_set(struct cat *cat, const char *tenant, int64_t task_id, const struct cat_upgrade_agent *a)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE upgrade_task_agents SET status = ?4, start_usecs = ?5, end_usecs = ?6,"
                                     " previous_version = COALESCE(?7, previous_version), error = ?8"
                                     " WHERE tenant = ?1 AND task_id = ?2 AND agent_id = ?3");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, task_id);
    sqldb_bind_int64(st, 3, a->agent_id);
    sqldb_bind_text(st, 4, a->status, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 5, a->start_usecs);
    sqldb_bind_int64(st, 6, a->end_usecs);
    cat_bind_opt_text(st, 7, a->previous_version);
    cat_bind_opt_text(st, 8, a->error);
    if ((rc = cat_exec_done(cat, st)) != 0) return rc;
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}

int cat_upgrade_pending(struct cat *cat, const char *tenant, int64_t agent_id, int64_t now_usecs, int64_t *task_id)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT t.id FROM upgrade_tasks t JOIN upgrade_task_agents a"
                                     " ON a.tenant = t.tenant AND a.task_id = t.id"
                                     " WHERE t.tenant = ?1 AND a.agent_id = ?2 AND t.schedule_usecs <= ?3"
                                     " AND t.status IN ('Scheduled', 'Running') AND a.status IN ('Scheduled', 'Started')"
                                     " ORDER BY t.id LIMIT 1");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, agent_id);
    sqldb_bind_int64(st, 3, now_usecs);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        *task_id = sqldb_column_int64(st, 0);
        rc = 0;
    } else if (rc == SQLDB_DONE) {
        rc = CAT_NOT_FOUND;
    } else {
        rc = cat_sql_error(cat, rc, "find a pending upgrade task");
    }
    sqldb_reset(st);
    return rc;
}

int cat_upgrade_open(struct cat *cat, const char *tenant, cat_upgrade_open_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT tenant, id FROM upgrade_tasks WHERE (?1 IS NULL OR tenant = ?1)"
                                     " AND status IN ('Scheduled', 'Running') ORDER BY tenant, id");
    struct open_row { char *tenant; int64_t id; } *rows = NULL;
    size_t n = 0, cap = 0;
    int s, rc = 0;
    if (!st) return -1;
    cat_bind_opt_text(st, 1, tenant);
    while ((s = sqldb_step(st)) == SQLDB_ROW) {
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            void *p = realloc(rows, ncap * sizeof *rows);
            if (!p) {
                rc = -1;
                break;
            }
            rows = p;
            cap = ncap;
        }
        rows[n].tenant = cat_col_strdup(st, 0);
        rows[n].id = sqldb_column_int64(st, 1);
        if (!rows[n].tenant) {
            rc = -1;
            break;
        }
        n++;
    }
    if (rc == 0 && s != SQLDB_DONE) rc = cat_sql_error(cat, s, "list open upgrade tasks");
    sqldb_reset(st);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) rc = fn(ud, rows[i].tenant, rows[i].id);
        free(rows[i].tenant);
    }
    free(rows);
    return rc;
}
