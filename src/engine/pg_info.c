/* pg_info.c: what a PostgreSQL instance holds, asked over libpq (eng_pg_discover, pg.h), and
 * connection strings with another database (eng_pg_conninfo_db).
 *
 * One session on the maintenance database reads the server's version, its data directory (from
 * pg_settings, which shows it only to superusers and members of pg_read_all_settings: otherwise it
 * stays unknown, which is no error) and its databases (not templates, only those that accept
 * connections) with owner and pg_database_size. Then one session per database lists its user tables
 * (relkind r and p outside pg_catalog, information_schema and the toast/temp schemas) with
 * pg_total_relation_size, at most ENG_PG_MAX_TABLES per database (the first by name: the result says
 * it was cut). Every session is opened with connect_timeout=10 and a statement_timeout, the
 * number of databases looked into is bounded (ENG_PG_MAX_DATABASES) and no database's tables are
 * asked for once ENG_PG_DISCOVER_BUDGET_S have passed (a warning says which), so discovery ends. A
 * database that cannot be entered (no CONNECT right, dropped meanwhile) keeps its row without tables
 * and a warning. Connection strings are kept only in memory: they may carry the password. */
#include "engine/pg.h"
#include "util/err.h"
#include <errno.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STATEMENT_TIMEOUT_MS 30000

/* trim_msg: the server's message without its trailing newline, into buf. */
static const char *trim_msg(const char *m, char *buf, size_t n)
{
    size_t len;
    snprintf(buf, n, "%s", m ? m : "");
    len = strlen(buf);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' ')) buf[--len] = '\0';
    return buf;
}

int eng_pg_conninfo_db(const char *conninfo, const char *dbname, char **out)
{
    PQconninfoOption *opts, *o;
    char *errmsg = NULL, *res = NULL;
    size_t cap = 64, len = 0;
    int seen_db = 0;
    *out = NULL;
    if (!conninfo || !dbname) return -EINVAL;
    opts = PQconninfoParse(conninfo, &errmsg);
    if (!opts) {
        PQfreemem(errmsg);
        return -EINVAL;
    }
    for (o = opts; o->keyword; o++)
        if (o->val) cap += strlen(o->keyword) + 2 * strlen(o->val) + 4;
    cap += 2 * strlen(dbname) + 16;
    res = malloc(cap);
    if (!res) {
        PQconninfoFree(opts);
        return -ENOMEM;
    }
    /* keyword='value' with ' and \ escaped by a backslash, as libpq reads them */
    for (o = opts; o->keyword; o++) {
        const char *v = o->val;
        if (strcmp(o->keyword, "dbname") == 0) {
            v = dbname;
            seen_db = 1;
        }
        if (!v) continue;
        len += (size_t)snprintf(res + len, cap - len, "%s%s='", len ? " " : "", o->keyword);
        for (const char *p = v; *p; p++) {
            if (*p == '\'' || *p == '\\') res[len++] = '\\';
            res[len++] = *p;
        }
        res[len++] = '\'';
        res[len] = '\0';
    }
    if (!seen_db) {
        len += (size_t)snprintf(res + len, cap - len, "%sdbname='", len ? " " : "");
        for (const char *p = dbname; *p; p++) {
            if (*p == '\'' || *p == '\\') res[len++] = '\\';
            res[len++] = *p;
        }
        res[len++] = '\'';
        res[len] = '\0';
    }
    PQconninfoFree(opts);
    *out = res;
    return 0;
}

/* connect_bounded: a session with connect_timeout and statement_timeout added (they come last, so
 * they win over the same keys in conninfo). NULL with the message in err. */
static PGconn *connect_bounded(const char *conninfo, char *err, size_t errlen)
{
    char opt[64], m[512];
    const char *keys[] = { "dbname", "connect_timeout", "options", "fallback_application_name", NULL };
    const char *vals[] = { conninfo, "10", opt, "cofferd", NULL };
    PGconn *c;
    snprintf(opt, sizeof opt, "-c statement_timeout=%d", STATEMENT_TIMEOUT_MS);
    c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        err_setf(err, errlen, "out of memory connecting to PostgreSQL");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        err_setf(err, errlen, "%s", trim_msg(PQerrorMessage(c), m, sizeof m));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* query: runs sql (params as text), a PGresult of tuples or NULL with the message in err. */
static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen)
{
    char m[512];
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        err_setf(err, errlen, "%s", trim_msg(r ? PQresultErrorMessage(r) : PQerrorMessage(c), m, sizeof m));
        PQclear(r);
        return NULL;
    }
    return r;
}

