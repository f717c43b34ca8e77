/* connections.c: data-source connections and connectors in the catalog (see cat_connection.h).
 *
 * Tables (migration 3): connections(tenant, id, seq, name, env_type, token_sha256, token_expires_ms,
 * created_ms), name unique per tenant; connectors(tenant, id, connection_id, name, doc). A
 * connection's connector ids are read with it. List filters are JSON arrays expanded with json_each
 * in one prepared statement. */
#include "catalog/cat_connection.h"
#include "catalog/internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int changed(struct cat *cat, int rc)
{
    if (rc != 0) return rc;
    return sqldb_changes(cat_db(cat)) > 0 ? 0 : CAT_NOT_FOUND;
}

/* ---- connections ---- */

void cat_connection_release(struct cat_connection *c)
{
    if (!c) return;
    free(c->id);
    free(c->name);
    free(c->env_type);
    json_decref(c->connector_ids);
    memset(c, 0, sizeof *c);
}

#define CONNECTION_COLS \
    "c.id, c.name, c.env_type, c.created_ms, COALESCE(c.token_expires_ms, 0), " \
    "(SELECT json_group_array(k.id) FROM (SELECT id FROM connectors " \
    "  WHERE tenant = c.tenant AND connection_id = c.id ORDER BY id) k) "

static void connection_from_row(sqldb_stmt *st, struct cat_connection *c)
{
    memset(c, 0, sizeof *c);
    c->id = cat_col_strdup(st, 0);
    c->name = cat_col_strdup(st, 1);
    c->env_type = cat_col_strdup(st, 2);
    c->created_ms = sqldb_column_int64(st, 3);
    c->token_expires_ms = sqldb_column_int64(st, 4);
    c->connector_ids = cat_col_json(st, 5);
    if (!json_is_array(c->connector_ids)) {
        json_decref(c->connector_ids);
        c->connector_ids = json_array();
    }
}

int cat_connection_insert(struct cat *cat, const char *tenant, const char *name, const char *env_type,
                          int64_t created_ms, char **id_out)
{
    sqldb_stmt *st;
    int64_t seq;
    char id[32];
    int rc;
    if (cat_next_seq(cat, "connection", &seq) != 0) return -1;
    snprintf(id, sizeof id, "%lld", (long long)seq);
    st = cat_stmt(cat, "INSERT INTO connections(tenant, id, seq, name, env_type, created_ms)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, id, -1, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 3, seq);
    sqldb_bind_text(st, 4, name, -1, SQLDB_TRANSIENT);
    cat_bind_opt_text(st, 5, env_type);
    sqldb_bind_int64(st, 6, created_ms);
    rc = cat_exec_done(cat, st);
    if (rc != 0) return rc;
    *id_out = strdup(id);
    return *id_out ? 0 : -1;
}

int cat_connection_get(struct cat *cat, const char *tenant, const char *id, struct cat_connection *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " CONNECTION_COLS "FROM connections c WHERE c.tenant = ?1 AND c.id = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, id, -1, SQLDB_TRANSIENT);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) connection_from_row(st, out);
    sqldb_reset(st);
    if (rc == SQLDB_ROW) return 0;
    if (rc == SQLDB_DONE) return CAT_NOT_FOUND;
    cat_log_error(cat, "connection_get");
    return -1;
}

int cat_connection_list(struct cat *cat, const char *tenant, json_t *ids, json_t *names, cat_connection_fn fn,
                        void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT " CONNECTION_COLS "FROM connections c WHERE c.tenant = ?1"
                                     " AND (?2 IS NULL OR c.id IN (SELECT value FROM json_each(?2)))"
                                     " AND (?3 IS NULL OR c.name IN (SELECT value FROM json_each(?3)))"
                                     " ORDER BY c.seq");
    int rc, ret = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    cat_bind_opt_list(st, 2, ids);
    cat_bind_opt_list(st, 3, names);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_connection c;
        connection_from_row(st, &c);
        if (ret == 0 && fn(ud, &c) != 0) ret = -1;
        cat_connection_release(&c);
    }
    sqldb_reset(st);
    if (rc != SQLDB_DONE) {
        cat_log_error(cat, "connection_list");
        return -1;
    }
    return ret;
}

int cat_connection_rename(struct cat *cat, const char *tenant, const char *id, const char *name)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE connections SET name = ?3 WHERE tenant = ?1 AND id = ?2");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, id, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 3, name, -1, SQLDB_TRANSIENT);
    return changed(cat, cat_exec_done(cat, st));
}

int cat_connection_delete(struct cat *cat, const char *tenant, const char *id)
{
    sqldb_stmt *st = cat_stmt(cat, "DELETE FROM connectors WHERE tenant = ?1 AND connection_id = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, id, -1, SQLDB_TRANSIENT);
    if ((rc = cat_exec_done(cat, st)) != 0) return rc;
    st = cat_stmt(cat, "DELETE FROM connections WHERE tenant = ?1 AND id = ?2");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, id, -1, SQLDB_TRANSIENT);
    return changed(cat, cat_exec_done(cat, st));
}

