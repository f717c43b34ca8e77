/* mover_sql.c: the SQL mover (mover.h): the PostgreSQL engine (pg.h) behind the mover seam, and the
 * three short libpq conversations the job kinds need besides it: the inventory of databases and
 * tables at backup time, the marker transaction plus WAL switch of a log run, and dropping a slot.
 *
 * Connections: every function opens its own session from the conninfo it is given (which may hold a
 * password: it is never logged or put into err; libpq's own messages do not echo it) and closes it
 * before returning. A database of the inventory is reached with PQconnectdbParams, the conninfo
 * expanded first and "dbname" given after it, so the database name is never spliced into a string.
 * Every query is bounded: the table list by LIMIT, each session by connect_timeout and
 * statement_timeout (set at connect). */
#include "engine/mover.h"
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SQL_TIMEOUT_OPTS "-c statement_timeout=60000"

static PGconn *connect_db(const char *conninfo, const char *dbname, char *err, size_t errlen)
{
    const char *keys[6], *vals[6];
    int k = 0;
    PGconn *c;
    keys[k] = "dbname", vals[k++] = conninfo; /* expanded: the conninfo's own settings */
    if (dbname) keys[k] = "dbname", vals[k++] = dbname; /* later settings override earlier ones */
    keys[k] = "connect_timeout", vals[k++] = "15";
    keys[k] = "options", vals[k++] = SQL_TIMEOUT_OPTS;
    keys[k] = "application_name", vals[k++] = "coffer";
    keys[k] = NULL, vals[k] = NULL;
    c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect to PostgreSQL%s%s: %s", dbname ? " database " : "", dbname ? dbname : "",
                 c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* query: runs sql with params; the result when it returned rows (PGRES_TUPLES_OK) or a command's
 * success, else NULL with err. */
static PGresult *query(PGconn *c, const char *sql, int nparams, const char *const *params, char *err, size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        snprintf(err, errlen, "PostgreSQL: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

int mover_sql_lsn_parse(const char *s, uint64_t *out)
{
    unsigned hi, lo;
    int used = 0;
    if (!s || sscanf(s, "%X/%X%n", &hi, &lo, &used) != 2 || s[used] != '\0') return -EINVAL;
    *out = ((uint64_t)hi << 32) | lo;
    return 0;
}

void mover_sql_items_free(struct mover_sql_item *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].database);
    }
    free(v);
}

static int push(struct mover_sql_item **v, size_t *n, size_t *cap, int is_table, const char *name, const char *db,
                int64_t bytes)
{
    struct mover_sql_item *x;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        struct mover_sql_item *g = realloc(*v, nc * sizeof *g);
        if (!g) return -ENOMEM;
        *v = g;
        *cap = nc;
    }
    x = &(*v)[*n];
    memset(x, 0, sizeof *x);
    x->is_table = is_table;
    x->bytes = bytes;
    if (!(x->name = strdup(name)) || (db && !(x->database = strdup(db)))) {
        free(x->name);
        return -ENOMEM;
    }
    (*n)++;
    return 0;
}

