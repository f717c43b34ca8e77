/* pg_check.c: read-only checks on a registered PostgreSQL instance (pg_check.h). Every session is
 * opened with PQconnectdbParams: the target's conninfo expanded first, then our own keywords, which
 * override it (libpq keeps the last value of a repeated keyword; only the first dbname is expanded):
 * the database to ask, connect_timeout and a statement_timeout, so no call waits longer than about
 * twice SVC_PG_CHECK_TIMEOUT_S. Queries take their values as parameters (PQexecParams), never
 * spliced into SQL. Error texts are the server's messages; the conninfo (with its password) is
 * never put in one. */
#include "svc/pg_check.h"
#include "svc/pg_target.h"
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#define STR_(x) #x
#define STR(x) STR_(x)

/* set_err: what failed and the server's message, without its trailing newline. */
static void set_err(char *err, size_t errlen, const char *what, const char *msg)
{
    size_t n;
    snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg : "no message");
    n = strlen(err);
    while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' ')) err[--n] = '\0';
}

/* open_db: a session on dbname (NULL: the target's own maintenance database). */
static int open_db(const struct svc_pg_target *t, const char *dbname, PGconn **out, char *err, size_t errlen)
{
    const char *keys[] = { "dbname", "dbname", "connect_timeout", "options", "application_name", NULL };
    const char *vals[] = { t->conninfo, dbname, STR(SVC_PG_CHECK_TIMEOUT_S),
                           "-c statement_timeout=" STR(SVC_PG_CHECK_TIMEOUT_S) "s", "coffer-check", NULL };
    PGconn *c;
    if (!dbname) { /* drop the second dbname: shift the rest down */
        for (int i = 1; keys[i]; i++) {
            keys[i] = keys[i + 1];
            vals[i] = vals[i + 1];
        }
    }
    c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        set_err(err, errlen, "cannot connect to the instance", PQerrorMessage(c));
        PQfinish(c);
        return -ECONNREFUSED;
    }
    *out = c;
    return 0;
}

/* query: one row expected or none; *res the result (PQclear by the caller). */
static int query(PGconn *c, const char *sql, int n, const char *const *params, PGresult **res, char *err,
                 size_t errlen)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_err(err, errlen, "query failed", PQresultErrorMessage(r));
        PQclear(r);
        return -EIO;
    }
    *res = r;
    return 0;
}

static int bool_at(PGresult *r, int col) { return PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, col), "t") == 0; }

int svc_pg_role_rights(const struct svc_pg_target *t, struct svc_pg_role *out, char *err, size_t errlen)
{
    PGconn *c;
    PGresult *r;
    int rc = open_db(t, NULL, &c, err, errlen);
    memset(out, 0, sizeof *out);
    if (rc) return rc;
    rc = query(c, "SELECT current_user, rolsuper, rolcreatedb OR rolsuper FROM pg_catalog.pg_roles "
                  "WHERE rolname = current_user", 0, NULL, &r, err, errlen);
    if (rc == 0) {
        if (PQntuples(r) > 0) {
            snprintf(out->name, sizeof out->name, "%s", PQgetvalue(r, 0, 0));
            out->superuser = bool_at(r, 1);
            out->createdb = bool_at(r, 2);
        }
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

int svc_pg_db_rights(const struct svc_pg_target *t, const char *dbname, struct svc_pg_db_rights *out, char *err,
                     size_t errlen)
{
    PGconn *c;
    PGresult *r;
    const char *p[1] = { dbname };
    int rc = open_db(t, NULL, &c, err, errlen);
    memset(out, 0, sizeof *out);
    if (rc) return rc;
    rc = query(c, "SELECT has_database_privilege(oid, 'CONNECT') FROM pg_catalog.pg_database WHERE datname = $1", 1,
               p, &r, err, errlen);
    if (rc == 0) {
        out->exists = PQntuples(r) > 0;
        out->can_connect = bool_at(r, 0);
        PQclear(r);
    }
    PQfinish(c);
    if (rc || !out->can_connect) return rc;
    if ((rc = open_db(t, dbname, &c, err, errlen)) != 0) {
        out->can_connect = 0; /* CONNECT granted, but pg_hba or the like refuses: not writable either */
        return 0;
    }
    rc = query(c, "SELECT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) OR "
                  "coalesce((SELECT has_schema_privilege(oid, 'CREATE') FROM pg_catalog.pg_namespace "
                  "WHERE nspname = 'public'), false)", 0, NULL, &r, err, errlen);
    if (rc == 0) {
        out->can_create = bool_at(r, 0);
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}
