/* agents.c: remote agents in the catalog (see cat_agent.h).
 *
 * Table (migration 20): agents(tenant, connector_id, connection_id, key_id, hostname, version,
 * addresses, volumes, registered_usecs, last_seen_usecs, revoked_usecs; pg_instances since migration
 * 24, read and written on its own by cat_agent_pg_get/set), primary key (tenant,
 * connector_id), key_id unique (the per-request lookup of an agent's credential is one index read).
 * A registration token is taken with one conditional UPDATE of connections (token unexpired and
 * unused -> used, token_expires_ms = -1), so two agents racing with the same token cannot both win:
 * the second update changes no row. Host matching (cat_agent_for_host) walks the tenant's agents in
 * C: a tenant has few, and addresses are a JSON list. */
#include "catalog/cat_agent.h"
#include "catalog/internal.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void cat_agent_release(struct cat_agent *a)
{
    if (!a) return;
    free(a->tenant);
    free(a->connector_id);
    free(a->connection_id);
    free(a->key_id);
    free(a->hostname);
    free(a->version);
    json_decref(a->addresses);
    json_decref(a->volumes);
    memset(a, 0, sizeof *a);
}

#define AGENT_COLS "tenant, connector_id, connection_id, key_id, hostname, version, addresses, volumes," \
                   " registered_usecs, last_seen_usecs, revoked_usecs "

static int agent_from_row(sqldb_stmt *st, struct cat_agent *a)
{
    memset(a, 0, sizeof *a);
    a->tenant = cat_col_strdup(st, 0);
    a->connector_id = cat_col_strdup(st, 1);
    a->connection_id = cat_col_strdup(st, 2);
    a->key_id = cat_col_strdup(st, 3);
    a->hostname = cat_col_strdup(st, 4);
    a->version = cat_col_strdup(st, 5);
    a->addresses = cat_col_json(st, 6);
    a->volumes = cat_col_json(st, 7);
    a->registered_usecs = sqldb_column_int64(st, 8);
    a->last_seen_usecs = sqldb_column_int64(st, 9);
    a->revoked_usecs = sqldb_column_int64(st, 10);
    if (!a->tenant || !a->connector_id || !a->connection_id || !a->key_id || !a->hostname || !a->version) {
        cat_agent_release(a);
        return -1;
    }
    return 0;
}

/* one_row: steps st for at most one row into out. */
static int one_row(struct cat *cat, sqldb_stmt *st, struct cat_agent *out, const char *what)
{
    int rc = sqldb_step(st);
    if (rc == SQLDB_ROW) rc = agent_from_row(st, out);
    else if (rc == SQLDB_DONE) rc = CAT_NOT_FOUND;
    else rc = cat_sql_error(cat, rc, what);
    sqldb_reset(st);
    return rc;
}

int cat_agent_token_take(struct cat *cat, const unsigned char sha256[CAT_TOKEN_SHA256_LEN], int64_t now_ms,
                         char **tenant_out, char **connection_out, enum cat_token_refusal *why)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT tenant, id, token_expires_ms FROM connections WHERE token_sha256 = ?1"
                                     " ORDER BY token_expires_ms DESC LIMIT 1");
    int64_t expires;
    int rc;
    *tenant_out = *connection_out = NULL;
    *why = CAT_TOKEN_UNKNOWN;
    if (!st) return -1;
    sqldb_bind_blob(st, 1, sha256, CAT_TOKEN_SHA256_LEN, SQLDB_TRANSIENT);
    rc = sqldb_step(st);
    if (rc != SQLDB_ROW) {
        sqldb_reset(st);
        return rc == SQLDB_DONE ? CAT_NOT_FOUND : cat_sql_error(cat, rc, "look up a registration token");
    }
    *tenant_out = cat_col_strdup(st, 0);
    *connection_out = cat_col_strdup(st, 1);
    expires = sqldb_column_int64(st, 2);
    sqldb_reset(st);
    if (!*tenant_out || !*connection_out) {
        rc = -1;
        goto refused;
    }
    if (expires == -1) {
        *why = CAT_TOKEN_USED;
        rc = CAT_NOT_FOUND;
        goto refused;
    }
    if (expires <= now_ms) {
        *why = CAT_TOKEN_EXPIRED;
        rc = CAT_NOT_FOUND;
        goto refused;
    }
    st = cat_stmt(cat, "UPDATE connections SET token_expires_ms = -1 WHERE tenant = ?1 AND id = ?2"
                       " AND token_sha256 = ?3 AND token_expires_ms > ?4");
    if (!st) {
        rc = -1;
        goto refused;
    }
    sqldb_bind_text(st, 1, *tenant_out, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, *connection_out, -1, SQLDB_TRANSIENT);
    sqldb_bind_blob(st, 3, sha256, CAT_TOKEN_SHA256_LEN, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 4, now_ms);
    rc = cat_exec_done(cat, st);
    if (rc == 0 && sqldb_changes(cat_db(cat)) != 1) {
        *why = CAT_TOKEN_USED; /* taken by a concurrent registration between the read and the update */
        rc = CAT_NOT_FOUND;
    }
    if (rc == 0) return 0;