static int sql_inventory(const char *conninfo, size_t max_tables, struct mover_sql_item **out, size_t *n, char *err,
                         size_t errlen)
{
    PGconn *c = connect_db(conninfo, NULL, err, errlen);
    PGresult *dbs;
    size_t cap = 0;
    char limit[24];
    int rc = 0;
    *out = NULL;
    *n = 0;
    if (!c) return -ECONNREFUSED;
    dbs = query(c, "SELECT datname, pg_database_size(oid) FROM pg_database WHERE datallowconn AND NOT datistemplate"
                   " ORDER BY datname LIMIT 10000", 0, NULL, err, errlen);
    PQfinish(c);
    if (!dbs) return -EIO;
    snprintf(limit, sizeof limit, "%zu", max_tables);
    for (int i = 0; rc == 0 && i < PQntuples(dbs); i++)
        rc = push(out, n, &cap, 0, PQgetvalue(dbs, i, 0), NULL, strtoll(PQgetvalue(dbs, i, 1), NULL, 10));
    for (int i = 0; rc == 0 && i < PQntuples(dbs); i++) {
        const char *db = PQgetvalue(dbs, i, 0), *params[] = { limit };
        PGresult *t;
        if (!(c = connect_db(conninfo, db, err, errlen))) {
            rc = -ECONNREFUSED;
            break;
        }
        t = query(c, "SELECT n.nspname || '.' || c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
                     " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p')"
                     " AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'"
                     " ORDER BY 1 LIMIT $1::bigint", 1, params, err, errlen);
        PQfinish(c);
        if (!t) {
            rc = -EIO;
            break;
        }
        for (int k = 0; rc == 0 && k < PQntuples(t); k++)
            rc = push(out, n, &cap, 1, PQgetvalue(t, k, 0), db, strtoll(PQgetvalue(t, k, 1), NULL, 10));
        PQclear(t);
    }
    PQclear(dbs);
    if (rc == -ENOMEM) snprintf(err, errlen, "out of memory");
    if (rc != 0) {
        mover_sql_items_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int sql_wal_mark(const char *conninfo, struct mover_sql_mark *m, char *err, size_t errlen)
{
    PGconn *c = connect_db(conninfo, NULL, err, errlen);
    PGresult *r;
    char e2[256];
    int rc = 0;
    memset(m, 0, sizeof *m);
    if (!c) return -ECONNREFUSED;
    /* The marker: a transaction with an xid (txid_current) writes a commit record; its time is after
     * the clock read inside it. */
    if (!(r = query(c, "BEGIN", 0, NULL, err, errlen))) goto fail;
    PQclear(r);
    if (!(r = query(c, "SELECT txid_current(), (extract(epoch FROM clock_timestamp()) * 1000000)::bigint", 0, NULL,
                    err, errlen)))
        goto fail;
    m->mark_usecs = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    if (!(r = query(c, "COMMIT", 0, NULL, err, errlen))) goto fail;
    PQclear(r);
    /* The marker's segment: where the insert position is now (the commit may be asynchronous: it
     * wrote no other WAL, so it is inserted but not necessarily flushed; the switch flushes it). */
    if (!(r = query(c, "SELECT pg_walfile_name(pg_current_wal_insert_lsn()), pg_current_wal_insert_lsn()", 0, NULL,
                    err, errlen)))
        goto fail;
    snprintf(m->segment, sizeof m->segment, "%s", PQgetvalue(r, 0, 0));
    if (mover_sql_lsn_parse(PQgetvalue(r, 0, 1), &m->switch_lsn) != 0) m->switch_lsn = 0;
    PQclear(r);
    /* The switch (superuser or a granted EXECUTE; refused is not fatal): it ends the marker's segment,
     * whose name is then pg_walfile_name of the switch's answer (the segment just completed). */
    if ((r = query(c, "SELECT s, pg_walfile_name(s) FROM pg_switch_wal() s", 0, NULL, e2, sizeof e2))) {
        uint64_t lsn;
        if (mover_sql_lsn_parse(PQgetvalue(r, 0, 0), &lsn) == 0) {
            m->switch_lsn = lsn;
            snprintf(m->segment, sizeof m->segment, "%s", PQgetvalue(r, 0, 1));
        }
        m->switched = 1;
        PQclear(r);
    }
    if (sscanf(m->segment, "%8x", &m->timeline) != 1) m->timeline = 0;
    PQfinish(c);
    return rc;
fail:
    PQfinish(c);
    return -EIO;
}

static int sql_drop_slot(const char *conninfo, const char *slot, char *err, size_t errlen)
{
    PGconn *c = connect_db(conninfo, NULL, err, errlen);
    const char *params[] = { slot };
    PGresult *r;
    if (!c) return -ECONNREFUSED;
    r = query(c, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", 1, params,
              err, errlen);
    PQfinish(c);
    if (!r) return -EIO;
    PQclear(r);
    return 0;
}

static const struct mover_sql g_sql = {
    .base_backup = eng_pg_backup,
    .wal_stream = eng_pg_wal_stream,
    .wal_seal = eng_pg_wal_seal,
    .restore = eng_pg_restore,
    .inventory = sql_inventory,
    .wal_mark = sql_wal_mark,
    .drop_slot = sql_drop_slot,
};

/* File-level access to a SQL snapshot (stat, read, restore of its files) is the file engine's. */
const struct mover mover_sql_instance = {
    .name = "sql",
    .sql = &g_sql,
    .backup = eng_backup,
    .restore = eng_restore,
    .stat = eng_stat_path,
    .read = eng_write_tar,
};