static char *dupval(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static int64_t intval(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? -1 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void add_warning(struct eng_pg_instance_info *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_warning(struct eng_pg_instance_info *out, const char *fmt, ...)
{
    char line[600];
    size_t have = out->warnings ? strlen(out->warnings) : 0, add;
    char *w;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    add = strlen(line);
    if (have > 8192) return;   /* enough said */
    w = realloc(out->warnings, have + add + 3);
    if (!w) return;
    if (have) {
        memcpy(w + have, "; ", 2);
        have += 2;
    }
    memcpy(w + have, line, add + 1);
    out->warnings = w;
}

/* tables: the user tables of database d (a session of its own). */
static void tables(const char *conninfo, struct eng_pg_database *d, struct eng_pg_instance_info *out)
{
    static const char sql[] =
        "SELECT n.nspname || '.' || c.relname, pg_total_relation_size(c.oid) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' "
        "ORDER BY 1 LIMIT $1";
    char lim[32], err[512], *ci = NULL;
    const char *params[1] = { lim };
    PGconn *c;
    PGresult *r;
    int n;
    if (eng_pg_conninfo_db(conninfo, d->name, &ci) != 0) {
        add_warning(out, "database %s: its connection string cannot be built", d->name);
        return;
    }
    c = connect_bounded(ci, err, sizeof err);
    free(ci);
    if (!c) {
        add_warning(out, "database %s: %s", d->name, err);
        return;
    }
    snprintf(lim, sizeof lim, "%d", ENG_PG_MAX_TABLES + 1);
    r = query(c, sql, 1, params, err, sizeof err);
    if (!r) {
        add_warning(out, "database %s: %s", d->name, err);
        PQfinish(c);
        return;
    }
    n = PQntuples(r);
    if (n > ENG_PG_MAX_TABLES) {
        d->tables_cut = 1;
        n = ENG_PG_MAX_TABLES;
        add_warning(out, "database %s has more than %d tables: only the first %d by name are listed", d->name,
                    ENG_PG_MAX_TABLES, ENG_PG_MAX_TABLES);
    }
    d->tables = calloc(n ? (size_t)n : 1, sizeof *d->tables);
    if (d->tables) {
        for (int i = 0; i < n; i++) {
            struct eng_pg_table *t = &d->tables[d->n_tables];
            if (!(t->name = dupval(r, i, 0))) continue;
            t->bytes = intval(r, i, 1);
            d->n_tables++;
        }
    }
    PQclear(r);
    PQfinish(c);
}

int eng_pg_discover(const char *conninfo, struct eng_pg_instance_info *out, char *err, size_t errlen)
{
    static const char dbs_sql[] =
        "SELECT d.datname, pg_get_userbyid(d.datdba), "
        "CASE WHEN has_database_privilege(d.oid, 'CONNECT') OR pg_has_role('pg_read_all_stats', 'USAGE') "
        "THEN pg_database_size(d.oid) END "
        "FROM pg_database d WHERE NOT d.datistemplate AND d.datallowconn ORDER BY d.datname LIMIT $1";
    char lim[32];
    const char *params[1] = { lim };
    struct timespec t0;
    PGconn *c;
    PGresult *r;
    int n;
    memset(out, 0, sizeof *out);
    if (!conninfo) {
        err_setf(err, errlen, "no connection string");
        return -EINVAL;
    }
    if (!(c = connect_bounded(conninfo, err, errlen))) return -ECONNREFUSED;
    if (!(r = query(c, "SELECT current_setting('server_version'), current_setting('server_version_num')::int, "
                       "(SELECT setting FROM pg_settings WHERE name = 'data_directory')", 0, NULL, err, errlen))) {
        PQfinish(c);
        return -EIO;
    }
    out->version = dupval(r, 0, 0);
    out->version_num = (int)intval(r, 0, 1);
    out->data_directory = dupval(r, 0, 2);
    PQclear(r);
    snprintf(lim, sizeof lim, "%d", ENG_PG_MAX_DATABASES + 1);
    if (!(r = query(c, dbs_sql, 1, params, err, errlen))) {
        PQfinish(c);
        eng_pg_instance_info_release(out);
        return -EIO;
    }
    PQfinish(c);
    n = PQntuples(r);
    if (n > ENG_PG_MAX_DATABASES) {
        out->databases_cut = 1;
        n = ENG_PG_MAX_DATABASES;
        add_warning(out, "the server has more than %d databases: only the first %d by name are listed",
                    ENG_PG_MAX_DATABASES, ENG_PG_MAX_DATABASES);
    }
    out->dbs = calloc(n ? (size_t)n : 1, sizeof *out->dbs);
    if (!out->dbs) {
        PQclear(r);
        eng_pg_instance_info_release(out);
        err_setf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++) {
        struct eng_pg_database *d = &out->dbs[out->n_dbs];
        if (!(d->name = dupval(r, i, 0))) continue;
        d->owner = dupval(r, i, 1);
        d->bytes = intval(r, i, 2);
        out->n_dbs++;
    }
    PQclear(r);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < out->n_dbs; i++) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= ENG_PG_DISCOVER_BUDGET_S) {
            add_warning(out, "the tables of %zu databases (from %s on) were not listed: discovery ran out of its %d s",
                        out->n_dbs - i, out->dbs[i].name, ENG_PG_DISCOVER_BUDGET_S);
            for (size_t j = i; j < out->n_dbs; j++) out->dbs[j].tables_cut = 1;
            break;
        }
        tables(conninfo, &out->dbs[i], out);
    }
    return 0;
}

void eng_pg_instance_info_release(struct eng_pg_instance_info *info)
{
    if (!info) return;
    for (size_t i = 0; i < info->n_dbs; i++) {
        struct eng_pg_database *d = &info->dbs[i];
        for (size_t j = 0; j < d->n_tables; j++) free(d->tables[j].name);
        free(d->tables);
        free(d->name);
        free(d->owner);
    }
    free(info->dbs);
    free(info->version);
    free(info->data_directory);
    free(info->warnings);
    memset(info, 0, sizeof *info);
}