refused:
    free(*tenant_out);
    free(*connection_out);
    *tenant_out = *connection_out = NULL;
    return rc;
}

int cat_agent_insert(struct cat *cat, const struct cat_agent *a, const json_t *connector_doc, const struct cat_key *k)
{
    struct cat_connector c = { .id = a->connector_id, .connection_id = a->connection_id, .name = a->hostname,
                               .doc = (json_t *)connector_doc };
    sqldb_stmt *st;
    int rc = cat_connector_insert(cat, a->tenant, &c);
    if (rc != 0) return rc;
    if ((rc = cat_key_insert(cat, k)) != 0) return rc;
    st = cat_stmt(cat, "INSERT INTO agents(" AGENT_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, 0)");
    if (!st) return -1;
    sqldb_bind_text(st, 1, a->tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, a->connector_id, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 3, a->connection_id, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 4, a->key_id, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 5, a->hostname, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 6, a->version, -1, SQLDB_TRANSIENT);
    if (a->addresses) cat_bind_json(st, 7, a->addresses);
    else sqldb_bind_null(st, 7);
    if (a->volumes) cat_bind_json(st, 8, a->volumes);
    else sqldb_bind_null(st, 8);
    sqldb_bind_int64(st, 9, a->registered_usecs);
    return cat_exec_done(cat, st);
}

int cat_agent_get(struct cat *cat, const char *tenant, const char *connector_id, struct cat_agent *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " AGENT_COLS "FROM agents WHERE tenant = ?1 AND connector_id = ?2");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, connector_id, -1, SQLDB_TRANSIENT);
    return one_row(cat, st, out, "read an agent");
}

int cat_agent_by_key(struct cat *cat, const char *key_id, struct cat_agent *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " AGENT_COLS "FROM agents WHERE key_id = ?1");
    if (!st) return -1;
    sqldb_bind_text(st, 1, key_id, -1, SQLDB_TRANSIENT);
    return one_row(cat, st, out, "read an agent by its key");
}

int cat_agent_list(struct cat *cat, const char *tenant, cat_agent_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " AGENT_COLS "FROM agents WHERE tenant = ?1 AND revoked_usecs = 0"
                                     " ORDER BY connector_id");
    int rc = 0, s = SQLDB_DONE;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    while (rc == 0 && (s = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_agent a;
        if (agent_from_row(st, &a) != 0) {
            rc = -1;
            break;
        }
        rc = fn(ud, &a);
        cat_agent_release(&a);
    }
    if (rc == 0 && s != SQLDB_DONE) rc = cat_sql_error(cat, s, "list agents");
    sqldb_reset(st);
    return rc;
}

struct host_match {
    const char *host;
    struct cat_agent *best;
    int found;
};

static int serves(const struct cat_agent *a, const char *host)
{
    size_t i;
    json_t *v;
    if (strcasecmp(a->hostname, host) == 0) return 1;
    json_array_foreach(a->addresses, i, v) {
        if (json_is_string(v) && strcasecmp(json_string_value(v), host) == 0) return 1;
    }
    return 0;
}

static int host_one(void *ud, const struct cat_agent *a)
{
    struct host_match *m = ud;
    if (!serves(a, m->host) || (m->found && a->last_seen_usecs <= m->best->last_seen_usecs)) return 0;
    if (m->found) cat_agent_release(m->best);
    /* take the row over: a is released by the walk after we return, so copy what it owns */
    memset(m->best, 0, sizeof *m->best);
    m->best->tenant = strdup(a->tenant);
    m->best->connector_id = strdup(a->connector_id);
    m->best->connection_id = strdup(a->connection_id);
    m->best->key_id = strdup(a->key_id);
    m->best->hostname = strdup(a->hostname);
    m->best->version = strdup(a->version);
    m->best->addresses = a->addresses ? json_deep_copy(a->addresses) : NULL;
    m->best->volumes = a->volumes ? json_deep_copy(a->volumes) : NULL;
    m->best->registered_usecs = a->registered_usecs;
    m->best->last_seen_usecs = a->last_seen_usecs;
    m->best->revoked_usecs = a->revoked_usecs;
    m->found = 1;
    if (!m->best->tenant || !m->best->connector_id || !m->best->connection_id || !m->best->key_id ||
        !m->best->hostname || !m->best->version)
        return -1;
    return 0;
}

