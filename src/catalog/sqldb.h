/* sqldb.h: the catalog's statement seam, the one interface its files use to run SQL, with two
 * drivers behind it: SQLite (sqldb_sqlite.c, a file path) and PostgreSQL over libpq (sqldb_pg.c, a
 * postgresql:// URL or a libpq key=value string). Not for use outside src/catalog.
 *
 * A connection (struct sqldb_conn) belongs to one thread. A statement is prepared once per
 * connection (db.c caches it by the address of its SQL literal), bound by 1-based index, stepped
 * (SQLDB_ROW per row, then SQLDB_DONE, or an error code), read by 0-based column and reset for its
 * next use. SQL is written in SQLite's dialect with ?N placeholders; the PostgreSQL driver
 * translates it once at prepare (sqldb_pg.c says what it rewrites), and a statement whose
 * PostgreSQL form differs too much is given as a pair (cat_stmt_alt in internal.h).
 *
 * Result codes are SQLite's primary codes (the SQLite driver passes them through; the PostgreSQL
 * driver maps SQLSTATE classes onto them): SQLDB_CONSTRAINT for a constraint violation,
 * SQLDB_FULL for a full disk, SQLDB_ERROR otherwise. Text and blobs bound with SQLDB_STATIC must
 * stay valid until the statement is reset; SQLDB_TRANSIENT copies them. Column pointers stay valid
 * until the next step or reset of the statement. */
#ifndef COFFER_CATALOG_SQLDB_H
#define COFFER_CATALOG_SQLDB_H
#include <stddef.h>
#include <stdint.h>

#define SQLDB_OK 0
#define SQLDB_ERROR 1
#define SQLDB_BUSY 5
#define SQLDB_NOMEM 7
#define SQLDB_FULL 13
#define SQLDB_CONSTRAINT 19
#define SQLDB_ROW 100
#define SQLDB_DONE 101

/* Column types (sqldb_column_type). */
#define SQLDB_INTEGER 1
#define SQLDB_FLOAT 2
#define SQLDB_TEXT 3
#define SQLDB_BLOB 4
#define SQLDB_NULL 5

enum sqldb_lifetime { SQLDB_STATIC, SQLDB_TRANSIENT };

/* SQLDB_PLAN_EACH: a statement whose SQL starts with this comment is planned with its bound values
 * at every execution on PostgreSQL (an unnamed statement) instead of once for all values: for
 * queries whose best plan depends on the values, like a substring search whose pattern decides
 * between the trigram index (rare matches) and a walk in id order (common ones). A generic plan
 * would pick one for all patterns (measured: 441 ms vs 19 ms for a common word on 1,000,000 paths).
 * SQLite ignores the comment. */
#define SQLDB_PLAN_EACH "/* plan each */ "
enum sqldb_engine { SQLDB_SQLITE, SQLDB_PG };

typedef struct sqldb_conn sqldb_conn;
typedef struct sqldb_stmt sqldb_stmt;

/* A driver: the functions behind the seam (one static table per driver). */
struct sqldb_ops {
    enum sqldb_engine engine;
    sqldb_stmt *(*prepare)(sqldb_conn *c, const char *sql);
    void (*finalize)(sqldb_stmt *st);
    int (*bind_text)(sqldb_stmt *st, int i, const char *s, int n, enum sqldb_lifetime l);
    int (*bind_blob)(sqldb_stmt *st, int i, const void *p, int n, enum sqldb_lifetime l);
    int (*bind_int64)(sqldb_stmt *st, int i, int64_t v);
    int (*bind_double)(sqldb_stmt *st, int i, double v);
    int (*bind_null)(sqldb_stmt *st, int i);
    int (*step)(sqldb_stmt *st);
    int (*reset)(sqldb_stmt *st);
    int (*clear_bindings)(sqldb_stmt *st);
    int (*column_type)(sqldb_stmt *st, int i);
    int64_t (*column_int64)(sqldb_stmt *st, int i);
    double (*column_double)(sqldb_stmt *st, int i);
    const unsigned char *(*column_text)(sqldb_stmt *st, int i);
    const void *(*column_blob)(sqldb_stmt *st, int i);
    int (*column_bytes)(sqldb_stmt *st, int i);
    int64_t (*changes)(sqldb_conn *c);
    /* exec: runs SQL without parameters (several statements allowed); SQLDB_OK or an error code. */
    int (*exec)(sqldb_conn *c, const char *sql);
    /* errmsg: the last error's text; disk_full: whether the last error (rc: what failed) was a full disk. */
    const char *(*errmsg)(sqldb_conn *c);
    int (*disk_full)(sqldb_conn *c, int rc);
    int (*in_transaction)(sqldb_conn *c);
    /* broken: whether the connection is lost (the server restarted): it is then closed and opened again. */
    int (*broken)(sqldb_conn *c);
    /* begin: a write transaction that excludes every other writer of the catalog (SQLite: BEGIN
     * IMMEDIATE; PostgreSQL: BEGIN and the catalog's transaction-scoped advisory lock). */
    int (*begin)(sqldb_conn *c);
    /* schema_version get/set (within the migration's transaction). */
    int (*get_version)(sqldb_conn *c);
    int (*set_version)(sqldb_conn *c, int version);
    void (*close)(sqldb_conn *c);
};