int cat_connection_set_token(struct cat *cat, const char *tenant, const char *id,
                             const unsigned char sha256[CAT_TOKEN_SHA256_LEN], int64_t expires_ms)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE connections SET token_sha256 = ?3, token_expires_ms = ?4"
                                     " WHERE tenant = ?1 AND id = ?2");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, id, -1, SQLDB_TRANSIENT);
    sqldb_bind_blob(st, 3, sha256, CAT_TOKEN_SHA256_LEN, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 4, expires_ms);
    return changed(cat, cat_exec_done(cat, st));
}

int cat_connection_by_token(struct cat *cat, const unsigned char sha256[CAT_TOKEN_SHA256_LEN], int64_t now_ms,
                            char **tenant_out, char **id_out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT tenant, id FROM connections WHERE token_sha256 = ?1"
                                     " AND token_expires_ms > ?2 LIMIT 1");
    int rc;
    if (!st) return -1;
    sqldb_bind_blob(st, 1, sha256, CAT_TOKEN_SHA256_LEN, SQLDB_TRANSIENT);
    sqldb_bind_int64(st, 2, now_ms);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) {
        *tenant_out = cat_col_strdup(st, 0);
        *id_out = cat_col_strdup(st, 1);
    }
    sqldb_reset(st);
    if (rc == SQLDB_ROW) return 0;
    if (rc == SQLDB_DONE) return CAT_NOT_FOUND;
    cat_log_error(cat, "connection_by_token");
    return -1;
}

/* ---- connectors ---- */

void cat_connector_release(struct cat_connector *c)
{
    if (!c) return;
    free(c->id);
    free(c->connection_id);
    free(c->name);
    json_decref(c->doc);
    memset(c, 0, sizeof *c);
}

static void connector_from_row(sqldb_stmt *st, struct cat_connector *c)
{
    memset(c, 0, sizeof *c);
    c->id = cat_col_strdup(st, 0);
    c->connection_id = cat_col_strdup(st, 1);
    c->name = cat_col_strdup(st, 2);
    c->doc = cat_col_json(st, 3);
    if (!c->doc) c->doc = json_object();
}

int cat_connector_insert(struct cat *cat, const char *tenant, const struct cat_connector *c)
{
    sqldb_stmt *st = cat_stmt(cat, "INSERT INTO connectors(tenant, id, connection_id, name, doc)"
                                     " VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, c->id, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 3, c->connection_id, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 4, c->name, -1, SQLDB_TRANSIENT);
    if (cat_bind_json(st, 5, c->doc ? c->doc : json_object()) != 0) return -1;
    return cat_exec_done(cat, st);
}

int cat_connector_list(struct cat *cat, const char *tenant, json_t *ids, json_t *names, const char *connection_id,
                       cat_connector_fn fn, void *ud)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT id, connection_id, name, doc FROM connectors WHERE tenant = ?1"
                                     " AND (?2 IS NULL OR id IN (SELECT value FROM json_each(?2)))"
                                     " AND (?3 IS NULL OR name IN (SELECT value FROM json_each(?3)))"
                                     " AND (?4 IS NULL OR connection_id = ?4) ORDER BY id");
    int rc, ret = 0;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    cat_bind_opt_list(st, 2, ids);
    cat_bind_opt_list(st, 3, names);
    cat_bind_opt_text(st, 4, connection_id);
    while ((rc = sqldb_step(st)) == SQLDB_ROW) {
        struct cat_connector c;
        connector_from_row(st, &c);
        if (ret == 0 && fn(ud, &c) != 0) ret = -1;
        cat_connector_release(&c);
    }
    sqldb_reset(st);
    if (rc != SQLDB_DONE) {
        cat_log_error(cat, "connector_list");
        return -1;
    }
    return ret;
}

int cat_connector_get(struct cat *cat, const char *tenant, const char *id, struct cat_connector *out)
{
    sqldb_stmt *st = cat_stmt(cat, "SELECT id, connection_id, name, doc FROM connectors"
                                     " WHERE tenant = ?1 AND id = ?2");
    int rc;
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, id, -1, SQLDB_TRANSIENT);
    rc = sqldb_step(st);
    if (rc == SQLDB_ROW) connector_from_row(st, out);
    sqldb_reset(st);
    if (rc == SQLDB_ROW) return 0;
    if (rc == SQLDB_DONE) return CAT_NOT_FOUND;
    cat_log_error(cat, "connector_get");
    return -1;
}

int cat_connector_rename(struct cat *cat, const char *tenant, const char *id, const char *name)
{
    sqldb_stmt *st = cat_stmt(cat, "UPDATE connectors SET name = ?3, doc = json_set(doc, '$.connectorName', ?3)"
                                     " WHERE tenant = ?1 AND id = ?2");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, id, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 3, name, -1, SQLDB_TRANSIENT);
    return changed(cat, cat_exec_done(cat, st));
}

int cat_connector_delete(struct cat *cat, const char *tenant, const char *id)
{
    sqldb_stmt *st = cat_stmt(cat, "DELETE FROM connectors WHERE tenant = ?1 AND id = ?2");
    if (!st) return -1;
    sqldb_bind_text(st, 1, tenant, -1, SQLDB_TRANSIENT);
    sqldb_bind_text(st, 2, id, -1, SQLDB_TRANSIENT);
    return changed(cat, cat_exec_done(cat, st));
}