int cat_agent_for_host(struct cat *cat, const char *tenant, const char *host, struct cat_agent *out)
{
    struct host_match m = { host, out, 0 };
    int rc;
    memset(out, 0, sizeof *out);
    if (!host || !*host) return CAT_NOT_FOUND;
    rc = cat_agent_list(cat, tenant, host_one, &m);
    if (rc != 0) {
        cat_agent_release(out);
        return rc;
    }
    return m.found ? 0 : CAT_NOT_FOUND;
}

int cat_agent_heartbeat(struct cat *cat, const char *tenant, const char *connector_id, const char *hostname,
                        const char *version, const json_t *addresses, const json_t *volumes, int64_t now_usecs)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE agents SET hostname = COALESCE(?3, hostname), version = COALESCE(?4, version),"
                                     " addresses = COALESCE(?5, addresses), volumes = COALESCE(?6, volumes),"
                                     " last_seen_usecs = ?7 WHERE tenant = ?1 AND connector_id = ?2 AND revoked_usecs = 0");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, connector_id, -1, SQLDB_TRANSIENT);
    cat_bind_opt_text(st, 3, hostname);
    cat_bind_opt_text(st, 4, version);
    if (addresses) cat_bind_json(st, 5, addresses);
    else sqldb_bind_null(st, 5);
    if (volumes) cat_bind_json(st, 6, volumes);
    else sqldb_bind_null(st, 6);
    sqldb_bind_int64(st, 7, now_usecs);
    rc = cat_exec_done(cat, st);
    if (rc != 0) return rc;
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}

int cat_agent_revoke(struct cat *cat, const char *tenant, const char *connector_id, int64_t now_usecs)
{
    struct cat_agent a;
    sqldb_stmt *st;
    int own = !sqldb_in_transaction(cat_db(cat)), rc;
    if (own && (rc = cat_begin(cat)) != 0) return rc;
    rc = cat_agent_get(cat, tenant, connector_id, &a);
    if (rc == 0) {
        st = cat_stmt(cat, "UPDATE agents SET revoked_usecs = ?3 WHERE tenant = ?1 AND connector_id = ?2"
                           " AND revoked_usecs = 0");
        if (!st) {
            rc = -1;
        } else {
            sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
            sqldb_bind_text(st, 2, connector_id, -1, SQLDB_TRANSIENT);
            sqldb_bind_int64(st, 3, now_usecs);
            rc = cat_exec_done(cat, st);
        }
        if (rc == 0) {
            rc = cat_key_revoke(cat, NULL, a.key_id, now_usecs);
            if (rc == CAT_NOT_FOUND) rc = 0; /* the key is gone already: nothing can use it */
        }
        cat_agent_release(&a);
    }
    if (own) {
        if (rc == 0) rc = cat_commit(cat);
        else cat_rollback(cat);
    }
    return rc;
}

int cat_agent_pg_set(struct cat *cat, const char *tenant, const char *connector_id, const json_t *instances)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE agents SET pg_instances = ?3 WHERE tenant = ?1 AND connector_id = ?2"
                                   " AND revoked_usecs = 0");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, connector_id, -1, SQLDB_TRANSIENT);
    if (instances) cat_bind_json(st, 3, instances);
    else sqldb_bind_null(st, 3);
    rc = cat_exec_done(cat, st);
    if (rc != 0) return rc;
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}

int cat_agent_pg_get(struct cat *cat, const char *tenant, const char *connector_id, json_t **out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT pg_instances FROM agents WHERE tenant = ?1 AND connector_id = ?2"
                                   " AND revoked_usecs = 0");
    int rc;
    *out = NULL;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, connector_id, -1, SQLDB_TRANSIENT);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        *out = cat_col_json(st, 0);
        rc = 0;
    } else {
        rc = rc == SQLDB_DONE ? CAT_NOT_FOUND : cat_sql_error(cat, rc, "read an agent's PostgreSQL instances");
    }
    sqldb_reset(st);
    return rc;
}