/* What every driver's connection and statement start with. */
struct sqldb_conn { const struct sqldb_ops *ops; };
struct sqldb_stmt { const struct sqldb_ops *ops; };

/* sqldb_open: a new connection to target (a SQLite path, or a PostgreSQL URL / key=value string as
 * sqldb_is_pg tells); NULL with a sentence in err. */
sqldb_conn *sqldb_open(const char *target, char *err, size_t errlen);
/* sqldb_is_pg: whether target names a PostgreSQL database (postgres:// or postgresql:// URL, or a
 * libpq key=value string: contains '=' and no '/'-free file name... see sqldb.c). */
int sqldb_is_pg(const char *target);
sqldb_conn *sqldb_sqlite_open(const char *path, char *err, size_t errlen);
/* sqldb_pg_translate: sql (SQLite's dialect, ?N placeholders) in PostgreSQL's, malloc'd (NULL: out of
 * memory); *maxparam (if not NULL) the highest N; types (if not NULL, PG_MAX_PARAMS entries) gets the
 * OIDs of the parameters the translation can type (a json_each list: jsonb), others left alone. */
char *sqldb_pg_translate(const char *sql, int *maxparam, unsigned *types);
sqldb_conn *sqldb_pg_open(const char *conninfo, char *err, size_t errlen);

static inline enum sqldb_engine sqldb_engine_of(const sqldb_conn *c) { return c->ops->engine; }
static inline sqldb_stmt *sqldb_prepare(sqldb_conn *c, const char *sql) { return c->ops->prepare(c, sql); }
static inline void sqldb_finalize(sqldb_stmt *st) { if (st) st->ops->finalize(st); }
static inline int sqldb_bind_text(sqldb_stmt *st, int i, const char *s, int n, enum sqldb_lifetime l)
{ return st->ops->bind_text(st, i, s, n, l); }
static inline int sqldb_bind_blob(sqldb_stmt *st, int i, const void *p, int n, enum sqldb_lifetime l)
{ return st->ops->bind_blob(st, i, p, n, l); }
static inline int sqldb_bind_int64(sqldb_stmt *st, int i, int64_t v) { return st->ops->bind_int64(st, i, v); }
static inline int sqldb_bind_int(sqldb_stmt *st, int i, int v) { return st->ops->bind_int64(st, i, v); }
static inline int sqldb_bind_double(sqldb_stmt *st, int i, double v) { return st->ops->bind_double(st, i, v); }
static inline int sqldb_bind_null(sqldb_stmt *st, int i) { return st->ops->bind_null(st, i); }
static inline int sqldb_step(sqldb_stmt *st) { return st->ops->step(st); }
static inline int sqldb_reset(sqldb_stmt *st) { return st->ops->reset(st); }
static inline int sqldb_clear_bindings(sqldb_stmt *st) { return st->ops->clear_bindings(st); }
static inline int sqldb_column_type(sqldb_stmt *st, int i) { return st->ops->column_type(st, i); }
static inline int64_t sqldb_column_int64(sqldb_stmt *st, int i) { return st->ops->column_int64(st, i); }
static inline int sqldb_column_int(sqldb_stmt *st, int i) { return (int)st->ops->column_int64(st, i); }
static inline double sqldb_column_double(sqldb_stmt *st, int i) { return st->ops->column_double(st, i); }
static inline const unsigned char *sqldb_column_text(sqldb_stmt *st, int i) { return st->ops->column_text(st, i); }
static inline const void *sqldb_column_blob(sqldb_stmt *st, int i) { return st->ops->column_blob(st, i); }
static inline int sqldb_column_bytes(sqldb_stmt *st, int i) { return st->ops->column_bytes(st, i); }
static inline int64_t sqldb_changes(sqldb_conn *c) { return c->ops->changes(c); }
static inline int sqldb_exec(sqldb_conn *c, const char *sql) { return c->ops->exec(c, sql); }
static inline const char *sqldb_errmsg(sqldb_conn *c) { return c->ops->errmsg(c); }
static inline int sqldb_disk_full(sqldb_conn *c, int rc) { return c->ops->disk_full(c, rc); }
static inline int sqldb_in_transaction(sqldb_conn *c) { return c->ops->in_transaction(c); }
static inline int sqldb_broken(sqldb_conn *c) { return c->ops->broken(c); }
static inline int sqldb_begin(sqldb_conn *c) { return c->ops->begin(c); }
static inline int sqldb_get_version(sqldb_conn *c) { return c->ops->get_version(c); }
static inline int sqldb_set_version(sqldb_conn *c, int v) { return c->ops->set_version(c, v); }
static inline void sqldb_close(sqldb_conn *c) { if (c) c->ops->close(c); }
#endif
